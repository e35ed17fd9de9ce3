package throttlestate_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/godwit/godwit/internal/delivery"
	"github.com/godwit/godwit/internal/godwittest"
	"github.com/godwit/godwit/internal/store"
	"github.com/godwit/godwit/internal/store/sqlstore"
	"github.com/godwit/godwit/internal/throttlestate"
)

var t0 = time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)

// backends are the shared states under test, each a fresh one.
func backends() map[string]func(t testing.TB) delivery.ThrottleState {
	return map[string]func(t testing.TB) delivery.ThrottleState{
		"postgres": func(t testing.TB) delivery.ThrottleState { return godwittest.NewStore(t, sqlstore.Postgres, nil) },
		"sqlite":   func(t testing.TB) delivery.ThrottleState { return godwittest.NewStore(t, sqlstore.SQLite, nil) },
		"redis": func(t testing.TB) delivery.ThrottleState {
			godwittest.RequireRedis(t)
			opts, err := redis.ParseURL(godwittest.RedisURL())
			require.NoError(t, err)
			c := redis.NewClient(opts)
			t.Cleanup(func() { c.Close() })
			return &throttlestate.Redis{Client: c, Prefix: "godwit:test:throttle:" + uuid.NewString() + ":"}
		},
	}
}

func node(state delivery.ThrottleState, clock *godwittest.Clock, logs *bytes.Buffer, failed func(string, error)) *delivery.Throttler {
	return delivery.NewThrottler(delivery.Throttle{State: state, Now: clock.Now, StateFailed: failed},
		slog.New(slog.NewTextHandler(logs, nil)))
}

// TestSharedPause: a pause and level set by one worker node are seen by
// another within SyncEvery; of two nodes throttled at once the first
// pause stands; a level recovered by one is the others' too.
func TestSharedPause(t *testing.T) {
	t.Parallel()
	for name, open := range backends() {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			state := open(t)
			clock := godwittest.NewClock(t0)
			var logsA, logsB bytes.Buffer
			a, b := node(state, clock, &logsA, nil), node(state, clock, &logsB, nil)

			left, _ := b.PausedFor("gmail")
			require.Zero(t, left)
			a.Hit("gmail", "mx1.gmail.test", 421, "4.7.0", "Try again later, closing connection.")
			left, reason := a.PausedFor("gmail")
			require.Equal(t, delivery.DefaultBasePause, left)
			require.Contains(t, reason, "destination gmail paused for 30s after 421 4.7.0")
			require.Equal(t, 4, a.Connections("gmail", 8))

			left, _ = b.PausedFor("gmail")
			require.Zero(t, left, "b read the state less than a second ago")
			clock.Advance(delivery.DefaultSyncEvery)
			left, bReason := b.PausedFor("gmail")
			require.Equal(t, delivery.DefaultBasePause-delivery.DefaultSyncEvery, left, "b sees a's pause within a second")
			require.Equal(t, reason, bReason, "with its reason, for b's attempts")
			require.Equal(t, 4, b.Connections("gmail", 8), "and its level")
			require.Contains(t, logsB.String(), "destination paused by another node")

			// After the pause both nodes are throttled at the same moment:
			// the first pause stands, the second node adopts it.
			clock.Advance(delivery.DefaultBasePause)
			for _, n := range []*delivery.Throttler{a, b} {
				left, _ := n.PausedFor("gmail")
				require.Zero(t, left)
			}
			a.Hit("gmail", "mx1.gmail.test", 421, "", "slow down")
			b.Hit("gmail", "mx2.gmail.test", 421, "", "slow down")
			_, ra := a.PausedFor("gmail")
			lb, rb := b.PausedFor("gmail")
			require.Equal(t, 2*delivery.DefaultBasePause, lb, "the second reply doubles the pause once")
			require.Equal(t, ra, rb, "b adopted a's pause")
			require.Contains(t, rb, "mx1.gmail.test")
			require.Equal(t, 2, a.Connections("gmail", 8))
			require.Equal(t, 2, b.Connections("gmail", 8))

			// a recovers a level; b learns it.
			clock.Advance(2 * delivery.DefaultBasePause)
			a.PausedFor("gmail")
			for range delivery.DefaultRecoverAfter {
				a.OK("gmail")
			}
			require.Equal(t, 4, a.Connections("gmail", 8))
			clock.Advance(delivery.DefaultSyncEvery)
			b.PausedFor("gmail")
			require.Equal(t, 4, b.Connections("gmail", 8))

			// Other destinations are their own.
			left, _ = b.PausedFor("outlook")
			require.Zero(t, left)
			require.Equal(t, 8, b.Connections("outlook", 8))
		})
	}
}

