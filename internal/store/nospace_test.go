package store_test

import (
	"errors"
	"fmt"
	"io/fs"
	"syscall"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/require"

	"github.com/godwit/godwit/internal/store"
)

// SQLITE_FULL is covered with a real SQLite error in internal/api
// (TestStorageFull); PostgreSQL's disk_full is built here as pgconn builds it.
func TestIsNoSpace(t *testing.T) {
	for _, err := range []error{
		store.ErrNoSpace,
		fmt.Errorf("heartbeat: %w", store.ErrNoSpace),
		&fs.PathError{Op: "write", Path: "/data/godwit.db-wal", Err: syscall.ENOSPC},
		fmt.Errorf("accept: commit: %w", &pgconn.PgError{Code: "53100", Message: "could not extend file"}),
	} {
		require.True(t, store.IsNoSpace(err), "%v", err)
	}
	for _, err := range []error{
		nil,
		errors.New("disk full"), // text is not enough
		store.ErrClosed,
		&pgconn.PgError{Code: "23505"},
		syscall.EIO,
	} {
		require.False(t, store.IsNoSpace(err), "%v", err)
	}
}
