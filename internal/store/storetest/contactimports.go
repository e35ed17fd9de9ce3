package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/godwit/godwit/internal/store"
)

// testContactImports is the contact imports part of the suite.
func testContactImports(t *testing.T, newStore NewStore) {
	ctx := context.Background()
	now := func() time.Time { return t0 }
	s := newStore(t, now)
	a, b := newTeam(t, s, "a"), newTeam(t, s, "b")

	done := t0.Add(time.Second)
	var ids []string
	for i, st := range []string{store.ImportCompleted, store.ImportFailed, store.ImportCompleted, store.ImportQueued} {
		ci := &store.ContactImport{ID: uuid.NewString(), TeamID: a.ID, Status: st,
			Counts:    store.ContactImportCounts{Total: 10 + i, Created: 1, Updated: 2, Skipped: 3, Failed: 4},
			CreatedAt: t0.Add(time.Duration(i) * time.Minute), RowOffset: 10 + i}
		if st != store.ImportQueued {
			ci.CompletedAt = &done
		}
		if st == store.ImportFailed {
			ci.Reason = "the reason"
		}
		require.NoError(t, s.CreateContactImport(ctx, ci, nil))
		got, err := s.GetContactImport(ctx, a.ID, ci.ID)
		require.NoError(t, err)
		require.Equal(t, ci, got)
		ids = append(ids, ci.ID)
	}
	require.ErrorIs(t, s.CreateContactImport(ctx, &store.ContactImport{ID: ids[0], TeamID: a.ID, Status: store.ImportCompleted,
		CreatedAt: t0}, nil), store.ErrConflict)
	_, err := s.GetContactImport(ctx, b.ID, ids[0])
	require.ErrorIs(t, err, store.ErrNotFound, "another team's")
	_, err = s.GetContactImport(ctx, a.ID, uuid.NewString())
	require.ErrorIs(t, err, store.ErrNotFound)

	idsOf := func(list []*store.ContactImport) []string {
		out := []string{}
		for _, ci := range list {
			out = append(out, ci.ID)
		}
		return out
	}
	list, more, err := s.ListContactImports(ctx, a.ID, "", store.Page{})
	require.NoError(t, err)
	require.False(t, more)
	require.Equal(t, []string{ids[3], ids[2], ids[1], ids[0]}, idsOf(list))

	list, more, err = s.ListContactImports(ctx, a.ID, store.ImportCompleted, store.Page{Limit: 1})
	require.NoError(t, err)
	require.True(t, more)
	require.Equal(t, []string{ids[2]}, idsOf(list))
	list, more, err = s.ListContactImports(ctx, a.ID, store.ImportCompleted, store.Page{Limit: 1, After: ids[2]})
	require.NoError(t, err)
	require.False(t, more)
	require.Equal(t, []string{ids[0]}, idsOf(list))
	list, _, err = s.ListContactImports(ctx, a.ID, store.ImportCompleted, store.Page{Before: ids[0]})
	require.NoError(t, err)
	require.Equal(t, []string{ids[2]}, idsOf(list))
	list, _, err = s.ListContactImports(ctx, a.ID, store.ImportInProgress, store.Page{})
	require.NoError(t, err)
	require.Empty(t, list)

	list, _, err = s.ListContactImports(ctx, b.ID, "", store.Page{})
	require.NoError(t, err)
	require.Empty(t, list, "another team's")
	_, _, err = s.ListContactImports(ctx, b.ID, "", store.Page{After: ids[0]})
	require.ErrorIs(t, err, store.ErrNotFound, "another team's cursor")
}

