// Package msa is Godwit's mail submission agent: the SMTP server through
// which software that cannot call the API (Supabase Auth, Ghost, Gitea,
// WordPress, Keycloak…) sends with an API key, as with Resend's SMTP relay.
//
// A client authenticates with AUTH PLAIN or LOGIN, username "resend" and an
// API key as the password; each message is converted by
// internal/submission into the email POST /emails would have stored, and
// accepted through internal/accept, the path the API shares (Accepter: the
// sender gate, the key's domain restriction, idempotency, the team's rate
// limit, one durable commit), so it is queued, delivered, listed and
// webhooked like any other. msa never imports internal/api: accept's
// refusals are mapped to replies here (refusal).
//
// Replies carry fixed texts; what the caller sent and why it was refused in
// detail go to the log only. DATA with a bare LF or CR is refused (SMTP
// smuggling). Every connection is bounded: connections in all and per
// address, a deadline for the whole connection and for each read, commands,
// messages and AUTH failures per connection; failed AUTH attempts from one
// address are answered ever more slowly and logged.
package msa

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"github.com/godwit/godwit/internal/accept"
	"github.com/godwit/godwit/internal/auth"
	"github.com/godwit/godwit/internal/message"
	"github.com/godwit/godwit/internal/metrics"
	"github.com/godwit/godwit/internal/ratelimit"
	"github.com/godwit/godwit/internal/smtpdata"
	"github.com/godwit/godwit/internal/store"
	"github.com/godwit/godwit/internal/submission"
)

// Username is the AUTH username; the password is an API key.
const Username = "resend"

// Accepter is the accept path (*accept.Service), shared with the API.
// Refusals are *accept.Error values, mapped here to replies; any other
// error is Godwit's own failure (a temporary reply).
type Accepter interface {
	Authenticate(ctx context.Context, token string) (*store.APIKey, error)
	Allow(ctx context.Context, key *store.APIKey) (ratelimit.Result, error)
	SendMessage(ctx context.Context, key *store.APIKey, e *store.Email, idempotencyKey string) (string, error)
}

// Config holds the server's collaborators and limits; zero values take the
// defaults noted.
type Config struct {
	Accepter Accepter
	Logger   *slog.Logger
	Now      func() time.Time
	// Hostname is the name in the greeting.
	Hostname string
	// TLSConfig is the certificate: STARTTLS is offered on ServeSTARTTLS
	// listeners when it is set; ServeTLS needs it.
	TLSConfig *tls.Config
	// AllowInsecureAuth allows AUTH without TLS on every listener; without
	// it only a listener bound to loopback allows it.
	AllowInsecureAuth bool
	// Listen and ListenTLS are the addresses Start listens on: with
	// STARTTLS when there is a certificate (ports 587, 2587), and with
	// implicit TLS (ports 465, 2465). Tests may serve listeners of their
	// own with ServeSTARTTLS and ServeTLS instead.
	Listen    []string
	ListenTLS []string
	// Listeners and ListenersTLS, when set, are the already bound
	// listeners of Listen and ListenTLS (in the same order), served
	// instead of listening again (serve binds every port before it prints
	// anything).
	Listeners    []net.Listener
	ListenersTLS []net.Listener

	MaxConns       int           // open connections in all (1000)
	MaxConnsPerIP  int           // open connections from one address (20)
	SessionTimeout time.Duration // a whole connection (30 min)
	ReadTimeout    time.Duration // waiting for one command or one piece of data (2 min)
	MaxCommands    int           // MAIL, RCPT, RSET, EHLO, AUTH and DATA per connection (1000)
	MaxMessages    int           // messages per connection (100)
	// MaxAuthFailures is how many failed AUTH attempts a connection may
	// make; the next failure closes it (3).
	MaxAuthFailures int
	// AuthFailureDelay is the wait before answering the first failed AUTH
	// from an address; it doubles with each further failure from that
	// address within AuthFailureWindow, up to AuthFailureMaxDelay (500 ms,
	// 15 min, 8 s).
	AuthFailureDelay    time.Duration
	AuthFailureWindow   time.Duration
	AuthFailureMaxDelay time.Duration
	// AcceptTimeout bounds the work on one message after DATA: key lookup,
	// checks and the commit (30 s).
	AcceptTimeout time.Duration
	// Metrics counts sessions and refusals by reason (nil: not counted).
	Metrics *metrics.Metrics
}

