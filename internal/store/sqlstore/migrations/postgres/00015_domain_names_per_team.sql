-- A domain name is unique within a team, and among verified domains: teams
-- may hold unverified copies of one name, and the first to verify wins (the
-- partial index is what makes two verifications race-safe).

-- +goose Up
ALTER TABLE domains DROP CONSTRAINT domains_name_key;
ALTER TABLE domains ADD COLUMN failure_reason TEXT NOT NULL DEFAULT '';
CREATE UNIQUE INDEX domains_team_name ON domains (team_id, name);
CREATE UNIQUE INDEX domains_verified_name ON domains (name) WHERE status IN ('verified', 'temporary_failure');

-- +goose Down
-- Of several copies of a name, the verified one, else the oldest, is kept.
DELETE FROM domains d WHERE d.id <> (SELECT c.id FROM domains c WHERE c.name = d.name
    ORDER BY c.status IN ('verified', 'temporary_failure') DESC, c.created_at, c.id LIMIT 1);
DROP INDEX domains_verified_name;
DROP INDEX domains_team_name;
ALTER TABLE domains DROP COLUMN failure_reason;
ALTER TABLE domains ADD CONSTRAINT domains_name_key UNIQUE (name);
