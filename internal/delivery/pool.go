package delivery

import (
	"context"
	"errors"
	"net"
	"sync"
	"time"

	"github.com/emersion/go-smtp"
)

// idleTimeout is how long an unused connection is kept for the next message
// to the same host (receivers commonly drop idle clients after a minute).
const idleTimeout = 20 * time.Second

// reapEvery is how often idle connections are checked: closed past
// idleTimeout, or when a shared Slots says another node waits for their
// slots.
const reapEvery = 250 * time.Millisecond

// smtpSession is an open SMTP connection, past EHLO (and STARTTLS, AUTH).
type smtpSession struct {
	c      *smtp.Client
	raw    net.Conn
	tls    bool
	idleAt time.Time
	sent   int // messages (transactions) sent over it
	// tlsVersion and tlsCipher name what the connection negotiated ("" in
	// plaintext); policy is the transport security policy it was opened
	// under, with why it was not met ("mta-sts testing: ...").
	tlsVersion, tlsCipher string
	policy                string
}

// quitWithin bounds the QUIT said before closing a connection.
const quitWithin = time.Second

// close says QUIT (so that the server counts the connection closed before
// its slot is freed) and closes the connection; on a connection already
// broken the QUIT fails at once.
func (s *smtpSession) close() {
	_ = s.raw.SetDeadline(time.Now().Add(quitWithin))
	_ = s.c.Quit()
	_ = s.c.Close()
	s.raw.Close()
}

// Slots counts the connections open to each destination against a limit,
// shared by the processes that use the same Slots backend (Redis, the
// database: internal/connlimit), so that N worker nodes together never
// hold more than the limit to one receiving host. A slot covers an open
// connection, busy or idle, from before it is dialled to after it is
// closed.
//
// Invariants an implementation keeps: at most max leases of one key are
// held at once across every process; a lease whose holder stops renewing
// it (a killed node) is freed by the backend within its TTL; an error
// means nothing was taken.
type Slots interface {
	// TryAcquire takes one of max slots for key without waiting: ok is
	// false when max are held. A failure (err) means the backend cannot
	// count: the caller must not connect.
	TryAcquire(ctx context.Context, key string, max int) (lease string, ok bool, err error)
	// Keep reports whether an idle connection holding lease may stay open:
	// false when another process waits for one of key's slots, or when the
	// lease may have lapsed (its renewals failed), or the backend fails.
	Keep(ctx context.Context, key, lease string) bool
	// Release frees the slot of a closed connection (best effort: a lease
	// that cannot be released expires).
	Release(key, lease string)
	// StopWaiting says that this process no longer waits for a slot of key
	// (it may have asked others to give theirs up).
	StopWaiting(key string)
}

// ErrNoSlots wraps a failure of the Slots backend: the message is deferred
// and retried later rather than sent over a connection nobody counted.
var ErrNoSlots = errors.New("the connection limiter is unavailable: not connected, retried later")

// slotError is the attempt's message when no slot was acquired: the
// context's end, or ErrNoSlots without the backend's detail (the
// limiter's own log line has it).
func slotError(err error) string {
	if errors.Is(err, ErrNoSlots) {
		return ErrNoSlots.Error()
	}
	return err.Error()
}

// pool limits the connections open at once to each destination (busy and
// idle ones: what a receiving host counts) and keeps idle ones for reuse
// for idleTimeout. Without Slots it counts in this process; with Slots,
// across every process that shares them. The zero value allows
// DefaultMaxPerHost connections per destination.
//
// Waiting for a slot is woken by this process's releases at once and polls
// a shared Slots with backoff (waitMin to waitMax) for the other
// processes' releases; it ends with ctx.
type pool struct {
	max   int
	slots Slots
	// limitFor, when set, is the limit of each destination (its configured
	// connections, lowered while it is throttled), instead of max.
	limitFor func(dest string) int

	mu      sync.Mutex
	hosts   map[string]*hostConns
	reaping bool
}

// DefaultMaxPerHost is the default limit of connections to one destination:
// large mailbox providers accept a handful of concurrent connections from
// one client without throttling it.
const DefaultMaxPerHost = 20

// Backoff of a wait for a shared slot held by another process.
const (
	waitMin = 20 * time.Millisecond
	waitMax = 100 * time.Millisecond
)

// hostConns are this process's connections to one destination.
type hostConns struct {
	open    int                      // connections open or being dialled, each holding a slot
	idle    map[string][]*pooledConn // by variant (e.g. TLS required or not), the newest last
	changed chan struct{}            // closed (and replaced) when a slot or an idle connection frees
	polling bool                     // a goroutine asks the shared Slots for a slot
	waiting int                      // goroutines in acquire
}

