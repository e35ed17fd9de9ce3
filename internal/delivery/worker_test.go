package delivery

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	gomessage "github.com/emersion/go-message"
	_ "github.com/emersion/go-message/charset"
	"github.com/emersion/go-message/mail"
	msgdkim "github.com/emersion/go-msgauth/dkim"
	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/godwit/godwit/internal/dnscheck"
	"github.com/godwit/godwit/internal/dnscheck/dnstest"
	"github.com/godwit/godwit/internal/domains"
	"github.com/godwit/godwit/internal/fetch"
	"github.com/godwit/godwit/internal/godwittest"
	"github.com/godwit/godwit/internal/netguard"
	"github.com/godwit/godwit/internal/secretbox"
	"github.com/godwit/godwit/internal/sendreq"
	"github.com/godwit/godwit/internal/store"
	"github.com/godwit/godwit/internal/store/sqlstore"
)

var w0 = time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)

// workerEnv is a store with a team and a verified sending domain
// (example.com, RSA and Ed25519 keys published in a loopback DNS server),
// a receiving MX for example.test, and a worker delivering through it.
type workerEnv struct {
	t      *testing.T
	clock  *godwittest.Clock
	db     *sqlstore.DB
	dns    *dnstest.Server
	mx     *testMX
	w      *Worker
	team   *store.Team
	domain *store.Domain
}

func newWorkerEnv(t *testing.T, kind sqlstore.Dialect, opts godwittest.MXOptions) *workerEnv {
	t.Helper()
	ctx := context.Background()
	clock := godwittest.NewClock(w0)
	db := godwittest.NewStore(t, kind, clock)
	box, err := secretbox.New(bytes.Repeat([]byte{7}, 32))
	require.NoError(t, err)
	settings := domains.Settings{Keys: box, MXHost: "bounces.godwit.test", SPF: "v=spf1 ~all", DKIMSelector: "resend", Ed25519: true}
	team := &store.Team{ID: uuid.NewString(), Name: "t", CreatedAt: w0}
	require.NoError(t, db.CreateTeam(ctx, team))
	d := &store.Domain{ID: uuid.NewString(), TeamID: team.ID, Name: "example.com", Region: "us-east-1", ReturnPath: "send",
		Status: store.DomainVerified, TLS: "opportunistic", Sending: "enabled", Receiving: "disabled", DKIMSelector: "resend",
		RecordStatus: map[string]string{}, CreatedAt: w0, UpdatedAt: w0}
	d.DKIMKey, d.DKIMEd25519Key, err = settings.NewKeys(d.ID)
	require.NoError(t, err)
	require.NoError(t, db.CreateDomain(ctx, d))

	server := dnstest.NewServer(t)
	recs, err := settings.Records(d)
	require.NoError(t, err)
	for _, r := range recs {
		if r.Type == "TXT" {
			server.SetTXT(r.FQDN(d.Name), r.Value)
		}
	}
	mx := startMX(t, opts)
	mxAddr := mx.Addr()
	server.SetMX("example.test", dnscheck.MX{Host: "mx.example.test", Preference: 10})
	tr := &MXTransport{Resolver: server.Addr(), HELO: "out.godwit.test", Timeout: 2 * time.Second,
		Guard: netguard.Policy{AllowPrivate: true}, DialAddr: func(string) string { return mxAddr }}
	w := &Worker{Store: db, Transport: tr, Domains: settings, TestDomain: "resend.dev", Now: clock.Now,
		Fetcher: &fetch.Fetcher{Client: netguard.Policy{}.HTTPClient(time.Second), Timeout: time.Second}}
	return &workerEnv{t: t, clock: clock, db: db, dns: server, mx: mx, w: w, team: team, domain: d}
}

// accept stores an email decoded from a POST /emails body, as the API does.
func (e *workerEnv) accept(body string) *store.Email {
	e.t.Helper()
	em, err := sendreq.Decode([]byte(body), sendreq.Options{Now: e.clock.Now()})
	require.NoError(e.t, err)
	em.ID, em.TeamID, em.CreatedAt = uuid.NewString(), e.team.ID, e.clock.Now()
	em.LastEvent = store.EventQueued
	if em.ScheduledAt != nil {
		em.LastEvent = store.EventScheduled
	}
	require.NoError(e.t, e.db.AcceptEmails(context.Background(), &store.Accept{Emails: []*store.Email{em}}))
	return em
}

