package webhook_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/godwit/godwit/internal/events"
	"github.com/godwit/godwit/internal/godwittest"
	"github.com/godwit/godwit/internal/store"
	"github.com/godwit/godwit/internal/store/sqlstore"
	"github.com/godwit/godwit/internal/webhook"
)

// holdingReceiver is an endpoint on loopback that answers status, or, while
// holding, keeps each request open until released or abandoned by the client.
type holdingReceiver struct {
	srv      *httptest.Server
	mu       sync.Mutex
	status   int
	holding  bool
	release  chan struct{}
	inFlight int
	posts    int
}

func newHoldingReceiver(t *testing.T) *holdingReceiver {
	r := &holdingReceiver{status: 200, release: make(chan struct{})}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		_, _ = io.Copy(io.Discard, req.Body)
		r.mu.Lock()
		r.posts++
		r.inFlight++
		hold, release, status := r.holding, r.release, r.status
		r.mu.Unlock()
		defer func() { r.mu.Lock(); r.inFlight--; r.mu.Unlock() }()
		if hold {
			select {
			case <-release:
			case <-req.Context().Done():
				return
			}
		}
		w.WriteHeader(status)
	}))
	t.Cleanup(func() { r.releaseAll(); r.srv.Close() })
	return r
}

func (r *holdingReceiver) set(status int, hold bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.status, r.holding = status, hold
}

// releaseAll answers the requests held so far (later ones are held again
// while holding).
func (r *holdingReceiver) releaseAll() {
	r.mu.Lock()
	defer r.mu.Unlock()
	close(r.release)
	r.release = make(chan struct{})
}

func (r *holdingReceiver) counts() (inFlight, posts int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.inFlight, r.posts
}

// waitInFlight polls until the receiver holds n requests.
func (r *holdingReceiver) waitInFlight(t *testing.T, n int) {
	t.Helper()
	require.Eventually(t, func() bool { got, _ := r.counts(); return got == n }, 5*time.Second, 5*time.Millisecond)
}

// topicEvent records a topic.created event of the team and returns the
// message made for w.
func (e *env) topicEvent(team string, w *store.Webhook) *store.WebhookMessage {
	e.t.Helper()
	tp := &store.Topic{ID: uuid.NewString(), TeamID: team, Name: "n", DefaultSubscription: store.SubscriptionOptIn,
		Visibility: store.TopicPublic, CreatedAt: e.clock.Now(), UpdatedAt: e.clock.Now()}
	ev, err := events.Topic(events.TopicCreated, tp, false, e.clock.Now())
	require.NoError(e.t, err)
	require.NoError(e.t, e.db.CreateTopic(context.Background(), tp, ev))
	for _, m := range e.messages(w) {
		if m.EventID == ev.ID {
			return m
		}
	}
	e.t.Fatalf("no message for event %s", ev.ID)
	return nil
}

func (e *env) message(id string) *store.WebhookMessage {
	e.t.Helper()
	m, err := e.db.GetWebhookMessage(context.Background(), id)
	require.NoError(e.t, err)
	return m
}

