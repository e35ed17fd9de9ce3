package msa

import (
	"crypto/tls"
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/godwit/godwit/internal/metrics"
)

// limitListener refuses connections beyond the server's limits (all
// connections, and connections from one IP address) and wraps the rest in
// a conn that bounds the session's length.
type limitListener struct {
	net.Listener
	s *Server
	// plain: the listener does not speak TLS first, so a refusal can be
	// answered with a 421 line before closing.
	plain bool
}

func (l *limitListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		ip := remoteIP(c.RemoteAddr())
		sc := newSessionConn(c, ip, l.s)
		if !l.s.conns.add(sc, l.s.cfg.MaxConns, l.s.cfg.MaxConnsPerIP) {
			l.s.log.Warn("smtp connection refused: too many connections", "remote_ip", ip)
			l.s.cfg.Metrics.SMTPRefused(metrics.SMTPTooManyConnections)
			if l.plain {
				_ = c.SetWriteDeadline(time.Now().Add(time.Second))
				_, _ = c.Write([]byte("421 4.7.0 " + l.s.cfg.Hostname + " Too many connections, try again later\r\n"))
			}
			_ = c.Close()
			continue
		}
		l.s.cfg.Metrics.SMTPSession()
		return sc, nil
	}
}

// connCounter counts open connections, in all and per IP address, and
// holds them so that Close can end them.
type connCounter struct {
	mu    sync.Mutex
	perIP map[string]int
	open  map[*sessionConn]struct{}
}

// add registers c unless a limit is reached.
func (cc *connCounter) add(c *sessionConn, maxTotal, maxPerIP int) bool {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	if len(cc.open) >= maxTotal || cc.perIP[c.ip] >= maxPerIP {
		return false
	}
	cc.open[c] = struct{}{}
	cc.perIP[c.ip]++
	return true
}

func (cc *connCounter) remove(c *sessionConn) {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	if _, ok := cc.open[c]; !ok {
		return
	}
	delete(cc.open, c)
	if cc.perIP[c.ip]--; cc.perIP[c.ip] <= 0 {
		delete(cc.perIP, c.ip)
	}
}

// all returns the open connections.
func (cc *connCounter) all() []*sessionConn {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	out := make([]*sessionConn, 0, len(cc.open))
	for c := range cc.open {
		out = append(out, c)
	}
	return out
}

// sessionConn is one client connection as the SMTP server sees it, below
// TLS. It holds what lasts across the sessions of one connection (go-smtp
// starts a new session after STARTTLS): the deadline of the whole
// connection, its counters, and the request to close after the next reply.
type sessionConn struct {
	net.Conn
	ip  string
	end time.Time // no deadline is set past this

	closeAfterReply atomic.Bool
	s               *Server

	// Used by the connection's own goroutine only.
	commands     int
	messages     int
	authFailures int
	rateRefusals int
}

func newSessionConn(c net.Conn, ip string, s *Server) *sessionConn {
	sc := &sessionConn{Conn: c, ip: ip, s: s, end: time.Now().Add(s.cfg.SessionTimeout)}
	_ = c.SetDeadline(sc.end)
	return sc
}

func (c *sessionConn) clamp(t time.Time) time.Time {
	if t.IsZero() || t.After(c.end) {
		return c.end
	}
	return t
}

// Read waits at most ReadTimeout (and not past the connection's end) for
// each piece of data. go-smtp sets a read deadline only when it reads a
// command line, so without this the whole of DATA (or of a BDAT chunk)
// would have to arrive within ReadTimeout of the command, however steadily
// it came: a 40 MB message over a slow link would always time out.
func (c *sessionConn) Read(p []byte) (int, error) {
	_ = c.Conn.SetReadDeadline(c.clamp(time.Now().Add(c.s.cfg.ReadTimeout)))
	return c.Conn.Read(p)
}

func (c *sessionConn) SetDeadline(t time.Time) error { return c.Conn.SetDeadline(c.clamp(t)) }
func (c *sessionConn) SetReadDeadline(t time.Time) error {
	return c.Conn.SetReadDeadline(c.clamp(t))
}
func (c *sessionConn) SetWriteDeadline(t time.Time) error {
	return c.Conn.SetWriteDeadline(c.clamp(t))
}

// Write sends a reply; once a session asked for it, the connection closes
// right after (go-smtp writes each reply line in one Write, and the replies
// that close are one line).
func (c *sessionConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	if c.closeAfterReply.Load() {
		_ = c.Close()
	}
	return n, err
}

func (c *sessionConn) Close() error {
	err := c.Conn.Close()
	c.s.conns.remove(c)
	return err
}

// connOf finds the sessionConn under the connection go-smtp holds (a
// *tls.Conn after STARTTLS or on the implicit-TLS listener).
func connOf(c net.Conn) (*sessionConn, error) {
	if tc, ok := c.(*tls.Conn); ok {
		c = tc.NetConn()
	}
	sc, ok := c.(*sessionConn)
	if !ok {
		return nil, errors.New("msa: connection not accepted through the server's listener")
	}
	return sc, nil
}

func remoteIP(a net.Addr) string {
	if ta, ok := a.(*net.TCPAddr); ok {
		return ta.IP.String()
	}
	host, _, err := net.SplitHostPort(a.String())
	if err != nil {
		return a.String()
	}
	return host
}

// isLoopback reports whether a listener's address is on loopback only.
func isLoopback(a net.Addr) bool {
	ta, ok := a.(*net.TCPAddr)
	return ok && ta.IP.IsLoopback()
}
