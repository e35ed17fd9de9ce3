-- +goose Up
-- The request logs' own SQLite file (logsdb.go): the same table as
-- PostgreSQL's request_logs (main migrations 00019 and 00022). Bodies are
-- bytes, S2-compressed when body_codec is 1. Lists page by (team_id, seq),
-- newest first; the retention sweep deletes by created_at (microseconds
-- since the epoch), oldest first.
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

-- +goose Down
DROP TABLE request_logs;
