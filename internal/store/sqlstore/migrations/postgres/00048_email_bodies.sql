-- +goose Up
-- email_bodies holds the bodies of the emails accepted from now on, by the
-- email's seq; their emails rows leave html_body and text_body NULL. Older
-- emails keep their bodies in their rows, and readers take whichever is
-- there (emailSelectColumns), so nothing is copied. A delivery's outcome
-- updates the email's row (last_event); on SQLite, with the compressed
-- bodies in the row, each update rewrote the page holding them (PostgreSQL
-- keeps large values out of line already, but both stores share one
-- schema and one code path).
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
DROP TABLE email_bodies;
