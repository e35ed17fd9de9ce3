// Package httplisten holds the listeners the API is served on.
//
// net/http answers some requests itself, before any handler runs: a request
// it cannot parse (400), headers over MaxHeaderBytes (431), a
// Transfer-Encoding it does not implement (501), and a few others. It writes
// those answers straight to the connection as text/plain, with no hook to
// change them. Resend's clients expect every error in the JSON envelope
// ({"statusCode","message","name"}), so the connections handed to the
// server rewrite exactly those fixed answers (recognised by their fixed
// header block, which no handler's answer has: net/http adds a Date header
// to those) into the envelope.
//
// Over TLS, the rewrite has to happen on the plaintext side, and net/http
// only offers HTTP/2 on a *tls.Conn it can see, so TLS is terminated here
// rather than by tls.NewListener: the handshake is done off the accept loop
// (within HandshakeTimeout), offering h2 and http/1.1 by ALPN (and whatever
// else the config offers, such as acme-tls/1 for ACME's TLS-ALPN-01
// challenge, which is answered during the handshake). Then an h2 connection
// is handed to the server as the *tls.Conn itself (HTTP/2 reports errors in
// frames, not text), an acme-tls/1 connection is closed, and any other is
// handed over wrapped for the rewrite; the wrapper reports its TLS state, so
// handlers still see Request.TLS.
package httplisten

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/godwit/godwit/internal/panics"
)

// HandshakeTimeout bounds a TLS handshake.
const HandshakeTimeout = 10 * time.Second

// acmeALPN is the protocol of ACME's TLS-ALPN-01 challenge (RFC 8737).
const acmeALPN = "acme-tls/1"

// Plain wraps a listener of plain HTTP connections so that net/http's own
// error answers are written in Resend's envelope.
func Plain(ln net.Listener) net.Listener { return plainListener{ln} }

type plainListener struct{ net.Listener }

func (l plainListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &errorConn{Conn: c}, nil
}

// TLS serves TLS on ln with a copy of cfg that offers h2 and http/1.1 by
// ALPN before the protocols cfg already lists. The http.Server given this
// listener must have HTTP/2 configured for Serve (a nil TLSConfig does, or
// one listing h2). A panic while handshaking (untrusted bytes) closes that
// connection only and is logged to log (nil: not logged).
func TLS(ln net.Listener, cfg *tls.Config, log *slog.Logger) net.Listener {
	cfg = cfg.Clone()
	protos := []string{"h2", "http/1.1"}
	for _, p := range cfg.NextProtos {
		if !slices.Contains(protos, p) {
			protos = append(protos, p)
		}
	}
	cfg.NextProtos = protos
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	l := &tlsListener{Listener: ln, cfg: cfg, log: log, conns: make(chan net.Conn), done: make(chan struct{})}
	go l.acceptLoop()
	return l
}

type tlsListener struct {
	net.Listener
	cfg   *tls.Config
	log   *slog.Logger
	conns chan net.Conn
	done  chan struct{}

	mu        sync.Mutex
	err       error // the accept loop's end
	closeOnce sync.Once
}

func (l *tlsListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		l.mu.Lock()
		defer l.mu.Unlock()
		if l.err != nil {
			return nil, l.err
		}
		return nil, net.ErrClosed
	}
}

func (l *tlsListener) Close() error {
	var err error
	l.closeOnce.Do(func() {
		close(l.done)
		err = l.Listener.Close()
	})
	return err
}

func (l *tlsListener) acceptLoop() {
	var backoff time.Duration
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			var te interface{ Temporary() bool }
			if errors.As(err, &te) && te.Temporary() { // too many open files: net/http's own backoff
				backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
				select {
				case <-time.After(backoff):
					continue
				case <-l.done:
					return
				}
			}
			select {
			case <-l.done: // closed: Accept answers net.ErrClosed
			default:
				l.mu.Lock()
				l.err = err
				l.mu.Unlock()
				_ = l.Close()
			}
			return
		}
		backoff = 0
		go l.handshakeSafely(c)
	}
}

// handshakeSafely is handshake with its panics recovered: the connection
// is closed and the panic logged with its stack.
func (l *tlsListener) handshakeSafely(c net.Conn) {
	err := panics.Catch(func() error { l.handshake(c); return nil })
	if p, ok := errors.AsType[*panics.Error](err); ok {
		_ = c.Close()
		l.log.Error("TLS handshake panicked; the connection is closed",
			append([]any{slog.String("remote_addr", c.RemoteAddr().String())}, p.LogAttrs()...)...)
	}
}

