package leader_test

import (
	"context"
	"database/sql"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	_ "github.com/jackc/pgx/v5/stdlib"
	"github.com/stretchr/testify/require"

	"github.com/godwit/godwit/internal/godwittest"
	"github.com/godwit/godwit/internal/leader"
	"github.com/godwit/godwit/internal/store/sqlstore"
)

// TestOneLeaderAndFailover: three nodes' electors for one piece of work:
// exactly one runs it at a time; when the leader stops, or its session is
// killed (as when its machine dies), another takes over (after a kill the
// old one may overlap it until its next check of the session).
func TestOneLeaderAndFailover(t *testing.T) {
	t.Parallel()
	dsn := godwittest.StoreURL(t, sqlstore.Postgres)
	name := "test-" + uuid.NewString()
	var running, most atomic.Int32
	var mu sync.Mutex
	var leaders []int // the elector that ran, in order
	cancels := make([]context.CancelFunc, 3)
	var wg sync.WaitGroup
	for i := range 3 {
		ctx, cancel := context.WithCancel(context.Background())
		cancels[i] = cancel
		e := &leader.Elector{DSN: dsn, Name: name, Retry: 100 * time.Millisecond}
		wg.Add(1)
		go func() {
			defer wg.Done()
			e.Run(ctx, func(ctx context.Context) {
				n := running.Add(1)
				for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
				}
				mu.Lock()
				leaders = append(leaders, i)
				mu.Unlock()
				<-ctx.Done()
				running.Add(-1)
			})
		}()
	}
	t.Cleanup(func() {
		for _, c := range cancels {
			c()
		}
		wg.Wait()
	})
	current := func() int {
		mu.Lock()
		defer mu.Unlock()
		if len(leaders) == 0 {
			return -1
		}
		return leaders[len(leaders)-1]
	}
	count := func() int {
		mu.Lock()
		defer mu.Unlock()
		return len(leaders)
	}
	require.Eventually(t, func() bool { return running.Load() == 1 }, 10*time.Second, 10*time.Millisecond)
	first := current()

	// A clean stop: another node takes over.
	cancels[first]()
	require.Eventually(t, func() bool { return count() == 2 && running.Load() == 1 }, 10*time.Second, 10*time.Millisecond)
	second := current()
	require.NotEqual(t, first, second)
	require.EqualValues(t, 1, most.Load(), "never two at once while sessions last")

	// The leader's session killed: it stops, and the third node runs it.
	db, err := sql.Open("pgx", dsn)
	require.NoError(t, err)
	defer db.Close()
	var killed int
	require.NoError(t, db.QueryRow(`SELECT count(pg_terminate_backend(pid)) FROM pg_locks WHERE locktype = 'advisory' AND granted
		AND ((classid::bigint << 32) | objid::bigint) = $1`, leader.LockID(name)).Scan(&killed))
	require.Equal(t, 1, killed)
	// A killed session may overlap the next leader by up to Retry, until
	// the old one sees its session gone; then one runs again.
	require.Eventually(t, func() bool { return count() >= 3 && running.Load() == 1 }, 10*time.Second, 10*time.Millisecond)
}
