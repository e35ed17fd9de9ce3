-- +goose Up
CREATE TABLE domains (
    id                 TEXT PRIMARY KEY,
    team_id            TEXT NOT NULL REFERENCES teams(id),
    name               TEXT NOT NULL UNIQUE,
    region             TEXT NOT NULL,
    return_path        TEXT NOT NULL,
    status             TEXT NOT NULL,
    open_tracking      BIGINT NOT NULL,
    click_tracking     BIGINT NOT NULL,
    tls                TEXT NOT NULL,
    sending            TEXT NOT NULL,
    receiving          TEXT NOT NULL,
    tracking_subdomain TEXT NOT NULL,
    dkim_selector      TEXT NOT NULL,
    dkim_key           BYTEA NOT NULL,
    dkim_ed25519_key   BYTEA,
    record_status      TEXT NOT NULL,
    created_at         BIGINT NOT NULL,
    updated_at         BIGINT NOT NULL,
    verify_started_at  BIGINT,
    next_check_at      BIGINT
);
CREATE INDEX domains_team ON domains (team_id, created_at);
CREATE INDEX domains_next_check ON domains (next_check_at);

-- +goose Down
DROP TABLE domains;
