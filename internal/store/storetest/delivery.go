package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/godwit/godwit/internal/events"
	"github.com/godwit/godwit/internal/store"
)

// testDelivery covers what the delivery worker writes and reads.
func testDelivery(t *testing.T, newStore NewStore) {
	ctx := context.Background()
	s := newStore(t, func() time.Time { return t0 })
	a, b := newTeam(t, s, "a"), newTeam(t, s, "b")
	e := newEmail(a.ID, t0)
	e.Attachments = []store.Attachment{{Filename: "a.txt", ContentType: "text/plain", Content: []byte("hello")},
		{Filename: "r.pdf", Path: "https://files.example.com/r.pdf"}}
	at := t0.Add(time.Hour)
	sched := newEmail(a.ID, t0)
	sched.ScheduledAt, sched.LastEvent = &at, store.EventScheduled
	require.NoError(t, s.AcceptEmails(ctx, &store.Accept{Emails: []*store.Email{e, sched}}))

	// The worker reads any team's email, with its bodies and attachments.
	got, err := s.GetEmailForDelivery(ctx, e.ID)
	require.NoError(t, err)
	require.Equal(t, "<p>hi</p>", *got.HTML)
	require.Len(t, got.Attachments, 2)
	require.Equal(t, []byte("hello"), got.Attachments[0].Content)
	require.Equal(t, "https://files.example.com/r.pdf", got.Attachments[1].Path)
	_, err = s.GetEmailForDelivery(ctx, "01a2235b-0000-7000-8000-000000000000")
	require.ErrorIs(t, err, store.ErrNotFound)
	// Several at once: those that exist, of any team, in any order, with
	// their attachments; unknown ids left out; more ids than one query takes.
	others := make([]*store.Email, 140)
	for i := range others {
		others[i] = newEmail(b.ID, t0)
	}
	require.NoError(t, s.AcceptEmails(ctx, &store.Accept{Emails: others}))
	ids := []string{"01a2235b-0000-7000-8000-000000000000", e.ID, sched.ID}
	for _, o := range others {
		ids = append(ids, o.ID)
	}
	many, err := s.GetEmailsForDelivery(ctx, ids)
	require.NoError(t, err)
	require.Len(t, many, 2+len(others))
	byID := map[string]*store.Email{}
	for _, m := range many {
		byID[m.ID] = m
	}
	require.Len(t, byID, len(many), "each email once")
	require.Len(t, byID[e.ID].Attachments, 2)
	require.Equal(t, []byte("hello"), byID[e.ID].Attachments[0].Content)
	require.Empty(t, byID[sched.ID].Attachments)
	require.Equal(t, store.EventScheduled, byID[sched.ID].LastEvent)
	require.Equal(t, b.ID, byID[others[139].ID].TeamID)
	require.Equal(t, "<p>hi</p>", *byID[others[0].ID].HTML)
	few, err := s.GetEmailsForDelivery(ctx, []string{others[0].ID, others[1].ID, others[2].ID})
	require.NoError(t, err)
	require.Len(t, few, 3, "a list padded to its statement's shape")
	none, err := s.GetEmailsForDelivery(ctx, []string{"01a2235b-0000-7000-8000-000000000000"})
	require.NoError(t, err)
	require.Empty(t, none)

	light, err := s.GetEmailForEvent(ctx, e.ID)
	require.NoError(t, err)
	require.Equal(t, a.ID, light.TeamID)
	require.Empty(t, light.Attachments, "a lookup reads no attachments")
	_, err = s.GetEmailForEvent(ctx, "01a2235b-0000-7000-8000-000000000000")
	require.ErrorIs(t, err, store.ErrNotFound)

	// Claiming a scheduled email makes it queued, once; cancel then fails.
	require.ErrorIs(t, s.ClaimScheduled(ctx, e.ID, t0), store.ErrNotScheduled)
	require.NoError(t, s.ClaimScheduled(ctx, sched.ID, at))
	require.ErrorIs(t, s.ClaimScheduled(ctx, sched.ID, at), store.ErrNotScheduled)
	require.ErrorIs(t, s.CancelEmail(ctx, a.ID, sched.ID, at), store.ErrNotScheduled)

	t1 := t0.Add(time.Second)
	out := &store.DeliveryOutcome{EmailID: e.ID, TeamID: a.ID, LastEvent: store.EventBounced,
		Attempts: []*store.DeliveryAttempt{
			{Recipient: "b@example.net", Outcome: store.OutcomeBounced, Host: "mx.example.net", Code: 550, Enhanced: "5.1.1", Response: "no such user",
				TLSVersion: "TLS 1.3", TLSCipher: "TLS_AES_128_GCM_SHA256", TLSPolicy: "mta-sts testing: certificate invalid", CreatedAt: t1},
		},
		Events: []*store.EmailEvent{
			{Type: store.EventSent, CreatedAt: t0},
			{Type: store.EventBounced, Data: []byte(`{"bounce":{"type":"Permanent"}}`), CreatedAt: t1},
		},
		SuppressionAdded: events.SuppressionAddedEvent, Suppress: []string{"B@Example.net"},
		Captured: []byte("From: a@example.com\r\n\r\nhi\r\n"),
	}
	require.NoError(t, s.RecordDelivery(ctx, out))
	require.NoError(t, s.RecordDelivery(ctx, &store.DeliveryOutcome{EmailID: e.ID, TeamID: a.ID, SuppressionAdded: events.SuppressionAddedEvent, Suppress: []string{"b@example.net"}}),
		"suppressing an address twice is harmless")

	got, err = s.GetEmail(ctx, a.ID, e.ID)
	require.NoError(t, err)
	require.Equal(t, store.EventBounced, got.LastEvent)
	attempts, err := s.ListDeliveryAttempts(ctx, a.ID, e.ID)
	require.NoError(t, err)
	require.Len(t, attempts, 1)
	require.Equal(t, store.DeliveryAttempt{EmailID: e.ID, TeamID: a.ID, Recipient: "b@example.net",
		Outcome: "bounced", Host: "mx.example.net", Code: 550, Enhanced: "5.1.1", Response: "no such user",
		TLSVersion: "TLS 1.3", TLSCipher: "TLS_AES_128_GCM_SHA256", TLSPolicy: "mta-sts testing: certificate invalid", CreatedAt: t1}, *attempts[0])
	history, err := s.ListEmailEvents(ctx, a.ID, e.ID)
	require.NoError(t, err)
	require.Len(t, history, 3)
	require.Equal(t, []string{"queued", "sent", "bounced"}, []string{history[0].Type, history[1].Type, history[2].Type})
	require.JSONEq(t, `{"bounce":{"type":"Permanent"}}`, string(history[2].Data))
	require.True(t, history[2].CreatedAt.Equal(t1))
	sup, err := s.SuppressedAmong(ctx, a.ID, []string{"b@example.net"})
	require.NoError(t, err)
	require.True(t, sup["b@example.net"])
	list, _, err := s.ListSuppressions(ctx, a.ID, "", store.Page{})
	require.NoError(t, err)
	require.Len(t, list, 1)
	require.Equal(t, store.SuppressionBounce, list[0].Origin)
	require.Equal(t, e.ID, list[0].SourceID)
	// The suppression was announced once (suppression.added), with its source.
	evs, err := s.ListEvents(ctx, a.ID, "", 100)
	require.NoError(t, err)
	var added []string
	for _, ev := range evs {
		if ev.Type == "suppression.added" {
			added = append(added, string(ev.Data))
		}
	}
	require.Len(t, added, 1, "suppressing twice announces once")
	require.Contains(t, added[0], `"origin":"bounce"`)
	require.Contains(t, added[0], `"source_id":"`+e.ID+`"`)
	removed, err := s.DeleteSuppressions(ctx, a.ID, []string{"b@example.net"}, events.SuppressionRemovedEvent)
	require.NoError(t, err)
	require.Len(t, removed, 1)
	evs, err = s.ListEvents(ctx, a.ID, "", 100)
	require.NoError(t, err)
	require.Equal(t, "suppression.removed", evs[len(evs)-1].Type)
	require.NoError(t, s.RecordDelivery(ctx, &store.DeliveryOutcome{EmailID: e.ID, TeamID: a.ID, SuppressionAdded: events.SuppressionAddedEvent, Suppress: []string{"b@example.net"}}))

	captured, err := s.GetCapturedMessage(ctx, a.ID, e.ID)
	require.NoError(t, err)
	require.Equal(t, out.Captured, captured)

	// Another team sees none of it.
	_, err = s.ListDeliveryAttempts(ctx, b.ID, e.ID)
	require.ErrorIs(t, err, store.ErrNotFound)
	_, err = s.ListEmailEvents(ctx, b.ID, e.ID)
	require.ErrorIs(t, err, store.ErrNotFound)
	_, err = s.GetCapturedMessage(ctx, b.ID, e.ID)
	require.ErrorIs(t, err, store.ErrNotFound)
	sup, err = s.SuppressedAmong(ctx, b.ID, []string{"b@example.net"})
	require.NoError(t, err)
	require.False(t, sup["b@example.net"])
}
