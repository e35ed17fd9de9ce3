-- +goose Up
-- The dashboard's email search (SearchEmails): newest first by
-- (created_at, seq), filtered by status, sending domain, time range,
-- recipient and tag in any combination. Each filter has an index whose
-- prefix is the filter's equality and whose tail is (created_at, seq), so a
-- page is a range scan of that index in order, stopped at the page's size:
-- no sort, no scan of the team's emails.
CREATE INDEX emails_team_created ON emails (team_id, created_at, seq);
CREATE INDEX emails_team_status ON emails (team_id, last_event, created_at, seq);
CREATE INDEX emails_team_domain ON emails (team_id, domain_id, created_at, seq);

-- email_search_terms holds, per email, one row per distinct recipient (to,
-- cc and bcc; term 'rcpt:' and the address, its angle-addr when it has a
-- display name, trimmed and ASCII-lowercased) and per tag ('tag:name=value';
-- tag names have no '='), written in the transaction that accepts the email.
-- created_at and email_seq are the email's, so a term's emails are in page
-- order in the key.
CREATE TABLE email_search_terms (
    team_id    TEXT NOT NULL,
    term       TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    email_seq  BIGINT NOT NULL,
    PRIMARY KEY (team_id, term, created_at, email_seq)
);

INSERT INTO email_search_terms (team_id, term, created_at, email_seq)
SELECT DISTINCT team_id, term, created_at, seq FROM (
    SELECT e.team_id AS team_id, 'rcpt:' || translate(btrim(CASE
            WHEN position('<' IN a.v) > 0 AND right(rtrim(a.v), 1) = '>'
            THEN substr(a.v, position('<' IN a.v) + 1, length(rtrim(a.v)) - position('<' IN a.v) - 1)
            ELSE a.v END), 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz') AS term,
        e.created_at AS created_at, e.seq AS seq
    FROM emails e
    CROSS JOIN LATERAL (
        SELECT jsonb_array_elements_text(e.to_addrs::jsonb) AS v
        UNION ALL SELECT jsonb_array_elements_text(COALESCE(e.cc_addrs, '[]')::jsonb)
        UNION ALL SELECT jsonb_array_elements_text(COALESCE(e.bcc_addrs, '[]')::jsonb)
    ) a
    UNION ALL
    SELECT e.team_id, 'tag:' || (t.v ->> 'name') || '=' || (t.v ->> 'value'), e.created_at, e.seq
    FROM emails e CROSS JOIN LATERAL jsonb_array_elements(COALESCE(e.tags, '[]')::jsonb) AS t(v)
) AS terms;

-- The dev inbox (ListCapturedMessages): a team's captured messages, newest first.
CREATE INDEX captured_messages_team ON captured_messages (team_id, created_at, email_id);

-- +goose Down
DROP INDEX captured_messages_team;
DROP TABLE email_search_terms;
DROP INDEX emails_team_domain;
DROP INDEX emails_team_status;
DROP INDEX emails_team_created;
