package webhook_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/resend/resend-go/v3"
	"github.com/stretchr/testify/require"

	"github.com/godwit/godwit/internal/events"
	"github.com/godwit/godwit/internal/godwittest"
	"github.com/godwit/godwit/internal/netguard"
	"github.com/godwit/godwit/internal/secretbox"
	"github.com/godwit/godwit/internal/store"
	"github.com/godwit/godwit/internal/store/sqlstore"
	"github.com/godwit/godwit/internal/webhook"
)

// receiver is an HTTP endpoint on loopback that answers with the status it
// is told and keeps what it received.
type receiver struct {
	srv    *httptest.Server
	mu     sync.Mutex
	status int
	got    []received
}

type received struct {
	header http.Header
	body   []byte
}

func newReceiver(t *testing.T) *receiver {
	r := &receiver{status: 200}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		r.got = append(r.got, received{req.Header.Clone(), body})
		status := r.status
		r.mu.Unlock()
		w.WriteHeader(status)
		_, _ = w.Write([]byte("answer " + http.StatusText(status)))
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) setStatus(s int) { r.mu.Lock(); r.status = s; r.mu.Unlock() }
func (r *receiver) received() []received {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]received(nil), r.got...)
}

type env struct {
	t     *testing.T
	clock *godwittest.Clock
	db    *sqlstore.DB
	box   *secretbox.Box
	team  string
	d     *webhook.Dispatcher
}

func setup(t *testing.T, kind sqlstore.Dialect) *env {
	clock := godwittest.NewClock(time.Now().UTC().Truncate(time.Second))
	db := godwittest.NewStore(t, kind, clock)
	box, err := secretbox.New(bytes.Repeat([]byte{9}, 32))
	require.NoError(t, err)
	team := uuid.NewString()
	require.NoError(t, db.CreateTeam(context.Background(), &store.Team{ID: team, Name: "t", CreatedAt: clock.Now()}))
	d := &webhook.Dispatcher{Store: db, Keys: box, Client: netguard.Policy{AllowPrivate: true}.HTTPClient(webhook.Timeout), Now: clock.Now}
	return &env{t: t, clock: clock, db: db, box: box, team: team, d: d}
}

// addWebhook stores a webhook for endpoint with a new secret, and returns it and the secret.
func (e *env) addWebhook(team, endpoint string, types ...string) (*store.Webhook, string) {
	secret := webhook.NewSecret()
	w := &store.Webhook{ID: uuid.NewString(), TeamID: team, Endpoint: endpoint, Events: types, Status: store.WebhookEnabled,
		CreatedAt: e.clock.Now(), UpdatedAt: e.clock.Now()}
	var err error
	w.Secret, err = e.box.Seal([]byte(secret), webhook.SecretAD(w.ID))
	require.NoError(e.t, err)
	require.NoError(e.t, e.db.CreateWebhook(context.Background(), w))
	return w, secret
}

// event records an email.delivered event of the team, as delivery does.
func (e *env) event(team string) *store.Event {
	em := &store.Email{ID: uuid.NewString(), TeamID: team, From: "a@example.com", To: []string{"b@example.net"}, Subject: "s",
		CreatedAt: e.clock.Now(), LastEvent: store.EventQueued}
	require.NoError(e.t, e.db.AcceptEmails(context.Background(), &store.Accept{Emails: []*store.Email{em}}))
	ev, err := events.Email(store.EventDelivered, em, nil, nil, e.clock.Now())
	require.NoError(e.t, err)
	require.NoError(e.t, e.db.RecordDelivery(context.Background(), &store.DeliveryOutcome{EmailID: em.ID, TeamID: team,
		LastEvent: store.EventDelivered, TeamEvents: []*store.Event{ev}}))
	return ev
}

func (e *env) messages(w *store.Webhook) []*store.WebhookMessage {
	list, _, err := e.db.ListWebhookMessages(context.Background(), w.TeamID, w.ID, store.Page{Limit: 100})
	require.NoError(e.t, err)
	return list
}

func verify(t *testing.T, secret string, r received) error {
	t.Helper()
	return resend.NewClient("re_x").Webhooks.Verify(&resend.VerifyWebhookOptions{Payload: string(r.body), WebhookSecret: secret,
		Headers: resend.WebhookHeaders{Id: r.header.Get("svix-id"), Timestamp: r.header.Get("svix-timestamp"), Signature: r.header.Get("svix-signature")}})
}

