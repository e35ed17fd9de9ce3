package queue_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/godwit/godwit/internal/contactimport"
	"github.com/godwit/godwit/internal/godwittest"
	"github.com/godwit/godwit/internal/queue"
	"github.com/godwit/godwit/internal/store"
	"github.com/godwit/godwit/internal/store/sqlstore"
)

// waitImport polls an import until it has ended (or the deadline passes).
func (e *env) waitImport(id string, within time.Duration) *store.ContactImport {
	e.t.Helper()
	deadline := time.Now().Add(within)
	for {
		ci, err := e.db.GetContactImport(context.Background(), e.team.ID, id)
		require.NoError(e.t, err)
		if ci.Status == store.ImportCompleted || ci.Status == store.ImportFailed {
			return ci
		}
		require.True(e.t, time.Now().Before(deadline), "import still %s", ci.Status)
		time.Sleep(20 * time.Millisecond)
	}
}

// TestContactImportRunsOnItsJob: an import created through the importer
// is enqueued with it and run by the queue's import worker to completed.
func TestContactImportRunsOnItsJob(t *testing.T) {
	for _, kind := range godwittest.Kinds {
		t.Run(string(kind), func(t *testing.T) {
			t.Parallel()
			e := startWith(t, kind, func(c *queue.Config, db *sqlstore.DB) {
				c.Imports = &contactimport.Importer{Store: db, BatchSize: 7}
				c.ImportWorkers = 1
			})
			var csv strings.Builder
			csv.WriteString("email\n")
			for i := range 30 {
				fmt.Fprintf(&csv, "c%d@example.net\n", i)
			}
			im := &contactimport.Importer{Store: e.db}
			ci, err := im.Create(context.Background(), contactimport.Request{TeamID: e.team.ID, CSV: []byte(csv.String())})
			require.NoError(t, err)
			got := e.waitImport(ci.ID, 15*time.Second)
			require.Equal(t, store.ImportCompleted, got.Status)
			require.Equal(t, store.ContactImportCounts{Total: 30, Created: 30}, got.Counts)
		})
	}
}

// TestContactImportJobPanics: an import whose job panics is not retried
// into the same panic, and fails instead of staying in_progress.
func TestContactImportJobPanics(t *testing.T) {
	t.Parallel()
	e := startWith(t, sqlstore.SQLite, func(c *queue.Config, db *sqlstore.DB) {
		c.Imports = &contactimport.Importer{Store: db, BatchSize: 1, AfterBatch: func(int) error { panic("boom") }}
	})
	ci, err := (&contactimport.Importer{Store: e.db}).Create(context.Background(),
		contactimport.Request{TeamID: e.team.ID, CSV: []byte("email\na@example.net\nb@example.net\n")})
	require.NoError(t, err)
	got := e.waitImport(ci.ID, 15*time.Second)
	require.Equal(t, store.ImportFailed, got.Status)
	require.Equal(t, "internal error", got.Reason)
	require.Equal(t, store.ContactImportCounts{Total: 1, Created: 1}, got.Counts, "the batch committed before the panic")
}
