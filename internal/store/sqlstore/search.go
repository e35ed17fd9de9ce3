package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/godwit/godwit/internal/store"
)

// # Email search
//
// SearchEmails lists a team's emails newest first by seq (the order they
// were accepted in) and narrows them by any combination of status, sending
// domain, time range, recipient and tag. A page is a range scan of one
// index whose key ends in seq, in order, cut at the page's size; the
// cursor and the time range are bounds on seq, and further conditions
// filter the rows the scan visits (migration 00028):
//   - no filter, or a time range alone: emails_team_seq (team_id, seq).
//   - a status an email reaches when delivery went wrong, it was scheduled
//     or engaged (rareStatuses): emails_team_status (team_id, last_event,
//     seq), partial on those statuses, so that accepting and delivering an
//     email write nothing to it.
//   - queued or sent: emails_waiting (team_id, seq), partial on the
//     emails still waiting for delivery, with the status checked per row.
//   - delivered: emails_team_seq, the status checked per row (most of a
//     team's emails are delivered, so the scan visits few others).
//   - a domain (without a status that has its own index):
//     emails_team_domain (team_id, domain_id, seq).
//   - a recipient or a tag: email_search_terms (team_id, term, email_seq),
//     whose rows AcceptEmails writes in its transaction; a second term is
//     a probe of the same key per row.
//
// A time range is found as a range of seq: seqsFrom binary-searches
// emails_team_seq for the first email created at or after each bound, and
// created_at is checked per row as well. This assumes that seq follows
// created_at, which holds up to the moments between an email's acceptance
// and its commit (and, on several nodes, their clocks' skew): an email
// accepted within that moment of a bound may fall on the other side of it.
//
// What EXPLAIN shows (bench/dashboard prints it with -explain;
// TestSearchPlans holds every filter to its index): SQLite SEARCH e USING
// INDEX <index> (team_id=? …) and no temp b-tree for the ORDER BY;
// PostgreSQL Index Scan (Backward) using <index>.
//
// The cost of a page is the rows the scan visits: with one filter that is
// the page itself, except for delivered in a team whose emails mostly were
// not. With two filters (say a status and a domain) the scan follows one
// index and checks the other on each row, so a rare combination of two
// common values visits more rows; bench/dashboard measures such a
// combination.

// searchColumns are emailListColumns read through the alias e.
const searchColumns = `e.seq, e.id, e.team_id, e.created_at, e.from_addr, e.to_addrs, e.cc_addrs, e.bcc_addrs, e.reply_to, e.subject,
	NULL, NULL, e.body_codec, e.headers, e.tags, e.template, e.topic_id, e.scheduled_at, e.last_event, e.broadcast_id,
	e.domain_id, e.domain_name`

// Term prefixes of email_search_terms.
const (
	termRecipient = "rcpt:"
	termTag       = "tag:"
)

func tagTerm(t store.Tag) string { return termTag + t.Name + "=" + t.Value }

// searchTerms are the distinct terms of an email.
func searchTerms(e *store.Email) []string {
	var terms []string
	seen := map[string]bool{}
	add := func(t string) {
		if !seen[t] {
			seen[t] = true
			terms = append(terms, t)
		}
	}
	for _, list := range [][]string{e.To, e.Cc, e.Bcc} {
		for _, a := range list {
			add(termRecipient + store.SearchAddress(a))
		}
	}
	for _, t := range e.Tags {
		add(tagTerm(t))
	}
	return terms
}

// termArgs are the (term, email id) rows of emails' search terms, for
// insertTerms.
func termArgs(emails []*store.Email) [][]any {
	var rows [][]any
	for _, e := range emails {
		for _, t := range searchTerms(e) {
			rows = append(rows, []any{t, e.ID})
		}
	}
	return rows
}

// insertTermsSQL inserts n terms, each given as (term, email id), taking
// the team and seq from the email row inserted before it in the same
// transaction. VALUES names its columns column1, column2 on both
// databases.
func insertTermsSQL(n int) string {
	return valuesJoinEmails(`INSERT INTO email_search_terms (team_id, term, email_seq)
	SELECT e.team_id, v.column1, e.seq`, "(?, ?)", n, "v.column2")
}

