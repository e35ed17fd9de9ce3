-- +goose Up
-- contact_properties declares the custom properties of a team's contacts:
-- prop_key is unique within the team and compared exactly (SQLite's
-- default BINARY collation, as PostgreSQL's), type is 'string' or
-- 'number', and fallback_value is the JSON of a string or a number, NULL
-- when there is none. Contacts keep their values in contacts.properties;
-- deleting a property leaves them. seq orders lists, as in the other tables.
CREATE TABLE contact_properties (
    seq            INTEGER PRIMARY KEY,
    id             TEXT NOT NULL UNIQUE,
    team_id        TEXT NOT NULL,
    prop_key       TEXT NOT NULL,
    type           TEXT NOT NULL CHECK (type IN ('string', 'number')),
    fallback_value TEXT,
    created_at     INTEGER NOT NULL,
    updated_at     INTEGER NOT NULL,
    UNIQUE (team_id, prop_key)
);
CREATE INDEX contact_properties_team ON contact_properties (team_id, seq);

-- +goose Down
DROP TABLE contact_properties;
