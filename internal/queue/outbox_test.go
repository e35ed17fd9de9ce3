package queue_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/godwit/godwit/internal/delivery"
	"github.com/godwit/godwit/internal/godwittest"
	"github.com/godwit/godwit/internal/queue"
	"github.com/godwit/godwit/internal/store"
	"github.com/godwit/godwit/internal/store/sqlstore"
)

// Until queue.Open binds it, the outbox refuses every job, and the store's
// write that made it fails and commits nothing; a queue needs the outbox
// its store was opened with.
func TestOutboxUnboundUntilOpen(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	clock := godwittest.NewClock(t0)
	out := queue.NewOutbox()
	db, err := sqlstore.Open(ctx, godwittest.StoreURL(t, sqlstore.SQLite), sqlstore.Options{Now: clock.Now, Outbox: out})
	require.NoError(t, err)
	t.Cleanup(func() { _ = db.Close() })
	team := &store.Team{ID: store.NewID(), Name: "t", CreatedAt: t0}
	require.NoError(t, db.CreateTeam(ctx, team))
	text := "hi"
	e := &store.Email{ID: store.NewID(), TeamID: team.ID, From: "onboarding@resend.dev", To: []string{"a@resend.dev"},
		Subject: "s", Text: &text, CreatedAt: t0, LastEvent: store.EventQueued}
	require.ErrorIs(t, db.AcceptEmails(ctx, &store.Accept{Emails: []*store.Email{e}}), queue.ErrOutboxUnbound)
	_, err = db.GetEmail(ctx, team.ID, e.ID)
	require.ErrorIs(t, err, store.ErrNotFound)

	w := &delivery.Worker{Store: db, TestDomain: "resend.dev", Now: clock.Now}
	_, err = queue.Open(ctx, db, w, queue.Config{})
	require.ErrorContains(t, err, "Config.Outbox is required")

	q, err := queue.Open(ctx, db, w, queue.Config{Outbox: out})
	require.NoError(t, err)
	t.Cleanup(func() { _ = q.Stop(context.Background()) })
	require.NoError(t, db.AcceptEmails(ctx, &store.Accept{Emails: []*store.Email{e}}), "bound: the accept commits with its job")
	_, err = queue.Open(ctx, db, w, queue.Config{Outbox: out})
	require.ErrorContains(t, err, "already bound")
}
