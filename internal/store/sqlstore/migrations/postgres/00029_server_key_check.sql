-- +goose Up
-- One row: a check value of the secret key that seals this database's
-- secrets (webhook secrets, DKIM keys), so that a node started with another
-- key stops at start instead of failing to open them later. The value is an
-- HMAC under a key derived from the secret key, never the key itself.
CREATE TABLE server_key_check (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    mac        TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

-- +goose Down
DROP TABLE server_key_check;