// insertBodiesSQL inserts the bodies of n emails, each given as (email id,
// html, text), under the seq of the email row inserted before them in the
// same transaction.
func insertBodiesSQL(n int) string {
	return valuesJoinEmails(`INSERT INTO email_bodies (email_seq, html_body, text_body)
	SELECT e.seq, v.column2, v.column3`, "(?, ?, ?)", n, "v.column1")
}

// valuesJoinEmails is insert (an INSERT … SELECT) FROM n VALUES tuples
// joined to emails by the email id in idColumn.
func valuesJoinEmails(insert, tuple string, n int, idColumn string) string {
	var b strings.Builder
	b.WriteString(insert)
	b.WriteString(` FROM (VALUES `)
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(tuple)
	}
	b.WriteString(`) AS v JOIN emails e ON e.id = ` + idColumn)
	return b.String()
}

// insertTerms writes rows (from termArgs).
func (db *DB) insertTerms(ctx context.Context, tx *sql.Tx, rows [][]any) error {
	if err := db.insertChunks(ctx, tx, insertTermsSQL, rows); err != nil {
		return fmt.Errorf("accept emails: insert search terms: %w", err)
	}
	return nil
}

// SearchEmails implements store.Store.
func (db *DB) SearchEmails(ctx context.Context, teamID string, f store.EmailFilter, p store.Page) ([]*store.Email, bool, error) {
	query, args, err := db.searchQuery(ctx, teamID, f, p)
	if err != nil {
		return nil, false, err
	}
	limit := pageLimit(p)
	return queryPage(ctx, db, db.r, "search emails", query, args, limit, p.Before != "", func(r interface{ Scan(...any) error }) (*store.Email, error) {
		e, _, err := scanEmail(r)
		return e, err
	})
}

func pageLimit(p store.Page) int {
	if p.Limit <= 0 {
		return 20
	}
	return p.Limit
}

// rareStatuses are the statuses of the partial index emails_team_status;
// the literal list matches its WHERE, which a query repeats so that both
// databases know the index serves it.
const rareStatuses = `last_event IN ('scheduled', 'delivery_delayed', 'bounced', 'complained', 'failed', 'canceled',
        'suppressed', 'opened', 'clicked')`

// searchIndex is the index a search of the emails table reads, and the
// partial index's condition the query must repeat ("" for none).
func searchIndex(f store.EmailFilter) (index, partial string) {
	switch f.Status {
	case "":
	case store.EventQueued, store.EventSent:
		return "emails_waiting", waitingEvents
	case store.EventDelivered:
	default:
		return "emails_team_status", rareStatuses
	}
	if f.DomainID != "" {
		return "emails_team_domain", ""
	}
	return "emails_team_seq", ""
}

