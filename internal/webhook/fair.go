package webhook

import (
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/godwit/godwit/internal/store"
)

// Fairness: one team's slow or dead endpoints must not delay another team's
// messages. Three rules, kept in memory by each node's Dispatcher:
//
//   - Caps: at most Limits.PerEndpoint posts in flight to one webhook and
//     Limits.PerTeam posts in flight for one team. A message that finds its
//     endpoint or team at the cap is not posted: Deliver returns *Deferred
//     and the queue snoozes its job (not an attempt of the message, and
//     the job stays in the database). Deferred messages are given turns:
//     the endpoint (or team) frees a slot every average post time / cap
//     (Limits.CapacityWait until a post has finished), so the n-th message
//     deferred waits about n such intervals, at least
//     Limits.CapacityWait; a wait longer than Limits.MaxCapacityWait is
//     drawn between half and one and a half times it. A backlog thus comes
//     back at about the pace it can be posted instead of churning through
//     the queue.
//   - A circuit breaker per webhook: after Limits.BreakerFailures
//     consecutive troubled posts (no answer, a timeout, a connection error,
//     a 5xx or a 429) it opens for Limits.BreakerOpen. While open, the
//     webhook's messages are deferred to the end of the period, not
//     posted. Then one message is posted as a trial (half-open; the others
//     wait for its outcome): an answer closes the breaker, trouble opens it
//     again for twice as long, up to Limits.BreakerMaxOpen.
//   - Opening and closing are logged at INFO with the webhook and team ids
//     (never the endpoint's URL, which may carry a token).
//
// The state is per node and not persisted: with several nodes each applies
// the caps on its own, and a restart closes every breaker. It is a few
// dozen bytes per webhook and team that posted since the start.

// Limits tunes fairness; zero fields take the defaults in parentheses.
type Limits struct {
	PerEndpoint     int           // posts in flight to one webhook (2)
	PerTeam         int           // posts in flight for one team (10)
	CapacityWait    time.Duration // shortest wait for a free slot (500 ms)
	MaxCapacityWait time.Duration // about the longest wait for a free slot (30 s)
	BreakerFailures int           // consecutive troubled posts that open a breaker (5)
	BreakerOpen     time.Duration // first open period (30 s)
	BreakerMaxOpen  time.Duration // longest open period (10 min)
}

func (l Limits) withDefaults() Limits {
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	defDur := func(v *time.Duration, d time.Duration) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&l.PerEndpoint, 2)
	def(&l.PerTeam, 10)
	defDur(&l.CapacityWait, 500*time.Millisecond)
	defDur(&l.MaxCapacityWait, 30*time.Second)
	def(&l.BreakerFailures, 5)
	defDur(&l.BreakerOpen, 30*time.Second)
	defDur(&l.BreakerMaxOpen, 10*time.Minute)
	l.MaxCapacityWait = max(l.MaxCapacityWait, l.CapacityWait)
	l.BreakerMaxOpen = max(l.BreakerMaxOpen, l.BreakerOpen)
	return l
}

// Deferred is Deliver's answer when fairness kept it from posting the
// message now: the message is unchanged (no attempt is recorded) and should
// be tried again After from now.
type Deferred struct {
	After  time.Duration
	Reason string // "endpoint busy", "team busy", "breaker open", "breaker trial"
}

func (e *Deferred) Error() string {
	return fmt.Sprintf("webhook message deferred for %s: %s", e.After, e.Reason)
}

type breakerState int

const (
	closed breakerState = iota
	open
	halfOpen
)

// slots counts the posts in flight to an endpoint or for a team, and hands
// out turns to the messages deferred for want of a slot.
type slots struct {
	inFlight int
	avgPost  time.Duration // moving average of the posts' durations; 0: none finished yet
	turn     time.Time     // when the last message deferred is expected to find a slot
}

// deferral gives a message a turn, one slot interval after the last one
// given (or now), and returns the wait until it.
func (s *slots) deferral(now time.Time, limit int, l Limits) time.Duration {
	post := s.avgPost
	if post == 0 {
		post = l.CapacityWait
	}
	if s.turn.Before(now) {
		s.turn = now
	}
	s.turn = s.turn.Add(post / time.Duration(limit))
	if s.turn.After(now.Add(l.MaxCapacityWait)) {
		s.turn = now.Add(l.MaxCapacityWait)
		return l.MaxCapacityWait/2 + time.Duration(rand.Int64N(int64(l.MaxCapacityWait)))
	}
	return jitter(max(s.turn.Sub(now), l.CapacityWait), 10)
}

func (s *slots) finished(d time.Duration) {
	s.inFlight--
	if s.avgPost == 0 {
		s.avgPost = d
	} else {
		s.avgPost += (d - s.avgPost) / 4
	}
}