// Limits of one message on the wire.
const (
	// MaxRecipients is the most RCPT TO per message: 50 each for To, Cc
	// and Bcc, as the API allows.
	MaxRecipients = 3 * message.MaxRecipients
	// maxMessageBytes bounds DATA: the 40 MB limit counts attachments
	// base64-encoded, which is about how they travel in MIME; the rest is
	// headers and MIME structure.
	maxMessageBytes = submission.MaxEmailBytes + 2<<20
)

// Server is the submission server; one Server serves any number of
// listeners.
type Server struct {
	cfg      Config
	log      *slog.Logger
	conns    connCounter
	failures *failureTracker

	ctx      context.Context
	cancel   context.CancelFunc
	draining atomic.Bool
	busy     atomic.Int64 // sessions inside DATA

	mu        sync.Mutex
	servers   []*smtp.Server
	listeners []net.Listener // closed by Close and Shutdown: go-smtp knows a listener only once its Serve runs
	addrs     []net.Addr     // what Start listens on
	failed    chan error     // a listener of Start's that stopped on its own
}

// New returns a server for cfg.
func New(cfg Config) *Server {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Hostname == "" {
		cfg.Hostname = "localhost"
	}
	setDefault(&cfg.MaxConns, 1000)
	setDefault(&cfg.MaxConnsPerIP, 20)
	setDefault(&cfg.SessionTimeout, 30*time.Minute)
	setDefault(&cfg.ReadTimeout, 2*time.Minute)
	setDefault(&cfg.MaxCommands, 1000)
	setDefault(&cfg.MaxMessages, 100)
	setDefault(&cfg.MaxAuthFailures, 3)
	setDefault(&cfg.AuthFailureDelay, 500*time.Millisecond)
	setDefault(&cfg.AuthFailureWindow, 15*time.Minute)
	setDefault(&cfg.AuthFailureMaxDelay, 8*time.Second)
	setDefault(&cfg.AcceptTimeout, 30*time.Second)
	ctx, cancel := context.WithCancel(context.Background())
	return &Server{cfg: cfg, log: cfg.Logger, conns: connCounter{perIP: map[string]int{}, open: map[*sessionConn]struct{}{}},
		failures: newFailureTracker(cfg.AuthFailureWindow), ctx: ctx, cancel: cancel, failed: make(chan error, 1)}
}

func setDefault[T int | time.Duration](v *T, d T) {
	if *v <= 0 {
		*v = d
	}
}

// ServeSTARTTLS serves SMTP on ln, offering STARTTLS when the server has a
// certificate (ports 25, 587, 2587). It returns when the server closes.
func (s *Server) ServeSTARTTLS(ln net.Listener) error {
	srv := s.smtpServer(s.cfg.AllowInsecureAuth || isLoopback(ln.Addr()))
	return s.serve(srv, &limitListener{Listener: ln, s: s, plain: true})
}

// ServeTLS serves SMTP over implicit TLS on ln (ports 465, 2465).
func (s *Server) ServeTLS(ln net.Listener) error {
	if s.cfg.TLSConfig == nil {
		return errors.New("msa: implicit TLS needs a certificate")
	}
	srv := s.smtpServer(false)
	return s.serve(srv, tls.NewListener(&limitListener{Listener: ln, s: s}, s.cfg.TLSConfig))
}

