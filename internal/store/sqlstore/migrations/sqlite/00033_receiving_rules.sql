-- +goose Up
-- Routing rules of received mail (docs/receiving.md): what the MX does with
-- mail for an address of a receiving domain. pattern is a local part in lower
-- case, or '*' for every address of the domain without a rule of its own;
-- action is store, forward, drop or reject; forward_to and forward_from are
-- the forward's recipient and sender ('' for other actions). A domain's
-- rules go with it.
CREATE TABLE receiving_rules (
    id           TEXT NOT NULL PRIMARY KEY,
    team_id      TEXT NOT NULL,
    domain_id    TEXT NOT NULL REFERENCES domains (id) ON DELETE CASCADE,
    pattern      TEXT NOT NULL,
    action       TEXT NOT NULL,
    forward_to   TEXT NOT NULL,
    forward_from TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL
);
CREATE UNIQUE INDEX receiving_rules_domain_pattern ON receiving_rules (domain_id, pattern);

-- A receiving domain's settings, when changed from the defaults (no row:
-- catch_all 1, every address of the domain is accepted). A table of its
-- own rather than columns of domains.
CREATE TABLE receiving_settings (
    domain_id  TEXT NOT NULL PRIMARY KEY REFERENCES domains (id) ON DELETE CASCADE,
    team_id    TEXT NOT NULL,
    catch_all  INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);

-- +goose Down
DROP TABLE receiving_settings;
DROP TABLE receiving_rules;
