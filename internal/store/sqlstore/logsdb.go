package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"io/fs"
	"path/filepath"
	"strings"

	"github.com/pressly/goose/v3"
)

// # Request logs in their own file (SQLite)
//
// On SQLite the request logs (the Logs API) live in a database file of
// their own next to the main one (godwit.db → godwit-logs.db), with its own
// migrations (migrations/sqlite-logs). They are written at the rate of API
// requests, bodies included, and are worth far less than what the main
// file holds. In the main file, every batch of logs (about 10 ms for 256
// logged POST /emails) held SQLite's one writer while the accepts' group
// commit waited, and the sweep of expired logs would hold it too. In their
// own file they have their own writer, WAL and checkpoints, and use
// synchronous=NORMAL: a power loss may lose the last logs written, never an
// email. On PostgreSQL they stay in the one database (logW and logR are the
// pool), which handles concurrent writers itself.

// logsPath is the file of the request logs beside the main database file.
func logsPath(mainPath string) string {
	ext := filepath.Ext(mainPath)
	return strings.TrimSuffix(mainPath, ext) + "-logs" + ext
}

// openLogs opens the request logs' file: one writing connection, a pool of
// readers.
func (db *DB) openLogs() error {
	path := logsPath(db.path)
	const pragmas = "_pragma=page_size(16384)&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)&_pragma=busy_timeout(10000)"
	w, r, err := openSQLitePools(path, pragmas, "", 4)
	if err != nil {
		return fmt.Errorf("request log database: %w", err)
	}
	db.logW, db.logR = w, r
	return nil
}

// migrateLogs applies the request logs' file's own migrations (SQLite).
func (db *DB) migrateLogs(ctx context.Context) error {
	if db.dialect != SQLite {
		return nil
	}
	fsys, err := fs.Sub(migrations, "migrations/sqlite-logs")
	if err != nil {
		return err
	}
	p, err := goose.NewProvider(goose.DialectSQLite3, db.logW, fsys)
	if err != nil {
		return fmt.Errorf("request log migrations: %w", err)
	}
	if _, err := p.Up(ctx); err != nil {
		return fmt.Errorf("apply request log migrations: %w", err)
	}
	return nil
}

// LogWriter returns the *sql.DB the request logs are written through: their
// own file's on SQLite, Writer() on PostgreSQL.
func (db *DB) LogWriter() *sql.DB { return db.logW }
