package msa_test

import (
	"bufio"
	"crypto/tls"
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/godwit/godwit/internal/msa"
)

// ---------------------------------------------------------------------------
// A raw SMTP client: one line out, one whole (multi-line) reply in.

type reply struct {
	code  int
	enh   string // enhanced status code, "" when the reply has none
	text  string // the last line's text after the codes
	lines []string
}

func (r reply) String() string { return strings.Join(r.lines, " | ") }

var enhancedCode = regexp.MustCompile(`^[245]\.\d{1,3}\.\d{1,3}$`)

type client struct {
	t    *testing.T
	conn net.Conn
	r    *bufio.Reader
}

// dialRaw connects and checks the 220 greeting.
func dialRaw(t *testing.T, addr string) *client {
	t.Helper()
	c := dialNoGreeting(t, addr)
	requireReply(t, c.read(), 220, "")
	return c
}

func dialNoGreeting(t *testing.T, addr string) *client {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, ioTimeout)
	require.NoError(t, err)
	t.Cleanup(func() { _ = conn.Close() })
	return &client{t: t, conn: conn, r: bufio.NewReader(conn)}
}

// tryRead reads one reply; it reports instead of failing the test, so that
// it may run outside the test's goroutine.
func (c *client) tryRead() (reply, error) {
	_ = c.conn.SetReadDeadline(time.Now().Add(ioTimeout))
	var rep reply
	for {
		line, err := c.r.ReadString('\n')
		if err != nil {
			return rep, err
		}
		if !strings.HasSuffix(line, "\r\n") {
			return rep, fmt.Errorf("reply line %q does not end with CRLF", line)
		}
		line = strings.TrimSuffix(line, "\r\n")
		rep.lines = append(rep.lines, line)
		if len(line) < 4 {
			return rep, fmt.Errorf("short reply line %q", line)
		}
		code, err := strconv.Atoi(line[:3])
		if err != nil || (rep.code != 0 && code != rep.code) {
			return rep, fmt.Errorf("bad reply code in %q", line)
		}
		rep.code = code
		switch line[3] {
		case '-':
			continue
		case ' ':
			rep.text = line[4:]
			if first, rest, _ := strings.Cut(rep.text, " "); enhancedCode.MatchString(first) {
				rep.enh, rep.text = first, rest
			}
			return rep, nil
		}
		return rep, fmt.Errorf("bad reply line %q", line)
	}
}

func (c *client) read() reply {
	c.t.Helper()
	r, err := c.tryRead()
	require.NoError(c.t, err, "reading a reply (got %s)", r)
	return r
}

func (c *client) write(s string) {
	c.t.Helper()
	_ = c.conn.SetWriteDeadline(time.Now().Add(ioTimeout))
	_, err := io.WriteString(c.conn, s)
	require.NoError(c.t, err)
}

func (c *client) cmd(line string) reply {
	c.t.Helper()
	c.write(line + "\r\n")
	return c.read()
}

// expect sends line and checks the reply's code and enhanced code.
func (c *client) expect(line string, code int, enh string) reply {
	c.t.Helper()
	r := c.cmd(line)
	requireReply(c.t, r, code, enh)
	return r
}

func requireReply(t *testing.T, r reply, code int, enh string) {
	t.Helper()
	require.Equal(t, code, r.code, "reply %s", r)
	require.Equal(t, enh, r.enh, "reply %s", r)
}

// expectClosed checks that the server has closed the connection: the next
// read ends at once, with nothing more to read.
func (c *client) expectClosed() {
	c.t.Helper()
	_ = c.conn.SetReadDeadline(time.Now().Add(ioTimeout))
	b, err := c.r.ReadByte()
	require.ErrorIs(c.t, err, io.EOF, "the connection should be closed (read byte %q)", b)
}

// ehlo greets and returns the extensions (the lines after the first).
func (c *client) ehlo() []string {
	c.t.Helper()
	r := c.expect("EHLO client.test", 250, "")
	var exts []string
	for _, l := range r.lines[1:] {
		exts = append(exts, l[4:])
	}
	return exts
}

func (c *client) startTLS() {
	c.t.Helper()
	c.expect("STARTTLS", 220, "2.0.0")
	tc := tls.Client(c.conn, clientTLS(c.t))
	_ = tc.SetDeadline(time.Now().Add(ioTimeout))
	require.NoError(c.t, tc.Handshake())
	c.conn, c.r = tc, bufio.NewReader(tc)
}

func plainResponse(identity, username, password string) string {
	return base64.StdEncoding.EncodeToString([]byte(identity + "\x00" + username + "\x00" + password))
}

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

func (c *client) authPlain(key string) reply {
	c.t.Helper()
	return c.cmd("AUTH PLAIN " + plainResponse("", msa.Username, key))
}

func (c *client) login(key string) {
	c.t.Helper()
	c.ehlo()
	requireReply(c.t, c.authPlain(key), 235, "2.0.0")
}

