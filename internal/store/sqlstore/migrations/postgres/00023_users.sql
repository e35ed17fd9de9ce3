-- +goose Up
-- The dashboard's people (users), their signed-in browsers (user_sessions)
-- and the one-time tokens that set a password (user_password_tokens).
-- Sessions and tokens are keyed by the SHA-256 of their secret. Times are
-- microseconds since the epoch. A user's email is unique within its team
-- and stored in lower case; failed_signins and locked_until throttle
-- sign-in on every node alike.
CREATE TABLE users (
    id              TEXT NOT NULL PRIMARY KEY,
    team_id         TEXT NOT NULL,
    email           TEXT NOT NULL,
    password_hash   TEXT,
    role            TEXT NOT NULL,
    failed_signins  BIGINT NOT NULL DEFAULT 0,
    locked_until    BIGINT,
    created_at      BIGINT NOT NULL
);
CREATE UNIQUE INDEX users_team_email ON users (team_id, email);
CREATE INDEX users_email ON users (email);

CREATE TABLE user_sessions (
    token_hash    BYTEA NOT NULL PRIMARY KEY,
    user_id       TEXT NOT NULL,
    team_id       TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    last_seen_at  BIGINT NOT NULL,
    expires_at    BIGINT NOT NULL
);
CREATE INDEX user_sessions_user ON user_sessions (team_id, user_id);
CREATE INDEX user_sessions_expires ON user_sessions (expires_at);

CREATE TABLE user_password_tokens (
    hash        BYTEA NOT NULL PRIMARY KEY,
    user_id     TEXT NOT NULL,
    expires_at  BIGINT NOT NULL,
    used_at     BIGINT
);
CREATE INDEX user_password_tokens_expires ON user_password_tokens (expires_at);

-- +goose Down
DROP TABLE user_password_tokens;
DROP TABLE user_sessions;
DROP TABLE users;
