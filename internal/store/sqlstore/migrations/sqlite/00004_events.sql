-- +goose Up
-- events holds the team-level events (domain.created, …) that webhooks and
-- the pull feed will deliver; email events stay in email_events.
CREATE TABLE events (
    seq        INTEGER PRIMARY KEY,
    id         TEXT NOT NULL UNIQUE,
    team_id    TEXT NOT NULL,
    type       TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    data       TEXT NOT NULL
);
CREATE INDEX events_team ON events (team_id, seq);

-- +goose Down
DROP TABLE events;
