package reputation_test

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/godwit/godwit/internal/delivery"
	"github.com/godwit/godwit/internal/dnscheck"
	"github.com/godwit/godwit/internal/dnscheck/dnstest"
	"github.com/godwit/godwit/internal/domains"
	"github.com/godwit/godwit/internal/events"
	"github.com/godwit/godwit/internal/godwittest"
	"github.com/godwit/godwit/internal/metrics"
	"github.com/godwit/godwit/internal/netguard"
	"github.com/godwit/godwit/internal/reputation"
	"github.com/godwit/godwit/internal/secretbox"
	"github.com/godwit/godwit/internal/sendreq"
	"github.com/godwit/godwit/internal/store"
	"github.com/godwit/godwit/internal/store/sqlstore"
	"github.com/godwit/godwit/internal/webhook"
)

var t0 = time.Date(2026, 12, 1, 9, 30, 0, 0, time.UTC)

// env is a store with a team and its verified domain example.com, a
// loopback MX for example.test (through a loopback DNS server), a delivery
// worker whose recorded outcomes reach the guard (as internal/app wires
// them), a webhook endpoint subscribed to domain.updated, and the jobs the
// store enqueued.
type env struct {
	t       *testing.T
	clock   *godwittest.Clock
	db      *sqlstore.DB
	mx      *godwittest.MX
	worker  *delivery.Worker
	guard   *reputation.Guard
	hooks   *webhook.Dispatcher
	rcv     *receiver
	reg     *prometheus.Registry
	logs    *godwittest.LogBuffer
	team    *store.Team
	domain  *store.Domain
	mu      sync.Mutex
	retries []sqlstore.DeliveryRetry
	posts   []string
}

// guarded is the worker's store telling the guard of each outcome.
type guarded struct {
	delivery.Store
	g *reputation.Guard
}

func (s guarded) RecordDelivery(ctx context.Context, o *store.DeliveryOutcome) error {
	if err := s.Store.RecordDelivery(ctx, o); err != nil {
		return err
	}
	s.g.Recorded(ctx, o)
	return nil
}

type receiver struct {
	srv  *httptest.Server
	mu   sync.Mutex
	got  [][]byte
	seen chan struct{}
}

func (r *receiver) bodies() [][]byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([][]byte(nil), r.got...)
}

func newEnv(t *testing.T, kind sqlstore.Dialect) *env {
	t.Helper()
	ctx := context.Background()
	clock := godwittest.NewClock(t0)
	db := godwittest.NewStore(t, kind, clock)
	box, err := secretbox.New(bytes.Repeat([]byte{7}, 32))
	require.NoError(t, err)
	settings := domains.Settings{Keys: box, MXHost: "bounces.godwit.test", SPF: "v=spf1 ~all", DKIMSelector: "resend"}
	team := &store.Team{ID: uuid.NewString(), Name: "t", CreatedAt: t0}
	require.NoError(t, db.CreateTeam(ctx, team))
	d := &store.Domain{ID: uuid.NewString(), TeamID: team.ID, Name: "example.com", Region: "us-east-1", ReturnPath: "send",
		Status: store.DomainVerified, TLS: "opportunistic", Sending: "enabled", Receiving: "disabled", DKIMSelector: "resend",
		RecordStatus: map[string]string{}, CreatedAt: t0, UpdatedAt: t0}
	d.DKIMKey, _, err = settings.NewKeys(d.ID)
	require.NoError(t, err)
	require.NoError(t, db.CreateDomain(ctx, d))

	dns := dnstest.NewServer(t)
	mx := godwittest.NewMX(t, godwittest.MXOptions{})
	dns.SetMX("example.test", dnscheck.MX{Host: "mx.example.test", Preference: 10})
	tr := &delivery.MXTransport{Resolver: dns.Addr(), HELO: "out.godwit.test", Timeout: 2 * time.Second,
		Guard: netguard.Policy{AllowPrivate: true}, DialAddr: func(string) string { return mx.Addr() }}

	logs := &godwittest.LogBuffer{}
	reg := prometheus.NewRegistry()
	met := metrics.New(reg)
	g := &reputation.Guard{Store: db, Domains: settings, Logger: slog.New(slog.NewJSONHandler(logs, nil)), Metrics: met, Now: clock.Now}
	w := &delivery.Worker{Store: guarded{db, g}, Transport: tr, Domains: settings, TestDomain: "resend.dev", Now: clock.Now}

	rcv := &receiver{seen: make(chan struct{}, 16)}
	rcv.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		rcv.mu.Lock()
		rcv.got = append(rcv.got, body)
		rcv.mu.Unlock()
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(rcv.srv.Close)
	secret := webhook.NewSecret()
	hook := &store.Webhook{ID: uuid.NewString(), TeamID: team.ID, Endpoint: rcv.srv.URL + "/hook", Events: []string{events.DomainUpdated},
		Status: store.WebhookEnabled, CreatedAt: t0, UpdatedAt: t0}
	hook.Secret, err = box.Seal([]byte(secret), webhook.SecretAD(hook.ID))
	require.NoError(t, err)
	require.NoError(t, db.CreateWebhook(ctx, hook))

	e := &env{t: t, clock: clock, db: db, mx: mx, worker: w, guard: g, reg: reg, logs: logs, team: team, domain: d, rcv: rcv,
		hooks: &webhook.Dispatcher{Store: db, Keys: box, Client: netguard.Policy{AllowPrivate: true}.HTTPClient(webhook.Timeout), Now: clock.Now}}
	out := godwittest.OutboxOf(t, db)
	out.OnRetry(func(_ context.Context, _ *sql.Tx, rs []sqlstore.DeliveryRetry) error {
		e.mu.Lock()
		e.retries = append(e.retries, rs...)
		e.mu.Unlock()
		return nil
	})
	out.OnWebhook(func(_ context.Context, _ *sql.Tx, ps []sqlstore.WebhookPost) error {
		e.mu.Lock()
		for _, p := range ps {
			e.posts = append(e.posts, p.MessageID)
		}
		e.mu.Unlock()
		return nil
	})
	return e
}

