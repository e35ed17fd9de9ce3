-- +goose Up
-- The connections worker nodes hold open to each receiving host, counted
-- against --max-per-host across the nodes of this database and no Redis
-- (connlimit.NewDatabase): one lease per open connection, expiring unless
-- its node renews it (a killed node's leases free within 30 s), and the
-- mark of a node waiting for a destination's slot. Unlogged: a crash loses
-- only leases that expire within seconds anyway.
CREATE UNLOGGED TABLE connection_leases (
    lease      TEXT   NOT NULL PRIMARY KEY,
    dest       TEXT   NOT NULL,
    expires_ms BIGINT NOT NULL
);
CREATE INDEX connection_leases_dest ON connection_leases (dest, expires_ms);

CREATE UNLOGGED TABLE connection_wants (
    dest     TEXT   NOT NULL PRIMARY KEY,
    owner    TEXT   NOT NULL,
    until_ms BIGINT NOT NULL
);

-- +goose Down
DROP TABLE connection_wants;
DROP TABLE connection_leases;
