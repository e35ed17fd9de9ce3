-- +goose Up
-- SQLite moves its request logs to a file of their own (see the SQLite
-- migration of this number); on PostgreSQL they stay in this database.
SELECT 1;

-- +goose Down
SELECT 1;
