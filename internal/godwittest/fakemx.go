package godwittest

import (
	"bytes"
	"crypto/tls"
	"errors"
	"io"
	"log"
	"net"
	"net/mail"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// ErrDropConnection, returned by MXOptions.Rcpt, makes the MX close the
// connection instead of answering the RCPT.
var ErrDropConnection = errors.New("godwittest: drop the connection")

// MXOptions shape a fake MX's answers. The zero value accepts everything
// over plain SMTP.
type MXOptions struct {
	// Domain is the name the MX greets with ("mx.test" when empty).
	Domain string
	// TLS, when set, makes the MX offer STARTTLS with it, or speak TLS from
	// the first byte with ImplicitTLS.
	TLS         *tls.Config
	ImplicitTLS bool
	// User and Password, when User is set, make the MX offer AUTH PLAIN and
	// refuse MAIL until a client has authenticated with them.
	User, Password string
	// AllowInsecureAuth lets a client authenticate without TLS.
	AllowInsecureAuth bool
	// Rcpt returns the reply to RCPT TO for rcpt, nil to accept it; attempt
	// counts the RCPT commands naming that exact address so far, this one
	// included (1 the first time). It may block. ErrDropConnection closes
	// the connection. A nil Rcpt accepts every recipient.
	Rcpt func(rcpt string, attempt int) error
	// Data returns the reply to DATA for a message to rcpts (the accepted
	// recipients), nil to accept and keep it. A nil Data accepts every
	// message.
	Data func(rcpts []string, data []byte) error
	// DataDelay is how long the MX takes over each message before it
	// answers DATA, as a real one does.
	DataDelay time.Duration
	// BeforeData, when set, is called with the client's EHLO name once a
	// message's data have been read, before the MX keeps it and answers.
	// It may block: a test kills the sender meanwhile, so that the MX
	// keeps a message whose sender never heard the answer.
	BeforeData func(helo string)
	// Addr is the loopback address to listen on, e.g. "127.0.0.2:2525"
	// (several MX hosts on one port, each at its own address, as DNS
	// publishes them); "" is 127.0.0.1 on a free port.
	Addr string
}

// MXMessage is one message the MX accepted.
type MXMessage struct {
	From  string   // MAIL FROM
	Rcpts []string // the accepted RCPT TO addresses
	Data  []byte   // the message as sent after DATA
	At    time.Time
	TLS   bool   // it came over TLS (STARTTLS or implicit)
	Helo  string // the client's EHLO/HELO name
	User  string // the AUTH user, empty without AUTH
	// Source is the client's IP address (the connection's remote end):
	// the source address a sender bound to.
	Source string
}

// MessageID returns the message's Message-ID header, empty if it has none
// or does not parse.
func (m MXMessage) MessageID() string {
	msg, err := mail.ReadMessage(bytes.NewReader(m.Data))
	if err != nil {
		return ""
	}
	return msg.Header.Get("Message-Id")
}

// MX is a fake receiving SMTP server on loopback that keeps every message
// it accepts whole. It stops when the test ends.
type MX struct {
	addr     string
	opts     MXOptions
	mu       sync.Mutex
	msgs     []MXMessage
	rcpts    []string // every RCPT TO address, refused ones too
	attempts map[string]int
	sessions int
	open     int // connections open now (see countConn)
	maxOpen  int
}

// NewMX starts a fake MX on opts.Addr, by default 127.0.0.1 on a free
// port.
func NewMX(t testing.TB, opts MXOptions) *MX {
	t.Helper()
	mx := &MX{opts: opts, attempts: map[string]int{}}
	srv := smtp.NewServer(mx)
	srv.Domain = opts.Domain
	if srv.Domain == "" {
		srv.Domain = "mx.test"
	}
	srv.ErrorLog = log.New(io.Discard, "", 0) // tests drop and reset connections on purpose
	srv.ReadTimeout, srv.WriteTimeout = 10*time.Second, 10*time.Second
	srv.AllowInsecureAuth = opts.AllowInsecureAuth
	addr := opts.Addr
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	tcp, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("fake MX: listen: %v", err)
	}
	// Connections are counted below TLS: go-smtp sees a *tls.Conn.
	var ln net.Listener = &countListener{Listener: tcp, mx: mx}
	if opts.ImplicitTLS {
		ln = tls.NewListener(ln, opts.TLS)
	} else {
		srv.TLSConfig = opts.TLS
	}
	mx.addr = ln.Addr().String()
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(ln)
	}()
	t.Cleanup(func() {
		_ = srv.Close()
		// go-smtp's Close closes only the listeners Serve has registered:
		// a test that ends before Serve ran would leave it accepting.
		_ = ln.Close()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Error("fake MX: the server did not stop")
		}
	})
	return mx
}

// Addr is the host:port the MX listens on.
func (mx *MX) Addr() string { return mx.addr }

// Messages returns a copy of the messages accepted so far, in order.
func (mx *MX) Messages() []MXMessage {
	mx.mu.Lock()
	defer mx.mu.Unlock()
	return append([]MXMessage(nil), mx.msgs...)
}

// Count is how many messages the MX has accepted.
func (mx *MX) Count() int {
	mx.mu.Lock()
	defer mx.mu.Unlock()
	return len(mx.msgs)
}

