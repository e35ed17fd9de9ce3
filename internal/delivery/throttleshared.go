package delivery

import (
	"context"
	"log/slog"
	"time"

	"github.com/godwit/godwit/internal/store"
)

// Shared throttling state. With Throttle.State set, each destination's
// level (the halvings of its connections and rate), its count of
// throttling replies and its pause live in a backend every worker node
// reads: the database (table destination_throttle, also durable across
// restarts) or Redis (internal/throttlestate), chosen as the connection
// limiter is (--connection-limiter).
//
//   - A node reads a destination's shared state before a message to it, at
//     most every SyncEvery (1 s): a pause set by one node stops the others
//     within about a second, with the same reason in their attempts.
//   - A throttling reply (hit) and a level recovered (ok) are written at
//     once, unless the stored state is paused: of two nodes throttled at
//     the same moment, the first pause stands and the second node adopts
//     it, so one reply does not double the pause.
//   - What counts towards recovery (messages delivered) stays per node; the
//     level a node recovers is written for all.
//   - The rate (messages per second of a destination, --destination-limits)
//     stays a per-node pace: each worker node paces its own messages at the
//     destination's rate halved per shared level. N worker nodes may send up
//     to N times the rate; set the rate as the share of one node
//     (docs/delivery.md). A shared token bucket would cost a round trip per
//     message.
//
// A backend that fails does not fail deliveries: the node goes on with its
// own state (as without State), StateFailed is told (a metric and a WARN
// line), and the next read or write tries again.

// DefaultSyncEvery is how often a destination's shared state is read.
const DefaultSyncEvery = time.Second

// stateTimeout bounds one call to the shared state.
const stateTimeout = time.Second

// ThrottleState keeps destinations' throttling state shared by the worker
// nodes (sqlstore.DB, throttlestate.Redis).
type ThrottleState interface {
	// LoadDestinationThrottle returns dest's shared state; ok is false when
	// there is none.
	LoadDestinationThrottle(ctx context.Context, dest string) (st store.DestinationThrottle, ok bool, err error)
	// StoreDestinationThrottle saves st unless the stored state is paused
	// at now, and returns the state in force: st, or the stored pause.
	StoreDestinationThrottle(ctx context.Context, dest string, st store.DestinationThrottle, now time.Time) (store.DestinationThrottle, error)
}

// sync reads dest's shared state if SyncEvery has passed since the last
// read, and adopts it.
func (t *throttler) sync(dest string) {
	if t.cfg.State == nil {
		return
	}
	t.mu.Lock()
	s := t.state(dest)
	now := t.cfg.Now()
	if now.Sub(s.synced) < t.cfg.SyncEvery {
		t.mu.Unlock()
		return
	}
	s.synced = now // one reader per destination and period
	t.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), stateTimeout)
	defer cancel()
	shared, ok, err := t.cfg.State.LoadDestinationThrottle(ctx, dest)
	if err != nil {
		t.stateFailed("load", dest, err)
		return
	}
	if ok {
		t.adopt(dest, shared)
	}
}

// publish writes dest's state for the other nodes; when another node's
// pause is in force there, it is adopted instead.
func (t *throttler) publish(dest string) {
	if t.cfg.State == nil {
		return
	}
	t.mu.Lock()
	s := t.state(dest)
	mine := store.DestinationThrottle{Level: s.level, Pauses: s.pauses, Until: s.until, Reason: s.reason}
	now := t.cfg.Now()
	t.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), stateTimeout)
	defer cancel()
	inForce, err := t.cfg.State.StoreDestinationThrottle(ctx, dest, mine, now)
	if err != nil {
		t.stateFailed("store", dest, err)
		return
	}
	if inForce != mine {
		t.adopt(dest, inForce)
	}
}

// adopt makes shared dest's state on this node: its level and count, and
// its pause unless this node's own ends later. A pause learnt
// this way is reported (metric, log line) as a pause of this node's.
func (t *throttler) adopt(dest string, shared store.DestinationThrottle) {
	t.mu.Lock()
	s := t.state(dest)
	if s.level != shared.Level {
		s.successes = 0
	}
	s.level, s.pauses = min(max(shared.Level, 0), maxThrottleLevel), shared.Pauses
	paused := false
	if !shared.Until.Before(s.until) { // the shared pause stands (an equal one too: it came first)
		s.until, s.reason = shared.Until, shared.Reason
		if shared.Until.After(t.cfg.Now()) && !s.paused {
			s.paused, paused = true, true
		}
	}
	level, left := s.level, s.until.Sub(t.cfg.Now())
	t.mu.Unlock()
	if paused {
		t.logger.Info("delivery: destination paused by another node", "destination", dest, "pause_left", left.Round(time.Second),
			"level", level, "reason", shared.Reason)
		if t.cfg.Paused != nil {
			t.cfg.Paused(dest, true)
		}
	}
}

func (t *throttler) stateFailed(op, dest string, err error) {
	if t.cfg.StateFailed != nil {
		t.cfg.StateFailed(op, err)
	}
	t.logger.Debug("delivery: shared throttling state failed; this node's own state holds", slog.String("op", op),
		slog.String("destination", dest), slog.String("error", err.Error()))
}

// Throttler is the adaptive throttling of destinations as one worker node
// runs it, for tests of shared state backends outside this package.
type Throttler struct{ t *throttler }

// NewThrottler returns a Throttler with cfg.
func NewThrottler(cfg Throttle, logger *slog.Logger) *Throttler {
	return &Throttler{t: newThrottler(cfg, logger)}
}

// PausedFor returns the time left of dest's pause and its reason (0 when
// it is not paused), reading the shared state when due.
func (t *Throttler) PausedFor(dest string) (time.Duration, string) { return t.t.pausedFor(dest) }

// Hit records a throttling reply from host of dest.
func (t *Throttler) Hit(dest, host string, code int, enhanced, text string) {
	t.t.hit(dest, host, code, enhanced, text)
}

// OK records a message delivered to dest.
func (t *Throttler) OK(dest string) { t.t.ok(dest) }

// Connections is dest's connection limit with its level applied.
func (t *Throttler) Connections(dest string, limit int) int { return t.t.connections(dest, limit) }