// TestCapsDeferWithoutAnAttempt: with two posts in flight to a webhook, a
// third message for it is deferred; with the team's cap reached, a message
// for another of its webhooks is too; another team's message is posted at
// once. A deferred message is unchanged, and is posted once slots free up.
func TestCapsDeferWithoutAnAttempt(t *testing.T) {
	e := setup(t, sqlstore.SQLite)
	e.d.Limits = webhook.Limits{PerEndpoint: 2, PerTeam: 3}
	slow := newHoldingReceiver(t)
	slow.set(200, true)
	a, _ := e.addWebhook(e.team, slow.srv.URL+"/a", events.TopicCreated)
	b, _ := e.addWebhook(e.team, slow.srv.URL+"/b", events.TopicCreated)
	other := uuid.NewString()
	require.NoError(t, e.db.CreateTeam(context.Background(), &store.Team{ID: other, Name: "o", CreatedAt: e.clock.Now()}))
	fast := newReceiver(t)
	c, _ := e.addWebhook(other, fast.srv.URL, events.TopicCreated)

	var wg sync.WaitGroup
	deliver := func(m *store.WebhookMessage) {
		wg.Go(func() { require.NoError(t, e.d.Deliver(context.Background(), m.ID)) })
	}
	a1, a2, a3 := e.topicEvent(e.team, a), e.topicEvent(e.team, a), e.topicEvent(e.team, a)
	b1, b2 := e.topicEvent(e.team, b), e.topicEvent(e.team, b)
	deliver(a1)
	deliver(a2)
	slow.waitInFlight(t, 2)

	var deferred *webhook.Deferred
	require.ErrorAs(t, e.d.Deliver(context.Background(), a3.ID), &deferred)
	require.Equal(t, "endpoint busy", deferred.Reason)
	require.GreaterOrEqual(t, deferred.After, 500*time.Millisecond, "at least CapacityWait, plus up to a tenth")
	require.Less(t, deferred.After, 550*time.Millisecond)
	// Each message deferred gets the next turn: with no post finished yet,
	// the endpoint is taken to free a slot every 500 ms / 2.
	require.ErrorAs(t, e.d.Deliver(context.Background(), a3.ID), &deferred)
	require.ErrorAs(t, e.d.Deliver(context.Background(), a3.ID), &deferred)
	require.GreaterOrEqual(t, deferred.After, 750*time.Millisecond)
	require.Less(t, deferred.After, 825*time.Millisecond)

	deliver(b1)
	slow.waitInFlight(t, 3)
	require.ErrorAs(t, e.d.Deliver(context.Background(), b2.ID), &deferred)
	require.Equal(t, "team busy", deferred.Reason)

	// Another team is not held up.
	require.NoError(t, e.d.Deliver(context.Background(), e.topicEvent(other, c).ID))
	require.Len(t, fast.received(), 1)

	for _, m := range []*store.WebhookMessage{a3, b2} {
		got := e.message(m.ID)
		require.Equal(t, store.WebhookMessagePending, got.Status, "a deferral is not an attempt")
		require.Zero(t, got.Attempts)
	}
	_, posts := slow.counts()
	require.Equal(t, 3, posts)

	slow.set(200, false)
	slow.releaseAll()
	wg.Wait()
	require.NoError(t, e.d.Deliver(context.Background(), a3.ID))
	require.NoError(t, e.d.Deliver(context.Background(), b2.ID))
	for _, m := range []*store.WebhookMessage{a1, a2, a3, b1, b2} {
		got := e.message(m.ID)
		require.Equal(t, store.WebhookMessageSuccess, got.Status)
		require.Equal(t, 1, got.Attempts)
	}
}

