package sqlstore

import (
	"context"
	"fmt"
)

// CountRateWindow adds one request to key's one-second window (a unix
// second) and returns the window's count so far, in one statement.
func (db *DB) CountRateWindow(ctx context.Context, key string, window int64) (int, error) {
	var n int
	err := db.w.QueryRowContext(ctx, db.q(`INSERT INTO rate_windows (key, sec, hits) VALUES (?, ?, 1)
		ON CONFLICT (key, sec) DO UPDATE SET hits = rate_windows.hits + 1 RETURNING hits`), key, window).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("count rate window: %w", err)
	}
	return n, nil
}

// DeleteRateWindowsBefore removes the windows before window.
func (db *DB) DeleteRateWindowsBefore(ctx context.Context, window int64) (int64, error) {
	res, err := db.w.ExecContext(ctx, db.q(`DELETE FROM rate_windows WHERE sec < ?`), window)
	if err != nil {
		return 0, fmt.Errorf("delete rate windows: %w", err)
	}
	return res.RowsAffected()
}
