package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/godwit/godwit/internal/store"
)

const claimColumns = `id, team_id, domain_id, name, status, region, options, token, blocked_reason, failure_reason,
	from_team_id, created_at, updated_at, expires_at, next_check_at`

// openClaimStatuses is the SQL form of store.ClaimOpen.
const openClaimStatuses = `('pending', 'verified', 'blocked')`

func scanClaim(row interface{ Scan(...any) error }) (*store.DomainClaim, error) {
	var c store.DomainClaim
	var created, updated, expires int64
	var next sql.NullInt64
	if err := row.Scan(&c.ID, &c.TeamID, &c.DomainID, &c.Name, &c.Status, &c.Region, &c.Options, &c.Token, &c.BlockedReason,
		&c.FailureReason, &c.FromTeamID, &created, &updated, &expires, &next); err != nil {
		return nil, interpretError(err)
	}
	c.CreatedAt, c.UpdatedAt, c.ExpiresAt, c.NextCheckAt = fromMicros(created), fromMicros(updated), fromMicros(expires), timePtr(next)
	return &c, nil
}

// CreateDomainClaim implements store.Store. Unlike CreateDomain it does not
// refuse a name another team holds: taking it is the claim's purpose.
func (db *DB) CreateDomainClaim(ctx context.Context, c *store.DomainClaim, d *store.Domain, newDomain bool, events ...*store.Event) error {
	defer db.receivingChanged()
	err := db.withEvents(ctx, events, func(tx *sql.Tx) error {
		if newDomain {
			err := db.insertDomain(ctx, tx, d)
			if err != nil {
				return err
			}
		} else {
			res, err := tx.ExecContext(ctx, db.q(updateDomain), updateDomainArgs(d)...)
			if err != nil {
				return err
			}
			if err := mustAffect(res); err != nil {
				return err
			}
		}
		if _, err := tx.ExecContext(ctx, db.q(`UPDATE domain_claims SET status = ?, next_check_at = NULL, updated_at = ?
			WHERE team_id = ? AND name = ? AND status IN `+openClaimStatuses), store.ClaimSuperseded, micros(c.CreatedAt), c.TeamID, c.Name); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, db.q(`INSERT INTO domain_claims (`+claimColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
			c.ID, c.TeamID, c.DomainID, c.Name, c.Status, c.Region, c.Options, c.Token, c.BlockedReason, c.FailureReason, c.FromTeamID,
			micros(c.CreatedAt), micros(c.UpdatedAt), micros(c.ExpiresAt), nullMicros(c.NextCheckAt))
		return err
	})
	if isUniqueViolation(err) {
		return fmt.Errorf("create domain claim: %w", store.ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("create domain claim: %w", interpretError(err))
	}
	return nil
}

// LatestDomainClaim implements store.Store.
func (db *DB) LatestDomainClaim(ctx context.Context, teamID, domainID string) (*store.DomainClaim, error) {
	c, err := scanClaim(db.r.QueryRowContext(ctx, db.q(`SELECT `+claimColumns+` FROM domain_claims WHERE team_id = ? AND domain_id = ?
		ORDER BY created_at DESC, id DESC LIMIT 1`), teamID, domainID))
	if err != nil {
		return nil, fmt.Errorf("get domain claim: %w", err)
	}
	return c, nil
}

// OpenDomainClaim implements store.Store.
func (db *DB) OpenDomainClaim(ctx context.Context, teamID, name string) (*store.DomainClaim, error) {
	c, err := scanClaim(db.r.QueryRowContext(ctx, db.q(`SELECT `+claimColumns+` FROM domain_claims WHERE team_id = ? AND name = ?
		AND status IN `+openClaimStatuses+` ORDER BY created_at DESC, id DESC LIMIT 1`), teamID, name))
	if err != nil {
		return nil, fmt.Errorf("get domain claim: %w", err)
	}
	return c, nil
}

const updateClaim = `UPDATE domain_claims SET status = ?, blocked_reason = ?, failure_reason = ?, from_team_id = ?, updated_at = ?,
	next_check_at = ? WHERE team_id = ? AND id = ? AND status IN ` + openClaimStatuses

func updateClaimArgs(c *store.DomainClaim) []any {
	return []any{c.Status, c.BlockedReason, c.FailureReason, c.FromTeamID, micros(c.UpdatedAt), nullMicros(c.NextCheckAt), c.TeamID, c.ID}
}

// UpdateDomainClaim implements store.Store.
func (db *DB) UpdateDomainClaim(ctx context.Context, c *store.DomainClaim) error {
	res, err := db.w.ExecContext(ctx, db.q(updateClaim), updateClaimArgs(c)...)
	if err == nil {
		err = mustAffect(res)
	}
	if err != nil {
		return fmt.Errorf("update domain claim: %w", interpretError(err))
	}
	return nil
}

// DomainClaimsDue implements store.Store.
func (db *DB) DomainClaimsDue(ctx context.Context, now time.Time, limit int) ([]*store.DomainClaim, error) {
	rows, err := db.r.QueryContext(ctx, db.q(`SELECT `+claimColumns+` FROM domain_claims WHERE next_check_at IS NOT NULL AND next_check_at <= ?
		AND status IN `+openClaimStatuses+` ORDER BY next_check_at, id LIMIT ?`), micros(now), limit)
	if err != nil {
		return nil, fmt.Errorf("domain claims due: %w", interpretError(err))
	}
	defer rows.Close()
	var out []*store.DomainClaim
	for rows.Next() {
		c, err := scanClaim(rows)
		if err != nil {
			return nil, fmt.Errorf("domain claims due: %w", err)
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// CompleteDomainClaim implements store.Store. It takes the events lock
// first, as CreateDomain and VerifyDomain do, so that the name cannot be
// verified by its old holder's team while it moves.
func (db *DB) CompleteDomainClaim(ctx context.Context, c *store.DomainClaim, d *store.Domain, lose func(*store.Domain) (*store.Event, error),
	events ...*store.Event) (*store.Domain, error) {
	defer db.receivingChanged()
	var lost *store.Domain
	err := db.withEvents(ctx, nil, func(tx *sql.Tx) error {
		if err := db.lockEvents(ctx, tx); err != nil {
			return err
		}
		held, err := scanDomain(tx.QueryRowContext(ctx, db.q(`SELECT `+domainColumns+` FROM domains WHERE name = ? AND team_id <> ?
			AND status IN `+heldStatuses), c.Name, c.TeamID))
		switch {
		case err == nil:
			ev, err := lose(held)
			if err != nil {
				return err
			}
			if ev != nil {
				events = append(events, ev)
			}
			if _, err := tx.ExecContext(ctx, db.q(updateDomain), updateDomainArgs(held)...); err != nil {
				return err
			}
			lost, c.FromTeamID = held, held.TeamID
		case !errors.Is(err, store.ErrNotFound):
			return err
		}
		c.Status, c.BlockedReason, c.FailureReason, c.NextCheckAt = store.ClaimCompleted, "", "", nil
		res, err := tx.ExecContext(ctx, db.q(updateClaim), updateClaimArgs(c)...)
		if err != nil {
			return err
		}
		if err := mustAffect(res); err != nil {
			return err
		}
		if res, err = tx.ExecContext(ctx, db.q(updateDomain), updateDomainArgs(d)...); err != nil {
			return err
		}
		if err := mustAffect(res); err != nil {
			return err
		}
		return db.insertEvents(ctx, tx, events)
	})
	if isUniqueViolation(err) {
		return nil, fmt.Errorf("complete domain claim: %w", store.ErrConflict)
	}
	if err != nil {
		return nil, fmt.Errorf("complete domain claim: %w", interpretError(err))
	}
	return lost, nil
}

// WaitingEmailsFrom implements store.Store (the emails_waiting index
// bounds the scan to the team's waiting emails).
func (db *DB) WaitingEmailsFrom(ctx context.Context, teamID, domainID string) (int, error) {
	var n int
	err := db.r.QueryRowContext(ctx, db.q(`SELECT COUNT(*) FROM emails WHERE team_id = ? AND domain_id = ?
		AND last_event IN ('queued', 'scheduled', 'sent', 'delivery_delayed')`), teamID, domainID).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("waiting emails from domain: %w", interpretError(err))
	}
	return n, nil
}
