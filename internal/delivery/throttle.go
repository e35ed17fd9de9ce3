package delivery

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/godwit/godwit/internal/destination"
)

// Adaptive throttling. A destination that answers "try again later" (421,
// 4.7.x, 4.2.1, or 450 with rate-limit wording) is slowed down: its
// concurrency and rate are halved (one level per reply, down to one
// connection), and it is paused for a backoff that doubles with each
// throttling reply since it last recovered (BasePause, 2×, 4×, … at most
// MaxPause). While paused, its messages are deferred without connecting,
// with the reason as the attempt's message and a retry when the pause ends.
// After the pause, every RecoverAfter messages delivered take one level
// back, until the configured limits hold again.
//
// The state is per node (this process) unless Throttle.State shares it
// (throttleshared.go): then a pause and the level set by one worker node
// are seen by the others within SyncEvery, and a restart keeps them.

// Throttle defaults.
const (
	DefaultBasePause    = 30 * time.Second
	DefaultMaxPause     = 30 * time.Minute
	DefaultRecoverAfter = 20
	maxThrottleLevel    = 10
)

// Throttle configures adaptive throttling; the zero value uses the defaults.
type Throttle struct {
	BasePause    time.Duration // the first pause after a throttling reply
	MaxPause     time.Duration // the longest pause
	RecoverAfter int           // messages delivered per level recovered
	// Paused, when set, is told each time a destination is paused (true)
	// and when the first message after the pause goes ahead (false): the
	// metric godwit_destination_paused.
	Paused func(destination string, paused bool)
	// Now is the clock (nil: time.Now).
	Now func() time.Time
	// State, when set, shares each destination's level and pause with the
	// other worker nodes and across restarts (throttleshared.go); nil: this
	// process's memory only.
	State ThrottleState
	// SyncEvery is how often a destination's shared state is read again
	// (DefaultSyncEvery when zero).
	SyncEvery time.Duration
	// StateFailed hears of every failed call to State (op: load or store):
	// the throttling goes on with this node's own state meanwhile.
	StateFailed func(op string, err error)
}

// throttler holds the adaptive state of each destination.
type throttler struct {
	cfg    Throttle
	logger *slog.Logger
	mu     sync.Mutex
	dests  map[string]*destState
}

type destState struct {
	level     int       // halvings of concurrency and rate in force
	pauses    int       // throttling replies since the level was last 0
	until     time.Time // paused until then
	reason    string    // why, for the attempts: "destination gmail paused for 30s after …"
	paused    bool      // a pause was reported and its end not yet
	successes int       // messages delivered since the last level change
	nextSend  time.Time // rate pacing: the earliest start of the next message
	synced    time.Time // when the shared state was last read (Throttle.State)
}

