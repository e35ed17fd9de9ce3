package msa_test

import (
	"bufio"
	"context"
	"io"
	"net"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/godwit/godwit/internal/store"
)

// replyLineRe is one line of an SMTP reply: a code, then a space (last line)
// or a dash (more to come).
var replyLineRe = regexp.MustCompile(`^[2-5][0-9][0-9]([ -]|$)`)

// FuzzSession plays arbitrary client bytes against the real server (after
// EHLO and AUTH when auth is set): every line the server writes is a
// well-formed reply, none reports a panic or leaks an address, the server
// ends the session when the client stops sending, and an email is stored
// only when a 250 reply names it.
func FuzzSession(f *testing.F) {
	e := newEnv(f)
	cfg := e.config()
	cfg.ReadTimeout = 5 * time.Second
	addr := e.start(cfg)

	msg := "From: Sender <sender@example.com>\r\nTo: to@example.net\r\nSubject: fuzz\r\n\r\nbody\r\n"
	txn := "MAIL FROM:<sender@example.com>\r\nRCPT TO:<to@example.net>\r\nRCPT TO:<bcc@example.net>\r\nDATA\r\n" + msg + ".\r\n"
	for _, seed := range []struct {
		auth  bool
		input string
	}{
		{true, txn},
		{true, txn + txn + "QUIT\r\n"},
		{true, "MAIL FROM:<sender@example.com>\r\nRCPT TO:<to@example.net>\r\nDATA\r\n" + "From: sender@example.com\r\nTo: to@example.net\r\n\r\nx\n.\nMAIL FROM:<evil@example.com>\r\n.\r\n"},
		{true, "MAIL FROM:<sender@example.com> SIZE=10\r\nRCPT TO:<to@example.net>\r\nBDAT 64 LAST\r\n" + msg[:64]},
		{true, "MAIL FROM:<sender@example.com>\r\nRCPT TO:<bad address>\r\nRSET\r\nNOOP\r\nVRFY x\r\nHELP\r\n"},
		{true, "MAIL FROM:<sender@example.com>\r\nRCPT TO:<to@example.net>\r\nDATA\r\nResend-Idempotency-Key: k1\r\n" + msg + ".\r\n"},
		{true, "MAIL FROM:<sender@unverified.example>\r\nRCPT TO:<to@example.net>\r\nDATA\r\nFrom: sender@unverified.example\r\n\r\nx\r\n.\r\n"},
		{false, "EHLO client\r\nAUTH LOGIN\r\ncmVzZW5k\r\nbm90LWEta2V5\r\n"},
		{false, "EHLO client\r\nAUTH PLAIN\r\n=\r\nMAIL FROM:<a@b.c>\r\n"},
		{false, "HELO x\r\nSTARTTLS\r\n"},
		{false, "EHLO client\r\nAUTH CRAM-MD5\r\n*\r\nQUIT\r\n"},
	} {
		f.Add(seed.auth, seed.input)
	}

	recent := func() ([]string, error) {
		list, _, err := e.db.ListEmails(context.Background(), e.team, store.Page{Limit: 100})
		ids := make([]string, len(list))
		for i, em := range list {
			ids[i] = em.ID
		}
		return ids, err
	}
	known := map[string]bool{}
	ids, err := recent()
	if err != nil {
		f.Fatal(err)
	}
	for _, id := range ids {
		known[id] = true
	}

	f.Fuzz(func(t *testing.T, auth bool, input string) {
		conn, err := net.DialTimeout("tcp", addr, ioTimeout)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		_ = conn.SetDeadline(time.Now().Add(20 * time.Second))
		prelude := ""
		if auth {
			prelude = "EHLO fuzz.test\r\nAUTH PLAIN " + plainResponse("", "resend", e.key) + "\r\n"
		}
		go func() {
			// The server may stop reading (and close) before it has all.
			_, _ = io.WriteString(conn, prelude+input)
			_ = conn.(*net.TCPConn).CloseWrite()
		}()

		var queuedIDs []string
		sc := bufio.NewScanner(conn)
		sc.Buffer(nil, 64<<10)
		for sc.Scan() {
			line := strings.TrimSuffix(sc.Text(), "\r")
			if !replyLineRe.MatchString(line) {
				t.Fatalf("malformed reply line %q", line)
			}
			// go-smtp's answer to a panic; Go's own error texts name the
			// connection's addresses. Neither may reach a client (a client
			// can make the server echo text in EHLO, but not these).
			if line == "421 4.0.0 Internal server error" || strings.Contains(line, "->"+addr) {
				t.Fatalf("reply %q", line)
			}
			if rest, ok := strings.CutPrefix(line, "250 2.0.0 "); ok {
				if m := queuedRe.FindStringSubmatch(rest); m != nil {
					queuedIDs = append(queuedIDs, m[1])
				}
			}
		}
		if err := sc.Err(); err != nil {
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				t.Fatalf("the server did not end the session after the client stopped sending")
			}
			// A reset after the server closed is an end too.
		}

		named := map[string]bool{}
		for _, id := range queuedIDs {
			named[id] = true
			if _, err := e.db.GetEmail(context.Background(), e.team, id); err != nil {
				t.Fatalf("250 for %s, but the email is not stored: %v", id, err)
			}
		}
		ids, err := recent()
		if err != nil {
			t.Fatal(err)
		}
		for _, id := range ids {
			if !known[id] && !named[id] {
				t.Fatalf("email %s stored without a 250 naming it (replies named %v)", id, queuedIDs)
			}
			known[id] = true
		}
	})
}