func (e *workerEnv) deliver(em *store.Email, at *time.Time, attempt int) error {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return e.w.Deliver(ctx, Job{EmailID: em.ID, At: at, Attempt: attempt})
}

func (e *workerEnv) events(em *store.Email) []string {
	e.t.Helper()
	evs, err := e.db.ListEmailEvents(context.Background(), e.team.ID, em.ID)
	require.NoError(e.t, err)
	var out []string
	for _, ev := range evs {
		out = append(out, ev.Type)
	}
	return out
}

func (e *workerEnv) event(em *store.Email, typ string) map[string]any {
	e.t.Helper()
	evs, err := e.db.ListEmailEvents(context.Background(), e.team.ID, em.ID)
	require.NoError(e.t, err)
	for _, ev := range evs {
		if ev.Type == typ {
			var m map[string]any
			require.NoError(e.t, json.Unmarshal(ev.Data, &m))
			return m
		}
	}
	e.t.Fatalf("no %s event", typ)
	return nil
}

func (e *workerEnv) lastEvent(em *store.Email) string {
	e.t.Helper()
	got, err := e.db.GetEmail(context.Background(), e.team.ID, em.ID)
	require.NoError(e.t, err)
	return got.LastEvent
}

// verifyDKIM checks every signature of msg against the keys published in
// the DNS server and returns the signing domains' selectors.
func (e *workerEnv) verifyDKIM(msg []byte) []string {
	e.t.Helper()
	res := &dnscheck.Resolver{Addr: e.dns.Addr(), Timeout: time.Second}
	vs, err := msgdkim.VerifyWithOptions(bytes.NewReader(msg), &msgdkim.VerifyOptions{
		LookupTXT: func(name string) ([]string, error) { return res.LookupTXT(context.Background(), name) },
	})
	require.NoError(e.t, err)
	var sels []string
	for _, v := range vs {
		require.NoError(e.t, v.Err, "signature by %s", v.Domain)
		require.Equal(e.t, "example.com", v.Domain)
		sels = append(sels, v.Domain)
	}
	return sels
}

func eachStore(t *testing.T, fn func(t *testing.T, kind sqlstore.Dialect)) {
	for _, kind := range godwittest.Kinds {
		t.Run(string(kind), func(t *testing.T) {
			t.Parallel()
			fn(t, kind)
		})
	}
}

