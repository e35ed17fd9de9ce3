package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
)

// AcquireConnectionLease adds lease to dest's connection leases, expiring
// at now+ttl, if fewer than max are unexpired and no other owner has marked
// dest wanted; otherwise it marks dest wanted by owner until now+wantFor
// (unless another owner's mark is there) and returns false. On PostgreSQL
// one destination's acquires are serialised by a transaction-scoped
// advisory lock; SQLite has one writer.
func (db *DB) AcquireConnectionLease(ctx context.Context, dest, lease, owner string, max int, now time.Time, ttl, wantFor time.Duration) (bool, error) {
	nowMs := now.UnixMilli()
	tx, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		return false, fmt.Errorf("acquire connection lease: %w", interpretError(err))
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	if db.dialect == Postgres {
		if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock(hashtextextended('godwit:connection:' || $1, 0))`, dest); err != nil {
			return false, fmt.Errorf("acquire connection lease: lock: %w", interpretError(err))
		}
	}
	var by string
	err = tx.QueryRowContext(ctx, db.q(`SELECT owner FROM connection_wants WHERE dest = ? AND until_ms > ?`), dest, nowMs).Scan(&by)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return false, fmt.Errorf("acquire connection lease: wanted: %w", interpretError(err))
	}
	if by != "" && by != owner {
		return false, nil // another node waits first
	}
	if _, err := tx.ExecContext(ctx, db.q(`DELETE FROM connection_leases WHERE dest = ? AND expires_ms <= ?`), dest, nowMs); err != nil {
		return false, fmt.Errorf("acquire connection lease: expire: %w", interpretError(err))
	}
	var n int
	if err := tx.QueryRowContext(ctx, db.q(`SELECT count(*) FROM connection_leases WHERE dest = ?`), dest).Scan(&n); err != nil {
		return false, fmt.Errorf("acquire connection lease: count: %w", interpretError(err))
	}
	ok := n < max
	if ok {
		_, err = tx.ExecContext(ctx, db.q(`INSERT INTO connection_leases (lease, dest, expires_ms) VALUES (?, ?, ?)`),
			lease, dest, nowMs+ttl.Milliseconds())
		if err == nil && by != "" {
			_, err = tx.ExecContext(ctx, db.q(`DELETE FROM connection_wants WHERE dest = ?`), dest)
		}
	} else {
		_, err = tx.ExecContext(ctx, db.q(`INSERT INTO connection_wants (dest, owner, until_ms) VALUES (?, ?, ?)
			ON CONFLICT (dest) DO UPDATE SET owner = excluded.owner, until_ms = excluded.until_ms`), dest, owner, nowMs+wantFor.Milliseconds())
	}
	if err != nil {
		return false, fmt.Errorf("acquire connection lease: %w", interpretError(err))
	}
	if err := tx.Commit(); err != nil {
		return false, fmt.Errorf("acquire connection lease: %w", interpretError(err))
	}
	return ok, nil
}

// RenewConnectionLeases extends the unexpired leases among leases to
// now+ttl and returns those it extended, 500 to a statement.
func (db *DB) RenewConnectionLeases(ctx context.Context, leases []string, now time.Time, ttl time.Duration) ([]string, error) {
	const batch = 500
	var renewed []string
	for len(leases) > 0 {
		part := leases[:min(batch, len(leases))]
		leases = leases[len(part):]
		args := []any{now.UnixMilli() + ttl.Milliseconds(), now.UnixMilli()}
		for _, l := range part {
			args = append(args, l)
		}
		rows, err := db.w.QueryContext(ctx, db.q(`UPDATE connection_leases SET expires_ms = ? WHERE expires_ms > ? AND lease IN (?`+
			strings.Repeat(", ?", len(part)-1)+`) RETURNING lease`), args...)
		if err != nil {
			return nil, fmt.Errorf("renew connection leases: %w", interpretError(err))
		}
		for rows.Next() {
			var l string
			if err := rows.Scan(&l); err != nil {
				rows.Close()
				return nil, fmt.Errorf("renew connection leases: %w", err)
			}
			renewed = append(renewed, l)
		}
		err = rows.Close()
		if err == nil {
			err = rows.Err()
		}
		if err != nil {
			return nil, fmt.Errorf("renew connection leases: %w", interpretError(err))
		}
	}
	return renewed, nil
}

// ReleaseConnectionLease removes a lease.
func (db *DB) ReleaseConnectionLease(ctx context.Context, lease string) error {
	if _, err := db.w.ExecContext(ctx, db.q(`DELETE FROM connection_leases WHERE lease = ?`), lease); err != nil {
		return fmt.Errorf("release connection lease: %w", interpretError(err))
	}
	return nil
}

// ConnectionWantedBy returns the owner of dest's unexpired wanted mark, ""
// for none.
func (db *DB) ConnectionWantedBy(ctx context.Context, dest string, now time.Time) (string, error) {
	var by string
	err := db.w.QueryRowContext(ctx, db.q(`SELECT owner FROM connection_wants WHERE dest = ? AND until_ms > ?`), dest, now.UnixMilli()).Scan(&by)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return "", fmt.Errorf("connection wanted: %w", interpretError(err))
	}
	return by, nil
}

// UnwantConnection removes dest's wanted mark if owner left it.
func (db *DB) UnwantConnection(ctx context.Context, dest, owner string) error {
	if _, err := db.w.ExecContext(ctx, db.q(`DELETE FROM connection_wants WHERE dest = ? AND owner = ?`), dest, owner); err != nil {
		return fmt.Errorf("unwant connection: %w", interpretError(err))
	}
	return nil
}

// DeleteExpiredConnectionLeases removes the leases and wanted marks that
// expired before now (those of destinations no node connects to any more;
// the others are removed as they are counted).
func (db *DB) DeleteExpiredConnectionLeases(ctx context.Context, now time.Time) (int64, error) {
	res, err := db.w.ExecContext(ctx, db.q(`DELETE FROM connection_leases WHERE expires_ms <= ?`), now.UnixMilli())
	if err != nil {
		return 0, fmt.Errorf("delete expired connection leases: %w", interpretError(err))
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("delete expired connection leases: %w", err)
	}
	if _, err := db.w.ExecContext(ctx, db.q(`DELETE FROM connection_wants WHERE until_ms <= ?`), now.UnixMilli()); err != nil {
		return n, fmt.Errorf("delete expired connection wants: %w", interpretError(err))
	}
	return n, nil
}
