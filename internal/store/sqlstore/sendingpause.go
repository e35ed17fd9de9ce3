package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/godwit/godwit/internal/store"
)

func pauseAt(p *store.SendingPause) sql.NullInt64 {
	if p == nil {
		return sql.NullInt64{}
	}
	return sql.NullInt64{Int64: micros(p.At), Valid: true}
}

func pauseReason(p *store.SendingPause) string {
	if p == nil {
		return ""
	}
	return p.Reason
}

// PauseDomainSending implements store.Store.
func (db *DB) PauseDomainSending(ctx context.Context, teamID, id string, p store.SendingPause,
	event func(*store.Domain) (*store.Event, error)) (*store.Domain, bool, error) {
	var d *store.Domain
	var paused bool
	err := db.domainTx(ctx, func(tx *sql.Tx) ([]*store.Event, error) {
		res, err := tx.ExecContext(ctx, db.q(`UPDATE domains SET sending_paused_at = ?, sending_pause_reason = ?, updated_at = ?
			WHERE team_id = ? AND id = ? AND sending_paused_at IS NULL`), micros(p.At), p.Reason, micros(p.At), teamID, id)
		if err != nil {
			return nil, err
		}
		n, err := res.RowsAffected()
		if err != nil {
			return nil, err
		}
		paused = n > 0
		if d, err = db.domainIn(ctx, tx, teamID, id); err != nil || !paused {
			return nil, err
		}
		return oneEvent(event, d)
	})
	if err != nil {
		return nil, false, fmt.Errorf("pause domain sending: %w", interpretError(err))
	}
	return d, paused, nil
}

// ResumeDomainSending implements store.Store. The held emails are the
// domain's emails whose last event is sent or delivery_delayed (tried, and
// deferred): each gets a job at now, and next_attempt_at now for the queue
// view; the job already enqueued for its backoff finds it done, or runs
// it again harmlessly.
func (db *DB) ResumeDomainSending(ctx context.Context, teamID, id string, now time.Time,
	event func(*store.Domain) (*store.Event, error)) (*store.Domain, bool, int, error) {
	var d *store.Domain
	var resumed bool
	var held int
	err := db.domainTx(ctx, func(tx *sql.Tx) ([]*store.Event, error) {
		res, err := tx.ExecContext(ctx, db.q(`UPDATE domains SET sending_paused_at = NULL, sending_pause_reason = '', updated_at = ?
			WHERE team_id = ? AND id = ? AND sending_paused_at IS NOT NULL`), micros(now), teamID, id)
		if err != nil {
			return nil, err
		}
		n, err := res.RowsAffected()
		if err != nil {
			return nil, err
		}
		resumed = n > 0
		if d, err = db.domainIn(ctx, tx, teamID, id); err != nil || !resumed {
			return nil, err
		}
		rows, err := tx.QueryContext(ctx, db.q(`SELECT id FROM emails WHERE team_id = ? AND domain_id = ?
			AND last_event IN (?, ?) ORDER BY seq`), teamID, id, store.EventSent, store.EventDeliveryDelayed)
		if err != nil {
			return nil, err
		}
		var retries []DeliveryRetry
		for rows.Next() {
			var emailID string
			if err := rows.Scan(&emailID); err != nil {
				rows.Close()
				return nil, err
			}
			retries = append(retries, DeliveryRetry{EmailID: emailID, TeamID: teamID, At: now})
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, err
		}
		held = len(retries)
		for _, r := range retries {
			if _, err := tx.ExecContext(ctx, db.q(`UPDATE emails SET next_attempt_at = ? WHERE id = ?`), micros(now), r.EmailID); err != nil {
				return nil, err
			}
		}
		if len(retries) > 0 {
			if err := db.outbox.RetryDeliveries(ctx, tx, retries); err != nil {
				return nil, err
			}
		}
		return oneEvent(event, d)
	})
	if err != nil {
		return nil, false, 0, fmt.Errorf("resume domain sending: %w", interpretError(err))
	}
	return d, resumed, held, nil
}

// domainTx runs change in a transaction that holds the events lock, and
// records the events it returns.
func (db *DB) domainTx(ctx context.Context, change func(*sql.Tx) ([]*store.Event, error)) error {
	tx, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	if err := db.lockEvents(ctx, tx); err != nil {
		return err
	}
	events, err := change(tx)
	if err != nil {
		return err
	}
	if err := db.insertEvents(ctx, tx, events); err != nil {
		return err
	}
	return tx.Commit()
}

func (db *DB) domainIn(ctx context.Context, tx *sql.Tx, teamID, id string) (*store.Domain, error) {
	return scanDomain(tx.QueryRowContext(ctx, db.q(`SELECT `+domainColumns+` FROM domains WHERE team_id = ? AND id = ?`), teamID, id))
}

func oneEvent(event func(*store.Domain) (*store.Event, error), d *store.Domain) ([]*store.Event, error) {
	if event == nil {
		return nil, nil
	}
	ev, err := event(d)
	if err != nil || ev == nil {
		return nil, err
	}
	return []*store.Event{ev}, nil
}