// searchQuery builds SearchEmails' query (exported to tests through
// export_test.go, which EXPLAIN it).
func (db *DB) searchQuery(ctx context.Context, teamID string, f store.EmailFilter, p store.Page) (string, []any, error) {
	var terms []string
	if f.Recipient != "" {
		terms = append(terms, termRecipient+store.SearchAddress(f.Recipient))
	}
	if f.Tag != nil {
		terms = append(terms, tagTerm(*f.Tag))
	}
	// The scan's table: the first term's rows, or the emails themselves.
	var b strings.Builder
	var args []any
	seq := "e.seq"
	if len(terms) > 0 {
		seq = "t.email_seq"
		// The team is the term's: a term row copies its email's team when
		// it is written. (A second "e.team_id = ?" led PostgreSQL to join
		// through emails_team_seq instead of the primary key.)
		b.WriteString(`SELECT ` + searchColumns + ` FROM email_search_terms t JOIN emails e ON e.seq = t.email_seq
	WHERE t.team_id = ? AND t.term = ?`)
		args = append(args, teamID, terms[0])
		for _, term := range terms[1:] {
			b.WriteString(` AND EXISTS (SELECT 1 FROM email_search_terms t2
		WHERE t2.team_id = ? AND t2.term = ? AND t2.email_seq = t.email_seq)`)
			args = append(args, teamID, term)
		}
	} else {
		index, partial := searchIndex(f)
		from := ` FROM emails e`
		if db.dialect == SQLite {
			// INDEXED BY: without statistics SQLite may choose another
			// index (emails_team_seq for the ORDER BY, say, over the
			// status's), and a query the index cannot serve fails rather
			// than scans. PostgreSQL chooses by its statistics.
			from += ` INDEXED BY ` + index
		}
		b.WriteString(`SELECT ` + searchColumns + from + ` WHERE e.team_id = ?`)
		args = append(args, teamID)
		if partial != "" {
			b.WriteString(` AND e.` + partial)
		}
	}
	if f.Status != "" {
		b.WriteString(` AND e.last_event = ?`)
		args = append(args, f.Status)
	}
	if f.DomainID != "" {
		b.WriteString(` AND e.domain_id = ?`)
		args = append(args, f.DomainID)
	}
	if !f.Since.IsZero() || !f.Until.IsZero() {
		seqs, err := db.seqsFrom(ctx, teamID, f.Since, f.Until)
		if err != nil {
			return "", nil, err
		}
		if !f.Since.IsZero() {
			b.WriteString(` AND ` + seq + ` >= ? AND e.created_at >= ?`)
			args = append(args, seqs[0], micros(f.Since))
		}
		if !f.Until.IsZero() {
			b.WriteString(` AND ` + seq + ` < ? AND e.created_at < ?`)
			args = append(args, seqs[1], micros(f.Until))
		}
	}
	order := "DESC"
	if cursor := p.After + p.Before; cursor != "" {
		c, err := db.emailSeq(ctx, teamID, cursor)
		if err != nil {
			return "", nil, err
		}
		op := "<"
		if p.After == "" {
			op, order = ">", "ASC"
		}
		b.WriteString(` AND ` + seq + ` ` + op + ` ?`)
		args = append(args, c)
	}
	b.WriteString(` ORDER BY ` + seq + ` ` + order + ` LIMIT ?`)
	args = append(args, pageLimit(p)+1)
	return b.String(), args, nil
}

// seqsFrom is, for each of times (zero ones skipped, their result 0), the
// seq of the team's first email created at or after it (one more than the
// last seq when there is none), by a binary search of emails_team_seq
// that reads one row per step: about 25 steps for a million emails. It
// assumes that seq follows created_at (see Email search).
func (db *DB) seqsFrom(ctx context.Context, teamID string, times ...time.Time) ([]int64, error) {
	out := make([]int64, len(times))
	// Two subqueries: SQLite reads one end of the index for a lone MIN or
	// MAX, but scans the team's range for both in one SELECT.
	var lo, hi sql.NullInt64
	if err := db.r.QueryRowContext(ctx, db.q(`SELECT (SELECT MIN(seq) FROM emails WHERE team_id = ?),
		(SELECT MAX(seq) FROM emails WHERE team_id = ?)`), teamID, teamID).Scan(&lo, &hi); err != nil {
		return nil, fmt.Errorf("search emails: %w", interpretError(err))
	}
	if !lo.Valid {
		return out, nil
	}
	probe, err := db.prepared(ctx, db.r, `SELECT seq, created_at FROM emails WHERE team_id = ? AND seq >= ? ORDER BY seq LIMIT 1`)
	if err != nil {
		return nil, fmt.Errorf("search emails: %w", err)
	}
	for i, t := range times {
		if t.IsZero() {
			continue
		}
		at := micros(t)
		// The answer is in [low, high]: every email before low was created
		// before t; high is one that was not, or one past the last.
		low, high := lo.Int64, hi.Int64+1
		for low < high {
			mid := low + (high-low)/2
			var seq, created int64
			err := probe.QueryRowContext(ctx, teamID, mid).Scan(&seq, &created)
			switch {
			case errors.Is(err, sql.ErrNoRows): // the last ones deleted meanwhile
				high = mid
			case err != nil:
				return nil, fmt.Errorf("search emails: %w", interpretError(err))
			case created >= at:
				high = seq
			default:
				low = seq + 1
			}
		}
		out[i] = low
	}
	return out, nil
}