type pooledConn struct {
	s     *smtpSession
	lease string
}

func (p *pool) limit(dest string) int {
	if p.limitFor != nil {
		return p.limitFor(dest)
	}
	if p.max <= 0 {
		return DefaultMaxPerHost
	}
	return p.max
}

// host returns dest's connections; p.mu is held.
func (p *pool) host(dest string) *hostConns {
	if p.hosts == nil {
		p.hosts = map[string]*hostConns{}
	}
	h, ok := p.hosts[dest]
	if !ok {
		h = &hostConns{idle: map[string][]*pooledConn{}, changed: make(chan struct{})}
		p.hosts[dest] = h
	}
	return h
}

// signal wakes the waiters for h's slots; p.mu is held.
func (h *hostConns) signal() {
	close(h.changed)
	h.changed = make(chan struct{})
}

// slot is one acquired slot: an idle connection to reuse (nil: the caller
// dials) and the lease that counts it.
type slot struct {
	dest, variant string
	idle          *smtpSession
	lease         string
}

// acquire waits for a slot to dest and returns it with an idle connection
// of variant to reuse, or none (the caller dials). Each acquire must be
// followed by one release. A Slots failure is returned wrapped in
// ErrNoSlots.
func (p *pool) acquire(ctx context.Context, dest, variant string) (*slot, error) {
	p.mu.Lock()
	h := p.host(dest) // never removed
	h.waiting++
	p.mu.Unlock()
	defer func() {
		p.mu.Lock()
		h.waiting--
		last := h.waiting == 0
		p.mu.Unlock()
		if last && p.slots != nil {
			p.slots.StopWaiting(dest)
		}
	}()
	wait := waitMin
	// poller: this goroutine asks the shared Slots for this process; the
	// others wait for it (or a local release), so that a process polls
	// each destination once per backoff step, however many messages wait.
	poller := false
	defer func() {
		if poller {
			p.mu.Lock()
			h.polling = false
			h.signal() // the next waiter polls
			p.mu.Unlock()
		}
	}()
	for {
		var stolen *pooledConn
		p.mu.Lock()
		if c := p.popIdle(dest, h, variant); c != nil {
			p.mu.Unlock()
			return &slot{dest: dest, variant: variant, idle: c.s, lease: c.lease}, nil
		}
		if p.slots == nil && h.open < p.limit(dest) {
			h.open++
			p.mu.Unlock()
			return &slot{dest: dest, variant: variant}, nil
		}
		ask := p.slots != nil && (poller || !h.polling)
		if ask {
			poller, h.polling = true, true
		}
		if p.slots == nil {
			stolen = p.popOtherIdle(h, variant)
		}
		changed := h.changed
		p.mu.Unlock()

		if ask {
			lease, ok, err := p.slots.TryAcquire(ctx, dest, p.limit(dest))
			if err != nil {
				if ctx.Err() != nil {
					return nil, ctx.Err()
				}
				return nil, errors.Join(ErrNoSlots, err)
			}
			if ok {
				p.mu.Lock()
				h.open++
				p.mu.Unlock()
				return &slot{dest: dest, variant: variant, lease: lease}, nil
			}
			p.mu.Lock()
			stolen = p.popOtherIdle(h, variant)
			p.mu.Unlock()
		}
		if stolen != nil {
			// An idle connection of the other variant holds a slot this
			// one needs: close it and try again at once.
			p.closeConn(dest, stolen)
			continue
		}
		var timer *time.Timer
		var poll <-chan time.Time
		if poller {
			timer = time.NewTimer(jitter(wait))
			poll = timer.C
			wait = min(2*wait, waitMax)
		}
		select {
		case <-changed:
		case <-poll:
		case <-ctx.Done():
		}
		if timer != nil {
			timer.Stop()
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
	}
}

// jitter spreads d over [d/2, d) so that waiting nodes do not poll together.
func jitter(d time.Duration) time.Duration {
	return d/2 + time.Duration(time.Now().UnixNano()%int64(d/2+1))
}

// popIdle takes the newest idle connection of variant that has not been
// idle for idleTimeout, closing the older ones; p.mu is held.
func (p *pool) popIdle(dest string, h *hostConns, variant string) *pooledConn {
	now := time.Now()
	for idle := h.idle[variant]; len(idle) > 0; idle = h.idle[variant] {
		c := idle[len(idle)-1]
		h.idle[variant] = idle[:len(idle)-1]
		if now.Sub(c.s.idleAt) < idleTimeout {
			return c
		}
		go p.closeConn(dest, c) // signals the waiters when its slot is free
	}
	return nil
}

// popOtherIdle takes an idle connection of another variant than variant;
// p.mu is held.
func (p *pool) popOtherIdle(h *hostConns, variant string) *pooledConn {
	for v, idle := range h.idle {
		if v != variant && len(idle) > 0 {
			c := idle[0]
			h.idle[v] = idle[1:]
			return c
		}
	}
	return nil
}

// closeConn closes c, which was counted in dest's open connections, and
// frees its slot.
func (p *pool) closeConn(dest string, c *pooledConn) {
	c.s.close()
	p.free(dest, c.lease)
}

// free uncounts one connection to dest and releases its lease.
func (p *pool) free(dest, lease string) {
	if p.slots != nil {
		p.slots.Release(dest, lease)
	}
	p.mu.Lock()
	h := p.host(dest)
	h.open--
	h.signal()
	p.mu.Unlock()
}

// release ends the use of sl: keep (not nil) stays open for reuse and
// keeps the slot, unless a shared Slots says another process waits for it;
// otherwise the connection is closed and the slot frees.
func (p *pool) release(sl *slot, keep *smtpSession) {
	if keep != nil && p.slots != nil && !p.slots.Keep(context.Background(), sl.dest, sl.lease) {
		keep.close()
		keep = nil
	}
	if keep != nil && p.limitFor != nil {
		p.mu.Lock()
		over := p.host(sl.dest).open > p.limit(sl.dest) // the limit was lowered (throttling)
		p.mu.Unlock()
		if over {
			keep.close()
			keep = nil
		}
	}
	if keep == nil {
		p.free(sl.dest, sl.lease)
		return
	}
	keep.idleAt = time.Now()
	p.mu.Lock()
	h := p.host(sl.dest)
	h.idle[sl.variant] = append(h.idle[sl.variant], &pooledConn{s: keep, lease: sl.lease})
	h.signal()
	if !p.reaping {
		p.reaping = true
		go p.reap()
	}
	p.mu.Unlock()
}

// reap closes idle connections past idleTimeout, and those a shared Slots
// does not let this process keep (another node waits for their slots), every
// reapEvery while there are idle connections.
func (p *pool) reap() {
	t := time.NewTicker(reapEvery)
	defer t.Stop()
	for range t.C {
		type victim struct {
			dest string
			c    *pooledConn
		}
		var check []victim
		var expired []victim
		p.mu.Lock()
		now := time.Now()
		idle := 0
		for dest, h := range p.hosts {
			for v, conns := range h.idle {
				kept := conns[:0]
				for _, c := range conns {
					if now.Sub(c.s.idleAt) >= idleTimeout {
						expired = append(expired, victim{dest, c})
						continue
					}
					kept = append(kept, c)
					if p.slots != nil {
						check = append(check, victim{dest, c})
					}
				}
				h.idle[v] = kept
				idle += len(kept)
			}
		}
		if idle == 0 {
			p.reaping = false
		}
		p.mu.Unlock()
		for _, e := range expired {
			p.closeConn(e.dest, e.c)
		}
		for _, c := range check {
			ctx, cancel := context.WithTimeout(context.Background(), reapEvery)
			keep := p.slots.Keep(ctx, c.dest, c.c.lease)
			cancel()
			if keep {
				continue
			}
			p.mu.Lock()
			h := p.host(c.dest)
			taken := false
			for v, conns := range h.idle {
				for i, o := range conns {
					if o == c.c {
						h.idle[v] = append(conns[:i:i], conns[i+1:]...)
						taken = true
					}
				}
			}
			p.mu.Unlock()
			if taken { // not reused meanwhile
				p.closeConn(c.dest, c.c)
			}
		}
		if idle == 0 {
			return
		}
	}
}

// reuse readies an idle smtpSession for a new transaction (RSET), closing it and
// returning false when the server went away meanwhile.
func (s *smtpSession) reuse() bool {
	if err := s.c.Reset(); err != nil {
		s.close()
		return false
	}
	return true
}

// run performs fn on s, closing the connection if ctx ends meanwhile; it
// reports whether s is still usable afterwards.
func (s *smtpSession) run(ctx context.Context, fn func(c *smtp.Client) bool) bool {
	stop := context.AfterFunc(ctx, func() { s.raw.Close() })
	ok := fn(s.c)
	if !stop() {
		ok = false // the context ended: the connection is closed
	}
	return ok
}