func (s *Server) serve(srv *smtp.Server, ln net.Listener) error {
	s.mu.Lock()
	if s.draining.Load() {
		s.mu.Unlock()
		ln.Close()
		return smtp.ErrServerClosed
	}
	s.servers = append(s.servers, srv)
	s.listeners = append(s.listeners, ln)
	s.mu.Unlock()
	err := srv.Serve(ln)
	if errors.Is(err, net.ErrClosed) && s.draining.Load() {
		return nil
	}
	return err
}

func (s *Server) smtpServer(insecureAuth bool) *smtp.Server {
	srv := smtp.NewServer(backend{s})
	srv.Domain = s.cfg.Hostname
	srv.TLSConfig = s.cfg.TLSConfig
	srv.AllowInsecureAuth = insecureAuth
	srv.MaxMessageBytes = maxMessageBytes
	srv.MaxRecipients = MaxRecipients
	srv.ReadTimeout = s.cfg.ReadTimeout
	srv.WriteTimeout = time.Minute
	srv.EnableSMTPUTF8 = true
	srv.ErrorLog = slog.NewLogLogger(s.log.Handler(), slog.LevelDebug)
	return srv
}

// Shutdown stops accepting connections, lets the messages being received
// finish (until ctx is done), then closes every connection: an idle client
// reconnects to another node or later, as SMTP clients do.
func (s *Server) Shutdown(ctx context.Context) error {
	s.draining.Store(true)
	s.mu.Lock()
	servers, listeners := s.servers, s.listeners
	s.mu.Unlock()
	// go-smtp's Shutdown closes the listeners, then waits for every
	// connection; it is stopped once the messages in progress are done.
	sctx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	for _, srv := range servers {
		wg.Go(func() { _ = srv.Shutdown(sctx) })
	}
	closeListeners(listeners)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for s.busy.Load() > 0 && ctx.Err() == nil {
		select {
		case <-ctx.Done():
		case <-tick.C:
		}
	}
	stop()
	wg.Wait()
	s.closeAll()
	return ctx.Err()
}

// Close closes every listener and connection at once.
func (s *Server) Close() error {
	s.draining.Store(true)
	s.mu.Lock()
	servers, listeners := s.servers, s.listeners
	s.mu.Unlock()
	for _, srv := range servers {
		_ = srv.Close()
	}
	closeListeners(listeners)
	s.closeAll()
	return nil
}

// closeListeners closes listeners that go-smtp may not know yet: a Serve
// that was about to start returns at once (its server is closed) instead
// of accepting on a listener nobody closes.
func closeListeners(listeners []net.Listener) {
	for _, ln := range listeners {
		_ = ln.Close()
	}
}

func (s *Server) closeAll() {
	s.cancel()
	for _, c := range s.conns.all() {
		_ = c.Close()
	}
}

type backend struct{ s *Server }

func (b backend) NewSession(c *smtp.Conn) (smtp.Session, error) {
	sc, err := connOf(c.Conn())
	if err != nil {
		return nil, err
	}
	return &session{s: b.s, c: sc, helo: c.Hostname()}, nil
}

