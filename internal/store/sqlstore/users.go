package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/godwit/godwit/internal/store"
)

const userColumns = `id, team_id, email, password_hash, role, failed_signins, locked_until, created_at`

func scanUser(row interface{ Scan(...any) error }, extra ...any) (*store.User, error) {
	var u store.User
	var hash sql.NullString
	var locked sql.NullInt64
	var created int64
	dest := append([]any{&u.ID, &u.TeamID, &u.Email, &hash, &u.Role, &u.FailedSignins, &locked, &created}, extra...)
	if err := row.Scan(dest...); err != nil {
		return nil, interpretError(err)
	}
	u.PasswordHash = hash.String
	u.LockedUntil = timePtr(locked)
	u.CreatedAt = fromMicros(created)
	return &u, nil
}

func emptyNull(s string) sql.NullString { return sql.NullString{String: s, Valid: s != ""} }

// CreateUser implements store.Store.
func (db *DB) CreateUser(ctx context.Context, u *store.User) error {
	u.Email = strings.ToLower(u.Email)
	_, err := db.w.ExecContext(ctx, db.q(`INSERT INTO users (`+userColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`),
		u.ID, u.TeamID, u.Email, emptyNull(u.PasswordHash), u.Role, u.FailedSignins, nullMicros(u.LockedUntil), micros(u.CreatedAt))
	if isUniqueViolation(err) {
		return store.ErrConflict
	}
	if err != nil {
		return fmt.Errorf("create user: %w", interpretError(err))
	}
	return nil
}

// GetUser implements store.Store.
func (db *DB) GetUser(ctx context.Context, teamID, id string) (*store.User, error) {
	return scanUser(db.r.QueryRowContext(ctx, db.q(`SELECT `+userColumns+` FROM users WHERE team_id = ? AND id = ?`), teamID, id))
}

func (db *DB) queryUsers(ctx context.Context, what, query string, args ...any) ([]*store.User, error) {
	rows, err := db.r.QueryContext(ctx, db.q(query), args...)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, interpretError(err))
	}
	defer rows.Close()
	var out []*store.User
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", what, err)
		}
		out = append(out, u)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", what, interpretError(err))
	}
	return out, nil
}

// UsersByEmail implements store.Store.
func (db *DB) UsersByEmail(ctx context.Context, email string) ([]*store.User, error) {
	return db.queryUsers(ctx, "users by email", `SELECT `+userColumns+` FROM users WHERE email = ? ORDER BY created_at, id`,
		strings.ToLower(email))
}

// ListUsers implements store.Store.
func (db *DB) ListUsers(ctx context.Context, teamID string) ([]*store.User, error) {
	return db.queryUsers(ctx, "list users", `SELECT `+userColumns+` FROM users WHERE team_id = ? ORDER BY created_at, id`, teamID)
}

// CountUsers implements store.Store.
func (db *DB) CountUsers(ctx context.Context) (int, error) {
	var n int
	if err := db.r.QueryRowContext(ctx, `SELECT COUNT(*) FROM users`).Scan(&n); err != nil {
		return 0, fmt.Errorf("count users: %w", interpretError(err))
	}
	return n, nil
}

// RecordSigninFailure implements store.Store. The count and the lock
// change in one statement, so that failures on several nodes at once are
// all counted.
func (db *DB) RecordSigninFailure(ctx context.Context, teamID, id string, at time.Time, lock store.SigninLock) (*store.User, error) {
	row := db.w.QueryRowContext(ctx, db.q(`UPDATE users SET
		locked_until = CASE WHEN failed_signins + 1 >= ? THEN ? ELSE locked_until END,
		failed_signins = CASE WHEN failed_signins + 1 >= ? THEN 0 ELSE failed_signins + 1 END
		WHERE team_id = ? AND id = ? RETURNING `+userColumns),
		lock.Max, micros(at.Add(lock.For)), lock.Max, teamID, id)
	u, err := scanUser(row)
	if err != nil {
		return nil, fmt.Errorf("record sign-in failure: %w", err)
	}
	return u, nil
}

// RecordSigninSuccess implements store.Store.
func (db *DB) RecordSigninSuccess(ctx context.Context, teamID, id string) error {
	res, err := db.w.ExecContext(ctx, db.q(`UPDATE users SET failed_signins = 0, locked_until = NULL WHERE team_id = ? AND id = ?`), teamID, id)
	if err != nil {
		return fmt.Errorf("record sign-in: %w", interpretError(err))
	}
	return mustAffect(res)
}

// CreatePasswordToken implements store.Store.
func (db *DB) CreatePasswordToken(ctx context.Context, t *store.PasswordToken) error {
	_, err := db.w.ExecContext(ctx, db.q(`INSERT INTO user_password_tokens (hash, user_id, expires_at, used_at) VALUES (?, ?, ?, ?)`),
		t.Hash, t.UserID, micros(t.ExpiresAt), nullMicros(t.UsedAt))
	if isUniqueViolation(err) {
		return store.ErrConflict
	}
	if err != nil {
		return fmt.Errorf("create password token: %w", interpretError(err))
	}
	return nil
}

// UsePasswordToken implements store.Store.
func (db *DB) UsePasswordToken(ctx context.Context, hash []byte, passwordHash string, at time.Time) (*store.User, error) {
	tx, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("use password token: %w", interpretError(err))
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	var userID string
	err = tx.QueryRowContext(ctx, db.q(`UPDATE user_password_tokens SET used_at = ?
		WHERE hash = ? AND used_at IS NULL AND expires_at > ? RETURNING user_id`), micros(at), hash, micros(at)).Scan(&userID)
	if err != nil {
		return nil, interpretError(err)
	}
	u, err := scanUser(tx.QueryRowContext(ctx, db.q(`UPDATE users SET password_hash = ?, failed_signins = 0, locked_until = NULL
		WHERE id = ? RETURNING `+userColumns), passwordHash, userID))
	if err != nil {
		return nil, fmt.Errorf("use password token: %w", err)
	}
	if _, err := tx.ExecContext(ctx, db.q(`DELETE FROM user_sessions WHERE team_id = ? AND user_id = ?`), u.TeamID, u.ID); err != nil {
		return nil, fmt.Errorf("use password token: end sessions: %w", interpretError(err))
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("use password token: %w", interpretError(err))
	}
	return u, nil
}

// CreateUserSession implements store.Store.
func (db *DB) CreateUserSession(ctx context.Context, s *store.UserSession) error {
	_, err := db.w.ExecContext(ctx, db.q(`INSERT INTO user_sessions (token_hash, user_id, team_id, created_at, last_seen_at, expires_at)
		VALUES (?, ?, ?, ?, ?, ?)`), s.TokenHash, s.UserID, s.TeamID, micros(s.CreatedAt), micros(s.LastSeenAt), micros(s.ExpiresAt))
	if isUniqueViolation(err) {
		return store.ErrConflict
	}
	if err != nil {
		return fmt.Errorf("create session: %w", interpretError(err))
	}
	return nil
}

// SessionUser implements store.Store.
func (db *DB) SessionUser(ctx context.Context, hash []byte, at time.Time) (*store.UserSession, *store.User, error) {
	stmt, err := db.prepared(ctx, db.r, `SELECT u.id, u.team_id, u.email, u.password_hash, u.role, u.failed_signins, u.locked_until, u.created_at,
		s.created_at, s.last_seen_at, s.expires_at
		FROM user_sessions s JOIN users u ON u.id = s.user_id AND u.team_id = s.team_id
		WHERE s.token_hash = ? AND s.expires_at > ?`)
	if err != nil {
		return nil, nil, fmt.Errorf("look up session: %w", err)
	}
	var created, seen, expires int64
	u, err := scanUser(stmt.QueryRowContext(ctx, hash, micros(at)), &created, &seen, &expires)
	if err != nil {
		return nil, nil, err
	}
	s := &store.UserSession{TokenHash: hash, UserID: u.ID, TeamID: u.TeamID, CreatedAt: fromMicros(created),
		LastSeenAt: fromMicros(seen), ExpiresAt: fromMicros(expires)}
	return s, u, nil
}

// TouchUserSession implements store.Store.
func (db *DB) TouchUserSession(ctx context.Context, hash []byte, at, expires time.Time) error {
	res, err := db.w.ExecContext(ctx, db.q(`UPDATE user_sessions SET last_seen_at = ?, expires_at = ? WHERE token_hash = ?`),
		micros(at), micros(expires), hash)
	if err != nil {
		return fmt.Errorf("touch session: %w", interpretError(err))
	}
	return mustAffect(res)
}

// DeleteUserSession implements store.Store.
func (db *DB) DeleteUserSession(ctx context.Context, hash []byte) error {
	if _, err := db.w.ExecContext(ctx, db.q(`DELETE FROM user_sessions WHERE token_hash = ?`), hash); err != nil {
		return fmt.Errorf("delete session: %w", interpretError(err))
	}
	return nil
}

// DeleteUserSessions implements store.Store.
func (db *DB) DeleteUserSessions(ctx context.Context, teamID, userID string) (int64, error) {
	res, err := db.w.ExecContext(ctx, db.q(`DELETE FROM user_sessions WHERE team_id = ? AND user_id = ?`), teamID, userID)
	if err != nil {
		return 0, fmt.Errorf("delete sessions: %w", interpretError(err))
	}
	return res.RowsAffected()
}

// DeleteExpiredUserAuth implements store.Store.
func (db *DB) DeleteExpiredUserAuth(ctx context.Context, t time.Time) (int64, error) {
	var total int64
	for _, q := range []string{`DELETE FROM user_sessions WHERE expires_at < ?`, `DELETE FROM user_password_tokens WHERE expires_at < ?`} {
		res, err := db.w.ExecContext(ctx, db.q(q), micros(t))
		if err != nil {
			return total, fmt.Errorf("delete expired sessions: %w", interpretError(err))
		}
		n, err := res.RowsAffected()
		if err != nil {
			return total, fmt.Errorf("delete expired sessions: %w", err)
		}
		total += n
	}
	return total, nil
}
