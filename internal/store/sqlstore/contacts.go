package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/godwit/godwit/internal/store"
)

const (
	segmentColumns = `id, team_id, name, created_at`
	contactColumns = `id, team_id, email, first_name, last_name, unsubscribed, properties, created_at, updated_at`
)

// qualified prefixes each column of a column list with a table alias.
func qualified(alias, columns string) string {
	cols := strings.Split(columns, ",")
	for i, c := range cols {
		cols[i] = alias + "." + strings.TrimSpace(c)
	}
	return strings.Join(cols, ", ")
}

func scanSegment(row interface{ Scan(...any) error }) (*store.Segment, error) {
	var s store.Segment
	var created int64
	if err := row.Scan(&s.ID, &s.TeamID, &s.Name, &created); err != nil {
		return nil, interpretError(err)
	}
	s.CreatedAt = fromMicros(created)
	return &s, nil
}

func scanContact(row interface{ Scan(...any) error }) (*store.Contact, error) {
	var c store.Contact
	var first, last sql.NullString
	var unsubscribed int
	var props string
	var created, updated int64
	if err := row.Scan(&c.ID, &c.TeamID, &c.Email, &first, &last, &unsubscribed, &props, &created, &updated); err != nil {
		return nil, interpretError(err)
	}
	if first.Valid {
		c.FirstName = &first.String
	}
	if last.Valid {
		c.LastName = &last.String
	}
	c.Unsubscribed = unsubscribed != 0
	if err := json.Unmarshal([]byte(props), &c.Properties); err != nil {
		return nil, fmt.Errorf("decode contact %s: %w", c.ID, err)
	}
	if c.Properties == nil {
		c.Properties = map[string]any{}
	}
	c.CreatedAt, c.UpdatedAt = fromMicros(created), fromMicros(updated)
	return &c, nil
}

// propertiesText encodes a contact's properties as stored: a JSON object,
// {} when there are none.
func propertiesText(p map[string]any) (string, error) {
	if len(p) == 0 {
		return "{}", nil
	}
	b, err := json.Marshal(p)
	if err != nil {
		return "", fmt.Errorf("encode properties: %w", err)
	}
	return string(b), nil
}

// emailKey is the form of an address that contacts are unique by. It is
// computed here rather than by SQL lower(), which folds only ASCII on
// SQLite, so that both databases agree.
func emailKey(email string) string { return strings.ToLower(email) }

// isForeignKeyViolation recognises a foreign-key failure on either database.
func isForeignKeyViolation(err error) bool {
	if err == nil {
		return false
	}
	s := err.Error()
	return strings.Contains(s, "FOREIGN KEY constraint failed") || // SQLite
		strings.Contains(s, "SQLSTATE 23503") // PostgreSQL foreign_key_violation
}

// exists reports whether query finds a row; it is store.ErrNotFound when not.
func (db *DB) exists(ctx context.Context, query string, args ...any) error {
	var one int
	return interpretError(db.r.QueryRowContext(ctx, db.q(query), args...).Scan(&one))
}

// cursor positions a newest-first page of a team's rows of table (segments
// or contacts): it returns the comparison for the page's seq bound ("" for
// the first page), the cursor's seq, and the order to fetch in (ASC for a
// before page, which queryPage then reverses). A cursor that is not one of
// the team's rows is store.ErrNotFound.
func (db *DB) cursor(ctx context.Context, table, teamID string, p store.Page) (op string, seq int64, order string, err error) {
	id, op, order := p.After, "<", "DESC"
	if id == "" {
		id, op, order = p.Before, ">", "ASC"
	}
	if id == "" {
		return "", 0, "DESC", nil
	}
	err = db.r.QueryRowContext(ctx, db.q(`SELECT seq FROM `+table+` WHERE team_id = ? AND id = ?`), teamID, id).Scan(&seq)
	if err != nil {
		return "", 0, "", interpretError(err)
	}
	return op, seq, order, nil
}

