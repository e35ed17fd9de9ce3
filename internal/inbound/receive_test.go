package inbound_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/godwit/godwit/internal/events"
	"github.com/godwit/godwit/internal/godwittest"
	"github.com/godwit/godwit/internal/inbound"
	"github.com/godwit/godwit/internal/store"
	"github.com/godwit/godwit/internal/store/sqlstore"
)

// recvEnv is an MX that receives for team's in.example.com (verified for
// receiving) on a real store.
type recvEnv struct {
	*env
	domain *store.Domain
	auth   *fixedAuth
	fail   *atomic.Bool // StoreReceivedEmail fails while set
}

// fixedAuth answers the same verdicts for every message.
type fixedAuth struct{ got atomic.Int32 }

func (a *fixedAuth) Authenticate(_ context.Context, raw []byte, ip net.IP, helo, mailFrom string) (store.ReceivedAuth, bool) {
	a.got.Add(1)
	return store.ReceivedAuth{SPF: store.AuthPass, DKIM: "none", DMARC: store.AuthFail,
			Results: "mx.godwit.test; spf=pass smtp.mailfrom=" + mailFrom + "; dkim=none; dmarc=fail header.from=example.net"},
		bytes.Contains(raw, []byte("p-reject.example"))
}

// failingReceiving fails StoreReceivedEmail on command.
type failingReceiving struct {
	inbound.ReceivingStore
	fail *atomic.Bool
}

func (f failingReceiving) StoreReceivedEmail(ctx context.Context, e *store.ReceivedEmail, announce store.ReceivedEvent) error {
	if f.fail.Load() {
		return errors.New("injected: database unavailable")
	}
	return f.ReceivingStore.StoreReceivedEmail(ctx, e, announce)
}

func newDomain(t *testing.T, db *sqlstore.DB, team, name, status, receivingRecord string) *store.Domain {
	d := &store.Domain{ID: uuid.NewString(), TeamID: team, Name: name, Region: "us-east-1", ReturnPath: "send",
		Status: status, TLS: "opportunistic", Sending: "disabled", Receiving: "enabled", DKIMSelector: "resend",
		DKIMKey: []byte("sealed"), RecordStatus: map[string]string{store.RecordReceiving: receivingRecord}, CreatedAt: t0, UpdatedAt: t0}
	require.NoError(t, db.CreateDomain(context.Background(), d))
	return d
}

func setupReceiving(t *testing.T, kind sqlstore.Dialect) *recvEnv {
	return setupReceivingWith(t, kind, 0, func(*inbound.Backend) {})
}

// setupReceivingWith is setupReceiving with a message size limit and a
// change to the backend.
func setupReceivingWith(t *testing.T, kind sqlstore.Dialect, maxBytes int64, change func(b *inbound.Backend)) *recvEnv {
	r := &recvEnv{auth: &fixedAuth{}, fail: &atomic.Bool{}}
	r.env = setupBackendLimit(t, kind, maxBytes, func(b *inbound.Backend) {
		b.Receiving = failingReceiving{ReceivingStore: b.Store.(*sqlstore.DB), fail: r.fail}
		b.Auth, b.Announce = r.auth, events.Received
		change(b)
	})
	r.domain = newDomain(t, r.db, r.team, "in.example.com", store.DomainVerified, store.DomainVerified)
	return r
}

// transact runs one SMTP transaction from mailFrom to rcpts with msg
// (LF line ends become CRLF unless raw), returning the first refusal.
func (e *env) transact(mailFrom string, rcpts []string, msg string, raw bool) error {
	c, err := smtp.Dial(e.addr)
	require.NoError(e.t, err)
	defer c.Close()
	if err := c.Hello("mta.example.net"); err != nil {
		return err
	}
	if err := c.Mail(mailFrom, nil); err != nil {
		return err
	}
	for _, rc := range rcpts {
		if err := c.Rcpt(rc, nil); err != nil {
			return err
		}
	}
	w, err := c.Data()
	if err != nil {
		return err
	}
	if !raw {
		msg = strings.ReplaceAll(msg, "\n", "\r\n")
	}
	if _, err := w.Write([]byte(msg)); err != nil {
		return err
	}
	if err := w.Close(); err != nil {
		return err
	}
	return c.Quit()
}

func (r *recvEnv) received(team string) []*store.ReceivedEmail {
	r.t.Helper()
	list, _, err := r.db.ListReceivedEmails(context.Background(), team, store.Page{Limit: 100})
	require.NoError(r.t, err)
	return list
}