// send accepts emails from example.com to each address, and runs the
// worker's first attempt of each.
func (e *env) send(to ...string) []*store.Email {
	e.t.Helper()
	var out []*store.Email
	for _, addr := range to {
		em, err := sendreq.Decode([]byte(`{"from":"hello@example.com","to":"`+addr+`","subject":"s","text":"t"}`),
			sendreq.Options{Now: e.clock.Now()})
		require.NoError(e.t, err)
		em.ID, em.TeamID, em.CreatedAt, em.LastEvent = uuid.NewString(), e.team.ID, e.clock.Now(), store.EventQueued
		em.DomainID, em.DomainName = e.domain.ID, e.domain.Name
		require.NoError(e.t, e.db.AcceptEmails(context.Background(), &store.Accept{Emails: []*store.Email{em}}))
		e.deliver(em.ID)
		out = append(out, em)
	}
	return out
}

func (e *env) deliver(id string) {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var retry *delivery.Retry
	if err := e.worker.Deliver(ctx, delivery.Job{EmailID: id, Attempt: 1}); err != nil {
		require.ErrorAs(e.t, err, &retry)
	}
}

// postWebhooks posts the webhook messages enqueued so far.
func (e *env) postWebhooks() {
	e.t.Helper()
	e.mu.Lock()
	posts := e.posts
	e.posts = nil
	e.mu.Unlock()
	for _, id := range posts {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		require.NoError(e.t, e.hooks.Deliver(ctx, id))
		cancel()
	}
}

func (e *env) lastEvent(id string) string {
	e.t.Helper()
	em, err := e.db.GetEmail(context.Background(), e.team.ID, id)
	require.NoError(e.t, err)
	return em.LastEvent
}

func (e *env) getDomain() *store.Domain {
	e.t.Helper()
	d, err := e.db.GetDomain(context.Background(), e.team.ID, e.domain.ID)
	require.NoError(e.t, err)
	return d
}