func TestWorkerDeliversSignedMessage(t *testing.T) {
	eachStore(t, func(t *testing.T, kind sqlstore.Dialect) {
		e := newWorkerEnv(t, kind, godwittest.MXOptions{})
		em := e.accept(`{"from":"Zoë Ünïcode <hello@example.com>","to":["a@example.test","B <b@example.test>"],
			"cc":"c@example.test","bcc":["hidden@example.test"],"reply_to":"support@example.com",
			"subject":"Grüße aus Köln ✓","html":"<p>Hallo <b>Welt</b></p><img src=\"cid:logo\">",
			"headers":{"X-Entity-Ref-ID":"42","List-Unsubscribe":"<https://example.com/u>"},
			"attachments":[{"filename":"a.txt","content":"aGVsbG8="},{"filename":"logo.png","content":[137,80,78,71],"content_id":"logo"},
				{"filename":"b.bin","content":{"type":"Buffer","data":[1,2,3]}}]}`)
		require.NoError(t, e.deliver(em, nil, 1))

		require.Equal(t, store.EventDelivered, e.lastEvent(em))
		require.Equal(t, []string{"queued", "sent", "delivered"}, e.events(em))
		msgs := e.mx.Messages()
		require.Len(t, msgs, 1, "one transaction for the one destination domain")
		m := msgs[0]
		require.Equal(t, "bounces+"+em.ID+"@send.example.com", m.From)
		require.ElementsMatch(t, []string{"a@example.test", "b@example.test", "c@example.test", "hidden@example.test"}, m.Rcpts)
		require.Equal(t, "out.godwit.test", m.Helo)
		require.Len(t, e.verifyDKIM(m.Data), 2, "RSA and Ed25519 signatures")

		mr, err := mail.CreateReader(bytes.NewReader(m.Data))
		require.NoError(t, err)
		h := mr.Header
		from, err := h.AddressList("From")
		require.NoError(t, err)
		require.Equal(t, "Zoë Ünïcode", from[0].Name)
		subj, err := h.Subject()
		require.NoError(t, err)
		require.Equal(t, "Grüße aus Köln ✓", subj)
		require.Empty(t, h.Get("Bcc"))
		require.Equal(t, "<"+em.ID+"@example.com>", h.Get("Message-Id"))
		require.Equal(t, "42", h.Get("X-Entity-Ref-Id"))
		require.Equal(t, "<https://example.com/u>", h.Get("List-Unsubscribe"))
		require.Contains(t, h.Get("Reply-To"), "support@example.com")

		var texts, htmls, files []string
		for {
			p, err := mr.NextPart()
			if errors.Is(err, io.EOF) {
				break
			}
			require.NoError(t, err)
			body, err := io.ReadAll(p.Body)
			require.NoError(t, err)
			switch ph := p.Header.(type) {
			case *mail.InlineHeader:
				ct, _, _ := ph.ContentType()
				switch ct {
				case "text/plain":
					texts = append(texts, string(body))
				case "text/html":
					htmls = append(htmls, string(body))
				default:
					files = append(files, ph.Get("Content-Id")+"="+string(body))
				}
			case *mail.AttachmentHeader:
				name, _ := ph.Filename()
				files = append(files, name+"="+string(body))
			}
		}
		require.Len(t, texts, 1)
		require.Contains(t, texts[0], "Hallo Welt", "text part derived from the HTML")
		require.Equal(t, []string{`<p>Hallo <b>Welt</b></p><img src="cid:logo">`}, htmls)
		require.ElementsMatch(t, []string{"a.txt=hello", "<logo>=\x89PNG", "b.bin=\x01\x02\x03"}, files)

		attempts, err := e.db.ListDeliveryAttempts(context.Background(), e.team.ID, em.ID)
		require.NoError(t, err)
		require.Len(t, attempts, 4)
		for _, a := range attempts {
			require.Equal(t, store.OutcomeDelivered, a.Outcome)
			require.Equal(t, 250, a.Code)
			require.Equal(t, "mx.example.test", a.Host)
		}

		// A second run of the same job (at-least-once) sends nothing more.
		require.NoError(t, e.deliver(em, nil, 2))
		require.Len(t, e.mx.Messages(), 1)
	})
}

func TestWorkerTempFailThenDelivered(t *testing.T) {
	eachStore(t, func(t *testing.T, kind sqlstore.Dialect) {
		e := newWorkerEnv(t, kind, godwittest.MXOptions{})
		e.mx.setFault("a@example.test", tempFailOnce)
		em := e.accept(`{"from":"hello@example.com","to":["a@example.test","ok@example.test"],"subject":"s","text":"t"}`)

		var retry *Retry
		require.ErrorAs(t, e.deliver(em, nil, 1), &retry)
		require.Equal(t, time.Minute, retry.After)
		require.Equal(t, store.EventDeliveryDelayed, e.lastEvent(em))

		e.clock.Advance(retry.After)
		require.NoError(t, e.deliver(em, nil, 2))
		require.Equal(t, store.EventDelivered, e.lastEvent(em))
		require.Equal(t, []string{"queued", "sent", "delivery_delayed", "delivered", "delivered"}, e.events(em))

		msgs := e.mx.Messages()
		require.Len(t, msgs, 2)
		require.Equal(t, []string{"ok@example.test"}, msgs[0].Rcpts)
		require.Equal(t, []string{"a@example.test"}, msgs[1].Rcpts, "the retry goes only to the deferred recipient")

		attempts, err := e.db.ListDeliveryAttempts(context.Background(), e.team.ID, em.ID)
		require.NoError(t, err)
		require.Len(t, attempts, 3)
		require.Equal(t, store.OutcomeDeferred, attempts[0].Outcome)
		require.Equal(t, 450, attempts[0].Code)
		require.Equal(t, "4.2.0", attempts[0].Enhanced)
		require.Equal(t, "Mailbox busy, try later", attempts[0].Response)
	})
}

