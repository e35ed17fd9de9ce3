package app_test

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/godwit/godwit/internal/app"
	"github.com/godwit/godwit/internal/godwittest"
)

// bound is how long any step of these tests may take before it counts as
// hung. Serve's start applies every migration (the store's and River's) to
// a fresh SQLite file: about a second alone, but measured past 10 s under
// -race on two cores busy with other test packages.
const bound = 60 * time.Second

// journal records what the fake services did, in order.
type journal struct {
	mu     sync.Mutex
	events []string
}

func (j *journal) add(e string) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.events = append(j.events, e)
}

func (j *journal) list() []string {
	j.mu.Lock()
	defer j.mu.Unlock()
	return append([]string(nil), j.events...)
}

// fake is a Service that records its calls; startErr fails its Start,
// stop (when set) runs as its Stop, and fail, when made, is its Failed.
type fake struct {
	name     string
	j        *journal
	startErr error
	stop     func(ctx context.Context) error
	fail     chan error
	startCtx context.Context
}

func (f *fake) Start(ctx context.Context) error {
	f.startCtx = ctx
	f.j.add("start " + f.name)
	return f.startErr
}

func (f *fake) Stop(ctx context.Context) error {
	f.j.add("stop " + f.name)
	if f.stop != nil {
		return f.stop(ctx)
	}
	return nil
}

// failing is a fake that can fail once started.
type failing struct{ *fake }

func (f failing) Failed() <-chan error { return f.fail }

// run runs services in a goroutine and returns Run's result channel.
func run(ctx context.Context, r app.Runner, services ...app.Service) <-chan error {
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx, services...) }()
	return done
}

// result waits for Run to return.
func result(t *testing.T, done <-chan error) error {
	t.Helper()
	select {
	case err := <-done:
		return err
	case <-time.After(bound):
		t.Fatal("Run did not return")
		return nil
	}
}

// waitEvents polls the journal until it has n events.
func waitEvents(t *testing.T, j *journal, n int) {
	t.Helper()
	require.Eventually(t, func() bool { return len(j.list()) >= n }, bound, time.Millisecond, "%d events", n)
}

func TestRunnerStartsInOrderStopsInReverse(t *testing.T) {
	t.Parallel()
	j := &journal{}
	a, b, c := &fake{name: "a", j: j}, &fake{name: "b", j: j}, &fake{name: "c", j: j}
	ctx, cancel := context.WithCancel(context.Background())
	done := run(ctx, app.Runner{}, a, b, c)
	waitEvents(t, j, 3)
	require.Equal(t, []string{"start a", "start b", "start c"}, j.list())
	require.NoError(t, a.startCtx.Err())

	cancel()
	require.NoError(t, result(t, done), "a stop on the end of ctx is clean")
	require.Equal(t, []string{"start a", "start b", "start c", "stop c", "stop b", "stop a"}, j.list())
	// Start's context outlives ctx until everything stopped, then ends.
	require.ErrorIs(t, a.startCtx.Err(), context.Canceled)
}

func TestRunnerStartFailureStopsTheStarted(t *testing.T) {
	t.Parallel()
	j := &journal{}
	boom := errors.New("listen: address in use")
	a := &fake{name: "a", j: j}
	b := &fake{name: "b", j: j}
	c := &fake{name: "c", j: j, startErr: boom}
	d := &fake{name: "d", j: j}
	err := result(t, run(context.Background(), app.Runner{}, a, b, c, d))
	require.ErrorIs(t, err, boom)
	require.Equal(t, []string{"start a", "start b", "start c", "stop b", "stop a"}, j.list(),
		"what failed to start is not stopped; what follows it never starts")
}

func TestRunnerRunningFailureStopsAll(t *testing.T) {
	t.Parallel()
	j := &journal{}
	logs := &godwittest.LogBuffer{}
	boom := errors.New("accept: too many open files")
	a := &fake{name: "a", j: j}
	b := failing{&fake{name: "b", j: j, fail: make(chan error, 1)}}
	c := &fake{name: "c", j: j}
	done := run(context.Background(), app.Runner{Logger: slog.New(slog.NewJSONHandler(logs, nil))}, a, b, c)
	waitEvents(t, j, 3)
	b.fail <- boom
	err := result(t, done)
	require.ErrorIs(t, err, boom)
	require.Equal(t, []string{"start a", "start b", "start c", "stop c", "stop b", "stop a"}, j.list())
	require.Len(t, logs.Records(t, "a service failed; stopping every service"), 1)
}

func TestRunnerFailureDuringStartStopsAll(t *testing.T) {
	t.Parallel()
	j := &journal{}
	boom := errors.New("serve: broken")
	a := failing{&fake{name: "a", j: j, fail: make(chan error, 1)}}
	a.fail <- boom // fails at once, while the others are still starting
	b := &fake{name: "b", j: j}
	err := result(t, run(context.Background(), app.Runner{}, a, b))
	require.ErrorIs(t, err, boom)
	require.Equal(t, []string{"start a", "start b", "stop b", "stop a"}, j.list())
}

