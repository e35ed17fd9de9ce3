package delivery

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/godwit/godwit/internal/connlimit"
	"github.com/godwit/godwit/internal/connlimit/connlimittest"
	"github.com/godwit/godwit/internal/godwittest"
)

// deliverAll delivers n messages to example.test through the transports
// at once (message i through trs[i%len(trs)]) and returns the outcomes.
func deliverAll(t *testing.T, trs []*MXTransport, n int) []Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out := make([]Result, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			m := testMsg(fmt.Sprintf("r%d@example.test", i))
			res := trs[i%len(trs)].DeliverDomain(ctx, "example.test", m)
			out[i] = res[0]
		})
	}
	wg.Wait()
	return out
}

func requireDelivered(t *testing.T, res []Result) {
	t.Helper()
	for _, r := range res {
		require.Equal(t, Delivered, r.Outcome, "%s: %s", r.Recipient, r.Message)
	}
}

// TestPoolLimitIncludesIdle: in one process, the connections open to a
// host (busy and idle) never exceed MaxPerHost, and idle ones are reused.
func TestPoolLimitIncludesIdle(t *testing.T) {
	t.Parallel()
	e := newMXEnv(t)
	mx := e.oneMX(t, godwittest.MXOptions{DataDelay: 5 * time.Millisecond})
	tr := e.transport(t)
	tr.MaxPerHost = 2
	requireDelivered(t, deliverAll(t, []*MXTransport{tr}, 30))
	require.Equal(t, 30, mx.Count())
	require.LessOrEqual(t, mx.MaxOpen(), 2)
	// Each connection is two sessions: STARTTLS is asked for first, and
	// the test MX does not offer it.
	sessions := mx.Sessions()
	require.LessOrEqual(t, sessions, 4, "connections are reused")
	requireDelivered(t, deliverAll(t, []*MXTransport{tr}, 4))
	require.Equal(t, sessions, mx.Sessions(), "idle connections are reused later")
}

// node is one worker node's transport with its own shared limiter.
func node(t *testing.T, e *mxEnv, b connlimittest.Backend, max int, opts connlimit.Options) (*MXTransport, *connlimit.Limiter) {
	t.Helper()
	l := b.Node(t, opts)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	go l.Run(ctx)
	tr := e.transport(t)
	tr.MaxPerHost, tr.Slots = max, l
	return tr, l
}

// TestSharedConnectionLimit: three nodes (each its own transport, pool
// and limiter) delivering 45 messages at once to one MX with a total of 3
// connections: the MX never sees more than 3 open, and every message
// arrives.
func TestSharedConnectionLimit(t *testing.T) {
	t.Parallel()
	for _, b := range connlimittest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			e := newMXEnv(t)
			mx := e.oneMX(t, godwittest.MXOptions{DataDelay: 10 * time.Millisecond})
			var trs []*MXTransport
			for range 3 {
				tr, _ := node(t, e, b, 3, connlimit.Options{Timeout: 5 * time.Second})
				trs = append(trs, tr)
			}
			start := time.Now()
			requireDelivered(t, deliverAll(t, trs, 45))
			took := time.Since(start)
			require.Equal(t, 45, mx.Count())
			require.LessOrEqual(t, mx.MaxOpen(), 3, "the total across the nodes")
			require.Positive(t, mx.MaxOpen())
			t.Logf("%s: 45 messages in %v, max open %d, SMTP sessions %d (two per connection: the STARTTLS probe)",
				b.Name, took.Round(time.Millisecond), mx.MaxOpen(), mx.Sessions())
		})
	}
}

// TestKilledNodeSlotsReclaimed: a node that holds every slot and dies (its
// leases neither renewed nor released) stops the others only until the
// TTL: then they deliver everything, within the limit.
func TestKilledNodeSlotsReclaimed(t *testing.T) {
	t.Parallel()
	for _, b := range connlimittest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			e := newMXEnv(t)
			mx := e.oneMX(t, godwittest.MXOptions{})
			opts := connlimit.Options{TTL: time.Second, RenewEvery: 200 * time.Millisecond, Timeout: 5 * time.Second}
			killed := b.Node(t, opts) // never renews: killed once it acquired
			a, _ := node(t, e, b, 3, opts)
			c, _ := node(t, e, b, 3, opts)
			acquired := time.Now()
			for range 3 {
				_, ok, err := killed.TryAcquire(context.Background(), "mx.example.test", 3)
				require.NoError(t, err)
				require.True(t, ok)
			}
			requireDelivered(t, deliverAll(t, []*MXTransport{a, c}, 12))
			msgs := mx.Messages()
			require.Len(t, msgs, 12)
			require.False(t, msgs[0].At.Before(acquired.Add(opts.TTL)), "not before the killed node's leases expired")
			require.LessOrEqual(t, mx.MaxOpen(), 3)
		})
	}
}

// TestSlotsDown: when the shared limiter fails, the delivery is deferred
// with a reason that names no backend detail, nothing connects to the
// MX, and the failure is reported; a waiting delivery ends with its
// context.
func TestSlotsDown(t *testing.T) {
	t.Parallel()
	e := newMXEnv(t)
	mx := e.oneMX(t, godwittest.MXOptions{})
	var failed atomic.Int32
	tr := e.transport(t)
	tr.MaxPerHost = 3
	tr.Slots = connlimittest.DownRedis(t, connlimit.Options{OnFailure: func(op string, err error) {
		require.Equal(t, "acquire", op)
		require.ErrorContains(t, err, "connlimit: redis: acquire: ")
		failed.Add(1)
	}})
	res := deliver(t, tr, "example.test", testMsg("a@example.test"))
	require.Equal(t, Deferred, res[0].Outcome)
	require.Equal(t, ErrNoSlots.Error(), res[0].Message)
	require.NotContains(t, res[0].Message, "127.0.0.1")
	require.EqualValues(t, 1, failed.Load())
	require.Zero(t, mx.Sessions())
}

// TestSlotsWaitEndsWithContext: waiting for a slot that never frees ends
// with the context, deferred.
func TestSlotsWaitEndsWithContext(t *testing.T) {
	t.Parallel()
	b := connlimittest.Backends(t)[1] // SQLite: always there
	e := newMXEnv(t)
	mx := e.oneMX(t, godwittest.MXOptions{})
	holder := b.Node(t, connlimit.Options{})
	_, ok, err := holder.TryAcquire(context.Background(), "mx.example.test", 1)
	require.NoError(t, err)
	require.True(t, ok)
	tr, _ := node(t, e, b, 1, connlimit.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	res := deliverCtx(ctx, t, tr, "example.test", testMsg("a@example.test"))
	require.Equal(t, Deferred, res[0].Outcome)
	require.Contains(t, res[0].Message, "context deadline exceeded")
	require.Zero(t, mx.Sessions())
}