// ForMessageID returns the accepted messages with that Message-ID.
func (mx *MX) ForMessageID(msgID string) []MXMessage {
	var out []MXMessage
	for _, m := range mx.Messages() {
		if m.MessageID() == msgID {
			out = append(out, m)
		}
	}
	return out
}

// MessageIDs counts the accepted messages by Message-ID.
func (mx *MX) MessageIDs() map[string]int {
	out := map[string]int{}
	for _, m := range mx.Messages() {
		out[m.MessageID()]++
	}
	return out
}

// Rcpts returns every RCPT TO address the MX was given, refused ones too,
// in order.
func (mx *MX) Rcpts() []string {
	mx.mu.Lock()
	defer mx.mu.Unlock()
	return append([]string(nil), mx.rcpts...)
}

// Attempts is how many RCPT commands named exactly addr.
func (mx *MX) Attempts(addr string) int {
	mx.mu.Lock()
	defer mx.mu.Unlock()
	return mx.attempts[addr]
}

// Sessions is how many SMTP connections the MX has taken.
func (mx *MX) Sessions() int {
	mx.mu.Lock()
	defer mx.mu.Unlock()
	return mx.sessions
}

// Open is how many connections to the MX are open now.
func (mx *MX) Open() int {
	mx.mu.Lock()
	defer mx.mu.Unlock()
	return mx.open
}

// MaxOpen is the most connections the MX had open at once.
func (mx *MX) MaxOpen() int {
	mx.mu.Lock()
	defer mx.mu.Unlock()
	return mx.maxOpen
}

// countListener counts the MX's open connections, as a receiving host
// limiting connections per client does.
type countListener struct {
	net.Listener
	mx *MX
}

func (l *countListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	l.mx.mu.Lock()
	l.mx.open++
	l.mx.maxOpen = max(l.mx.maxOpen, l.mx.open)
	l.mx.mu.Unlock()
	return &countConn{Conn: c, mx: l.mx}, nil
}

// countConn is a connection counted open until the client says QUIT or
// either side closes it: a client that said QUIT is gone for the count even
// before the server has closed its end.
type countConn struct {
	net.Conn
	mx   *MX
	once sync.Once
}

func (c *countConn) uncount() {
	c.once.Do(func() {
		c.mx.mu.Lock()
		c.mx.open--
		c.mx.mu.Unlock()
	})
}

func (c *countConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if err != nil || bytes.HasPrefix(bytes.ToUpper(p[:n]), []byte("QUIT")) {
		c.uncount()
	}
	return n, err
}

func (c *countConn) Close() error {
	c.uncount()
	return c.Conn.Close()
}

// NewSession implements smtp.Backend.
func (mx *MX) NewSession(c *smtp.Conn) (smtp.Session, error) {
	mx.mu.Lock()
	mx.sessions++
	mx.mu.Unlock()
	return &mxSession{mx: mx, c: c}, nil
}

type mxSession struct {
	mx     *MX
	c      *smtp.Conn
	from   string
	to     []string
	authed string
}

func (s *mxSession) AuthMechanisms() []string {
	if s.mx.opts.User == "" {
		return nil
	}
	return []string{sasl.Plain}
}

func (s *mxSession) Auth(string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(_, username, password string) error {
		if username != s.mx.opts.User || password != s.mx.opts.Password {
			return smtp.ErrAuthFailed
		}
		s.authed = username
		return nil
	}), nil
}

func (s *mxSession) Mail(from string, _ *smtp.MailOptions) error {
	if s.mx.opts.User != "" && s.authed == "" {
		return smtp.ErrAuthRequired
	}
	s.from, s.to = from, nil
	return nil
}

func (s *mxSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.mx.mu.Lock()
	s.mx.rcpts = append(s.mx.rcpts, to)
	s.mx.attempts[to]++
	n := s.mx.attempts[to]
	s.mx.mu.Unlock()
	if s.mx.opts.Rcpt != nil {
		if err := s.mx.opts.Rcpt(to, n); errors.Is(err, ErrDropConnection) {
			_ = s.c.Conn().Close()
			return err
		} else if err != nil {
			return err
		}
	}
	s.to = append(s.to, to)
	return nil
}

func (s *mxSession) Data(r io.Reader) error {
	data, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	if s.mx.opts.BeforeData != nil {
		s.mx.opts.BeforeData(s.c.Hostname())
	}
	time.Sleep(s.mx.opts.DataDelay)
	if s.mx.opts.Data != nil {
		if err := s.mx.opts.Data(append([]string(nil), s.to...), data); err != nil {
			return err
		}
	}
	_, isTLS := s.c.TLSConnectionState()
	m := MXMessage{From: s.from, Rcpts: append([]string(nil), s.to...), Data: data, At: time.Now(),
		TLS: isTLS, Helo: s.c.Hostname(), User: s.authed}
	if host, _, err := net.SplitHostPort(s.c.Conn().RemoteAddr().String()); err == nil {
		m.Source = host
	}
	s.mx.mu.Lock()
	s.mx.msgs = append(s.mx.msgs, m)
	s.mx.mu.Unlock()
	return nil
}

func (s *mxSession) Reset()        { s.from, s.to = "", nil }
func (s *mxSession) Logout() error { return nil }