// listTeamRows returns one page of a team's rows of table, newest first:
// the list of every table whose rows belong to a team and are ordered by
// seq (segments, topics, contact properties).
func listTeamRows[T any](ctx context.Context, db *DB, what, table, columns, teamID string, p store.Page,
	scan func(interface{ Scan(...any) error }) (T, error)) ([]T, bool, error) {
	limit := cmpLimit(p.Limit)
	op, seq, order, err := db.cursor(ctx, table, teamID, p)
	if err != nil {
		return nil, false, err
	}
	where, args := `team_id = ?`, []any{teamID}
	if op != "" {
		where += ` AND seq ` + op + ` ?`
		args = append(args, seq)
	}
	args = append(args, limit+1)
	return queryPage(ctx, db, db.r, what, `SELECT `+columns+` FROM `+table+` WHERE `+where+`
		ORDER BY seq `+order+` LIMIT ?`, args, limit, order == "ASC", scan)
}

// CreateSegment implements store.Store.
func (db *DB) CreateSegment(ctx context.Context, s *store.Segment) error {
	_, err := db.w.ExecContext(ctx, db.q(`INSERT INTO segments (`+segmentColumns+`) VALUES (?, ?, ?, ?)`),
		s.ID, s.TeamID, s.Name, micros(s.CreatedAt))
	if isUniqueViolation(err) {
		return store.ErrConflict
	}
	if err != nil {
		return fmt.Errorf("create segment: %w", interpretError(err))
	}
	return nil
}

// GetSegment implements store.Store.
func (db *DB) GetSegment(ctx context.Context, teamID, id string) (*store.Segment, error) {
	return scanSegment(db.r.QueryRowContext(ctx, db.q(`SELECT `+segmentColumns+` FROM segments WHERE team_id = ? AND id = ?`), teamID, id))
}

// ListSegments implements store.Store.
func (db *DB) ListSegments(ctx context.Context, teamID string, p store.Page) ([]*store.Segment, bool, error) {
	return listTeamRows(ctx, db, "list segments", "segments", segmentColumns, teamID, p, scanSegment)
}

// UpdateSegment implements store.Store.
func (db *DB) UpdateSegment(ctx context.Context, s *store.Segment) error {
	res, err := db.w.ExecContext(ctx, db.q(`UPDATE segments SET name = ? WHERE team_id = ? AND id = ?`), s.Name, s.TeamID, s.ID)
	if err != nil {
		return fmt.Errorf("update segment: %w", interpretError(err))
	}
	return mustAffect(res)
}

// DeleteSegment implements store.Store. Its memberships go with it (ON
// DELETE CASCADE).
func (db *DB) DeleteSegment(ctx context.Context, teamID, id string) error {
	res, err := db.w.ExecContext(ctx, db.q(`DELETE FROM segments WHERE team_id = ? AND id = ?`), teamID, id)
	if err != nil {
		return fmt.Errorf("delete segment: %w", interpretError(err))
	}
	return mustAffect(res)
}

// joinSegmentSQL makes a contact (by id, with its seq) a member of one of
// the team's segments; it inserts nothing when the segment is not the
// team's or the membership exists. Its arguments: team, contact id, contact
// seq, time, team, segment id.
const joinSegmentSQL = `INSERT INTO contact_segments (team_id, contact_id, segment_id, contact_seq, created_at)
	SELECT ?, ?, id, ?, ? FROM segments WHERE team_id = ? AND id = ?
	ON CONFLICT (contact_id, segment_id) DO NOTHING`

