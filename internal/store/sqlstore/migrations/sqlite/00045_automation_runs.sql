-- +goose Up
-- automation_runs are contacts' passes through a version of an automation;
-- automation_run_steps their step records, one per visit of a step, each
-- made pending in the transaction that enqueues its job and moved on only
-- from the status its job found (so a doubled job changes nothing).
-- wait_event is the event a waiting wait_for_event step waits for ('' for
-- none). Times are Unix microseconds, 0 for none. Deleting an automation
-- deletes its runs and their steps.
CREATE TABLE automation_runs (
    seq           INTEGER PRIMARY KEY,
    id            TEXT NOT NULL UNIQUE,
    team_id       TEXT NOT NULL,
    automation_id TEXT NOT NULL REFERENCES automations (id) ON DELETE CASCADE,
    version       INTEGER NOT NULL,
    contact_id    TEXT NOT NULL,
    event         TEXT NOT NULL,
    payload       TEXT NOT NULL,
    status        TEXT NOT NULL,
    created_at    INTEGER NOT NULL,
    started_at    INTEGER NOT NULL DEFAULT 0,
    completed_at  INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX automation_runs_automation ON automation_runs (automation_id, seq);

CREATE TABLE automation_run_steps (
    seq          INTEGER PRIMARY KEY,
    id           TEXT NOT NULL UNIQUE,
    run_id       TEXT NOT NULL REFERENCES automation_runs (id) ON DELETE CASCADE,
    team_id      TEXT NOT NULL,
    contact_id   TEXT NOT NULL,
    step_key     TEXT NOT NULL,
    type         TEXT NOT NULL,
    status       TEXT NOT NULL,
    wait_event   TEXT NOT NULL DEFAULT '',
    output       TEXT NOT NULL DEFAULT '',
    error        TEXT NOT NULL DEFAULT '',
    created_at   INTEGER NOT NULL,
    started_at   INTEGER NOT NULL DEFAULT 0,
    completed_at INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX automation_run_steps_run ON automation_run_steps (run_id, seq);
CREATE INDEX automation_run_steps_waiting ON automation_run_steps (team_id, contact_id, wait_event, status);

-- +goose Down
DROP TABLE automation_run_steps;
DROP TABLE automation_runs;
