-- +goose Up
-- broadcasts are a team's emails to a segment. reply_to is JSON (NULL when
-- empty); html and text_body are NULL when not given. status is draft until
-- sent, then queued (or scheduled), sending while the broadcast job accepts
-- its chunks, and sent; a queued or scheduled broadcast may be canceled.
-- progress is the send's progress: the contact_seq of the last segment member
-- whose chunk of emails is committed (written in the same transaction as
-- the chunk), so that a retried job resumes after it and never sends twice.
-- emails.broadcast_id names the broadcast an email came from ('' for none).
CREATE TABLE broadcasts (
    seq          INTEGER PRIMARY KEY,
    id           TEXT NOT NULL UNIQUE,
    team_id      TEXT NOT NULL,
    name         TEXT NOT NULL DEFAULT '',
    segment_id   TEXT NOT NULL,
    from_addr    TEXT NOT NULL,
    subject      TEXT NOT NULL,
    reply_to     TEXT,
    preview_text TEXT NOT NULL DEFAULT '',
    html         TEXT,
    text_body    TEXT,
    topic_id     TEXT NOT NULL DEFAULT '',
    status       TEXT NOT NULL CHECK (status IN ('draft', 'queued', 'scheduled', 'sending', 'sent', 'canceled')),
    scheduled_at INTEGER,
    sent_at      INTEGER,
    progress     INTEGER NOT NULL DEFAULT 0,
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL
);
CREATE INDEX broadcasts_team ON broadcasts (team_id, seq);
ALTER TABLE emails ADD COLUMN broadcast_id TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE emails DROP COLUMN broadcast_id;
DROP TABLE broadcasts;
