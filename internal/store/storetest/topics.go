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

func topicIDs(list []*store.Topic) []string {
	out := []string{}
	for _, t := range list {
		out = append(out, t.ID)
	}
	return out
}

// contactTopicsOf summarises a contact's topics as "topic id=subscription"
// (with a * for an explicit choice), in the order listed.
func contactTopicsOf(list []*store.ContactTopic) []string {
	out := []string{}
	for _, ct := range list {
		s := ct.Topic.ID + "=" + ct.Subscription
		if ct.Explicit {
			s += "*"
		}
		out = append(out, s)
	}
	return out
}

func newTopic(t *testing.T, s store.Store, teamID, name, def string) *store.Topic {
	t.Helper()
	topic := &store.Topic{ID: uuid.NewString(), TeamID: teamID, Name: name, DefaultSubscription: def,
		Visibility: store.TopicPrivate, CreatedAt: t0, UpdatedAt: t0}
	require.NoError(t, s.CreateTopic(context.Background(), topic))
	return topic
}

func sub(topicID, subscription string) store.TopicSubscription {
	return store.TopicSubscription{TopicID: topicID, Subscription: subscription}
}

// testTopics is the topics part of the suite.
func testTopics(t *testing.T, newStore NewStore) {
	now := func() time.Time { return t0 }
	ctx := context.Background()
	const in, out = store.SubscriptionOptIn, store.SubscriptionOptOut

	t.Run("Topics", func(t *testing.T) {
		t.Parallel()
		s := newStore(t, now)
		a, b := newTeam(t, s, "a"), newTeam(t, s, "b")
		var all []*store.Topic // oldest first
		for i := range 5 {
			def := in
			if i%2 == 1 {
				def = out
			}
			all = append(all, newTopic(t, s, a.ID, fmt.Sprint("topic ", i), def))
			newTopic(t, s, b.ID, fmt.Sprint("topic ", i), in)
		}
		ids := topicIDs(all)
		full := &store.Topic{ID: uuid.NewString(), TeamID: a.ID, Name: "Newsletter", Description: "Once a month",
			DefaultSubscription: out, Visibility: store.TopicPublic, CreatedAt: t0, UpdatedAt: t0.Add(time.Second)}
		require.NoError(t, s.CreateTopic(ctx, full))

		got, err := s.GetTopic(ctx, a.ID, full.ID)
		require.NoError(t, err)
		require.Equal(t, full, got)
		got, err = s.GetTopic(ctx, a.ID, ids[1])
		require.NoError(t, err)
		require.Equal(t, all[1], got)
		require.Equal(t, "", got.Description)
		for _, id := range []string{ids[1], full.ID, uuid.NewString(), ""} {
			_, err = s.GetTopic(ctx, b.ID, id)
			require.ErrorIs(t, err, store.ErrNotFound, "team b: %q", id)
		}
		dup := *all[0]
		require.ErrorIs(t, s.CreateTopic(ctx, &dup), store.ErrConflict, "ids are unique")

		// Newest first, paginated both ways.
		page, more, err := s.ListTopics(ctx, a.ID, store.Page{Limit: 6})
		require.NoError(t, err)
		require.False(t, more, "exactly limit items: no more")
		require.Equal(t, []string{full.ID, ids[4], ids[3], ids[2], ids[1], ids[0]}, topicIDs(page))
		require.Equal(t, full, page[0])
		page, more, err = s.ListTopics(ctx, a.ID, store.Page{Limit: 2, After: ids[4]})
		require.NoError(t, err)
		require.True(t, more)
		require.Equal(t, []string{ids[3], ids[2]}, topicIDs(page))
		page, more, err = s.ListTopics(ctx, a.ID, store.Page{Limit: 2, After: ids[1]})
		require.NoError(t, err)
		require.False(t, more)
		require.Equal(t, []string{ids[0]}, topicIDs(page))
		page, more, err = s.ListTopics(ctx, a.ID, store.Page{Limit: 2, Before: ids[1]})
		require.NoError(t, err)
		require.True(t, more, "newer items remain beyond the page")
		require.Equal(t, []string{ids[3], ids[2]}, topicIDs(page))
		page, _, err = s.ListTopics(ctx, a.ID, store.Page{})
		require.NoError(t, err)
		require.Len(t, page, 6, "a zero limit is the default")
		_, _, err = s.ListTopics(ctx, b.ID, store.Page{Limit: 2, After: ids[3]})
		require.ErrorIs(t, err, store.ErrNotFound, "another team's cursor is unknown")
		page, _, err = s.ListTopics(ctx, b.ID, store.Page{Limit: 100})
		require.NoError(t, err)
		require.Len(t, page, 5)
		for _, topic := range page {
			require.Equal(t, b.ID, topic.TeamID, "each team lists its own")
		}

		// Update: name, description and visibility; never the default.
		upd := *full
		upd.Name, upd.Description, upd.Visibility = "Digest", "", store.TopicPrivate
		upd.DefaultSubscription, upd.CreatedAt, upd.UpdatedAt = in, t0.Add(time.Hour), t0.Add(time.Minute)
		require.NoError(t, s.UpdateTopic(ctx, &upd))
		got, err = s.GetTopic(ctx, a.ID, full.ID)
		require.NoError(t, err)
		require.Equal(t, &store.Topic{ID: full.ID, TeamID: a.ID, Name: "Digest", DefaultSubscription: out,
			Visibility: store.TopicPrivate, CreatedAt: t0, UpdatedAt: t0.Add(time.Minute)}, got)
		stolen := upd
		stolen.TeamID = b.ID
		require.ErrorIs(t, s.UpdateTopic(ctx, &stolen), store.ErrNotFound)
		stolen.TeamID, stolen.ID = a.ID, uuid.NewString()
		require.ErrorIs(t, s.UpdateTopic(ctx, &stolen), store.ErrNotFound)

		require.ErrorIs(t, s.DeleteTopic(ctx, b.ID, ids[2]), store.ErrNotFound)
		require.NoError(t, s.DeleteTopic(ctx, a.ID, ids[2]))
		_, err = s.GetTopic(ctx, a.ID, ids[2])
		require.ErrorIs(t, err, store.ErrNotFound)
		require.ErrorIs(t, s.DeleteTopic(ctx, a.ID, ids[2]), store.ErrNotFound, "delete twice")
		_, _, err = s.ListTopics(ctx, a.ID, store.Page{Limit: 2, After: ids[2]})
		require.ErrorIs(t, err, store.ErrNotFound, "a deleted topic is an unknown cursor")
	})

	t.Run("Subscriptions", func(t *testing.T) {
		t.Parallel()
		s := newStore(t, now)
		a, b := newTeam(t, s, "a"), newTeam(t, s, "b")
		news, promo, digest := newTopic(t, s, a.ID, "news", in), newTopic(t, s, a.ID, "promo", out), newTopic(t, s, a.ID, "digest", in)
		theirs := newTopic(t, s, b.ID, "theirs", in)
		c := newContact(a.ID, "c@example.com")
		require.NoError(t, s.CreateContact(ctx, c))
		theirContact := newContact(b.ID, "them@example.com")
		require.NoError(t, s.CreateContact(ctx, theirContact))

		list, more, err := s.ListContactTopics(ctx, a.ID, c.ID, store.Page{Limit: 10})
		require.NoError(t, err)
		require.False(t, more)
		require.Equal(t, []string{digest.ID + "=opt_in", promo.ID + "=opt_out", news.ID + "=opt_in"}, contactTopicsOf(list),
			"every topic, with its default while the contact has not chosen")
		require.Equal(t, promo, list[1].Topic)

		// Several at once; a topic named twice takes the last choice.
		require.NoError(t, s.SetContactTopics(ctx, a.ID, c.ID,
			[]store.TopicSubscription{sub(promo.ID, out), sub(news.ID, in), sub(promo.ID, in)}, t0))
		list, _, err = s.ListContactTopics(ctx, a.ID, c.ID, store.Page{Limit: 10})
		require.NoError(t, err)
		require.Equal(t, []string{digest.ID + "=opt_in", promo.ID + "=opt_in*", news.ID + "=opt_in*"}, contactTopicsOf(list))
		require.NoError(t, s.SetContactTopics(ctx, a.ID, c.ID, []store.TopicSubscription{sub(news.ID, out)}, t0.Add(time.Minute)))
		list, _, err = s.ListContactTopics(ctx, a.ID, c.ID, store.Page{Limit: 10})
		require.NoError(t, err)
		require.Equal(t, []string{digest.ID + "=opt_in", promo.ID + "=opt_in*", news.ID + "=opt_out*"}, contactTopicsOf(list),
			"a later choice replaces the earlier; others stay")
		require.NoError(t, s.SetContactTopics(ctx, a.ID, c.ID, nil, t0), "nothing to set is no error")

		// Pages of a contact's topics follow the topics' order.
		list, more, err = s.ListContactTopics(ctx, a.ID, c.ID, store.Page{Limit: 1, After: digest.ID})
		require.NoError(t, err)
		require.True(t, more)
		require.Equal(t, []string{promo.ID + "=opt_in*"}, contactTopicsOf(list))
		list, more, err = s.ListContactTopics(ctx, a.ID, c.ID, store.Page{Limit: 1, Before: news.ID})
		require.NoError(t, err)
		require.True(t, more)
		require.Equal(t, []string{promo.ID + "=opt_in*"}, contactTopicsOf(list))
		_, _, err = s.ListContactTopics(ctx, a.ID, c.ID, store.Page{Limit: 1, After: theirs.ID})
		require.ErrorIs(t, err, store.ErrNotFound, "another team's cursor is unknown")

		// Refused: nothing of the request is written.
		for _, bad := range [][]store.TopicSubscription{
			{sub(digest.ID, out), sub(theirs.ID, in)},
			{sub(digest.ID, out), sub(uuid.NewString(), in)},
		} {
			err := s.SetContactTopics(ctx, a.ID, c.ID, bad, t0)
			require.ErrorIs(t, err, store.ErrUnknownTopic)
			require.ErrorIs(t, err, store.ErrNotFound, "an unknown topic is also ErrNotFound")
		}
		for _, ref := range []struct{ team, contact string }{{b.ID, c.ID}, {a.ID, theirContact.ID}, {a.ID, uuid.NewString()}} {
			err := s.SetContactTopics(ctx, ref.team, ref.contact, []store.TopicSubscription{sub(digest.ID, out)}, t0)
			require.ErrorIs(t, err, store.ErrNotFound, "%+v", ref)
			require.NotErrorIs(t, err, store.ErrUnknownTopic, "%+v", ref)
			_, _, err = s.ListContactTopics(ctx, ref.team, ref.contact, store.Page{Limit: 10})
			require.ErrorIs(t, err, store.ErrNotFound, "%+v", ref)
		}
		list, _, err = s.ListContactTopics(ctx, a.ID, c.ID, store.Page{Limit: 10})
		require.NoError(t, err)
		require.Equal(t, []string{digest.ID + "=opt_in", promo.ID + "=opt_in*", news.ID + "=opt_out*"}, contactTopicsOf(list))
		list, _, err = s.ListContactTopics(ctx, b.ID, theirContact.ID, store.Page{Limit: 10})
		require.NoError(t, err)
		require.Equal(t, []string{theirs.ID + "=opt_in"}, contactTopicsOf(list), "each team sees its own topics")

		// Created with subscriptions, atomically.
		c2 := newContact(a.ID, "c2@example.com")
		c2.Topics = []store.TopicSubscription{sub(digest.ID, out), sub(promo.ID, in)}
		require.NoError(t, s.CreateContact(ctx, c2))
		got, err := s.GetContact(ctx, a.ID, c2.ID)
		require.NoError(t, err)
		require.Nil(t, got.Topics, "GetContact leaves the topics out")
		list, _, err = s.ListContactTopics(ctx, a.ID, c2.ID, store.Page{Limit: 10})
		require.NoError(t, err)
		require.Equal(t, []string{digest.ID + "=opt_out*", promo.ID + "=opt_in*", news.ID + "=opt_in"}, contactTopicsOf(list))
		bad := newContact(a.ID, "bad@example.com")
		bad.Topics = []store.TopicSubscription{sub(digest.ID, out), sub(theirs.ID, in)}
		require.ErrorIs(t, s.CreateContact(ctx, bad), store.ErrUnknownTopic)
		_, err = s.GetContact(ctx, a.ID, "bad@example.com")
		require.ErrorIs(t, err, store.ErrNotFound, "nothing of a refused create is written")

		// Deleting a topic removes its subscriptions; deleting a contact, its own.
		require.NoError(t, s.DeleteTopic(ctx, a.ID, promo.ID))
		list, _, err = s.ListContactTopics(ctx, a.ID, c.ID, store.Page{Limit: 10})
		require.NoError(t, err)
		require.Equal(t, []string{digest.ID + "=opt_in", news.ID + "=opt_out*"}, contactTopicsOf(list))
		again := *promo
		require.NoError(t, s.CreateTopic(ctx, &again))
		list, _, err = s.ListContactTopics(ctx, a.ID, c2.ID, store.Page{Limit: 1})
		require.NoError(t, err)
		require.Equal(t, []string{promo.ID + "=opt_out"}, contactTopicsOf(list), "a topic made again inherits no choice")
		require.NoError(t, s.DeleteContact(ctx, a.ID, c.ID))
		back := newContact(a.ID, "c@example.com")
		back.ID = c.ID
		require.NoError(t, s.CreateContact(ctx, back))
		list, _, err = s.ListContactTopics(ctx, a.ID, c.ID, store.Page{Limit: 10})
		require.NoError(t, err)
		require.Equal(t, []string{promo.ID + "=opt_out", digest.ID + "=opt_in", news.ID + "=opt_in"}, contactTopicsOf(list),
			"a contact made again inherits no choice")
	})

	t.Run("TopicSubscriptionsAmong", func(t *testing.T) {
		t.Parallel()
		s := newStore(t, now)
		a, b := newTeam(t, s, "a"), newTeam(t, s, "b")
		optIn, optOut := newTopic(t, s, a.ID, "in", in), newTopic(t, s, a.ID, "out", out)
		theirs := newTopic(t, s, b.ID, "theirs", in)
		yes := newContact(a.ID, "Yes@Example.com")
		yes.Topics = []store.TopicSubscription{sub(optIn.ID, in), sub(optOut.ID, in)}
		no := newContact(a.ID, "no@example.com")
		no.Topics = []store.TopicSubscription{sub(optIn.ID, out), sub(optOut.ID, out)}
		quiet := newContact(a.ID, "quiet@example.com")
		for _, c := range []*store.Contact{yes, no, quiet} {
			require.NoError(t, s.CreateContact(ctx, c))
		}
		other := newContact(b.ID, "stranger@example.com")
		other.Topics = []store.TopicSubscription{sub(theirs.ID, out)}
		require.NoError(t, s.CreateContact(ctx, other))

		addrs := []string{"yes@example.com", "NO@example.com", "quiet@example.com", "stranger@example.com"}
		got, err := s.TopicSubscriptionsAmong(ctx, a.ID, optIn.ID, addrs)
		require.NoError(t, err)
		require.Equal(t, map[string]string{"yes@example.com": in, "NO@example.com": out, "quiet@example.com": in,
			"stranger@example.com": in}, got, "own choice, else the default; another team's contact is a stranger here")
		got, err = s.TopicSubscriptionsAmong(ctx, a.ID, optOut.ID, addrs)
		require.NoError(t, err)
		require.Equal(t, map[string]string{"yes@example.com": in, "NO@example.com": out, "quiet@example.com": out,
			"stranger@example.com": out}, got)
		got, err = s.TopicSubscriptionsAmong(ctx, b.ID, theirs.ID, addrs)
		require.NoError(t, err)
		require.Equal(t, map[string]string{"yes@example.com": in, "NO@example.com": in, "quiet@example.com": in,
			"stranger@example.com": out}, got)
		got, err = s.TopicSubscriptionsAmong(ctx, a.ID, optOut.ID, nil)
		require.NoError(t, err)
		require.Empty(t, got)

		for _, ref := range []struct{ team, topic string }{{a.ID, theirs.ID}, {b.ID, optIn.ID}, {a.ID, uuid.NewString()}} {
			_, err = s.TopicSubscriptionsAmong(ctx, ref.team, ref.topic, addrs)
			require.ErrorIs(t, err, store.ErrNotFound, "%+v", ref)
			_, err = s.TopicSubscriptionsAmong(ctx, ref.team, ref.topic, nil)
			require.ErrorIs(t, err, store.ErrNotFound, "%+v: even with no address", ref)
		}

		// Many addresses: more than one IN list.
		var lookup []string
		for i := range 1500 {
			lookup = append(lookup, fmt.Sprintf("m%d@example.com", i))
		}
		lookup = append(lookup, "yes@example.com")
		got, err = s.TopicSubscriptionsAmong(ctx, a.ID, optOut.ID, lookup)
		require.NoError(t, err)
		require.Len(t, got, 1501)
		require.Equal(t, out, got["m1499@example.com"])
		require.Equal(t, in, got["yes@example.com"])
	})

	t.Run("Events", func(t *testing.T) {
		t.Parallel()
		s := newStore(t, now)
		a, b := newTeam(t, s, "a"), newTeam(t, s, "b")
		ev := func(typ string) *store.Event {
			return &store.Event{ID: uuid.NewString(), TeamID: a.ID, Type: typ, Data: []byte(`{"type":"` + typ + `"}`), CreatedAt: t0}
		}
		topic := &store.Topic{ID: uuid.NewString(), TeamID: a.ID, Name: "t", DefaultSubscription: in, Visibility: store.TopicPrivate,
			CreatedAt: t0, UpdatedAt: t0}
		require.NoError(t, s.CreateTopic(ctx, topic, ev("topic.created")))
		dup := *topic
		require.ErrorIs(t, s.CreateTopic(ctx, &dup, ev("topic.created")), store.ErrConflict)
		upd := *topic
		upd.Name = "u"
		require.NoError(t, s.UpdateTopic(ctx, &upd, ev("topic.updated")))
		upd.TeamID = b.ID
		require.ErrorIs(t, s.UpdateTopic(ctx, &upd, ev("topic.updated")), store.ErrNotFound)

		c := newContact(a.ID, "c@example.com")
		require.NoError(t, s.CreateContact(ctx, c))
		require.NoError(t, s.SetContactTopics(ctx, a.ID, c.ID, []store.TopicSubscription{sub(topic.ID, out)}, t0,
			ev("contact.topics.updated")))
		require.ErrorIs(t, s.SetContactTopics(ctx, a.ID, c.ID, []store.TopicSubscription{sub(uuid.NewString(), out)}, t0,
			ev("contact.topics.updated")), store.ErrUnknownTopic)
		require.ErrorIs(t, s.SetContactTopics(ctx, b.ID, c.ID, []store.TopicSubscription{sub(topic.ID, out)}, t0,
			ev("contact.topics.updated")), store.ErrNotFound)
		require.ErrorIs(t, s.DeleteTopic(ctx, b.ID, topic.ID, ev("topic.deleted")), store.ErrNotFound)
		require.NoError(t, s.DeleteTopic(ctx, a.ID, topic.ID, ev("topic.deleted")))

		events, err := s.ListEvents(ctx, a.ID, "", 10)
		require.NoError(t, err)
		var types []string
		for _, e := range events {
			types = append(types, e.Type)
		}
		require.Equal(t, []string{"topic.created", "topic.updated", "contact.topics.updated", "topic.deleted"}, types,
			"events commit with their change, and not for a change refused")
	})
}
