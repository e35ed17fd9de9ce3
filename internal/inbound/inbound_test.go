package inbound_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/godwit/godwit/internal/godwittest"
	"github.com/godwit/godwit/internal/inbound"
	"github.com/godwit/godwit/internal/store"
	"github.com/godwit/godwit/internal/store/sqlstore"
)

var t0 = time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)

type env struct {
	t    *testing.T
	db   *sqlstore.DB
	addr string
	team string
}

func setup(t *testing.T, kind sqlstore.Dialect) *env {
	return setupBackend(t, kind, func(b *inbound.Backend) {})
}

// setupBackend is setup with a change to the MX's backend (its store
// wrapped, a logger) before it serves.
func setupBackend(t *testing.T, kind sqlstore.Dialect, change func(b *inbound.Backend)) *env {
	return setupBackendLimit(t, kind, 0, change)
}

// setupBackendLimit is setupBackend with a message size limit (0: the
// default).
func setupBackendLimit(t *testing.T, kind sqlstore.Dialect, maxBytes int64, change func(b *inbound.Backend)) *env {
	clock := godwittest.NewClock(t0)
	db := godwittest.NewStore(t, kind, clock)
	team := uuid.NewString()
	require.NoError(t, db.CreateTeam(context.Background(), &store.Team{ID: team, Name: "t", CreatedAt: t0}))
	b := &inbound.Backend{Store: db, Now: clock.Now}
	change(b)
	db.OnReceivingChange(b.ForgetReceiving) // as the server does
	mx := &inbound.MX{Addr: "127.0.0.1:0", Server: inbound.NewServer(b, "mx.godwit.test", maxBytes)}
	require.NoError(t, mx.Start(context.Background()))
	t.Cleanup(func() { require.NoError(t, mx.Stop(context.Background())) })
	return &env{t: t, db: db, addr: mx.ListenAddr().String(), team: team}
}

// delivered stores an email to the recipients as the worker leaves a delivered one.
func (e *env) delivered(to ...string) *store.Email {
	text := "hi"
	em := &store.Email{ID: uuid.NewString(), TeamID: e.team, From: "App <app@example.com>", To: to, Subject: "s", Text: &text,
		CreatedAt: t0, LastEvent: store.EventQueued}
	require.NoError(e.t, e.db.AcceptEmails(context.Background(), &store.Accept{Emails: []*store.Email{em}}))
	require.NoError(e.t, e.db.RecordDelivery(context.Background(), &store.DeliveryOutcome{EmailID: em.ID, TeamID: e.team, LastEvent: store.EventDelivered}))
	return em
}

// send delivers msg to rcpt over SMTP, as a remote MTA returning a report does (null sender).
func (e *env) send(rcpt, msg string) error {
	c, err := smtp.Dial(e.addr)
	require.NoError(e.t, err)
	defer c.Close()
	if err := c.Hello("mta.example.net"); err != nil {
		return err
	}
	if err := c.Mail("", nil); err != nil {
		return err
	}
	if err := c.Rcpt(rcpt, nil); err != nil {
		return err
	}
	w, err := c.Data()
	if err != nil {
		return err
	}
	if _, err := w.Write([]byte(strings.ReplaceAll(msg, "\n", "\r\n"))); err != nil {
		return err
	}
	if err := w.Close(); err != nil {
		return err
	}
	return c.Quit()
}

func (e *env) last(em *store.Email) string {
	got, err := e.db.GetEmail(context.Background(), e.team, em.ID)
	require.NoError(e.t, err)
	return got.LastEvent
}

func dsn(emailID, rcpt, status, diag string) string {
	return `From: MAILER-DAEMON@mta.example.net (Mail Delivery System)
To: bounces+` + emailID + `@send.example.com
Subject: Undelivered Mail Returned to Sender
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="B"

--B
Content-Type: text/plain

Your message could not be delivered.

--B
Content-Type: message/delivery-status

Reporting-MTA: dns; mta.example.net
Arrival-Date: Sat, 28 Nov 2026 12:00:05 +0000

Final-Recipient: rfc822; ` + rcpt + `
Original-Recipient: rfc822;` + rcpt + `
Action: failed
Status: ` + status + `
Remote-MTA: dns; mx.example.net
Diagnostic-Code: ` + diag + `

--B
Content-Type: text/rfc822-headers

From: App <app@example.com>
To: ` + rcpt + `
Message-ID: <` + emailID + `@example.com>
Subject: s

--B--
`
}

