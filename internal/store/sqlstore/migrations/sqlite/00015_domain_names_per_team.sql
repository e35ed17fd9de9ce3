-- A domain name is unique within a team, and among verified domains: teams
-- may hold unverified copies of one name, and the first to verify wins (the
-- partial index is what makes two verifications race-safe). SQLite cannot
-- drop a column's UNIQUE, so the table is rebuilt (no table references it).

-- +goose Up
CREATE TABLE domains_new (
    id                 TEXT PRIMARY KEY,
    team_id            TEXT NOT NULL REFERENCES teams(id),
    name               TEXT NOT NULL,
    region             TEXT NOT NULL,
    return_path        TEXT NOT NULL,
    status             TEXT NOT NULL,
    open_tracking      INTEGER NOT NULL,
    click_tracking     INTEGER NOT NULL,
    tls                TEXT NOT NULL,
    sending            TEXT NOT NULL,
    receiving          TEXT NOT NULL,
    tracking_subdomain TEXT NOT NULL,
    dkim_selector      TEXT NOT NULL,
    dkim_key           BLOB NOT NULL,
    dkim_ed25519_key   BLOB,
    record_status      TEXT NOT NULL,
    created_at         INTEGER NOT NULL,
    updated_at         INTEGER NOT NULL,
    verify_started_at  INTEGER,
    next_check_at      INTEGER,
    failure_reason     TEXT NOT NULL DEFAULT ''
);
INSERT INTO domains_new (id, team_id, name, region, return_path, status, open_tracking, click_tracking, tls, sending, receiving,
    tracking_subdomain, dkim_selector, dkim_key, dkim_ed25519_key, record_status, created_at, updated_at, verify_started_at, next_check_at)
SELECT id, team_id, name, region, return_path, status, open_tracking, click_tracking, tls, sending, receiving,
    tracking_subdomain, dkim_selector, dkim_key, dkim_ed25519_key, record_status, created_at, updated_at, verify_started_at, next_check_at
FROM domains;
DROP TABLE domains;
ALTER TABLE domains_new RENAME TO domains;
CREATE INDEX domains_team ON domains (team_id, created_at);
CREATE INDEX domains_next_check ON domains (next_check_at);
CREATE UNIQUE INDEX domains_team_name ON domains (team_id, name);
CREATE UNIQUE INDEX domains_verified_name ON domains (name) WHERE status IN ('verified', 'temporary_failure');

-- +goose Down
CREATE TABLE domains_old (
    id                 TEXT PRIMARY KEY,
    team_id            TEXT NOT NULL REFERENCES teams(id),
    name               TEXT NOT NULL UNIQUE,
    region             TEXT NOT NULL,
    return_path        TEXT NOT NULL,
    status             TEXT NOT NULL,
    open_tracking      INTEGER NOT NULL,
    click_tracking     INTEGER NOT NULL,
    tls                TEXT NOT NULL,
    sending            TEXT NOT NULL,
    receiving          TEXT NOT NULL,
    tracking_subdomain TEXT NOT NULL,
    dkim_selector      TEXT NOT NULL,
    dkim_key           BLOB NOT NULL,
    dkim_ed25519_key   BLOB,
    record_status      TEXT NOT NULL,
    created_at         INTEGER NOT NULL,
    updated_at         INTEGER NOT NULL,
    verify_started_at  INTEGER,
    next_check_at      INTEGER
);
-- Of several copies of a name, the verified one, else the oldest, is kept.
INSERT INTO domains_old (id, team_id, name, region, return_path, status, open_tracking, click_tracking, tls, sending, receiving,
    tracking_subdomain, dkim_selector, dkim_key, dkim_ed25519_key, record_status, created_at, updated_at, verify_started_at, next_check_at)
SELECT id, team_id, name, region, return_path, status, open_tracking, click_tracking, tls, sending, receiving,
    tracking_subdomain, dkim_selector, dkim_key, dkim_ed25519_key, record_status, created_at, updated_at, verify_started_at, next_check_at
FROM domains d
WHERE id = (SELECT c.id FROM domains c WHERE c.name = d.name
    ORDER BY c.status IN ('verified', 'temporary_failure') DESC, c.created_at, c.id LIMIT 1);
DROP TABLE domains;
ALTER TABLE domains_old RENAME TO domains;
CREATE INDEX domains_team ON domains (team_id, created_at);
CREATE INDEX domains_next_check ON domains (next_check_at);
