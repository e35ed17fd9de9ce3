-- +goose Up
-- Received emails: mail Godwit accepted as the MX of a team's receiving
-- domain (Resend's Receiving API), with the raw message, its parsed parts
-- and what the SMTP session and the authentication checks found. Lists are
-- newest first by seq; retention sweeps by created_at.
--
-- Address lists (to_addrs … received_for) and headers are JSON arrays.
-- html_body and text_body are stored as emails' are (body_codec, body.go);
-- raw and attachments' content are S2-compressed when that pays (codec 1)
-- on both databases. auth_* are the verdicts of SPF, DKIM, DMARC and ARC
-- ('' when not checked), auth_details the checks' details as JSON,
-- auth_results the Authentication-Results view. in_reply_to_email_id is the
-- id of the team's sent email the message replies to, or NULL.
CREATE TABLE received_emails (
    seq                  INTEGER PRIMARY KEY,
    id                   TEXT NOT NULL UNIQUE,
    team_id              TEXT NOT NULL REFERENCES teams(id),
    domain_id            TEXT NOT NULL,
    created_at           INTEGER NOT NULL,
    message_id           TEXT NOT NULL,
    from_addr            TEXT NOT NULL,
    to_addrs             TEXT NOT NULL,
    cc_addrs             TEXT NOT NULL,
    bcc_addrs            TEXT NOT NULL,
    reply_to             TEXT NOT NULL,
    received_for         TEXT NOT NULL,
    subject              TEXT NOT NULL,
    html_body            TEXT,
    text_body            TEXT,
    body_codec           INTEGER NOT NULL,
    headers              TEXT NOT NULL,
    raw                  BLOB NOT NULL,
    raw_codec            INTEGER NOT NULL,
    size                 INTEGER NOT NULL,
    remote_ip            TEXT NOT NULL,
    helo                 TEXT NOT NULL,
    mail_from            TEXT NOT NULL,
    auth_spf             TEXT NOT NULL,
    auth_dkim            TEXT NOT NULL,
    auth_dmarc           TEXT NOT NULL,
    auth_arc             TEXT NOT NULL,
    auth_details         TEXT,
    auth_results         TEXT NOT NULL,
    in_reply_to_email_id TEXT
);
CREATE INDEX received_emails_team_seq ON received_emails (team_id, seq);
CREATE INDEX received_emails_created ON received_emails (created_at);

-- A received email's attachments, in the message's order (idx from 0).
-- filename, content_disposition and content_id are '' when the part has
-- none; size is the decoded content's length.
CREATE TABLE received_attachments (
    id                  TEXT NOT NULL PRIMARY KEY,
    email_id            TEXT NOT NULL REFERENCES received_emails(id),
    team_id             TEXT NOT NULL,
    idx                 INTEGER NOT NULL,
    filename            TEXT NOT NULL,
    content_type        TEXT NOT NULL,
    content_disposition TEXT NOT NULL,
    content_id          TEXT NOT NULL,
    size                INTEGER NOT NULL,
    content             BLOB NOT NULL,
    codec               INTEGER NOT NULL
);
CREATE UNIQUE INDEX received_attachments_email ON received_attachments (email_id, idx);

-- +goose Down
DROP TABLE received_attachments;
DROP TABLE received_emails;