// CreateContact implements store.Store.
func (db *DB) CreateContact(ctx context.Context, c *store.Contact, events ...*store.Event) error {
	props, err := propertiesText(c.Properties)
	if err != nil {
		return fmt.Errorf("create contact: %w", err)
	}
	err = db.withEvents(ctx, events, func(tx *sql.Tx) error {
		var seq int64
		if err := tx.QueryRowContext(ctx, db.q(`INSERT INTO contacts (`+contactColumns+`, email_key)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING seq`),
			c.ID, c.TeamID, c.Email, nullString(c.FirstName), nullString(c.LastName), b2i(c.Unsubscribed), props,
			micros(c.CreatedAt), micros(c.UpdatedAt), emailKey(c.Email)).Scan(&seq); err != nil {
			return err
		}
		joined := make(map[string]bool, len(c.SegmentIDs))
		for _, segmentID := range c.SegmentIDs {
			if joined[segmentID] {
				continue
			}
			joined[segmentID] = true
			res, err := tx.ExecContext(ctx, db.q(joinSegmentSQL), c.TeamID, c.ID, seq, micros(c.CreatedAt), c.TeamID, segmentID)
			if err != nil {
				return err
			}
			if err := mustAffect(res); err != nil { // not a duplicate (skipped above): not the team's
				return err
			}
		}
		return db.setTopicsTx(ctx, tx, c.TeamID, c.ID, c.Topics, c.CreatedAt)
	})
	switch {
	case isUniqueViolation(err):
		return store.ErrConflict
	case isForeignKeyViolation(err): // a segment or topic deleted concurrently
		return store.ErrNotFound
	case err != nil:
		return fmt.Errorf("create contact: %w", interpretError(err))
	}
	return nil
}

// GetContact implements store.Store.
func (db *DB) GetContact(ctx context.Context, teamID, idOrEmail string) (*store.Contact, error) {
	column, value := "id", idOrEmail
	if isEmailRef(idOrEmail) {
		column, value = "email_key", emailKey(idOrEmail)
	}
	c, err := scanContact(db.r.QueryRowContext(ctx, db.q(`SELECT `+contactColumns+` FROM contacts
		WHERE team_id = ? AND `+column+` = ?`), teamID, value))
	if err != nil {
		return nil, err
	}
	rows, err := db.r.QueryContext(ctx, db.q(`SELECT segment_id FROM contact_segments WHERE team_id = ? AND contact_id = ?
		ORDER BY created_at, seq`), teamID, c.ID)
	if err != nil {
		return nil, fmt.Errorf("get contact: %w", interpretError(err))
	}
	defer rows.Close()
	c.SegmentIDs = []string{}
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("get contact: %w", err)
		}
		c.SegmentIDs = append(c.SegmentIDs, id)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("get contact: %w", interpretError(err))
	}
	return c, nil
}

// ListContacts implements store.Store. A segment's contacts are read
// through contact_segments' (segment_id, contact_seq) index, in the
// contacts' order.
func (db *DB) ListContacts(ctx context.Context, teamID, segmentID string, p store.Page) ([]*store.Contact, bool, error) {
	limit := cmpLimit(p.Limit)
	if segmentID != "" {
		if err := db.exists(ctx, `SELECT 1 FROM segments WHERE team_id = ? AND id = ?`, teamID, segmentID); err != nil {
			return nil, false, err
		}
	}
	op, seq, order, err := db.cursor(ctx, "contacts", teamID, p)
	if err != nil {
		return nil, false, err
	}
	var query string
	var args []any
	if segmentID == "" {
		query = `SELECT ` + contactColumns + ` FROM contacts WHERE team_id = ?`
		args = []any{teamID}
		if op != "" {
			query += ` AND seq ` + op + ` ?`
			args = append(args, seq)
		}
		query += ` ORDER BY seq ` + order + ` LIMIT ?`
	} else {
		query = `SELECT ` + qualified("c", contactColumns) + ` FROM contact_segments m JOIN contacts c ON c.id = m.contact_id
			WHERE m.segment_id = ? AND m.team_id = ? AND c.team_id = ?`
		args = []any{segmentID, teamID, teamID}
		if op != "" {
			query += ` AND m.contact_seq ` + op + ` ?`
			args = append(args, seq)
		}
		query += ` ORDER BY m.contact_seq ` + order + ` LIMIT ?`
	}
	args = append(args, limit+1)
	return queryPage(ctx, db, db.r, "list contacts", query, args, limit, order == "ASC", scanContact)
}

