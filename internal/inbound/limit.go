package inbound

import (
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/godwit/godwit/internal/metrics"
)

// Connection limits of the MX: a sender past them is answered 421 and
// retries later, as SMTP senders do.
type Limits struct {
	MaxConns      int // open connections in all (0: 1000)
	MaxConnsPerIP int // open connections from one address (0: 20)
}

// limitListener refuses connections beyond the limits with a 421 line.
type limitListener struct {
	net.Listener
	limits   Limits
	hostname string
	metrics  *metrics.Metrics
	log      *slog.Logger

	mu    sync.Mutex
	open  int
	perIP map[string]int
}

func newLimitListener(ln net.Listener, l Limits, hostname string, met *metrics.Metrics, log *slog.Logger) *limitListener {
	if l.MaxConns <= 0 {
		l.MaxConns = 1000
	}
	if l.MaxConnsPerIP <= 0 {
		l.MaxConnsPerIP = 20
	}
	return &limitListener{Listener: ln, limits: l, hostname: hostname, metrics: met, log: log, perIP: map[string]int{}}
}

func (l *limitListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		ip := c.RemoteAddr().String()
		if host, _, err := net.SplitHostPort(ip); err == nil {
			ip = host
		}
		if l.take(ip) {
			return &limitedConn{Conn: c, release: func() { l.give(ip) }}, nil
		}
		l.metrics.Inbound(metrics.InboundTooManyConnections)
		l.log.Warn("inbound: connection refused: too many connections", "remote_ip", ip)
		_ = c.SetWriteDeadline(time.Now().Add(time.Second))
		_, _ = c.Write([]byte("421 4.7.0 " + l.hostname + " Too many connections, try again later\r\n"))
		_ = c.Close()
	}
}

func (l *limitListener) take(ip string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.open >= l.limits.MaxConns || l.perIP[ip] >= l.limits.MaxConnsPerIP {
		return false
	}
	l.open++
	l.perIP[ip]++
	return true
}

func (l *limitListener) give(ip string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.open--
	if l.perIP[ip]--; l.perIP[ip] <= 0 {
		delete(l.perIP, ip)
	}
}

// limitedConn gives its place back once, when closed.
type limitedConn struct {
	net.Conn
	once    sync.Once
	release func()
}

func (c *limitedConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.release)
	return err
}