// endpointState is one webhook's posts in flight and breaker.
type endpointState struct {
	slots
	teamID   string
	target   string // the endpoint URL the breaker judges; a new URL resets it
	failures int    // consecutive troubled posts
	state    breakerState
	until    time.Time     // open: end of the period; halfOpen: the trial's deadline
	openFor  time.Duration // the current (or last) open period
}

// gate holds the caps and breakers of one Dispatcher.
type gate struct {
	limits    Limits
	logger    *slog.Logger
	mu        sync.Mutex
	teams     map[string]*slots
	endpoints map[string]*endpointState
}

func newGate(l Limits, logger *slog.Logger) *gate {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &gate{limits: l.withDefaults(), logger: logger, teams: map[string]*slots{}, endpoints: map[string]*endpointState{}}
}

// ticket is a slot held by one post.
type ticket struct {
	webhookID, teamID, target string
	trial                     bool
}

// outcome is what a post says about its endpoint's health.
type outcome int

const (
	answered outcome = iota // any answer but a 5xx or 429: the endpoint is alive
	troubled                // no answer, a timeout, a 5xx or 429
	unknown                 // the post was canceled (shutdown): says nothing
)

func classify(code int, canceled bool) outcome {
	switch {
	case canceled:
		return unknown
	case code == 0, code >= 500, code == 429:
		return troubled
	default:
		return answered
	}
}

// jitter returns d plus up to a fraction 1/frac of it, at random.
func jitter(d time.Duration, frac int64) time.Duration {
	if n := int64(d) / frac; n > 0 {
		return d + time.Duration(rand.Int64N(n))
	}
	return d
}

// acquire takes a slot for a post to w at now, or says how long to wait.
// timeout bounds the post (and so a trial).
func (g *gate) acquire(w *store.Webhook, now time.Time, timeout time.Duration) (*ticket, *Deferred) {
	g.mu.Lock()
	defer g.mu.Unlock()
	e := g.endpoints[w.ID]
	if e == nil {
		e = &endpointState{teamID: w.TeamID, target: w.Endpoint}
		g.endpoints[w.ID] = e
	}
	if e.target != w.Endpoint { // a new URL is judged afresh
		e.target, e.failures, e.state, e.openFor = w.Endpoint, 0, closed, 0
	}
	switch {
	case e.state == open && now.Before(e.until):
		return nil, &Deferred{After: jitter(e.until.Sub(now), 10), Reason: "breaker open"}
	case e.state == halfOpen:
		return nil, &Deferred{After: jitter(max(e.until.Sub(now), g.limits.CapacityWait), 4), Reason: "breaker trial"}
	}
	tm := g.teams[w.TeamID]
	if tm == nil {
		tm = &slots{}
		g.teams[w.TeamID] = tm
	}
	switch {
	case e.inFlight >= g.limits.PerEndpoint:
		return nil, &Deferred{After: e.deferral(now, g.limits.PerEndpoint, g.limits), Reason: "endpoint busy"}
	case tm.inFlight >= g.limits.PerTeam:
		return nil, &Deferred{After: tm.deferral(now, g.limits.PerTeam, g.limits), Reason: "team busy"}
	}
	t := &ticket{webhookID: w.ID, teamID: w.TeamID, target: w.Endpoint}
	if e.state == open { // the period is over: this post is the trial
		e.state, e.until, t.trial = halfOpen, now.Add(timeout), true
	}
	e.inFlight++
	tm.inFlight++
	return t, nil
}

// release gives the slot back after a post that lasted took, and feeds
// its outcome to the breaker.
func (g *gate) release(t *ticket, o outcome, took time.Duration, now time.Time) {
	g.mu.Lock()
	defer g.mu.Unlock()
	tm := g.teams[t.teamID]
	tm.finished(took)
	e := g.endpoints[t.webhookID]
	e.finished(took)
	switch {
	case e.target != t.target: // the URL changed while posting: says nothing of the new one
	case o == unknown:
		if t.trial && e.state == halfOpen {
			e.state, e.until = open, now // the next message is the trial
		}
	case o == answered:
		if e.state != closed {
			g.logger.Info("webhook breaker closed", "webhook_id", t.webhookID, "team_id", t.teamID)
		}
		e.failures, e.state, e.openFor = 0, closed, 0
	default: // troubled
		e.failures++
		switch {
		case e.state == halfOpen && t.trial:
			g.open(t, e, min(2*e.openFor, g.limits.BreakerMaxOpen), now)
		case e.state == closed && e.failures >= g.limits.BreakerFailures:
			g.open(t, e, g.limits.BreakerOpen, now)
		}
	}
}

func (g *gate) open(t *ticket, e *endpointState, period time.Duration, now time.Time) {
	e.state, e.until, e.openFor = open, now.Add(period), period
	g.logger.Info("webhook breaker opened", "webhook_id", t.webhookID, "team_id", t.teamID,
		"consecutive_failures", e.failures, "open_for", period.String())
}
