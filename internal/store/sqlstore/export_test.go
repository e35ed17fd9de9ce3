package sqlstore

import "context"

// MigrateDownTo reverts migrations down to version, for migration tests.
func (db *DB) MigrateDownTo(ctx context.Context, version int64) error {
	p, err := db.migrations(ctx)
	if err != nil {
		return err
	}
	_, err = p.DownTo(ctx, version)
	return err
}

// PendingAccepts is the number of accept requests handed over and not yet
// taken by a committer.
func PendingAccepts(db *DB) int { return len(db.accepts) }
