package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/godwit/godwit/internal/store"
)

const domainColumns = `id, team_id, name, region, return_path, status, open_tracking, click_tracking, tls, sending, receiving,
	tracking_subdomain, dkim_selector, dkim_key, dkim_ed25519_key, record_status, created_at, updated_at, verify_started_at, next_check_at,
	failure_reason, record_checks, reject_dmarc_failures, sending_paused_at, sending_pause_reason`

// heldStatuses is the SQL form of store.DomainHeld; the partial unique
// index domains_verified_name (migration 00030) has the same condition.
const heldStatuses = `('verified', 'temporary_failure', 'partially_verified', 'partially_failed')`

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// CreateDomain implements store.Store.
//
// The check for a held copy and the insert are ordered against
// VerifyDomain: both take the events lock first on PostgreSQL (SQLite has
// one writer), so a name cannot be added by one team just as another's copy
// wins it, unseen by either.
func (db *DB) CreateDomain(ctx context.Context, d *store.Domain, events ...*store.Event) error {
	defer db.receivingChanged()
	err := db.withEvents(ctx, events, func(tx *sql.Tx) error {
		if err := db.lockEvents(ctx, tx); err != nil {
			return err
		}
		var held int
		err := tx.QueryRowContext(ctx, db.q(`SELECT COUNT(*) FROM domains WHERE name = ? AND team_id <> ? AND status IN `+heldStatuses),
			d.Name, d.TeamID).Scan(&held)
		if err != nil {
			return err
		}
		if held > 0 {
			return store.ErrConflict
		}
		return db.insertDomain(ctx, tx, d)
	})
	if errors.Is(err, store.ErrConflict) || isUniqueViolation(err) {
		return store.ErrConflict
	}
	if err != nil {
		return fmt.Errorf("create domain: %w", interpretError(err))
	}
	return nil
}

// withEvents runs change and records events in one transaction.
func (db *DB) withEvents(ctx context.Context, events []*store.Event, change func(*sql.Tx) error) error {
	tx, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	if len(events) > 0 {
		if err := db.lockEvents(ctx, tx); err != nil {
			return err
		}
	}
	if err := change(tx); err != nil {
		return err
	}
	if err := db.insertEvents(ctx, tx, events); err != nil {
		return err
	}
	return tx.Commit()
}

// eventsLockID is the PostgreSQL advisory lock that orders event inserts.
const eventsLockID = 0x676f64776974 // "godwit"

// insertEvents records team events in tx. The feed and webhooks read events
// in seq order from a cursor, so seq must follow commit order: on
// PostgreSQL, where transactions commit concurrently, a transaction-scoped
// advisory lock makes the transactions that record events take their seq
// values and commit one at a time (SQLite has one writer anyway).
//
// A transaction that may record events takes the lock first (lockEvents),
// before its other writes: taken later, after a row lock, two transactions
// could wait for each other.
func (db *DB) insertEvents(ctx context.Context, tx *sql.Tx, events []*store.Event) error {
	if len(events) == 0 {
		return nil
	}
	if err := db.lockEvents(ctx, tx); err != nil { // held already: advisory locks stack
		return err
	}
	rows := make([][]any, len(events))
	for i, e := range events {
		rows[i] = []any{e.ID, e.TeamID, e.Type, micros(e.CreatedAt), string(e.Data)}
	}
	if err := db.insertRows(ctx, tx, "events", "id, team_id, type, created_at, data", rows); err != nil {
		return fmt.Errorf("record events: %w", err)
	}
	return db.fanOut(ctx, tx, events)
}