func newThrottler(cfg Throttle, logger *slog.Logger) *throttler {
	if cfg.BasePause <= 0 {
		cfg.BasePause = DefaultBasePause
	}
	if cfg.MaxPause <= 0 {
		cfg.MaxPause = DefaultMaxPause
	}
	if cfg.RecoverAfter <= 0 {
		cfg.RecoverAfter = DefaultRecoverAfter
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.SyncEvery <= 0 {
		cfg.SyncEvery = DefaultSyncEvery
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &throttler{cfg: cfg, logger: logger, dests: map[string]*destState{}}
}

func (t *throttler) state(dest string) *destState {
	s, ok := t.dests[dest]
	if !ok {
		s = &destState{}
		t.dests[dest] = s
	}
	return s
}

// pausedFor returns the time left of dest's pause and its reason; 0 when
// it is not paused. The first call after a pause has ended reports the
// destination resumed.
func (t *throttler) pausedFor(dest string) (time.Duration, string) {
	t.sync(dest)
	t.mu.Lock()
	s := t.state(dest)
	left := s.until.Sub(t.cfg.Now())
	if left > 0 {
		t.mu.Unlock()
		return left, s.reason
	}
	resumed := s.paused
	s.paused = false
	level := s.level
	t.mu.Unlock()
	if resumed {
		t.logger.Info("delivery: destination resumed", "destination", dest, "level", level)
		if t.cfg.Paused != nil {
			t.cfg.Paused(dest, false)
		}
	}
	return 0, ""
}

// connections is dest's connection limit with its throttling level
// applied: limit halved per level, at least 1.
func (t *throttler) connections(dest string, limit int) int {
	t.mu.Lock()
	level := t.state(dest).level
	t.mu.Unlock()
	return max(limit>>level, 1)
}

// pace waits until a message may start to dest at rate messages per
// second (0: at once), halved per throttling level; it returns ctx's error
// when ctx ends first.
func (t *throttler) pace(ctx context.Context, dest string, rate float64) error {
	if rate <= 0 {
		return nil
	}
	t.mu.Lock()
	s := t.state(dest)
	interval := time.Duration(float64(time.Second) / rate * float64(int(1)<<s.level))
	now := t.cfg.Now()
	at := now
	if s.nextSend.After(now) {
		at = s.nextSend
	}
	s.nextSend = at.Add(interval)
	t.mu.Unlock()
	wait := at.Sub(now)
	if wait <= 0 {
		return nil
	}
	timer := time.NewTimer(wait)
	defer timer.Stop()
	select {
	case <-timer.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// throttled reports whether a reply says the sender goes too fast: 421
// (the server closes the connection: commonly "try again later"), an
// enhanced code 4.7.x (policy, rate) or 4.2.1 (the receiver takes mail at a
// limited rate), or another 4xx whose text speaks of a sending rate. A
// plain "try again later" (a greylisting, a busy mailbox) is a deferral of
// that message only, not of the destination.
func throttled(code int, enhanced, text string) bool {
	switch {
	case code == 421:
		return true
	case code/100 != 4:
		return false
	case strings.HasPrefix(enhanced, "4.7."), enhanced == "4.2.1":
		return true
	}
	lower := strings.ToLower(text)
	for _, w := range rateWords {
		if strings.Contains(lower, w) {
			return true
		}
	}
	return false
}

// rateWords are the phrases of a 4xx reply that say the sending rate is
// the problem.
var rateWords = []string{"rate limit", "rate-limit", "ratelimit", "rate of", "rate that", "sending rate", "rate exceeded",
	"too many messages", "too many mails", "too many emails", "too many connections", "throttl", "too fast", "slow down"}

// hit records a throttling reply from host of dest: one level down, and a
// pause that doubles with each reply since dest last recovered. A reply
// during a pause (from a message already under way) changes nothing.
func (t *throttler) hit(dest, host string, code int, enhanced, text string) {
	t.mu.Lock()
	s := t.state(dest)
	now := t.cfg.Now()
	if now.Before(s.until) {
		t.mu.Unlock()
		return
	}
	s.level = min(s.level+1, maxThrottleLevel)
	s.pauses++
	s.successes = 0
	pause := t.cfg.BasePause
	for i := 1; i < s.pauses && pause < t.cfg.MaxPause; i++ {
		pause *= 2
	}
	pause = min(pause, t.cfg.MaxPause)
	s.until = now.Add(pause)
	reply := strings.TrimSpace(strings.Join(strings.Fields(fmt.Sprintf("%d %s %s", code, enhanced, clip(text, 200))), " "))
	s.reason = fmt.Sprintf("destination %s paused for %s after %s from %s", dest, pause, reply, host)
	report := !s.paused // not when a pause ended unnoticed (no message since) and a late reply starts another
	s.paused = true
	level := s.level
	t.mu.Unlock()
	t.logger.Info("delivery: destination paused", "destination", dest, "host", host, "pause", pause,
		"level", level, "reply", reply)
	if report && t.cfg.Paused != nil {
		t.cfg.Paused(dest, true)
	}
	t.publish(dest)
}

// ok records a message delivered to dest: every RecoverAfter deliveries
// take one level back.
func (t *throttler) ok(dest string) {
	t.mu.Lock()
	s := t.state(dest)
	var recovered bool
	if s.level > 0 {
		s.successes++
		if s.successes >= t.cfg.RecoverAfter {
			s.level--
			s.successes = 0
			recovered = true
			if s.level == 0 {
				s.pauses = 0
			}
		}
	}
	level := s.level
	t.mu.Unlock()
	if recovered {
		t.logger.Info("delivery: destination recovering", "destination", dest, "level", level)
		t.publish(dest)
	}
}

// limits returns dest's configured limits.
func (t *MXTransport) limits(dest string) destination.Limits {
	return t.Destinations.For(dest, t.MaxPerHost)
}

// beforeSend returns host's destination and whether a message may go to
// it now: not while the destination is paused (the recipients todo are
// deferred with the pause's reason, to be retried when it ends), and not
// before its rate allows (waited for here).
func (t *MXTransport) beforeSend(ctx context.Context, host string, st *state, todo []int) (string, bool) {
	t.conns() // creates the throttler
	dest := destination.Of(host)
	if left, reason := t.throttler.pausedFor(dest); left > 0 {
		st.set(todo, host, 0, "", reason, Deferred)
		for _, i := range todo {
			st.results[i].retryAfter = left
		}
		return dest, false
	}
	if err := t.throttler.pace(ctx, dest, t.limits(dest).Rate); err != nil {
		st.set(todo, host, 0, "", err.Error(), Deferred)
		return dest, false
	}
	return dest, true
}

// afterSend feeds host's replies for the recipients todo to dest's
// adaptive state: a throttling reply pauses the destination (the
// recipients it deferred get the pause's reason as their message and a
// retry when it ends); a delivery counts towards recovery.
func (t *MXTransport) afterSend(dest, host string, st *state, todo []int) {
	delivered := false
	for _, i := range todo {
		r := &st.results[i]
		if r.Host != host {
			continue
		}
		if r.Outcome == Delivered {
			delivered = true
			continue
		}
		if r.Outcome != Deferred || !throttled(r.Code, r.Enhanced, r.Message) {
			continue
		}
		t.throttler.hit(dest, host, r.Code, r.Enhanced, r.Message)
		left, reason := t.throttler.pausedFor(dest)
		if left <= 0 {
			continue
		}
		for _, j := range todo {
			if o := &st.results[j]; o.Host == host && o.Outcome == Deferred {
				o.Message, o.retryAfter = reason, left
			}
		}
		return
	}
	if delivered {
		t.throttler.ok(dest)
	}
}

// spent counts one more message sent over keep (nil: closed) and closes it
// when it has carried dest's messages per connection; it returns the
// connection to keep, or nil.
func (t *MXTransport) spent(dest string, keep *smtpSession) *smtpSession {
	if keep == nil {
		return nil
	}
	keep.sent++
	if n := t.limits(dest).MessagesPerConn; n > 0 && keep.sent >= n {
		keep.close()
		return nil
	}
	return keep
}