// Replies. Their texts are fixed; the detail is logged.
var (
	errAuthRequired = &smtp.SMTPError{Code: 530, EnhancedCode: smtp.EnhancedCode{5, 7, 0},
		Message: "Authentication required: AUTH with username resend and an API key"}
	errAuthFailed = &smtp.SMTPError{Code: 535, EnhancedCode: smtp.EnhancedCode{5, 7, 8},
		Message: "Authentication credentials invalid"}
	errAuthTooMany = &smtp.SMTPError{Code: 421, EnhancedCode: smtp.EnhancedCode{4, 7, 0},
		Message: "Too many failed authentication attempts, closing connection"}
	errAuthTemporary = &smtp.SMTPError{Code: 454, EnhancedCode: smtp.EnhancedCode{4, 7, 0},
		Message: "Temporary authentication failure, try again later"}
	errKeyRevoked = &smtp.SMTPError{Code: 530, EnhancedCode: smtp.EnhancedCode{5, 7, 0},
		Message: "Authentication credentials no longer valid, closing connection"}
	errRateLimited = &smtp.SMTPError{Code: 452, EnhancedCode: smtp.EnhancedCode{4, 7, 0},
		Message: "Rate limit exceeded, try again later"}
	errRateLimitedClosing = &smtp.SMTPError{Code: 421, EnhancedCode: smtp.EnhancedCode{4, 7, 0},
		Message: "Rate limit exceeded, closing connection; try again later"}
	errTooManyCommands = &smtp.SMTPError{Code: 421, EnhancedCode: smtp.EnhancedCode{4, 7, 0},
		Message: "Too many commands, closing connection"}
	errTooManyMessages = &smtp.SMTPError{Code: 421, EnhancedCode: smtp.EnhancedCode{4, 7, 0},
		Message: "Too many messages on one connection, closing it; reconnect to send more"}
	errDataRead = &smtp.SMTPError{Code: 421, EnhancedCode: smtp.EnhancedCode{4, 4, 2},
		Message: "Error reading the message, closing connection"}
	errShuttingDown = &smtp.SMTPError{Code: 421, EnhancedCode: smtp.EnhancedCode{4, 3, 2},
		Message: "Server shutting down, try again later"}
	errBadSender = &smtp.SMTPError{Code: 553, EnhancedCode: smtp.EnhancedCode{5, 1, 7},
		Message: "Invalid sender address"}
	errBadRecipient = &smtp.SMTPError{Code: 553, EnhancedCode: smtp.EnhancedCode{5, 1, 3},
		Message: "Invalid recipient address"}
	errTooLarge = &smtp.SMTPError{Code: 552, EnhancedCode: smtp.EnhancedCode{5, 3, 4},
		Message: "Message too large: the limit is 40 MB"}
	errBareNewline = &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 6, 0},
		Message: "Message refused: bare LF or CR; lines must end with CRLF"}
	errDomainNotVerified = &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 7, 1},
		Message: "Sender domain not verified"}
	errKeyDomain = &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 7, 1},
		Message: "This API key may not send from the sender's domain"}
	errIdempotencyMismatch = &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 7, 0},
		Message: "Resend-Idempotency-Key already used for a different message"}
	errIdempotencyBusy = &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 7, 0},
		Message: "A message with this Resend-Idempotency-Key is being accepted, try again later"}
	errRefused = &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 6, 0},
		Message: "Message refused"}
	errTemporary = &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0},
		Message: "Temporary failure, try again later"}
	// errStorageFull: RFC 5321's 452 and RFC 3463's 4.3.1, "mail system full".
	errStorageFull = &smtp.SMTPError{Code: 452, EnhancedCode: smtp.EnhancedCode{4, 3, 1},
		Message: "Insufficient system storage, try again later"}
)

// session is one SMTP session (a connection has a new one after STARTTLS).
type session struct {
	s    *Server
	c    *sessionConn
	helo string

	key        *store.APIKey
	token      string // the key as given, checked again at each MAIL
	from       string
	recipients []string
}

func (ss *session) attrs(extra ...any) []any {
	a := []any{"remote_ip", ss.c.ip, "helo", ss.helo}
	if ss.key != nil {
		a = append(a, "team_id", ss.key.TeamID, "api_key_id", ss.key.ID)
	}
	return append(a, extra...)
}

// command counts one command; past the limit the connection is closed.
func (ss *session) command() error {
	ss.c.commands++
	if ss.c.commands > ss.s.cfg.MaxCommands {
		ss.s.log.Warn("smtp connection closed: too many commands", ss.attrs()...)
		ss.s.cfg.Metrics.SMTPRefused(metrics.SMTPTooManyCommands)
		ss.c.closeAfterReply.Store(true)
		return errTooManyCommands
	}
	return nil
}

func (ss *session) AuthMechanisms() []string { return []string{sasl.Plain, sasl.Login} }

