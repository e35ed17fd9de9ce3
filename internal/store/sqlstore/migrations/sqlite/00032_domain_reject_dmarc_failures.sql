-- +goose Up
-- A receiving domain may refuse, at the end of DATA, mail that fails DMARC
-- while its sender's domain publishes p=reject (1), instead of storing it
-- with the verdict (0, the default, as Resend does).
ALTER TABLE domains ADD COLUMN reject_dmarc_failures INTEGER NOT NULL DEFAULT 0;

-- +goose Down
ALTER TABLE domains DROP COLUMN reject_dmarc_failures;
