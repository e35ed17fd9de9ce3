package delivery

import (
	"context"
	"encoding/json"
	"slices"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/godwit/godwit/internal/godwittest"
	"github.com/godwit/godwit/internal/store"
	"github.com/godwit/godwit/internal/store/sqlstore"
)

// topicEnv adds to a worker env a topic of each default and contacts who
// chose: yes@ opted in to both, no@ out of both, quiet@ chose nothing.
type topicEnv struct {
	*workerEnv
	optIn, optOut *store.Topic
}

func newTopicEnv(t *testing.T, kind sqlstore.Dialect) *topicEnv {
	e := &topicEnv{workerEnv: newWorkerEnv(t, kind, godwittest.MXOptions{})}
	ctx := context.Background()
	for _, tp := range []**store.Topic{&e.optIn, &e.optOut} {
		def := store.SubscriptionOptIn
		if tp == &e.optOut {
			def = store.SubscriptionOptOut
		}
		*tp = &store.Topic{ID: uuid.NewString(), TeamID: e.team.ID, Name: def, DefaultSubscription: def,
			Visibility: store.TopicPrivate, CreatedAt: w0, UpdatedAt: w0}
		require.NoError(t, e.db.CreateTopic(ctx, *tp))
	}
	for email, choice := range map[string]string{"Yes@Example.test": store.SubscriptionOptIn, "no@example.test": store.SubscriptionOptOut,
		"quiet@example.test": ""} {
		c := &store.Contact{ID: uuid.NewString(), TeamID: e.team.ID, Email: email, CreatedAt: w0, UpdatedAt: w0}
		if choice != "" {
			c.Topics = []store.TopicSubscription{{TopicID: e.optIn.ID, Subscription: choice}, {TopicID: e.optOut.ID, Subscription: choice}}
		}
		require.NoError(t, e.db.CreateContact(ctx, c))
	}
	return e
}

// outcomes maps each recipient of an email to its recorded outcome.
func (e *workerEnv) outcomes(em *store.Email) map[string]string {
	e.t.Helper()
	attempts, err := e.db.ListDeliveryAttempts(context.Background(), e.team.ID, em.ID)
	require.NoError(e.t, err)
	out := map[string]string{}
	for _, a := range attempts {
		out[a.Recipient] = a.Outcome
	}
	return out
}

// failedWebhooks returns the data of the team's email.failed events for em.
func (e *workerEnv) failedWebhooks(em *store.Email) []map[string]any {
	e.t.Helper()
	evs, err := e.db.ListEvents(context.Background(), e.team.ID, "", 1000)
	require.NoError(e.t, err)
	var out []map[string]any
	for _, ev := range evs {
		var p struct {
			Data map[string]any `json:"data"`
		}
		require.NoError(e.t, json.Unmarshal(ev.Data, &p))
		if ev.Type == "email.failed" && p.Data["email_id"] == em.ID {
			out = append(out, p.Data)
		}
	}
	return out
}

func (e *workerEnv) delivered() []string {
	var to []string
	for _, m := range e.mx.Messages() {
		to = append(to, m.Rcpts...)
	}
	slices.Sort(to)
	return to
}

func TestWorkerTopicOptIn(t *testing.T) {
	eachStore(t, func(t *testing.T, kind sqlstore.Dialect) {
		e := newTopicEnv(t, kind)
		// To, cc and bcc are each checked; addresses match contacts in any case.
		em := e.accept(`{"from":"hello@example.com","to":["yes@example.test","NO@example.test"],"cc":"quiet@example.test",
			"bcc":"stranger@example.test","subject":"s","text":"t","topic_id":"` + e.optIn.ID + `"}`)
		require.NoError(t, e.deliver(em, nil, 1))
		require.Equal(t, map[string]string{"yes@example.test": "delivered", "NO@example.test": "failed",
			"quiet@example.test": "delivered", "stranger@example.test": "delivered"}, e.outcomes(em),
			"a default of opt_in: only who opted out is skipped")
		require.Equal(t, []string{"quiet@example.test", "stranger@example.test", "yes@example.test"}, e.delivered())
		require.Equal(t, store.EventFailed, e.lastEvent(em), "the worst outcome shows, as for a partial bounce")
		require.Equal(t, []string{"queued", "sent", "delivered", "failed"}, e.events(em))
		require.Equal(t, map[string]any{"to": []any{"NO@example.test"}, "failed": map[string]any{"reason": "unsubscribed_from_topic"}},
			e.event(em, "failed"))
		hooks := e.failedWebhooks(em)
		require.Len(t, hooks, 1)
		require.Equal(t, []any{"NO@example.test"}, hooks[0]["to"])
		require.Equal(t, map[string]any{"reason": "unsubscribed_from_topic"}, hooks[0]["failed"])
	})
}

