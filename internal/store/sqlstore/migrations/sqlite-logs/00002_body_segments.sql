-- +goose Up
-- Request logs' bodies are stored in segments (request_log_bodies): each
-- flush of the writer concatenates the bodies of a team's logs, up to
-- 4 MiB, and compresses them as one S2 block. Similar bodies (a team's
-- emails from the same template) then compress against each other, and a
-- log row stays small: it says which segment holds its bodies, where they
-- start, and their lengths (NULL: no body). Reading one log decompresses
-- its segment. A segment's created_at is its newest log's, so the sweep
-- deletes a segment once every log in it is past the retention.
--
-- The logs written before (in this file since migration 00001 of this
-- set) are dropped: their bodies were in the old columns.
DROP TABLE request_logs;
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
    body_segment   INTEGER,
    body_offset    INTEGER,
    request_len    INTEGER,
    response_len   INTEGER
);
CREATE INDEX request_logs_team ON request_logs (team_id, seq);
CREATE INDEX request_logs_created ON request_logs (created_at);
CREATE TABLE request_log_bodies (
    seq        INTEGER PRIMARY KEY,
    team_id    TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    data       BLOB NOT NULL
);
CREATE INDEX request_log_bodies_created ON request_log_bodies (created_at);

-- +goose Down
DROP TABLE request_log_bodies;
DROP TABLE request_logs;
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
