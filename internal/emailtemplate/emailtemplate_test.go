package emailtemplate

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/godwit/godwit/internal/store"
)

func TestPublishAndDuplicate(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 12, 3, 4, 0, 0, 0, time.UTC)
	text := "hi"
	tpl := &store.Template{ID: "t1", TeamID: "team", Name: "Welcome", Alias: "welcome", Status: store.TemplateDraft,
		Content: store.TemplateContent{VersionID: "v1", Subject: "Hi", HTML: "<p>hi</p>", Text: &text, ReplyTo: []string{"a@example.com"},
			Variables: []store.TemplateVariable{{ID: "var1", Key: "name", Type: "string", FallbackValue: "friend"}}}}
	Publish(tpl, now)
	require.Equal(t, store.TemplatePublished, tpl.Status)
	require.Equal(t, now, *tpl.PublishedAt)
	require.Equal(t, "v1", tpl.Published.VersionID)
	tpl.Content.Variables[0].Key = "changed"
	tpl.Content.ReplyTo[0] = "changed"
	require.Equal(t, "name", tpl.Published.Variables[0].Key, "the published copy does not share the draft's slices")
	require.Equal(t, "a@example.com", tpl.Published.ReplyTo[0])

	d := Duplicate(tpl, now)
	require.Equal(t, "Welcome (Copy)", d.Name)
	require.Empty(t, d.Alias)
	require.Nil(t, d.Published)
	require.Equal(t, store.TemplateDraft, d.Status)
	require.Equal(t, "team", d.TeamID)
	require.NotEqual(t, "v1", d.Content.VersionID)
	require.NotEqual(t, "var1", d.Content.Variables[0].ID)
	require.Equal(t, "<p>hi</p>", d.Content.HTML)

	long := &store.Template{Name: strings.Repeat("é", MaxName)}
	require.Equal(t, MaxName, len([]rune(Duplicate(long, now).Name)))
}
