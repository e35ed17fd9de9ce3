-- +goose Up
-- Request logs' bodies are compressed by Godwit with S2 (body_codec 1)
-- when they are large enough to gain from it, on both databases: the log
-- of every POST /emails holds the email, and sending it to PostgreSQL as
-- text for the server to compress cost a fifth of the accept rate
-- (docs/benchmarks.md). The columns become bytes; PostgreSQL does not try
-- to compress them again (STORAGE EXTERNAL). body_codec 0 is text, as
-- every log written before.
ALTER TABLE request_logs ADD COLUMN body_codec INTEGER NOT NULL DEFAULT 0;
ALTER TABLE request_logs ALTER COLUMN request_body TYPE BYTEA USING convert_to(request_body, 'UTF8');
ALTER TABLE request_logs ALTER COLUMN response_body TYPE BYTEA USING convert_to(response_body, 'UTF8');
ALTER TABLE request_logs ALTER COLUMN request_body SET STORAGE EXTERNAL;
ALTER TABLE request_logs ALTER COLUMN response_body SET STORAGE EXTERNAL;
ALTER TABLE request_logs SET (toast_tuple_target = 8160);

-- +goose Down
-- Compressed bodies cannot go back into text: they are dropped.
UPDATE request_logs SET request_body = NULL, response_body = NULL WHERE body_codec <> 0;
ALTER TABLE request_logs ALTER COLUMN request_body TYPE TEXT USING convert_from(request_body, 'UTF8');
ALTER TABLE request_logs ALTER COLUMN response_body TYPE TEXT USING convert_from(response_body, 'UTF8');
ALTER TABLE request_logs DROP COLUMN body_codec;
