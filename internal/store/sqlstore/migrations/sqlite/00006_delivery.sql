-- +goose Up
-- delivery_attempts keeps every recipient's result of every delivery
-- attempt; an email's per-recipient state is its latest row per recipient.
CREATE TABLE delivery_attempts (
    seq        INTEGER PRIMARY KEY,
    email_id   TEXT NOT NULL,
    team_id    TEXT NOT NULL,
    recipient  TEXT NOT NULL,
    outcome    TEXT NOT NULL,
    host       TEXT NOT NULL,
    code       INTEGER NOT NULL,
    enhanced   TEXT NOT NULL,
    response   TEXT NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE INDEX delivery_attempts_email ON delivery_attempts (email_id, seq);

-- captured_messages holds what the capture transport "sent".
CREATE TABLE captured_messages (
    email_id   TEXT PRIMARY KEY,
    team_id    TEXT NOT NULL,
    data       BLOB NOT NULL,
    created_at INTEGER NOT NULL
);

-- +goose Down
DROP TABLE captured_messages;
DROP TABLE delivery_attempts;
