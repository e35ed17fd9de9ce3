-- +goose Up
-- The dashboard's email search (SearchEmails): newest first by
-- (created_at, seq), filtered by status, sending domain, time range,
-- recipient and tag in any combination. Each filter has an index whose
-- prefix is the filter's equality and whose tail is (created_at, seq), so a
-- page is a range scan of that index in order, stopped at the page's size:
-- no sort, no scan of the team's emails. (seq is the rowid on SQLite; it is
-- named so that both dialects' indexes read the same.)
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
    created_at INTEGER NOT NULL,
    email_seq  INTEGER NOT NULL,
    PRIMARY KEY (team_id, term, created_at, email_seq)
) WITHOUT ROWID;

INSERT INTO email_search_terms (team_id, term, created_at, email_seq)
SELECT DISTINCT team_id, term, created_at, seq FROM (
    SELECT e.team_id AS team_id, 'rcpt:' || lower(trim(CASE
            WHEN instr(j.value, '<') > 0 AND substr(rtrim(j.value), -1) = '>'
            THEN substr(j.value, instr(j.value, '<') + 1, length(rtrim(j.value)) - instr(j.value, '<') - 1)
            ELSE j.value END)) AS term, e.created_at AS created_at, e.seq AS seq
    FROM emails e, json_each(e.to_addrs) j
    UNION ALL
    SELECT e.team_id, 'rcpt:' || lower(trim(CASE
            WHEN instr(j.value, '<') > 0 AND substr(rtrim(j.value), -1) = '>'
            THEN substr(j.value, instr(j.value, '<') + 1, length(rtrim(j.value)) - instr(j.value, '<') - 1)
            ELSE j.value END)), e.created_at, e.seq
    FROM emails e, json_each(e.cc_addrs) j WHERE e.cc_addrs IS NOT NULL
    UNION ALL
    SELECT e.team_id, 'rcpt:' || lower(trim(CASE
            WHEN instr(j.value, '<') > 0 AND substr(rtrim(j.value), -1) = '>'
            THEN substr(j.value, instr(j.value, '<') + 1, length(rtrim(j.value)) - instr(j.value, '<') - 1)
            ELSE j.value END)), e.created_at, e.seq
    FROM emails e, json_each(e.bcc_addrs) j WHERE e.bcc_addrs IS NOT NULL
    UNION ALL
    SELECT e.team_id, 'tag:' || json_extract(j.value, '$.name') || '=' || json_extract(j.value, '$.value'), e.created_at, e.seq
    FROM emails e, json_each(e.tags) j WHERE e.tags IS NOT NULL
) AS terms;

-- The dev inbox (ListCapturedMessages): a team's captured messages, newest first.
CREATE INDEX captured_messages_team ON captured_messages (team_id, created_at, email_id);

-- +goose Down
DROP INDEX captured_messages_team;
DROP TABLE email_search_terms;
DROP INDEX emails_team_domain;
DROP INDEX emails_team_status;
DROP INDEX emails_team_created;
