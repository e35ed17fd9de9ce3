package sqlstore

import (
	"context"
	"fmt"
	"time"
)

// ClusterSettings returns the settings recorded for the nodes of this
// database, by name.
func (db *DB) ClusterSettings(ctx context.Context) (map[string]string, error) {
	rows, err := db.w.QueryContext(ctx, `SELECT name, value FROM cluster_settings`)
	if err != nil {
		return nil, fmt.Errorf("cluster settings: %w", interpretError(err))
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var n, v string
		if err := rows.Scan(&n, &v); err != nil {
			return nil, fmt.Errorf("cluster settings: %w", err)
		}
		out[n] = v
	}
	return out, rows.Err()
}

// AddClusterSettings records the settings not recorded yet (nodes starting
// together race here; the first value written stays) and returns them all.
func (db *DB) AddClusterSettings(ctx context.Context, settings map[string]string, at time.Time) (map[string]string, error) {
	for n, v := range settings {
		if _, err := db.w.ExecContext(ctx, db.q(`INSERT INTO cluster_settings (name, value, updated_at) VALUES (?, ?, ?)
			ON CONFLICT (name) DO NOTHING`), n, v, micros(at)); err != nil {
			return nil, fmt.Errorf("add cluster settings: %w", interpretError(err))
		}
	}
	return db.ClusterSettings(ctx)
}

// SetClusterSettings records the settings, replacing what was recorded
// (--adopt-settings).
func (db *DB) SetClusterSettings(ctx context.Context, settings map[string]string, at time.Time) error {
	for n, v := range settings {
		if _, err := db.w.ExecContext(ctx, db.q(`INSERT INTO cluster_settings (name, value, updated_at) VALUES (?, ?, ?)
			ON CONFLICT (name) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at`), n, v, micros(at)); err != nil {
			return fmt.Errorf("set cluster settings: %w", interpretError(err))
		}
	}
	return nil
}
