-- +goose Up
-- A domain whose sending records are verified while its receiving record is
-- not (or the other way round) is partially_verified, or partially_failed
-- once the others failed: it holds its name as a verified one does.
DROP INDEX domains_verified_name;
CREATE UNIQUE INDEX domains_verified_name ON domains (name)
    WHERE status IN ('verified', 'temporary_failure', 'partially_verified', 'partially_failed');

-- +goose Down
DROP INDEX domains_verified_name;
CREATE UNIQUE INDEX domains_verified_name ON domains (name) WHERE status IN ('verified', 'temporary_failure');
