package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/godwit/godwit/internal/store"
)

type acceptReq struct {
	a *store.Accept
	// rows and events are the INSERT arguments of a.Emails, built by the
	// caller's goroutine (encoding, compression) so the committer only writes.
	rows, bodies, events [][]any
	// terms are the emails' search terms (termArgs).
	terms [][]any
	// stepEvents are the events of a.Step's contact change to record (set
	// by the transaction).
	stepEvents []*store.Event
	err        error
	done       chan struct{}
}

// AcceptEmails implements store.Store. The request is committed by a
// committer goroutine, possibly together with others (see the package doc).
func (db *DB) AcceptEmails(ctx context.Context, a *store.Accept) error {
	req := &acceptReq{a: a, done: make(chan struct{})}
	req.rows, req.bodies, req.events = db.insertArgs(a.Emails)
	req.terms = termArgs(a.Emails)
	if err := submit(db, ctx, db.accepts, req); err != nil {
		return err
	}
	// Once handed over, the request is committed or fails on its own; the
	// caller waits for the outcome even if its context ends, so a 200 is
	// never sent for something that might still roll back, and an error is
	// never sent for something that committed.
	<-req.done
	return req.err
}

// submit hands req to the committers reading ch, unless the store is closed
// or ctx ends first.
func submit[T any](db *DB, ctx context.Context, ch chan<- T, req T) error {
	db.closeMu.RLock()
	defer db.closeMu.RUnlock()
	if db.closed {
		return store.ErrClosed
	}
	select {
	case ch <- req:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// maxGroupEmails bounds the emails of one commit (a group closes once it
// reaches this), which bounds the memory and the WAL of a transaction.
const maxGroupEmails = 1000

// acceptShard is the email metrics shard of the i-th accept committer
// (metrics.go; outcomes add to outcomeShard).
func acceptShard(i int) int64 { return int64(i) + 1 }

func (db *DB) commitLoop(shard int64) {
	defer db.wg.Done()
	group := make([]*acceptReq, 0, db.maxGroup)
	for first := range db.accepts {
		group = append(group[:0], first)
		emails := len(first.a.Emails)
	gather:
		for len(group) < db.maxGroup && emails < maxGroupEmails {
			select {
			case r, ok := <-db.accepts:
				if !ok {
					break gather
				}
				group = append(group, r)
				emails += len(r.a.Emails)
			default:
				break gather
			}
		}
		db.commitGroup(group, shard)
		for _, r := range group {
			close(r.done)
		}
	}
}

// commitGroup commits every request of group in one transaction, or, if that
// transaction fails, each request in its own.
func (db *DB) commitGroup(group []*acceptReq, shard int64) {
	err := db.commitTx(group, shard)
	if err == nil || len(group) == 1 {
		for _, r := range group {
			if r.err == nil {
				r.err = err
			}
		}
		return
	}
	for _, r := range group {
		r.err = nil
		if err := db.commitTx([]*acceptReq{r}, shard); err != nil {
			r.err = err
		}
	}
}

func (db *DB) commitTx(group []*acceptReq, shard int64) (err error) {
	if db.observe != nil {
		start := time.Now()
		defer func() {
			emails := 0
			for _, r := range group {
				emails += len(r.a.Emails)
			}
			db.observe(CommitStats{Kind: "accept", Duration: time.Since(start), Requests: len(group), Emails: emails, Failed: err != nil})
		}()
	}
	return db.writeTx("accept emails", shard, func(ctx context.Context, tx *sql.Tx, metrics metricsDeltas) error {
		return db.acceptTx(ctx, tx, metrics, group)
	})
}

// writeTx runs body in one transaction on the writing connection, upserts
// the email metrics body added to (last, so that PostgreSQL holds the
// rollup's row locks only until the commit) in shard, commits, and wakes the
// job fetchers for the jobs body enqueued. what names the work in errors.
func (db *DB) writeTx(what string, shard int64, body func(ctx context.Context, tx *sql.Tx, metrics metricsDeltas) error) error {
	// A background context: work handed to a committer is not abandoned
	// half-way because one caller went away.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	tx, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("%s: begin: %w", what, err)
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	ctx, fresh := db.withHandoff(ctx)
	metrics := metricsDeltas{}
	if err := body(ctx, tx, metrics); err != nil {
		return err
	}
	if err := metrics.upsert(ctx, db, tx, shard); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("%s: commit: %w", what, err)
	}
	db.jobsCommitted() // deliveries, webhook messages
	db.handOff(fresh)
	return nil
}

// acceptTx writes group's requests in tx and adds their counts to metrics
// (for the caller to upsert last). A request refused by its idempotency key
// or broadcast state gets its error and is left out.
func (db *DB) acceptTx(ctx context.Context, tx *sql.Tx, metrics metricsDeltas, group []*acceptReq) error {
	for _, r := range group {
		// Scheduled emails record email.scheduled, contact steps theirs.
		if len(r.a.Events) > 0 || (r.a.Step != nil && r.a.Step.Contact != nil && len(r.a.Step.Contact.Events) > 0) {
			if err := db.lockEvents(ctx, tx); err != nil {
				return err
			}
			break
		}
	}
	now := db.now()
	var rows, bodies, events, terms [][]any
	var accepted []*acceptReq
	for _, r := range group {
		r.err = nil
		if idem := r.a.Idempotency; idem != nil {
			ok, err := db.claimIdempotency(ctx, tx, idem, now.Add(-r.a.IdempotencyTTL))
			if err != nil {
				return err
			}
			if !ok {
				r.err = store.ErrIdempotencyKeyTaken
				continue
			}
		}
		if bp := r.a.Broadcast; bp != nil {
			ok, err := db.advanceBroadcast(ctx, tx, bp)
			if err != nil {
				return err
			}
			if !ok {
				r.err = store.ErrBroadcastState
				continue
			}
		}
		r.stepEvents = nil
		if st := r.a.Step; st != nil {
			ok, events, err := db.advanceRunTx(ctx, tx, st)
			if err != nil {
				return err
			}
			if !ok {
				r.err = store.ErrStale
				continue
			}
			r.stepEvents = events
		}
		rows = append(rows, r.rows...)
		bodies = append(bodies, r.bodies...)
		events = append(events, r.events...)
		terms = append(terms, r.terms...)
		accepted = append(accepted, r)
	}
	if err := db.insertRows(ctx, tx, "emails", emailInsertColumns, rows); err != nil {
		return fmt.Errorf("accept emails: insert: %w", err)
	}
	if err := db.insertChunks(ctx, tx, insertBodiesSQL, bodies); err != nil {
		return fmt.Errorf("accept emails: insert bodies: %w", err)
	}
	if err := db.insertRows(ctx, tx, "email_events", eventInsertColumns, events); err != nil {
		return fmt.Errorf("accept emails: insert events: %w", err)
	}
	if err := db.insertTerms(ctx, tx, terms); err != nil {
		return err
	}
	// The emails of the whole group share their delivery jobs (up to the
	// outbox's emails per job): one job per request made single sends cost
	// a job insert, a fetch and a completion each, all on the writing
	// connection the accepts wait for.
	var deliver []*store.Email
	for _, r := range accepted {
		if err := db.insertAttachments(ctx, tx, r.a.Emails); err != nil {
			return err
		}
		deliver = append(deliver, r.a.Emails...)
		if err := db.insertEvents(ctx, tx, r.a.Events); err != nil {
			return err
		}
		if err := db.insertEvents(ctx, tx, r.stepEvents); err != nil {
			return err
		}
		if err := db.startRunsTx(ctx, tx, r.a.Runs); err != nil {
			return err
		}
	}
	if err := db.deliverTx(ctx, tx, deliver); err != nil {
		return err
	}
	// Upserted last by the caller, so that PostgreSQL holds the rollup's
	// row locks only until the commit.
	for _, r := range accepted {
		metrics.addAccepted(r.a.Emails)
	}
	return nil
}

const claimIdempotencySQL = `INSERT INTO idempotency_keys (team_id, idem_key, endpoint, request_hash, response, created_at)
	VALUES (?, ?, ?, ?, ?, ?)
	ON CONFLICT (team_id, idem_key) DO UPDATE SET endpoint = excluded.endpoint, request_hash = excluded.request_hash,
		response = excluded.response, created_at = excluded.created_at
	WHERE idempotency_keys.created_at < ?`

// claimIdempotency stores the record unless an unexpired one holds the key.
func (db *DB) claimIdempotency(ctx context.Context, tx *sql.Tx, idem *store.Idempotency, expiredBefore time.Time) (bool, error) {
	res, err := db.txExec(ctx, tx, claimIdempotencySQL, idem.TeamID, idem.Key, idem.Endpoint, idem.RequestHash, idem.Response, micros(idem.CreatedAt), micros(expiredBefore))
	if err != nil {
		return false, fmt.Errorf("accept emails: idempotency: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("accept emails: idempotency: %w", err)
	}
	return n > 0, nil
}

const emailInsertColumns = `id, team_id, created_at, updated_at, from_addr, to_addrs, cc_addrs, bcc_addrs, reply_to, subject,
	html_body, text_body, body_codec, headers, tags, template, topic_id, scheduled_at, last_event, broadcast_id,
	domain_id, domain_name`

const emailInsertArity = 22

// Emails are inserted with multi-row INSERTs of power-of-two sizes up to
// maxRowsPerInsert, so that a handful of statements, prepared once at open,
// covers every group size (SQLite would otherwise parse each statement on
// every commit). maxRowsPerInsert keeps every statement under both
// databases' limits on bound parameters.
const maxRowsPerInsert = 128

const eventInsertColumns = "email_id, team_id, type, created_at"

// writerStatements lists the statements the committers use.
func writerStatements() []string {
	qs := []string{claimIdempotencySQL, upsertMetricsSQL}
	for n := 1; n <= maxRowsPerInsert; n *= 2 {
		qs = append(qs, updateLastEventsSQL(n), multiInsert("emails", emailInsertColumns, emailInsertArity, n),
			multiInsert("email_events", eventInsertColumns, 4, n),
			multiInsert("email_events", "email_id, team_id, type, created_at, data", 5, n),
			multiInsert("delivery_attempts", attemptInsertColumns, attemptInsertArity, n),
			insertTermsSQL(n), insertBodiesSQL(n))
	}
	return qs
}

// prepareWriter prepares the committers' statements on the writer.
func (db *DB) prepareWriter(ctx context.Context) error {
	for _, q := range writerStatements() {
		if _, err := db.prepared(ctx, db.w, q); err != nil {
			return fmt.Errorf("prepare %.40q: %w", q, err)
		}
	}
	return nil
}

// txExec runs query in tx through its statement prepared at open, or
// unprepared when there is none. It never prepares on the pool: on SQLite
// the pool's single connection is the one tx holds.
func (db *DB) txExec(ctx context.Context, tx *sql.Tx, query string, args ...any) (sql.Result, error) {
	if s, ok := db.stmts.Load(stmtKey{db.w, query}); ok {
		return tx.StmtContext(ctx, s.(*sql.Stmt)).ExecContext(ctx, args...)
	}
	return tx.ExecContext(ctx, db.q(query), args...)
}

// insertArgs builds the INSERT arguments of emails, of their bodies
// (insertBodiesSQL) and of their first events. On SQLite the bodies go to
// email_bodies and the emails row leaves them NULL: every delivery outcome
// updates that row (last_event), and with the compressed bodies in it each
// update rewrote the 16 KiB page holding them, about four emails to a page
// (migration 00048). PostgreSQL keeps such values out of line on its own
// (TOAST), and a second table only cost it an insert and a join: there the
// bodies stay in the row, and bodies is empty.
func (db *DB) insertArgs(emails []*store.Email) (rows, bodies, events [][]any) {
	rows = make([][]any, len(emails))
	events = make([][]any, len(emails))
	for i, e := range emails {
		html, text, codec := db.encodeBodies(e.HTML, e.Text)
		if db.dialect == SQLite {
			bodies = append(bodies, []any{e.ID, html, text})
			html, text = nil, nil
		}
		rows[i] = []any{e.ID, e.TeamID, micros(e.CreatedAt), micros(e.CreatedAt), e.From,
			jsonText(e.To), jsonOrNull(e.Cc), jsonOrNull(e.Bcc), jsonOrNull(e.ReplyTo), e.Subject,
			html, text, codec, jsonOrNull(e.Headers), jsonOrNull(e.Tags), jsonOrNull(e.Template),
			e.TopicID, nullMicros(e.ScheduledAt), e.LastEvent, e.BroadcastID,
			sql.NullString{String: e.DomainID, Valid: e.DomainID != ""},
			sql.NullString{String: e.DomainName, Valid: e.DomainName != ""}}
		events[i] = []any{e.ID, e.TeamID, e.LastEvent, micros(e.CreatedAt)}
	}
	return rows, bodies, events
}

// insertRows inserts rows into table with multi-row INSERTs of power-of-two
// sizes (their statements are prepared at open).
func (db *DB) insertRows(ctx context.Context, tx *sql.Tx, table, columns string, rows [][]any) error {
	if len(rows) == 0 {
		return nil
	}
	arity := len(rows[0])
	return db.insertChunks(ctx, tx, func(n int) string { return multiInsert(table, columns, arity, n) }, rows)
}

// insertChunks writes rows with the statements sqlFor gives for n rows, n
// in power-of-two sizes up to maxRowsPerInsert (prepared at open).
func (db *DB) insertChunks(ctx context.Context, tx *sql.Tx, sqlFor func(n int) string, rows [][]any) error {
	for len(rows) > 0 {
		n := maxRowsPerInsert
		for n > len(rows) {
			n /= 2
		}
		args := make([]any, 0, n*len(rows[0]))
		for _, r := range rows[:n] {
			args = append(args, r...)
		}
		if _, err := db.txExec(ctx, tx, sqlFor(n), args...); err != nil {
			return err
		}
		rows = rows[n:]
	}
	return nil
}

func (db *DB) insertAttachments(ctx context.Context, tx *sql.Tx, emails []*store.Email) error {
	for _, e := range emails {
		for i, a := range e.Attachments {
			if _, err := tx.ExecContext(ctx, db.q(`INSERT INTO email_attachments (email_id, idx, filename, content_type, content_id, path, content)
				VALUES (?, ?, ?, ?, ?, ?, ?)`), e.ID, i, a.Filename, a.ContentType, a.ContentID, a.Path, a.Content); err != nil {
				return fmt.Errorf("accept emails: insert attachment: %w", err)
			}
		}
	}
	return nil
}

func multiInsert(table, columns string, arity, rows int) string {
	var b strings.Builder
	b.Grow(64 + len(columns) + rows*(arity*2+3))
	b.WriteString("INSERT INTO ")
	b.WriteString(table)
	b.WriteString(" (")
	b.WriteString(columns)
	b.WriteString(") VALUES ")
	for r := range rows {
		if r > 0 {
			b.WriteByte(',')
		}
		b.WriteByte('(')
		for c := range arity {
			if c > 0 {
				b.WriteByte(',')
			}
			b.WriteByte('?')
		}
		b.WriteByte(')')
	}
	return b.String()
}

func jsonText(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		// Only values of the store's own types reach here; they always marshal.
		panic(fmt.Sprintf("sqlstore: marshal %T: %v", v, err))
	}
	return string(b)
}

// jsonOrNull stores empty slices and nil pointers as NULL.
func jsonOrNull(v any) sql.NullString {
	switch x := v.(type) {
	case []string:
		if len(x) == 0 {
			return sql.NullString{}
		}
	case []store.Header:
		if len(x) == 0 {
			return sql.NullString{}
		}
	case []store.Tag:
		if len(x) == 0 {
			return sql.NullString{}
		}
	case *store.TemplateRef:
		if x == nil {
			return sql.NullString{}
		}
	}
	return sql.NullString{String: jsonText(v), Valid: true}
}

func nullString(s *string) sql.NullString {
	if s == nil {
		return sql.NullString{}
	}
	return sql.NullString{String: *s, Valid: true}
}

// GetIdempotency implements store.Store.
func (db *DB) GetIdempotency(ctx context.Context, teamID, key string) (*store.Idempotency, error) {
	var r store.Idempotency
	var created int64
	stmt, err := db.prepared(ctx, db.r, `SELECT team_id, idem_key, endpoint, request_hash, response, created_at
		FROM idempotency_keys WHERE team_id = ? AND idem_key = ?`)
	if err != nil {
		return nil, fmt.Errorf("idempotency lookup: %w", err)
	}
	err = stmt.QueryRowContext(ctx, teamID, key).Scan(&r.TeamID, &r.Key, &r.Endpoint, &r.RequestHash, &r.Response, &created)
	if err != nil {
		return nil, interpretError(err)
	}
	r.CreatedAt = fromMicros(created)
	return &r, nil
}

// DeleteIdempotencyBefore implements store.Store.
func (db *DB) DeleteIdempotencyBefore(ctx context.Context, t time.Time) (int64, error) {
	res, err := db.w.ExecContext(ctx, db.q(`DELETE FROM idempotency_keys WHERE created_at < ?`), micros(t))
	if err != nil {
		return 0, fmt.Errorf("delete expired idempotency keys: %w", err)
	}
	return res.RowsAffected()
}

// emailSelectColumns are read FROM emails emailBodiesJoin: an email's
// bodies are in email_bodies, or in its own row (on PostgreSQL, and on
// SQLite before migration 00048; insertArgs).
const emailSelectColumns = `seq, id, team_id, created_at, from_addr, to_addrs, cc_addrs, bcc_addrs, reply_to, subject,
	COALESCE(b.html_body, emails.html_body), COALESCE(b.text_body, emails.text_body), body_codec, headers, tags, template, topic_id, scheduled_at, last_event, broadcast_id,
	domain_id, domain_name`

// emailBodiesJoin joins the bodies emailSelectColumns read.
const emailBodiesJoin = `LEFT JOIN email_bodies b ON b.email_seq = emails.seq`

// emailListColumns leave the bodies out: lists do not show them, and on
// SQLite they would be decompressed for nothing.
const emailListColumns = `seq, id, team_id, created_at, from_addr, to_addrs, cc_addrs, bcc_addrs, reply_to, subject,
	NULL, NULL, body_codec, headers, tags, template, topic_id, scheduled_at, last_event, broadcast_id,
	domain_id, domain_name`

func scanEmail(row interface{ Scan(...any) error }) (*store.Email, int64, error) {
	var e store.Email
	var seq, created int64
	var to string
	var cc, bcc, replyTo, headers, tags, template sql.NullString
	var html, text sql.Null[[]byte]
	var codec int
	var scheduled sql.NullInt64
	var domainID, domainName sql.NullString
	if err := row.Scan(&seq, &e.ID, &e.TeamID, &created, &e.From, &to, &cc, &bcc, &replyTo, &e.Subject,
		&html, &text, &codec, &headers, &tags, &template, &e.TopicID, &scheduled, &e.LastEvent, &e.BroadcastID,
		&domainID, &domainName); err != nil {
		return nil, 0, interpretError(err)
	}
	e.DomainID, e.DomainName = domainID.String, domainName.String
	e.CreatedAt = fromMicros(created)
	e.ScheduledAt = timePtr(scheduled)
	var htmlErr, textErr error
	e.HTML, htmlErr = decodeBody(html.V, html.Valid, codec)
	e.Text, textErr = decodeBody(text.V, text.Valid, codec)
	err := errors.Join(htmlErr, textErr,
		json.Unmarshal([]byte(to), &e.To),
		unmarshalNull(cc, &e.Cc),
		unmarshalNull(bcc, &e.Bcc),
		unmarshalNull(replyTo, &e.ReplyTo),
		unmarshalNull(headers, &e.Headers),
		unmarshalNull(tags, &e.Tags),
		unmarshalNull(template, &e.Template),
	)
	if err != nil {
		return nil, 0, fmt.Errorf("decode email %s: %w", e.ID, err)
	}
	return &e, seq, nil
}

// asRead returns a copy of e, as written by insertArgs, the way scanEmail
// reads it back: times to the microsecond, in UTC, and empty lists nil
// (stored as NULL). It shares e's lists: an accepted email's are not
// changed once written. It declines (false) scheduled emails (handed over
// only to send at once) and those whose read would differ in ways not
// worth copying: one with attachments (read from their
// own table), a template reference (its variables are re-encoded as JSON),
// or a string in a JSON-stored list that is not valid UTF-8 (JSON would
// replace its bytes).
func asRead(e *store.Email) (*store.Email, bool) {
	if e.ScheduledAt != nil || len(e.Attachments) > 0 || e.Template != nil || !validUTF8(e) {
		return nil, false
	}
	c := *e
	c.CreatedAt = fromMicros(micros(e.CreatedAt))
	c.Cc, c.Bcc, c.ReplyTo = nilIfEmpty(e.Cc), nilIfEmpty(e.Bcc), nilIfEmpty(e.ReplyTo)
	c.Headers, c.Tags = nilIfEmpty(e.Headers), nilIfEmpty(e.Tags)
	return &c, true
}

// validUTF8 reports whether every string of e's JSON-stored lists is valid
// UTF-8, which JSON keeps as it is.
func validUTF8(e *store.Email) bool {
	for _, l := range [][]string{e.To, e.Cc, e.Bcc, e.ReplyTo} {
		for _, s := range l {
			if !utf8.ValidString(s) {
				return false
			}
		}
	}
	for _, h := range e.Headers {
		if !utf8.ValidString(h.Name) || !utf8.ValidString(h.Value) {
			return false
		}
	}
	for _, t := range e.Tags {
		if !utf8.ValidString(t.Name) || !utf8.ValidString(t.Value) {
			return false
		}
	}
	return true
}

func nilIfEmpty[T any](s []T) []T {
	if len(s) == 0 {
		return nil
	}
	return s
}

func unmarshalNull(s sql.NullString, v any) error {
	if !s.Valid {
		return nil
	}
	return json.Unmarshal([]byte(s.String), v)
}

// GetEmail implements store.Store.
func (db *DB) GetEmail(ctx context.Context, teamID, id string) (*store.Email, error) {
	// By id alone, the team checked here (see emailExists).
	e, err := db.emailByID(ctx, id)
	if err == nil && e.TeamID != teamID {
		return nil, store.ErrNotFound
	}
	return e, err
}

// ListEmails implements store.Store.
func (db *DB) ListEmails(ctx context.Context, teamID string, p store.Page) ([]*store.Email, bool, error) {
	limit := p.Limit
	if limit <= 0 {
		limit = 20
	}
	query, args := seqPageQuery(emailListColumns, "emails", "team_id", teamID, p, limit)
	if p.After != "" || p.Before != "" {
		cursor := p.After + p.Before
		if _, err := db.GetEmail(ctx, teamID, cursor); err != nil {
			return nil, false, err
		}
	}
	return queryPage(ctx, db, db.r, "list emails", query, args, limit, p.Before != "", func(r interface{ Scan(...any) error }) (*store.Email, error) {
		e, _, err := scanEmail(r)
		return e, err
	})
}

// RescheduleEmail implements store.Store.
func (db *DB) RescheduleEmail(ctx context.Context, teamID, id string, at time.Time) error {
	return db.changeScheduled(ctx, teamID, id, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, db.q(`UPDATE emails SET scheduled_at = ?, updated_at = ? WHERE team_id = ? AND id = ?`),
			micros(at), micros(db.now()), teamID, id); err != nil {
			return err
		}
		// The job made for the old time finds the time changed and ends.
		return db.deliverTx(ctx, tx, []*store.Email{{ID: id, TeamID: teamID, ScheduledAt: &at}})
	})
}