// pauses reads godwit_domain_sending_pauses_total{action}.
func (e *env) pauses(action string) float64 {
	e.t.Helper()
	fams, err := e.reg.Gather()
	require.NoError(e.t, err)
	for _, f := range fams {
		if f.GetName() != "godwit_domain_sending_pauses_total" {
			continue
		}
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "action" && l.GetValue() == action {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	e.t.Fatalf("no godwit_domain_sending_pauses_total{action=%q}", action)
	return 0
}

func repeat(addr string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = addr
	}
	return out
}

// TestComplaintsPauseAndResumeLosesNothing: a domain whose complaint rate
// crosses 0.3% over 100 deliveries is paused (domain.updated posted to
// the team's webhook, a log line, the metric); its emails are still
// accepted but not attempted, each deferral naming the pause, also past
// the maximum queue age; the admin's resume enqueues every held email at
// once and each reaches the MX.
func TestComplaintsPauseAndResumeLosesNothing(t *testing.T) {
	for _, kind := range godwittest.Kinds {
		t.Run(string(kind), func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, kind)
			ctx := context.Background()

			// 99 deliveries (test addresses: simulated, but counted as the
			// domain's) and no complaint: nothing to judge yet.
			e.send(repeat("delivered@resend.dev", 99)...)
			require.Nil(t, e.getDomain().SendingPause)
			// One complaint: 1 in 100 delivered, 1% ≥ 0.3%.
			e.send("complained@resend.dev")
			d := e.getDomain()
			require.NotNil(t, d.SendingPause, "paused by the complaint")
			require.Equal(t, "complaint rate 1% over 24h ≥ 0.3%", d.SendingPause.Reason)
			require.Equal(t, t0, d.SendingPause.At)
			require.Equal(t, store.DomainVerified, d.Status, "Resend's status is untouched")
			require.Len(t, e.logs.Records(t, "reputation: domain sending paused"), 1)
			require.InDelta(t, 1, e.pauses("paused"), 0)

			e.postWebhooks()
			got := e.rcv.bodies()
			require.Len(t, got, 1, "domain.updated posted")
			var payload struct {
				Type string `json:"type"`
				Data struct {
					ID           string                `json:"id"`
					Status       string                `json:"status"`
					SendingPause *domains.SendingPause `json:"sending_pause"`
				} `json:"data"`
			}
			require.NoError(t, json.Unmarshal(got[0], &payload))
			require.Equal(t, events.DomainUpdated, payload.Type)
			require.Equal(t, e.domain.ID, payload.Data.ID)
			require.Equal(t, "verified", payload.Data.Status)
			require.NotNil(t, payload.Data.SendingPause)
			require.Equal(t, "complaint rate 1% over 24h ≥ 0.3%", payload.Data.SendingPause.Reason)

			// A second complaint changes nothing: paused once.
			e.send("complained@resend.dev")
			require.Len(t, e.logs.Records(t, "reputation: domain sending paused"), 1)

			// Emails keep being accepted; none is attempted.
			held := e.send("a@example.test", "b@example.test", "c@example.test")
			require.Zero(t, e.mx.Count(), "nothing sent while paused")
			for _, em := range held {
				require.Equal(t, store.EventDeliveryDelayed, e.lastEvent(em.ID))
				atts, err := e.db.ListDeliveryAttempts(ctx, e.team.ID, em.ID)
				require.NoError(t, err)
				require.Len(t, atts, 1)
				require.Equal(t, "domain paused: complaint rate 1% over 24h ≥ 0.3%", atts[0].Response)
			}
			// The queue view says why.
			waiting, _, err := e.db.ListWaitingEmails(ctx, e.team.ID, "", store.Page{Limit: 10})
			require.NoError(t, err)
			require.Len(t, waiting, 3)
			for _, w := range waiting {
				require.Equal(t, "deferred: domain paused: complaint rate 1% over 24h ≥ 0.3% (for "+w.To[0]+")", w.Reason())
			}
			// Held past the maximum queue age: still held, not bounced.
			e.clock.Advance(80 * time.Hour)
			e.deliver(held[0].ID)
			require.Equal(t, store.EventDeliveryDelayed, e.lastEvent(held[0].ID))
			require.Zero(t, e.mx.Count())

			// Resume: every held email is enqueued now, and delivered.
			e.mu.Lock()
			e.retries = nil
			e.mu.Unlock()
			rd, resumed, n, err := e.guard.Resume(ctx, e.team.ID, e.domain.ID, "test")
			require.NoError(t, err)
			require.True(t, resumed)
			require.Equal(t, 3, n)
			require.Nil(t, rd.SendingPause)
			require.Nil(t, e.getDomain().SendingPause)
			require.Len(t, e.logs.Records(t, "reputation: domain sending resumed"), 1)
			require.InDelta(t, 1, e.pauses("resumed"), 0)
			e.mu.Lock()
			retries := e.retries
			e.mu.Unlock()
			require.Len(t, retries, 3)
			now := e.clock.Now()
			for _, r := range retries {
				require.Equal(t, now, r.At, "at once, not at the backoff")
				e.deliver(r.EmailID)
			}
			require.Equal(t, 3, e.mx.Count())
			for _, em := range held {
				require.Equal(t, store.EventDelivered, e.lastEvent(em.ID))
			}
			rcpts := strings.Join(e.mx.Rcpts(), ",")
			for _, a := range []string{"a@example.test", "b@example.test", "c@example.test"} {
				require.Contains(t, rcpts, a)
			}
			e.postWebhooks()
			got = e.rcv.bodies()
			require.Len(t, got, 2, "domain.updated posted on resume")
			require.NotContains(t, string(got[1]), "sending_pause")

			// Resuming again is a no-op.
			_, resumed, _, err = e.guard.Resume(ctx, e.team.ID, e.domain.ID, "test")
			require.NoError(t, err)
			require.False(t, resumed)
			// Another team's id is not found.
			_, _, _, err = e.guard.Resume(ctx, uuid.NewString(), e.domain.ID, "test")
			require.ErrorIs(t, err, store.ErrNotFound)
		})
	}
}

// TestBouncesUnderMinimumVolumeDoNotPause: one permanent bounce of three
// emails is a rate of 33%, but too few to judge.
func TestBouncesUnderMinimumVolumeDoNotPause(t *testing.T) {
	e := newEnv(t, sqlstore.SQLite)
	e.send("delivered@resend.dev", "delivered@resend.dev", "bounced@resend.dev")
	require.Nil(t, e.getDomain().SendingPause)
	r, err := e.guard.Window(context.Background(), e.team.ID, e.domain.ID)
	require.NoError(t, err)
	require.Equal(t, int64(2), r.Delivered)
	require.Equal(t, int64(1), r.BouncedPermanent)
}
