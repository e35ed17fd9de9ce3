package storetest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/godwit/godwit/internal/store"
)

func segmentIDs(list []*store.Segment) []string {
	out := []string{}
	for _, s := range list {
		out = append(out, s.ID)
	}
	return out
}

func contactIDs(list []*store.Contact) []string {
	out := []string{}
	for _, c := range list {
		out = append(out, c.ID)
	}
	return out
}

func strPtr(s string) *string { return &s }

func newSegment(t *testing.T, s store.Store, teamID, name string) *store.Segment {
	t.Helper()
	seg := &store.Segment{ID: uuid.NewString(), TeamID: teamID, Name: name, CreatedAt: t0}
	require.NoError(t, s.CreateSegment(context.Background(), seg))
	return seg
}

func newContact(teamID, email string, segments ...string) *store.Contact {
	return &store.Contact{ID: uuid.NewString(), TeamID: teamID, Email: email, SegmentIDs: segments, CreatedAt: t0, UpdatedAt: t0}
}

// testContacts is the contacts and segments part of the suite.
func testContacts(t *testing.T, newStore NewStore) {
	now := func() time.Time { return t0 }
	ctx := context.Background()

	t.Run("Segments", func(t *testing.T) {
		t.Parallel()
		s := newStore(t, now)
		a, b := newTeam(t, s, "a"), newTeam(t, s, "b")
		var all []*store.Segment // oldest first
		for i := range 5 {
			all = append(all, newSegment(t, s, a.ID, fmt.Sprint("segment ", i)))
			newSegment(t, s, b.ID, fmt.Sprint("segment ", i))
		}
		ids := segmentIDs(all)
		newSegment(t, s, a.ID, "segment 0")

		got, err := s.GetSegment(ctx, a.ID, ids[1])
		require.NoError(t, err)
		require.Equal(t, all[1], got)
		for _, id := range []string{ids[1], uuid.NewString(), ""} {
			_, err = s.GetSegment(ctx, b.ID, id)
			require.ErrorIs(t, err, store.ErrNotFound, "team b: %q", id)
		}

		// Newest first; names need not be unique (the sixth is named like the first).
		page, more, err := s.ListSegments(ctx, a.ID, store.Page{Limit: 6})
		require.NoError(t, err)
		require.False(t, more, "exactly limit items: no more")
		require.Len(t, page, 6)
		require.Equal(t, "segment 0", page[0].Name)
		require.Equal(t, []string{ids[4], ids[3], ids[2], ids[1], ids[0]}, segmentIDs(page[1:]))
		require.Equal(t, all[4], page[1])

		page, more, err = s.ListSegments(ctx, a.ID, store.Page{Limit: 2, After: ids[4]})
		require.NoError(t, err)
		require.True(t, more)
		require.Equal(t, []string{ids[3], ids[2]}, segmentIDs(page))
		page, more, err = s.ListSegments(ctx, a.ID, store.Page{Limit: 2, After: ids[1]})
		require.NoError(t, err)
		require.False(t, more)
		require.Equal(t, []string{ids[0]}, segmentIDs(page))
		page, more, err = s.ListSegments(ctx, a.ID, store.Page{Limit: 2, Before: ids[1]})
		require.NoError(t, err)
		require.True(t, more, "newer items remain beyond the page")
		require.Equal(t, []string{ids[3], ids[2]}, segmentIDs(page))
		page, more, err = s.ListSegments(ctx, a.ID, store.Page{Limit: 10, Before: ids[0]})
		require.NoError(t, err)
		require.False(t, more)
		require.Len(t, page, 5)
		page, more, err = s.ListSegments(ctx, a.ID, store.Page{})
		require.NoError(t, err)
		require.False(t, more)
		require.Len(t, page, 6, "a zero limit is the default")

		_, _, err = s.ListSegments(ctx, b.ID, store.Page{Limit: 2, After: ids[3]})
		require.ErrorIs(t, err, store.ErrNotFound, "another team's cursor is unknown")
		_, _, err = s.ListSegments(ctx, a.ID, store.Page{Limit: 2, Before: uuid.NewString()})
		require.ErrorIs(t, err, store.ErrNotFound)
		page, _, err = s.ListSegments(ctx, b.ID, store.Page{Limit: 100})
		require.NoError(t, err)
		require.Len(t, page, 5)
		for _, seg := range page {
			require.Equal(t, b.ID, seg.TeamID, "each team lists its own")
		}

		dup := *all[0]
		require.ErrorIs(t, s.CreateSegment(ctx, &dup), store.ErrConflict, "ids are unique")

		renamed := *all[2]
		renamed.Name = "renamed"
		require.NoError(t, s.UpdateSegment(ctx, &renamed))
		got, err = s.GetSegment(ctx, a.ID, ids[2])
		require.NoError(t, err)
		require.Equal(t, &renamed, got)
		stolen := renamed
		stolen.TeamID, stolen.Name = b.ID, "stolen"
		require.ErrorIs(t, s.UpdateSegment(ctx, &stolen), store.ErrNotFound)
		stolen.TeamID, stolen.ID = a.ID, uuid.NewString()
		require.ErrorIs(t, s.UpdateSegment(ctx, &stolen), store.ErrNotFound)
		got, err = s.GetSegment(ctx, a.ID, ids[2])
		require.NoError(t, err)
		require.Equal(t, "renamed", got.Name)

		require.ErrorIs(t, s.DeleteSegment(ctx, b.ID, ids[2]), store.ErrNotFound)
		require.NoError(t, s.DeleteSegment(ctx, a.ID, ids[2]))
		_, err = s.GetSegment(ctx, a.ID, ids[2])
		require.ErrorIs(t, err, store.ErrNotFound)
		require.ErrorIs(t, s.DeleteSegment(ctx, a.ID, ids[2]), store.ErrNotFound, "delete twice")
		_, _, err = s.ListSegments(ctx, a.ID, store.Page{Limit: 2, After: ids[2]})
		require.ErrorIs(t, err, store.ErrNotFound, "a deleted segment is an unknown cursor")
		page, _, err = s.ListSegments(ctx, a.ID, store.Page{Limit: 2, After: ids[3]})
		require.NoError(t, err)
		require.Equal(t, []string{ids[1], ids[0]}, segmentIDs(page))
	})

	t.Run("Contacts", func(t *testing.T) {
		t.Parallel()
		s := newStore(t, now)
		a, b := newTeam(t, s, "a"), newTeam(t, s, "b")

		c := newContact(a.ID, "Ada.Lovelace@Example.COM")
		c.FirstName, c.LastName, c.Unsubscribed = strPtr("Ada"), strPtr(""), true
		c.Properties = map[string]any{"plan": "pro", "score": 42.5, "count": float64(3), "gone": nil, "empty": ""}
		c.UpdatedAt = t0.Add(time.Second)
		require.NoError(t, s.CreateContact(ctx, c))
		want := *c
		want.SegmentIDs = []string{}
		for _, ref := range []string{c.ID, "Ada.Lovelace@Example.COM", "ada.lovelace@example.com", "ADA.LOVELACE@EXAMPLE.COM"} {
			got, err := s.GetContact(ctx, a.ID, ref)
			require.NoError(t, err, ref)
			require.Equal(t, &want, got, "found by id, or by email in any case: %q", ref)
		}
		got, err := s.GetContact(ctx, a.ID, c.ID)
		require.NoError(t, err)
		require.Equal(t, "Ada.Lovelace@Example.COM", got.Email, "the email is kept as given")
		require.Equal(t, "", *got.LastName, "an empty name is not a missing one")
		require.Nil(t, got.Properties["gone"])
		require.Contains(t, got.Properties, "gone", "a null property is kept")

		bare := newContact(a.ID, "bare@example.com")
		require.NoError(t, s.CreateContact(ctx, bare))
		got, err = s.GetContact(ctx, a.ID, bare.ID)
		require.NoError(t, err)
		require.NotNil(t, got.Properties, "no properties read back as an empty map")
		require.Empty(t, got.Properties)
		require.Nil(t, got.FirstName)
		require.Nil(t, got.LastName)
		require.False(t, got.Unsubscribed)

		for _, email := range []string{"ada.lovelace@example.com", "ADA.LOVELACE@EXAMPLE.COM", "Ada.Lovelace@Example.COM"} {
			require.ErrorIs(t, s.CreateContact(ctx, newContact(a.ID, email)), store.ErrConflict, email)
		}
		require.ErrorIs(t, s.CreateContact(ctx, &store.Contact{ID: c.ID, TeamID: a.ID, Email: "other@example.com"}), store.ErrConflict,
			"ids are unique")
		accents := newContact(a.ID, "Émile.Zola@Example.com")
		require.NoError(t, s.CreateContact(ctx, accents))
		require.ErrorIs(t, s.CreateContact(ctx, newContact(a.ID, "émile.zola@example.com")), store.ErrConflict,
			"case is folded beyond ASCII, alike on every database")
		got, err = s.GetContact(ctx, a.ID, "ÉMILE.ZOLA@EXAMPLE.COM")
		require.NoError(t, err)
		require.Equal(t, accents.ID, got.ID)

		theirs := newContact(b.ID, "ada.lovelace@example.com")
		require.NoError(t, s.CreateContact(ctx, theirs), "another team may hold the same address")
		got, err = s.GetContact(ctx, a.ID, "ada.lovelace@example.com")
		require.NoError(t, err)
		require.Equal(t, c.ID, got.ID)
		for _, ref := range []string{c.ID, bare.ID, "bare@example.com", uuid.NewString(), "nobody@example.com", ""} {
			_, err = s.GetContact(ctx, b.ID, ref)
			require.ErrorIs(t, err, store.ErrNotFound, "team b: %q", ref)
		}

		// Update: clear the names, change the email, drop the properties.
		upd := *c
		upd.Email, upd.FirstName, upd.LastName, upd.Unsubscribed = "ada@example.org", nil, nil, false
		upd.Properties, upd.UpdatedAt = nil, t0.Add(time.Hour)
		upd.SegmentIDs, upd.CreatedAt = []string{uuid.NewString()}, t0.Add(time.Hour) // not stored by an update
		require.NoError(t, s.UpdateContact(ctx, &upd))
		got, err = s.GetContact(ctx, a.ID, "ADA@example.org")
		require.NoError(t, err)
		require.Equal(t, &store.Contact{ID: c.ID, TeamID: a.ID, Email: "ada@example.org", Properties: map[string]any{},
			SegmentIDs: []string{}, CreatedAt: t0, UpdatedAt: t0.Add(time.Hour)}, got)
		_, err = s.GetContact(ctx, a.ID, "ada.lovelace@example.com")
		require.ErrorIs(t, err, store.ErrNotFound, "the old address no longer finds it")
		require.NoError(t, s.CreateContact(ctx, newContact(a.ID, "Ada.Lovelace@example.com")), "the old address is free")

		upd.Email = "ADA@EXAMPLE.ORG"
		require.NoError(t, s.UpdateContact(ctx, &upd), "a contact may change the case of its own address")
		upd.Email = "Bare@Example.com"
		require.ErrorIs(t, s.UpdateContact(ctx, &upd), store.ErrConflict, "another contact's address, in any case")
		got, err = s.GetContact(ctx, a.ID, c.ID)
		require.NoError(t, err)
		require.Equal(t, "ADA@EXAMPLE.ORG", got.Email, "a refused update changes nothing")
		upd.Email = "ada.lovelace@example.com"
		upd.TeamID = b.ID
		require.ErrorIs(t, s.UpdateContact(ctx, &upd), store.ErrNotFound, "another team's contact")
		upd.TeamID, upd.ID = a.ID, uuid.NewString()
		require.ErrorIs(t, s.UpdateContact(ctx, &upd), store.ErrNotFound, "an unknown contact")

		require.ErrorIs(t, s.DeleteContact(ctx, b.ID, bare.ID), store.ErrNotFound)
		require.ErrorIs(t, s.DeleteContact(ctx, a.ID, uuid.NewString()), store.ErrNotFound)
		require.NoError(t, s.DeleteContact(ctx, a.ID, bare.ID))
		_, err = s.GetContact(ctx, a.ID, bare.ID)
		require.ErrorIs(t, err, store.ErrNotFound)
		require.ErrorIs(t, s.DeleteContact(ctx, a.ID, bare.ID), store.ErrNotFound, "delete twice")
		require.NoError(t, s.CreateContact(ctx, newContact(a.ID, "bare@example.com")), "a deleted contact's address is free")
	})

	t.Run("ListContacts", func(t *testing.T) {
		t.Parallel()
		s := newStore(t, now)
		a, b := newTeam(t, s, "a"), newTeam(t, s, "b")
		var ids []string // oldest first
		for i := range 7 {
			c := newContact(a.ID, fmt.Sprintf("c%d@example.com", i))
			require.NoError(t, s.CreateContact(ctx, c))
			ids = append(ids, c.ID)
			require.NoError(t, s.CreateContact(ctx, newContact(b.ID, c.Email)))
		}
		page, more, err := s.ListContacts(ctx, a.ID, "", store.Page{Limit: 3})
		require.NoError(t, err)
		require.True(t, more)
		require.Equal(t, []string{ids[6], ids[5], ids[4]}, contactIDs(page))
		require.Equal(t, "c6@example.com", page[0].Email)
		require.NotNil(t, page[0].Properties)

		page, more, err = s.ListContacts(ctx, a.ID, "", store.Page{Limit: 3, After: ids[4]})
		require.NoError(t, err)
		require.True(t, more)
		require.Equal(t, []string{ids[3], ids[2], ids[1]}, contactIDs(page))
		page, more, err = s.ListContacts(ctx, a.ID, "", store.Page{Limit: 3, After: ids[1]})
		require.NoError(t, err)
		require.False(t, more)
		require.Equal(t, []string{ids[0]}, contactIDs(page))
		page, more, err = s.ListContacts(ctx, a.ID, "", store.Page{Limit: 2, Before: ids[2]})
		require.NoError(t, err)
		require.True(t, more, "newer items remain beyond the page")
		require.Equal(t, []string{ids[4], ids[3]}, contactIDs(page))
		page, more, err = s.ListContacts(ctx, a.ID, "", store.Page{Limit: 100, Before: ids[5]})
		require.NoError(t, err)
		require.False(t, more)
		require.Equal(t, []string{ids[6]}, contactIDs(page))
		page, more, err = s.ListContacts(ctx, a.ID, "", store.Page{Limit: 7})
		require.NoError(t, err)
		require.False(t, more, "exactly limit items: no more")
		require.Len(t, page, 7)

		_, _, err = s.ListContacts(ctx, b.ID, "", store.Page{Limit: 3, After: ids[3]})
		require.ErrorIs(t, err, store.ErrNotFound, "another team's cursor is unknown")
		_, _, err = s.ListContacts(ctx, a.ID, "", store.Page{Limit: 3, Before: uuid.NewString()})
		require.ErrorIs(t, err, store.ErrNotFound)
		page, _, err = s.ListContacts(ctx, b.ID, "", store.Page{Limit: 100})
		require.NoError(t, err)
		require.Len(t, page, 7)
		for _, c := range page {
			require.Equal(t, b.ID, c.TeamID, "each team lists its own")
		}
	})

	t.Run("Memberships", func(t *testing.T) {
		t.Parallel()
		s := newStore(t, now)
		a, b := newTeam(t, s, "a"), newTeam(t, s, "b")
		s1, s2, s3 := newSegment(t, s, a.ID, "one"), newSegment(t, s, a.ID, "two"), newSegment(t, s, a.ID, "three")
		theirs := newSegment(t, s, b.ID, "theirs")
		theirContact := newContact(b.ID, "them@example.com", theirs.ID)
		require.NoError(t, s.CreateContact(ctx, theirContact))

		// Created into segments, in the order given (a repeat is one membership).
		c1 := newContact(a.ID, "c1@example.com", s2.ID, s1.ID, s2.ID)
		require.NoError(t, s.CreateContact(ctx, c1))
		got, err := s.GetContact(ctx, a.ID, c1.ID)
		require.NoError(t, err)
		require.Equal(t, []string{s2.ID, s1.ID}, got.SegmentIDs, "oldest membership first")

		for _, seg := range []string{theirs.ID, uuid.NewString()} {
			bad := newContact(a.ID, "bad@example.com", s1.ID, seg)
			require.ErrorIs(t, s.CreateContact(ctx, bad), store.ErrNotFound)
			_, err = s.GetContact(ctx, a.ID, "bad@example.com")
			require.ErrorIs(t, err, store.ErrNotFound, "nothing of a refused create is written")
		}

		// Added later: ordered by the membership's time, then by insertion.
		c2 := newContact(a.ID, "c2@example.com")
		require.NoError(t, s.CreateContact(ctx, c2))
		require.NoError(t, s.AddContactToSegment(ctx, a.ID, c2.ID, s3.ID, t0.Add(2*time.Minute)))
		require.NoError(t, s.AddContactToSegment(ctx, a.ID, c2.ID, s1.ID, t0.Add(time.Minute)))
		require.NoError(t, s.AddContactToSegment(ctx, a.ID, c2.ID, s2.ID, t0.Add(2*time.Minute)))
		require.NoError(t, s.AddContactToSegment(ctx, a.ID, c2.ID, s3.ID, t0.Add(time.Hour)), "adding again is no error")
		got, err = s.GetContact(ctx, a.ID, "C2@example.com")
		require.NoError(t, err)
		require.Equal(t, []string{s1.ID, s3.ID, s2.ID}, got.SegmentIDs, "a repeated add keeps the first membership")

		c3 := newContact(a.ID, "c3@example.com", s1.ID)
		require.NoError(t, s.CreateContact(ctx, c3))
		c4 := newContact(a.ID, "c4@example.com")
		require.NoError(t, s.CreateContact(ctx, c4))

		// Another team's or unknown ids, every way round.
		for _, ref := range []struct{ team, contact, segment string }{
			{a.ID, c4.ID, theirs.ID},
			{a.ID, theirContact.ID, s1.ID},
			{a.ID, uuid.NewString(), s1.ID},
			{a.ID, c4.ID, uuid.NewString()},
			{b.ID, c4.ID, s1.ID},
			{b.ID, c4.ID, theirs.ID},
			{b.ID, theirContact.ID, s1.ID},
		} {
			require.ErrorIs(t, s.AddContactToSegment(ctx, ref.team, ref.contact, ref.segment, t0), store.ErrNotFound, "%+v", ref)
		}
		for _, ref := range []struct{ team, contact, segment string }{
			{b.ID, c1.ID, s1.ID},
			{a.ID, theirContact.ID, theirs.ID},
			{a.ID, c4.ID, s1.ID}, // both the team's, not a member
			{a.ID, uuid.NewString(), s1.ID},
		} {
			require.ErrorIs(t, s.RemoveContactFromSegment(ctx, ref.team, ref.contact, ref.segment), store.ErrNotFound, "%+v", ref)
		}
		got, err = s.GetContact(ctx, a.ID, c4.ID)
		require.NoError(t, err)
		require.Empty(t, got.SegmentIDs)

		// A segment's contacts, newest first.
		page, more, err := s.ListContacts(ctx, a.ID, s1.ID, store.Page{Limit: 10})
		require.NoError(t, err)
		require.False(t, more)
		require.Equal(t, []string{c3.ID, c2.ID, c1.ID}, contactIDs(page))
		page, more, err = s.ListContacts(ctx, a.ID, s1.ID, store.Page{Limit: 1})
		require.NoError(t, err)
		require.True(t, more)
		require.Equal(t, []string{c3.ID}, contactIDs(page))
		page, more, err = s.ListContacts(ctx, a.ID, s1.ID, store.Page{Limit: 1, After: c3.ID})
		require.NoError(t, err)
		require.True(t, more)
		require.Equal(t, []string{c2.ID}, contactIDs(page))
		page, more, err = s.ListContacts(ctx, a.ID, s1.ID, store.Page{Limit: 1, Before: c1.ID})
		require.NoError(t, err)
		require.True(t, more)
		require.Equal(t, []string{c2.ID}, contactIDs(page))
		page, more, err = s.ListContacts(ctx, a.ID, s1.ID, store.Page{Limit: 5, Before: c2.ID})
		require.NoError(t, err)
		require.False(t, more)
		require.Equal(t, []string{c3.ID}, contactIDs(page))
		page, _, err = s.ListContacts(ctx, a.ID, s3.ID, store.Page{Limit: 5, After: c4.ID})
		require.NoError(t, err)
		require.Equal(t, []string{c2.ID}, contactIDs(page), "a cursor may be any of the team's contacts")
		page, _, err = s.ListContacts(ctx, a.ID, s2.ID, store.Page{Limit: 5})
		require.NoError(t, err)
		require.Equal(t, []string{c2.ID, c1.ID}, contactIDs(page))
		_, _, err = s.ListContacts(ctx, a.ID, s1.ID, store.Page{Limit: 5, After: theirContact.ID})
		require.ErrorIs(t, err, store.ErrNotFound, "another team's cursor is unknown")
		for _, seg := range []string{theirs.ID, uuid.NewString()} {
			_, _, err = s.ListContacts(ctx, a.ID, seg, store.Page{Limit: 5})
			require.ErrorIs(t, err, store.ErrNotFound)
		}
		_, _, err = s.ListContacts(ctx, b.ID, s1.ID, store.Page{Limit: 5})
		require.ErrorIs(t, err, store.ErrNotFound)

		// A contact's segments, newest (segment) first.
		segs, more, err := s.ListContactSegments(ctx, a.ID, c2.ID, store.Page{Limit: 10})
		require.NoError(t, err)
		require.False(t, more)
		require.Equal(t, []string{s3.ID, s2.ID, s1.ID}, segmentIDs(segs))
		require.Equal(t, s3, segs[0])
		segs, more, err = s.ListContactSegments(ctx, a.ID, c2.ID, store.Page{Limit: 1, After: s3.ID})
		require.NoError(t, err)
		require.True(t, more)
		require.Equal(t, []string{s2.ID}, segmentIDs(segs))
		segs, more, err = s.ListContactSegments(ctx, a.ID, c2.ID, store.Page{Limit: 1, Before: s1.ID})
		require.NoError(t, err)
		require.True(t, more)
		require.Equal(t, []string{s2.ID}, segmentIDs(segs))
		segs, more, err = s.ListContactSegments(ctx, a.ID, c1.ID, store.Page{Limit: 2, Before: s1.ID})
		require.NoError(t, err)
		require.False(t, more)
		require.Equal(t, []string{s2.ID}, segmentIDs(segs), "a contact's segments only")
		segs, _, err = s.ListContactSegments(ctx, a.ID, c4.ID, store.Page{Limit: 2})
		require.NoError(t, err)
		require.Empty(t, segs)
		_, _, err = s.ListContactSegments(ctx, a.ID, c2.ID, store.Page{Limit: 2, After: theirs.ID})
		require.ErrorIs(t, err, store.ErrNotFound, "another team's cursor is unknown")
		_, _, err = s.ListContactSegments(ctx, a.ID, c2.ID, store.Page{Limit: 2, After: uuid.NewString()})
		require.ErrorIs(t, err, store.ErrNotFound)
		for _, ref := range []struct{ team, contact string }{{b.ID, c2.ID}, {a.ID, theirContact.ID}, {a.ID, uuid.NewString()}} {
			_, _, err = s.ListContactSegments(ctx, ref.team, ref.contact, store.Page{Limit: 2})
			require.ErrorIs(t, err, store.ErrNotFound, "%+v", ref)
		}

		// Removing a membership.
		require.NoError(t, s.RemoveContactFromSegment(ctx, a.ID, c2.ID, s3.ID))
		require.ErrorIs(t, s.RemoveContactFromSegment(ctx, a.ID, c2.ID, s3.ID), store.ErrNotFound, "remove twice")
		got, err = s.GetContact(ctx, a.ID, c2.ID)
		require.NoError(t, err)
		require.Equal(t, []string{s1.ID, s2.ID}, got.SegmentIDs)
		page, _, err = s.ListContacts(ctx, a.ID, s3.ID, store.Page{Limit: 5})
		require.NoError(t, err)
		require.Empty(t, page)
		require.NoError(t, s.AddContactToSegment(ctx, a.ID, c2.ID, s3.ID, t0), "a removed membership can come back")
		got, err = s.GetContact(ctx, a.ID, c2.ID)
		require.NoError(t, err)
		require.Equal(t, []string{s3.ID, s1.ID, s2.ID}, got.SegmentIDs, "with its new time")

		// Deleting a contact ends its memberships.
		require.NoError(t, s.DeleteContact(ctx, a.ID, c1.ID))
		page, _, err = s.ListContacts(ctx, a.ID, s2.ID, store.Page{Limit: 5})
		require.NoError(t, err)
		require.Equal(t, []string{c2.ID}, contactIDs(page))
		again := newContact(a.ID, "c1@example.com")
		again.ID = c1.ID
		require.NoError(t, s.CreateContact(ctx, again), "the id and address are free again")
		got, err = s.GetContact(ctx, a.ID, c1.ID)
		require.NoError(t, err)
		require.Empty(t, got.SegmentIDs, "the new contact inherits no membership")

		// Deleting a segment keeps its contacts.
		require.NoError(t, s.DeleteSegment(ctx, a.ID, s1.ID))
		got, err = s.GetContact(ctx, a.ID, c2.ID)
		require.NoError(t, err)
		require.Equal(t, []string{s3.ID, s2.ID}, got.SegmentIDs)
		_, err = s.GetContact(ctx, a.ID, c3.ID)
		require.NoError(t, err, "a contact outlives its segment")
		_, _, err = s.ListContacts(ctx, a.ID, s1.ID, store.Page{Limit: 5})
		require.ErrorIs(t, err, store.ErrNotFound)
		require.ErrorIs(t, s.AddContactToSegment(ctx, a.ID, c3.ID, s1.ID, t0), store.ErrNotFound)
		segs, _, err = s.ListContactSegments(ctx, a.ID, c3.ID, store.Page{Limit: 5})
		require.NoError(t, err)
		require.Empty(t, segs)
		page, _, err = s.ListContacts(ctx, a.ID, "", store.Page{Limit: 10})
		require.NoError(t, err)
		require.Len(t, page, 4)

		// Team b's membership is untouched throughout.
		got, err = s.GetContact(ctx, b.ID, theirContact.ID)
		require.NoError(t, err)
		require.Equal(t, []string{theirs.ID}, got.SegmentIDs)
	})

	t.Run("Events", func(t *testing.T) {
		t.Parallel()
		s := newStore(t, now)
		a, b := newTeam(t, s, "a"), newTeam(t, s, "b")
		ev := func(typ string) *store.Event {
			return &store.Event{ID: uuid.NewString(), TeamID: a.ID, Type: typ, Data: []byte(`{"type":"` + typ + `"}`), CreatedAt: t0}
		}
		seg := newSegment(t, s, a.ID, "s")
		c := newContact(a.ID, "c@example.com", seg.ID)
		require.NoError(t, s.CreateContact(ctx, c, ev("contact.created")))
		require.ErrorIs(t, s.CreateContact(ctx, newContact(a.ID, "C@example.com"), ev("contact.created")), store.ErrConflict)
		require.ErrorIs(t, s.CreateContact(ctx, newContact(a.ID, "new@example.com", uuid.NewString()), ev("contact.created")),
			store.ErrNotFound)
		other := newContact(a.ID, "other@example.com")
		require.NoError(t, s.CreateContact(ctx, other))

		upd := *c
		upd.Email = "OTHER@example.com"
		require.ErrorIs(t, s.UpdateContact(ctx, &upd, ev("contact.updated")), store.ErrConflict)
		upd.Email, upd.TeamID = "d@example.com", b.ID
		require.ErrorIs(t, s.UpdateContact(ctx, &upd, ev("contact.updated")), store.ErrNotFound)
		upd.TeamID = a.ID
		require.NoError(t, s.UpdateContact(ctx, &upd, ev("contact.updated")))
		require.ErrorIs(t, s.DeleteContact(ctx, b.ID, c.ID, ev("contact.deleted")), store.ErrNotFound)
		require.NoError(t, s.DeleteContact(ctx, a.ID, c.ID, ev("contact.deleted")))
		require.ErrorIs(t, s.DeleteContact(ctx, a.ID, c.ID, ev("contact.deleted")), store.ErrNotFound)

		events, err := s.ListEvents(ctx, a.ID, "", 10)
		require.NoError(t, err)
		var types []string
		for _, e := range events {
			types = append(types, e.Type)
		}
		require.Equal(t, []string{"contact.created", "contact.updated", "contact.deleted"}, types,
			"events commit with their change, and not for a change refused")
		_, err = s.GetContact(ctx, a.ID, "new@example.com")
		require.ErrorIs(t, err, store.ErrNotFound)
	})
}