// UpdateContact implements store.Store.
func (db *DB) UpdateContact(ctx context.Context, c *store.Contact, events ...*store.Event) error {
	props, err := propertiesText(c.Properties)
	if err != nil {
		return fmt.Errorf("update contact: %w", err)
	}
	err = db.changeDomain(ctx, "update contact", events, `UPDATE contacts SET email = ?, email_key = ?, first_name = ?, last_name = ?,
		unsubscribed = ?, properties = ?, updated_at = ? WHERE team_id = ? AND id = ?`,
		c.Email, emailKey(c.Email), nullString(c.FirstName), nullString(c.LastName), b2i(c.Unsubscribed), props, micros(c.UpdatedAt),
		c.TeamID, c.ID)
	if isUniqueViolation(err) {
		return store.ErrConflict
	}
	return err
}

// DeleteContact implements store.Store. Its memberships and topic
// subscriptions go with it (ON DELETE CASCADE).
func (db *DB) DeleteContact(ctx context.Context, teamID, id string, events ...*store.Event) error {
	return db.changeDomain(ctx, "delete contact", events, `DELETE FROM contacts WHERE team_id = ? AND id = ?`, teamID, id)
}

// AddContactToSegment implements store.Store, in one statement that
// inserts nothing unless both are the team's; only then does it look
// further, to tell an existing membership from an unknown id.
func (db *DB) AddContactToSegment(ctx context.Context, teamID, contactID, segmentID string, at time.Time) error {
	res, err := db.w.ExecContext(ctx, db.q(`INSERT INTO contact_segments (team_id, contact_id, segment_id, contact_seq, created_at)
		SELECT c.team_id, c.id, s.id, c.seq, ? FROM contacts c, segments s
		WHERE c.team_id = ? AND c.id = ? AND s.team_id = ? AND s.id = ?
		ON CONFLICT (contact_id, segment_id) DO NOTHING`), micros(at), teamID, contactID, teamID, segmentID)
	if isForeignKeyViolation(err) { // the contact or segment was deleted meanwhile
		return store.ErrNotFound
	}
	if err != nil {
		return fmt.Errorf("add contact to segment: %w", interpretError(err))
	}
	if n, err := res.RowsAffected(); err != nil || n > 0 {
		return err
	}
	return db.exists(ctx, `SELECT 1 FROM contact_segments WHERE team_id = ? AND contact_id = ? AND segment_id = ?`,
		teamID, contactID, segmentID)
}

// RemoveContactFromSegment implements store.Store.
func (db *DB) RemoveContactFromSegment(ctx context.Context, teamID, contactID, segmentID string) error {
	res, err := db.w.ExecContext(ctx, db.q(`DELETE FROM contact_segments WHERE team_id = ? AND contact_id = ? AND segment_id = ?`),
		teamID, contactID, segmentID)
	if err != nil {
		return fmt.Errorf("remove contact from segment: %w", interpretError(err))
	}
	return mustAffect(res)
}

// ListContactSegments implements store.Store: newest first is the
// segments' order, as in ListSegments, and a cursor is one of the team's
// segments.
func (db *DB) ListContactSegments(ctx context.Context, teamID, contactID string, p store.Page) ([]*store.Segment, bool, error) {
	limit := cmpLimit(p.Limit)
	if err := db.exists(ctx, `SELECT 1 FROM contacts WHERE team_id = ? AND id = ?`, teamID, contactID); err != nil {
		return nil, false, err
	}
	op, seq, order, err := db.cursor(ctx, "segments", teamID, p)
	if err != nil {
		return nil, false, err
	}
	query := `SELECT ` + qualified("s", segmentColumns) + ` FROM contact_segments m JOIN segments s ON s.id = m.segment_id
		WHERE m.contact_id = ? AND m.team_id = ? AND s.team_id = ?`
	args := []any{contactID, teamID, teamID}
	if op != "" {
		query += ` AND s.seq ` + op + ` ?`
		args = append(args, seq)
	}
	args = append(args, limit+1)
	return queryPage(ctx, db, db.r, "list contact segments", query+` ORDER BY s.seq `+order+` LIMIT ?`, args, limit, order == "ASC", scanSegment)
}
