package api

import (
	"context"
	"database/sql"
	"errors"
	"sync"
	"testing"

	"github.com/godwit/godwit/internal/godwittest"
	"github.com/godwit/godwit/internal/store"
	"github.com/godwit/godwit/internal/store/sqlstore"
	"github.com/stretchr/testify/require"
)

// failingEnqueuer is the job queue's insert, made to fail while failing is
// set. It records the email ids it was asked to enqueue, so that a test can
// look for emails whose send was refused.
type failingEnqueuer struct {
	mu      sync.Mutex
	failing bool
	seen    []string
}

var errEnqueue = errors.New("injected enqueue failure: queue table unavailable")

func (f *failingEnqueuer) enqueue(_ context.Context, _ *sql.Tx, emails []*store.Email) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, e := range emails {
		f.seen = append(f.seen, e.ID)
	}
	if f.failing {
		return errEnqueue
	}
	return nil
}

func (f *failingEnqueuer) set(failing bool) {
	f.mu.Lock()
	f.failing = failing
	f.mu.Unlock()
}

func (f *failingEnqueuer) ids() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.seen...)
}

// An email and its delivery job commit together or not at all: when the job
// cannot be enqueued, the send answers 500 in Resend's envelope, saying
// nothing of the cause, and the email does not exist afterwards.
func TestAcceptFailsWhenEnqueueFails(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, kind sqlstore.Dialect) {
		e := setup(t, kind)
		enq := &failingEnqueuer{failing: true}
		godwittest.OutboxOf(t, e.db).OnDeliver(enq.enqueue) // before the first accept: the committers read it only after a hand-over

		r := e.do("POST", "/emails", e.keyA, simpleEmail)
		requireError(t, r, 500, "application_error")
		require.NotContains(t, string(r.body), "injected")
		require.NotContains(t, r.json, "id")

		b := e.do("POST", "/emails/batch", e.keyA, `[`+simpleEmail+`,`+simpleEmail+`]`)
		requireError(t, b, 500, "application_error")

		// A scheduled email has an email.scheduled event in the same transaction.
		s := e.do("POST", "/emails", e.keyA, `{"from":"onboarding@example.com","to":"a@example.net","subject":"s","html":"x",
			"scheduled_at":"2026-11-29T12:00:00Z"}`)
		requireError(t, s, 500, "application_error")

		refused := enq.ids()
		require.Len(t, refused, 4, "the store asked for the jobs of every email it was given")
		for _, id := range refused {
			requireError(t, e.do("GET", "/emails/"+id, e.keyA, ""), 404, "not_found")
		}
		l := e.do("GET", "/emails", e.keyA, "")
		require.Equal(t, 200, l.status)
		require.Empty(t, l.json["data"], "no email of a failed accept is listed")

		// A failed request stored no idempotency record: the same key, once the
		// queue is back, sends (200 without Idempotent-Replayed), and a replay
		// of that answers the same id.
		r = e.do("POST", "/emails", e.keyA, simpleEmail, "Idempotency-Key", "after-failure")
		requireError(t, r, 500, "application_error")
		enq.set(false)
		r = e.do("POST", "/emails", e.keyA, simpleEmail, "Idempotency-Key", "after-failure")
		require.Equal(t, 200, r.status, "body: %s", r.body)
		require.Empty(t, r.header.Get("Idempotent-Replayed"))
		id, _ := r.json["id"].(string)
		require.NotEmpty(t, id)
		again := e.do("POST", "/emails", e.keyA, simpleEmail, "Idempotency-Key", "after-failure")
		require.Equal(t, 200, again.status)
		require.Equal(t, "true", again.header.Get("Idempotent-Replayed"))
		require.Equal(t, id, again.json["id"])

		l = e.do("GET", "/emails", e.keyA, "")
		data, _ := l.json["data"].([]any)
		require.Len(t, data, 1, "only the email accepted after the failure exists")
		require.Equal(t, id, data[0].(map[string]any)["id"])
		require.NotContains(t, refused, id)
	})
}