func TestDeliveryIsSignedAndFannedOut(t *testing.T) {
	for _, kind := range godwittest.Kinds {
		t.Run(string(kind), func(t *testing.T) {
			t.Parallel()
			e := setup(t, kind)
			rcv := newReceiver(t)
			subscribed, secret := e.addWebhook(e.team, rcv.srv.URL+"/hook", "email.delivered", "email.bounced")
			other, _ := e.addWebhook(e.team, rcv.srv.URL+"/other", "domain.created")
			disabled, _ := e.addWebhook(e.team, rcv.srv.URL+"/off", "email.delivered")
			disabled.Status = store.WebhookDisabled
			require.NoError(t, e.db.UpdateWebhook(context.Background(), disabled))
			otherTeam := uuid.NewString()
			require.NoError(t, e.db.CreateTeam(context.Background(), &store.Team{ID: otherTeam, Name: "o", CreatedAt: e.clock.Now()}))
			foreign, _ := e.addWebhook(otherTeam, rcv.srv.URL+"/foreign", "email.delivered")

			ev := e.event(e.team)
			msgs := e.messages(subscribed)
			require.Len(t, msgs, 1, "one message for the subscribed webhook, in the event's transaction")
			require.Empty(t, e.messages(other))
			require.Empty(t, e.messages(disabled))
			require.Empty(t, e.messages(foreign))
			m := msgs[0]
			require.Equal(t, store.WebhookMessagePending, m.Status)
			require.Equal(t, ev.ID, m.EventID)
			require.Regexp(t, `^msg_`, m.ID)

			require.NoError(t, e.d.Deliver(context.Background(), m.ID))
			got := rcv.received()
			require.Len(t, got, 1)
			require.NoError(t, verify(t, secret, got[0]), "the official Go SDK verifies it")
			require.Equal(t, m.ID, got[0].header.Get("svix-id"))
			require.JSONEq(t, string(ev.Data), string(got[0].body))
			require.Equal(t, store.WebhookMessageSuccess, e.messages(subscribed)[0].Status)

			attempts, _, err := e.db.ListWebhookAttempts(context.Background(), e.team, m.ID, store.Page{})
			require.NoError(t, err)
			require.Len(t, attempts, 1)
			require.Equal(t, 200, attempts[0].StatusCode)
			require.Equal(t, "answer OK", attempts[0].Response)
			_, _, err = e.db.ListWebhookAttempts(context.Background(), otherTeam, m.ID, store.Page{})
			require.ErrorIs(t, err, store.ErrNotFound)

			// A duplicate job posts nothing more.
			require.NoError(t, e.d.Deliver(context.Background(), m.ID))
			require.Len(t, rcv.received(), 1)
		})
	}
}

func TestRetriesFollowTheScheduleThenFail(t *testing.T) {
	e := setup(t, sqlstore.SQLite)
	rcv := newReceiver(t)
	rcv.setStatus(503)
	w, _ := e.addWebhook(e.team, rcv.srv.URL, "email.delivered")
	e.event(e.team)
	m := e.messages(w)[0]
	for i, wait := range webhook.Schedule {
		require.NoError(t, e.d.Deliver(context.Background(), m.ID))
		got := e.messages(w)[0]
		require.Equal(t, store.WebhookMessageAttempting, got.Status, "attempt %d", i+1)
		require.Equal(t, i+1, got.Attempts)
		require.True(t, got.NextAttemptAt.Equal(e.clock.Now().Add(wait)), "attempt %d: next at %s", i+1, got.NextAttemptAt)
		e.clock.Advance(wait)
	}
	require.NoError(t, e.d.Deliver(context.Background(), m.ID))
	got := e.messages(w)[0]
	require.Equal(t, store.WebhookMessageFailed, got.Status)
	require.Nil(t, got.NextAttemptAt)
	posts := rcv.received()
	require.Len(t, posts, len(webhook.Schedule)+1)
	for _, p := range posts {
		require.Equal(t, m.ID, p.header.Get("svix-id"), "the same svix-id on every retry")
	}

	// Replay: pending again, and posted again (now successfully).
	rcv.setStatus(204)
	require.NoError(t, e.db.ReplayWebhookMessage(context.Background(), e.team, m.ID, e.clock.Now()))
	require.ErrorIs(t, e.db.ReplayWebhookMessage(context.Background(), uuid.NewString(), m.ID, e.clock.Now()), store.ErrNotFound)
	// Eight failures in a row opened the endpoint's breaker: the replay
	// waits for the end of its period, and is posted then.
	var deferred *webhook.Deferred
	require.ErrorAs(t, e.d.Deliver(context.Background(), m.ID), &deferred)
	require.Equal(t, "breaker open", deferred.Reason)
	require.Len(t, rcv.received(), len(webhook.Schedule)+1, "nothing posted while the breaker is open")
	e.clock.Advance(deferred.After)
	require.NoError(t, e.d.Deliver(context.Background(), m.ID))
	require.Equal(t, store.WebhookMessageSuccess, e.messages(w)[0].Status)
	hook, err := e.db.GetWebhook(context.Background(), e.team, w.ID)
	require.NoError(t, err)
	require.Nil(t, hook.FailingSince, "a success clears the failure state")
}

