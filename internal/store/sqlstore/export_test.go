package sqlstore

// PendingAccepts is the number of accept requests handed over and not yet
// taken by a committer.
func PendingAccepts(db *DB) int { return len(db.accepts) }