// TestPauseSurvivesRestart: a node started on the database of one that
// paused a destination finds the pause.
func TestPauseSurvivesRestart(t *testing.T) {
	t.Parallel()
	for _, kind := range godwittest.Kinds {
		t.Run(string(kind), func(t *testing.T) {
			t.Parallel()
			url := godwittest.StoreURL(t, kind)
			clock := godwittest.NewClock(t0)
			db, err := sqlstore.Open(context.Background(), url, sqlstore.Options{Outbox: godwittest.NewOutbox()})
			require.NoError(t, err)
			var logs bytes.Buffer
			before := node(db, clock, &logs, nil)
			before.Hit("yahoo", "mta5.am0.yahoodns.test", 421, "4.7.0", "[TSS04] Messages temporarily deferred due to unexpected volume")
			_, reason := before.PausedFor("yahoo")
			require.NoError(t, db.Close())

			clock.Advance(10 * time.Second)
			db, err = sqlstore.Open(context.Background(), url, sqlstore.Options{Outbox: godwittest.NewOutbox()})
			require.NoError(t, err)
			t.Cleanup(func() { _ = db.Close() })
			after := node(db, clock, &logs, nil)
			left, got := after.PausedFor("yahoo")
			require.Equal(t, delivery.DefaultBasePause-10*time.Second, left)
			require.Equal(t, reason, got)
			require.Equal(t, 5, after.Connections("yahoo", 10))
		})
	}
}

// failing is a shared state that is down.
type failing struct{}

func (failing) LoadDestinationThrottle(context.Context, string) (store.DestinationThrottle, bool, error) {
	return store.DestinationThrottle{}, false, errors.New("connection refused")
}

func (failing) StoreDestinationThrottle(context.Context, string, store.DestinationThrottle, time.Time) (store.DestinationThrottle, error) {
	return store.DestinationThrottle{}, errors.New("connection refused")
}

// TestBackendDownDegradesToNode: a shared state that fails (a fake, and a
// Redis nobody listens on) leaves the node throttling on its own, with a
// count per failure and one WARN line; nothing fails.
func TestBackendDownDegradesToNode(t *testing.T) {
	t.Parallel()
	unused := redis.NewClient(&redis.Options{Addr: godwittest.UnusedAddr(t), DialTimeout: 100 * time.Millisecond, MaxRetries: -1})
	t.Cleanup(func() { unused.Close() })
	for name, state := range map[string]delivery.ThrottleState{"fake": failing{}, "redis down": &throttlestate.Redis{Client: unused}} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			clock := godwittest.NewClock(t0)
			var logs bytes.Buffer
			var mu sync.Mutex
			counts := map[string]int{}
			failed := throttlestate.OnFailure(slog.New(slog.NewTextHandler(&logs, nil)), func(op string) {
				mu.Lock()
				counts[op]++
				mu.Unlock()
			}, time.Minute)
			n := node(state, clock, &logs, failed)
			left, _ := n.PausedFor("gmail")
			require.Zero(t, left)
			n.Hit("gmail", "mx1.gmail.test", 421, "4.7.0", "Try again later")
			left, reason := n.PausedFor("gmail")
			require.Equal(t, delivery.DefaultBasePause, left, "the node's own pause holds")
			require.Contains(t, reason, "destination gmail paused")
			clock.Advance(delivery.DefaultSyncEvery)
			n.PausedFor("gmail")
			mu.Lock()
			require.Equal(t, map[string]int{"load": 2, "store": 1}, counts)
			mu.Unlock()
			require.Equal(t, 1, strings.Count(logs.String(), "level=WARN"), "one WARN line per minute: %s", logs.String())
			require.Contains(t, logs.String(), "shared destination throttling state failed")
		})
	}
}
