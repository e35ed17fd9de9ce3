-- +goose Up
-- Request logs' bodies are compressed by Godwit with S2 (body_codec 1)
-- when they are large enough to gain from it, as email bodies are: the log
-- of every POST /emails holds the email, and it shares SQLite's one writer
-- with the accepts. The columns become bytes (BLOB, as PostgreSQL's
-- BYTEA); body_codec 0 is uncompressed, as every log written before.
ALTER TABLE request_logs ADD COLUMN body_codec INTEGER NOT NULL DEFAULT 0;
ALTER TABLE request_logs ADD COLUMN request_body_bytes BLOB;
ALTER TABLE request_logs ADD COLUMN response_body_bytes BLOB;
UPDATE request_logs SET request_body_bytes = CAST(request_body AS BLOB), response_body_bytes = CAST(response_body AS BLOB);
ALTER TABLE request_logs DROP COLUMN request_body;
ALTER TABLE request_logs DROP COLUMN response_body;
ALTER TABLE request_logs RENAME COLUMN request_body_bytes TO request_body;
ALTER TABLE request_logs RENAME COLUMN response_body_bytes TO response_body;

-- +goose Down
-- Compressed bodies cannot go back into text: they are dropped.
UPDATE request_logs SET request_body = NULL, response_body = NULL WHERE body_codec <> 0;
ALTER TABLE request_logs ADD COLUMN request_body_text TEXT;
ALTER TABLE request_logs ADD COLUMN response_body_text TEXT;
UPDATE request_logs SET request_body_text = CAST(request_body AS TEXT), response_body_text = CAST(response_body AS TEXT);
ALTER TABLE request_logs DROP COLUMN request_body;
ALTER TABLE request_logs DROP COLUMN response_body;
ALTER TABLE request_logs RENAME COLUMN request_body_text TO request_body;
ALTER TABLE request_logs RENAME COLUMN response_body_text TO response_body;
ALTER TABLE request_logs DROP COLUMN body_codec;