func (ss *session) Auth(mech string) (sasl.Server, error) {
	if err := ss.command(); err != nil {
		return nil, err
	}
	switch mech {
	case sasl.Plain:
		return sasl.NewPlainServer(func(identity, username, password string) error {
			if identity != "" && identity != username {
				return ss.authFailed(username, password, "authorization identity differs from username")
			}
			return ss.authenticate(username, password)
		}), nil
	case sasl.Login:
		return &loginServer{auth: ss.authenticate}, nil
	}
	return nil, smtp.ErrAuthUnknownMechanism
}

func (ss *session) authenticate(username, password string) error {
	if !strings.EqualFold(username, Username) {
		return ss.authFailed(username, password, "username is not "+Username)
	}
	ctx, cancel := context.WithTimeout(ss.s.ctx, ss.s.cfg.AcceptTimeout)
	defer cancel()
	key, err := ss.s.cfg.Accepter.Authenticate(ctx, password)
	if err != nil {
		if e := accept.AsError(err); e != nil {
			return ss.authFailed(username, password, e.Message)
		}
		ss.s.log.Error("smtp auth: key lookup failed", ss.attrs("error", err.Error())...)
		ss.s.cfg.Metrics.SMTPRefused(metrics.SMTPInternal)
		return errAuthTemporary
	}
	ss.key, ss.token = key, password
	ss.s.log.Debug("smtp auth succeeded", ss.attrs()...)
	return nil
}

// authFailed logs a failed attempt (with the key's public prefix, never the
// key), waits longer the more the address has failed, and answers 535, or
// 421 and closes once the connection has used up its attempts.
func (ss *session) authFailed(username, password, reason string) error {
	n := ss.s.failures.add(ss.c.ip, ss.s.cfg.Now())
	ss.c.authFailures++
	ss.s.cfg.Metrics.SMTPRefused(metrics.SMTPAuthFailed)
	prefix, err := auth.Prefix(password)
	if err != nil {
		prefix = ""
	}
	if p, err := auth.Prefix(username); err == nil || strings.HasPrefix(username, "re_") {
		// The key given as the username: log no more of it than its prefix.
		username = "(an API key: " + p + ")"
	}
	wait := delay(ss.s.cfg.AuthFailureDelay, ss.s.cfg.AuthFailureMaxDelay, n)
	ss.s.log.Warn("smtp auth failed", ss.attrs("reason", reason, "username", truncate(username, 64),
		"key_prefix", prefix, "failures_from_ip", n, "delay", wait)...)
	t := time.NewTimer(wait)
	select {
	case <-t.C:
	case <-ss.s.ctx.Done():
		t.Stop()
	}
	if ss.c.authFailures >= ss.s.cfg.MaxAuthFailures {
		ss.c.closeAfterReply.Store(true)
		return errAuthTooMany
	}
	return errAuthFailed
}

