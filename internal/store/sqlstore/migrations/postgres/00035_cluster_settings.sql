-- +goose Up
-- The settings every node of one database must share (the test domain, the
-- names domains publish, the default rate limit…), recorded by the first
-- start: a node started with other values is refused (internal/app,
-- CheckClusterSettings), instead of publishing other records or links.
CREATE TABLE cluster_settings (
    name       TEXT NOT NULL PRIMARY KEY,
    value      TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);

-- +goose Down
DROP TABLE cluster_settings;