// TestBreakerOpensDefersAndCloses: three troubled posts in a row open the
// breaker; while it is open messages are deferred to its end, unposted and
// uncounted; a failed trial opens it for twice as long; an answered trial
// closes it. Both transitions are logged without the endpoint's URL.
func TestBreakerOpensDefersAndCloses(t *testing.T) {
	e := setup(t, sqlstore.SQLite)
	logs := &godwittest.LogBuffer{}
	e.d.Logger = slog.New(slog.NewJSONHandler(logs, nil))
	e.d.Limits = webhook.Limits{BreakerFailures: 3, BreakerOpen: 30 * time.Second, BreakerMaxOpen: time.Minute}
	rcv := newHoldingReceiver(t)
	rcv.set(503, false)
	w, _ := e.addWebhook(e.team, rcv.srv.URL+"/hook?token=s3cret", events.TopicCreated)
	ctx := context.Background()

	for range 2 {
		require.NoError(t, e.d.Deliver(ctx, e.topicEvent(e.team, w).ID))
	}
	require.Empty(t, logs.Records(t, "webhook breaker opened"))
	require.NoError(t, e.d.Deliver(ctx, e.topicEvent(e.team, w).ID))
	opened := logs.Records(t, "webhook breaker opened")
	require.Len(t, opened, 1)
	require.Equal(t, "INFO", opened[0]["level"])
	require.Equal(t, w.ID, opened[0]["webhook_id"])
	require.Equal(t, e.team, opened[0]["team_id"])
	require.Equal(t, "30s", opened[0]["open_for"])

	// Open: deferred to the end of the period (plus up to a tenth), not posted.
	m := e.topicEvent(e.team, w)
	var deferred *webhook.Deferred
	require.ErrorAs(t, e.d.Deliver(ctx, m.ID), &deferred)
	require.Equal(t, "breaker open", deferred.Reason)
	require.GreaterOrEqual(t, deferred.After, 30*time.Second)
	require.Less(t, deferred.After, 33*time.Second)
	e.clock.Advance(29 * time.Second)
	require.ErrorAs(t, e.d.Deliver(ctx, m.ID), &deferred)
	require.GreaterOrEqual(t, deferred.After, time.Second)
	_, posts := rcv.counts()
	require.Equal(t, 3, posts)
	require.Equal(t, store.WebhookMessagePending, e.message(m.ID).Status)
	require.Zero(t, e.message(m.ID).Attempts)

	// Half-open: one trial; the others wait for its outcome.
	e.clock.Advance(time.Second)
	rcv.set(503, true)
	trial := make(chan error, 1)
	go func() { trial <- e.d.Deliver(ctx, m.ID) }()
	rcv.waitInFlight(t, 1)
	other := e.topicEvent(e.team, w)
	require.ErrorAs(t, e.d.Deliver(ctx, other.ID), &deferred)
	require.Equal(t, "breaker trial", deferred.Reason)
	rcv.releaseAll()
	require.NoError(t, <-trial)
	require.Equal(t, 1, e.message(m.ID).Attempts, "the trial is an attempt")

	// The trial failed: open again, for twice as long.
	opened = logs.Records(t, "webhook breaker opened")
	require.Len(t, opened, 2)
	require.Equal(t, "1m0s", opened[1]["open_for"])
	require.ErrorAs(t, e.d.Deliver(ctx, other.ID), &deferred)
	require.GreaterOrEqual(t, deferred.After, time.Minute)

	// The next trial is answered: closed, and everything flows again.
	e.clock.Advance(time.Minute)
	rcv.set(200, false)
	require.NoError(t, e.d.Deliver(ctx, other.ID))
	closed := logs.Records(t, "webhook breaker closed")
	require.Len(t, closed, 1)
	require.Equal(t, "INFO", closed[0]["level"])
	require.Equal(t, w.ID, closed[0]["webhook_id"])
	require.Equal(t, e.team, closed[0]["team_id"])
	require.NoError(t, e.d.Deliver(ctx, e.topicEvent(e.team, w).ID))
	require.Equal(t, store.WebhookMessageSuccess, e.message(other.ID).Status)
	require.Equal(t, 1, e.message(other.ID).Attempts)

	require.NotContains(t, logs.String(), "s3cret")
	require.NotContains(t, logs.String(), rcv.srv.URL)
}

// TestBreakerForgetsTroubleOfAnOldURL: a webhook whose endpoint changes is
// posted to at once, even while the old URL's breaker is open; a trial cut
// short by shutdown lets the next message be the trial.
func TestBreakerForgetsTroubleOfAnOldURL(t *testing.T) {
	e := setup(t, sqlstore.SQLite)
	e.d.Limits = webhook.Limits{BreakerFailures: 1}
	bad, good := newHoldingReceiver(t), newReceiver(t)
	bad.set(500, false)
	w, _ := e.addWebhook(e.team, bad.srv.URL, events.TopicCreated)
	ctx := context.Background()
	require.NoError(t, e.d.Deliver(ctx, e.topicEvent(e.team, w).ID))
	var deferred *webhook.Deferred
	m := e.topicEvent(e.team, w)
	require.ErrorAs(t, e.d.Deliver(ctx, m.ID), &deferred)

	// A trial canceled by shutdown says nothing: the next message is the trial.
	e.clock.Advance(deferred.After)
	bad.set(500, true)
	cctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- e.d.Deliver(cctx, m.ID) }()
	bad.waitInFlight(t, 1)
	cancel()
	require.Error(t, <-done, "the attempt cannot be recorded with a canceled context")
	bad.waitInFlight(t, 0)
	bad.set(200, false)
	require.NoError(t, e.d.Deliver(ctx, m.ID))
	require.Equal(t, store.WebhookMessageSuccess, e.message(m.ID).Status)

	// Open again, then the endpoint moves: the new URL is posted to at once.
	bad.set(500, false)
	require.NoError(t, e.d.Deliver(ctx, e.topicEvent(e.team, w).ID))
	m = e.topicEvent(e.team, w)
	require.ErrorAs(t, e.d.Deliver(ctx, m.ID), &deferred)
	w.Endpoint = good.srv.URL
	require.NoError(t, e.db.UpdateWebhook(ctx, w))
	require.NoError(t, e.d.Deliver(ctx, m.ID))
	require.Len(t, good.received(), 1)
}
