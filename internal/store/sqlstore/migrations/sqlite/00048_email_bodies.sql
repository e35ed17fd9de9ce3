-- +goose Up
-- email_bodies holds the bodies of the emails accepted from now on, by the
-- email's seq; their emails rows leave html_body and text_body NULL. Older
-- emails keep their bodies in their rows, and readers take whichever is
-- there (emailSelectColumns), so nothing is copied. A delivery's outcome
-- updates the email's row (last_event): with the compressed bodies in the
-- row, each update rewrote the 16 KiB page holding them, and a page held
-- only about four emails.
CREATE TABLE email_bodies (
    email_seq INTEGER PRIMARY KEY,
    html_body TEXT,
    text_body TEXT
);

-- +goose Down
DROP TABLE email_bodies;
