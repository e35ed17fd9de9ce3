package store

import (
	"errors"
	"syscall"
)

// ErrNoSpace means a write failed because the database's disk is full.
// Nothing of the write was committed, and it may succeed once space is
// freed: the API answers 503.
var ErrNoSpace = errors.New("store: no space left for the database")

// IsNoSpace reports whether err is a write that failed for lack of disk
// space: ErrNoSpace, ENOSPC from the file system, SQLite's SQLITE_FULL
// (primary result code 13, from a driver error with a Code() int method, as
// modernc.org/sqlite's) or PostgreSQL's SQLSTATE 53100 disk_full (from a
// driver error with a SQLState() string method, as pgconn's). The drivers'
// errors are recognised by their methods so that this package imports none.
func IsNoSpace(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, ErrNoSpace) || errors.Is(err, syscall.ENOSPC) {
		return true
	}
	var sqlite interface{ Code() int }
	if errors.As(err, &sqlite) && sqlite.Code()&0xff == sqliteFull {
		return true
	}
	var pg interface{ SQLState() string }
	return errors.As(err, &pg) && pg.SQLState() == pgDiskFull
}

const (
	sqliteFull = 13      // SQLITE_FULL: "insertion failed because database is full"
	pgDiskFull = "53100" // disk_full
)
