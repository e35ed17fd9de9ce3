package connlimit_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/godwit/godwit/internal/connlimit"
	"github.com/godwit/godwit/internal/connlimit/connlimittest"
)

// failures records what a Limiter reports to OnFailure.
type failures struct {
	mu  sync.Mutex
	ops []string
}

func (f *failures) add(op string, _ error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.ops = append(f.ops, op)
}

func (f *failures) list() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.ops...)
}

func acquireN(t *testing.T, l *connlimit.Limiter, key string, max, n int) []string {
	t.Helper()
	var leases []string
	for range n {
		lease, ok, err := l.TryAcquire(context.Background(), key, max)
		require.NoError(t, err)
		if ok {
			require.NotEmpty(t, lease)
			leases = append(leases, lease)
		}
	}
	return leases
}

// TestSharedMax: two nodes on one backend hold at most max leases of a
// destination between them; destinations are counted apart; a released
// slot can be taken again.
func TestSharedMax(t *testing.T) {
	t.Parallel()
	for _, b := range connlimittest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			var f failures
			a := b.Node(t, connlimit.Options{OnFailure: f.add})
			c := b.Node(t, connlimit.Options{OnFailure: f.add})
			got := acquireN(t, a, "mx.example.test", 3, 2)
			require.Len(t, got, 2)
			more := acquireN(t, c, "mx.example.test", 3, 3)
			require.Len(t, more, 1, "the third slot only")
			require.Empty(t, acquireN(t, a, "mx.example.test", 3, 1), "all three are held")
			require.Len(t, acquireN(t, a, "mx.other.test", 3, 1), 1, "destinations are counted apart")

			// c failed and marked the destination: a takes no new slot and
			// keeps no idle connection while c waits.
			require.False(t, a.Keep(context.Background(), "mx.example.test", got[0]))
			a.Release("mx.example.test", got[0])
			require.Empty(t, acquireN(t, a, "mx.example.test", 3, 1), "c waits first")
			require.Len(t, acquireN(t, c, "mx.example.test", 3, 1), 1, "the waiting node takes the freed slot")
			// c's mark went with its acquire; a's look at it is cached for
			// half a second.
			require.Eventually(t, func() bool { return a.Keep(context.Background(), "mx.example.test", got[1]) },
				2*time.Second, 50*time.Millisecond)
			require.Equal(t, 2, a.Held())
			require.Equal(t, 2, c.Held())
			require.Empty(t, f.list())
		})
	}
}

// TestConcurrentAcquire: many acquires at once from three nodes never hold
// more than max leases.
func TestConcurrentAcquire(t *testing.T) {
	t.Parallel()
	for _, b := range connlimittest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			nodes := []*connlimit.Limiter{b.Node(t, connlimit.Options{Timeout: 10 * time.Second}),
				b.Node(t, connlimit.Options{Timeout: 10 * time.Second}), b.Node(t, connlimit.Options{Timeout: 10 * time.Second})}
			var wg sync.WaitGroup
			for _, n := range nodes {
				for range 5 {
					wg.Go(func() {
						_, _, err := n.TryAcquire(context.Background(), "mx.example.test", 4)
						require.NoError(t, err)
					})
				}
			}
			wg.Wait()
			require.Equal(t, 4, nodes[0].Held()+nodes[1].Held()+nodes[2].Held())
		})
	}
}

