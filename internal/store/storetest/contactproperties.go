package storetest

import (
	"context"
	"fmt"
	"sort"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/godwit/godwit/internal/store"
)

func propertyIDs(list []*store.ContactProperty) []string {
	out := []string{}
	for _, p := range list {
		out = append(out, p.ID)
	}
	return out
}

func newProperty(teamID, key, typ string, fallback any) *store.ContactProperty {
	return &store.ContactProperty{ID: uuid.NewString(), TeamID: teamID, Key: key, Type: typ, FallbackValue: fallback,
		CreatedAt: t0, UpdatedAt: t0}
}

// testContactProperties is the contact properties part of the suite.
func testContactProperties(t *testing.T, newStore NewStore) {
	ctx := context.Background()
	now := func() time.Time { return t0 }

	t.Run("CRUD", func(t *testing.T) {
		t.Parallel()
		s := newStore(t, now)
		a, b := newTeam(t, s, "a"), newTeam(t, s, "b")

		plan := newProperty(a.ID, "plan", store.PropertyString, "free")
		seats := newProperty(a.ID, "seats", store.PropertyNumber, 2.5)
		bare := newProperty(a.ID, "company_name", store.PropertyString, nil)
		zero := newProperty(a.ID, "ltv", store.PropertyNumber, float64(0))
		empty := newProperty(a.ID, "nickname", store.PropertyString, "")
		for _, p := range []*store.ContactProperty{plan, seats, bare, zero, empty} {
			require.NoError(t, s.CreateContactProperty(ctx, p))
		}
		for _, want := range []*store.ContactProperty{plan, seats, bare, zero, empty} {
			got, err := s.GetContactProperty(ctx, a.ID, want.ID)
			require.NoError(t, err)
			require.Equal(t, want, got, "fallbacks read back as stored: %v", want.FallbackValue)
		}

		// Keys are unique per team and compared exactly.
		require.ErrorIs(t, s.CreateContactProperty(ctx, newProperty(a.ID, "plan", store.PropertyNumber, nil)), store.ErrConflict)
		require.NoError(t, s.CreateContactProperty(ctx, newProperty(a.ID, "Plan", store.PropertyString, nil)), "keys are case-sensitive")
		require.NoError(t, s.CreateContactProperty(ctx, newProperty(b.ID, "plan", store.PropertyNumber, float64(1))),
			"another team may use the same key")
		dup := *plan
		dup.Key = "other"
		require.ErrorIs(t, s.CreateContactProperty(ctx, &dup), store.ErrConflict, "ids are unique")

		// Another team's or unknown ids.
		for _, id := range []string{plan.ID, uuid.NewString(), ""} {
			_, err := s.GetContactProperty(ctx, b.ID, id)
			require.ErrorIs(t, err, store.ErrNotFound, "team b: %q", id)
		}

		// By key: only the team's, only the keys asked for, exactly.
		got, err := s.ContactPropertiesByKey(ctx, a.ID, []string{"plan", "seats", "PLAN", "unknown"})
		require.NoError(t, err)
		sort.Slice(got, func(i, j int) bool { return got[i].Key < got[j].Key })
		require.Equal(t, []*store.ContactProperty{plan, seats}, got)
		got, err = s.ContactPropertiesByKey(ctx, b.ID, []string{"seats", "plan"})
		require.NoError(t, err)
		require.Len(t, got, 1)
		require.Equal(t, b.ID, got[0].TeamID)
		require.Equal(t, float64(1), got[0].FallbackValue)
		got, err = s.ContactPropertiesByKey(ctx, a.ID, nil)
		require.NoError(t, err)
		require.Empty(t, got)

		// Update stores the fallback and the time only.
		upd := *seats
		upd.FallbackValue, upd.UpdatedAt = float64(-3), t0.Add(time.Hour)
		upd.Key, upd.Type, upd.CreatedAt = "renamed", store.PropertyString, t0.Add(time.Hour) // not stored
		require.NoError(t, s.UpdateContactProperty(ctx, &upd))
		p, err := s.GetContactProperty(ctx, a.ID, seats.ID)
		require.NoError(t, err)
		require.Equal(t, &store.ContactProperty{ID: seats.ID, TeamID: a.ID, Key: "seats", Type: store.PropertyNumber,
			FallbackValue: float64(-3), CreatedAt: t0, UpdatedAt: t0.Add(time.Hour)}, p)
		upd.FallbackValue = nil
		require.NoError(t, s.UpdateContactProperty(ctx, &upd))
		p, err = s.GetContactProperty(ctx, a.ID, seats.ID)
		require.NoError(t, err)
		require.Nil(t, p.FallbackValue, "a nil fallback clears it")
		stolen := upd
		stolen.TeamID, stolen.FallbackValue = b.ID, float64(9)
		require.ErrorIs(t, s.UpdateContactProperty(ctx, &stolen), store.ErrNotFound)
		stolen.TeamID, stolen.ID = a.ID, uuid.NewString()
		require.ErrorIs(t, s.UpdateContactProperty(ctx, &stolen), store.ErrNotFound)
		p, err = s.GetContactProperty(ctx, a.ID, seats.ID)
		require.NoError(t, err)
		require.Nil(t, p.FallbackValue, "refused updates change nothing")

		// Delete: another team's is unknown; contacts keep their values.
		c := newContact(a.ID, "ada@example.com")
		c.Properties = map[string]any{"plan": "pro"}
		require.NoError(t, s.CreateContact(ctx, c))
		require.ErrorIs(t, s.DeleteContactProperty(ctx, b.ID, plan.ID), store.ErrNotFound)
		require.NoError(t, s.DeleteContactProperty(ctx, a.ID, plan.ID))
		_, err = s.GetContactProperty(ctx, a.ID, plan.ID)
		require.ErrorIs(t, err, store.ErrNotFound)
		require.ErrorIs(t, s.DeleteContactProperty(ctx, a.ID, plan.ID), store.ErrNotFound, "delete twice")
		contact, err := s.GetContact(ctx, a.ID, c.ID)
		require.NoError(t, err)
		require.Equal(t, map[string]any{"plan": "pro"}, contact.Properties)
		require.NoError(t, s.CreateContactProperty(ctx, newProperty(a.ID, "plan", store.PropertyNumber, nil)),
			"a deleted property's key is free again")
		got, err = s.ContactPropertiesByKey(ctx, b.ID, []string{"plan"})
		require.NoError(t, err)
		require.Len(t, got, 1, "team b's property is intact")
	})

	t.Run("List", func(t *testing.T) {
		t.Parallel()
		s := newStore(t, now)
		a, b := newTeam(t, s, "a"), newTeam(t, s, "b")
		var ids []string // oldest first
		for i := range 5 {
			p := newProperty(a.ID, fmt.Sprint("p", i), store.PropertyString, nil)
			require.NoError(t, s.CreateContactProperty(ctx, p))
			ids = append(ids, p.ID)
			require.NoError(t, s.CreateContactProperty(ctx, newProperty(b.ID, p.Key, store.PropertyNumber, nil)))
		}
		page, more, err := s.ListContactProperties(ctx, a.ID, store.Page{Limit: 2})
		require.NoError(t, err)
		require.True(t, more)
		require.Equal(t, []string{ids[4], ids[3]}, propertyIDs(page))
		require.Equal(t, "p4", page[0].Key)
		page, more, err = s.ListContactProperties(ctx, a.ID, store.Page{Limit: 2, After: ids[3]})
		require.NoError(t, err)
		require.True(t, more)
		require.Equal(t, []string{ids[2], ids[1]}, propertyIDs(page))
		page, more, err = s.ListContactProperties(ctx, a.ID, store.Page{Limit: 2, After: ids[1]})
		require.NoError(t, err)
		require.False(t, more)
		require.Equal(t, []string{ids[0]}, propertyIDs(page))
		page, more, err = s.ListContactProperties(ctx, a.ID, store.Page{Limit: 2, Before: ids[1]})
		require.NoError(t, err)
		require.True(t, more, "newer items remain beyond the page")
		require.Equal(t, []string{ids[3], ids[2]}, propertyIDs(page))
		page, more, err = s.ListContactProperties(ctx, a.ID, store.Page{Limit: 10, Before: ids[0]})
		require.NoError(t, err)
		require.False(t, more)
		require.Len(t, page, 4)
		page, more, err = s.ListContactProperties(ctx, a.ID, store.Page{Limit: 5})
		require.NoError(t, err)
		require.False(t, more, "exactly limit items: no more")
		require.Len(t, page, 5)
		page, _, err = s.ListContactProperties(ctx, a.ID, store.Page{})
		require.NoError(t, err)
		require.Len(t, page, 5, "a zero limit is the default")

		_, _, err = s.ListContactProperties(ctx, b.ID, store.Page{Limit: 2, After: ids[3]})
		require.ErrorIs(t, err, store.ErrNotFound, "another team's cursor is unknown")
		_, _, err = s.ListContactProperties(ctx, a.ID, store.Page{Limit: 2, Before: uuid.NewString()})
		require.ErrorIs(t, err, store.ErrNotFound)
		page, _, err = s.ListContactProperties(ctx, b.ID, store.Page{Limit: 100})
		require.NoError(t, err)
		require.Len(t, page, 5)
		for _, p := range page {
			require.Equal(t, b.ID, p.TeamID, "each team lists its own")
			require.Equal(t, store.PropertyNumber, p.Type)
		}
		empty, more, err := s.ListContactProperties(ctx, uuid.NewString(), store.Page{Limit: 10})
		require.NoError(t, err)
		require.False(t, more)
		require.Empty(t, empty)
	})
}