// emailSeq is where one of the team's emails stands in search order.
func (db *DB) emailSeq(ctx context.Context, teamID, id string) (int64, error) {
	stmt, err := db.prepared(ctx, db.r, `SELECT team_id, seq FROM emails WHERE id = ?`)
	if err != nil {
		return 0, fmt.Errorf("search emails: %w", err)
	}
	var owner string
	var seq int64
	if err := stmt.QueryRowContext(ctx, id).Scan(&owner, &seq); err != nil {
		return 0, interpretError(err)
	}
	if owner != teamID {
		return 0, store.ErrNotFound
	}
	return seq, nil
}

// GetEmailDetail implements store.Store: five queries in one read-only
// transaction, so the page shows one moment of the email's history.
func (db *DB) GetEmailDetail(ctx context.Context, teamID, emailID string) (*store.EmailDetail, error) {
	tx, err := db.r.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, fmt.Errorf("email detail: %w", interpretError(err))
	}
	defer tx.Rollback() //nolint:errcheck // read-only
	e, _, err := scanEmail(tx.QueryRowContext(ctx, db.q(`SELECT `+emailSelectColumns+` FROM emails `+emailBodiesJoin+` WHERE id = ?`), emailID))
	if errors.Is(err, store.ErrNotFound) || (err == nil && e.TeamID != teamID) {
		return nil, store.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("email detail: %w", err)
	}
	d := &store.EmailDetail{Email: e, Attachments: []store.AttachmentInfo{}}
	// By email alone, its team checked above: with "AND team_id = ?"
	// SQLite read the team's events through email_events_team (team_id,
	// seq) for the ORDER BY instead of the email's few.
	if err := queryRows(ctx, tx, db.q(`SELECT type, created_at, data FROM email_events
		WHERE email_id = ? ORDER BY seq`), []any{emailID}, func(r *sql.Rows) error {
		ev := &store.EmailEvent{}
		var at int64
		var data sql.NullString
		if err := r.Scan(&ev.Type, &at, &data); err != nil {
			return err
		}
		ev.CreatedAt = fromMicros(at)
		if data.Valid {
			ev.Data = json.RawMessage(data.String)
		}
		d.Events = append(d.Events, ev)
		return nil
	}); err != nil {
		return nil, fmt.Errorf("email detail: events: %w", err)
	}
	if err := queryRows(ctx, tx, db.q(`SELECT `+attemptSelectColumns+`
		FROM delivery_attempts WHERE email_id = ? ORDER BY seq`), []any{emailID}, func(r *sql.Rows) error {
		a := &store.DeliveryAttempt{EmailID: emailID, TeamID: teamID}
		if err := scanAttempt(r.Scan, a); err != nil {
			return err
		}
		d.Attempts = append(d.Attempts, a)
		return nil
	}); err != nil {
		return nil, fmt.Errorf("email detail: attempts: %w", err)
	}
	if err := queryRows(ctx, tx, db.q(`SELECT idx, filename, content_type, content_id, path, COALESCE(LENGTH(content), 0)
		FROM email_attachments WHERE email_id = ? ORDER BY idx`), []any{emailID}, func(r *sql.Rows) error {
		var a store.AttachmentInfo
		if err := r.Scan(&a.Index, &a.Filename, &a.ContentType, &a.ContentID, &a.Path, &a.Size); err != nil {
			return err
		}
		d.Attachments = append(d.Attachments, a)
		return nil
	}); err != nil {
		return nil, fmt.Errorf("email detail: attachments: %w", err)
	}
	var n int
	if err := tx.QueryRowContext(ctx, db.q(`SELECT COUNT(*) FROM captured_messages WHERE email_id = ?`),
		emailID).Scan(&n); err != nil {
		return nil, fmt.Errorf("email detail: captured: %w", err)
	}
	d.Captured = n > 0
	return d, nil
}

// queryRows runs query in tx and calls scan for each row.
func queryRows(ctx context.Context, tx *sql.Tx, query string, args []any, scan func(*sql.Rows) error) error {
	rows, err := tx.QueryContext(ctx, query, args...)
	if err != nil {
		return interpretError(err)
	}
	defer rows.Close()
	for rows.Next() {
		if err := scan(rows); err != nil {
			return err
		}
	}
	return rows.Err()
}