func TestLateBounceIsRecorded(t *testing.T) {
	for _, kind := range godwittest.Kinds {
		t.Run(string(kind), func(t *testing.T) {
			t.Parallel()
			e := setup(t, kind)
			em := e.delivered("Gone <gone@example.net>")
			require.NoError(t, e.send("bounces+"+em.ID+"@send.example.com",
				dsn(em.ID, "gone@example.net", "5.1.1", "smtp; 550 5.1.1 <gone@example.net>: Recipient address rejected: User unknown")))
			require.Equal(t, store.EventBounced, e.last(em))

			attempts, err := e.db.ListDeliveryAttempts(context.Background(), e.team, em.ID)
			require.NoError(t, err)
			require.Len(t, attempts, 1)
			require.Equal(t, "gone@example.net", attempts[0].Recipient)
			require.Equal(t, 550, attempts[0].Code)
			require.Equal(t, "5.1.1", attempts[0].Enhanced)
			require.Equal(t, "mx.example.net", attempts[0].Host)

			sup, err := e.db.SuppressedAmong(context.Background(), e.team, []string{"gone@example.net"})
			require.NoError(t, err)
			require.True(t, sup["gone@example.net"])
			evs, err := e.db.ListEvents(context.Background(), e.team, "", 100)
			require.NoError(t, err)
			var types []string
			for _, ev := range evs {
				types = append(types, ev.Type)
			}
			require.Contains(t, types, "email.bounced")
			require.Contains(t, types, "suppression.added")
		})
	}
}

func TestTransientFailureDoesNotSuppress(t *testing.T) {
	e := setup(t, sqlstore.SQLite)
	em := e.delivered("full@example.net")
	require.NoError(t, e.send("bounces+"+em.ID+"@send.example.com", dsn(em.ID, "full@example.net", "4.2.2", "smtp; 452 4.2.2 Mailbox full")))
	require.Equal(t, store.EventBounced, e.last(em))
	sup, err := e.db.SuppressedAmong(context.Background(), e.team, []string{"full@example.net"})
	require.NoError(t, err)
	require.False(t, sup["full@example.net"])
}

// TestLateBounceClasses: a DSN's failed recipient is classified from its
// Status and Diagnostic-Code (internal/bounce); a block for spam or the
// sender's reputation bounces the email and leaves the address alone, an
// unknown user is suppressed.
func TestLateBounceClasses(t *testing.T) {
	for _, kind := range godwittest.Kinds {
		t.Run(string(kind), func(t *testing.T) {
			t.Parallel()
			e := setup(t, kind)
			for _, tc := range []struct {
				rcpt, status, diag string
				typ, sub           string
				suppress           bool
			}{
				{"gone@example.net", "5.0.0", "smtp; 550 Requested action not taken: mailbox unavailable", "Permanent", "NoEmail", true},
				{"blocked@example.net", "5.7.1", "smtp; 554 5.7.1 Service unavailable; Client host [203.0.113.5] blocked using zen.spamhaus.org",
					"Permanent", "General", false},
				{"spam@example.net", "5.7.1", "smtp; 550 5.7.1 Message rejected as spam by Content Filtering.", "Transient", "ContentRejected", false},
				{"full@example.net", "5.2.2", "smtp; 552 5.2.2 Quota exceeded (mailbox for user is full)", "Transient", "MailboxFull", false},
				{"later@example.net", "4.4.7", "smtp; 421 4.4.7 Delivery time expired", "Transient", "General", false},
			} {
				em := e.delivered(tc.rcpt)
				require.NoError(t, e.send("bounces+"+em.ID+"@send.example.com", dsn(em.ID, tc.rcpt, tc.status, tc.diag)))
				require.Equal(t, store.EventBounced, e.last(em), tc.rcpt)
				evs, err := e.db.ListEmailEvents(context.Background(), e.team, em.ID)
				require.NoError(t, err)
				var detail struct {
					Bounce struct {
						Type, SubType, Message string
						DiagnosticCode         []string
					}
				}
				require.NoError(t, json.Unmarshal(evs[len(evs)-1].Data, &detail))
				require.Equal(t, tc.typ, detail.Bounce.Type, tc.rcpt)
				require.Equal(t, tc.sub, detail.Bounce.SubType, tc.rcpt)
				require.Equal(t, []string{tc.diag}, detail.Bounce.DiagnosticCode, tc.rcpt)
				sup, err := e.db.SuppressedAmong(context.Background(), e.team, []string{tc.rcpt})
				require.NoError(t, err)
				require.Equal(t, tc.suppress, sup[tc.rcpt], "%s suppressed", tc.rcpt)
			}
		})
	}
}

