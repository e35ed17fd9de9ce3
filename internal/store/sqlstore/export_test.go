package sqlstore

import (
	"context"

	"github.com/godwit/godwit/internal/store"
)

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

// ExplainSearchForced is ExplainSearchEmails with PostgreSQL's sequential
// scans and sorts priced out (a test's tables are too small for the
// planner to prefer an index on its own): a plan that still scans or sorts
// has no index that serves the query.
func (db *DB) ExplainSearchForced(ctx context.Context, teamID string, f store.EmailFilter, p store.Page) (string, error) {
	query, args, err := db.searchQuery(ctx, teamID, f, p)
	if err != nil {
		return "", err
	}
	return db.explain(ctx, query, args, db.forceIndexes())
}

// ExplainCapturedForced is ExplainSearchForced for ListCapturedMessages.
func (db *DB) ExplainCapturedForced(ctx context.Context, teamID string, p store.Page) (string, error) {
	query, args, err := db.capturedQuery(ctx, teamID, p)
	if err != nil {
		return "", err
	}
	return db.explain(ctx, query, args, db.forceIndexes())
}

func (db *DB) forceIndexes() []string {
	if db.dialect == Postgres {
		return []string{"SET LOCAL enable_seqscan = off", "SET LOCAL enable_sort = off"}
	}
	return nil
}

// MigrateUpTo applies the pending migrations up to version and no
// further, for upgrade tests that start from an older schema.
func (db *DB) MigrateUpTo(ctx context.Context, version int64) error {
	p, err := db.migrations(ctx)
	if err != nil {
		return err
	}
	_, err = p.UpTo(ctx, version)
	return err
}

// PendingOutcomes is the number of delivery outcomes handed over and not
// yet taken by a committer.
func PendingOutcomes(db *DB) int { return len(db.outcomes) }

// Q rewrites query's ? placeholders for db's dialect, for tests that query
// the tables themselves.
func (db *DB) Q(query string) string { return db.q(query) }
