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
		ci := &store.ContactImport{ID: uuid.NewString(), TeamID: a.ID, Status: st, Total: 10 + i, Created: 1, Updated: 2,
			Skipped: 3, Failed: 4, CreatedAt: t0.Add(time.Duration(i) * time.Minute)}
		if st != store.ImportQueued {
			ci.CompletedAt = &done
		}
		require.NoError(t, s.CreateContactImport(ctx, ci))
		got, err := s.GetContactImport(ctx, a.ID, ci.ID)
		require.NoError(t, err)
		require.Equal(t, ci, got)
		ids = append(ids, ci.ID)
	}
	require.ErrorIs(t, s.CreateContactImport(ctx, &store.ContactImport{ID: ids[0], TeamID: a.ID, Status: store.ImportCompleted,
		CreatedAt: t0}), store.ErrConflict)
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