// ListCapturedMessages implements store.Store: one range scan of
// captured_messages_team (team_id, created_at, email_id), newest first,
// and the page's emails by id.
func (db *DB) ListCapturedMessages(ctx context.Context, teamID string, p store.Page) ([]*store.CapturedMessage, bool, error) {
	query, args, err := db.capturedQuery(ctx, teamID, p)
	if err != nil {
		return nil, false, err
	}
	return queryPage(ctx, db, db.r, "list captured messages", query, args, pageLimit(p), p.Before != "", func(r interface{ Scan(...any) error }) (*store.CapturedMessage, error) {
		m := &store.CapturedMessage{}
		var at int64
		var to string
		if err := r.Scan(&m.EmailID, &at, &m.From, &to, &m.Subject, &m.LastEvent); err != nil {
			return nil, err
		}
		m.CreatedAt = fromMicros(at)
		if err := json.Unmarshal([]byte(to), &m.To); err != nil {
			return nil, fmt.Errorf("decode email %s: %w", m.EmailID, err)
		}
		return m, nil
	})
}

func (db *DB) capturedQuery(ctx context.Context, teamID string, p store.Page) (string, []any, error) {
	q := `SELECT c.email_id, c.created_at, e.from_addr, e.to_addrs, e.subject, e.last_event
	FROM captured_messages c JOIN emails e ON e.id = c.email_id WHERE c.team_id = ?`
	args := []any{teamID}
	order := "DESC"
	if cursor := p.After + p.Before; cursor != "" {
		var at int64
		if err := db.r.QueryRowContext(ctx, db.q(`SELECT created_at FROM captured_messages WHERE email_id = ? AND team_id = ?`),
			cursor, teamID).Scan(&at); err != nil {
			return "", nil, interpretError(err)
		}
		op := "<"
		if p.After == "" {
			op, order = ">", "ASC"
		}
		q += ` AND (c.created_at, c.email_id) ` + op + ` (?, ?)`
		args = append(args, at, cursor)
	}
	q += ` ORDER BY c.created_at ` + order + `, c.email_id ` + order + ` LIMIT ?`
	args = append(args, pageLimit(p)+1)
	return q, args, nil
}

// ExplainSearchEmails returns the database's plan of SearchEmails' query for
// f and p (SQLite's EXPLAIN QUERY PLAN, one line per step; PostgreSQL's
// EXPLAIN), for bench/dashboard and the tests that hold each filter to an
// index.
func (db *DB) ExplainSearchEmails(ctx context.Context, teamID string, f store.EmailFilter, p store.Page) (string, error) {
	query, args, err := db.searchQuery(ctx, teamID, f, p)
	if err != nil {
		return "", err
	}
	return db.explain(ctx, query, args, nil)
}

// ExplainCapturedMessages is ExplainSearchEmails for ListCapturedMessages.
func (db *DB) ExplainCapturedMessages(ctx context.Context, teamID string, p store.Page) (string, error) {
	query, args, err := db.capturedQuery(ctx, teamID, p)
	if err != nil {
		return "", err
	}
	return db.explain(ctx, query, args, nil)
}

// explain returns query's plan, with settings (PostgreSQL SET statements)
// applied first in the same transaction.
func (db *DB) explain(ctx context.Context, query string, args []any, settings []string) (string, error) {
	tx, err := db.r.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return "", fmt.Errorf("explain: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // read-only
	for _, s := range settings {
		if _, err := tx.ExecContext(ctx, s); err != nil {
			return "", fmt.Errorf("explain: %s: %w", s, err)
		}
	}
	prefix := "EXPLAIN "
	if db.dialect == SQLite {
		prefix = "EXPLAIN QUERY PLAN "
	}
	rows, err := tx.QueryContext(ctx, prefix+db.q(query), args...)
	if err != nil {
		return "", fmt.Errorf("explain: %w", err)
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return "", fmt.Errorf("explain: %w", err)
	}
	var b strings.Builder
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return "", fmt.Errorf("explain: %w", err)
		}
		fmt.Fprintf(&b, "%v\n", vals[len(vals)-1]) // SQLite: id, parent, notused, detail
	}
	return b.String(), rows.Err()
}
