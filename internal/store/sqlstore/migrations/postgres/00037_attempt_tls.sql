-- +goose Up
-- The transport security of each delivery attempt: the TLS version and
-- cipher suite negotiated with the host that answered ("" when the
-- connection was plaintext or none was made), and the policy applied to
-- it: "none", "opportunistic", "require-tls", "mta-sts enforce",
-- "mta-sts testing", optionally followed by ": " and why the policy was
-- not met ("" for attempts recorded before this migration and for those
-- no connection was involved in: test recipients, suppressions).
ALTER TABLE delivery_attempts ADD COLUMN tls_version TEXT NOT NULL DEFAULT '';
ALTER TABLE delivery_attempts ADD COLUMN tls_cipher TEXT NOT NULL DEFAULT '';
ALTER TABLE delivery_attempts ADD COLUMN tls_policy TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE delivery_attempts DROP COLUMN tls_policy;
ALTER TABLE delivery_attempts DROP COLUMN tls_cipher;
ALTER TABLE delivery_attempts DROP COLUMN tls_version;
