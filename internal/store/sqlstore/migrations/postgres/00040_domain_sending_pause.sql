-- +goose Up
-- The reputation guard (internal/reputation) pauses a domain's sending when
-- its bounce or complaint rate over a window crosses a threshold: while
-- sending_paused_at is set (microseconds since the epoch), the delivery
-- workers hold the domain's emails (deferred, never dropped) with
-- sending_pause_reason as the attempt's reason, until an admin resumes it.
-- The rates are read from email_metrics_hourly (migration 00020), whose
-- primary key already makes a team's window of hours one range scan.
ALTER TABLE domains ADD COLUMN sending_paused_at BIGINT;
ALTER TABLE domains ADD COLUMN sending_pause_reason TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE domains DROP COLUMN sending_pause_reason;
ALTER TABLE domains DROP COLUMN sending_paused_at;