// CancelEmail implements store.Store.
func (db *DB) CancelEmail(ctx context.Context, teamID, id string, at time.Time) error {
	return db.changeScheduled(ctx, teamID, id, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, db.q(`UPDATE emails SET last_event = ?, updated_at = ? WHERE team_id = ? AND id = ?`),
			store.EventCanceled, micros(at), teamID, id); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, db.q(`INSERT INTO email_events (email_id, team_id, type, created_at) VALUES (?, ?, ?, ?)`),
			id, teamID, store.EventCanceled, micros(at))
		return err
	})
}

// changeScheduled runs change in a transaction after checking that the email
// exists in the team and is still scheduled.
func (db *DB) changeScheduled(ctx context.Context, teamID, id string, change func(*sql.Tx) error) error {
	tx, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("update email: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	var last string
	lockSuffix := ""
	if db.dialect == Postgres {
		lockSuffix = " FOR UPDATE"
	}
	if err := tx.QueryRowContext(ctx, db.q(`SELECT last_event FROM emails WHERE team_id = ? AND id = ?`+lockSuffix), teamID, id).Scan(&last); err != nil {
		return interpretError(err)
	}
	if last != store.EventScheduled {
		return store.ErrNotScheduled
	}
	if err := change(tx); err != nil {
		return fmt.Errorf("update email: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("update email: commit: %w", err)
	}
	return nil
}
