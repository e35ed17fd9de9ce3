-- +goose Up
-- The connections worker nodes hold open to each receiving host, counted
-- against --max-per-host across the nodes of a database (connlimit.NewDatabase;
-- on PostgreSQL, where several nodes share one: a SQLite file has one node,
-- which counts in memory): one lease per open connection and the mark of a
-- node waiting for a destination's slot.
CREATE TABLE connection_leases (
    lease      TEXT    NOT NULL PRIMARY KEY,
    dest       TEXT    NOT NULL,
    expires_ms INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX connection_leases_dest ON connection_leases (dest, expires_ms);

CREATE TABLE connection_wants (
    dest     TEXT    NOT NULL PRIMARY KEY,
    owner    TEXT    NOT NULL,
    until_ms INTEGER NOT NULL
) WITHOUT ROWID;

-- +goose Down
DROP TABLE connection_wants;
DROP TABLE connection_leases;
