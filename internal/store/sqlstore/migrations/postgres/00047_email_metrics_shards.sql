-- +goose Up
-- email_metrics_hourly gets a shard in its key: each of the store's
-- committers (the accept committers, the delivery outcomes' one) adds to
-- its own row of a (team, hour, domain, broadcast), and reads sum the rows.
-- With one row, every commit that counted anything for a key waited for the
-- row lock of the commit before it, held until that commit's flush: on
-- PostgreSQL the committers took turns, one flush at a time. Existing rows
-- are shard 0.
ALTER TABLE email_metrics_hourly ADD COLUMN shard BIGINT NOT NULL DEFAULT 0;
ALTER TABLE email_metrics_hourly DROP CONSTRAINT email_metrics_hourly_pkey;
ALTER TABLE email_metrics_hourly ADD PRIMARY KEY (team_id, hour, domain_id, broadcast_id, shard);

-- +goose Down
CREATE TEMPORARY TABLE email_metrics_hourly_sum AS
SELECT team_id, hour, domain_id, broadcast_id, MAX(domain_name) AS domain_name, SUM(received) AS received, SUM(sent) AS sent, SUM(delivered) AS delivered, SUM(delivery_delayed) AS delivery_delayed, SUM(failed) AS failed, SUM(suppressed) AS suppressed, SUM(bounced) AS bounced, SUM(bounced_transient) AS bounced_transient, SUM(bounced_permanent) AS bounced_permanent, SUM(bounced_undetermined) AS bounced_undetermined, SUM(complained) AS complained, SUM(opened) AS opened, SUM(clicked) AS clicked, SUM(unique_opened) AS unique_opened, SUM(unique_clicked) AS unique_clicked
FROM email_metrics_hourly GROUP BY team_id, hour, domain_id, broadcast_id;
DELETE FROM email_metrics_hourly;
ALTER TABLE email_metrics_hourly DROP CONSTRAINT email_metrics_hourly_pkey;
ALTER TABLE email_metrics_hourly DROP COLUMN shard;
ALTER TABLE email_metrics_hourly ADD PRIMARY KEY (team_id, hour, domain_id, broadcast_id);
INSERT INTO email_metrics_hourly (team_id, hour, domain_id, broadcast_id, domain_name, received, sent, delivered, delivery_delayed, failed, suppressed, bounced, bounced_transient, bounced_permanent, bounced_undetermined, complained, opened, clicked, unique_opened, unique_clicked)
SELECT team_id, hour, domain_id, broadcast_id, domain_name, received, sent, delivered, delivery_delayed, failed, suppressed, bounced, bounced_transient, bounced_permanent, bounced_undetermined, complained, opened, clicked, unique_opened, unique_clicked FROM email_metrics_hourly_sum;
DROP TABLE email_metrics_hourly_sum;
