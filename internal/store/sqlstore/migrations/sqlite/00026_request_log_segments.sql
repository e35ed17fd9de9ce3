-- +goose Up
-- PostgreSQL's request_logs change shape (bodies in segments); SQLite's
-- live in their own file, whose migrations (sqlite-logs) do the same.
SELECT 1;

-- +goose Down
SELECT 1;
