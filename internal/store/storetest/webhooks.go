package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/godwit/godwit/internal/store"
)

func testWebhooks(t *testing.T, newStore NewStore) {
	ctx := context.Background()
	s := newStore(t, func() time.Time { return t0 })
	a, b := newTeam(t, s, "a"), newTeam(t, s, "b")
	var ids []string
	for i := range 3 {
		w := &store.Webhook{ID: uuid.NewString(), TeamID: a.ID, Endpoint: "https://hooks.example.com/" + string(rune('a'+i)),
			Events: []string{"email.sent", "email.delivered"}, Status: store.WebhookEnabled, Secret: []byte("sealed"),
			CreatedAt: t0, UpdatedAt: t0}
		require.NoError(t, s.CreateWebhook(ctx, w))
		ids = append(ids, w.ID)
	}
	got, err := s.GetWebhook(ctx, a.ID, ids[0])
	require.NoError(t, err)
	require.Equal(t, []string{"email.sent", "email.delivered"}, got.Events)
	require.Equal(t, []byte("sealed"), got.Secret)
	require.Nil(t, got.PreviousSecret)
	require.Nil(t, got.PreviousUntil)
	require.True(t, got.CreatedAt.Equal(t0))

	// Newest first, paginated.
	page, more, err := s.ListWebhooks(ctx, a.ID, store.Page{Limit: 2})
	require.NoError(t, err)
	require.True(t, more)
	require.Equal(t, []string{ids[2], ids[1]}, []string{page[0].ID, page[1].ID})
	page, more, err = s.ListWebhooks(ctx, a.ID, store.Page{Limit: 2, After: ids[1]})
	require.NoError(t, err)
	require.False(t, more)
	require.Equal(t, ids[0], page[0].ID)
	page, _, err = s.ListWebhooks(ctx, a.ID, store.Page{Limit: 1, Before: ids[0]})
	require.NoError(t, err)
	require.Equal(t, ids[1], page[0].ID)

	// Update everything that may change.
	until := t0.Add(24 * time.Hour)
	got.Endpoint, got.Events, got.Status, got.DisabledReason = "https://new.example.com", []string{"domain.created"}, store.WebhookDisabled, "failing"
	got.Secret, got.PreviousSecret, got.PreviousUntil, got.UpdatedAt = []byte("new"), []byte("old"), &until, t0.Add(time.Minute)
	require.NoError(t, s.UpdateWebhook(ctx, got))
	again, err := s.GetWebhook(ctx, a.ID, got.ID)
	require.NoError(t, err)
	require.Equal(t, "https://new.example.com", again.Endpoint)
	require.Equal(t, []string{"domain.created"}, again.Events)
	require.Equal(t, "failing", again.DisabledReason)
	require.Equal(t, []byte("old"), again.PreviousSecret)
	require.True(t, again.PreviousUntil.Equal(until))

	// Another team sees none of them.
	_, err = s.GetWebhook(ctx, b.ID, ids[0])
	require.ErrorIs(t, err, store.ErrNotFound)
	none, _, err := s.ListWebhooks(ctx, b.ID, store.Page{})
	require.NoError(t, err)
	require.Empty(t, none)
	_, _, err = s.ListWebhooks(ctx, b.ID, store.Page{After: ids[0]})
	require.ErrorIs(t, err, store.ErrNotFound)
	other := *again
	other.TeamID = b.ID
	require.ErrorIs(t, s.UpdateWebhook(ctx, &other), store.ErrNotFound)
	require.ErrorIs(t, s.DeleteWebhook(ctx, b.ID, ids[0]), store.ErrNotFound)

	require.NoError(t, s.DeleteWebhook(ctx, a.ID, ids[0]))
	_, err = s.GetWebhook(ctx, a.ID, ids[0])
	require.ErrorIs(t, err, store.ErrNotFound)
	require.ErrorIs(t, s.DeleteWebhook(ctx, a.ID, ids[0]), store.ErrNotFound)
}
