-- +goose Up
-- contact_imports are a team's CSV imports of contacts. status is one of
-- Resend's (queued, in_progress, completed, failed); godwit processes an
-- import within its request, so rows are written completed, with their
-- counts of rows and outcomes, and completed_at set.
CREATE TABLE contact_imports (
    seq          INTEGER PRIMARY KEY,
    id           TEXT NOT NULL UNIQUE,
    team_id      TEXT NOT NULL,
    status       TEXT NOT NULL CHECK (status IN ('queued', 'in_progress', 'completed', 'failed')),
    total        INTEGER NOT NULL DEFAULT 0,
    created      INTEGER NOT NULL DEFAULT 0,
    updated      INTEGER NOT NULL DEFAULT 0,
    skipped      INTEGER NOT NULL DEFAULT 0,
    failed       INTEGER NOT NULL DEFAULT 0,
    created_at   INTEGER NOT NULL,
    completed_at INTEGER
);
CREATE INDEX contact_imports_team ON contact_imports (team_id, seq);

-- +goose Down
DROP TABLE contact_imports;
