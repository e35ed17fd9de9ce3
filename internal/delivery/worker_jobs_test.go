package delivery

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/godwit/godwit/internal/godwittest"
	"github.com/godwit/godwit/internal/store"
	"github.com/godwit/godwit/internal/store/sqlstore"
)

func TestBackoff(t *testing.T) {
	t.Parallel()
	for n, want := range map[int]time.Duration{
		0:  1 * time.Minute, // no deferral yet: the first wait
		1:  1 * time.Minute,
		2:  2 * time.Minute,
		3:  4 * time.Minute,
		4:  8 * time.Minute,
		5:  16 * time.Minute,
		6:  32 * time.Minute,
		7:  time.Hour, // 64 minutes, capped
		8:  time.Hour,
		20: time.Hour,
	} {
		require.Equal(t, want, Backoff(n), "Backoff(%d)", n)
	}
	// The cap holds for any count, without overflowing on the way.
	for _, n := range []int{64, 1 << 20, 1<<62 + 1} {
		require.Equal(t, time.Hour, Backoff(n), "Backoff(%d)", n)
	}
}

func (e *workerEnv) scheduled(at time.Time) *store.Email {
	e.t.Helper()
	return e.accept(`{"from":"hello@example.com","to":"a@example.test","subject":"s","text":"t","scheduled_at":"` +
		at.Format(time.RFC3339) + `"}`)
}

func count(list []string, s string) int {
	n := 0
	for _, x := range list {
		if x == s {
			n++
		}
	}
	return n
}

// TestWorkerScheduledClaimRace: a scheduled email may have two jobs for the
// same time (a reschedule to the same time, a duplicate insert); only the one
// that claims it sends it.
func TestWorkerScheduledClaimRace(t *testing.T) {
	eachStore(t, func(t *testing.T, kind sqlstore.Dialect) {
		e := newWorkerEnv(t, kind, godwittest.MXOptions{})
		ctx := context.Background()
		at := w0.Add(time.Hour)

		// Deterministic: the other job has claimed the email and is sending
		// it; this job's first run finds it queued and ends without sending.
		em := e.scheduled(at)
		e.clock.Advance(time.Hour)
		require.NoError(t, e.db.ClaimScheduled(ctx, em.ID, e.clock.Now()))
		require.NoError(t, e.deliver(em, &at, 1))
		require.Zero(t, len(e.mx.Messages()), "a first run sends nothing it did not claim")
		require.Equal(t, store.EventQueued, e.lastEvent(em))
		require.NotContains(t, e.events(em), "sent")

		// Concurrent: two jobs for each of several emails run at once; each
		// email is sent exactly once, whichever job wins.
		next := e.clock.Now().Add(time.Hour)
		var emails []*store.Email
		for range 5 {
			emails = append(emails, e.scheduled(next))
		}
		e.clock.Advance(time.Hour)
		var wg sync.WaitGroup
		errs := make(chan error, 2*len(emails))
		for _, em := range emails {
			for range 2 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
					defer cancel()
					errs <- e.w.Deliver(ctx, Job{EmailID: em.ID, At: &next, Attempt: 1})
				}()
			}
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			require.NoError(t, err)
		}
		require.Len(t, e.mx.Messages(), len(emails), "one message per email")
		for _, em := range emails {
			require.Equal(t, store.EventDelivered, e.lastEvent(em))
			evs := e.events(em)
			require.Equal(t, 1, count(evs, "sent"), "events: %v", evs)
			require.Equal(t, 1, count(evs, "delivered"), "events: %v", evs)
		}
	})
}

// TestWorkerResumesClaimedRun: a later run of the job whose earlier run
// claimed the email and did not finish (a crash between the claim and the
// outcome) sends it.
func TestWorkerResumesClaimedRun(t *testing.T) {
	eachStore(t, func(t *testing.T, kind sqlstore.Dialect) {
		e := newWorkerEnv(t, kind, godwittest.MXOptions{})
		at := w0.Add(time.Hour)
		em := e.scheduled(at)
		e.clock.Advance(time.Hour)
		require.NoError(t, e.db.ClaimScheduled(context.Background(), em.ID, e.clock.Now()))
		require.Equal(t, store.EventQueued, e.lastEvent(em))

		require.NoError(t, e.deliver(em, &at, 2))
		msgs := e.mx.Messages()
		require.Len(t, msgs, 1)
		require.Equal(t, []string{"a@example.test"}, msgs[0].Rcpts)
		require.Equal(t, store.EventDelivered, e.lastEvent(em))
		require.Equal(t, []string{"scheduled", "sent", "delivered"}, e.events(em))

		// A further run (at-least-once) finds it delivered and sends nothing.
		require.NoError(t, e.deliver(em, &at, 3))
		require.Len(t, e.mx.Messages(), 1)
	})
}

// TestWorkerUnknownEmail: a job whose email does not exist (deleted with its
// team, or another database's job) ends without error, so the queue does not
// retry it, and says so in the log.
func TestWorkerUnknownEmail(t *testing.T) {
	eachStore(t, func(t *testing.T, kind sqlstore.Dialect) {
		e := newWorkerEnv(t, kind, godwittest.MXOptions{})
		var logs godwittest.LogBuffer
		e.w.Logger = slog.New(slog.NewTextHandler(&logs, nil))
		id := uuid.NewString()
		at := w0
		for _, j := range []Job{{EmailID: id, Attempt: 1}, {EmailID: id, At: &at, Attempt: 2}} {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			require.NoError(t, e.w.Deliver(ctx, j))
			cancel()
		}
		require.Zero(t, len(e.mx.Messages()))
		out := logs.String()
		require.Equal(t, 2, strings.Count(out, "delivery job for an unknown email"), "log: %s", out)
		require.Contains(t, out, "email_id="+id)
		require.Contains(t, out, "level=WARN")
	})
}
