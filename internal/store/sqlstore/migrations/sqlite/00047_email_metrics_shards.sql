-- +goose Up
-- email_metrics_hourly gets a shard in its key, as on PostgreSQL (see the
-- PostgreSQL migration). SQLite has one writer, so no commit waits for
-- another's row lock: its committers all write shard 0, one row per key as
-- before. SQLite cannot change a primary key in place: the table is copied.
-- Existing rows are shard 0.
CREATE TABLE email_metrics_hourly_new (
    team_id              TEXT NOT NULL,
    hour                 BIGINT NOT NULL,
    domain_id            TEXT NOT NULL,
    broadcast_id         TEXT NOT NULL,
    shard                BIGINT NOT NULL DEFAULT 0,
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
    PRIMARY KEY (team_id, hour, domain_id, broadcast_id, shard)
) WITHOUT ROWID;
INSERT INTO email_metrics_hourly_new (team_id, hour, domain_id, broadcast_id, domain_name, received, sent, delivered, delivery_delayed, failed, suppressed, bounced, bounced_transient, bounced_permanent, bounced_undetermined, complained, opened, clicked, unique_opened, unique_clicked)
SELECT team_id, hour, domain_id, broadcast_id, domain_name, received, sent, delivered, delivery_delayed, failed, suppressed, bounced, bounced_transient, bounced_permanent, bounced_undetermined, complained, opened, clicked, unique_opened, unique_clicked FROM email_metrics_hourly;
DROP TABLE email_metrics_hourly;
ALTER TABLE email_metrics_hourly_new RENAME TO email_metrics_hourly;

-- +goose Down
CREATE TABLE email_metrics_hourly_old (
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
) WITHOUT ROWID;
INSERT INTO email_metrics_hourly_old (team_id, hour, domain_id, broadcast_id, domain_name, received, sent, delivered, delivery_delayed, failed, suppressed, bounced, bounced_transient, bounced_permanent, bounced_undetermined, complained, opened, clicked, unique_opened, unique_clicked)
SELECT team_id, hour, domain_id, broadcast_id, MAX(domain_name), SUM(received), SUM(sent), SUM(delivered), SUM(delivery_delayed), SUM(failed), SUM(suppressed), SUM(bounced), SUM(bounced_transient), SUM(bounced_permanent), SUM(bounced_undetermined), SUM(complained), SUM(opened), SUM(clicked), SUM(unique_opened), SUM(unique_clicked)
FROM email_metrics_hourly GROUP BY team_id, hour, domain_id, broadcast_id;
DROP TABLE email_metrics_hourly;
ALTER TABLE email_metrics_hourly_old RENAME TO email_metrics_hourly;
