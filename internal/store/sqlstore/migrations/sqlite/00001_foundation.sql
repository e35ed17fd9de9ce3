-- +goose Up
CREATE TABLE teams (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    rate_limit  INTEGER NOT NULL DEFAULT 0,
    created_at  INTEGER NOT NULL
);

CREATE TABLE api_keys (
    id           TEXT PRIMARY KEY,
    team_id      TEXT NOT NULL REFERENCES teams(id),
    name         TEXT NOT NULL,
    prefix       TEXT NOT NULL UNIQUE,
    hash         BLOB NOT NULL,
    permission   TEXT NOT NULL,
    domain_id    TEXT NOT NULL DEFAULT '',
    created_at   INTEGER NOT NULL,
    last_used_at INTEGER
);
CREATE INDEX api_keys_team ON api_keys (team_id, created_at);

CREATE TABLE emails (
    seq          INTEGER PRIMARY KEY,
    id           TEXT NOT NULL UNIQUE,
    team_id      TEXT NOT NULL REFERENCES teams(id),
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL,
    from_addr    TEXT NOT NULL,
    to_addrs     TEXT NOT NULL,
    cc_addrs     TEXT,
    bcc_addrs    TEXT,
    reply_to     TEXT,
    subject      TEXT NOT NULL,
    html_body    TEXT,
    text_body    TEXT,
    headers      TEXT,
    tags         TEXT,
    template     TEXT,
    topic_id     TEXT NOT NULL DEFAULT '',
    scheduled_at INTEGER,
    last_event   TEXT NOT NULL
);
CREATE INDEX emails_team_seq ON emails (team_id, seq);

CREATE TABLE email_attachments (
    email_id     TEXT NOT NULL REFERENCES emails(id),
    idx          INTEGER NOT NULL,
    filename     TEXT NOT NULL,
    content_type TEXT NOT NULL,
    content_id   TEXT NOT NULL,
    path         TEXT NOT NULL,
    content      BLOB,
    PRIMARY KEY (email_id, idx)
);

CREATE TABLE email_events (
    seq        INTEGER PRIMARY KEY,
    email_id   TEXT NOT NULL REFERENCES emails(id),
    team_id    TEXT NOT NULL,
    type       TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    data       TEXT
);
CREATE INDEX email_events_email ON email_events (email_id, seq);
CREATE INDEX email_events_team ON email_events (team_id, seq);

CREATE TABLE idempotency_keys (
    team_id      TEXT NOT NULL,
    idem_key     TEXT NOT NULL,
    endpoint     TEXT NOT NULL,
    request_hash BLOB NOT NULL,
    response     BLOB NOT NULL,
    created_at   INTEGER NOT NULL,
    PRIMARY KEY (team_id, idem_key)
);
CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at);

-- +goose Down
DROP TABLE idempotency_keys;
DROP TABLE email_events;
DROP TABLE email_attachments;
DROP TABLE emails;
DROP TABLE api_keys;
DROP TABLE teams;
