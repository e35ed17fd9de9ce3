-- +goose Up
-- templates are a team's email templates. The draft is in the columns
-- (version_id names its content; reply_to and variables are JSON, NULL when
-- empty; text_body NULL when there is none); published is the JSON of the
-- copy that sending uses, NULL until the first publish. alias is NULL when
-- there is none, and unique within the team. seq orders lists, as in the
-- other tables. Emails record the template they came from in their own
-- template column (JSON {id, variables}), which needs no change.
CREATE TABLE templates (
    seq          INTEGER PRIMARY KEY,
    id           TEXT NOT NULL UNIQUE,
    team_id      TEXT NOT NULL,
    name         TEXT NOT NULL,
    alias        TEXT,
    version_id   TEXT NOT NULL,
    from_addr    TEXT NOT NULL DEFAULT '',
    subject      TEXT NOT NULL DEFAULT '',
    reply_to     TEXT,
    html         TEXT NOT NULL,
    text_body    TEXT,
    variables    TEXT,
    published    TEXT,
    status       TEXT NOT NULL CHECK (status IN ('draft', 'published')),
    published_at INTEGER,
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL,
    UNIQUE (team_id, alias)
);
CREATE INDEX templates_team ON templates (team_id, seq);

-- +goose Down
DROP TABLE templates;