// TestAbandonedLeasesExpire: the leases of a node that stops renewing
// without releasing (killed) come back to the others after the TTL, while
// a node that renews keeps its own past it.
func TestAbandonedLeasesExpire(t *testing.T) {
	t.Parallel()
	for _, b := range connlimittest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			opts := connlimit.Options{TTL: time.Second, RenewEvery: 200 * time.Millisecond, Timeout: 5 * time.Second}
			killed := b.Node(t, opts)
			alive := b.Node(t, opts)
			other := b.Node(t, opts)
			ctx, cancel := context.WithCancel(context.Background())
			t.Cleanup(cancel)
			go alive.Run(ctx)
			go other.Run(ctx)
			killedCtx, kill := context.WithCancel(ctx)
			go killed.Run(killedCtx)

			require.Len(t, acquireN(t, alive, "mx.example.test", 3, 1), 1)
			killedAt := time.Now() // its leases were last renewed after this
			require.Len(t, acquireN(t, killed, "mx.example.test", 3, 2), 2)
			kill() // no more renewals, nothing released
			var got []string
			var firstAt time.Time
			require.Eventually(t, func() bool {
				more := acquireN(t, other, "mx.example.test", 3, 1)
				if len(more) > 0 && firstAt.IsZero() {
					firstAt = time.Now()
				}
				got = append(got, more...)
				return len(got) == 2
			}, 10*time.Second, 50*time.Millisecond)
			require.False(t, firstAt.Before(killedAt.Add(opts.TTL)), "not before the TTL")
			// The renewing node still holds its lease, three TTLs on.
			time.Sleep(time.Second)
			require.Empty(t, acquireN(t, other, "mx.example.test", 3, 1), "alive's and other's leases were renewed")
			require.Equal(t, 1, alive.Held())
			require.Equal(t, 2, other.Held())
		})
	}
}

// TestLostLeaseIsNotKept: a lease whose renewals fail for most of the TTL
// is no longer kept (its idle connection closes).
func TestLostLeaseIsNotKept(t *testing.T) {
	t.Parallel()
	b := connlimittest.Backends(t)[1] // SQLite: always there
	l := b.Node(t, connlimit.Options{TTL: 400 * time.Millisecond, RenewEvery: time.Hour})
	leases := acquireN(t, l, "mx.example.test", 1, 1)
	require.Len(t, leases, 1)
	require.True(t, l.Keep(context.Background(), "mx.example.test", leases[0]))
	time.Sleep(400 * time.Millisecond)
	require.False(t, l.Keep(context.Background(), "mx.example.test", leases[0]), "not renewed for 3/4 of the TTL")
}

// TestBackendDown: a Redis nobody answers fails every call, reported to
// OnFailure; nothing is taken or kept.
func TestBackendDown(t *testing.T) {
	t.Parallel()
	var f failures
	l := connlimittest.DownRedis(t, connlimit.Options{OnFailure: f.add})
	lease, ok, err := l.TryAcquire(context.Background(), "mx.example.test", 3)
	require.Error(t, err)
	require.ErrorContains(t, err, "connlimit: redis: acquire: ")
	require.False(t, ok)
	require.Empty(t, lease)
	require.Zero(t, l.Held())
	require.False(t, l.Keep(context.Background(), "mx.example.test", "unknown"))
	l.Release("mx.example.test", "unknown")
	require.Equal(t, []string{"acquire", "release"}, f.list(), "Keep of an unknown lease asks nobody")
}

// TestStopWaiting: a node that stops waiting takes its wanted mark away,
// so the holders keep their connections and take new slots again.
func TestStopWaiting(t *testing.T) {
	t.Parallel()
	for _, b := range connlimittest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			a := b.Node(t, connlimit.Options{})
			c := b.Node(t, connlimit.Options{})
			held := acquireN(t, a, "mx.example.test", 2, 2)
			require.Len(t, held, 2)
			require.Empty(t, acquireN(t, c, "mx.example.test", 2, 1))
			require.False(t, a.Keep(context.Background(), "mx.example.test", held[0]), "c waits")
			a.Release("mx.example.test", held[0])
			require.Empty(t, acquireN(t, a, "mx.example.test", 2, 1), "c waits first")
			c.StopWaiting("mx.example.test")
			require.Len(t, acquireN(t, a, "mx.example.test", 2, 1), 1, "nobody waits")
			require.Eventually(t, func() bool { return a.Keep(context.Background(), "mx.example.test", held[1]) },
				2*time.Second, 50*time.Millisecond)
			c.StopWaiting("mx.example.test") // nothing to remove: no round trip, no error
		})
	}
}
