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