const mixedMessage = `From: =?UTF-8?Q?Ren=C3=A9e?= <renee@example.net>
To: Support <support@in.example.com>, other@example.org
Cc: cc@in.example.com
Reply-To: replies@example.net
Subject: =?UTF-8?Q?Caf=C3=A9?= order
Message-ID: <order-1@example.net>
In-Reply-To: <not-ours@example.net>
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary=outer

--outer
Content-Type: multipart/alternative; boundary=alt

--alt
Content-Type: text/plain; charset=iso-8859-1
Content-Transfer-Encoding: quoted-printable

Caf=E9 for two.
--alt
Content-Type: text/html; charset=utf-8

<p>Café for two.</p>
--alt--
--outer
Content-Type: application/pdf; name="invoice.pdf"
Content-Disposition: attachment; filename="invoice.pdf"
Content-Transfer-Encoding: base64

JVBERi0xLjQK
--outer
Content-Type: image/png
Content-ID: <logo@x>
Content-Transfer-Encoding: base64

iVBORw0KGgo=
--outer--
`

// TestReceive: a message for a receiving domain is stored with what the
// Receiving API shows (addresses, decoded subject and bodies, attachments,
// headers, the session and authentication verdicts), its raw form with the
// MX's trace fields on top, and its email.received event, before the 250.
func TestReceive(t *testing.T) {
	for _, kind := range godwittest.Kinds {
		t.Run(string(kind), func(t *testing.T) {
			t.Parallel()
			r := setupReceiving(t, kind)
			ctx := context.Background()
			require.NoError(t, r.transact("bounce@example.net", []string{"support@in.example.com", "CC@IN.EXAMPLE.COM"}, mixedMessage, false))

			list := r.received(r.team)
			require.Len(t, list, 1)
			got, err := r.db.GetReceivedEmail(ctx, r.team, list[0].ID)
			require.NoError(t, err)
			require.Equal(t, r.domain.ID, got.DomainID)
			require.Equal(t, "renee@example.net", got.From)
			require.Equal(t, []string{"Support <support@in.example.com>", "other@example.org"}, got.To)
			require.Equal(t, []string{"cc@in.example.com"}, got.Cc)
			require.Equal(t, []string{"replies@example.net"}, got.ReplyTo)
			require.Equal(t, []string{"support@in.example.com", "CC@IN.EXAMPLE.COM"}, got.ReceivedFor)
			require.Equal(t, "Café order", got.Subject)
			require.Equal(t, "<order-1@example.net>", got.MessageID)
			require.Equal(t, "Café for two.", strings.TrimSpace(*got.Text))
			require.Equal(t, "<p>Café for two.</p>", strings.TrimSpace(*got.HTML))
			require.Equal(t, "127.0.0.1", got.RemoteIP)
			require.Equal(t, "mta.example.net", got.Helo)
			require.Equal(t, "bounce@example.net", got.MailFrom)
			require.Equal(t, store.AuthPass, got.Auth.SPF)
			require.Equal(t, store.AuthFail, got.Auth.DMARC)
			require.Empty(t, got.InReplyToEmailID, "a Message-ID Godwit never sent")
			require.Equal(t, "Received", got.Headers[0].Name, "the MX's trace fields come first")
			require.Equal(t, "Authentication-Results", got.Headers[1].Name)
			require.Equal(t, "Renée <renee@example.net>", headerOf(got.Headers, "From"))

			require.Len(t, got.Attachments, 2)
			pdf, png := got.Attachments[0], got.Attachments[1]
			require.Equal(t, "invoice.pdf", pdf.Filename)
			require.Equal(t, "application/pdf", pdf.ContentType)
			require.Equal(t, "attachment", pdf.ContentDisposition)
			require.Equal(t, "inline", png.ContentDisposition)
			require.Equal(t, "logo@x", png.ContentID)
			content, err := r.db.GetReceivedAttachment(ctx, r.team, got.ID, pdf.ID)
			require.NoError(t, err)
			require.Equal(t, "%PDF-1.4\n", string(content.Content))

			raw, err := r.db.GetReceivedRaw(ctx, r.team, got.ID)
			require.NoError(t, err)
			require.True(t, bytes.HasPrefix(raw, []byte("Received: from mta.example.net (127.0.0.1) by mx.godwit.test with ESMTP; ")), "%.200s", raw)
			require.Contains(t, string(raw), "\r\nAuthentication-Results: mx.godwit.test; spf=pass smtp.mailfrom=bounce@example.net; dkim=none; dmarc=fail")
			require.True(t, bytes.HasSuffix(raw, []byte(strings.ReplaceAll(mixedMessage, "\n", "\r\n"))), "the message as received follows")

			evs, err := r.db.ListEvents(ctx, r.team, "", 10)
			require.NoError(t, err)
			require.Len(t, evs, 1)
			require.Equal(t, events.EmailReceived, evs[0].Type)
			require.Contains(t, string(evs[0].Data), got.ID)
			require.EqualValues(t, 1, r.auth.got.Load())
		})
	}
}

