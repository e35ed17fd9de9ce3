package sqlstore

import (
	"context"
	"fmt"
	"path/filepath"
	"syscall"
	"time"

	"github.com/godwit/godwit/internal/store"
)

// MinFreeBytes is the free space below which a SQLite store counts as full
// (Heartbeat fails with store.ErrNoSpace). SQLite writes into its WAL file
// where earlier frames were checkpointed, so a small write can still succeed
// on a full disk while an email's does not; the heartbeat must not report
// such a store as writable.
const MinFreeBytes = 16 << 20

// pgNowMicros is the PostgreSQL server's clock in microseconds since the
// epoch: heartbeats are stamped and judged by one clock, whatever the nodes'.
const pgNowMicros = `(extract(epoch FROM clock_timestamp()) * 1000000)::bigint`

// Heartbeat records that node is alive: one row of node_heartbeats upserted
// through the writer (stamped by the database server's clock on PostgreSQL,
// by the store's on SQLite). It is also the store's write probe: an error
// means the store cannot write now, and store.IsNoSpace tells a full disk.
func (db *DB) Heartbeat(ctx context.Context, node string) error {
	if db.dialect == SQLite {
		if err := db.checkFreeSpace(); err != nil {
			return err
		}
	}
	var err error
	if db.dialect == Postgres {
		_, err = db.w.ExecContext(ctx, `INSERT INTO node_heartbeats (node_id, beat_at) VALUES ($1, `+pgNowMicros+`)
			ON CONFLICT (node_id) DO UPDATE SET beat_at = excluded.beat_at`, node)
	} else {
		_, err = db.w.ExecContext(ctx, `INSERT INTO node_heartbeats (node_id, beat_at) VALUES (?, ?)
			ON CONFLICT (node_id) DO UPDATE SET beat_at = excluded.beat_at`, node, micros(db.now()))
	}
	if err != nil {
		return fmt.Errorf("heartbeat: %w", interpretError(err))
	}
	return nil
}

// DeleteHeartbeat removes node's heartbeat (a clean stop: nothing of it is
// left to rescue).
func (db *DB) DeleteHeartbeat(ctx context.Context, node string) error {
	if _, err := db.w.ExecContext(ctx, db.q(`DELETE FROM node_heartbeats WHERE node_id = ?`), node); err != nil {
		return fmt.Errorf("delete heartbeat: %w", interpretError(err))
	}
	return nil
}

// checkFreeSpace fails with store.ErrNoSpace when the SQLite database's file
// system has less than MinFreeBytes available.
func (db *DB) checkFreeSpace() error {
	var fs syscall.Statfs_t
	if err := syscall.Statfs(filepath.Dir(db.path), &fs); err != nil {
		return fmt.Errorf("heartbeat: free space: %w", err)
	}
	free := uint64(fs.Bavail) * uint64(fs.Bsize)
	if free < MinFreeBytes {
		return fmt.Errorf("%w: %d bytes free on the file system of %s (less than %d)", store.ErrNoSpace, free, db.path, MinFreeBytes)
	}
	return nil
}

// LiveNodes counts the nodes whose heartbeat is newer than within (by the
// database server's clock on PostgreSQL).
func (db *DB) LiveNodes(ctx context.Context, within time.Duration) (int, error) {
	var n int
	var err error
	if db.dialect == Postgres {
		err = db.w.QueryRowContext(ctx, `SELECT COUNT(*) FROM node_heartbeats WHERE beat_at >= `+pgNowMicros+` - $1`,
			within.Microseconds()).Scan(&n)
	} else {
		err = db.w.QueryRowContext(ctx, `SELECT COUNT(*) FROM node_heartbeats WHERE beat_at >= ?`,
			micros(db.now().Add(-within))).Scan(&n)
	}
	if err != nil {
		return 0, fmt.Errorf("live nodes: %w", interpretError(err))
	}
	return n, nil
}