func TestRunnerStopDeadline(t *testing.T) {
	t.Parallel()
	j := &journal{}
	stuck := &fake{name: "stuck", j: j, stop: func(ctx context.Context) error {
		<-ctx.Done() // a drain that never finishes on its own
		return ctx.Err()
	}}
	var deadline, called time.Time
	a := &fake{name: "a", j: j, stop: func(ctx context.Context) error {
		called = time.Now()
		deadline, _ = ctx.Deadline()
		return nil
	}}
	ctx, cancel := context.WithCancel(context.Background())
	done := run(ctx, app.Runner{Drain: 50 * time.Millisecond}, a, stuck)
	waitEvents(t, j, 2)
	cancel()
	began := time.Now()
	err := result(t, done)
	require.ErrorIs(t, err, context.DeadlineExceeded, "the stuck drain's error is returned")
	require.Less(t, time.Since(began), bound/2)
	require.Equal(t, []string{"start a", "start stuck", "stop stuck", "stop a"}, j.list(),
		"the services before a stuck one are stopped all the same")
	require.False(t, deadline.IsZero(), "each Stop gets the drain budget")
	require.Greater(t, deadline.Sub(called), 25*time.Millisecond, "a's Stop has a budget of its own, not what the stuck one left")
}

func TestBackground(t *testing.T) {
	t.Parallel()
	returned := make(chan struct{})
	bg := app.Background("loop", func(ctx context.Context) {
		<-ctx.Done()
		close(returned)
	})
	require.NoError(t, bg.Start(context.Background()))
	require.NoError(t, bg.Stop(context.Background()))
	select {
	case <-returned:
	default:
		t.Fatal("Stop returned before the loop did")
	}

	stuck := app.Background("stuck loop", func(context.Context) { select {} })
	require.NoError(t, stuck.Start(context.Background()))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	err := stuck.Stop(ctx)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.Contains(t, err.Error(), "stuck loop")
}

// TestParallelStopsTogether: the services of a Parallel drain side by side:
// each Stop here waits for the other's to begin, which a stop in sequence
// would never see.
func TestParallelStopsTogether(t *testing.T) {
	t.Parallel()
	j := &journal{}
	var arrived sync.WaitGroup
	arrived.Add(2)
	meet := func(ctx context.Context) error {
		arrived.Done()
		met := make(chan struct{})
		go func() { arrived.Wait(); close(met) }()
		select {
		case <-met:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	a := &fake{name: "a", j: j, stop: meet}
	b := &fake{name: "b", j: j, stop: meet}
	p := app.Parallel(a, b)
	require.NoError(t, p.Start(context.Background()))
	require.Equal(t, []string{"start a", "start b"}, j.list())
	ctx, cancel := context.WithTimeout(context.Background(), bound)
	defer cancel()
	require.NoError(t, p.Stop(ctx))
}

func TestParallelStartFailure(t *testing.T) {
	t.Parallel()
	j := &journal{}
	boom := errors.New("listen: address in use")
	p := app.Parallel(&fake{name: "a", j: j}, &fake{name: "b", j: j}, &fake{name: "c", j: j, startErr: boom})
	require.ErrorIs(t, p.Start(context.Background()), boom)
	require.Equal(t, []string{"start a", "start b", "start c", "stop b", "stop a"}, j.list())
}

func TestParallelFailure(t *testing.T) {
	t.Parallel()
	j := &journal{}
	boom := errors.New("serve: broken")
	b := failing{&fake{name: "b", j: j, fail: make(chan error, 1)}}
	p := app.Parallel(&fake{name: "a", j: j}, app.Flagged("--b-addr", app.LogStop(b, slog.New(slog.DiscardHandler), "b")))
	done := run(context.Background(), app.Runner{}, p)
	waitEvents(t, j, 2)
	b.fail <- boom
	require.ErrorIs(t, result(t, done), boom, "a failure inside the group reaches the runner through the wrappers")
	require.ElementsMatch(t, []string{"start a", "start b", "stop a", "stop b"}, j.list())
}

func TestLogStopAndFlagged(t *testing.T) {
	t.Parallel()
	j := &journal{}
	logs := &godwittest.LogBuffer{}
	log := slog.New(slog.NewJSONHandler(logs, nil))
	s := app.LogStop(&fake{name: "a", j: j, stop: func(context.Context) error { return context.DeadlineExceeded }}, log,
		"shutdown did not finish in time")
	require.NoError(t, s.Stop(context.Background()), "a drain that ran out of time is logged, not returned")
	recs := logs.Records(t, "shutdown did not finish in time")
	require.Len(t, recs, 1)
	require.Equal(t, context.DeadlineExceeded.Error(), recs[0]["error"])

	boom := errors.New("listen tcp 127.0.0.1:1: bind: permission denied")
	err := app.Flagged("--mx-addr", &fake{name: "b", j: j, startErr: boom}).Start(context.Background())
	require.ErrorIs(t, err, boom)
	require.True(t, strings.HasPrefix(err.Error(), "--mx-addr: "), err.Error())
}

// A Failed channel closed by mistake is a failure without a cause: the run
// stops everything and says so, rather than panicking on a nil error.
func TestRunnerClosedFailedChannel(t *testing.T) {
	t.Parallel()
	j := &journal{}
	a := &fake{name: "a", j: j}
	b := failing{&fake{name: "b", j: j, fail: make(chan error)}}
	done := run(context.Background(), app.Runner{}, a, b)
	waitEvents(t, j, 2)
	close(b.fail)
	err := result(t, done)
	require.ErrorContains(t, err, "without a cause")
	require.Equal(t, []string{"start a", "start b", "stop b", "stop a"}, j.list())
}
