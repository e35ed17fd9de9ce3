package delivery

import (
	"context"
	"net"
	"sync"
	"time"

	"github.com/emersion/go-smtp"
)

// idleTimeout is how long an unused connection is kept for the next message
// to the same host (receivers commonly drop idle clients after a minute).
const idleTimeout = 20 * time.Second

// smtpSession is an open SMTP connection, past EHLO (and STARTTLS, AUTH).
type smtpSession struct {
	c      *smtp.Client
	raw    net.Conn
	tls    bool
	idleAt time.Time
}

func (s *smtpSession) close() { _ = s.c.Close(); s.raw.Close() }

// pool limits the connections open at once to each destination and keeps
// idle ones for reuse. The zero value allows DefaultMaxPerHost connections
// per destination.
type pool struct {
	max int

	mu    sync.Mutex
	hosts map[string]*hostSlots
}

// DefaultMaxPerHost is the default limit of connections to one destination:
// large mailbox providers accept a handful of concurrent connections from
// one client without throttling it.
const DefaultMaxPerHost = 20

type hostSlots struct {
	sem  chan struct{}
	idle []*smtpSession
}

func (p *pool) slots(key string) *hostSlots {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.hosts == nil {
		p.hosts = map[string]*hostSlots{}
	}
	h, ok := p.hosts[key]
	if !ok {
		n := p.max
		if n <= 0 {
			n = DefaultMaxPerHost
		}
		h = &hostSlots{sem: make(chan struct{}, n)}
		p.hosts[key] = h
	}
	return h
}

// acquire waits for a free slot for key and returns an idle smtpSession to reuse,
// or nil (the caller dials). Each acquire must be followed by one release.
func (p *pool) acquire(ctx context.Context, key string) (*smtpSession, error) {
	h := p.slots(key)
	select {
	case h.sem <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	now := time.Now()
	p.mu.Lock()
	defer p.mu.Unlock()
	for len(h.idle) > 0 {
		s := h.idle[len(h.idle)-1]
		h.idle = h.idle[:len(h.idle)-1]
		if now.Sub(s.idleAt) < idleTimeout {
			return s, nil
		}
		go s.close()
	}
	return nil, nil
}

// release frees key's slot, keeping s for reuse when it is not nil.
func (p *pool) release(key string, s *smtpSession) {
	h := p.slots(key)
	if s != nil {
		s.idleAt = time.Now()
		p.mu.Lock()
		h.idle = append(h.idle, s)
		p.mu.Unlock()
	}
	<-h.sem
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
