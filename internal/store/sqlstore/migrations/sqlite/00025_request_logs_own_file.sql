-- +goose Up
-- On SQLite the request logs move to a database file of their own
-- (sqlstore/logsdb.go, migrations/sqlite-logs): in the main file their
-- batches held the one writer that accepts need. The logs kept so far are
-- dropped with the table (they are a 30-day record of API requests, not
-- mail).
DROP TABLE request_logs;

-- +goose Down
CREATE TABLE request_logs (
    seq            INTEGER PRIMARY KEY,
    id             TEXT NOT NULL UNIQUE,
    team_id        TEXT NOT NULL,
    api_key_id     TEXT NOT NULL,
    request_id     TEXT NOT NULL,
    method         TEXT NOT NULL,
    endpoint       TEXT NOT NULL,
    status         INTEGER NOT NULL,
    user_agent     TEXT,
    duration_us    INTEGER NOT NULL,
    created_at     INTEGER NOT NULL,
    body_codec     INTEGER NOT NULL DEFAULT 0,
    request_body   BLOB,
    response_body  BLOB
);
CREATE INDEX request_logs_team ON request_logs (team_id, seq);
CREATE INDEX request_logs_created ON request_logs (created_at);