func (ss *session) Mail(from string, opts *smtp.MailOptions) error {
	if err := ss.command(); err != nil {
		return err
	}
	if ss.key == nil {
		ss.s.cfg.Metrics.SMTPRefused(metrics.SMTPAuthRequired)
		return errAuthRequired
	}
	if ss.s.draining.Load() {
		ss.s.cfg.Metrics.SMTPRefused(metrics.SMTPShuttingDown)
		ss.c.closeAfterReply.Store(true)
		return errShuttingDown
	}
	if ss.c.messages >= ss.s.cfg.MaxMessages {
		ss.s.cfg.Metrics.SMTPRefused(metrics.SMTPTooManyMessages)
		ss.c.closeAfterReply.Store(true)
		return errTooManyMessages
	}
	if from != "" && !message.ValidAddress(from) {
		ss.s.cfg.Metrics.SMTPRefused(metrics.SMTPBadAddress)
		return errBadSender
	}
	ctx, cancel := context.WithTimeout(ss.s.ctx, ss.s.cfg.AcceptTimeout)
	defer cancel()
	// A key deleted since AUTH stops working here, as it stops working for
	// the API (the lookup is cached for about a second).
	key, err := ss.s.cfg.Accepter.Authenticate(ctx, ss.token)
	if err != nil {
		if accept.AsError(err) != nil {
			ss.s.log.Info("smtp message refused: API key no longer valid", ss.attrs()...)
			ss.s.cfg.Metrics.SMTPRefused(metrics.SMTPKeyRevoked)
			ss.key, ss.token = nil, ""
			// go-smtp allows one AUTH per session: the client reconnects.
			ss.c.closeAfterReply.Store(true)
			return errKeyRevoked
		}
		ss.s.log.Error("smtp: key lookup failed", ss.attrs("error", err.Error())...)
		ss.s.cfg.Metrics.SMTPRefused(metrics.SMTPInternal)
		return errTemporary
	}
	ss.key = key
	res, err := ss.s.cfg.Accepter.Allow(ctx, ss.key)
	if err != nil {
		ss.s.log.Error("smtp: rate limiter failed", ss.attrs("error", err.Error())...)
		ss.s.cfg.Metrics.SMTPRefused(metrics.SMTPInternal)
		return errTemporary
	}
	if !res.Allowed {
		ss.c.rateRefusals++
		ss.s.cfg.Metrics.SMTPRefused(metrics.SMTPRateLimited)
		ss.s.log.Info("smtp message refused: rate limit", ss.attrs("limit", res.Limit)...)
		if ss.c.rateRefusals >= 3 {
			ss.c.closeAfterReply.Store(true)
			return errRateLimitedClosing
		}
		return errRateLimited
	}
	ss.c.rateRefusals = 0
	ss.from = from
	ss.recipients = ss.recipients[:0]
	return nil
}

func (ss *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	if err := ss.command(); err != nil {
		return err
	}
	if !message.ValidAddress(to) {
		ss.s.cfg.Metrics.SMTPRefused(metrics.SMTPBadAddress)
		return errBadRecipient
	}
	ss.recipients = append(ss.recipients, to)
	return nil
}

func (ss *session) Data(r io.Reader) error {
	ss.s.busy.Add(1)
	defer ss.s.busy.Add(-1)
	if err := ss.command(); err != nil {
		return err
	}
	raw, err := readMessage(r)
	switch {
	case errors.Is(err, errBareNewline):
		ss.s.log.Warn("smtp message refused: bare LF or CR in DATA (possible SMTP smuggling)", ss.attrs()...)
		ss.s.cfg.Metrics.SMTPRefused(metrics.SMTPBareNewline)
		return errBareNewline
	case errors.Is(err, smtp.ErrDataTooLarge):
		ss.s.cfg.Metrics.SMTPRefused(metrics.SMTPTooLarge)
		return errTooLarge
	case errors.Is(err, smtp.ErrDataReset):
		// A BDAT transfer abandoned by RSET or EHLO: go-smtp writes no
		// reply for it and the session goes on.
		return err
	case err != nil:
		// A read timeout or a broken connection. go-smtp would write the
		// error's text (with our address) in the reply; and where the
		// client is in its data is unknown, so the connection ends.
		ss.s.log.Info("smtp message not received: reading DATA failed", ss.attrs("error", err.Error())...)
		ss.c.closeAfterReply.Store(true)
		return errDataRead
	}
	ss.c.messages++
	e, idemKey, err := submission.Convert(raw, submission.Envelope{From: ss.from, Recipients: ss.recipients}, ss.s.cfg.Now())
	if err != nil {
		ss.s.log.Info("smtp message refused", ss.attrs("reason", err.Error(), "size", len(raw))...)
		var conv *submission.Error
		switch {
		case errors.Is(err, submission.ErrTooLarge):
			ss.s.cfg.Metrics.SMTPRefused(metrics.SMTPTooLarge)
			return errTooLarge
		case errors.As(err, &conv):
			ss.s.cfg.Metrics.SMTPRefused(metrics.SMTPInvalidMessage)
			// Convert's texts are fixed, never caller input.
			return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 6, 0}, Message: "Message refused: " + conv.Error()}
		}
		ss.s.cfg.Metrics.SMTPRefused(metrics.SMTPInvalidMessage)
		return errRefused
	}
	ctx, cancel := context.WithTimeout(ss.s.ctx, ss.s.cfg.AcceptTimeout)
	defer cancel()
	id, err := ss.s.cfg.Accepter.SendMessage(ctx, ss.key, e, idemKey)
	if err != nil {
		return ss.refusal(err, len(raw))
	}
	ss.s.log.Debug("smtp message accepted", ss.attrs("email_id", id, "size", len(raw), "recipients", len(ss.recipients))...)
	return &smtp.SMTPError{Code: 250, EnhancedCode: smtp.EnhancedCode{2, 0, 0}, Message: "OK: queued as " + id}
}

