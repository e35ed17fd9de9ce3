-- +goose Up
-- Contact imports run on a job: POST /contacts/imports stores the CSV and
-- the import's options in contact_import_sources and the import queued,
-- with its job, in one transaction; the job moves it to in_progress, writes
-- its contacts in batches, each committed with the import's counts and
-- row_offset (how many records of the CSV after its header the committed
-- batches have read, so that a job run again resumes after them), and ends
-- it completed or failed (failure_reason says why, for operators). The
-- source is deleted when the import ends. options is JSON, the importer's
-- own encoding.
ALTER TABLE contact_imports ADD COLUMN row_offset INTEGER NOT NULL DEFAULT 0;
ALTER TABLE contact_imports ADD COLUMN failure_reason TEXT NOT NULL DEFAULT '';
CREATE TABLE contact_import_sources (
    import_id TEXT NOT NULL PRIMARY KEY REFERENCES contact_imports (id) ON DELETE CASCADE,
    csv       BLOB NOT NULL,
    options   TEXT NOT NULL
);

-- +goose Down
DROP TABLE contact_import_sources;
ALTER TABLE contact_imports DROP COLUMN failure_reason;
ALTER TABLE contact_imports DROP COLUMN row_offset;
