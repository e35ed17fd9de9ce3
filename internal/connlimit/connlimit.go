// Package connlimit counts the SMTP connections Godwit's worker nodes hold
// open to each receiving host against one total shared by every node
// (--max-per-host with --connection-limiter redis or database), so that N
// worker nodes never open N times the connections a receiving host
// accepts. A Limiter implements delivery.Slots.
//
// # Leases
//
// Every open connection (busy, or idle and kept for reuse) holds a lease on
// one of its destination's slots, taken before it is dialled and released
// when it is closed. A lease expires TTL (30 s) after its last renewal; the
// holder renews all of its leases every RenewEvery (10 s, Limiter.Run), so
// the slots of a node that was killed come back to the others within the
// TTL. Time is the backend's own (Redis TIME) or, for the database, each
// node's clock, which NTP keeps within milliseconds of the others': far
// below the TTL.
//
// Backends: Redis keeps one sorted set per destination (members: leases,
// scores: expiry), and one Lua script acquires if fewer than max unexpired
// leases remain. The database keeps a table of leases (connection_leases),
// counted under a per-destination advisory lock on PostgreSQL.
//
// # Fairness
//
// A node that keeps its connections busy would keep its slots for ever. A
// node that fails to acquire leaves a "wanted" mark on the destination
// (1 s, refreshed by its polls); while another node's mark is there, a
// node takes no new slot of that destination and keeps no connection to it
// for reuse (Keep is false; it looks at the mark at most every 200 ms), so
// slots pass to the waiting node as the holders' messages finish and their
// idle connections close. The mark goes when its node acquires, or stops
// waiting (StopWaiting).
//
// # Failures
//
// When the backend cannot be reached, TryAcquire returns the error and the
// delivery is deferred with a visible reason, retried later: the limit is
// never exceeded silently. Keep answers false (idle connections close), a
// failed Release leaves the lease to expire, and a lease that could not be
// renewed for 3/4 of the TTL is treated as lost: its idle connection
// closes. Every failure is reported to OnFailure (a metric and a WARN line
// in internal/app).
package connlimit

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/google/uuid"
)

// Defaults of Options.
const (
	DefaultTTL        = 30 * time.Second
	DefaultRenewEvery = 10 * time.Second
	DefaultTimeout    = time.Second
	// wantFor is how long a failed acquire marks its destination as wanted;
	// a waiting node polls at least every 100 ms (delivery.waitMax), refreshing it.
	wantFor = time.Second
	// wantCache is how long Keep trusts its last look at a destination's
	// mark, so that checking it costs at most five round trips a second.
	wantCache = 200 * time.Millisecond
)

// Options tune a Limiter; zero values take the defaults.
type Options struct {
	// TTL is how long a lease outlives its last renewal.
	TTL time.Duration
	// RenewEvery is how often Run renews the leases held.
	RenewEvery time.Duration
	// Timeout bounds one call to the backend.
	Timeout time.Duration
	// OnFailure hears of every failed call: op is acquire, renew,
	// release, keep or unwant.
	OnFailure func(op string, err error)
	// Logger receives an INFO line when a lease is lost (nil: discarded).
	Logger *slog.Logger
}

// backend is where the leases are kept.
type backend interface {
	// acquire adds lease to key's leases if fewer than max are unexpired
	// and no other owner marked key wanted; otherwise it marks key wanted
	// by owner (unless another owner's mark is there) and returns false.
	acquire(ctx context.Context, key, lease, owner string, max int, ttl time.Duration) (bool, error)
	// renew extends the leases (lease → key) to ttl from now and returns
	// those it no longer found (expired).
	renew(ctx context.Context, leases map[string]string, ttl time.Duration) (lost []string, err error)
	release(ctx context.Context, key, lease string) error
	// wantedBy returns the owner of key's wanted mark ("" for none).
	wantedBy(ctx context.Context, key string) (string, error)
	// unwant removes key's wanted mark if owner left it.
	unwant(ctx context.Context, key, owner string) error
}

// Limiter holds leases on destination slots in a shared backend; it
// implements delivery.Slots. Run must run for the leases to be renewed.
type Limiter struct {
	b     backend
	what  string
	owner string
	opts  Options

	mu     sync.Mutex
	held   map[string]*held // by lease
	wants  map[string]want  // by key: the last look at its mark
	marked map[string]bool  // by key: this node may have marked it wanted
}

type held struct {
	key     string
	renewed time.Time // the start of the last call that extended it
	lost    bool
}

type want struct {
	other bool
	at    time.Time
}