// send runs one transaction; data is the message with CRLF line ends,
// already dot-stuffed, ending with CRLF.
func (c *client) send(from string, rcpts []string, data string) reply {
	c.t.Helper()
	c.expect("MAIL FROM:<"+from+">", 250, "2.0.0")
	for _, r := range rcpts {
		c.expect("RCPT TO:<"+r+">", 250, "2.0.0")
	}
	c.expect("DATA", 354, "")
	c.write(data + ".\r\n")
	return c.read()
}

// sendTo sends the message data from sender@example.com to to@example.net.
func (c *client) sendTo(data string) reply {
	c.t.Helper()
	return c.send("sender@example.com", []string{"to@example.net"}, data)
}

// openData starts a transaction from sender@example.com to to@example.net
// up to DATA's 354: what the client writes next is the message.
func (c *client) openData() {
	c.t.Helper()
	c.run(ok("MAIL FROM:<sender@example.com>"), ok("RCPT TO:<to@example.net>"), step{cmd: "DATA", code: 354})
}

var queuedRe = regexp.MustCompile(`^OK: queued as (\S+)$`)

// queued checks a 250 reply to DATA and returns the email id in it.
func queued(t *testing.T, r reply) string {
	t.Helper()
	requireReply(t, r, 250, "2.0.0")
	m := queuedRe.FindStringSubmatch(r.text)
	require.NotNil(t, m, "reply %s", r)
	_, err := uuid.Parse(m[1])
	require.NoError(t, err, "the id in %s is a UUID", r)
	return m[1]
}

// message is a small RFC 5322 message with CRLF line ends.
func message(from, to, subject string, extra ...string) string {
	var b strings.Builder
	b.WriteString("From: " + from + "\r\n")
	b.WriteString("To: " + to + "\r\n")
	b.WriteString("Subject: " + subject + "\r\n")
	for _, h := range extra {
		b.WriteString(h + "\r\n")
	}
	b.WriteString("Date: Sat, 28 Nov 2026 12:00:00 +0000\r\n")
	b.WriteString("Message-ID: <" + uuid.NewString() + "@client.test>\r\n")
	b.WriteString("MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n")
	b.WriteString("Hello over SMTP.\r\n")
	return b.String()
}

// plainMessage is message from sender@example.com to to@example.net.
func plainMessage(subject string, extra ...string) string {
	return message("sender@example.com", "to@example.net", subject, extra...)
}

func hasExt(exts []string, name string) bool {
	for _, e := range exts {
		if e == name || strings.HasPrefix(e, name+" ") {
			return true
		}
	}
	return false
}

// ---------------------------------------------------------------------------
// Scripted dialogues.

// step is one exchange of a scripted dialogue: the client writes cmd (a
// command line, CRLF added) or raw (bytes as they are), or nothing when
// both are empty; then it reads one reply, which must have code and enh,
// and pass check when there is one.
type step struct {
	cmd   string
	raw   string
	code  int
	enh   string
	check func(t *testing.T, r reply)
}

// ok is the step of a command answered 250 2.0.0.
func ok(cmd string) step { return step{cmd: cmd, code: 250, enh: "2.0.0"} }

// transaction is the steps of one message from sender@example.com to
// to@example.net, whose reply to the data is as end says (end.cmd and
// end.raw are not used).
func transaction(data string, end step) []step {
	end.cmd, end.raw = "", data+".\r\n"
	return []step{
		ok("MAIL FROM:<sender@example.com>"),
		ok("RCPT TO:<to@example.net>"),
		{cmd: "DATA", code: 354},
		end,
	}
}

// queuedReply is the end of a transaction that is accepted: 250 2.0.0 with
// the new email's id.
var queuedReply = step{code: 250, enh: "2.0.0", check: func(t *testing.T, r reply) {
	t.Helper()
	queued(t, r)
}}

// run plays steps in order and returns the last reply.
func (c *client) run(steps ...step) reply {
	c.t.Helper()
	var r reply
	for i, s := range steps {
		sent := s.cmd
		switch {
		case s.cmd != "":
			c.write(s.cmd + "\r\n")
		case s.raw != "":
			c.write(s.raw)
			sent = fmt.Sprintf("%d bytes", len(s.raw))
		default:
			sent = "nothing"
		}
		r = c.read()
		require.Equal(c.t, s.code, r.code, "step %d (sent %s): reply %s", i, sent, r)
		require.Equal(c.t, s.enh, r.enh, "step %d (sent %s): reply %s", i, sent, r)
		if s.check != nil {
			s.check(c.t, r)
		}
	}
	return r
}

// textIs checks a reply's text.
func textIs(want string) func(*testing.T, reply) {
	return func(t *testing.T, r reply) {
		t.Helper()
		require.Equal(t, want, r.text, "reply %s", r)
	}
}

// textHas checks that a reply's text contains sub.
func textHas(sub string) func(*testing.T, reply) {
	return func(t *testing.T, r reply) {
		t.Helper()
		require.Contains(t, r.text, sub, "reply %s", r)
	}
}
