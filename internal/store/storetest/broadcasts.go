package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/godwit/godwit/internal/store"
)

func newBroadcast(teamID, segmentID string) *store.Broadcast {
	html := "<p>Hi {{{FIRST_NAME|there}}}</p>"
	return &store.Broadcast{ID: uuid.NewString(), TeamID: teamID, Name: "News", SegmentID: segmentID,
		From: "Acme <news@acme.test>", Subject: "News", HTML: &html, Status: store.BroadcastDraft,
		CreatedAt: t0, UpdatedAt: t0}
}

// testBroadcasts is the broadcasts part of the suite.
func testBroadcasts(t *testing.T, newStore NewStore) {
	ctx := context.Background()
	now := func() time.Time { return t0 }

	t.Run("CRUD", func(t *testing.T) {
		t.Parallel()
		s := newStore(t, now)
		a, b := newTeam(t, s, "a"), newTeam(t, s, "b")
		seg := &store.Segment{ID: uuid.NewString(), TeamID: a.ID, Name: "s", CreatedAt: t0}
		require.NoError(t, s.CreateSegment(ctx, seg))

		text := "plain"
		full := newBroadcast(a.ID, seg.ID)
		full.ReplyTo, full.PreviewText, full.Text, full.TopicID = []string{"r@acme.test", "q@acme.test"}, "preview", &text, uuid.NewString()
		bare := newBroadcast(a.ID, seg.ID)
		bare.HTML = nil
		require.NoError(t, s.CreateBroadcast(ctx, full))
		require.NoError(t, s.CreateBroadcast(ctx, bare))
		for _, want := range []*store.Broadcast{full, bare} {
			got, err := s.GetBroadcast(ctx, a.ID, want.ID)
			require.NoError(t, err)
			require.Equal(t, want, got)
		}
		_, err := s.GetBroadcast(ctx, b.ID, full.ID)
		require.ErrorIs(t, err, store.ErrNotFound, "another team's")

		list, more, err := s.ListBroadcasts(ctx, a.ID, store.Page{Limit: 1})
		require.NoError(t, err)
		require.True(t, more)
		require.Equal(t, bare.ID, list[0].ID, "newest first")
		list, more, err = s.ListBroadcasts(ctx, a.ID, store.Page{Limit: 10, After: bare.ID})
		require.NoError(t, err)
		require.False(t, more)
		require.Equal(t, full.ID, list[0].ID)
		list, _, err = s.ListBroadcasts(ctx, b.ID, store.Page{Limit: 10})
		require.NoError(t, err)
		require.Empty(t, list)

		full.Name, full.Subject, full.ReplyTo, full.UpdatedAt = "Renamed", "New subject", nil, t0.Add(time.Minute)
		require.NoError(t, s.UpdateBroadcast(ctx, full))
		got, err := s.GetBroadcast(ctx, a.ID, full.ID)
		require.NoError(t, err)
		require.Equal(t, full, got)
		other := *full
		other.TeamID = b.ID
		require.ErrorIs(t, s.UpdateBroadcast(ctx, &other), store.ErrNotFound)

		// Send: draft → queued or scheduled, once.
		at := t0.Add(time.Hour)
		require.NoError(t, s.SendBroadcast(ctx, a.ID, full.ID, &at, t0))
		got, err = s.GetBroadcast(ctx, a.ID, full.ID)
		require.NoError(t, err)
		require.Equal(t, store.BroadcastScheduled, got.Status)
		require.Equal(t, at, *got.ScheduledAt)
		require.ErrorIs(t, s.SendBroadcast(ctx, a.ID, full.ID, nil, t0), store.ErrBroadcastState)
		require.ErrorIs(t, s.SendBroadcast(ctx, b.ID, full.ID, nil, t0), store.ErrNotFound)
		require.ErrorIs(t, s.UpdateBroadcast(ctx, full), store.ErrBroadcastState, "only drafts change")
		require.ErrorIs(t, s.DeleteBroadcast(ctx, a.ID, full.ID), store.ErrBroadcastState, "only drafts are deleted")
		require.ErrorIs(t, s.CancelBroadcast(ctx, b.ID, full.ID, t0), store.ErrNotFound)
		require.NoError(t, s.CancelBroadcast(ctx, a.ID, full.ID, t0))
		require.ErrorIs(t, s.CancelBroadcast(ctx, a.ID, full.ID, t0), store.ErrBroadcastState)
		require.ErrorIs(t, s.CancelBroadcast(ctx, a.ID, bare.ID, t0), store.ErrBroadcastState, "a draft is not canceled")

		// A canceled broadcast accepts no chunk.
		err = s.AcceptEmails(ctx, &store.Accept{Emails: []*store.Email{newEmail(a.ID, t0)},
			Broadcast: &store.BroadcastProgress{TeamID: a.ID, ID: full.ID, To: 1, At: t0}})
		require.ErrorIs(t, err, store.ErrBroadcastState)

		require.ErrorIs(t, s.DeleteBroadcast(ctx, b.ID, bare.ID), store.ErrNotFound)
		require.NoError(t, s.DeleteBroadcast(ctx, a.ID, bare.ID))
		_, err = s.GetBroadcast(ctx, a.ID, bare.ID)
		require.ErrorIs(t, err, store.ErrNotFound)
	})

	t.Run("Progress", func(t *testing.T) {
		t.Parallel()
		s := newStore(t, now)
		a := newTeam(t, s, "a")
		seg := &store.Segment{ID: uuid.NewString(), TeamID: a.ID, Name: "s", CreatedAt: t0}
		require.NoError(t, s.CreateSegment(ctx, seg))
		var ids []string
		for i := range 5 {
			c := &store.Contact{ID: uuid.NewString(), TeamID: a.ID, Email: uuid.NewString() + "@x.test", CreatedAt: t0, UpdatedAt: t0}
			if i != 2 {
				c.SegmentIDs = []string{seg.ID}
				ids = append(ids, c.ID)
			}
			require.NoError(t, s.CreateContact(ctx, c))
		}
		r, err := s.BroadcastRecipients(ctx, a.ID, seg.ID, 0, 3)
		require.NoError(t, err)
		require.Len(t, r, 3)
		require.Equal(t, ids[:3], []string{r[0].Contact.ID, r[1].Contact.ID, r[2].Contact.ID}, "oldest member first")
		r2, err := s.BroadcastRecipients(ctx, a.ID, seg.ID, r[2].Seq, 3)
		require.NoError(t, err)
		require.Len(t, r2, 1)
		require.Equal(t, ids[3], r2[0].Contact.ID)

		bc := newBroadcast(a.ID, seg.ID)
		require.NoError(t, s.CreateBroadcast(ctx, bc))
		require.NoError(t, s.SendBroadcast(ctx, a.ID, bc.ID, nil, t0))
		e1 := newEmail(a.ID, t0)
		e1.BroadcastID = bc.ID
		require.NoError(t, s.AcceptEmails(ctx, &store.Accept{Emails: []*store.Email{e1},
			Broadcast: &store.BroadcastProgress{TeamID: a.ID, ID: bc.ID, From: 0, To: r[2].Seq, At: t0}}))
		got, err := s.GetEmail(ctx, a.ID, e1.ID)
		require.NoError(t, err)
		require.Equal(t, bc.ID, got.BroadcastID)
		gb, err := s.GetBroadcast(ctx, a.ID, bc.ID)
		require.NoError(t, err)
		require.Equal(t, store.BroadcastSending, gb.Status)
		require.Equal(t, r[2].Seq, gb.Progress)

		// The same chunk again (a retried job) writes nothing.
		dup := newEmail(a.ID, t0)
		err = s.AcceptEmails(ctx, &store.Accept{Emails: []*store.Email{dup},
			Broadcast: &store.BroadcastProgress{TeamID: a.ID, ID: bc.ID, From: 0, To: r[2].Seq, At: t0}})
		require.ErrorIs(t, err, store.ErrBroadcastState)
		_, err = s.GetEmail(ctx, a.ID, dup.ID)
		require.ErrorIs(t, err, store.ErrNotFound)

		sent := t0.Add(time.Minute)
		require.NoError(t, s.AcceptEmails(ctx, &store.Accept{
			Broadcast: &store.BroadcastProgress{TeamID: a.ID, ID: bc.ID, From: r[2].Seq, To: r2[0].Seq, Done: true, At: sent}}))
		gb, err = s.GetBroadcast(ctx, a.ID, bc.ID)
		require.NoError(t, err)
		require.Equal(t, store.BroadcastSent, gb.Status)
		require.Equal(t, sent, *gb.SentAt)
	})
}