func TestWorkerBounceSuppressesTheAddress(t *testing.T) {
	eachStore(t, func(t *testing.T, kind sqlstore.Dialect) {
		e := newWorkerEnv(t, kind, godwittest.MXOptions{})
		e.mx.setFault("gone@example.test", reject)
		em := e.accept(`{"from":"hello@example.com","to":"gone@example.test","subject":"s","text":"t"}`)
		require.NoError(t, e.deliver(em, nil, 1))
		require.Equal(t, store.EventBounced, e.lastEvent(em))
		bounce := e.event(em, "bounced")["bounce"].(map[string]any)
		require.Equal(t, "Permanent", bounce["type"])
		require.Equal(t, "NoEmail", bounce["subType"])
		require.Equal(t, []any{"smtp; 550 5.1.1 No such user here"}, bounce["diagnosticCode"])

		suppressed, err := e.db.SuppressedAmong(context.Background(), e.team.ID, []string{"gone@example.test"})
		require.NoError(t, err)
		require.True(t, suppressed["gone@example.test"])

		// The next email to the address is suppressed without an attempt.
		em2 := e.accept(`{"from":"hello@example.com","to":"Gone@Example.test","subject":"s","text":"t"}`)
		require.NoError(t, e.deliver(em2, nil, 1))
		require.Equal(t, store.EventSuppressed, e.lastEvent(em2))
		require.Equal(t, []string{"queued", "sent", "suppressed"}, e.events(em2))
		seen := e.mx.Attempts("gone@example.test") + e.mx.Attempts("Gone@Example.test")
		require.Equal(t, 1, seen)
	})
}

func TestWorkerDeferredUntilMaxQueueAge(t *testing.T) {
	eachStore(t, func(t *testing.T, kind sqlstore.Dialect) {
		e := newWorkerEnv(t, kind, godwittest.MXOptions{})
		e.mx.setFault("busy@example.test", tempFail)
		em := e.accept(`{"from":"hello@example.com","to":"busy@example.test","subject":"s","text":"t"}`)
		var retry *Retry
		for i, wait := range []time.Duration{time.Minute, 2 * time.Minute, 4 * time.Minute} {
			require.ErrorAs(t, e.deliver(em, nil, i+1), &retry)
			require.Equal(t, wait, retry.After)
			e.clock.Advance(retry.After)
		}
		require.Equal(t, store.EventDeliveryDelayed, e.lastEvent(em))
		e.clock.Advance(72 * time.Hour)
		require.NoError(t, e.deliver(em, nil, 4))
		require.Equal(t, store.EventBounced, e.lastEvent(em))
		bounce := e.event(em, "bounced")["bounce"].(map[string]any)
		require.Equal(t, "Transient", bounce["type"])
		suppressed, err := e.db.SuppressedAmong(context.Background(), e.team.ID, []string{"busy@example.test"})
		require.NoError(t, err)
		require.False(t, suppressed["busy@example.test"], "a transient bounce does not suppress")
	})
}

func TestWorkerDroppedConnectionIsDeferred(t *testing.T) {
	e := newWorkerEnv(t, sqlstore.SQLite, godwittest.MXOptions{})
	e.mx.setFault("drop@example.test", dropAfterRcpt)
	em := e.accept(`{"from":"hello@example.com","to":"drop@example.test","subject":"s","text":"t"}`)
	var retry *Retry
	require.ErrorAs(t, e.deliver(em, nil, 1), &retry)
	attempts, err := e.db.ListDeliveryAttempts(context.Background(), e.team.ID, em.ID)
	require.NoError(t, err)
	require.Equal(t, store.OutcomeDeferred, attempts[0].Outcome)
	require.Equal(t, 0, attempts[0].Code)
	require.NotEmpty(t, attempts[0].Response)
}

