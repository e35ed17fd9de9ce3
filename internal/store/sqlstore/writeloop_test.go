package sqlstore_test

import (
	"context"
	"database/sql"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/godwit/godwit/internal/godwittest"
	"github.com/godwit/godwit/internal/store"
	"github.com/godwit/godwit/internal/store/sqlstore"
)

// TestAcceptsAndOutcomesShareCommits: accepts and delivery outcomes waiting
// together are committed together on SQLite (one writing connection), and
// an outcome whose transaction fails fails alone: the accepts beside it
// and the other outcomes commit. On PostgreSQL (a committer of each kind)
// the same requests get the same results.
func TestAcceptsAndOutcomesShareCommits(t *testing.T) {
	t.Parallel()
	for _, kind := range godwittest.Kinds {
		t.Run(string(kind), func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			g := newGroupEnv(t, kind)
			g.db.Outbox().(*godwittest.Outbox).OnRetry(func(context.Context, *sql.Tx, []sqlstore.DeliveryRetry) error { return errInjected })

			// Two emails already accepted, whose outcomes come below.
			good, bad := g.email(), g.email()
			require.NoError(t, g.db.AcceptEmails(ctx, &store.Accept{Emails: []*store.Email{good, bad}}))

			// Hold every committer, hand over an accept and both outcomes,
			// then let them go.
			holders, holderErrs := g.holdCommitters()
			fresh := g.email()
			acceptErr := make(chan error, 1)
			go func() { acceptErr <- g.db.AcceptEmails(ctx, &store.Accept{Emails: []*store.Email{fresh}}) }()
			at := t0.Add(time.Minute)
			outcome := func(e *store.Email, retry *time.Time) *store.DeliveryOutcome {
				o := &store.DeliveryOutcome{EmailID: e.ID, TeamID: g.team, LastEvent: store.EventSent,
					Attempts: []*store.DeliveryAttempt{{Recipient: e.To[0], Outcome: store.OutcomeDeferred, Host: "mx", CreatedAt: t0}},
					Events:   []*store.EmailEvent{{Type: store.EventSent, CreatedAt: t0}}, RetryAt: retry}
				if retry == nil {
					o.LastEvent = store.EventDelivered
					o.Attempts[0].Outcome = store.OutcomeDelivered
				}
				return o
			}
			goodErr, badErr := make(chan error, 1), make(chan error, 1)
			go func() { goodErr <- g.db.RecordDelivery(ctx, outcome(good, nil)) }()
			go func() { badErr <- g.db.RecordDelivery(ctx, outcome(bad, &at)) }() // its retry job fails to enqueue
			deadline := time.Now().Add(10 * time.Second)
			for sqlstore.PendingAccepts(g.db) < 1 || (kind == sqlstore.SQLite && sqlstore.PendingOutcomes(g.db) < 2) {
				if time.Now().After(deadline) {
					t.Fatal("the requests never reached the committers' queues")
				}
				time.Sleep(time.Millisecond)
			}
			for i, ch := range holders {
				close(ch)
				require.NoError(t, <-holderErrs[i])
			}

			require.NoError(t, <-acceptErr, "an accept beside a failing outcome commits")
			require.NoError(t, <-goodErr, "an outcome beside a failing one commits")
			require.ErrorIs(t, <-badErr, errInjected, "the failing outcome gets its own error")
			g.requireStored(fresh)
			got, err := g.db.GetEmail(ctx, g.team, good.ID)
			require.NoError(t, err)
			require.Equal(t, store.EventDelivered, got.LastEvent)
			got, err = g.db.GetEmail(ctx, g.team, bad.ID)
			require.NoError(t, err)
			require.Equal(t, store.EventQueued, got.LastEvent, "nothing of the failing outcome was committed")
			attempts, err := g.db.ListDeliveryAttempts(ctx, g.team, bad.ID)
			require.NoError(t, err)
			require.Empty(t, attempts)

			if kind == sqlstore.SQLite {
				shared := 0
				for _, c := range g.observed("outcomes") {
					if c.Requests == 2 && c.Failed {
						shared++
					}
				}
				// Tried together with the accept, then as their own group,
				// then each alone.
				require.Equal(t, 2, shared, "the two outcomes were tried together, with the accept and then on their own")
				sharedAccept := false
				for _, c := range g.observed("accept") {
					sharedAccept = sharedAccept || (c.Requests == 1 && c.Emails == 1 && c.Failed)
				}
				require.True(t, sharedAccept, "the accept was in the failed shared transaction, then committed alone")
			}
		})
	}
}
