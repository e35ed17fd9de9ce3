-- +goose Up
-- webhook_messages: one per event and subscribed webhook, inserted in the
-- transaction that records the event; webhook_attempts: each POST of one.
CREATE TABLE webhook_messages (
    seq             INTEGER PRIMARY KEY,
    id              TEXT NOT NULL UNIQUE,
    webhook_id      TEXT NOT NULL,
    team_id         TEXT NOT NULL,
    event_id        TEXT NOT NULL,
    type            TEXT NOT NULL,
    payload         TEXT NOT NULL,
    status          TEXT NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER,
    created_at      INTEGER NOT NULL
);
CREATE INDEX webhook_messages_webhook ON webhook_messages (webhook_id, seq);

CREATE TABLE webhook_attempts (
    seq         INTEGER PRIMARY KEY,
    id          TEXT NOT NULL UNIQUE,
    message_id  TEXT NOT NULL,
    status_code INTEGER NOT NULL,
    response    TEXT NOT NULL,
    sent_at     INTEGER NOT NULL
);
CREATE INDEX webhook_attempts_message ON webhook_attempts (message_id, seq);

ALTER TABLE webhooks ADD COLUMN failing_since INTEGER;

-- +goose Down
ALTER TABLE webhooks DROP COLUMN failing_since;
DROP TABLE webhook_attempts;
DROP TABLE webhook_messages;