func (l *tlsListener) handshake(c net.Conn) {
	tc := tls.Server(c, l.cfg)
	ctx, cancel := context.WithTimeout(context.Background(), HandshakeTimeout)
	defer cancel()
	if err := tc.HandshakeContext(ctx); err != nil {
		var re tls.RecordHeaderError
		if errors.As(err, &re) && re.Conn != nil && plainHTTP(re.RecordHeader[:]) {
			_ = re.Conn.SetWriteDeadline(time.Now().Add(time.Second))
			_, _ = re.Conn.Write(envelope(http.StatusBadRequest, message(http.StatusBadRequest, "Client sent an HTTP request to an HTTPS server")))
		}
		_ = c.Close()
		return
	}
	var out net.Conn
	switch tc.ConnectionState().NegotiatedProtocol {
	case "h2":
		out = tc
	case acmeALPN:
		// The challenge's certificate was the whole answer.
		_ = tc.Close()
		return
	default:
		out = &tlsErrorConn{errorConn: errorConn{Conn: tc}, tls: tc}
	}
	select {
	case l.conns <- out:
	case <-l.done:
		_ = out.Close()
	}
}

// plainHTTP reports whether the first bytes of a connection are an HTTP
// method rather than a TLS record.
func plainHTTP(hdr []byte) bool {
	for _, m := range []string{"GET /", "HEAD ", "POST ", "PUT /", "PATCH", "DELET", "OPTIO"} {
		if string(hdr) == m {
			return true
		}
	}
	return false
}

// errorConn rewrites net/http's fixed error answers.
type errorConn struct{ net.Conn }

// tlsErrorConn is an errorConn over TLS; net/http sets Request.TLS from its
// ConnectionState.
type tlsErrorConn struct {
	errorConn
	tls *tls.Conn
}

func (c *tlsErrorConn) ConnectionState() tls.ConnectionState { return c.tls.ConnectionState() }

// errorHeaders is the header block of every answer net/http writes itself
// (server.go, conn.serve), in one Write with its status line and body.
const errorHeaders = "\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n"

func (c *errorConn) Write(b []byte) (int, error) {
	if out, ok := rewrite(b); ok {
		if _, err := c.Conn.Write(out); err != nil {
			return 0, err
		}
		return len(b), nil
	}
	return c.Conn.Write(b)
}

// rewrite turns "HTTP/1.1 <code> <text>" + errorHeaders + body into the same
// status in Resend's envelope.
func rewrite(b []byte) ([]byte, bool) {
	const prefix = "HTTP/1.1 "
	if !bytes.HasPrefix(b, []byte(prefix)) {
		return nil, false
	}
	i := bytes.Index(b, []byte(errorHeaders))
	if i < 0 || bytes.IndexByte(b[:i], '\n') >= 0 {
		return nil, false // not right after the status line
	}
	status := string(b[len(prefix):i])
	if len(status) < 3 {
		return nil, false
	}
	code, err := strconv.Atoi(status[:3])
	if err != nil || code < 400 || code > 599 {
		return nil, false
	}
	detail := ""
	if _, d, ok := bytes.Cut([]byte(status), []byte(": ")); ok {
		detail = string(d) // net/http's own words: "missing required Host header"
	}
	return envelope(code, message(code, detail)), true
}

func message(code int, detail string) string {
	var m string
	switch code {
	case http.StatusBadRequest:
		m = "The HTTP request is malformed"
	case http.StatusRequestHeaderFieldsTooLarge:
		m = "The request's header fields are too large"
	case http.StatusNotImplemented:
		m = "The request's Transfer-Encoding is not supported"
	default:
		m = http.StatusText(code)
	}
	if detail != "" {
		m += ": " + detail
	}
	return m + "."
}

// envelope is a whole HTTP/1.1 answer: Resend's error envelope (name
// validation_error: every one of these is about the request), and the
// connection closed.
func envelope(code int, msg string) []byte {
	body, _ := json.Marshal(struct {
		StatusCode int    `json:"statusCode"`
		Message    string `json:"message"`
		Name       string `json:"name"`
	}{code, msg, "validation_error"})
	var b bytes.Buffer
	fmt.Fprintf(&b, "HTTP/1.1 %d %s\r\nContent-Type: application/json; charset=utf-8\r\nX-Content-Type-Options: nosniff\r\n"+
		"Content-Length: %d\r\nConnection: close\r\n\r\n", code, http.StatusText(code), len(body))
	b.Write(body)
	return b.Bytes()
}
