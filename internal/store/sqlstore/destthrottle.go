package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/godwit/godwit/internal/store"
)

// The destinations' adaptive throttling state shared by the worker nodes
// of one database (delivery.ThrottleState; table destination_throttle,
// migration 00042). One row per destination that was ever throttled; it
// is a few hundred rows at most, never swept.

// LoadDestinationThrottle returns dest's shared state; ok is false when
// there is none.
func (db *DB) LoadDestinationThrottle(ctx context.Context, dest string) (st store.DestinationThrottle, ok bool, err error) {
	var until int64
	err = db.r.QueryRowContext(ctx, db.q(`SELECT level, pauses, until_ms, reason FROM destination_throttle WHERE dest = ?`), dest).
		Scan(&st.Level, &st.Pauses, &until, &st.Reason)
	if errors.Is(err, sql.ErrNoRows) {
		return store.DestinationThrottle{}, false, nil
	}
	if err != nil {
		return store.DestinationThrottle{}, false, fmt.Errorf("load destination throttle: %w", err)
	}
	st.Until = time.UnixMilli(until).UTC()
	return st, true, nil
}

// StoreDestinationThrottle saves st as dest's state unless the stored
// state is paused at now (another node paused it first), and returns the
// state in force: st, or the stored pause. The conditional upsert is one
// statement, atomic on both databases.
func (db *DB) StoreDestinationThrottle(ctx context.Context, dest string, st store.DestinationThrottle, now time.Time) (store.DestinationThrottle, error) {
	res, err := db.w.ExecContext(ctx, db.q(`INSERT INTO destination_throttle (dest, level, pauses, until_ms, reason, updated_ms)
		VALUES (?, ?, ?, ?, ?, ?)
		ON CONFLICT (dest) DO UPDATE SET level = excluded.level, pauses = excluded.pauses, until_ms = excluded.until_ms,
			reason = excluded.reason, updated_ms = excluded.updated_ms
		WHERE destination_throttle.until_ms <= ?`),
		dest, st.Level, st.Pauses, st.Until.UnixMilli(), st.Reason, now.UnixMilli(), now.UnixMilli())
	if err != nil {
		return store.DestinationThrottle{}, fmt.Errorf("store destination throttle: %w", err)
	}
	if n, err := res.RowsAffected(); err == nil && n > 0 {
		return st, nil
	}
	cur, ok, err := db.LoadDestinationThrottle(ctx, dest)
	if err != nil {
		return store.DestinationThrottle{}, err
	}
	if !ok { // deleted meanwhile: nothing in force but st
		return st, nil
	}
	return cur, nil
}
