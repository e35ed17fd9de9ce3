package domains_test

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/godwit/godwit/internal/domains"
	"github.com/godwit/godwit/internal/godwittest"
	"github.com/godwit/godwit/internal/store"
	"github.com/godwit/godwit/internal/store/sqlstore"
)

// startRun starts the verifier's loop until the test ends, and checks that
// Stop ends it.
func (f *fixture) startRun(interval time.Duration) {
	f.t.Helper()
	f.v.Interval = interval
	require.NoError(f.t, f.v.Start(context.Background()))
	f.t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		require.NoError(f.t, f.v.Stop(ctx), "the loop returns once stopped")
	})
}

// waitDomain polls the stored domain until cond holds, for at most ten seconds.
func (f *fixture) waitDomain(what string, cond func(d *store.Domain) bool) *store.Domain {
	f.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		d, err := f.db.GetDomain(context.Background(), f.domain.TeamID, f.domain.ID)
		require.NoError(f.t, err)
		if cond(d) {
			return d
		}
		if time.Now().After(deadline) {
			f.t.Fatalf("timed out waiting for %s; domain: status %s, next check %v", what, d.Status, d.NextCheckAt)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func checkedAt(at time.Time) func(d *store.Domain) bool {
	return func(d *store.Domain) bool { return d.UpdatedAt.Equal(at) }
}

// TestRunChecksDueDomains: Run checks the due domains at once when it
// starts, and again on each tick once they are due.
func TestRunChecksDueDomains(t *testing.T) {
	for _, kind := range godwittest.Kinds {
		t.Run(string(kind), func(t *testing.T) {
			t.Parallel()
			f := setup(t, kind)
			f.clock.Advance(time.Second) // the check's time tells it from creation
			f.startRun(10 * time.Millisecond)

			d := f.waitDomain("the first check", checkedAt(f.clock.Now()))
			require.Equal(t, store.DomainPending, d.Status, "nothing is published yet")
			require.Equal(t, f.clock.Now().Add(time.Minute), *d.NextCheckAt)

			// Published and due: a tick checks it.
			f.publish(required...)
			f.advanceToNext(d)
			d = f.waitDomain("a tick to verify the domain", func(d *store.Domain) bool { return d.Status == store.DomainVerified })
			require.Equal(t, f.clock.Now(), d.UpdatedAt)
			require.Equal(t, f.clock.Now().Add(domains.Recheck), *d.NextCheckAt)
		})
	}
}

// TestWakeChecksNow: with a loop whose ticks are an hour apart, Wake makes it
// check the due domains at once (POST /domains/{id}/verify).
func TestWakeChecksNow(t *testing.T) {
	for _, kind := range godwittest.Kinds {
		t.Run(string(kind), func(t *testing.T) {
			t.Parallel()
			f := setup(t, kind)
			f.clock.Advance(time.Second)
			f.startRun(time.Hour)
			d := f.waitDomain("the first check", checkedAt(f.clock.Now()))
			require.Equal(t, store.DomainPending, d.Status)

			f.publish(required...)
			f.advanceToNext(d)
			f.v.Wake()
			d = f.waitDomain("the woken check", func(d *store.Domain) bool { return d.Status == store.DomainVerified })
			require.Equal(t, f.clock.Now(), d.UpdatedAt)

			// The records go; at the daily recheck a wake notices at once.
			for _, r := range f.recs {
				f.dns.Delete(r.FQDN("example.com"))
			}
			f.clock.Advance(domains.Recheck)
			f.v.Wake()
			d = f.waitDomain("the woken recheck", func(d *store.Domain) bool { return d.Status == store.DomainTemporaryFailure })
			require.Equal(t, f.clock.Now(), d.UpdatedAt)
		})
	}
}

// TestWakeNeverBlocks: Wake returns at once with no loop running, and any
// number of wakes before the loop reads them ask for one check.
func TestWakeNeverBlocks(t *testing.T) {
	v := &domains.Verifier{}
	done := make(chan struct{})
	go func() {
		for range 100 {
			v.Wake()
		}
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Wake blocked without a running loop")
	}
}

// failingDue fails DomainsDue while fail is set.
type failingDue struct {
	domains.DomainStore
	fail atomic.Bool
}

func (s *failingDue) DomainsDue(ctx context.Context, now time.Time, limit int) ([]*store.Domain, error) {
	if s.fail.Load() {
		return nil, errors.New("injected: database unavailable")
	}
	return s.DomainStore.DomainsDue(ctx, now, limit)
}

type logSink struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *logSink) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logSink) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestRunSurvivesStoreErrors: a failed pass is logged and the loop goes on;
// the next wake checks the domain.
func TestRunSurvivesStoreErrors(t *testing.T) {
	f := setup(t, sqlstore.SQLite)
	fs := &failingDue{DomainStore: f.v.Store}
	fs.fail.Store(true)
	logs := &logSink{}
	f.v.Store = fs
	f.v.Logger = slog.New(slog.NewTextHandler(logs, nil))
	f.publish(required...)
	f.startRun(time.Hour)

	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(logs.String(), "domain verification failed") {
		if time.Now().After(deadline) {
			t.Fatalf("no warning logged for the failed pass; log: %s", logs)
		}
		time.Sleep(5 * time.Millisecond)
	}
	require.Contains(t, logs.String(), "injected: database unavailable")
	fs.fail.Store(false)
	f.v.Wake()
	f.waitDomain("the check after the store came back", func(d *store.Domain) bool { return d.Status == store.DomainVerified })
}

// TestPeriodicChecksOnOneNode: with OnOneNode, the periodic checks run
// only where OnOneNode runs the work (the leader), while a Wake is served
// on every node: a node that is not the leader checks nothing on its own,
// yet answers POST /domains/{id}/verify at once; and Stop ends both.
func TestPeriodicChecksOnOneNode(t *testing.T) {
	for _, kind := range godwittest.Kinds {
		t.Run(string(kind), func(t *testing.T) {
			t.Parallel()
			f := setup(t, kind)
			f.clock.Advance(time.Second)
			var leaderStarted atomic.Bool
			follower := make(chan struct{}) // closed: this node becomes the leader
			f.v.OnOneNode = func(ctx context.Context, work func(context.Context)) {
				select {
				case <-ctx.Done():
					return
				case <-follower:
				}
				leaderStarted.Store(true)
				work(ctx)
			}
			f.startRun(10 * time.Millisecond)

			// Not the leader: ticks would have checked the due domain within
			// 10 ms; nothing does.
			time.Sleep(100 * time.Millisecond) // an absence: no event to wait for
			d, err := f.db.GetDomain(context.Background(), f.domain.TeamID, f.domain.ID)
			require.NoError(t, err)
			require.True(t, d.UpdatedAt.Before(f.clock.Now()), "a follower does not check on its own")

			f.v.Wake()
			d = f.waitDomain("the woken check on a follower", checkedAt(f.clock.Now()))
			require.Equal(t, store.DomainPending, d.Status)

			// The node becomes the leader: its ticks check the due domain.
			f.publish(required...)
			f.advanceToNext(d)
			close(follower)
			f.waitDomain("a leader's tick", func(d *store.Domain) bool { return d.Status == store.DomainVerified })
			require.True(t, leaderStarted.Load())
		})
	}
}
