package storetest

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/godwit/godwit/internal/events"
	"github.com/godwit/godwit/internal/store"
)

func suppressionIDs(list []*store.Suppression) []string {
	var out []string
	for _, s := range list {
		out = append(out, s.ID)
	}
	return out
}

// testSuppressions is the suppression list's part of the suite.
func testSuppressions(t *testing.T, newStore NewStore) {
	now := func() time.Time { return t0 }
	ctx := context.Background()

	t.Run("AddAndGet", func(t *testing.T) {
		t.Parallel()
		s := newStore(t, now)
		a, b := newTeam(t, s, "a"), newTeam(t, s, "b")
		manual := &store.Suppression{ID: uuid.NewString(), Email: "Someone@Example.NET", Origin: store.SuppressionManual, CreatedAt: t0}
		bounce := &store.Suppression{Email: "bounced@example.net", Origin: store.SuppressionBounce, SourceID: "email-1"}
		require.NoError(t, s.AddSuppressions(ctx, a.ID, []*store.Suppression{manual, bounce}, events.SuppressionAddedEvent))
		require.Equal(t, "someone@example.net", manual.Email, "addresses are stored in lower case")
		require.Equal(t, a.ID, manual.TeamID)
		require.NotEmpty(t, bounce.ID, "an empty id is filled")
		require.True(t, bounce.CreatedAt.Equal(t0), "a zero time is the store's clock")

		got, err := s.GetSuppression(ctx, a.ID, manual.ID)
		require.NoError(t, err)
		require.Equal(t, manual, got)
		got, err = s.GetSuppression(ctx, a.ID, "SOMEONE@example.net")
		require.NoError(t, err)
		require.Equal(t, manual.ID, got.ID, "found by address, in any case")
		got, err = s.GetSuppression(ctx, a.ID, "bounced@example.net")
		require.NoError(t, err)
		require.Equal(t, store.SuppressionBounce, got.Origin)
		require.Equal(t, "email-1", got.SourceID)
		require.Equal(t, "", manual.SourceID)

		for _, ref := range []string{manual.ID, "someone@example.net", uuid.NewString(), "nobody@example.net", ""} {
			_, err = s.GetSuppression(ctx, b.ID, ref)
			require.ErrorIs(t, err, store.ErrNotFound, "team b: %q", ref)
		}

		// Adding a suppressed address again changes nothing and answers the stored one.
		again := &store.Suppression{ID: uuid.NewString(), Email: "BOUNCED@example.net", Origin: store.SuppressionManual, CreatedAt: t0.Add(time.Hour)}
		fresh := &store.Suppression{ID: uuid.NewString(), Email: "fresh@example.net", Origin: store.SuppressionManual, CreatedAt: t0}
		twice := &store.Suppression{ID: uuid.NewString(), Email: "fresh@example.net", Origin: store.SuppressionComplaint, CreatedAt: t0}
		freshID := fresh.ID
		require.NoError(t, s.AddSuppressions(ctx, a.ID, []*store.Suppression{again, fresh, twice}, events.SuppressionAddedEvent))
		require.Equal(t, bounce.ID, again.ID)
		require.Equal(t, store.SuppressionBounce, again.Origin, "the first origin stays")
		require.Equal(t, "email-1", again.SourceID)
		require.True(t, again.CreatedAt.Equal(t0))
		require.Equal(t, freshID, fresh.ID, "a new address keeps its id")
		require.Equal(t, freshID, twice.ID, "the same address twice in one call is one suppression")
		require.Equal(t, store.SuppressionManual, twice.Origin)

		// Another team suppresses the same address on its own list.
		theirs := &store.Suppression{ID: uuid.NewString(), Email: "someone@example.net", Origin: store.SuppressionComplaint, SourceID: "e2", CreatedAt: t0}
		require.NoError(t, s.AddSuppressions(ctx, b.ID, []*store.Suppression{theirs}, events.SuppressionAddedEvent))
		require.NotEqual(t, manual.ID, theirs.ID)
		got, err = s.GetSuppression(ctx, a.ID, "someone@example.net")
		require.NoError(t, err)
		require.Equal(t, store.SuppressionManual, got.Origin, "team a's suppression is untouched")
		_, err = s.GetSuppression(ctx, a.ID, theirs.ID)
		require.ErrorIs(t, err, store.ErrNotFound, "another team's id is not found")

		require.NoError(t, s.AddSuppressions(ctx, a.ID, nil, events.SuppressionAddedEvent))
	})

	t.Run("ConcurrentAdd", func(t *testing.T) {
		t.Parallel()
		s := newStore(t, now)
		a := newTeam(t, s, "a")
		const n = 20
		var wg sync.WaitGroup
		got := make([]*store.Suppression, n)
		errs := make([]error, n)
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				got[i] = &store.Suppression{ID: uuid.NewString(), Email: "same@example.net", Origin: store.SuppressionManual}
				errs[i] = s.AddSuppressions(ctx, a.ID, []*store.Suppression{got[i],
					{Email: fmt.Sprintf("own%d@example.net", i), Origin: store.SuppressionManual}}, events.SuppressionAddedEvent)
			}()
		}
		wg.Wait()
		for i := range n {
			require.NoError(t, errs[i])
			require.Equal(t, got[0].ID, got[i].ID, "every caller gets the one suppression")
		}
		page, _, err := s.ListSuppressions(ctx, a.ID, "", store.Page{Limit: 100})
		require.NoError(t, err)
		require.Len(t, page, n+1)
	})

	t.Run("List", func(t *testing.T) {
		t.Parallel()
		s := newStore(t, now)
		a, b := newTeam(t, s, "a"), newTeam(t, s, "b")
		origins := []string{store.SuppressionBounce, store.SuppressionManual, store.SuppressionComplaint}
		var all []*store.Suppression // oldest first
		for i := range 9 {
			sup := &store.Suppression{ID: uuid.NewString(), Email: fmt.Sprintf("r%d@example.net", i), Origin: origins[i%3],
				CreatedAt: t0.Add(time.Duration(i) * time.Second)}
			require.NoError(t, s.AddSuppressions(ctx, a.ID, []*store.Suppression{sup}, events.SuppressionAddedEvent))
			all = append(all, sup)
			require.NoError(t, s.AddSuppressions(ctx, b.ID, []*store.Suppression{{Email: sup.Email, Origin: sup.Origin}}, events.SuppressionAddedEvent))
		}
		ids := suppressionIDs(all)

		page, more, err := s.ListSuppressions(ctx, a.ID, "", store.Page{Limit: 4})
		require.NoError(t, err)
		require.True(t, more)
		require.Equal(t, []string{ids[8], ids[7], ids[6], ids[5]}, suppressionIDs(page))
		require.Equal(t, all[8], page[0])

		page, more, err = s.ListSuppressions(ctx, a.ID, "", store.Page{Limit: 4, After: ids[5]})
		require.NoError(t, err)
		require.True(t, more)
		require.Equal(t, []string{ids[4], ids[3], ids[2], ids[1]}, suppressionIDs(page))

		page, more, err = s.ListSuppressions(ctx, a.ID, "", store.Page{Limit: 4, After: ids[1]})
		require.NoError(t, err)
		require.False(t, more)
		require.Equal(t, []string{ids[0]}, suppressionIDs(page))

		page, more, err = s.ListSuppressions(ctx, a.ID, "", store.Page{Limit: 2, Before: ids[3]})
		require.NoError(t, err)
		require.True(t, more, "newer items remain beyond the page")
		require.Equal(t, []string{ids[5], ids[4]}, suppressionIDs(page))

		page, more, err = s.ListSuppressions(ctx, a.ID, "", store.Page{Limit: 9})
		require.NoError(t, err)
		require.False(t, more, "exactly limit items: no more")
		require.Len(t, page, 9)

		// The origin filter, alone and with a cursor of any origin.
		page, more, err = s.ListSuppressions(ctx, a.ID, store.SuppressionBounce, store.Page{Limit: 10})
		require.NoError(t, err)
		require.False(t, more)
		require.Equal(t, []string{ids[6], ids[3], ids[0]}, suppressionIDs(page))
		page, more, err = s.ListSuppressions(ctx, a.ID, store.SuppressionManual, store.Page{Limit: 1, After: ids[6]})
		require.NoError(t, err)
		require.True(t, more)
		require.Equal(t, []string{ids[4]}, suppressionIDs(page))
		page, _, err = s.ListSuppressions(ctx, a.ID, store.SuppressionComplaint, store.Page{Limit: 10, Before: ids[5]})
		require.NoError(t, err)
		require.Equal(t, []string{ids[8]}, suppressionIDs(page))

		_, _, err = s.ListSuppressions(ctx, b.ID, "", store.Page{Limit: 3, After: ids[3]})
		require.ErrorIs(t, err, store.ErrNotFound, "another team's cursor is unknown")
		_, _, err = s.ListSuppressions(ctx, a.ID, "", store.Page{Limit: 3, Before: uuid.NewString()})
		require.ErrorIs(t, err, store.ErrNotFound)

		page, _, err = s.ListSuppressions(ctx, b.ID, "", store.Page{Limit: 100})
		require.NoError(t, err)
		require.Len(t, page, 9)
		for _, sup := range page {
			require.Equal(t, b.ID, sup.TeamID, "each team lists its own")
		}
	})

	t.Run("Delete", func(t *testing.T) {
		t.Parallel()
		s := newStore(t, now)
		a, b := newTeam(t, s, "a"), newTeam(t, s, "b")
		var list []*store.Suppression
		for i := range 4 {
			list = append(list, &store.Suppression{ID: uuid.NewString(), Email: fmt.Sprintf("r%d@example.net", i),
				Origin: store.SuppressionManual, CreatedAt: t0})
		}
		require.NoError(t, s.AddSuppressions(ctx, a.ID, list, events.SuppressionAddedEvent))
		other := &store.Suppression{ID: uuid.NewString(), Email: "r0@example.net", Origin: store.SuppressionManual, CreatedAt: t0}
		require.NoError(t, s.AddSuppressions(ctx, b.ID, []*store.Suppression{other}, events.SuppressionAddedEvent))

		gone, err := s.DeleteSuppressions(ctx, b.ID, []string{list[1].ID, "r2@example.net"}, events.SuppressionRemovedEvent)
		require.NoError(t, err)
		require.Empty(t, gone, "another team's suppressions are not removed")

		gone, err = s.DeleteSuppressions(ctx, a.ID, []string{"R2@Example.net", uuid.NewString(), list[0].ID, "nobody@example.net",
			list[0].ID, "r0@example.net"}, events.SuppressionRemovedEvent)
		require.NoError(t, err)
		require.Equal(t, []string{list[2].ID, list[0].ID}, suppressionIDs(gone), "in the order named, each once, unknown ones skipped")
		require.Equal(t, list[2], gone[0])
		for _, ref := range []string{list[0].ID, "r2@example.net"} {
			_, err = s.GetSuppression(ctx, a.ID, ref)
			require.ErrorIs(t, err, store.ErrNotFound)
		}
		_, err = s.GetSuppression(ctx, b.ID, "r0@example.net")
		require.NoError(t, err, "team b's suppression of the same address stays")

		gone, err = s.DeleteSuppressions(ctx, a.ID, []string{list[0].ID}, events.SuppressionRemovedEvent)
		require.NoError(t, err)
		require.Empty(t, gone, "removing twice removes nothing")
		gone, err = s.DeleteSuppressions(ctx, a.ID, nil, events.SuppressionRemovedEvent)
		require.NoError(t, err)
		require.Empty(t, gone)

		// A removed address can be suppressed again, as a new suppression.
		back := &store.Suppression{ID: uuid.NewString(), Email: "r2@example.net", Origin: store.SuppressionBounce, SourceID: "e", CreatedAt: t0}
		require.NoError(t, s.AddSuppressions(ctx, a.ID, []*store.Suppression{back}, events.SuppressionAddedEvent))
		require.NotEqual(t, list[2].ID, back.ID)
		page, _, err := s.ListSuppressions(ctx, a.ID, "", store.Page{Limit: 10})
		require.NoError(t, err)
		require.Equal(t, []string{back.ID, list[3].ID, list[1].ID}, suppressionIDs(page))
	})

	t.Run("SuppressedAmong", func(t *testing.T) {
		t.Parallel()
		s := newStore(t, now)
		a, b := newTeam(t, s, "a"), newTeam(t, s, "b")
		require.NoError(t, s.AddSuppressions(ctx, a.ID, []*store.Suppression{
			{Email: "x@example.net", Origin: store.SuppressionBounce},
			{Email: "y@example.net", Origin: store.SuppressionManual},
		}, events.SuppressionAddedEvent))
		require.NoError(t, s.AddSuppressions(ctx, b.ID, []*store.Suppression{{Email: "z@example.net", Origin: store.SuppressionManual}}, events.SuppressionAddedEvent))

		got, err := s.SuppressedAmong(ctx, a.ID, []string{"x@example.net", "Y@Example.NET", "z@example.net", "w@example.net"})
		require.NoError(t, err)
		require.Equal(t, map[string]bool{"x@example.net": true, "Y@Example.NET": true}, got, "keyed as given; team b's not counted")
		got, err = s.SuppressedAmong(ctx, a.ID, nil)
		require.NoError(t, err)
		require.Empty(t, got)

		// Many addresses at once: more than one IN list, and more than one insert.
		var many []*store.Suppression
		var lookup []string
		for i := range 1500 {
			addr := fmt.Sprintf("m%d@example.com", i)
			lookup = append(lookup, addr)
			if i%2 == 0 {
				many = append(many, &store.Suppression{Email: addr, Origin: store.SuppressionManual})
			}
		}
		require.NoError(t, s.AddSuppressions(ctx, a.ID, many, events.SuppressionAddedEvent))
		got, err = s.SuppressedAmong(ctx, a.ID, lookup)
		require.NoError(t, err)
		require.Len(t, got, 750)
		require.True(t, got["m1498@example.com"])
		require.False(t, got["m1499@example.com"])
	})
}