// testContactImportJobs is the part of the suite an import's job relies
// on: the source stored with the record, the move to in_progress, batches
// that commit all or nothing behind the import's progress, and failure.
func testContactImportJobs(t *testing.T, newStore NewStore) {
	ctx := context.Background()
	s := newStore(t, func() time.Time { return t0 })
	a, b := newTeam(t, s, "a"), newTeam(t, s, "b")
	seg := newSegment(t, s, a.ID, "imported")
	topic := newTopic(t, s, a.ID, "news", store.SubscriptionOptOut)
	old := newContact(a.ID, "Old@example.net")
	require.NoError(t, s.CreateContact(ctx, old))

	ci := &store.ContactImport{ID: uuid.NewString(), TeamID: a.ID, Status: store.ImportQueued, CreatedAt: t0}
	src := &store.ContactImportSource{CSV: []byte("email\nx@example.net\n\x00\xff"), Options: []byte(`{"upsert":true}`)}
	require.NoError(t, s.CreateContactImport(ctx, ci, src))
	got, err := s.GetContactImportSource(ctx, a.ID, ci.ID)
	require.NoError(t, err)
	require.Equal(t, src, got, "the CSV's bytes as they are")
	_, err = s.GetContactImportSource(ctx, b.ID, ci.ID)
	require.ErrorIs(t, err, store.ErrNotFound, "another team's")

	batch := func(from, to int) *store.ContactImportBatch {
		return &store.ContactImportBatch{TeamID: a.ID, ImportID: ci.ID, From: from, To: to, At: t0.Add(time.Minute)}
	}
	require.ErrorIs(t, s.WriteContactImportBatch(ctx, batch(0, 1)), store.ErrImportState, "a queued import takes no batch")
	started, err := s.StartContactImport(ctx, a.ID, ci.ID)
	require.NoError(t, err)
	require.Equal(t, store.ImportInProgress, started.Status)
	started, err = s.StartContactImport(ctx, a.ID, ci.ID)
	require.NoError(t, err)
	require.Equal(t, store.ImportInProgress, started.Status, "a second start changes nothing")
	_, err = s.StartContactImport(ctx, b.ID, ci.ID)
	require.ErrorIs(t, err, store.ErrNotFound)

	found, err := s.ContactsByEmail(ctx, a.ID, []string{"OLD@EXAMPLE.NET", "none@example.net"})
	require.NoError(t, err)
	require.Len(t, found, 1)
	require.Equal(t, old.ID, found[0].ID)
	others, err := s.ContactsByEmail(ctx, b.ID, []string{"old@example.net"})
	require.NoError(t, err)
	require.Empty(t, others, "another team's")

	// A batch that creates one contact and updates another.
	fresh := newContact(a.ID, "fresh@example.net")
	fresh.SegmentIDs, fresh.Topics = []string{seg.ID}, []store.TopicSubscription{sub(topic.ID, store.SubscriptionOptIn)}
	upd := *found[0]
	upd.FirstName, upd.Properties, upd.UpdatedAt = strPtr("Olga"), map[string]any{"tier": "gold"}, t0.Add(time.Minute)
	upd.SegmentIDs, upd.Topics = []string{seg.ID}, []store.TopicSubscription{sub(topic.ID, store.SubscriptionOptIn)}
	one := batch(0, 3)
	one.Create, one.Update = []*store.Contact{fresh}, []*store.ContactImportUpdate{{Contact: &upd, Read: found[0].UpdatedAt}}
	one.Counts = store.ContactImportCounts{Total: 3, Created: 1, Updated: 1, Failed: 1}
	require.NoError(t, s.WriteContactImportBatch(ctx, one))
	require.ErrorIs(t, s.WriteContactImportBatch(ctx, one), store.ErrImportState, "the same batch again")
	for _, email := range []string{"fresh@example.net", "old@example.net"} {
		c, err := s.GetContact(ctx, a.ID, email)
		require.NoError(t, err)
		require.Equal(t, []string{seg.ID}, c.SegmentIDs, email)
		topics, _, err := s.ListContactTopics(ctx, a.ID, c.ID, store.Page{})
		require.NoError(t, err)
		require.Equal(t, []string{topic.ID + "=" + store.SubscriptionOptIn + "*"}, contactTopicsOf(topics), email)
	}
	c, err := s.GetContact(ctx, a.ID, "old@example.net")
	require.NoError(t, err)
	require.Equal(t, "Olga", *c.FirstName)
	require.Equal(t, map[string]any{"tier": "gold"}, c.Properties)

	// All or nothing: a create whose address is taken, an update of a
	// contact changed since it was read, or a segment that is gone.
	stale := upd
	taken := newContact(a.ID, "FRESH@example.net")
	other := newContact(a.ID, "other@example.net")
	gone := newContact(a.ID, "gone@example.net")
	gone.SegmentIDs = []string{uuid.NewString()}
	for name, bad := range map[string]func(*store.ContactImportBatch){
		"taken": func(b *store.ContactImportBatch) { b.Create = []*store.Contact{other, taken} },
		"stale": func(b *store.ContactImportBatch) {
			b.Update = []*store.ContactImportUpdate{{Contact: &stale, Read: t0}}
		},
		"segment": func(b *store.ContactImportBatch) { b.Create = []*store.Contact{other, gone} },
	} {
		two := batch(3, 5)
		two.Counts = store.ContactImportCounts{Total: 2, Created: 2}
		bad(two)
		err := s.WriteContactImportBatch(ctx, two)
		switch name {
		case "segment":
			require.ErrorIs(t, err, store.ErrNotFound, name)
		default:
			require.ErrorIs(t, err, store.ErrConflict, name)
		}
		_, err = s.GetContact(ctx, a.ID, "other@example.net")
		require.ErrorIs(t, err, store.ErrNotFound, "%s: nothing of the batch is written", name)
		got, err := s.GetContactImport(ctx, a.ID, ci.ID)
		require.NoError(t, err)
		require.Equal(t, 3, got.RowOffset, name)
		require.Equal(t, store.ContactImportCounts{Total: 3, Created: 1, Updated: 1, Failed: 1}, got.Counts, name)
	}

	// The last batch completes the import and deletes its source.
	last := batch(3, 4)
	last.Done, last.Counts = true, store.ContactImportCounts{Total: 1, Skipped: 1}
	require.NoError(t, s.WriteContactImportBatch(ctx, last))
	got2, err := s.GetContactImport(ctx, a.ID, ci.ID)
	require.NoError(t, err)
	done := t0.Add(time.Minute)
	require.Equal(t, &store.ContactImport{ID: ci.ID, TeamID: a.ID, Status: store.ImportCompleted, CreatedAt: t0, CompletedAt: &done,
		RowOffset: 4, Counts: store.ContactImportCounts{Total: 4, Created: 1, Updated: 1, Skipped: 1, Failed: 1}}, got2)
	_, err = s.GetContactImportSource(ctx, a.ID, ci.ID)
	require.ErrorIs(t, err, store.ErrNotFound, "the source goes when the import ends")
	require.ErrorIs(t, s.FailContactImport(ctx, a.ID, ci.ID, "late", t0), store.ErrImportState, "a completed import does not fail")

	// Failure: from queued or in_progress, with its reason.
	for _, start := range []bool{false, true} {
		f := &store.ContactImport{ID: uuid.NewString(), TeamID: a.ID, Status: store.ImportQueued, CreatedAt: t0}
		require.NoError(t, s.CreateContactImport(ctx, f, src))
		if start {
			_, err := s.StartContactImport(ctx, a.ID, f.ID)
			require.NoError(t, err)
		}
		require.ErrorIs(t, s.FailContactImport(ctx, b.ID, f.ID, "x", t0), store.ErrNotFound, "another team's")
		require.NoError(t, s.FailContactImport(ctx, a.ID, f.ID, "the segment was deleted", done))
		got, err := s.GetContactImport(ctx, a.ID, f.ID)
		require.NoError(t, err)
		require.Equal(t, store.ImportFailed, got.Status)
		require.Equal(t, "the segment was deleted", got.Reason)
		require.Equal(t, &done, got.CompletedAt)
		_, err = s.GetContactImportSource(ctx, a.ID, f.ID)
		require.ErrorIs(t, err, store.ErrNotFound)
		require.ErrorIs(t, s.FailContactImport(ctx, a.ID, f.ID, "again", done), store.ErrImportState)
		_, err = s.StartContactImport(ctx, a.ID, f.ID)
		require.NoError(t, err)
		got, err = s.GetContactImport(ctx, a.ID, f.ID)
		require.NoError(t, err)
		require.Equal(t, store.ImportFailed, got.Status, "a failed import does not start")
	}
}
