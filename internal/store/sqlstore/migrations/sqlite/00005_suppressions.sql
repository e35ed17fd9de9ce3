-- +goose Up
-- suppressions is a team's suppression list: addresses Godwit must not send
-- to. email is the address in lower case, one row per team and address.
-- origin is bounce, complaint or manual; source_id is the id of the email
-- that bounced or complained ('' for manual). Delivery adds hard bounces
-- with INSERT … ON CONFLICT (team_id, email) DO NOTHING. seq orders the
-- list for pagination, as in emails and events.
CREATE TABLE suppressions (
    seq        INTEGER PRIMARY KEY,
    id         TEXT NOT NULL UNIQUE,
    team_id    TEXT NOT NULL,
    email      TEXT NOT NULL,
    origin     TEXT NOT NULL,
    source_id  TEXT NOT NULL DEFAULT '',
    created_at INTEGER NOT NULL,
    UNIQUE (team_id, email)
);
CREATE INDEX suppressions_team ON suppressions (team_id, seq);
CREATE INDEX suppressions_team_origin ON suppressions (team_id, origin, seq);

-- +goose Down
DROP TABLE suppressions;