func headerOf(hs []store.Header, name string) string {
	for _, h := range hs {
		if strings.EqualFold(h.Name, name) {
			return h.Value
		}
	}
	return ""
}

// TestReceiveRefusals: the MX is no open relay and sends no backscatter:
// an address of no domain, of a domain not ready to receive, or of a
// domain that only sends, is refused at RCPT; a bare LF in DATA and DATA
// that is not a message are refused at its end; nothing is stored.
func TestReceiveRefusals(t *testing.T) {
	t.Parallel()
	r := setupReceiving(t, sqlstore.SQLite)
	newDomain(t, r.db, r.team, "pending.example.com", store.DomainPending, store.DomainPending)
	sendOnly := newDomain(t, r.db, r.team, "send.example.com", store.DomainVerified, store.DomainVerified)
	sendOnly.Receiving, sendOnly.Sending = "disabled", "enabled"
	require.NoError(t, r.db.UpdateDomain(context.Background(), sendOnly))
	partial := newDomain(t, r.db, r.team, "partial.example.com", store.DomainPartiallyVerified, store.DomainPending)
	partial.Sending = "enabled"
	partial.RecordStatus[store.RecordDKIM] = store.DomainVerified
	require.NoError(t, r.db.UpdateDomain(context.Background(), partial))

	for _, rcpt := range []string{"a@nowhere.example", "a@pending.example.com", "a@send.example.com", "a@partial.example.com",
		"a@sub.in.example.com", "a@in.example.com.evil.example"} {
		err := r.transact("x@example.net", []string{rcpt}, "Subject: s\n\nhi\n", false)
		requireSMTPCode(t, err, 550, smtp.EnhancedCode{5, 1, 1})
	}
	// A client's dot writer mends bare LFs: this one is written raw.
	require.Contains(t, rawData(t, r.addr, "a@in.example.com", "Subject: s\r\n\r\nsmuggled\n.\r\nMAIL FROM:<x@y>\r\n"),
		"550 5.6.0 Message refused: bare LF or CR")
	err := r.transact("x@example.net", []string{"a@in.example.com"}, "no header section at all\x00\n", false)
	requireSMTPCode(t, err, 550, smtp.EnhancedCode{5, 6, 0})
	require.Empty(t, r.received(r.team))
}

// TestReceiveStoreFailureIsTemporary: no 250 without a stored email: a
// store failure answers 451 and the sender's retry is stored once.
func TestReceiveStoreFailureIsTemporary(t *testing.T) {
	t.Parallel()
	r := setupReceiving(t, sqlstore.SQLite)
	r.fail.Store(true)
	err := r.transact("x@example.net", []string{"a@in.example.com"}, "Subject: s\n\nhi\n", false)
	requireSMTPCode(t, err, 451, smtp.EnhancedCode{4, 3, 0})
	require.Empty(t, r.received(r.team))
	r.fail.Store(false)
	require.NoError(t, r.transact("x@example.net", []string{"a@in.example.com"}, "Subject: s\n\nhi\n", false))
	require.Len(t, r.received(r.team), 1)
}

// TestReceiveForSeveralTeams: one transaction naming two teams' domains
// stores one copy per team with that team's recipients; a reply to a
// Godwit email is linked to it.
func TestReceiveForSeveralTeams(t *testing.T) {
	for _, kind := range godwittest.Kinds {
		t.Run(string(kind), func(t *testing.T) {
			t.Parallel()
			r := setupReceiving(t, kind)
			other := uuid.NewString()
			require.NoError(t, r.db.CreateTeam(context.Background(), &store.Team{ID: other, Name: "o", CreatedAt: t0}))
			newDomain(t, r.db, other, "other.example.org", store.DomainVerified, store.DomainVerified)
			sent := r.delivered("renee@example.net")

			msg := "From: renee@example.net\nTo: a@in.example.com, b@other.example.org\nSubject: Re: s\n" +
				"In-Reply-To: " + sent.MessageID() + "\nReferences: <x@y> " + sent.MessageID() + "\n\nthanks\n"
			require.NoError(t, r.transact("renee@example.net", []string{"a@in.example.com", "b@other.example.org", "c@in.example.com"}, msg, false))
			mine, theirs := r.received(r.team), r.received(other)
			require.Len(t, mine, 1)
			require.Len(t, theirs, 1)
			require.NotEqual(t, mine[0].ID, theirs[0].ID)
			got, err := r.db.GetReceivedEmail(context.Background(), r.team, mine[0].ID)
			require.NoError(t, err)
			require.Equal(t, []string{"a@in.example.com", "c@in.example.com"}, got.ReceivedFor)
			require.Equal(t, sent.ID, got.InReplyToEmailID)
			got, err = r.db.GetReceivedEmail(context.Background(), other, theirs[0].ID)
			require.NoError(t, err)
			require.Equal(t, []string{"b@other.example.org"}, got.ReceivedFor)
			require.Empty(t, got.InReplyToEmailID, "the other team never sent it")
		})
	}
}

