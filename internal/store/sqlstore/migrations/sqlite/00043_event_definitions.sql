-- +goose Up
-- event_definitions are a team's custom events (the Events API): a name
-- unique in the team and an optional flat payload schema, a JSON object of
-- key → type ('' when there is none). updated_at is 0 until the schema is
-- first changed. seq orders lists, as in the other tables.
CREATE TABLE event_definitions (
    seq        INTEGER PRIMARY KEY,
    id         TEXT NOT NULL UNIQUE,
    team_id    TEXT NOT NULL,
    name       TEXT NOT NULL,
    schema     TEXT NOT NULL DEFAULT '',
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL DEFAULT 0,
    UNIQUE (team_id, name)
);
CREATE INDEX event_definitions_team ON event_definitions (team_id, seq);

-- +goose Down
DROP TABLE event_definitions;
