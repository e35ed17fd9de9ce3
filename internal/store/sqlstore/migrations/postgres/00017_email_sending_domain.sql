-- +goose Up
-- The sending domain of an email, recorded when it is accepted: delivery
-- signs with the domain by id and writes the Message-ID with its name,
-- instead of finding the domain again from the From header. domain_id is
-- NULL for the test sender (which has a name only) and for emails accepted
-- before this migration (neither: delivery falls back to From for them).
ALTER TABLE emails ADD COLUMN domain_id TEXT;
ALTER TABLE emails ADD COLUMN domain_name TEXT;

-- +goose Down
ALTER TABLE emails DROP COLUMN domain_name;
ALTER TABLE emails DROP COLUMN domain_id;