// rawData sends one message over a raw connection, its DATA written as
// given, and returns the reply to its end.
func rawData(t *testing.T, addr, rcpt, data string) string {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	defer conn.Close()
	require.NoError(t, conn.SetDeadline(time.Now().Add(10*time.Second)))
	rd := bufio.NewReader(conn)
	reply := func() string {
		var last string
		for {
			line, err := rd.ReadString('\n')
			require.NoError(t, err)
			last = line
			if len(line) < 4 || line[3] != '-' {
				return strings.TrimSpace(last)
			}
		}
	}
	require.True(t, strings.HasPrefix(reply(), "220"))
	for _, cmd := range []string{"EHLO mta.example.net", "MAIL FROM:<x@example.net>", "RCPT TO:<" + rcpt + ">", "DATA"} {
		_, err := conn.Write([]byte(cmd + "\r\n"))
		require.NoError(t, err)
		reply()
	}
	_, err = conn.Write([]byte(data + "\r\n.\r\n"))
	require.NoError(t, err)
	return reply()
}

// TestConnectionLimits: past the limit of open connections from one
// address, the MX answers 421 and closes; a place freed is taken again.
func TestConnectionLimits(t *testing.T) {
	t.Parallel()
	db := godwittest.NewStore(t, sqlstore.SQLite, godwittest.NewClock(t0))
	logs := &godwittest.LogBuffer{}
	mx := &inbound.MX{Addr: "127.0.0.1:0", Server: inbound.NewServer(&inbound.Backend{Store: db}, "mx.godwit.test", 0),
		Limits: inbound.Limits{MaxConns: 10, MaxConnsPerIP: 2}, Logger: slog.New(slog.NewJSONHandler(logs, nil))}
	require.NoError(t, mx.Start(context.Background()))
	t.Cleanup(func() { require.NoError(t, mx.Stop(context.Background())) })
	greet := func() (net.Conn, string) {
		c, err := net.Dial("tcp", mx.ListenAddr().String())
		require.NoError(t, err)
		require.NoError(t, c.SetDeadline(time.Now().Add(5*time.Second)))
		line, err := bufio.NewReader(c).ReadString('\n')
		require.NoError(t, err)
		return c, line
	}
	a, line := greet()
	require.True(t, strings.HasPrefix(line, "220 "), line)
	b, line := greet()
	require.True(t, strings.HasPrefix(line, "220 "), line)
	c, line := greet()
	require.Equal(t, "421 4.7.0 mx.godwit.test Too many connections, try again later\r\n", line)
	c.Close()
	require.Len(t, logs.Records(t, "inbound: connection refused: too many connections"), 1)
	a.Close()
	// The server sees the close when it next reads; the place comes back then.
	require.Eventually(t, func() bool {
		c, line := greet()
		c.Close()
		return strings.HasPrefix(line, "220 ")
	}, 5*time.Second, 20*time.Millisecond)
	b.Close()
}

// TestReceiveDMARCReject: a domain with reject_dmarc_failures refuses, at
// the end of DATA, mail that fails DMARC under p=reject; in a transaction
// that also reaches a team without the setting, only that team stores it.
func TestReceiveDMARCReject(t *testing.T) {
	t.Parallel()
	r := setupReceiving(t, sqlstore.SQLite)
	ctx := context.Background()
	r.domain.RejectDMARCFailures = true
	require.NoError(t, r.db.UpdateDomain(ctx, r.domain))
	spoofed := "From: ceo@p-reject.example\nSubject: wire money\n\nnow\n"
	err := r.transact("x@p-reject.example", []string{"a@in.example.com"}, spoofed, false)
	requireSMTPCode(t, err, 550, smtp.EnhancedCode{5, 7, 1})
	require.Empty(t, r.received(r.team))
	// A message that fails DMARC without p=reject is stored, with its verdict.
	require.NoError(t, r.transact("x@example.net", []string{"a@in.example.com"}, "From: a@example.net\nSubject: s\n\nhi\n", false))
	require.Len(t, r.received(r.team), 1)

	other := uuid.NewString()
	require.NoError(t, r.db.CreateTeam(ctx, &store.Team{ID: other, Name: "o", CreatedAt: t0}))
	newDomain(t, r.db, other, "lenient.example.org", store.DomainVerified, store.DomainVerified)
	require.NoError(t, r.transact("x@p-reject.example", []string{"a@in.example.com", "b@lenient.example.org"}, spoofed, false))
	require.Len(t, r.received(r.team), 1, "not stored for the domain that refuses it")
	require.Len(t, r.received(other), 1)
}
