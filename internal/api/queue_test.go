package api

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/godwit/godwit/internal/store"
	"github.com/godwit/godwit/internal/store/sqlstore"
)

func TestQueue(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, kind sqlstore.Dialect) {
		e := setup(t, kind)
		ctx := context.Background()
		queued := e.send(e.keyA, simpleEmail)
		sched := e.send(e.keyA, `{"from":"onboarding@example.com","to":"a@example.net","subject":"later","html":"x","scheduled_at":"2026-11-29T09:00:00Z"}`)
		deferred := e.send(e.keyA, `{"from":"onboarding@example.com","to":"grey@example.net","subject":"greylisted","html":"x"}`)
		done := e.send(e.keyA, simpleEmail)
		theirs := e.send(e.keyB, `{"from":"onboarding@example.org","to":"b@example.net","subject":"b","html":"x"}`)
		retry := t0.Add(10 * time.Minute)
		require.NoError(t, e.db.RecordDelivery(ctx, &store.DeliveryOutcome{EmailID: deferred, TeamID: e.teamA,
			LastEvent: store.EventDeliveryDelayed, RetryAt: &retry,
			Attempts: []*store.DeliveryAttempt{{Recipient: "grey@example.net", Outcome: store.OutcomeDeferred, Host: "mx.example.net",
				Code: 451, Enhanced: "4.7.1", Response: "Greylisted, try again later", CreatedAt: t0}}}))
		require.NoError(t, e.db.RecordDelivery(ctx, &store.DeliveryOutcome{EmailID: done, TeamID: e.teamA,
			LastEvent: store.EventDelivered,
			Attempts: []*store.DeliveryAttempt{{Recipient: "delivered@example.net", Outcome: store.OutcomeDelivered, Host: "mx.example.net",
				Code: 250, Response: "ok", CreatedAt: t0}}}))

		r := e.do("GET", "/queue", e.keyA, "")
		require.Equal(t, 200, r.status, "body: %s", r.body)
		require.Equal(t, false, r.json["has_more"])
		data := r.json["data"].([]any)
		require.Len(t, data, 3, "the delivered email has left the queue: %s", r.body)
		byID := map[string]map[string]any{}
		var order []string
		for _, d := range data {
			m := d.(map[string]any)
			byID[m["id"].(string)] = m
			order = append(order, m["id"].(string))
		}
		require.Equal(t, []string{queued, sched, deferred}, order, "oldest first")
		require.Equal(t, map[string]any{"object": "queued_email", "id": queued, "to": []any{"delivered@example.net"}, "subject": "hi",
			"status": "queued", "reason": "waiting for a worker", "attempts": 0.0,
			"next_attempt_at": "2026-11-28 12:00:00+00", "created_at": "2026-11-28 12:00:00+00", "scheduled_at": nil}, byID[queued])
		require.Equal(t, "scheduled", byID[sched]["status"])
		require.Equal(t, "scheduled", byID[sched]["reason"])
		require.Equal(t, "2026-11-29 09:00:00+00", byID[sched]["next_attempt_at"])
		require.Equal(t, "delivery_delayed", byID[deferred]["status"])
		require.Equal(t, "deferred: mx.example.net: 451 4.7.1 Greylisted, try again later (for grey@example.net)", byID[deferred]["reason"])
		require.EqualValues(t, 1, byID[deferred]["attempts"])
		require.Equal(t, "2026-11-28 12:10:00+00", byID[deferred]["next_attempt_at"])

		r = e.do("GET", "/queue?limit=1&after="+queued, e.keyA, "")
		require.Equal(t, 200, r.status, "body: %s", r.body)
		require.Equal(t, true, r.json["has_more"])
		require.Equal(t, sched, r.json["data"].([]any)[0].(map[string]any)["id"])

		r = e.do("GET", "/queue?status=scheduled", e.keyA, "")
		require.Equal(t, 200, r.status, "body: %s", r.body)
		require.Len(t, r.json["data"], 1)
		require.Equal(t, sched, r.json["data"].([]any)[0].(map[string]any)["id"])

		r = e.do("GET", "/queue", e.keyB, "")
		require.Equal(t, 200, r.status)
		require.Len(t, r.json["data"], 1, "each team sees its own")
		require.Equal(t, theirs, r.json["data"].([]any)[0].(map[string]any)["id"])

		for _, tc := range []struct {
			name, path, key string
			status          int
			errName         string
		}{
			{"another team's cursor", "/queue?after=" + theirs, e.keyA, 422, "validation_error"},
			{"cursor not a uuid", "/queue?after=nope", e.keyA, 422, "invalid_parameter"},
			{"before", "/queue?before=" + queued, e.keyA, 422, "validation_error"},
			{"bad limit", "/queue?limit=101", e.keyA, 422, "validation_error"},
			{"unknown status", "/queue?status=delivered", e.keyA, 422, "validation_error"},
			{"sending key", "/queue", e.sendA, 401, "restricted_api_key"},
			{"no key", "/queue", "", 401, "missing_api_key"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				requireError(t, e.do("GET", tc.path, tc.key, ""), tc.status, tc.errName)
			})
		}
	})
}
