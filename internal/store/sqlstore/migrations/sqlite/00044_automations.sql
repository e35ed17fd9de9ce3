-- +goose Up
-- automations are a team's step graphs. graph is the current version's
-- JSON (internal/automation's encoding), trigger_event its trigger's event
-- name (what POST /events/send matches). automation_versions keeps every
-- version's graph, so that a run goes on with the version it started with
-- after an edit. Deleting an automation deletes its versions.
CREATE TABLE automations (
    seq           INTEGER PRIMARY KEY,
    id            TEXT NOT NULL UNIQUE,
    team_id       TEXT NOT NULL,
    name          TEXT NOT NULL,
    status        TEXT NOT NULL,
    version       INTEGER NOT NULL,
    trigger_event TEXT NOT NULL,
    graph         TEXT NOT NULL,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL
);
CREATE INDEX automations_team ON automations (team_id, seq);
CREATE INDEX automations_trigger ON automations (team_id, trigger_event, status);

CREATE TABLE automation_versions (
    automation_id TEXT NOT NULL REFERENCES automations (id) ON DELETE CASCADE,
    version       INTEGER NOT NULL,
    graph         TEXT NOT NULL,
    created_at    INTEGER NOT NULL,
    PRIMARY KEY (automation_id, version)
);

-- +goose Down
DROP TABLE automation_versions;
DROP TABLE automations;
