-- +goose Up
-- The per-team rate limits of nodes that share a database and no Redis
-- (ratelimit.Database; on PostgreSQL, where several nodes share one): one
-- row per key and one-second window, counted with an upsert and swept a
-- minute later.
CREATE TABLE rate_windows (
    key    TEXT    NOT NULL,
    sec    INTEGER NOT NULL,
    hits   INTEGER NOT NULL,
    PRIMARY KEY (key, sec)
) WITHOUT ROWID;

-- +goose Down
DROP TABLE rate_windows;