func TestWorkerEnforcedTLSWithoutStartTLSIsDeferred(t *testing.T) {
	e := newWorkerEnv(t, sqlstore.SQLite, godwittest.MXOptions{})
	e.domain.TLS = "enforced"
	e.domain.UpdatedAt = w0.Add(time.Second)
	require.NoError(t, e.db.UpdateDomain(context.Background(), e.domain))
	em := e.accept(`{"from":"hello@example.com","to":"a@example.test","subject":"s","text":"t"}`)
	var retry *Retry
	require.ErrorAs(t, e.deliver(em, nil, 1), &retry)
	attempts, err := e.db.ListDeliveryAttempts(context.Background(), e.team.ID, em.ID)
	require.NoError(t, err)
	require.Contains(t, attempts[0].Response, "does not offer STARTTLS")
	require.Empty(t, e.mx.Messages())
}

func TestWorkerTestAddresses(t *testing.T) {
	eachStore(t, func(t *testing.T, kind sqlstore.Dialect) {
		e := newWorkerEnv(t, kind, godwittest.MXOptions{})
		cases := []struct {
			to, last string
			events   []string
		}{
			{"delivered@resend.dev", "delivered", []string{"queued", "sent", "delivered"}},
			{"delivered+run1@resend.dev", "delivered", []string{"queued", "sent", "delivered"}},
			{"bounced@resend.dev", "bounced", []string{"queued", "sent", "bounced"}},
			{"bounced+x@resend.dev", "bounced", []string{"queued", "sent", "bounced"}},
			{"complained@resend.dev", "complained", []string{"queued", "sent", "delivered", "complained"}},
			{"suppressed@resend.dev", "suppressed", []string{"queued", "sent", "suppressed"}},
		}
		for _, c := range cases {
			em := e.accept(`{"from":"onboarding@resend.dev","to":"` + c.to + `","subject":"s","text":"t"}`)
			require.NoError(t, e.deliver(em, nil, 1), c.to)
			require.Equal(t, c.last, e.lastEvent(em), c.to)
			require.Equal(t, c.events, e.events(em), c.to)
		}
		require.Empty(t, e.mx.Messages(), "test addresses never reach the network")
		suppressed, err := e.db.SuppressedAmong(context.Background(), e.team.ID, []string{"bounced@resend.dev"})
		require.NoError(t, err)
		require.False(t, suppressed["bounced@resend.dev"], "test bounces do not suppress")
	})
}

func TestWorkerCapture(t *testing.T) {
	eachStore(t, func(t *testing.T, kind sqlstore.Dialect) {
		e := newWorkerEnv(t, kind, godwittest.MXOptions{})
		e.w.Transport = nil
		em := e.accept(`{"from":"hello@example.com","to":"a@example.test","subject":"captured","html":"<p>x</p>"}`)
		require.NoError(t, e.deliver(em, nil, 1))
		require.Equal(t, store.EventDelivered, e.lastEvent(em))
		require.Empty(t, e.mx.Messages())
		raw, err := e.db.GetCapturedMessage(context.Background(), e.team.ID, em.ID)
		require.NoError(t, err)
		require.Len(t, e.verifyDKIM(raw), 2)
		ent, err := gomessage.Read(bytes.NewReader(raw))
		require.NoError(t, err)
		require.Equal(t, "captured", ent.Header.Get("Subject"))
	})
}

// TestWorkerCaptureAnySender: with --allow-any-sender, an email from a
// domain the team never added is captured unsigned; without it, it fails
// (the gate would not have accepted it).
func TestWorkerCaptureAnySender(t *testing.T) {
	eachStore(t, func(t *testing.T, kind sqlstore.Dialect) {
		e := newWorkerEnv(t, kind, godwittest.MXOptions{})
		e.w.Transport, e.w.AnySender = nil, true
		em := e.accept(`{"from":"dev@my-own.example","to":"a@example.test","subject":"any sender","html":"<p>x</p>"}`)
		require.NoError(t, e.deliver(em, nil, 1))
		require.Equal(t, store.EventDelivered, e.lastEvent(em))
		raw, err := e.db.GetCapturedMessage(context.Background(), e.team.ID, em.ID)
		require.NoError(t, err)
		ent, err := gomessage.Read(bytes.NewReader(raw))
		require.NoError(t, err)
		require.Equal(t, "any sender", ent.Header.Get("Subject"))
		require.Empty(t, ent.Header.Get("DKIM-Signature"), "no key: not signed")

		e.w.AnySender = false
		em = e.accept(`{"from":"dev@my-own.example","to":"a@example.test","subject":"s","text":"t"}`)
		require.NoError(t, e.deliver(em, nil, 1))
		require.Equal(t, store.EventFailed, e.lastEvent(em))
		_, err = e.db.GetCapturedMessage(context.Background(), e.team.ID, em.ID)
		require.ErrorIs(t, err, store.ErrNotFound)
	})
}

