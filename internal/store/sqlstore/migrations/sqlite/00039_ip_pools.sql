-- +goose Up
-- Sending IP pools and warm-up (internal/delivery, sourceip.go).
-- The pool (a --ip-pool name) assigned to a team (domain_id '') or to one
-- of its domains; the domain's wins. Teams and domains assigned none send
-- from the default pool.
CREATE TABLE ip_pool_assignments (
    team_id    TEXT    NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
    domain_id  TEXT    NOT NULL DEFAULT '',
    pool       TEXT    NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (team_id, domain_id)
) WITHOUT ROWID;

-- Messages sent per warming-up IP, destination (a provider, or "other")
-- and UTC day ("2026-12-03"), taken with a conditional upsert against the
-- day's cap, so that the cap holds across restarts and worker nodes.
CREATE TABLE warmup_counts (
    ip          TEXT    NOT NULL,
    destination TEXT    NOT NULL,
    day         TEXT    NOT NULL,
    sent        INTEGER NOT NULL,
    PRIMARY KEY (ip, destination, day)
) WITHOUT ROWID;

-- +goose Down
DROP TABLE warmup_counts;
DROP TABLE ip_pool_assignments;
