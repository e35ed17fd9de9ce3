-- +goose Up
-- webhooks are a team's endpoints. Signing secrets are sealed with the
-- server key (the webhook id as additional data); after a rotation the
-- previous secret still signs until previous_until.
CREATE TABLE webhooks (
    seq              INTEGER PRIMARY KEY,
    id               TEXT NOT NULL UNIQUE,
    team_id          TEXT NOT NULL,
    endpoint         TEXT NOT NULL,
    events           TEXT NOT NULL,
    status           TEXT NOT NULL,
    disabled_reason  TEXT NOT NULL DEFAULT '',
    secret           BLOB NOT NULL,
    previous_secret  BLOB,
    previous_until   INTEGER,
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL
);
CREATE INDEX webhooks_team ON webhooks (team_id, seq);

-- +goose Down
DROP TABLE webhooks;
