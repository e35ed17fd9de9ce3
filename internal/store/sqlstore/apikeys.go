package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/godwit/godwit/internal/store"
)

// CreateAPIKey implements store.Store.
func (db *DB) CreateAPIKey(ctx context.Context, k *store.APIKey) error {
	_, err := db.w.ExecContext(ctx, db.q(`INSERT INTO api_keys (id, team_id, name, prefix, hash, permission, domain_id, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`),
		k.ID, k.TeamID, k.Name, k.Prefix, k.Hash, k.Permission, k.DomainID, micros(k.CreatedAt))
	if isUniqueViolation(err) {
		return store.ErrConflict
	}
	if err != nil {
		return fmt.Errorf("create api key: %w", err)
	}
	return nil
}

const apiKeyColumns = `id, team_id, name, prefix, hash, permission, domain_id, created_at, last_used_at`

func scanAPIKey(row interface{ Scan(...any) error }) (*store.APIKey, error) {
	var k store.APIKey
	var created int64
	var used sql.NullInt64
	if err := row.Scan(&k.ID, &k.TeamID, &k.Name, &k.Prefix, &k.Hash, &k.Permission, &k.DomainID, &created, &used); err != nil {
		return nil, interpretError(err)
	}
	k.CreatedAt = fromMicros(created)
	k.LastUsedAt = timePtr(used)
	return &k, nil
}

// APIKeyByPrefix implements store.Store.
func (db *DB) APIKeyByPrefix(ctx context.Context, prefix string) (*store.APIKey, error) {
	var k store.APIKey
	var created int64
	var used sql.NullInt64
	stmt, err := db.prepared(ctx, db.r, `SELECT k.id, k.team_id, k.name, k.prefix, k.hash, k.permission, k.domain_id,
		k.created_at, k.last_used_at, t.rate_limit FROM api_keys k JOIN teams t ON t.id = k.team_id WHERE k.prefix = ?`)
	if err != nil {
		return nil, fmt.Errorf("look up api key: %w", err)
	}
	err = stmt.QueryRowContext(ctx, prefix).Scan(&k.ID, &k.TeamID, &k.Name, &k.Prefix, &k.Hash, &k.Permission, &k.DomainID, &created, &used, &k.TeamRateLimit)
	if err != nil {
		return nil, interpretError(err)
	}
	k.CreatedAt = fromMicros(created)
	k.LastUsedAt = timePtr(used)
	return &k, nil
}

// ListAPIKeys implements store.Store.
func (db *DB) ListAPIKeys(ctx context.Context, teamID string) ([]*store.APIKey, error) {
	rows, err := db.r.QueryContext(ctx, db.q(`SELECT `+apiKeyColumns+` FROM api_keys WHERE team_id = ? ORDER BY created_at DESC, id DESC`), teamID)
	if err != nil {
		return nil, fmt.Errorf("list api keys: %w", err)
	}
	defer rows.Close()
	var out []*store.APIKey
	for rows.Next() {
		k, err := scanAPIKey(rows)
		if err != nil {
			return nil, fmt.Errorf("list api keys: %w", err)
		}
		out = append(out, k)
	}
	return out, rows.Err()
}

// DeleteAPIKey implements store.Store.
//
// On PostgreSQL the deletion notifies every node (KeyRevocations) in the
// same transaction, so that their key caches drop the key at once.
func (db *DB) DeleteAPIKey(ctx context.Context, teamID, id string) error {
	tx, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("delete api key: %w", interpretError(err))
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	var prefix string
	err = tx.QueryRowContext(ctx, db.q(`DELETE FROM api_keys WHERE team_id = ? AND id = ? RETURNING prefix`), teamID, id).Scan(&prefix)
	if err != nil {
		return interpretError(err)
	}
	if db.dialect == Postgres {
		if _, err := tx.ExecContext(ctx, `SELECT pg_notify($1, $2)`, keyRevokedChannel, prefix); err != nil {
			return fmt.Errorf("delete api key: notify: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("delete api key: %w", interpretError(err))
	}
	return nil
}

// CountAPIKeys implements store.Store.
func (db *DB) CountAPIKeys(ctx context.Context) (int, error) {
	var n int
	if err := db.r.QueryRowContext(ctx, `SELECT COUNT(*) FROM api_keys`).Scan(&n); err != nil {
		return 0, fmt.Errorf("count api keys: %w", err)
	}
	return n, nil
}

// GetAPIKey implements store.Store.
func (db *DB) GetAPIKey(ctx context.Context, teamID, id string) (*store.APIKey, error) {
	return scanAPIKey(db.r.QueryRowContext(ctx, db.q(`SELECT `+apiKeyColumns+` FROM api_keys WHERE team_id = ? AND id = ?`), teamID, id))
}

// RenameAPIKey implements store.Store.
func (db *DB) RenameAPIKey(ctx context.Context, teamID, id, name string) error {
	res, err := db.w.ExecContext(ctx, db.q(`UPDATE api_keys SET name = ? WHERE team_id = ? AND id = ?`), name, teamID, id)
	if err != nil {
		return fmt.Errorf("rename api key: %w", interpretError(err))
	}
	return mustAffect(res)
}

// TouchAPIKey implements store.Store.
func (db *DB) TouchAPIKey(ctx context.Context, id string, t time.Time) error {
	if _, err := db.w.ExecContext(ctx, db.q(`UPDATE api_keys SET last_used_at = ? WHERE id = ?`), micros(t), id); err != nil {
		return fmt.Errorf("touch api key: %w", interpretError(err))
	}
	return nil
}
