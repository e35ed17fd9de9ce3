-- +goose Up
-- topics are what a team's contacts opt in to or out of. description is ''
-- when there is none; default_subscription (opt_in or opt_out) is never
-- changed after the insert. seq orders lists, as in the other tables.
-- contact_topics holds the contacts' own choices (subscription opt_in or
-- opt_out), one per contact and topic; a contact without a row has the
-- topic's default. Deleting a contact or a topic deletes its rows (foreign
-- keys are on in every connection).
CREATE TABLE topics (
    seq                  INTEGER PRIMARY KEY,
    id                   TEXT NOT NULL UNIQUE,
    team_id              TEXT NOT NULL,
    name                 TEXT NOT NULL,
    description          TEXT NOT NULL DEFAULT '',
    default_subscription TEXT NOT NULL,
    visibility           TEXT NOT NULL,
    created_at           INTEGER NOT NULL,
    updated_at           INTEGER NOT NULL
);
CREATE INDEX topics_team ON topics (team_id, seq);

CREATE TABLE contact_topics (
    seq          INTEGER PRIMARY KEY,
    team_id      TEXT NOT NULL,
    contact_id   TEXT NOT NULL REFERENCES contacts (id) ON DELETE CASCADE,
    topic_id     TEXT NOT NULL REFERENCES topics (id) ON DELETE CASCADE,
    subscription TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL,
    UNIQUE (contact_id, topic_id)
);
CREATE INDEX contact_topics_topic ON contact_topics (topic_id, contact_id);

-- +goose Down
DROP TABLE contact_topics;
DROP TABLE topics;
