package sqlstore

import (
	"context"
	"fmt"

	"github.com/godwit/godwit/internal/store"
)

// CreateTeam implements store.Store.
func (db *DB) CreateTeam(ctx context.Context, t *store.Team) error {
	_, err := db.w.ExecContext(ctx, db.q(`INSERT INTO teams (id, name, rate_limit, created_at) VALUES (?, ?, ?, ?)`),
		t.ID, t.Name, t.RateLimit, micros(t.CreatedAt))
	if isUniqueViolation(err) {
		return store.ErrConflict
	}
	if err != nil {
		return fmt.Errorf("create team: %w", err)
	}
	return nil
}

const teamColumns = `id, name, rate_limit, created_at`

func scanTeam(row interface{ Scan(...any) error }) (*store.Team, error) {
	var t store.Team
	var created int64
	if err := row.Scan(&t.ID, &t.Name, &t.RateLimit, &created); err != nil {
		return nil, interpretError(err)
	}
	t.CreatedAt = fromMicros(created)
	return &t, nil
}

// GetTeam implements store.Store.
func (db *DB) GetTeam(ctx context.Context, id string) (*store.Team, error) {
	return scanTeam(db.r.QueryRowContext(ctx, db.q(`SELECT `+teamColumns+` FROM teams WHERE id = ?`), id))
}

// GetTeamByName implements store.Store.
func (db *DB) GetTeamByName(ctx context.Context, name string) (*store.Team, error) {
	return scanTeam(db.r.QueryRowContext(ctx, db.q(`SELECT `+teamColumns+` FROM teams WHERE name = ?`), name))
}

// ListTeams implements store.Store.
func (db *DB) ListTeams(ctx context.Context) ([]*store.Team, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT `+teamColumns+` FROM teams ORDER BY created_at, id`)
	if err != nil {
		return nil, fmt.Errorf("list teams: %w", err)
	}
	defer rows.Close()
	var out []*store.Team
	for rows.Next() {
		t, err := scanTeam(rows)
		if err != nil {
			return nil, fmt.Errorf("list teams: %w", err)
		}
		out = append(out, t)
	}
	return out, rows.Err()
}

// SetTeamRateLimit implements store.Store.
func (db *DB) SetTeamRateLimit(ctx context.Context, teamID string, perSecond int) error {
	res, err := db.w.ExecContext(ctx, db.q(`UPDATE teams SET rate_limit = ? WHERE id = ?`), perSecond, teamID)
	if err != nil {
		return fmt.Errorf("set rate limit: %w", err)
	}
	return mustAffect(res)
}

func mustAffect(res interface{ RowsAffected() (int64, error) }) error {
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n == 0 {
		return store.ErrNotFound
	}
	return nil
}