func TestComplaintIsRecorded(t *testing.T) {
	e := setup(t, sqlstore.SQLite)
	em := e.delivered("reader@example.net")
	arf := `From: feedback@fbl.example.net
To: bounces+` + em.ID + `@send.example.com
Subject: FW: s
MIME-Version: 1.0
Content-Type: multipart/report; report-type=feedback-report; boundary="F"

--F
Content-Type: text/plain

This is an email abuse report.

--F
Content-Type: message/feedback-report

Feedback-Type: abuse
User-Agent: ExampleFBL/1.0
Version: 1
Original-Mail-From: <bounces+` + em.ID + `@send.example.com>
Original-Rcpt-To: <reader@example.net>
Arrival-Date: Sat, 28 Nov 2026 12:00:05 +0000
Reported-Domain: example.com

--F
Content-Type: text/rfc822-headers

From: App <app@example.com>
To: reader@example.net
Message-ID: <` + em.ID + `@example.com>
Subject: s

--F--
`
	require.NoError(t, e.send("bounces+"+em.ID+"@send.example.com", arf))
	require.Equal(t, store.EventComplained, e.last(em))
	list, _, err := e.db.ListSuppressions(context.Background(), e.team, store.SuppressionComplaint, store.Page{})
	require.NoError(t, err)
	require.Len(t, list, 1)
	require.Equal(t, "reader@example.net", list[0].Email)
	require.Equal(t, em.ID, list[0].SourceID)
}

func TestUnknownRecipientsAreRefusedAndJunkDropped(t *testing.T) {
	e := setup(t, sqlstore.SQLite)
	em := e.delivered("a@example.net")
	var se *smtp.SMTPError
	err := e.send("postmaster@send.example.com", "Subject: hi\n\nhello\n")
	require.True(t, errors.As(err, &se), "%v", err)
	require.Equal(t, 550, se.Code)
	err = e.send("bounces+"+uuid.NewString()+"@send.example.com", "Subject: hi\n\nhello\n")
	require.True(t, errors.As(err, &se), "%v", err)
	require.Equal(t, 550, se.Code, "an email that does not exist")

	// Mail to a real return path that is not a report is accepted and dropped.
	require.NoError(t, e.send("bounces+"+em.ID+"@send.example.com", "Subject: Out of office\n\nI am away.\n"))
	require.Equal(t, store.EventDelivered, e.last(em))
}

// TestMXStartStop: Start listens and logs the address; Stop closes the
// listener and the connections, and is no failure; a busy address fails
// Start.
func TestMXStartStop(t *testing.T) {
	t.Parallel()
	logs := &godwittest.LogBuffer{}
	b := &inbound.Backend{Store: godwittest.NewStore(t, sqlstore.SQLite, godwittest.NewClock(t0))}
	mx := &inbound.MX{Addr: "127.0.0.1:0", Server: inbound.NewServer(b, "mx.godwit.test", 0),
		Logger: slog.New(slog.NewJSONHandler(logs, nil))}
	require.NoError(t, mx.Start(context.Background()))
	addr := mx.ListenAddr().String()
	recs := logs.Records(t, "MX receiving mail")
	require.Len(t, recs, 1)
	require.Equal(t, addr, recs[0]["mx_addr"])
	c, err := net.DialTimeout("tcp", addr, time.Second)
	require.NoError(t, err)
	defer c.Close()
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	greeting, err := bufio.NewReader(c).ReadString('\n')
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(greeting, "220 "), greeting)

	require.NoError(t, mx.Stop(context.Background()))
	_, err = c.Read(make([]byte, 1))
	require.Error(t, err, "the connection is closed")
	_, err = net.DialTimeout("tcp", addr, time.Second)
	require.Error(t, err, "nothing listens any more")
	select {
	case err := <-mx.Failed():
		t.Fatalf("Stop reported as a failure: %v", err)
	default:
	}

	busy := &inbound.MX{Addr: addr, Server: inbound.NewServer(b, "mx.godwit.test", 0)}
	l, err := net.Listen("tcp", addr)
	require.NoError(t, err)
	defer l.Close()
	require.ErrorContains(t, busy.Start(context.Background()), addr)
}

// TestLateBounceIsLogged: a late bounce is a line of the email's story at
// INFO, with the reporting server and its reply, and without the address.
func TestLateBounceIsLogged(t *testing.T) {
	t.Parallel()
	logs := &godwittest.LogBuffer{}
	e := setupBackend(t, sqlstore.SQLite, func(b *inbound.Backend) { b.Logger = slog.New(slog.NewJSONHandler(logs, nil)) })
	em := e.delivered("gone@example.net")
	require.NoError(t, e.send("bounces+"+em.ID+"@send.example.com",
		dsn(em.ID, "gone@example.net", "5.1.1", "smtp; 550 5.1.1 User unknown")))
	recs := logs.Records(t, "email bounced")
	require.Len(t, recs, 1)
	require.Equal(t, em.ID, recs[0]["email_id"])
	require.Equal(t, "example.net", recs[0]["recipient_domain"])
	require.Equal(t, "mx.example.net", recs[0]["host"])
	require.EqualValues(t, 550, recs[0]["code"])
	require.Equal(t, true, recs[0]["late"])
	require.Equal(t, "Permanent", recs[0]["bounce_type"])
	require.Equal(t, "NoEmail", recs[0]["bounce_sub_type"])
	require.Equal(t, true, recs[0]["suppressed"])
	require.NotContains(t, logs.String(), "gone@example.net")
}
