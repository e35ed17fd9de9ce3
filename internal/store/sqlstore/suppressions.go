package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/godwit/godwit/internal/store"
)

const suppressionColumns = `id, team_id, email, origin, source_id, created_at`

// maxInList bounds the values bound in one IN (…) list, well under both
// databases' limits on parameters per statement.
const maxInList = 1000

// placeholders returns "?, ?, …" with n marks.
func placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?, ", n), ", ")
}

// chunks splits values into runs of at most size.
func chunks[T any](values []T, size int) [][]T {
	var out [][]T
	for len(values) > size {
		out = append(out, values[:size])
		values = values[size:]
	}
	if len(values) > 0 {
		out = append(out, values)
	}
	return out
}

func scanSuppression(row interface{ Scan(...any) error }) (*store.Suppression, error) {
	var s store.Suppression
	var created int64
	if err := row.Scan(&s.ID, &s.TeamID, &s.Email, &s.Origin, &s.SourceID, &created); err != nil {
		return nil, interpretError(err)
	}
	s.CreatedAt = fromMicros(created)
	return &s, nil
}

// querySuppressions runs a query returning suppressionColumns.
func querySuppressions(ctx context.Context, q interface {
	QueryContext(context.Context, string, ...any) (*sql.Rows, error)
}, query string, args ...any) ([]*store.Suppression, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, interpretError(err)
	}
	defer rows.Close()
	var out []*store.Suppression
	for rows.Next() {
		s, err := scanSuppression(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, rows.Err()
}

// AddSuppressions implements store.Store.
//
// Each run of new addresses is one multi-row INSERT … ON CONFLICT DO
// NOTHING followed by one SELECT of the stored rows, instead of two
// statements per address. Should a concurrent removal delete a conflicting
// row between the two, the address is inserted again.
func (db *DB) AddSuppressions(ctx context.Context, teamID string, list []*store.Suppression, event store.SuppressionEvent) error {
	if len(list) == 0 {
		return nil
	}
	// The first entry per address is the one inserted; every entry of the
	// address receives the stored row.
	byEmail := map[string][]*store.Suppression{}
	var pending []*store.Suppression
	for _, s := range list {
		s.TeamID = teamID
		s.Email = strings.ToLower(s.Email)
		if s.ID == "" {
			s.ID = store.NewID()
		}
		if s.CreatedAt.IsZero() {
			s.CreatedAt = db.now().UTC()
		}
		if _, seen := byEmail[s.Email]; !seen {
			pending = append(pending, s)
		}
		byEmail[s.Email] = append(byEmail[s.Email], s)
	}
	tx, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("add suppressions: %w", interpretError(err))
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	if err := db.lockEvents(ctx, tx); err != nil {
		return err
	}
	var added []*store.Suppression
	for attempt := 0; len(pending) > 0; attempt++ {
		if attempt == 3 {
			return fmt.Errorf("add suppressions: %d addresses kept being removed concurrently", len(pending))
		}
		var missing []*store.Suppression
		for _, run := range chunks(pending, 100) {
			args := make([]any, 0, 6*len(run))
			for _, s := range run {
				args = append(args, s.ID, teamID, s.Email, s.Origin, s.SourceID, micros(s.CreatedAt))
			}
			values := strings.TrimSuffix(strings.Repeat("(?, ?, ?, ?, ?, ?), ", len(run)), ", ")
			if _, err := tx.ExecContext(ctx, db.q(`INSERT INTO suppressions (`+suppressionColumns+`) VALUES `+values+`
				ON CONFLICT (team_id, email) DO NOTHING`), args...); err != nil {
				return fmt.Errorf("add suppressions: %w", interpretError(err))
			}
			args = []any{teamID}
			for _, s := range run {
				args = append(args, s.Email)
			}
			stored, err := querySuppressions(ctx, tx, db.q(`SELECT `+suppressionColumns+` FROM suppressions
				WHERE team_id = ? AND email IN (`+placeholders(len(run))+`)`), args...)
			if err != nil {
				return fmt.Errorf("add suppressions: %w", err)
			}
			found := make(map[string]*store.Suppression, len(stored))
			for _, s := range stored {
				found[s.Email] = s
			}
			for _, s := range run {
				got, ok := found[s.Email]
				if !ok {
					missing = append(missing, s)
					continue
				}
				if got.ID == s.ID { // inserted now, not there before
					added = append(added, got)
				}
				for _, entry := range byEmail[s.Email] {
					*entry = *got
				}
			}
		}
		pending = missing
	}
	if err := db.suppressionEvents(ctx, tx, event, added); err != nil {
		return fmt.Errorf("add suppressions: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("add suppressions: commit: %w", interpretError(err))
	}
	return nil
}

// suppressionEvents records the event that build makes of each
// suppression, in tx.
func (db *DB) suppressionEvents(ctx context.Context, tx *sql.Tx, build store.SuppressionEvent, list []*store.Suppression) error {
	if len(list) == 0 {
		return nil
	}
	if build == nil {
		return errors.New("no store.SuppressionEvent to record the change with")
	}
	evs := make([]*store.Event, 0, len(list))
	for _, s := range list {
		ev, err := build(s, db.now())
		if err != nil {
			return err
		}
		evs = append(evs, ev)
	}
	return db.insertEvents(ctx, tx, evs)
}

// ListSuppressions implements store.Store.
func (db *DB) ListSuppressions(ctx context.Context, teamID, origin string, p store.Page) ([]*store.Suppression, bool, error) {
	limit := p.Limit
	if limit <= 0 {
		limit = 20
	}
	where := `team_id = ?`
	args := []any{teamID}
	if origin != "" {
		where += ` AND origin = ?`
		args = append(args, origin)
	}
	order := `DESC`
	if cursor := p.After + p.Before; cursor != "" {
		var seq int64
		err := db.r.QueryRowContext(ctx, db.q(`SELECT seq FROM suppressions WHERE team_id = ? AND id = ?`), teamID, cursor).Scan(&seq)
		if err != nil {
			return nil, false, interpretError(err)
		}
		if p.After != "" {
			where += ` AND seq < ?`
		} else {
			where += ` AND seq > ?`
			order = `ASC`
		}
		args = append(args, seq)
	}
	args = append(args, limit+1)
	return queryPage(ctx, db, db.r, "list suppressions", `SELECT `+suppressionColumns+` FROM suppressions WHERE `+where+`
		ORDER BY seq `+order+` LIMIT ?`, args, limit, p.Before != "", scanSuppression)
}

// isEmailRef tells an email address from an id in an id-or-email value.
func isEmailRef(v string) bool { return strings.Contains(v, "@") }

// GetSuppression implements store.Store.
func (db *DB) GetSuppression(ctx context.Context, teamID, idOrEmail string) (*store.Suppression, error) {
	column, value := "id", idOrEmail
	if isEmailRef(idOrEmail) {
		column, value = "email", strings.ToLower(idOrEmail)
	}
	return scanSuppression(db.r.QueryRowContext(ctx, db.q(`SELECT `+suppressionColumns+` FROM suppressions
		WHERE team_id = ? AND `+column+` = ?`), teamID, value))
}

// DeleteSuppressions implements store.Store.
func (db *DB) DeleteSuppressions(ctx context.Context, teamID string, idsOrEmails []string, event store.SuppressionEvent) ([]*store.Suppression, error) {
	if len(idsOrEmails) == 0 {
		return nil, nil
	}
	tx, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("delete suppressions: %w", interpretError(err))
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	if err := db.lockEvents(ctx, tx); err != nil {
		return nil, err
	}
	byID := map[string]*store.Suppression{}
	byEmail := map[string]*store.Suppression{}
	for _, run := range chunks(idsOrEmails, maxInList) {
		var ids, emails []any
		for _, v := range run {
			if isEmailRef(v) {
				emails = append(emails, strings.ToLower(v))
			} else {
				ids = append(ids, v)
			}
		}
		var match []string
		args := []any{teamID}
		if len(ids) > 0 {
			match = append(match, `id IN (`+placeholders(len(ids))+`)`)
			args = append(args, ids...)
		}
		if len(emails) > 0 {
			match = append(match, `email IN (`+placeholders(len(emails))+`)`)
			args = append(args, emails...)
		}
		deleted, err := querySuppressions(ctx, tx, db.q(`DELETE FROM suppressions WHERE team_id = ? AND (`+
			strings.Join(match, ` OR `)+`) RETURNING `+suppressionColumns), args...)
		if err != nil {
			return nil, fmt.Errorf("delete suppressions: %w", err)
		}
		for _, s := range deleted {
			byID[s.ID], byEmail[s.Email] = s, s
		}
	}
	removed := make([]*store.Suppression, 0, len(byID))
	for _, s := range byID {
		removed = append(removed, s)
	}
	slices.SortFunc(removed, func(a, b *store.Suppression) int { return strings.Compare(a.ID, b.ID) })
	if err := db.suppressionEvents(ctx, tx, event, removed); err != nil {
		return nil, fmt.Errorf("delete suppressions: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("delete suppressions: commit: %w", interpretError(err))
	}
	// In the order named, each once.
	out := make([]*store.Suppression, 0, len(byID))
	listed := make(map[string]bool, len(byID))
	for _, v := range idsOrEmails {
		s := byID[v]
		if isEmailRef(v) {
			s = byEmail[strings.ToLower(v)]
		}
		if s != nil && !listed[s.ID] {
			listed[s.ID] = true
			out = append(out, s)
		}
	}
	return out, nil
}

// SuppressedAmong implements store.Store.
func (db *DB) SuppressedAmong(ctx context.Context, teamID string, emails []string) (map[string]bool, error) {
	out := map[string]bool{}
	lower := make([]string, len(emails))
	for i, e := range emails {
		lower[i] = strings.ToLower(e)
	}
	suppressed := map[string]bool{}
	for _, run := range chunks(lower, maxInList) {
		args := make([]any, 0, len(run)+1)
		args = append(args, teamID)
		for _, e := range run {
			args = append(args, e)
		}
		query := `SELECT email FROM suppressions WHERE team_id = ? AND email IN (` + placeholders(len(run)) + `)`
		var rows *sql.Rows
		var err error
		if len(run) <= 8 { // the worker asks about a few recipients per email: prepare those shapes
			var stmt *sql.Stmt
			if stmt, err = db.prepared(ctx, db.r, query); err == nil {
				rows, err = stmt.QueryContext(ctx, args...)
			}
		} else {
			rows, err = db.r.QueryContext(ctx, db.q(query), args...)
		}
		if err != nil {
			return nil, fmt.Errorf("suppressed among: %w", interpretError(err))
		}
		for rows.Next() {
			var e string
			if err := rows.Scan(&e); err != nil {
				rows.Close()
				return nil, fmt.Errorf("suppressed among: %w", err)
			}
			suppressed[e] = true
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return nil, fmt.Errorf("suppressed among: %w", interpretError(err))
		}
	}
	for i, e := range emails {
		if suppressed[lower[i]] {
			out[e] = true
		}
	}
	return out, nil
}
