-- +goose Up
-- email_bodies holds, on SQLite, the bodies of the emails accepted from
-- now on (see the SQLite migration and insertArgs): a delivery outcome's
-- update of the emails row rewrote the page holding the compressed bodies.
-- PostgreSQL keeps such values out of line on its own (TOAST), so here the
-- bodies stay in the emails row and this table stays empty; it exists so
-- that both stores have one schema and read bodies with the same query
-- (COALESCE over both places).
CREATE TABLE email_bodies (
    email_seq BIGINT PRIMARY KEY,
    html_body TEXT,
    text_body TEXT
);
-- As emails' bodies (00001): lz4, or uncompressed without it.
-- +goose StatementBegin
DO $$
BEGIN
    ALTER TABLE email_bodies ALTER COLUMN html_body SET COMPRESSION lz4;
    ALTER TABLE email_bodies ALTER COLUMN text_body SET COMPRESSION lz4;
EXCEPTION WHEN OTHERS THEN
    ALTER TABLE email_bodies ALTER COLUMN html_body SET STORAGE EXTERNAL;
    ALTER TABLE email_bodies ALTER COLUMN text_body SET STORAGE EXTERNAL;
END
$$;
-- +goose StatementEnd

-- +goose Down
-- The bodies go back into their rows before the table goes.
UPDATE emails SET
    html_body = (SELECT b.html_body FROM email_bodies b WHERE b.email_seq = emails.seq),
    text_body = (SELECT b.text_body FROM email_bodies b WHERE b.email_seq = emails.seq)
WHERE seq IN (SELECT email_seq FROM email_bodies);
DROP TABLE email_bodies;
