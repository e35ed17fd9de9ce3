package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/godwit/godwit/internal/store"
)

// Contact imports: the import record, its source (the CSV and options the
// job reads, deleted when the import ends) and the batches its job
// commits. A batch's first statement is the guarded update of the import's
// progress, so that on PostgreSQL two runs of one job queue on the
// import's row and the second finds the progress moved (ErrImportState);
// on SQLite the single writer orders them.

const contactImportColumns = `id, team_id, status, total, created, updated, skipped, failed, created_at, completed_at,
	row_offset, failure_reason`

func scanContactImport(row interface{ Scan(...any) error }) (*store.ContactImport, error) {
	var ci store.ContactImport
	var created int64
	var completed sql.NullInt64
	n := &ci.Counts
	if err := row.Scan(&ci.ID, &ci.TeamID, &ci.Status, &n.Total, &n.Created, &n.Updated, &n.Skipped, &n.Failed,
		&created, &completed, &ci.RowOffset, &ci.Reason); err != nil {
		return nil, interpretError(err)
	}
	ci.CreatedAt, ci.CompletedAt = fromMicros(created), timePtr(completed)
	return &ci, nil
}

// CreateContactImport implements store.Store.
func (db *DB) CreateContactImport(ctx context.Context, ci *store.ContactImport, src *store.ContactImportSource) error {
	tx, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("create contact import: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	n := ci.Counts
	_, err = tx.ExecContext(ctx, db.q(`INSERT INTO contact_imports (`+contactImportColumns+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
		ci.ID, ci.TeamID, ci.Status, n.Total, n.Created, n.Updated, n.Skipped, n.Failed,
		micros(ci.CreatedAt), nullMicros(ci.CompletedAt), ci.RowOffset, ci.Reason)
	if isUniqueViolation(err) {
		return store.ErrConflict
	}
	if err != nil {
		return fmt.Errorf("create contact import: %w", interpretError(err))
	}
	if src != nil {
		if _, err := tx.ExecContext(ctx, db.q(`INSERT INTO contact_import_sources (import_id, csv, options) VALUES (?, ?, ?)`),
			ci.ID, src.CSV, string(src.Options)); err != nil {
			return fmt.Errorf("create contact import: source: %w", interpretError(err))
		}
		if ci.Status == store.ImportQueued {
			if err := db.outbox.RunContactImport(ctx, tx, ci.TeamID, ci.ID); err != nil {
				return fmt.Errorf("enqueue contact import: %w", err)
			}
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("create contact import: commit: %w", err)
	}
	return nil
}

// GetContactImport implements store.Store.
func (db *DB) GetContactImport(ctx context.Context, teamID, id string) (*store.ContactImport, error) {
	return scanContactImport(db.r.QueryRowContext(ctx,
		db.q(`SELECT `+contactImportColumns+` FROM contact_imports WHERE team_id = ? AND id = ?`), teamID, id))
}

// ListContactImports implements store.Store. A cursor is any of the
// team's imports, whatever its status.
func (db *DB) ListContactImports(ctx context.Context, teamID, status string, p store.Page) ([]*store.ContactImport, bool, error) {
	limit := cmpLimit(p.Limit)
	op, seq, order, err := db.cursor(ctx, "contact_imports", teamID, p)
	if err != nil {
		return nil, false, err
	}
	where, args := `team_id = ?`, []any{teamID}
	if status != "" {
		where += ` AND status = ?`
		args = append(args, status)
	}
	if op != "" {
		where += ` AND seq ` + op + ` ?`
		args = append(args, seq)
	}
	args = append(args, limit+1)
	return queryPage(ctx, db, db.r, "list contact imports", `SELECT `+contactImportColumns+` FROM contact_imports WHERE `+where+`
		ORDER BY seq `+order+` LIMIT ?`, args, limit, order == "ASC", scanContactImport)
}

// GetContactImportSource implements store.Store.
func (db *DB) GetContactImportSource(ctx context.Context, teamID, id string) (*store.ContactImportSource, error) {
	var src store.ContactImportSource
	var opts string
	err := db.r.QueryRowContext(ctx, db.q(`SELECT s.csv, s.options FROM contact_import_sources s
		JOIN contact_imports i ON i.id = s.import_id WHERE i.team_id = ? AND i.id = ?`), teamID, id).Scan(&src.CSV, &opts)
	if err != nil {
		return nil, interpretError(err)
	}
	src.Options = []byte(opts)
	return &src, nil
}

// StartContactImport implements store.Store.
func (db *DB) StartContactImport(ctx context.Context, teamID, id string) (*store.ContactImport, error) {
	if _, err := db.w.ExecContext(ctx, db.q(`UPDATE contact_imports SET status = ? WHERE team_id = ? AND id = ? AND status = ?`),
		store.ImportInProgress, teamID, id, store.ImportQueued); err != nil {
		return nil, fmt.Errorf("start contact import: %w", interpretError(err))
	}
	return scanContactImport(db.w.QueryRowContext(ctx,
		db.q(`SELECT `+contactImportColumns+` FROM contact_imports WHERE team_id = ? AND id = ?`), teamID, id))
}

// ContactsByEmail implements store.Store.
func (db *DB) ContactsByEmail(ctx context.Context, teamID string, emails []string) ([]*store.Contact, error) {
	if len(emails) == 0 {
		return nil, nil
	}
	var out []*store.Contact
	for _, chunk := range chunks(emails, maxInList) {
		args := make([]any, 0, len(chunk)+1)
		args = append(args, teamID)
		for _, e := range chunk {
			args = append(args, emailKey(e))
		}
		rows, err := db.r.QueryContext(ctx, db.q(`SELECT `+contactColumns+` FROM contacts WHERE team_id = ? AND email_key IN (`+
			placeholders(len(chunk))+`)`), args...)
		if err != nil {
			return nil, fmt.Errorf("contacts by email: %w", interpretError(err))
		}
		for rows.Next() {
			c, err := scanContact(rows)
			if err != nil {
				rows.Close()
				return nil, fmt.Errorf("contacts by email: %w", err)
			}
			out = append(out, c)
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return nil, fmt.Errorf("contacts by email: %w", interpretError(err))
		}
	}
	return out, nil
}

// WriteContactImportBatch implements store.Store.
func (db *DB) WriteContactImportBatch(ctx context.Context, b *store.ContactImportBatch) error {
	err := db.writeImportBatch(ctx, b)
	switch {
	case errors.Is(err, store.ErrImportState), errors.Is(err, store.ErrConflict), errors.Is(err, store.ErrNotFound):
		return err
	case isUniqueViolation(err):
		return store.ErrConflict
	case isForeignKeyViolation(err): // a segment or topic deleted meanwhile
		return store.ErrNotFound
	case err != nil:
		return fmt.Errorf("write contact import batch: %w", interpretError(err))
	}
	return nil
}

func (db *DB) writeImportBatch(ctx context.Context, b *store.ContactImportBatch) error {
	tx, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	status, completed := store.ImportInProgress, sql.NullInt64{}
	if b.Done {
		status, completed = store.ImportCompleted, sql.NullInt64{Int64: micros(b.At), Valid: true}
	}
	n := b.Counts
	res, err := tx.ExecContext(ctx, db.q(`UPDATE contact_imports SET row_offset = ?, total = total + ?, created = created + ?,
		updated = updated + ?, skipped = skipped + ?, failed = failed + ?, status = ?, completed_at = ?
		WHERE team_id = ? AND id = ? AND status = ? AND row_offset = ?`),
		b.To, n.Total, n.Created, n.Updated, n.Skipped, n.Failed, status, completed,
		b.TeamID, b.ImportID, store.ImportInProgress, b.From)
	if err != nil {
		return err
	}
	if k, err := res.RowsAffected(); err != nil {
		return err
	} else if k == 0 {
		return store.ErrImportState
	}
	for _, c := range b.Create {
		if err := db.importCreate(ctx, tx, c); err != nil {
			return err
		}
	}
	for _, u := range b.Update {
		if err := db.importUpdate(ctx, tx, u); err != nil {
			return err
		}
	}
	if b.Done {
		if _, err := tx.ExecContext(ctx, db.q(`DELETE FROM contact_import_sources WHERE import_id = ?`), b.ImportID); err != nil {
			return err
		}
	}
	return tx.Commit()
}

// importCreate inserts one contact of a batch with its segments and
// topics; ErrConflict if its address is taken (by a change since the job
// looked).
func (db *DB) importCreate(ctx context.Context, tx *sql.Tx, c *store.Contact) error {
	props, err := propertiesText(c.Properties)
	if err != nil {
		return err
	}
	var seq int64
	err = tx.QueryRowContext(ctx, db.q(`INSERT INTO contacts (`+contactColumns+`, email_key)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (team_id, email_key) DO NOTHING RETURNING seq`),
		c.ID, c.TeamID, c.Email, nullString(c.FirstName), nullString(c.LastName), b2i(c.Unsubscribed), props,
		micros(c.CreatedAt), micros(c.UpdatedAt), emailKey(c.Email)).Scan(&seq)
	if errors.Is(err, sql.ErrNoRows) {
		return store.ErrConflict
	}
	if err != nil {
		return err
	}
	for _, segmentID := range c.SegmentIDs {
		res, err := tx.ExecContext(ctx, db.q(joinSegmentSQL), c.TeamID, c.ID, seq, micros(c.CreatedAt), c.TeamID, segmentID)
		if err != nil {
			return err
		}
		if err := mustAffect(res); err != nil { // a new contact is in no segment: not the team's
			return err
		}
	}
	return db.setTopicsTx(ctx, tx, c.TeamID, c.ID, c.Topics, c.CreatedAt)
}

// importUpdate writes one contact of a batch if it is unchanged since it
// was read (ErrConflict otherwise), joins its segments and sets its topics.
func (db *DB) importUpdate(ctx context.Context, tx *sql.Tx, u *store.ContactImportUpdate) error {
	c := u.Contact
	props, err := propertiesText(c.Properties)
	if err != nil {
		return err
	}
	var seq int64
	err = tx.QueryRowContext(ctx, db.q(`UPDATE contacts SET first_name = ?, last_name = ?, unsubscribed = ?, properties = ?,
		updated_at = ? WHERE team_id = ? AND id = ? AND updated_at = ? RETURNING seq`),
		nullString(c.FirstName), nullString(c.LastName), b2i(c.Unsubscribed), props, micros(c.UpdatedAt),
		c.TeamID, c.ID, micros(u.Read)).Scan(&seq)
	if errors.Is(err, sql.ErrNoRows) {
		return store.ErrConflict // changed or deleted since it was read
	}
	if err != nil {
		return err
	}
	for _, segmentID := range c.SegmentIDs {
		res, err := tx.ExecContext(ctx, db.q(joinSegmentSQL), c.TeamID, c.ID, seq, micros(c.UpdatedAt), c.TeamID, segmentID)
		if err != nil {
			return err
		}
		if k, err := res.RowsAffected(); err != nil {
			return err
		} else if k == 0 { // a member already, or not the team's segment
			var one int
			if err := tx.QueryRowContext(ctx, db.q(`SELECT 1 FROM segments WHERE team_id = ? AND id = ?`),
				c.TeamID, segmentID).Scan(&one); err != nil {
				return interpretError(err)
			}
		}
	}
	return db.setTopicsTx(ctx, tx, c.TeamID, c.ID, c.Topics, c.UpdatedAt)
}

// FailContactImport implements store.Store.
func (db *DB) FailContactImport(ctx context.Context, teamID, id, reason string, at time.Time) error {
	tx, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("fail contact import: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	res, err := tx.ExecContext(ctx, db.q(`UPDATE contact_imports SET status = ?, failure_reason = ?, completed_at = ?
		WHERE team_id = ? AND id = ? AND status IN (?, ?)`),
		store.ImportFailed, reason, micros(at), teamID, id, store.ImportQueued, store.ImportInProgress)
	if err != nil {
		return fmt.Errorf("fail contact import: %w", interpretError(err))
	}
	if k, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("fail contact import: %w", err)
	} else if k == 0 {
		var one int
		if err := tx.QueryRowContext(ctx, db.q(`SELECT 1 FROM contact_imports WHERE team_id = ? AND id = ?`), teamID, id).Scan(&one); err != nil {
			return interpretError(err)
		}
		return store.ErrImportState
	}
	if _, err := tx.ExecContext(ctx, db.q(`DELETE FROM contact_import_sources WHERE import_id = ?`), id); err != nil {
		return fmt.Errorf("fail contact import: %w", interpretError(err))
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("fail contact import: commit: %w", err)
	}
	return nil
}
