-- +goose Up
-- A broadcast's emails, for its recipients and clicked links
-- (GET /broadcasts/{id}/recipients, /clicked-links).
CREATE INDEX emails_broadcast ON emails (team_id, broadcast_id, seq) WHERE broadcast_id <> '';
-- The emails still waiting for delivery (GET /queue, godwit queue), oldest
-- first. Partial: an email leaves it once its outcome is known.
CREATE INDEX emails_waiting ON emails (team_id, seq)
    WHERE last_event IN ('queued', 'scheduled', 'sent', 'delivery_delayed');
-- When a deferred email's next attempt is due (set with its retry job).
ALTER TABLE emails ADD COLUMN next_attempt_at INTEGER;

-- +goose Down
ALTER TABLE emails DROP COLUMN next_attempt_at;
DROP INDEX emails_waiting;
DROP INDEX emails_broadcast;
