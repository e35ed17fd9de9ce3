package delivery

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// RelayTransport sends every message through one SMTP relay (smarthost).
type RelayTransport struct {
	URL       string        // smtp://user:pass@host:port (STARTTLS, port 587 by default) or smtps://… (implicit TLS, port 465 by default)
	HELO      string        // EHLO name (--hostname)
	Timeout   time.Duration // per connection/command phase; 0 means 60 s
	TLSConfig *tls.Config   // nil verifies the relay against the system roots; ServerName defaults to the URL's host
	// MaxConns limits the connections open at once to the relay (idle ones
	// kept for reuse included); 0 means DefaultMaxPerHost.
	MaxConns int
	// Slots counts them across the processes that share it (nil: in this
	// process only): MaxConns is then their total.
	Slots Slots
	// Logger receives the detail of connection failures whose
	// tenant-visible message is generic; nil discards it.
	Logger *slog.Logger

	poolOnce sync.Once
	pool     *pool
}

func (t *RelayTransport) conns() *pool {
	t.poolOnce.Do(func() { t.pool = &pool{max: t.MaxConns, slots: t.Slots} })
	return t.pool
}

// Deliver sends m through the relay with AUTH PLAIN when the URL has
// credentials (after STARTTLS for smtp://, which is then required; implicit
// TLS for smtps://). Replies are classified per recipient as for MX delivery.
// Failures to reach, secure or authenticate to the relay are Deferred: they
// say nothing about the recipients.
func (t *RelayTransport) Deliver(ctx context.Context, m *Message) []Result {
	st := newState(m, t.Logger)
	u, err := url.Parse(t.URL)
	if err != nil {
		st.setAll("", 0, "", "invalid relay URL: "+redact(err.Error(), t.URL), Deferred)
		return st.results
	}
	var implicitTLS bool
	var defPort string
	switch strings.ToLower(u.Scheme) {
	case "smtp":
		defPort = "587"
	case "smtps":
		implicitTLS, defPort = true, "465"
	default:
		st.setAll("", 0, "", fmt.Sprintf("invalid relay URL: scheme %q (want smtp or smtps)", u.Scheme), Deferred)
		return st.results
	}
	host := u.Hostname()
	if host == "" {
		st.setAll("", 0, "", "invalid relay URL: no host", Deferred)
		return st.results
	}
	port := u.Port()
	if port == "" {
		port = defPort
	}
	addr := net.JoinHostPort(host, port)

	cfg := &tls.Config{}
	if t.TLSConfig != nil {
		cfg = t.TLSConfig.Clone()
	}
	if cfg.ServerName == "" {
		cfg.ServerName = host
	}
	timeout := t.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}

	sl, err := t.conns().acquire(ctx, addr, "")
	if err != nil {
		st.setAll(host, 0, "", slotError(err), Deferred)
		return st.results
	}
	var keep *smtpSession
	defer func() { t.conns().release(sl, keep) }()
	s := sl.idle
	if s == nil || !s.reuse() {
		s, err = t.open(ctx, u, addr, timeout, cfg, implicitTLS)
		if err != nil {
			st.logErr(host, err)
			code, enh, msg, _ := Classify(err)
			var ae *authError
			if errors.As(err, &ae) {
				msg = "relay authentication failed: " + msg
			}
			if strings.Contains(msg, errNoStartTLSText) {
				msg = "the relay does not offer STARTTLS; refusing to send credentials or mail in plaintext"
			}
			st.setAll(host, code, enh, redact(msg, t.URL), Deferred)
			return st.results
		}
	}
	todo := st.todo()
	if s.run(ctx, func(c *smtp.Client) bool { return transact(c, host, m, st, todo) }) {
		keep = s
	} else {
		s.close()
	}
	return st.results
}

// open connects and authenticates to the relay. With credentials, smtp://
// requires STARTTLS; without, it uses STARTTLS when offered.
func (t *RelayTransport) open(ctx context.Context, u *url.URL, addr string, timeout time.Duration, cfg *tls.Config, implicitTLS bool) (*smtpSession, error) {
	s, err := dialClient(ctx, addr, t.HELO, timeout, nil, cfg, !implicitTLS)
	if err != nil && !implicitTLS && u.User == nil && strings.Contains(err.Error(), errNoStartTLSText) {
		s, err = dialClient(ctx, addr, t.HELO, timeout, nil, nil, false)
	}
	if err != nil {
		return nil, err
	}
	if u.User != nil {
		pass, _ := u.User.Password()
		if err := s.c.Auth(sasl.NewPlainClient("", u.User.Username(), pass)); err != nil {
			s.close()
			return nil, &authError{err}
		}
	}
	return s, nil
}

type authError struct{ err error }

func (e *authError) Error() string { return "relay authentication failed: " + e.err.Error() }
func (e *authError) Unwrap() error { return e.err }

// redact removes the relay password from a message that may quote the URL.
func redact(msg, rawURL string) string {
	if i := strings.Index(rawURL, "://"); i >= 0 {
		rest := rawURL[i+3:]
		if at := strings.LastIndex(rest, "@"); at >= 0 {
			if user, pass, ok := strings.Cut(rest[:at], ":"); ok && pass != "" {
				msg = strings.ReplaceAll(msg, user+":"+pass, user+":xxxxx")
			}
		}
	}
	return msg
}
