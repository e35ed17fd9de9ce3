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

func templateIDs(list []*store.Template) []string {
	out := []string{}
	for _, t := range list {
		out = append(out, t.ID)
	}
	return out
}

func newTemplate(teamID, name, alias string) *store.Template {
	return &store.Template{ID: uuid.NewString(), TeamID: teamID, Name: name, Alias: alias,
		Content: store.TemplateContent{VersionID: uuid.NewString(), HTML: "<p>Hi {{{NAME}}}</p>"},
		Status:  store.TemplateDraft, CreatedAt: t0, UpdatedAt: t0}
}

// testTemplates is the templates part of the suite.
func testTemplates(t *testing.T, newStore NewStore) {
	ctx := context.Background()
	now := func() time.Time { return t0 }

	t.Run("CRUD", func(t *testing.T) {
		t.Parallel()
		s := newStore(t, now)
		a, b := newTeam(t, s, "a"), newTeam(t, s, "b")

		text := "Hi {{{NAME}}}"
		full := newTemplate(a.ID, "Welcome", "welcome")
		full.Content = store.TemplateContent{VersionID: uuid.NewString(), From: "Acme <hi@acme.test>", Subject: "Hi {{{NAME}}}",
			ReplyTo: []string{"a@acme.test", "b@acme.test"}, HTML: "<p>Hi {{{NAME}}}</p>", Text: &text,
			Variables: []store.TemplateVariable{
				{ID: uuid.NewString(), Key: "NAME", Type: store.PropertyString, FallbackValue: "friend", CreatedAt: t0, UpdatedAt: t0},
				{ID: uuid.NewString(), Key: "N", Type: store.PropertyNumber, FallbackValue: 2.5, CreatedAt: t0, UpdatedAt: t0},
				{ID: uuid.NewString(), Key: "BARE", Type: store.PropertyString, CreatedAt: t0, UpdatedAt: t0},
			}}
		bare := newTemplate(a.ID, "Bare", "")
		require.NoError(t, s.CreateTemplate(ctx, full))
		require.NoError(t, s.CreateTemplate(ctx, bare))

		for _, want := range []*store.Template{full, bare} {
			got, err := s.GetTemplate(ctx, a.ID, want.ID)
			require.NoError(t, err)
			require.Equal(t, want, got)
		}
		got, err := s.GetTemplate(ctx, a.ID, "welcome")
		require.NoError(t, err, "by alias")
		require.Equal(t, full.ID, got.ID)
		for _, ref := range []string{full.ID, "welcome", "Welcome", "", uuid.NewString()} {
			_, err := s.GetTemplate(ctx, b.ID, ref)
			require.ErrorIs(t, err, store.ErrNotFound, "another team's template, or none: %q", ref)
		}
		_, err = s.GetTemplate(ctx, a.ID, "Welcome")
		require.ErrorIs(t, err, store.ErrNotFound, "aliases are compared exactly")

		// Aliases are unique within a team; any number of templates have none.
		require.ErrorIs(t, s.CreateTemplate(ctx, newTemplate(a.ID, "Other", "welcome")), store.ErrConflict)
		require.NoError(t, s.CreateTemplate(ctx, newTemplate(a.ID, "Other", "")))
		require.NoError(t, s.CreateTemplate(ctx, newTemplate(b.ID, "Other", "welcome")), "another team may use the alias")
		dup := *bare
		dup.Alias = "fresh"
		require.ErrorIs(t, s.CreateTemplate(ctx, &dup), store.ErrConflict, "ids are unique")

		// An id wins over an alias with the same value.
		tricky := newTemplate(a.ID, "Tricky", full.ID)
		require.NoError(t, s.CreateTemplate(ctx, tricky))
		got, err = s.GetTemplate(ctx, a.ID, full.ID)
		require.NoError(t, err)
		require.Equal(t, full.ID, got.ID)

		// Publishing stores the copy; editing the draft keeps it.
		pub := full.Content
		at := t0.Add(time.Minute)
		full.Published, full.Status, full.PublishedAt, full.UpdatedAt = &pub, store.TemplatePublished, &at, at
		full.Content.HTML, full.Content.VersionID = "<p>Changed</p>", uuid.NewString()
		full.Content.Variables = full.Content.Variables[:1]
		full.Content.Text, full.Content.ReplyTo, full.Name, full.Alias = nil, nil, "Renamed", "welcome-2"
		require.NoError(t, s.UpdateTemplate(ctx, full))
		got, err = s.GetTemplate(ctx, a.ID, "welcome-2")
		require.NoError(t, err)
		require.Equal(t, full, got)
		require.Equal(t, "<p>Hi {{{NAME}}}</p>", got.Published.HTML)
		require.Len(t, got.Published.Variables, 3)
		_, err = s.GetTemplate(ctx, a.ID, "welcome")
		require.ErrorIs(t, err, store.ErrNotFound, "the old alias is free")

		bare.Alias = "welcome-2"
		require.ErrorIs(t, s.UpdateTemplate(ctx, bare), store.ErrConflict)
		bare.Alias = ""
		other := *bare
		other.TeamID = b.ID
		require.ErrorIs(t, s.UpdateTemplate(ctx, &other), store.ErrNotFound)
		require.ErrorIs(t, s.DeleteTemplate(ctx, b.ID, bare.ID), store.ErrNotFound)
		require.NoError(t, s.DeleteTemplate(ctx, a.ID, bare.ID))
		require.ErrorIs(t, s.DeleteTemplate(ctx, a.ID, bare.ID), store.ErrNotFound)
		_, err = s.GetTemplate(ctx, a.ID, bare.ID)
		require.ErrorIs(t, err, store.ErrNotFound)
	})

	t.Run("List", func(t *testing.T) {
		t.Parallel()
		s := newStore(t, now)
		a, b := newTeam(t, s, "a"), newTeam(t, s, "b")
		var ids []string // oldest first
		for i := range 5 {
			tpl := newTemplate(a.ID, fmt.Sprint("t", i), "")
			require.NoError(t, s.CreateTemplate(ctx, tpl))
			require.NoError(t, s.CreateTemplate(ctx, newTemplate(b.ID, fmt.Sprint("t", i), "")))
			ids = append(ids, tpl.ID)
		}
		list, more, err := s.ListTemplates(ctx, a.ID, store.Page{Limit: 2})
		require.NoError(t, err)
		require.True(t, more)
		require.Equal(t, []string{ids[4], ids[3]}, templateIDs(list))
		list, more, err = s.ListTemplates(ctx, a.ID, store.Page{Limit: 10, After: ids[3]})
		require.NoError(t, err)
		require.False(t, more)
		require.Equal(t, []string{ids[2], ids[1], ids[0]}, templateIDs(list))
		list, more, err = s.ListTemplates(ctx, a.ID, store.Page{Limit: 2, Before: ids[1]})
		require.NoError(t, err)
		require.True(t, more)
		require.Equal(t, []string{ids[3], ids[2]}, templateIDs(list))
		_, _, err = s.ListTemplates(ctx, b.ID, store.Page{Limit: 2, After: ids[1]})
		require.ErrorIs(t, err, store.ErrNotFound, "another team's cursor")
	})
}
