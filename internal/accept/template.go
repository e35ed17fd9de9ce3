package accept

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/godwit/godwit/internal/message"
	"github.com/godwit/godwit/internal/render"
	"github.com/godwit/godwit/internal/store"
)

// Templates keeps the templates one request has resolved, by reference (a
// batch names the same template many times).
type Templates map[string]*store.Template

// applyTemplate renders an email that names a template: the template (by
// id or alias) must be the team's (else ErrNotFound) and published (else
// ErrInvalid); the variables given must be strings or numbers of the
// declared type, and every declared variable needs a value or a fallback.
// The published subject, from and reply_to fill those the payload left out;
// html and text are rendered from the published version. The email keeps
// the template's id (for template_id in its events).
func (s *Service) applyTemplate(ctx context.Context, teamID string, e *store.Email, cache Templates) error {
	if e.Template == nil {
		return nil
	}
	ref := e.Template.ID
	t, ok := cache[ref]
	if !ok {
		lookup := ref
		if _, err := uuid.Parse(ref); err == nil && len(ref) == 36 {
			lookup = strings.ToLower(ref)
		}
		var err error
		t, err = s.cfg.Store.GetTemplate(ctx, teamID, lookup)
		if errors.Is(err, store.ErrNotFound) {
			return refuse(ErrNotFound, "template.id", "Template not found")
		}
		if err != nil {
			return fmt.Errorf("get template: %w", err)
		}
		if cache != nil {
			cache[ref] = t
		}
	}
	pub := t.Published
	if pub == nil {
		return refuse(ErrInvalid, "template.id", "The template `%s` is not published. Publish it before sending with it.", ref)
	}

	given := map[string]any{}
	if len(e.Template.Variables) > 0 {
		d := json.NewDecoder(bytes.NewReader(e.Template.Variables))
		if err := d.Decode(&given); err != nil {
			return refuse(ErrInvalid, "template.variables", "The `template.variables` field must be an object.")
		}
	}
	declared := make([]render.Variable, len(pub.Variables))
	for i, v := range pub.Variables {
		declared[i] = render.Variable{Key: v.Key, Type: v.Type, Fallback: v.FallbackValue}
	}
	values, err := render.TemplateValues(declared, given)
	var ve *render.ValueError
	if errors.As(err, &ve) {
		return &Error{Kind: ErrInvalid, Field: ve.Field, Message: ve.Message}
	}
	if err != nil {
		return fmt.Errorf("template values: %w", err)
	}
	lookup := func(k string) (string, bool) { v, ok := values[k]; return v, ok }

	const max = message.MaxEmailBytes
	tooLarge := refuse(ErrTooLarge, "template", "The email rendered from the template is larger than the 40 MB limit.")
	if e.Subject == "" {
		s, err := render.Render(pub.Subject, lookup, false, message.MaxSubjectLen*4)
		if err != nil || strings.ContainsAny(s, "\r\n\x00") || utf8.RuneCountInString(s) > message.MaxSubjectLen {
			return refuse(ErrInvalid, "subject", "The subject rendered from the template must be at most %d characters, on one line.",
				message.MaxSubjectLen)
		}
		e.Subject = s
	}
	if e.From == "" {
		e.From = pub.From
	}
	if len(e.ReplyTo) == 0 {
		e.ReplyTo = slices.Clone(pub.ReplyTo)
	}
	body, err := render.Render(pub.HTML, lookup, true, max)
	if err != nil {
		return tooLarge
	}
	e.HTML = &body
	if pub.Text != nil {
		text, err := render.Render(*pub.Text, lookup, false, max)
		if err != nil {
			return tooLarge
		}
		e.Text = &text
	}
	if message.EmailSize(e) > max {
		return tooLarge
	}
	e.Template.ID = t.ID
	return nil
}

// CheckTopic checks an email's topic_id before it is accepted: a UUID
// (else ErrInvalidParameter) naming one of the team's topics (else
// ErrNotFound). It keeps the id in lower case.
func (s *Service) CheckTopic(ctx context.Context, teamID string, e *store.Email) error {
	if e.TopicID == "" {
		return nil
	}
	if _, err := uuid.Parse(e.TopicID); err != nil || len(e.TopicID) != 36 {
		return refuse(ErrInvalidParameter, "topic_id", "The `topic_id` must be a valid UUID.")
	}
	id := strings.ToLower(e.TopicID)
	if _, err := s.cfg.Store.GetTopic(ctx, teamID, id); errors.Is(err, store.ErrNotFound) {
		return refuse(ErrNotFound, "topic_id", "Topic not found")
	} else if err != nil {
		return fmt.Errorf("get topic: %w", err)
	}
	e.TopicID = id
	return nil
}