// refusal maps an error of the accept path to its reply: each kind of
// refusal once; anything else is a temporary failure.
func (ss *session) refusal(err error, size int) error {
	if store.IsNoSpace(err) {
		ss.s.log.Error("smtp message not accepted: the store is out of disk space", ss.attrs("error", err.Error(), "size", size)...)
		ss.s.cfg.Metrics.SMTPRefused(metrics.SMTPStorageFull)
		return errStorageFull
	}
	e := accept.AsError(err)
	if e == nil {
		ss.s.log.Error("smtp message not accepted: internal error", ss.attrs("error", err.Error(), "size", size)...)
		ss.s.cfg.Metrics.SMTPRefused(metrics.SMTPInternal)
		return errTemporary
	}
	ss.s.log.Info("smtp message refused", ss.attrs("kind", e.Kind.Error(), "field", e.Field, "reason", e.Message, "size", size)...)
	ss.s.cfg.Metrics.SMTPRefused(refusalReason(e.Kind))
	switch e.Kind {
	case accept.ErrKeyDomain:
		return errKeyDomain
	case accept.ErrSenderNotVerified, accept.ErrTestRecipient:
		return errDomainNotVerified
	case accept.ErrIdempotencyMismatch:
		return errIdempotencyMismatch
	case accept.ErrIdempotencyInFlight:
		return errIdempotencyBusy
	case accept.ErrTooLarge:
		return errTooLarge
	}
	return errRefused
}

// refusalReason names a refusal kind of the accept path for the
// smtp_refusals_total metric (a fixed set).
func refusalReason(k *accept.Kind) string {
	switch k {
	case accept.ErrSenderNotVerified:
		return "sender_not_verified"
	case accept.ErrKeyDomain:
		return "key_domain"
	case accept.ErrTestRecipient:
		return "test_recipient"
	case accept.ErrIdempotencyMismatch:
		return "idempotency_mismatch"
	case accept.ErrIdempotencyInFlight:
		return "idempotency_in_flight"
	case accept.ErrTooLarge:
		return metrics.SMTPTooLarge
	case accept.ErrMissingField, accept.ErrInvalid, accept.ErrInvalidParameter, accept.ErrInvalidAttachment:
		return metrics.SMTPInvalidMessage
	case accept.ErrNotFound:
		return "not_found"
	case accept.ErrInvalidKey:
		return metrics.SMTPAuthFailed
	}
	return "other"
}

func (ss *session) Reset() {
	// RSET and a repeated EHLO (and go-smtp after each DATA): counted, and
	// past the limit the connection closes after the reply.
	ss.c.commands++
	if ss.c.commands > ss.s.cfg.MaxCommands {
		ss.c.closeAfterReply.Store(true)
	}
	ss.from = ""
	ss.recipients = ss.recipients[:0]
}

func (ss *session) Logout() error { return nil }

// readMessage reads DATA (smtpdata.Read), refusing a bare LF or CR
// anywhere with the SMTP reply for it.
func readMessage(r io.Reader) ([]byte, error) {
	raw, err := smtpdata.Read(r)
	if errors.Is(err, smtpdata.ErrBareNewline) {
		return nil, errBareNewline
	}
	return raw, err
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}
