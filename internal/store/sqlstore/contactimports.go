package sqlstore

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/godwit/godwit/internal/store"
)

const contactImportColumns = `id, team_id, status, total, created, updated, skipped, failed, created_at, completed_at`

func scanContactImport(row interface{ Scan(...any) error }) (*store.ContactImport, error) {
	var ci store.ContactImport
	var created int64
	var completed sql.NullInt64
	if err := row.Scan(&ci.ID, &ci.TeamID, &ci.Status, &ci.Total, &ci.Created, &ci.Updated, &ci.Skipped, &ci.Failed,
		&created, &completed); err != nil {
		return nil, interpretError(err)
	}
	ci.CreatedAt, ci.CompletedAt = fromMicros(created), timePtr(completed)
	return &ci, nil
}

// CreateContactImport implements store.Store.
func (db *DB) CreateContactImport(ctx context.Context, ci *store.ContactImport) error {
	_, err := db.w.ExecContext(ctx, db.q(`INSERT INTO contact_imports (`+contactImportColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
		ci.ID, ci.TeamID, ci.Status, ci.Total, ci.Created, ci.Updated, ci.Skipped, ci.Failed,
		micros(ci.CreatedAt), nullMicros(ci.CompletedAt))
	if isUniqueViolation(err) {
		return store.ErrConflict
	}
	if err != nil {
		return fmt.Errorf("create contact import: %w", interpretError(err))
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
	return queryPage(ctx, db, "list contact imports", `SELECT `+contactImportColumns+` FROM contact_imports WHERE `+where+`
		ORDER BY seq `+order+` LIMIT ?`, args, limit, order == "ASC", scanContactImport)
}
