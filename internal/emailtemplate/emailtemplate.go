// Package emailtemplate holds the changes of a team's email template that
// both the API and the dashboard make: publishing a draft and duplicating
// a template. It does no I/O; the callers store the result.
package emailtemplate

import (
	"slices"
	"time"
	"unicode/utf8"

	"github.com/godwit/godwit/internal/store"
)

// MaxName bounds a template's name, in characters.
const MaxName = 256

// Publish copies t's draft to the published version that sending uses, at
// now. Publishing again without changes is allowed (and moves the
// publication time).
func Publish(t *store.Template, now time.Time) {
	pub := t.Content
	pub.Variables = slices.Clone(t.Content.Variables)
	pub.ReplyTo = slices.Clone(t.Content.ReplyTo)
	t.Published, t.Status, t.PublishedAt, t.UpdatedAt = &pub, store.TemplatePublished, &now, now
}

// Duplicate is a new draft with src's draft content, named "<name>
// (Copy)" (cut to MaxName), without an alias (aliases are unique) and
// unpublished; its version and variables get new ids.
func Duplicate(src *store.Template, now time.Time) *store.Template {
	name := src.Name + " (Copy)"
	if utf8.RuneCountInString(name) > MaxName {
		name = string([]rune(name)[:MaxName])
	}
	c := src.Content
	c.VersionID = store.NewID()
	c.ReplyTo = slices.Clone(src.Content.ReplyTo)
	c.Variables = nil
	for _, v := range src.Content.Variables {
		c.Variables = append(c.Variables, store.TemplateVariable{ID: store.NewID(), Key: v.Key, Type: v.Type,
			FallbackValue: v.FallbackValue, CreatedAt: now, UpdatedAt: now})
	}
	return &store.Template{ID: store.NewID(), TeamID: src.TeamID, Name: name, Content: c, Status: store.TemplateDraft,
		CreatedAt: now, UpdatedAt: now}
}
