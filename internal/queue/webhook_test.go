package queue_test

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverdatabasesql"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivertype"
	"github.com/stretchr/testify/require"

	"github.com/godwit/godwit/internal/events"
	"github.com/godwit/godwit/internal/godwittest"
	"github.com/godwit/godwit/internal/netguard"
	"github.com/godwit/godwit/internal/queue"
	"github.com/godwit/godwit/internal/secretbox"
	"github.com/godwit/godwit/internal/store"
	"github.com/godwit/godwit/internal/store/sqlstore"
	"github.com/godwit/godwit/internal/webhook"
)

var webhookKeys = func() *secretbox.Box {
	box, err := secretbox.New(bytes.Repeat([]byte{7}, 32))
	if err != nil {
		panic(err)
	}
	return box
}()

// startWebhooks is start with a dispatcher posting webhooks (to loopback
// too); tune completes it.
func startWebhooks(t *testing.T, kind sqlstore.Dialect, tune func(*queue.Config, *webhook.Dispatcher)) *env {
	t.Helper()
	return startWith(t, kind, func(c *queue.Config, db *sqlstore.DB) {
		c.Webhooks = &webhook.Dispatcher{Store: db, Keys: webhookKeys,
			Client: netguard.Policy{AllowPrivate: true}.HTTPClient(webhook.Timeout)}
		if tune != nil {
			tune(c, c.Webhooks)
		}
	})
}

// addWebhook stores an enabled webhook of the team for topic.created.
func (e *env) addWebhook(teamID, endpoint string) *store.Webhook {
	e.t.Helper()
	w := &store.Webhook{ID: uuid.NewString(), TeamID: teamID, Endpoint: endpoint, Events: []string{events.TopicCreated},
		Status: store.WebhookEnabled, CreatedAt: e.clock.Now(), UpdatedAt: e.clock.Now()}
	var err error
	w.Secret, err = webhookKeys.Seal([]byte(webhook.NewSecret()), webhook.SecretAD(w.ID))
	require.NoError(e.t, err)
	require.NoError(e.t, e.db.CreateWebhook(context.Background(), w))
	return w
}

// topicCreated records a topic.created event of the team (one message, and
// its job, per webhook) and returns the topic's id, which the payload carries.
func (e *env) topicCreated(teamID string) string {
	e.t.Helper()
	tp := &store.Topic{ID: uuid.NewString(), TeamID: teamID, Name: "n", DefaultSubscription: store.SubscriptionOptIn,
		Visibility: store.TopicPublic, CreatedAt: e.clock.Now(), UpdatedAt: e.clock.Now()}
	ev, err := events.Topic(events.TopicCreated, tp, false, e.clock.Now())
	require.NoError(e.t, err)
	require.NoError(e.t, e.db.CreateTopic(context.Background(), tp, ev))
	return tp.ID
}

func (e *env) webhookMessages(w *store.Webhook) []*store.WebhookMessage {
	e.t.Helper()
	var all []*store.WebhookMessage
	page := store.Page{Limit: 100}
	for {
		list, more, err := e.db.ListWebhookMessages(context.Background(), w.TeamID, w.ID, page)
		require.NoError(e.t, err)
		all = append(all, list...)
		if !more {
			return all
		}
		page.After = list[len(list)-1].ID
	}
}

// riverJobs lists the queue's webhook jobs in the given states through an
// insert-only River client on the same database.
func riverJobs(t *testing.T, db *sqlstore.DB, states ...rivertype.JobState) []*rivertype.JobRow {
	t.Helper()
	return riverJobsOf(t, db, "webhook", states...)
}