// lockEvents takes the events lock for tx (PostgreSQL; a no-op on SQLite).
func (db *DB) lockEvents(ctx context.Context, tx *sql.Tx) error {
	if db.dialect != Postgres {
		return nil
	}
	if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock($1)`, eventsLockID); err != nil {
		return fmt.Errorf("record events: lock: %w", err)
	}
	return nil
}

// ListEvents implements store.Store.
func (db *DB) ListEvents(ctx context.Context, teamID, after string, limit int) ([]*store.Event, error) {
	query := `SELECT id, team_id, type, created_at, data FROM events WHERE team_id = ? ORDER BY seq LIMIT ?`
	args := []any{teamID, limit}
	if after != "" {
		query = `SELECT id, team_id, type, created_at, data FROM events WHERE team_id = ?
			AND seq > (SELECT seq FROM events WHERE team_id = ? AND id = ?) ORDER BY seq LIMIT ?`
		args = []any{teamID, teamID, after, limit}
	}
	if after != "" {
		var one int
		err := db.r.QueryRowContext(ctx, db.q(`SELECT 1 FROM events WHERE team_id = ? AND id = ?`), teamID, after).Scan(&one)
		if err != nil {
			return nil, interpretError(err)
		}
	}
	rows, err := db.r.QueryContext(ctx, db.q(query), args...)
	if err != nil {
		return nil, fmt.Errorf("list events: %w", interpretError(err))
	}
	defer rows.Close()
	var out []*store.Event
	for rows.Next() {
		var e store.Event
		var created int64
		var data string
		if err := rows.Scan(&e.ID, &e.TeamID, &e.Type, &created, &data); err != nil {
			return nil, fmt.Errorf("list events: %w", err)
		}
		e.CreatedAt, e.Data = fromMicros(created), []byte(data)
		out = append(out, &e)
	}
	return out, rows.Err()
}

func scanDomain(row interface{ Scan(...any) error }) (*store.Domain, error) {
	var d store.Domain
	var open, click, rejectDMARC int
	var status string
	var created, updated int64
	var started, next sql.NullInt64
	var checks sql.NullString
	var pausedAt sql.NullInt64
	var pauseReason string
	if err := row.Scan(&d.ID, &d.TeamID, &d.Name, &d.Region, &d.ReturnPath, &d.Status, &open, &click, &d.TLS, &d.Sending, &d.Receiving,
		&d.TrackingSubdomain, &d.DKIMSelector, &d.DKIMKey, &d.DKIMEd25519Key, &status, &created, &updated, &started, &next,
		&d.FailureReason, &checks, &rejectDMARC, &pausedAt, &pauseReason); err != nil {
		return nil, interpretError(err)
	}
	if pausedAt.Valid {
		d.SendingPause = &store.SendingPause{Reason: pauseReason, At: fromMicros(pausedAt.Int64)}
	}
	d.OpenTracking, d.ClickTracking, d.RejectDMARCFailures = open != 0, click != 0, rejectDMARC != 0
	d.CreatedAt, d.UpdatedAt = fromMicros(created), fromMicros(updated)
	d.VerifyStartedAt, d.NextCheckAt = timePtr(started), timePtr(next)
	if err := json.Unmarshal([]byte(status), &d.RecordStatus); err != nil {
		return nil, fmt.Errorf("decode domain %s: %w", d.ID, err)
	}
	var err error
	if d.RecordChecks, err = parseRecordChecks(checks); err != nil {
		return nil, fmt.Errorf("decode domain %s: %w", d.ID, err)
	}
	return &d, nil
}

// GetDomain implements store.Store.
func (db *DB) GetDomain(ctx context.Context, teamID, id string) (*store.Domain, error) {
	return scanDomain(db.r.QueryRowContext(ctx, db.q(`SELECT `+domainColumns+` FROM domains WHERE team_id = ? AND id = ?`), teamID, id))
}

// GetDomainByName implements store.Store.
func (db *DB) GetDomainByName(ctx context.Context, teamID, name string) (*store.Domain, error) {
	stmt, err := db.prepared(ctx, db.r, `SELECT `+domainColumns+` FROM domains WHERE team_id = ? AND name = ?`)
	if err != nil {
		return nil, fmt.Errorf("get domain: %w", err)
	}
	return scanDomain(stmt.QueryRowContext(ctx, teamID, name))
}

// HeldDomain implements store.Store.
func (db *DB) HeldDomain(ctx context.Context, name string) (*store.Domain, error) {
	return scanDomain(db.r.QueryRowContext(ctx, db.q(`SELECT `+domainColumns+` FROM domains WHERE name = ? AND status IN `+heldStatuses), name))
}

// ListDomains implements store.Store.
func (db *DB) ListDomains(ctx context.Context, teamID string) ([]*store.Domain, error) {
	return db.queryDomains(ctx, `SELECT `+domainColumns+` FROM domains WHERE team_id = ? ORDER BY created_at DESC, id DESC`, teamID)
}

// DomainsDue implements store.Store.
func (db *DB) DomainsDue(ctx context.Context, now time.Time, limit int) ([]*store.Domain, error) {
	return db.queryDomains(ctx, `SELECT `+domainColumns+` FROM domains WHERE next_check_at IS NOT NULL AND next_check_at <= ?
		ORDER BY next_check_at, id LIMIT ?`, micros(now), limit)
}

func (db *DB) queryDomains(ctx context.Context, query string, args ...any) ([]*store.Domain, error) {
	rows, err := db.r.QueryContext(ctx, db.q(query), args...)
	if err != nil {
		return nil, fmt.Errorf("list domains: %w", interpretError(err))
	}
	defer rows.Close()
	var out []*store.Domain
	for rows.Next() {
		d, err := scanDomain(rows)
		if err != nil {
			return nil, fmt.Errorf("list domains: %w", err)
		}
		out = append(out, d)
	}
	return out, rows.Err()
}

const updateDomain = `UPDATE domains SET region = ?, return_path = ?, status = ?,
	open_tracking = ?, click_tracking = ?, tls = ?, sending = ?, receiving = ?, tracking_subdomain = ?, record_status = ?,
	updated_at = ?, verify_started_at = ?, next_check_at = ?, failure_reason = ?, record_checks = ?, reject_dmarc_failures = ?
	WHERE team_id = ? AND id = ?`

func updateDomainArgs(d *store.Domain) []any {
	return []any{d.Region, d.ReturnPath, d.Status, b2i(d.OpenTracking), b2i(d.ClickTracking), d.TLS, d.Sending, d.Receiving, d.TrackingSubdomain,
		jsonText(d.RecordStatus), micros(d.UpdatedAt), nullMicros(d.VerifyStartedAt), nullMicros(d.NextCheckAt), d.FailureReason,
		recordChecksText(d.RecordChecks), b2i(d.RejectDMARCFailures), d.TeamID, d.ID}
}

// recordCheck is the stored form of a store.RecordCheck.
type recordCheck struct {
	Answer    []string `json:"answer,omitempty"`
	Omitted   int      `json:"omitted,omitempty"`
	Error     string   `json:"error,omitempty"`
	CheckedAt int64    `json:"checked_at"` // microseconds
}

// recordChecksText is the record_checks column: JSON by record kind, NULL
// for none.
func recordChecksText(checks map[string]store.RecordCheck) sql.NullString {
	if len(checks) == 0 {
		return sql.NullString{}
	}
	m := make(map[string]recordCheck, len(checks))
	for kind, c := range checks {
		m[kind] = recordCheck{Answer: c.Answer, Omitted: c.Omitted, Error: c.Error, CheckedAt: micros(c.CheckedAt)}
	}
	return sql.NullString{String: jsonText(m), Valid: true}
}

func parseRecordChecks(col sql.NullString) (map[string]store.RecordCheck, error) {
	if !col.Valid {
		return nil, nil
	}
	var m map[string]recordCheck
	if err := json.Unmarshal([]byte(col.String), &m); err != nil {
		return nil, fmt.Errorf("record checks: %w", err)
	}
	out := make(map[string]store.RecordCheck, len(m))
	for kind, c := range m {
		out[kind] = store.RecordCheck{Answer: c.Answer, Omitted: c.Omitted, Error: c.Error, CheckedAt: fromMicros(c.CheckedAt)}
	}
	return out, nil
}

// UpdateDomain implements store.Store. A second held copy of a name is
// refused by the partial unique index domains_verified_name.
func (db *DB) UpdateDomain(ctx context.Context, d *store.Domain, events ...*store.Event) error {
	defer db.receivingChanged()
	return db.changeDomain(ctx, "update domain", events, updateDomain, updateDomainArgs(d)...)
}

// VerifyDomain implements store.Store. The unique index makes the first
// commit win; the events lock (taken first, as CreateDomain does) orders
// it against domains being added.
func (db *DB) VerifyDomain(ctx context.Context, d *store.Domain, lose func(*store.Domain) (*store.Event, error),
	events ...*store.Event) ([]*store.Domain, error) {
	defer db.receivingChanged()
	var lost []*store.Domain
	err := db.withEvents(ctx, nil, func(tx *sql.Tx) error {
		if err := db.lockEvents(ctx, tx); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, db.q(updateDomain), updateDomainArgs(d)...)
		if err != nil {
			return err
		}
		if err := mustAffect(res); err != nil {
			return err
		}
		rows, err := tx.QueryContext(ctx, db.q(`SELECT `+domainColumns+` FROM domains WHERE name = ? AND team_id <> ? AND status <> ?
			ORDER BY created_at, id`), d.Name, d.TeamID, store.DomainFailed)
		if err != nil {
			return err
		}
		for rows.Next() {
			c, err := scanDomain(rows)
			if err != nil {
				rows.Close()
				return err
			}
			lost = append(lost, c)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		for _, c := range lost {
			ev, err := lose(c)
			if err != nil {
				return err
			}
			if ev != nil {
				events = append(events, ev)
			}
			if _, err := tx.ExecContext(ctx, db.q(updateDomain), updateDomainArgs(c)...); err != nil {
				return err
			}
		}
		return db.insertEvents(ctx, tx, events)
	})
	if isUniqueViolation(err) {
		return nil, fmt.Errorf("verify domain: %w", store.ErrConflict)
	}
	if err != nil {
		return nil, fmt.Errorf("verify domain: %w", interpretError(err))
	}
	return lost, nil
}

// DeleteDomain implements store.Store.
// Its open claims become canceled in the same transaction.
func (db *DB) DeleteDomain(ctx context.Context, teamID, id string, events ...*store.Event) error {
	defer db.receivingChanged()
	err := db.withEvents(ctx, events, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, db.q(`DELETE FROM domains WHERE team_id = ? AND id = ?`), teamID, id)
		if err != nil {
			return err
		}
		if err := mustAffect(res); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, db.q(`UPDATE domain_claims SET status = ?, next_check_at = NULL, updated_at = ?
			WHERE team_id = ? AND domain_id = ? AND status IN `+openClaimStatuses), store.ClaimCanceled, micros(db.now()), teamID, id)
		return err
	})
	if err != nil {
		return fmt.Errorf("delete domain: %w", interpretError(err))
	}
	return nil
}

// changeDomain runs one statement that must touch a row (else
// store.ErrNotFound) and records events, in one transaction.
func (db *DB) changeDomain(ctx context.Context, what string, events []*store.Event, query string, args ...any) error {
	err := db.withEvents(ctx, events, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, db.q(query), args...)
		if err != nil {
			return err
		}
		return mustAffect(res)
	})
	if isUniqueViolation(err) {
		return fmt.Errorf("%s: %w", what, store.ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("%s: %w", what, interpretError(err))
	}
	return nil
}

// OnReceivingChange registers f, called after every write through this DB
// that may change which mail the MX takes and where it goes: a domain
// created, updated, verified or deleted, a receiving rule or a domain's
// receiving settings changed (whether or not it committed). It lets a
// cache of these (internal/inbound's) drop what it holds at once. Writes
// by other nodes sharing the database are not seen: such a cache must also
// expire.
func (db *DB) OnReceivingChange(f func()) {
	db.hooksMu.Lock()
	db.receivingChange = append(db.receivingChange, f)
	db.hooksMu.Unlock()
}

func (db *DB) receivingChanged() {
	db.hooksMu.Lock()
	hooks := db.receivingChange
	db.hooksMu.Unlock()
	for _, f := range hooks {
		f()
	}
}

// insertDomain inserts d: the one INSERT of a domain row (CreateDomain and
// a claim's placeholder).
func (db *DB) insertDomain(ctx context.Context, tx *sql.Tx, d *store.Domain) error {
	_, err := tx.ExecContext(ctx, db.q(`INSERT INTO domains (`+domainColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
		d.ID, d.TeamID, d.Name, d.Region, d.ReturnPath, d.Status, b2i(d.OpenTracking), b2i(d.ClickTracking), d.TLS, d.Sending, d.Receiving,
		d.TrackingSubdomain, d.DKIMSelector, d.DKIMKey, d.DKIMEd25519Key, jsonText(d.RecordStatus), micros(d.CreatedAt), micros(d.UpdatedAt),
		nullMicros(d.VerifyStartedAt), nullMicros(d.NextCheckAt), d.FailureReason, recordChecksText(d.RecordChecks), b2i(d.RejectDMARCFailures),
		pauseAt(d.SendingPause), pauseReason(d.SendingPause))
	return err
}
