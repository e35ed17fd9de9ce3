-- +goose Up
-- request_logs is the record of the teams' authenticated API requests
-- (Resend's Logs API), written in batches off the request path. The bodies
-- are JSON text, masked and capped before they are stored (NULL when not
-- stored). Lists page by (team_id, seq), newest first; the retention sweep
-- deletes by created_at (microseconds since the epoch), oldest first.
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
    request_body   TEXT,
    response_body  TEXT,
    created_at     INTEGER NOT NULL
);
CREATE INDEX request_logs_team ON request_logs (team_id, seq);
CREATE INDEX request_logs_created ON request_logs (created_at);

-- +goose Down
DROP TABLE request_logs;
