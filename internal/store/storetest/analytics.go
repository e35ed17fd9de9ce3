package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/godwit/godwit/internal/store"
)

// testBroadcastEmails covers the reads behind a broadcast's recipients and
// clicked links.
func testBroadcastEmails(t *testing.T, newStore NewStore) {
	ctx := context.Background()
	s := newStore(t, func() time.Time { return t0 })
	a, b := newTeam(t, s, "a"), newTeam(t, s, "b")
	bid := uuid.NewString()
	var ids []string
	var emails []*store.Email
	for i, to := range []string{"x@example.net", "y@example.net", "z@example.net"} {
		e := newEmail(a.ID, t0.Add(time.Duration(i)*time.Second))
		e.To, e.BroadcastID = []string{to}, bid
		emails = append(emails, e)
		ids = append(ids, e.ID)
	}
	other := newEmail(a.ID, t0) // not of the broadcast
	require.NoError(t, s.AcceptEmails(ctx, &store.Accept{Emails: append(emails, other)}))
	click := func(id, link string, at time.Time) {
		require.NoError(t, s.RecordDelivery(ctx, &store.DeliveryOutcome{EmailID: id, TeamID: a.ID,
			Events: []*store.EmailEvent{{Type: "clicked", Data: []byte(`{"click":{"link":"` + link + `"}}`), CreatedAt: at}}}))
	}
	click(ids[2], "https://a.example/1", t0.Add(time.Minute))
	click(ids[0], "https://a.example/1", t0.Add(2*time.Minute))
	click(ids[0], "https://a.example/2", t0.Add(3*time.Minute))
	click(other.ID, "https://a.example/1", t0.Add(time.Minute))

	all, err := s.BroadcastEmails(ctx, a.ID, bid, "")
	require.NoError(t, err)
	require.Len(t, all, 3)
	for i, be := range all {
		require.Equal(t, ids[i], be.EmailID, "in the order they were accepted")
		require.Equal(t, emails[i].To, be.To)
		require.Empty(t, be.Events)
	}
	clicked, err := s.BroadcastEmails(ctx, a.ID, bid, "clicked")
	require.NoError(t, err)
	require.Len(t, clicked, 2)
	require.Equal(t, ids[0], clicked[0].EmailID)
	require.Len(t, clicked[0].Events, 2)
	require.JSONEq(t, `{"click":{"link":"https://a.example/1"}}`, string(clicked[0].Events[0].Data), "oldest first")
	require.True(t, clicked[0].Events[1].CreatedAt.Equal(t0.Add(3*time.Minute)))
	require.Equal(t, ids[2], clicked[1].EmailID)

	queued, err := s.BroadcastEmails(ctx, a.ID, bid, store.EventQueued)
	require.NoError(t, err)
	require.Len(t, queued, 3, "each email's first event")
	none, err := s.BroadcastEmails(ctx, b.ID, bid, "")
	require.NoError(t, err)
	require.Empty(t, none, "another team's broadcast has no emails")
	none, err = s.BroadcastEmails(ctx, a.ID, "", "")
	require.NoError(t, err)
	require.Empty(t, none, "emails of no broadcast are no broadcast's")
}

// testWaitingEmails covers the queue view.
func testWaitingEmails(t *testing.T, newStore NewStore) {
	ctx := context.Background()
	s := newStore(t, func() time.Time { return t0 })
	a, b := newTeam(t, s, "a"), newTeam(t, s, "b")
	queued, deferred, delivered := newEmail(a.ID, t0), newEmail(a.ID, t0), newEmail(a.ID, t0)
	sched := newEmail(a.ID, t0)
	at := t0.Add(time.Hour)
	sched.ScheduledAt, sched.LastEvent = &at, store.EventScheduled
	theirs := newEmail(b.ID, t0)
	require.NoError(t, s.AcceptEmails(ctx, &store.Accept{Emails: []*store.Email{queued, sched, deferred, delivered}}))
	require.NoError(t, s.AcceptEmails(ctx, &store.Accept{Emails: []*store.Email{theirs}}))

	t1, retry := t0.Add(time.Second), t0.Add(5*time.Minute)
	require.NoError(t, s.RecordDelivery(ctx, &store.DeliveryOutcome{EmailID: deferred.ID, TeamID: a.ID,
		LastEvent: store.EventDeliveryDelayed, RetryAt: &retry,
		Attempts: []*store.DeliveryAttempt{{Recipient: "b@example.net", Outcome: store.OutcomeDeferred, Host: "mx.example.net",
			Code: 451, Enhanced: "4.7.1", Response: "greylisted", CreatedAt: t1}}}))
	require.NoError(t, s.RecordDelivery(ctx, &store.DeliveryOutcome{EmailID: delivered.ID, TeamID: a.ID,
		LastEvent: store.EventDelivered,
		Attempts: []*store.DeliveryAttempt{{Recipient: "b@example.net", Outcome: store.OutcomeDelivered, Host: "mx.example.net",
			Code: 250, Response: "ok", CreatedAt: t1}}}))

	list, more, err := s.ListWaitingEmails(ctx, a.ID, "", store.Page{Limit: 10})
	require.NoError(t, err)
	require.False(t, more)
	require.Len(t, list, 3)
	require.Equal(t, []string{queued.ID, sched.ID, deferred.ID}, []string{list[0].ID, list[1].ID, list[2].ID}, "oldest first; delivered left out")
	require.Equal(t, store.EventQueued, list[0].LastEvent)
	require.Equal(t, queued.To, list[0].To)
	require.Equal(t, queued.Subject, list[0].Subject)
	require.Zero(t, list[0].Attempts)
	require.Nil(t, list[0].LastReply)
	require.True(t, list[1].ScheduledAt.Equal(at))
	d := list[2]
	require.Equal(t, store.EventDeliveryDelayed, d.LastEvent)
	require.Equal(t, 1, d.Attempts)
	require.True(t, d.NextAttemptAt.Equal(retry))
	require.Equal(t, "greylisted", d.LastReply.Response)
	require.Equal(t, 451, d.LastReply.Code)

	page, more, err := s.ListWaitingEmails(ctx, a.ID, "", store.Page{Limit: 1, After: queued.ID})
	require.NoError(t, err)
	require.True(t, more)
	require.Equal(t, sched.ID, page[0].ID)
	_, _, err = s.ListWaitingEmails(ctx, a.ID, "", store.Page{After: theirs.ID})
	require.ErrorIs(t, err, store.ErrNotFound, "another team's cursor")

	everyone, _, err := s.ListWaitingEmails(ctx, "", "", store.Page{Limit: 100})
	require.NoError(t, err)
	require.Len(t, everyone, 4, "every team's, for the CLI")
	require.Equal(t, theirs.ID, everyone[3].ID)
	only, _, err := s.ListWaitingEmails(ctx, a.ID, store.EventDeliveryDelayed, store.Page{})
	require.NoError(t, err)
	require.Len(t, only, 1)
	require.Equal(t, deferred.ID, only[0].ID, "one status")
	theirList, _, err := s.ListWaitingEmails(ctx, b.ID, "", store.Page{})
	require.NoError(t, err)
	require.Len(t, theirList, 1)
}
