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
-- The bodies go back into their rows before the table goes.
UPDATE emails SET
    html_body = (SELECT b.html_body FROM email_bodies b WHERE b.email_seq = emails.seq),
    text_body = (SELECT b.text_body FROM email_bodies b WHERE b.email_seq = emails.seq)
WHERE seq IN (SELECT email_seq FROM email_bodies);
DROP TABLE email_bodies;
