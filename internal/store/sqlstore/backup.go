package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
)

// # Online backup (SQLite)
//
// BackupSQLite copies a SQLite store with VACUUM INTO through a read-only
// connection of its own: the copy is one read transaction's snapshot (WAL
// lets the server's writer go on meanwhile), so it is consistent, and it
// is written compacted into a new file that opens as a store by itself.
// PostgreSQL has pg_dump for this.

// Backup describes the copy BackupSQLite wrote.
type Backup struct {
	Path    string
	Bytes   int64
	Emails  int64
	Version int64 // the last migration applied in the copy
	// LogsPath and LogsBytes describe the request logs' copy, when made.
	LogsPath  string
	LogsBytes int64
}

// ErrBackupExists is returned when the backup's file exists already.
var ErrBackupExists = errors.New("the backup file exists")

// BackupSQLite copies the SQLite database at dsn (a path or sqlite: URL)
// into the new file to, and, with withLogs, the request logs' file beside
// it into to's own -logs file. It never overwrites a file, and works while
// a server writes the database.
func BackupSQLite(ctx context.Context, dsn, to string, withLogs bool) (*Backup, error) {
	if IsPostgresURL(dsn) {
		return nil, errors.New("a PostgreSQL database is backed up with pg_dump")
	}
	src := SQLitePath(dsn)
	if _, err := os.Stat(src); err != nil {
		return nil, fmt.Errorf("no database to back up: %w", err)
	}
	targets := []string{to}
	if withLogs {
		targets = append(targets, logsPath(to))
	}
	for _, t := range targets {
		if _, err := os.Lstat(t); err == nil {
			return nil, fmt.Errorf("%w: %s (a backup never overwrites a file: choose a new name)", ErrBackupExists, t)
		} else if !errors.Is(err, os.ErrNotExist) {
			return nil, err
		}
	}
	b := &Backup{Path: to}
	if err := vacuumInto(ctx, src, to); err != nil {
		return nil, err
	}
	if err := checkBackup(ctx, to, b); err != nil {
		return nil, err
	}
	if withLogs {
		if _, err := os.Stat(logsPath(src)); err == nil {
			if err := vacuumInto(ctx, logsPath(src), logsPath(to)); err != nil {
				return nil, fmt.Errorf("request logs: %w", err)
			}
			st, err := os.Stat(logsPath(to))
			if err != nil {
				return nil, err
			}
			b.LogsPath, b.LogsBytes = logsPath(to), st.Size()
		}
	}
	return b, nil
}

// vacuumInto writes a consistent copy of the database file src into the
// new file to, through a read-only connection. The file is made first,
// exclusively and readable by its owner only (it holds key hashes and
// sealed secrets); VACUUM INTO fills an empty file.
func vacuumInto(ctx context.Context, src, to string) error {
	f, err := os.OpenFile(to, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if errors.Is(err, os.ErrExist) {
		return fmt.Errorf("%w: %s (a backup never overwrites a file: choose a new name)", ErrBackupExists, to)
	}
	if err != nil {
		return fmt.Errorf("create the backup: %w", err)
	}
	if err := f.Close(); err != nil {
		return err
	}
	c, err := sql.Open("sqlite", "file:"+url.PathEscape(src)+"?mode=ro&_pragma=busy_timeout(10000)")
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetMaxOpenConns(1)
	if _, err := c.ExecContext(ctx, `VACUUM INTO ?`, to); err != nil {
		os.Remove(to) // a partial copy is no backup
		return fmt.Errorf("copy %s: %w", src, err)
	}
	return nil
}

// checkBackup checks the copy's integrity and reads what it holds into b.
func checkBackup(ctx context.Context, path string, b *Backup) error {
	c, err := sql.Open("sqlite", "file:"+url.PathEscape(path)+"?_pragma=query_only(1)")
	if err != nil {
		return err
	}
	defer c.Close()
	var ok string
	if err := c.QueryRowContext(ctx, `PRAGMA quick_check`).Scan(&ok); err != nil || ok != "ok" {
		return fmt.Errorf("the backup %s fails its check (%v %s)", path, err, ok)
	}
	if err := c.QueryRowContext(ctx, `SELECT count(*) FROM emails`).Scan(&b.Emails); err != nil {
		return fmt.Errorf("read the backup: %w", err)
	}
	if err := c.QueryRowContext(ctx, `SELECT COALESCE(MAX(version_id), 0) FROM goose_db_version WHERE is_applied`).Scan(&b.Version); err != nil {
		return fmt.Errorf("read the backup: %w", err)
	}
	st, err := os.Stat(path)
	if err != nil {
		return err
	}
	b.Bytes = st.Size()
	return nil
}
