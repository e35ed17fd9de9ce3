-- +goose Up
-- TLS reporting (RFC 8460): the outbound TLS sessions of one UTC day,
-- counted per recipient (policy) domain, policy type ("sts", "tlsa",
-- "no-policy-found"), MX host and result type ("success" or a failure type
-- such as "starttls-not-supported", "certificate-host-mismatch",
-- "tlsa-invalid"), not a row per attempt. policy_string is the policy
-- applied, one line per element of the report's policy-string array.
CREATE TABLE tls_report_counts (
    domain        TEXT NOT NULL,
    day           TEXT NOT NULL,
    policy_type   TEXT NOT NULL,
    mx_host       TEXT NOT NULL,
    result_type   TEXT NOT NULL,
    policy_string TEXT NOT NULL DEFAULT '',
    sessions      BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (day, domain, policy_type, mx_host, result_type)
);

-- One row per (domain, day) whose report a node took on: a report is sent
-- at most once, whatever restarts or nodes.
CREATE TABLE tls_reports_sent (
    domain  TEXT NOT NULL,
    day     TEXT NOT NULL,
    sent_at BIGINT NOT NULL,
    PRIMARY KEY (day, domain)
);

-- +goose Down
DROP TABLE tls_reports_sent;
DROP TABLE tls_report_counts;
