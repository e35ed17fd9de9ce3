package sqlstore_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/godwit/godwit/internal/godwittest"
	"github.com/godwit/godwit/internal/store"
	"github.com/godwit/godwit/internal/store/sqlstore"
)

// TestRequestLogsOwnFile: on SQLite the request logs are written to their
// own file beside the main one, which holds no request_logs table, and
// they are there again after a reopen.
func TestRequestLogsOwnFile(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "godwit.db")
	db, err := sqlstore.Open(ctx, path, sqlstore.Options{Outbox: godwittest.NewOutbox()})
	require.NoError(t, err)
	l := &store.RequestLog{ID: store.NewID(), TeamID: "team", APIKeyID: "k", RequestID: "r", Method: "GET", Endpoint: "/domains",
		Status: 200, ResponseBody: []byte(`{"data":[]}`), CreatedAt: time.Now()}
	require.NoError(t, db.AddRequestLogs(ctx, []*store.RequestLog{l}))
	var n int
	require.NoError(t, db.Writer().QueryRowContext(ctx,
		`SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'request_logs'`).Scan(&n))
	require.Zero(t, n, "the main file has no request_logs table")
	require.NoError(t, db.Close())

	_, err = os.Stat(filepath.Join(filepath.Dir(path), "godwit-logs.db"))
	require.NoError(t, err, "the request logs' file")
	db, err = sqlstore.Open(ctx, path, sqlstore.Options{Outbox: godwittest.NewOutbox()})
	require.NoError(t, err)
	defer db.Close()
	got, err := db.GetRequestLog(ctx, "team", l.ID)
	require.NoError(t, err)
	require.JSONEq(t, `{"data":[]}`, string(got.ResponseBody))
}

// TestRequestLogSegmentsSwept: a segment is deleted with the last of its
// logs, not before, on both databases.
func TestRequestLogSegmentsSwept(t *testing.T) {
	t.Parallel()
	for _, kind := range godwittest.Kinds {
		t.Run(string(kind), func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			db, err := sqlstore.Open(ctx, godwittest.StoreURL(t, kind), sqlstore.Options{Outbox: godwittest.NewOutbox()})
			require.NoError(t, err)
			defer db.Close()
			t0 := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
			segments := func() int {
				var n int
				require.NoError(t, db.LogWriter().QueryRowContext(ctx, `SELECT COUNT(*) FROM request_log_bodies`).Scan(&n))
				return n
			}
			for i := range 3 { // three flushes: three segments
				l := &store.RequestLog{ID: store.NewID(), TeamID: "team", APIKeyID: "k", RequestID: "r", Method: "GET",
					Endpoint: "/domains", Status: 200, ResponseBody: []byte(`{"data":[]}`), CreatedAt: t0.Add(time.Duration(i) * time.Hour)}
				require.NoError(t, db.AddRequestLogs(ctx, []*store.RequestLog{l}))
			}
			require.Equal(t, 3, segments())
			_, err = db.DeleteRequestLogsBefore(ctx, t0.Add(90*time.Minute), 100)
			require.NoError(t, err)
			require.Equal(t, 1, segments(), "the segments of the two swept logs go, the third stays")
		})
	}
}