func TestWorkerTopicOptOut(t *testing.T) {
	eachStore(t, func(t *testing.T, kind sqlstore.Dialect) {
		e := newTopicEnv(t, kind)
		em := e.accept(`{"from":"hello@example.com","to":["yes@example.test","no@example.test"],"cc":"Quiet <quiet@example.test>",
			"bcc":["stranger@example.test","delivered@resend.dev"],"subject":"s","text":"t","topic_id":"` + e.optOut.ID + `"}`)
		require.NoError(t, e.deliver(em, nil, 1))
		require.Equal(t, map[string]string{"yes@example.test": "delivered", "no@example.test": "failed",
			"quiet@example.test": "failed", "stranger@example.test": "failed", "delivered@resend.dev": "failed"}, e.outcomes(em),
			"a default of opt_out: only who opted in receives it, test addresses are strangers too")
		require.Equal(t, []string{"yes@example.test"}, e.delivered())
		hooks := e.failedWebhooks(em)
		require.Len(t, hooks, 1)
		require.Equal(t, []any{"no@example.test", "quiet@example.test", "stranger@example.test", "delivered@resend.dev"}, hooks[0]["to"])

		// Nobody left to send to: no attempt reaches the network.
		n := len(e.mx.Messages())
		em = e.accept(`{"from":"hello@example.com","to":"no@example.test","subject":"s","text":"t","topic_id":"` + e.optOut.ID + `"}`)
		require.NoError(t, e.deliver(em, nil, 1))
		require.Equal(t, store.EventFailed, e.lastEvent(em))
		require.Len(t, e.mx.Messages(), n)

		// A later choice counts: no@ opts in before the next email.
		require.NoError(t, e.db.SetContactTopics(context.Background(), e.team.ID, e.contactID("no@example.test"),
			[]store.TopicSubscription{{TopicID: e.optOut.ID, Subscription: store.SubscriptionOptIn}}, w0))
		em = e.accept(`{"from":"hello@example.com","to":"no@example.test","subject":"s","text":"t","topic_id":"` + e.optOut.ID + `"}`)
		require.NoError(t, e.deliver(em, nil, 1))
		require.Equal(t, store.EventDelivered, e.lastEvent(em))

		// No topic: everyone receives it.
		em = e.accept(`{"from":"hello@example.com","to":["quiet@example.test","stranger@example.test"],"subject":"s","text":"t"}`)
		require.NoError(t, e.deliver(em, nil, 1))
		require.Equal(t, store.EventDelivered, e.lastEvent(em))
	})
}

func TestWorkerTopicDeleted(t *testing.T) {
	eachStore(t, func(t *testing.T, kind sqlstore.Dialect) {
		e := newTopicEnv(t, kind)
		em := e.accept(`{"from":"hello@example.com","to":["yes@example.test","stranger@example.test"],"subject":"s","text":"t",
			"topic_id":"` + e.optIn.ID + `"}`)
		require.NoError(t, e.db.DeleteTopic(context.Background(), e.team.ID, e.optIn.ID))
		require.NoError(t, e.deliver(em, nil, 1))
		require.Equal(t, map[string]string{"yes@example.test": "failed", "stranger@example.test": "failed"}, e.outcomes(em))
		require.Equal(t, map[string]any{"reason": "topic_not_found"}, e.event(em, "failed")["failed"])
		require.Empty(t, e.mx.Messages())
	})
}

func (e *topicEnv) contactID(email string) string {
	e.t.Helper()
	c, err := e.db.GetContact(context.Background(), e.team.ID, email)
	require.NoError(e.t, err)
	return c.ID
}
