package sqlstore

import (
	"context"
	"fmt"

	"github.com/godwit/godwit/internal/store"
)

// SetIPPool implements store.IPPools.
func (db *DB) SetIPPool(ctx context.Context, teamID, domainID, pool string) error {
	if _, err := db.GetTeam(ctx, teamID); err != nil {
		return fmt.Errorf("set ip pool: %w", err)
	}
	if domainID != "" {
		if _, err := db.GetDomain(ctx, teamID, domainID); err != nil {
			return fmt.Errorf("set ip pool: %w", err)
		}
	}
	var err error
	if pool == "" {
		_, err = db.w.ExecContext(ctx, db.q(`DELETE FROM ip_pool_assignments WHERE team_id = ? AND domain_id = ?`), teamID, domainID)
	} else {
		_, err = db.w.ExecContext(ctx, db.q(`INSERT INTO ip_pool_assignments (team_id, domain_id, pool, updated_at) VALUES (?, ?, ?, ?)
			ON CONFLICT (team_id, domain_id) DO UPDATE SET pool = excluded.pool, updated_at = excluded.updated_at`),
			teamID, domainID, pool, micros(db.now()))
	}
	if err != nil {
		return fmt.Errorf("set ip pool: %w", interpretError(err))
	}
	return nil
}

// IPPoolFor implements store.IPPools: the domain's row sorts after the
// team's (” first), so the last row found wins.
func (db *DB) IPPoolFor(ctx context.Context, teamID, domainID string) (string, error) {
	rows, err := db.r.QueryContext(ctx, db.q(`SELECT pool FROM ip_pool_assignments
		WHERE team_id = ? AND domain_id IN ('', ?) ORDER BY domain_id`), teamID, domainID)
	if err != nil {
		return "", fmt.Errorf("ip pool: %w", interpretError(err))
	}
	defer rows.Close()
	pool := ""
	for rows.Next() {
		if err := rows.Scan(&pool); err != nil {
			return "", fmt.Errorf("ip pool: %w", err)
		}
	}
	if err := rows.Err(); err != nil {
		return "", fmt.Errorf("ip pool: %w", err)
	}
	return pool, nil
}

// ListIPPoolAssignments implements store.IPPools.
func (db *DB) ListIPPoolAssignments(ctx context.Context) ([]*store.IPPoolAssignment, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT a.team_id, t.name, a.domain_id, COALESCE(d.name, ''), a.pool, a.updated_at
		FROM ip_pool_assignments a JOIN teams t ON t.id = a.team_id
		LEFT JOIN domains d ON d.team_id = a.team_id AND d.id = a.domain_id
		ORDER BY t.name, a.domain_id`)
	if err != nil {
		return nil, fmt.Errorf("list ip pools: %w", interpretError(err))
	}
	defer rows.Close()
	var out []*store.IPPoolAssignment
	for rows.Next() {
		a := &store.IPPoolAssignment{}
		var at int64
		if err := rows.Scan(&a.TeamID, &a.TeamName, &a.DomainID, &a.DomainName, &a.Pool, &at); err != nil {
			return nil, fmt.Errorf("list ip pools: %w", err)
		}
		a.UpdatedAt = fromMicros(at)
		out = append(out, a)
	}
	return out, rows.Err()
}

// TakeWarmup implements store.IPPools in one statement: the upsert's
// update applies only below the limit, so a full day affects no row.
func (db *DB) TakeWarmup(ctx context.Context, ip, destination, day string, limit int) (bool, error) {
	if limit <= 0 {
		return false, nil
	}
	res, err := db.w.ExecContext(ctx, db.q(`INSERT INTO warmup_counts (ip, destination, day, sent) VALUES (?, ?, ?, 1)
		ON CONFLICT (ip, destination, day) DO UPDATE SET sent = warmup_counts.sent + 1
		WHERE warmup_counts.sent < ?`), ip, destination, day, limit)
	if err != nil {
		return false, fmt.Errorf("take warm-up: %w", interpretError(err))
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("take warm-up: %w", err)
	}
	return n > 0, nil
}

// ReturnWarmup implements store.IPPools.
func (db *DB) ReturnWarmup(ctx context.Context, ip, destination, day string) error {
	if _, err := db.w.ExecContext(ctx, db.q(`UPDATE warmup_counts SET sent = sent - 1
		WHERE ip = ? AND destination = ? AND day = ? AND sent > 0`), ip, destination, day); err != nil {
		return fmt.Errorf("return warm-up: %w", interpretError(err))
	}
	return nil
}

// WarmupCounts implements store.IPPools.
func (db *DB) WarmupCounts(ctx context.Context, day string) ([]*store.WarmupCount, error) {
	rows, err := db.r.QueryContext(ctx, db.q(`SELECT ip, destination, day, sent FROM warmup_counts WHERE day = ?
		ORDER BY ip, destination`), day)
	if err != nil {
		return nil, fmt.Errorf("warm-up counts: %w", interpretError(err))
	}
	defer rows.Close()
	var out []*store.WarmupCount
	for rows.Next() {
		c := &store.WarmupCount{}
		if err := rows.Scan(&c.IP, &c.Destination, &c.Day, &c.Sent); err != nil {
			return nil, fmt.Errorf("warm-up counts: %w", err)
		}
		out = append(out, c)
	}
	return out, rows.Err()
}