func TestWorkerScheduledJobs(t *testing.T) {
	eachStore(t, func(t *testing.T, kind sqlstore.Dialect) {
		e := newWorkerEnv(t, kind, godwittest.MXOptions{})
		ctx := context.Background()
		at := w0.Add(time.Hour)
		em := e.accept(`{"from":"hello@example.com","to":"a@example.test","subject":"s","text":"t","scheduled_at":"` + at.Format(time.RFC3339) + `"}`)

		// Run early (the queue's clock ahead of ours): wait for the rest.
		var retry *Retry
		require.ErrorAs(t, e.deliver(em, &at, 1), &retry)
		require.Equal(t, time.Hour, retry.After)

		// Rescheduled: the job for the old time ends without sending.
		later := w0.Add(2 * time.Hour)
		require.NoError(t, e.db.RescheduleEmail(ctx, e.team.ID, em.ID, later))
		e.clock.Advance(time.Hour)
		require.NoError(t, e.deliver(em, &at, 2))
		require.Equal(t, store.EventScheduled, e.lastEvent(em))
		require.Empty(t, e.mx.Messages())

		// The job for the new time sends it once; a duplicate job does not.
		e.clock.Advance(time.Hour)
		require.NoError(t, e.deliver(em, &later, 1))
		require.NoError(t, e.deliver(em, &later, 1))
		require.Equal(t, store.EventDelivered, e.lastEvent(em))
		require.Len(t, e.mx.Messages(), 1)

		// Canceled: its job ends without sending.
		em2 := e.accept(`{"from":"hello@example.com","to":"a@example.test","subject":"s","text":"t","scheduled_at":"` + e.clock.Now().Add(time.Hour).Format(time.RFC3339) + `"}`)
		require.NoError(t, e.db.CancelEmail(ctx, e.team.ID, em2.ID, e.clock.Now()))
		e.clock.Advance(time.Hour)
		require.NoError(t, e.deliver(em2, em2.ScheduledAt, 1))
		require.Equal(t, store.EventCanceled, e.lastEvent(em2))
		require.Len(t, e.mx.Messages(), 1)
	})
}

func TestWorkerAttachmentByPath(t *testing.T) {
	e := newWorkerEnv(t, sqlstore.SQLite, godwittest.MXOptions{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/pdf")
		_, _ = w.Write([]byte("%PDF-1.4 fake"))
	}))
	t.Cleanup(srv.Close)

	// Loopback is refused unless the operator allows private networks.
	em := e.accept(`{"from":"hello@example.com","to":"a@example.test","subject":"s","text":"t",
		"attachments":[{"filename":"r.pdf","path":"` + srv.URL + `/r.pdf"}]}`)
	require.NoError(t, e.deliver(em, nil, 1))
	require.Equal(t, store.EventFailed, e.lastEvent(em))
	reason := e.event(em, "failed")["failed"].(map[string]any)["reason"].(string)
	require.Contains(t, reason, "non-public address")

	e.w.Fetcher = &fetch.Fetcher{Client: netguard.Policy{AllowPrivate: true}.HTTPClient(time.Second), Timeout: time.Second}
	em2 := e.accept(`{"from":"hello@example.com","to":"a@example.test","subject":"s","text":"t",
		"attachments":[{"filename":"r.pdf","path":"` + srv.URL + `/r.pdf"}]}`)
	require.NoError(t, e.deliver(em2, nil, 1))
	require.Equal(t, store.EventDelivered, e.lastEvent(em2))
	msgs := e.mx.Messages()
	require.Len(t, msgs, 1)
	require.Contains(t, string(msgs[0].Data), mime.BEncoding.Encode("utf-8", "x")[:0]+"r.pdf")
	require.True(t, strings.Contains(string(msgs[0].Data), "application/pdf"))
}
