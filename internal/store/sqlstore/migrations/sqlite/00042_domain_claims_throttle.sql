-- +goose Up
-- Domain claims (POST /domains/claim): a team proves with a TXT record that
-- it controls a name another team holds, and the name moves to the
-- claiming team's placeholder domain (domain_id). options is the canonical
-- form of the request's options (the identical-pending-claim rule);
-- next_check_at is when the verifier looks at it next (its expiry when
-- nobody asked for a check); from_team_id is the team it was taken from.
CREATE TABLE domain_claims (
    id             TEXT    NOT NULL PRIMARY KEY,
    team_id        TEXT    NOT NULL,
    domain_id      TEXT    NOT NULL,
    name           TEXT    NOT NULL,
    status         TEXT    NOT NULL,
    region         TEXT    NOT NULL,
    options        TEXT    NOT NULL,
    token          TEXT    NOT NULL,
    blocked_reason TEXT    NOT NULL DEFAULT '',
    failure_reason TEXT    NOT NULL DEFAULT '',
    from_team_id   TEXT    NOT NULL DEFAULT '',
    created_at     INTEGER NOT NULL,
    updated_at     INTEGER NOT NULL,
    expires_at     INTEGER NOT NULL,
    next_check_at  INTEGER
);
CREATE INDEX domain_claims_domain ON domain_claims (team_id, domain_id, created_at);
CREATE INDEX domain_claims_name ON domain_claims (team_id, name, created_at);
CREATE INDEX domain_claims_due ON domain_claims (next_check_at) WHERE next_check_at IS NOT NULL;

-- The adaptive throttling state of each destination, shared by the worker
-- nodes of one database (delivery.Throttle with a database backend): the
-- level of halving in force, the throttling replies since it was last 0,
-- the pause (until_ms, reason) and when a node last changed it.
CREATE TABLE destination_throttle (
    dest       TEXT    NOT NULL PRIMARY KEY,
    level      INTEGER NOT NULL,
    pauses     INTEGER NOT NULL,
    until_ms   INTEGER NOT NULL,
    reason     TEXT    NOT NULL,
    updated_ms INTEGER NOT NULL
) WITHOUT ROWID;

-- +goose Down
DROP TABLE destination_throttle;
DROP TABLE domain_claims;
