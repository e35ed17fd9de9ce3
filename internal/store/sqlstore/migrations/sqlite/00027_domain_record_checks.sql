-- +goose Up
-- What the last check of each of a domain's records found in DNS (the
-- values, NXDOMAIN or the lookup failure, and when), as JSON by record kind;
-- NULL for a domain not checked since.
ALTER TABLE domains ADD COLUMN record_checks TEXT;

-- +goose Down
ALTER TABLE domains DROP COLUMN record_checks;
