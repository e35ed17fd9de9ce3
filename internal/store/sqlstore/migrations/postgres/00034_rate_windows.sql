-- +goose Up
-- The per-team rate limits of nodes that share this database and no Redis
-- (ratelimit.Database): one row per key and one-second window, counted
-- with an upsert and swept a minute later. Unlogged: a crash loses only
-- the current second's counts.
CREATE UNLOGGED TABLE rate_windows (
    key    TEXT   NOT NULL,
    sec    BIGINT NOT NULL,
    hits   BIGINT NOT NULL,
    PRIMARY KEY (key, sec)
);

-- +goose Down
DROP TABLE rate_windows;
