package sqlstore_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/godwit/godwit/internal/godwittest"
	"github.com/godwit/godwit/internal/store"
	"github.com/godwit/godwit/internal/store/sqlstore"
)

// A store opened without an outbox refuses every write that has a job to
// enqueue, loudly, and commits nothing of it: an accepted email is never
// left without its delivery job. Writes without jobs still work.
func TestNoOutboxRefusesJobs(t *testing.T) {
	t.Parallel()
	for _, outbox := range []sqlstore.Outbox{nil, sqlstore.NoOutbox} {
		ctx := context.Background()
		db, err := sqlstore.Open(ctx, godwittest.StoreURL(t, sqlstore.SQLite), sqlstore.Options{Now: func() time.Time { return t0 }, Outbox: outbox})
		require.NoError(t, err)
		t.Cleanup(func() { _ = db.Close() })
		team := &store.Team{ID: uuid.NewString(), Name: "a", CreatedAt: t0}
		require.NoError(t, db.CreateTeam(ctx, team), "a write without a job needs no outbox")

		text := "hi"
		e := &store.Email{ID: uuid.NewString(), TeamID: team.ID, From: "a@example.com", To: []string{"b@example.net"},
			Subject: "s", Text: &text, LastEvent: store.EventQueued, CreatedAt: t0}
		err = db.AcceptEmails(ctx, &store.Accept{Emails: []*store.Email{e}})
		require.ErrorIs(t, err, sqlstore.ErrNoOutbox)
		_, err = db.GetEmail(ctx, team.ID, e.ID)
		require.ErrorIs(t, err, store.ErrNotFound, "nothing of a refused accept is committed")

		b := &store.Broadcast{ID: uuid.NewString(), TeamID: team.ID, Name: "b", From: "a@example.com", Subject: "s",
			Status: store.BroadcastQueued, CreatedAt: t0, UpdatedAt: t0}
		require.ErrorIs(t, db.CreateBroadcast(ctx, b), sqlstore.ErrNoOutbox)
	}
}