// riverJobsOf lists the queue's jobs of kind in the given states.
func riverJobsOf(t *testing.T, db *sqlstore.DB, kind string, states ...rivertype.JobState) []*rivertype.JobRow {
	t.Helper()
	var client *river.Client[*sql.Tx]
	var err error
	if db.Dialect() == sqlstore.SQLite {
		client, err = river.NewClient(riversqlite.New(db.Writer()), &river.Config{})
	} else {
		client, err = river.NewClient(riverdatabasesql.New(db.Writer()), &river.Config{})
	}
	require.NoError(t, err)
	var out []*rivertype.JobRow
	params := river.NewJobListParams().Kinds(kind).States(states...).First(10000)
	res, err := client.JobList(context.Background(), params)
	require.NoError(t, err)
	out = append(out, res.Jobs...)
	return out
}

func jobMessageID(t *testing.T, j *rivertype.JobRow) string {
	var args queue.WebhookArgs
	require.NoError(t, json.Unmarshal(j.EncodedArgs, &args))
	return args.MessageID
}

// TestWebhookRetryThroughTheQueue: an endpoint answers 503, then 200. The
// failed attempt commits the retry's job for five seconds later (Resend's
// first retry); when the queue's clock gets there, the message is posted
// again, with the same svix-id, and succeeds.
func TestWebhookRetryThroughTheQueue(t *testing.T) {
	for _, kind := range godwittest.Kinds {
		t.Run(string(kind), func(t *testing.T) {
			t.Parallel()
			e := startWebhooks(t, kind, func(c *queue.Config, d *webhook.Dispatcher) {
				d.Now = c.Time.(riverClock).c.Now // the queue's clock
			})
			type post struct {
				id        string
				timestamp string
			}
			var mu sync.Mutex
			var posts []post
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				_, _ = io.Copy(io.Discard, r.Body)
				mu.Lock()
				posts = append(posts, post{r.Header.Get("svix-id"), r.Header.Get("svix-timestamp")})
				n := len(posts)
				mu.Unlock()
				if n == 1 {
					w.WriteHeader(http.StatusServiceUnavailable)
					return
				}
				w.WriteHeader(http.StatusOK)
			}))
			t.Cleanup(srv.Close)
			hook := e.addWebhook(e.team.ID, srv.URL)
			e.topicCreated(e.team.ID)
			msgs := e.webhookMessages(hook)
			require.Len(t, msgs, 1)
			m := msgs[0]
			ctx := context.Background()

			// The first post fails at t0; its retry is committed for t0 + 5 s.
			var got *store.WebhookMessage
			require.Eventually(t, func() bool {
				var err error
				got, err = e.db.GetWebhookMessage(ctx, m.ID)
				require.NoError(t, err)
				return got.Attempts == 1
			}, 10*time.Second, 10*time.Millisecond)
			require.Equal(t, store.WebhookMessageAttempting, got.Status)
			attempts, _, err := e.db.ListWebhookAttempts(ctx, e.team.ID, m.ID, store.Page{})
			require.NoError(t, err)
			require.Len(t, attempts, 1)
			require.Equal(t, 503, attempts[0].StatusCode)
			require.True(t, attempts[0].SentAt.Equal(t0), "sent at %s", attempts[0].SentAt)
			retryAt := t0.Add(5 * time.Second)
			require.True(t, got.NextAttemptAt.Equal(retryAt), "next attempt at %s", got.NextAttemptAt)
			var retries []*rivertype.JobRow
			for _, j := range riverJobs(t, e.db, rivertype.JobStateScheduled, rivertype.JobStateAvailable) {
				if jobMessageID(t, j) == m.ID {
					retries = append(retries, j)
				}
			}
			require.Len(t, retries, 1, "one retry job, committed with the failed attempt")
			require.Equal(t, rivertype.JobStateScheduled, retries[0].State)
			require.True(t, retries[0].ScheduledAt.Equal(retryAt), "retry job scheduled at %s, want %s", retries[0].ScheduledAt, retryAt)
			mu.Lock()
			require.Len(t, posts, 1)
			mu.Unlock()

			// Five seconds later (on the queue's clock) it is posted again.
			e.clock.Advance(5 * time.Second)
			require.Eventually(t, func() bool {
				got, err = e.db.GetWebhookMessage(ctx, m.ID)
				require.NoError(t, err)
				return got.Status == store.WebhookMessageSuccess
			}, 15*time.Second, 10*time.Millisecond)
			require.Equal(t, 2, got.Attempts)
			mu.Lock()
			defer mu.Unlock()
			require.Len(t, posts, 2)
			require.Equal(t, m.ID, posts[1].id, "the same svix-id on the retry")
			require.Equal(t, strconv.FormatInt(t0.Add(5*time.Second).Unix(), 10), posts[1].timestamp)
		})
	}
}

