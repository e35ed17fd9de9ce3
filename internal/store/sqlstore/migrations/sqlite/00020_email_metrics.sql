-- +goose Up
-- email_metrics_hourly is the rollup behind GET /emails/metrics: per team,
-- UTC hour (microseconds since the epoch of the hour's start), sending
-- domain ('' for none: the test sender) and broadcast ('' for none), one
-- counter per metric. The store adds to it in the transaction that records
-- what it counts: received when emails are accepted (at the email's
-- created_at), every other counter when RecordDelivery writes the email
-- event (at the event's created_at), one upsert per key and transaction.
-- domain_name is the email's sending domain name, kept so that a deleted
-- domain still has its name. unique_opened and unique_clicked count an
-- email's first open and first click. The rows are backfilled from the
-- events already stored.
CREATE TABLE email_metrics_hourly (
    team_id              TEXT NOT NULL,
    hour                 BIGINT NOT NULL,
    domain_id            TEXT NOT NULL,
    broadcast_id         TEXT NOT NULL,
    domain_name          TEXT NOT NULL DEFAULT '',
    received             BIGINT NOT NULL DEFAULT 0,
    sent                 BIGINT NOT NULL DEFAULT 0,
    delivered            BIGINT NOT NULL DEFAULT 0,
    delivery_delayed     BIGINT NOT NULL DEFAULT 0,
    failed               BIGINT NOT NULL DEFAULT 0,
    suppressed           BIGINT NOT NULL DEFAULT 0,
    bounced              BIGINT NOT NULL DEFAULT 0,
    bounced_transient    BIGINT NOT NULL DEFAULT 0,
    bounced_permanent    BIGINT NOT NULL DEFAULT 0,
    bounced_undetermined BIGINT NOT NULL DEFAULT 0,
    complained           BIGINT NOT NULL DEFAULT 0,
    opened               BIGINT NOT NULL DEFAULT 0,
    clicked              BIGINT NOT NULL DEFAULT 0,
    unique_opened        BIGINT NOT NULL DEFAULT 0,
    unique_clicked       BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (team_id, hour, domain_id, broadcast_id)
) WITHOUT ROWID; -- rows stored in key order: a range of hours is one scan

INSERT INTO email_metrics_hourly (team_id, hour, domain_id, domain_name, broadcast_id, received, sent, delivered, delivery_delayed, failed, suppressed, bounced, bounced_transient, bounced_permanent, bounced_undetermined, complained, opened, clicked, unique_opened, unique_clicked)
SELECT team_id, hour, domain_id, MAX(domain_name), broadcast_id, SUM(received), SUM(sent), SUM(delivered), SUM(delivery_delayed), SUM(failed), SUM(suppressed), SUM(bounced), SUM(bounced_transient), SUM(bounced_permanent), SUM(bounced_undetermined), SUM(complained), SUM(opened), SUM(clicked), SUM(unique_opened), SUM(unique_clicked)
FROM (
    SELECT e.team_id AS team_id, e.created_at - e.created_at % 3600000000 AS hour, COALESCE(e.domain_id, '') AS domain_id, COALESCE(e.domain_name, '') AS domain_name, e.broadcast_id AS broadcast_id,
        1 AS received, 0 AS sent, 0 AS delivered, 0 AS delivery_delayed, 0 AS failed, 0 AS suppressed, 0 AS bounced, 0 AS bounced_transient, 0 AS bounced_permanent, 0 AS bounced_undetermined, 0 AS complained, 0 AS opened, 0 AS clicked, 0 AS unique_opened, 0 AS unique_clicked
    FROM emails e
    UNION ALL
    SELECT ev.team_id, ev.created_at - ev.created_at % 3600000000, COALESCE(e.domain_id, ''), COALESCE(e.domain_name, ''), e.broadcast_id,
        0, CASE WHEN ev.type = 'sent' THEN 1 ELSE 0 END, CASE WHEN ev.type = 'delivered' THEN 1 ELSE 0 END, CASE WHEN ev.type = 'delivery_delayed' THEN 1 ELSE 0 END, CASE WHEN ev.type = 'failed' THEN 1 ELSE 0 END, CASE WHEN ev.type = 'suppressed' THEN 1 ELSE 0 END, CASE WHEN ev.type = 'bounced' THEN 1 ELSE 0 END, CASE WHEN ev.type = 'bounced' AND json_extract(ev.data, '$.bounce.type') = 'Transient' THEN 1 ELSE 0 END, CASE WHEN ev.type = 'bounced' AND json_extract(ev.data, '$.bounce.type') = 'Permanent' THEN 1 ELSE 0 END, CASE WHEN ev.type = 'bounced' AND COALESCE(json_extract(ev.data, '$.bounce.type'), '') NOT IN ('Transient', 'Permanent') THEN 1 ELSE 0 END, CASE WHEN ev.type = 'complained' THEN 1 ELSE 0 END, CASE WHEN ev.type = 'opened' THEN 1 ELSE 0 END, CASE WHEN ev.type = 'clicked' THEN 1 ELSE 0 END, 0, 0
    FROM email_events ev JOIN emails e ON e.id = ev.email_id
    UNION ALL
    SELECT ev.team_id, ev.created_at - ev.created_at % 3600000000, COALESCE(e.domain_id, ''), COALESCE(e.domain_name, ''), e.broadcast_id,
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, CASE WHEN ev.type = 'opened' THEN 1 ELSE 0 END, CASE WHEN ev.type = 'clicked' THEN 1 ELSE 0 END
    FROM (SELECT MIN(seq) AS seq FROM email_events WHERE type IN ('opened', 'clicked') GROUP BY email_id, type) f
    JOIN email_events ev ON ev.seq = f.seq JOIN emails e ON e.id = ev.email_id
) AS counts
GROUP BY team_id, hour, domain_id, broadcast_id;

-- +goose Down
DROP TABLE email_metrics_hourly;
