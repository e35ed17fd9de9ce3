-- +goose Up
-- segments are named groups of a team's contacts (Resend's audiences).
-- contacts are the people a team sends broadcasts to: email is kept as
-- given, email_key is its lower case (computed by the store, not by SQL
-- lower(), which folds only ASCII in SQLite) and unique within the team.
-- properties is a JSON object of string, number or null values.
-- contact_segments holds the memberships: contact_seq copies the contact's
-- seq so that a segment's contacts are listed newest first from one index;
-- deleting a contact or a segment deletes its memberships (foreign keys
-- are on in every connection). seq orders lists, as in the other tables.
CREATE TABLE segments (
    seq        INTEGER PRIMARY KEY,
    id         TEXT NOT NULL UNIQUE,
    team_id    TEXT NOT NULL,
    name       TEXT NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE INDEX segments_team ON segments (team_id, seq);

CREATE TABLE contacts (
    seq          INTEGER PRIMARY KEY,
    id           TEXT NOT NULL UNIQUE,
    team_id      TEXT NOT NULL,
    email        TEXT NOT NULL,
    email_key    TEXT NOT NULL,
    first_name   TEXT,
    last_name    TEXT,
    unsubscribed INTEGER NOT NULL DEFAULT 0,
    properties   TEXT NOT NULL DEFAULT '{}',
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL,
    UNIQUE (team_id, email_key)
);
CREATE INDEX contacts_team ON contacts (team_id, seq);

CREATE TABLE contact_segments (
    seq         INTEGER PRIMARY KEY,
    team_id     TEXT NOT NULL,
    contact_id  TEXT NOT NULL REFERENCES contacts (id) ON DELETE CASCADE,
    segment_id  TEXT NOT NULL REFERENCES segments (id) ON DELETE CASCADE,
    contact_seq INTEGER NOT NULL,
    created_at  INTEGER NOT NULL,
    UNIQUE (contact_id, segment_id)
);
CREATE INDEX contact_segments_segment ON contact_segments (segment_id, contact_seq);

-- +goose Down
DROP TABLE contact_segments;
DROP TABLE contacts;
DROP TABLE segments;
