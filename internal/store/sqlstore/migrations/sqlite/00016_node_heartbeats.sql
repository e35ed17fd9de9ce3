-- +goose Up
-- node_heartbeats holds one row per running serve process (its job queue
-- client id), rewritten every second: the write probe behind /readyz, and
-- on PostgreSQL how the other nodes tell that a node died and release the
-- jobs it was running. beat_at is microseconds since the epoch (on
-- PostgreSQL the database server's clock, so that nodes' clocks need not
-- agree).
CREATE TABLE node_heartbeats (
    node_id TEXT PRIMARY KEY,
    beat_at BIGINT NOT NULL
);

-- +goose Down
DROP TABLE node_heartbeats;