func TestEndpointFailingForDaysIsDisabled(t *testing.T) {
	e := setup(t, sqlstore.SQLite)
	rcv := newReceiver(t)
	rcv.setStatus(500)
	w, _ := e.addWebhook(e.team, rcv.srv.URL, "email.delivered")
	first := e.clock.Now()
	e.event(e.team)
	require.NoError(t, e.d.Deliver(context.Background(), e.messages(w)[0].ID))
	hook, err := e.db.GetWebhook(context.Background(), e.team, w.ID)
	require.NoError(t, err)
	require.True(t, hook.FailingSince.Equal(first))
	require.Equal(t, store.WebhookEnabled, hook.Status)

	e.clock.Advance(5*24*time.Hour + time.Minute)
	e.event(e.team)
	require.NoError(t, e.d.Deliver(context.Background(), e.messages(w)[0].ID))
	hook, err = e.db.GetWebhook(context.Background(), e.team, w.ID)
	require.NoError(t, err)
	require.Equal(t, store.WebhookDisabled, hook.Status)
	require.Contains(t, hook.DisabledReason, "has failed since")
	require.Contains(t, hook.DisabledReason, "HTTP 500")

	// A disabled webhook gets no new messages, and queued ones are not posted.
	n := len(rcv.received())
	e.event(e.team)
	require.Len(t, e.messages(w), 2)
	require.Len(t, rcv.received(), n)
}

func TestRotationSignsWithBothSecrets(t *testing.T) {
	e := setup(t, sqlstore.SQLite)
	rcv := newReceiver(t)
	w, old := e.addWebhook(e.team, rcv.srv.URL, "email.delivered")
	fresh := webhook.NewSecret()
	until := e.clock.Now().Add(24 * time.Hour)
	w.PreviousSecret, w.PreviousUntil = w.Secret, &until
	var err error
	w.Secret, err = e.box.Seal([]byte(fresh), webhook.SecretAD(w.ID))
	require.NoError(t, err)
	require.NoError(t, e.db.UpdateWebhook(context.Background(), w))

	e.event(e.team)
	require.NoError(t, e.d.Deliver(context.Background(), e.messages(w)[0].ID))
	got := rcv.received()[0]
	require.Len(t, strings.Fields(got.header.Get("svix-signature")), 2)
	require.NoError(t, verify(t, fresh, got))
	require.NoError(t, verify(t, old, got))

	// After the overlap only the new secret signs.
	e.clock.Advance(24*time.Hour + time.Second)
	e.event(e.team)
	require.NoError(t, e.d.Deliver(context.Background(), e.messages(w)[0].ID))
	last := rcv.received()[1]
	require.Len(t, strings.Fields(last.header.Get("svix-signature")), 1)
}

func TestPrivateEndpointsAreRefused(t *testing.T) {
	e := setup(t, sqlstore.SQLite)
	e.d.Client = netguard.Policy{}.HTTPClient(webhook.Timeout)
	rcv := newReceiver(t)
	u, err := url.Parse(rcv.srv.URL)
	require.NoError(t, err)
	w, _ := e.addWebhook(e.team, "http://localhost:"+u.Port()+"/hook", "email.delivered")
	e.event(e.team)
	m := e.messages(w)[0]
	require.NoError(t, e.d.Deliver(context.Background(), m.ID))
	require.Empty(t, rcv.received(), "nothing reaches a loopback endpoint")
	attempts, _, err := e.db.ListWebhookAttempts(context.Background(), e.team, m.ID, store.Page{})
	require.NoError(t, err)
	require.Equal(t, 0, attempts[0].StatusCode)
	require.Contains(t, attempts[0].Response, "non-public address")
	require.NotContains(t, attempts[0].Response, "localhost:"+u.Port(), "the URL is not repeated")
	require.Equal(t, store.WebhookMessageAttempting, e.messages(w)[0].Status)
}