// inFlight wraps the dispatcher's transport and counts the posts in flight
// per host, and for a set of hosts together, as the dispatcher sees them
// (from the request until its answer or its timeout).
type inFlight struct {
	base      http.RoundTripper
	group     map[string]bool // hosts counted together
	mu        sync.Mutex
	now       map[string]int
	maxHost   int // most posts at once to one host of the group
	groupNow  int
	groupMax  int
	groupPost int
}

func (c *inFlight) RoundTrip(r *http.Request) (*http.Response, error) {
	in := c.group[r.URL.Host]
	if in {
		c.mu.Lock()
		c.now[r.URL.Host]++
		c.groupNow++
		c.groupPost++
		c.maxHost = max(c.maxHost, c.now[r.URL.Host])
		c.groupMax = max(c.groupMax, c.groupNow)
		c.mu.Unlock()
		defer func() {
			c.mu.Lock()
			c.now[r.URL.Host]--
			c.groupNow--
			c.mu.Unlock()
		}()
	}
	return c.base.RoundTrip(r)
}

// TestSlowTeamDoesNotDelayOthers: team W's 60 webhooks accept the
// connection and never answer, and W keeps recording events; team Y's one
// webhook answers at once. Y's messages are posted well within W's post
// timeout of their event (p99 under half of it), because W holds at most
// its cap of posts in flight and its other messages snooze instead of
// occupying workers; none of W's messages is lost or failed, and deferrals
// record no attempts.
func TestSlowTeamDoesNotDelayOthers(t *testing.T) {
	for _, kind := range godwittest.Kinds {
		t.Run(string(kind), func(t *testing.T) {
			t.Parallel()
			const hung, perTeam, perEndpoint = 60, 10, 2
			// A post to W waits this long for its answer: a Y message
			// queued behind one would be that late. The bound below is
			// half of it, which a busy machine's delays stay under.
			const hangFor = 4 * time.Second
			counter := &inFlight{group: map[string]bool{}, now: map[string]int{}}
			e := startWebhooks(t, kind, func(c *queue.Config, d *webhook.Dispatcher) {
				c.Time = nil // real time: posts time out for real
				c.PollInterval = 50 * time.Millisecond
				d.Timeout = hangFor
				d.Limits = webhook.Limits{PerTeam: perTeam, PerEndpoint: perEndpoint}
				counter.base = d.Client.Transport
				d.Client.Transport = counter
			})
			ctx := context.Background()
			teamW, teamY := e.team.ID, uuid.NewString()
			require.NoError(t, e.db.CreateTeam(ctx, &store.Team{ID: teamY, Name: "y", CreatedAt: t0}))

			done := make(chan struct{})
			var wHooks []*store.Webhook
			for range hung {
				srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					_, _ = io.Copy(io.Discard, r.Body)
					select { // never answer
					case <-r.Context().Done():
					case <-done:
					}
				}))
				t.Cleanup(srv.Close)
				counter.mu.Lock()
				counter.group[srv.Listener.Addr().String()] = true
				counter.mu.Unlock()
				wHooks = append(wHooks, e.addWebhook(teamW, srv.URL))
			}

			var mu sync.Mutex
			received := map[string]time.Time{} // topic id → when Y's post arrived
			fast := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				at := time.Now()
				var ev struct {
					Data struct {
						ID string `json:"id"`
					} `json:"data"`
				}
				if err := json.NewDecoder(r.Body).Decode(&ev); err != nil {
					w.WriteHeader(http.StatusBadRequest)
					return
				}
				mu.Lock()
				if _, ok := received[ev.Data.ID]; !ok {
					received[ev.Data.ID] = at
				}
				mu.Unlock()
				w.WriteHeader(http.StatusNoContent)
			}))
			t.Cleanup(fast.Close)
			yHook := e.addWebhook(teamY, fast.URL)
			t.Cleanup(func() { close(done) }) // runs first: the black holes let go

			// A backlog for W (300 messages), then W (600 more) and Y side
			// by side. An event exists once its transaction has committed:
			// latency counts from then.
			for range 5 {
				e.topicCreated(teamW)
			}
			created := map[string]time.Time{}
			tick := time.NewTicker(100 * time.Millisecond)
			defer tick.Stop()
			for i := range 40 {
				<-tick.C
				if i%4 == 0 {
					e.topicCreated(teamW)
				}
				id := e.topicCreated(teamY)
				created[id] = time.Now()
			}

			require.Eventually(t, func() bool {
				mu.Lock()
				defer mu.Unlock()
				return len(received) == len(created)
			}, 60*time.Second, 10*time.Millisecond, "every Y event is posted")
			mu.Lock()
			var latencies []time.Duration
			for id, at := range created {
				latencies = append(latencies, received[id].Sub(at))
			}
			mu.Unlock()
			slices.Sort(latencies)
			p50, p99 := latencies[len(latencies)/2], latencies[(len(latencies)*99+99)/100-1]
			counter.mu.Lock()
			wMax, wHostMax, wPosts := counter.groupMax, counter.maxHost, counter.groupPost
			counter.mu.Unlock()
			t.Logf("%s (race detector: %v): team Y latency p50 %s, p99 %s over %d events; team W: %d posts, at most %d in flight (%d to one endpoint)",
				kind, raceDetector, p50, p99, len(latencies), wPosts, wMax, wHostMax)
			limit := hangFor / 2
			if raceDetector && kind == sqlstore.SQLite {
				// The race detector slows the pure-Go SQLite (and with it the
				// queue's single writer) by an order of magnitude.
				limit = 10 * time.Second
			}
			require.Less(t, p99, limit, "team Y's p99 latency")
			require.LessOrEqual(t, wMax, perTeam, "team W never has more posts in flight than its cap")
			require.LessOrEqual(t, wHostMax, perEndpoint)
			require.Positive(t, wPosts)

			// Y's messages all succeed at their first attempt (recorded
			// after the post).
			require.Eventually(t, func() bool {
				for _, m := range e.webhookMessages(yHook) {
					if m.Status != store.WebhookMessageSuccess {
						return false
					}
					require.Equal(t, 1, m.Attempts)
				}
				return true
			}, 30*time.Second, 20*time.Millisecond)
			// W's messages are all still there, none failed, each with a
			// live job; deferrals recorded no attempts (only posts did).
			live := map[string]bool{}
			for _, j := range riverJobs(t, e.db, rivertype.JobStateAvailable, rivertype.JobStateScheduled,
				rivertype.JobStateRunning, rivertype.JobStateRetryable, rivertype.JobStatePending) {
				live[jobMessageID(t, j)] = true
			}
			attempts, messages := 0, 0
			for _, w := range wHooks {
				for _, m := range e.webhookMessages(w) {
					messages++
					attempts += m.Attempts
					require.Contains(t, []string{store.WebhookMessagePending, store.WebhookMessageAttempting}, m.Status)
					require.True(t, live[m.ID], "message %s has a job", m.ID)
				}
			}
			require.Equal(t, hung*15, messages)
			counter.mu.Lock()
			require.LessOrEqual(t, attempts, counter.groupPost, "an attempt is recorded only for a post")
			counter.mu.Unlock()
		})
	}
}