func newLimiter(b backend, what string, opts Options) *Limiter {
	if opts.TTL <= 0 {
		opts.TTL = DefaultTTL
	}
	if opts.RenewEvery <= 0 {
		opts.RenewEvery = DefaultRenewEvery
	}
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultTimeout
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	return &Limiter{b: b, what: what, owner: uuid.NewString(), opts: opts,
		held: map[string]*held{}, wants: map[string]want{}, marked: map[string]bool{}}
}

func (l *Limiter) fail(op string, err error) error {
	err = fmt.Errorf("connlimit: %s: %s: %w", l.what, op, err)
	if l.opts.OnFailure != nil {
		l.opts.OnFailure(op, err)
	}
	return err
}

// TryAcquire implements delivery.Slots.
func (l *Limiter) TryAcquire(ctx context.Context, key string, max int) (string, bool, error) {
	lease := uuid.NewString()
	start := time.Now()
	ctx, cancel := context.WithTimeout(ctx, l.opts.Timeout)
	defer cancel()
	ok, err := l.b.acquire(ctx, key, lease, l.owner, max, l.opts.TTL)
	if err != nil {
		return "", false, l.fail("acquire", err)
	}
	if !ok {
		l.mu.Lock()
		l.marked[key] = true
		l.mu.Unlock()
		return "", false, nil
	}
	l.mu.Lock()
	l.held[lease] = &held{key: key, renewed: start}
	delete(l.marked, key) // this node's mark went with its acquire
	l.mu.Unlock()
	return lease, true, nil
}

// Keep implements delivery.Slots.
func (l *Limiter) Keep(ctx context.Context, key, lease string) bool {
	now := time.Now()
	l.mu.Lock()
	h := l.held[lease]
	if h == nil || h.lost || now.Sub(h.renewed) > l.opts.TTL*3/4 {
		l.mu.Unlock()
		return false
	}
	w, cached := l.wants[key]
	l.mu.Unlock()
	if cached && now.Sub(w.at) < wantCache {
		return !w.other
	}
	ctx, cancel := context.WithTimeout(ctx, l.opts.Timeout)
	defer cancel()
	by, err := l.b.wantedBy(ctx, key)
	if err != nil {
		_ = l.fail("keep", err)
		return false
	}
	other := by != "" && by != l.owner
	l.mu.Lock()
	l.wants[key] = want{other: other, at: now}
	l.mu.Unlock()
	return !other
}

// StopWaiting implements delivery.Slots: it removes this node's wanted
// mark on key, if it may have left one (a failed TryAcquire since its last
// success).
func (l *Limiter) StopWaiting(key string) {
	l.mu.Lock()
	marked := l.marked[key]
	delete(l.marked, key)
	l.mu.Unlock()
	if !marked {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), l.opts.Timeout)
	defer cancel()
	if err := l.b.unwant(ctx, key, l.owner); err != nil {
		_ = l.fail("unwant", err) // it expires within a second
	}
}

// Release implements delivery.Slots.
func (l *Limiter) Release(key, lease string) {
	l.mu.Lock()
	delete(l.held, lease)
	l.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), l.opts.Timeout)
	defer cancel()
	if err := l.b.release(ctx, key, lease); err != nil {
		_ = l.fail("release", err) // it expires within the TTL
	}
}

// Held returns the number of leases this Limiter holds.
func (l *Limiter) Held() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.held)
}

// Run renews the leases held every RenewEvery until ctx ends. It releases
// nothing when it returns: leases left expire within the TTL, as those of
// a node that was killed.
func (l *Limiter) Run(ctx context.Context) {
	t := time.NewTicker(l.opts.RenewEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			l.renew(ctx)
		}
	}
}

// renew extends every lease held, once.
func (l *Limiter) renew(ctx context.Context) {
	start := time.Now()
	l.mu.Lock()
	leases := make(map[string]string, len(l.held))
	for lease, h := range l.held {
		if !h.lost {
			leases[lease] = h.key
		}
	}
	// Forget the marks seen: they are looked at again when needed.
	clear(l.wants)
	l.mu.Unlock()
	if len(leases) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, l.opts.Timeout)
	defer cancel()
	lost, err := l.b.renew(ctx, leases, l.opts.TTL)
	if err != nil {
		_ = l.fail("renew", err)
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	for lease := range leases {
		if h := l.held[lease]; h != nil {
			h.renewed = start
		}
	}
	for _, lease := range lost {
		if h := l.held[lease]; h != nil {
			h.lost = true
			l.opts.Logger.Info("connection lease lost (it expired before its renewal): its connection closes when idle",
				slog.String("destination", h.key), slog.String("limiter", l.what))
		}
	}
}
