package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/godwit/godwit/internal/store"
)

// GetEmailForDelivery implements store.Store.
func (db *DB) GetEmailForDelivery(ctx context.Context, id string) (*store.Email, error) {
	es, err := db.GetEmailsForDelivery(ctx, []string{id})
	if err != nil {
		return nil, err
	}
	if len(es) == 0 {
		return nil, fmt.Errorf("get email: %w", store.ErrNotFound)
	}
	return es[0], nil
}

// GetEmailsForDelivery implements store.Store: one query for the emails
// (and one more for the attachments of those that have some), so that a
// delivery job reads its emails together rather than a round trip each.
func (db *DB) GetEmailsForDelivery(ctx context.Context, ids []string) ([]*store.Email, error) {
	out := make([]*store.Email, 0, len(ids))
	var withAtts []*store.Email
	// The worker's reads are prepared (SQLite parses an unprepared statement
	// on every call, which showed in delivery profiles), in byIDs' few
	// shapes. With whether each has attachments: most have none.
	err := byIDs(ids, func(n int, ids []string) error {
		get, err := db.prepared(ctx, db.r, `SELECT `+emailSelectColumns+`,
			EXISTS (SELECT 1 FROM email_attachments a WHERE a.email_id = emails.id) FROM emails `+emailBodiesJoin+`
			WHERE id IN (`+placeholders(n)+`)`)
		if err != nil {
			return err
		}
		args := make([]any, n)
		for i, id := range ids {
			args[i] = id
		}
		rows, err := get.QueryContext(ctx, args...)
		if err != nil {
			return interpretError(err)
		}
		defer rows.Close()
		for rows.Next() {
			var hasAtts bool
			e, _, err := scanEmail(extraScan{rows, []any{&hasAtts}})
			if err != nil {
				return err
			}
			out = append(out, e)
			if hasAtts {
				withAtts = append(withAtts, e)
			}
		}
		return interpretError(rows.Err())
	})
	if err != nil {
		return nil, fmt.Errorf("get emails: %w", err)
	}
	for _, e := range withAtts {
		if err := db.emailAttachments(ctx, e); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// emailAttachments reads e's attachments, content included.
func (db *DB) emailAttachments(ctx context.Context, e *store.Email) error {
	atts, err := db.prepared(ctx, db.r, `SELECT filename, content_type, content_id, path, content
		FROM email_attachments WHERE email_id = ? ORDER BY idx`)
	if err != nil {
		return fmt.Errorf("get attachments: %w", err)
	}
	rows, err := atts.QueryContext(ctx, e.ID)
	if err != nil {
		return fmt.Errorf("get attachments: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var a store.Attachment
		if err := rows.Scan(&a.Filename, &a.ContentType, &a.ContentID, &a.Path, &a.Content); err != nil {
			return fmt.Errorf("get attachments: %w", err)
		}
		e.Attachments = append(e.Attachments, a)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("get attachments: %w", err)
	}
	return nil
}

// extraScan scans a row's columns into the caller's destinations and then
// its last ones into extra.
type extraScan struct {
	row   interface{ Scan(...any) error }
	extra []any
}

func (s extraScan) Scan(dest ...any) error { return s.row.Scan(append(dest, s.extra...)...) }

// GetEmailForEvent implements store.Store.
func (db *DB) GetEmailForEvent(ctx context.Context, id string) (*store.Email, error) {
	return db.emailByID(ctx, id)
}

// emailByID reads an email of any team without its attachments: the one
// query behind every email getter (prepared: SQLite parses an unprepared
// statement on every call).
func (db *DB) emailByID(ctx context.Context, id string) (*store.Email, error) {
	get, err := db.prepared(ctx, db.r, `SELECT `+emailSelectColumns+` FROM emails `+emailBodiesJoin+` WHERE id = ?`)
	if err != nil {
		return nil, fmt.Errorf("get email: %w", err)
	}
	e, _, err := scanEmail(get.QueryRowContext(ctx, id))
	return e, err
}

// ClaimScheduled implements store.Store.
func (db *DB) ClaimScheduled(ctx context.Context, id string, at time.Time) error {
	res, err := db.w.ExecContext(ctx, db.q(`UPDATE emails SET last_event = ?, updated_at = ? WHERE id = ? AND last_event = ?`),
		store.EventQueued, micros(at), id, store.EventScheduled)
	if err != nil {
		return fmt.Errorf("claim scheduled email: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("claim scheduled email: %w", err)
	} else if n == 0 {
		return store.ErrNotScheduled
	}
	return nil
}

type outcomeReq struct {
	o    *store.DeliveryOutcome
	err  error
	done chan struct{}
}

// RecordDelivery implements store.Store. Like AcceptEmails, the outcome is
// committed by a committer goroutine together with the others waiting at
// that moment: a commit costs a flush, and workers finish many emails at once.
//
// An outcome is a fact about messages that may already have left: it is
// recorded even when ctx ends first (a job's timeout, a shutdown's cancel),
// because a result given up here is a message sent again by the next run.
func (db *DB) RecordDelivery(ctx context.Context, o *store.DeliveryOutcome) error {
	req := &outcomeReq{o: o, done: make(chan struct{})}
	if err := submit(db, context.WithoutCancel(ctx), db.outcomes, req); err != nil {
		return err
	}
	<-req.done
	return req.err
}

// maxGroupOutcomes bounds the outcomes of one commit.
const maxGroupOutcomes = 256

func (db *DB) outcomeLoop() {
	defer db.wg.Done()
	group := make([]*outcomeReq, 0, maxGroupOutcomes)
	for first := range db.outcomes {
		group = append(group[:0], first)
	gather:
		for len(group) < maxGroupOutcomes {
			select {
			case r, ok := <-db.outcomes:
				if !ok {
					break gather
				}
				group = append(group, r)
			default:
				break gather
			}
		}
		db.commitOutcomeGroup(group)
		for _, r := range group {
			close(r.done)
		}
	}
}

// commitOutcomeGroup commits every outcome of group in one transaction, or,
// if that transaction fails, each in its own: one bad outcome must not
// fail the others.
func (db *DB) commitOutcomeGroup(group []*outcomeReq) {
	if err := db.commitOutcomes(group); err != nil && len(group) > 1 {
		for _, r := range group {
			r.err = db.commitOutcomes([]*outcomeReq{r})
		}
	} else {
		for _, r := range group {
			r.err = err
		}
	}
}

func (db *DB) commitOutcomes(group []*outcomeReq) (err error) {
	if db.observe != nil {
		start := time.Now()
		defer func() {
			db.observe(CommitStats{Kind: "outcomes", Duration: time.Since(start), Requests: len(group), Failed: err != nil})
		}()
	}
	return db.writeTx("record delivery", outcomeShard, func(ctx context.Context, tx *sql.Tx, metrics metricsDeltas) error {
		return db.outcomesTx(ctx, tx, metrics, group)
	})
}

// outcomesTx writes group's outcomes in tx and adds their counts to
// metrics (for the caller to upsert last).
func (db *DB) outcomesTx(ctx context.Context, tx *sql.Tx, metrics metricsDeltas, group []*outcomeReq) error {
	// Outcomes record events (and may suppress): take the events lock first.
	if err := db.lockEvents(ctx, tx); err != nil {
		return err
	}
	var attempts, events [][]any
	for _, r := range group {
		o := r.o
		for _, a := range o.Attempts {
			attempts = append(attempts, []any{o.EmailID, o.TeamID, a.Recipient, a.Outcome, a.Host, a.Code, a.Enhanced, a.Response, micros(a.CreatedAt),
				a.TLSVersion, a.TLSCipher, a.TLSPolicy})
		}
		for _, ev := range o.Events {
			var data sql.NullString
			if len(ev.Data) > 0 {
				data = sql.NullString{String: string(ev.Data), Valid: true}
			}
			events = append(events, []any{o.EmailID, o.TeamID, ev.Type, micros(ev.CreatedAt), data})
		}
	}
	// Counted before the events are inserted: a first open is told from earlier ones.
	if err := db.addOutcomes(ctx, tx, metrics, group); err != nil {
		return fmt.Errorf("record delivery: %w", err)
	}
	if err := db.insertRows(ctx, tx, "delivery_attempts", attemptInsertColumns, attempts); err != nil {
		return fmt.Errorf("record delivery: insert attempts: %w", err)
	}
	if err := db.insertRows(ctx, tx, "email_events", "email_id, team_id, type, created_at, data", events); err != nil {
		return fmt.Errorf("record delivery: insert events: %w", err)
	}
	if err := db.updateLastEvents(ctx, tx, group); err != nil {
		return fmt.Errorf("record delivery: %w", err)
	}
	var retries []DeliveryRetry
	var teamEvents []*store.Event
	for _, r := range group {
		teamEvents = append(teamEvents, r.o.TeamEvents...)
		if err := db.recordDeliveryTx(ctx, tx, r.o); err != nil {
			return fmt.Errorf("record delivery of %s: %w", r.o.EmailID, err)
		}
		if r.o.RetryAt != nil {
			retries = append(retries, DeliveryRetry{EmailID: r.o.EmailID, TeamID: r.o.TeamID, At: *r.o.RetryAt})
		}
	}
	if err := db.insertEvents(ctx, tx, teamEvents); err != nil {
		return fmt.Errorf("record delivery: %w", err)
	}
	if len(retries) > 0 {
		if err := db.outbox.RetryDeliveries(ctx, tx, retries); err != nil {
			return fmt.Errorf("record delivery: enqueue retries: %w", err)
		}
	}
	return nil
}

// updateLastEvents moves each email of group to its outcome's last event,
// with one UPDATE per last event (and per maxRowsPerInsert emails) rather
// than one per outcome: a group's outcomes mostly share theirs (delivered).
// An email with two outcomes in the group (a job run twice) gets the later
// one's, as updates made one by one in the group's order would leave it.
func (db *DB) updateLastEvents(ctx context.Context, tx *sql.Tx, group []*outcomeReq) error {
	final := make(map[string]string, len(group)) // email → its last event
	var order []string                           // the emails, first seen first
	for _, r := range group {
		if r.o.LastEvent == "" {
			continue
		}
		if _, seen := final[r.o.EmailID]; !seen {
			order = append(order, r.o.EmailID)
		}
		final[r.o.EmailID] = r.o.LastEvent
	}
	byEvent := map[string][]any{}
	var events []string
	for _, id := range order {
		ev := final[id]
		if _, ok := byEvent[ev]; !ok {
			events = append(events, ev)
		}
		byEvent[ev] = append(byEvent[ev], id)
	}
	now := micros(db.now())
	for _, ev := range events {
		ids := byEvent[ev]
		for len(ids) > 0 {
			n := maxRowsPerInsert
			for n > len(ids) {
				n /= 2
			}
			args := append([]any{ev, now}, ids[:n]...)
			if _, err := db.txExec(ctx, tx, updateLastEventsSQL(n), args...); err != nil {
				return fmt.Errorf("update emails: %w", err)
			}
			ids = ids[n:]
		}
	}
	return nil
}

// updateLastEventsSQL sets the last event of n emails.
func updateLastEventsSQL(n int) string {
	return `UPDATE emails SET last_event = ?, updated_at = ? WHERE id IN (?` + strings.Repeat(", ?", n-1) + `)`
}

// recordDeliveryTx writes what of o is its own (the last event is
// updateLastEvents').
func (db *DB) recordDeliveryTx(ctx context.Context, tx *sql.Tx, o *store.DeliveryOutcome) error {
	if o.RetryAt != nil {
		// The queue view shows when the retry enqueued with it is due.
		if _, err := tx.ExecContext(ctx, db.q(`UPDATE emails SET next_attempt_at = ? WHERE id = ?`), micros(*o.RetryAt), o.EmailID); err != nil {
			return fmt.Errorf("update email: next attempt: %w", err)
		}
	}
	var added []*store.Suppression
	origin := o.SuppressOrigin
	if origin == "" {
		origin = store.SuppressionBounce
	}
	for _, addr := range o.Suppress {
		s := &store.Suppression{ID: store.NewID(), TeamID: o.TeamID, Email: strings.ToLower(addr), Origin: origin,
			SourceID: o.EmailID, CreatedAt: db.now().UTC()}
		res, err := tx.ExecContext(ctx, db.q(`INSERT INTO suppressions (id, team_id, email, origin, source_id, created_at)
			VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (team_id, email) DO NOTHING`),
			s.ID, s.TeamID, s.Email, s.Origin, s.SourceID, micros(s.CreatedAt))
		if err != nil {
			return fmt.Errorf("suppress: %w", err)
		}
		if n, err := res.RowsAffected(); err != nil {
			return fmt.Errorf("suppress: %w", err)
		} else if n == 1 {
			added = append(added, s)
		}
	}
	if err := db.suppressionEvents(ctx, tx, o.SuppressionAdded, added); err != nil {
		return fmt.Errorf("suppress: %w", err)
	}
	if o.Captured != nil {
		if _, err := tx.ExecContext(ctx, db.q(`INSERT INTO captured_messages (email_id, team_id, data, created_at) VALUES (?, ?, ?, ?)
			ON CONFLICT (email_id) DO UPDATE SET data = excluded.data, created_at = excluded.created_at`),
			o.EmailID, o.TeamID, o.Captured, micros(db.now())); err != nil {
			return fmt.Errorf("store captured message: %w", err)
		}
	}
	return nil
}

const attemptInsertColumns = "email_id, team_id, recipient, outcome, host, code, enhanced, response, created_at, tls_version, tls_cipher, tls_policy"

// attemptInsertArity is how many columns attemptInsertColumns lists.
const attemptInsertArity = 12

// attemptSelectColumns are the columns scanAttempt reads, in its order.
const attemptSelectColumns = "recipient, outcome, host, code, enhanced, response, created_at, tls_version, tls_cipher, tls_policy"

// scanAttempt reads attemptSelectColumns into a.
func scanAttempt(scan func(dest ...any) error, a *store.DeliveryAttempt) error {
	var at int64
	if err := scan(&a.Recipient, &a.Outcome, &a.Host, &a.Code, &a.Enhanced, &a.Response, &at,
		&a.TLSVersion, &a.TLSCipher, &a.TLSPolicy); err != nil {
		return err
	}
	a.CreatedAt = fromMicros(at)
	return nil
}

// ListDeliveryAttempts implements store.Store.
func (db *DB) ListDeliveryAttempts(ctx context.Context, teamID, emailID string) ([]*store.DeliveryAttempt, error) {
	if err := db.emailExists(ctx, teamID, emailID); err != nil {
		return nil, err
	}
	stmt, err := db.prepared(ctx, db.r, `SELECT `+attemptSelectColumns+`
		FROM delivery_attempts WHERE email_id = ? AND team_id = ? ORDER BY seq`)
	if err != nil {
		return nil, fmt.Errorf("list attempts: %w", err)
	}
	rows, err := stmt.QueryContext(ctx, emailID, teamID)
	if err != nil {
		return nil, fmt.Errorf("list attempts: %w", err)
	}
	defer rows.Close()
	var out []*store.DeliveryAttempt
	for rows.Next() {
		a := &store.DeliveryAttempt{EmailID: emailID, TeamID: teamID}
		if err := scanAttempt(rows.Scan, a); err != nil {
			return nil, fmt.Errorf("list attempts: %w", err)
		}
		out = append(out, a)
	}
	return out, rows.Err()
}

// ListEmailEvents implements store.Store.
func (db *DB) ListEmailEvents(ctx context.Context, teamID, emailID string) ([]*store.EmailEvent, error) {
	if err := db.emailExists(ctx, teamID, emailID); err != nil {
		return nil, err
	}
	// By email alone, its team checked above: with "AND team_id = ?"
	// SQLite read the team's events through email_events_team (team_id,
	// seq) for the ORDER BY instead of the email's few.
	rows, err := db.r.QueryContext(ctx, db.q(`SELECT type, created_at, data FROM email_events
		WHERE email_id = ? ORDER BY seq`), emailID)
	if err != nil {
		return nil, fmt.Errorf("list email events: %w", err)
	}
	defer rows.Close()
	var out []*store.EmailEvent
	for rows.Next() {
		ev := &store.EmailEvent{}
		var at int64
		var data sql.NullString
		if err := rows.Scan(&ev.Type, &at, &data); err != nil {
			return nil, fmt.Errorf("list email events: %w", err)
		}
		ev.CreatedAt = fromMicros(at)
		if data.Valid {
			ev.Data = []byte(data.String)
		}
		out = append(out, ev)
	}
	return out, rows.Err()
}

// GetCapturedMessage implements store.Store.
func (db *DB) GetCapturedMessage(ctx context.Context, teamID, emailID string) ([]byte, error) {
	var data []byte
	err := db.r.QueryRowContext(ctx, db.q(`SELECT data FROM captured_messages WHERE email_id = ? AND team_id = ?`), emailID, teamID).Scan(&data)
	if err != nil {
		return nil, interpretError(err)
	}
	return data, nil
}

func (db *DB) emailExists(ctx context.Context, teamID, id string) error {
	// By id alone, the team checked here: with "team_id = ? AND id = ?"
	// PostgreSQL without statistics may plan a scan of the team's emails.
	stmt, err := db.prepared(ctx, db.r, `SELECT team_id FROM emails WHERE id = ?`)
	if err != nil {
		return err
	}
	var owner string
	if err := stmt.QueryRowContext(ctx, id).Scan(&owner); err != nil {
		return interpretError(err)
	}
	if owner != teamID {
		return store.ErrNotFound
	}
	return nil
}
