package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"slices"
	"strings"

	"github.com/google/uuid"

	"github.com/godwit/godwit/internal/apierr"
	"github.com/godwit/godwit/internal/emailtemplate"
	"github.com/godwit/godwit/internal/render"
	"github.com/godwit/godwit/internal/store"
)

// The Templates API and sending with a template. A template has a draft
// (what GET returns and PATCH edits) and, once published, a published copy
// (what sending renders). Publishing copies the draft; the draft gets a new
// version id whenever its content changes, and has_unpublished_versions
// says that the draft and the published copy differ. Placeholders are
// {{{KEY}}} (see internal/render); values inserted into the HTML are
// HTML-escaped. The fields' rules are internal/emailtemplate's, shared
// with the dashboard; templateRule maps their errors to Resend's.

var errTemplateNotFound = apierr.NotFound("Template not found")

type templateVariableItem struct {
	ID            string `json:"id"`
	Key           string `json:"key"`
	Type          string `json:"type"`
	FallbackValue any    `json:"fallback_value"`
	CreatedAt     string `json:"created_at"`
	UpdatedAt     string `json:"updated_at"`
}

// templateObject is GET /templates/{id_or_alias}: the draft.
type templateObject struct {
	Object                 string                 `json:"object"`
	ID                     string                 `json:"id"`
	CurrentVersionID       string                 `json:"current_version_id"`
	Name                   string                 `json:"name"`
	Alias                  *string                `json:"alias"`
	From                   *string                `json:"from"`
	Subject                *string                `json:"subject"`
	ReplyTo                []string               `json:"reply_to"`
	HTML                   string                 `json:"html"`
	Text                   *string                `json:"text"`
	Variables              []templateVariableItem `json:"variables"`
	CreatedAt              string                 `json:"created_at"`
	UpdatedAt              string                 `json:"updated_at"`
	Status                 string                 `json:"status"`
	PublishedAt            *string                `json:"published_at"`
	HasUnpublishedVersions bool                   `json:"has_unpublished_versions"`
}

// templateItem is one item of GET /templates.
type templateItem struct {
	ID          string  `json:"id"`
	Name        string  `json:"name"`
	Status      string  `json:"status"`
	PublishedAt *string `json:"published_at"`
	CreatedAt   string  `json:"created_at"`
	UpdatedAt   string  `json:"updated_at"`
	Alias       *string `json:"alias"`
}

func nonEmpty(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// sameContent reports whether two versions render alike (version ids and
// the variables' ids and times aside).
func sameContent(a, b *store.TemplateContent) bool {
	if a.From != b.From || a.Subject != b.Subject || a.HTML != b.HTML || !slices.Equal(a.ReplyTo, b.ReplyTo) ||
		(a.Text == nil) != (b.Text == nil) || (a.Text != nil && *a.Text != *b.Text) || len(a.Variables) != len(b.Variables) {
		return false
	}
	for i, v := range a.Variables {
		w := b.Variables[i]
		if v.Key != w.Key || v.Type != w.Type || !reflect.DeepEqual(v.FallbackValue, w.FallbackValue) {
			return false
		}
	}
	return true
}

func toTemplateObject(t *store.Template) templateObject {
	vars := make([]templateVariableItem, 0, len(t.Content.Variables))
	for _, v := range t.Content.Variables {
		vars = append(vars, templateVariableItem{ID: v.ID, Key: v.Key, Type: v.Type, FallbackValue: v.FallbackValue,
			CreatedAt: formatTime(v.CreatedAt), UpdatedAt: formatTime(v.UpdatedAt)})
	}
	return templateObject{
		Object: "template", ID: t.ID, CurrentVersionID: t.Content.VersionID, Name: t.Name, Alias: nonEmpty(t.Alias),
		From: nonEmpty(t.Content.From), Subject: nonEmpty(t.Content.Subject), ReplyTo: t.Content.ReplyTo,
		HTML: t.Content.HTML, Text: t.Content.Text, Variables: vars,
		CreatedAt: formatTime(t.CreatedAt), UpdatedAt: formatTime(t.UpdatedAt), Status: t.Status,
		PublishedAt:            formatTimePtr(t.PublishedAt),
		HasUnpublishedVersions: t.Published != nil && !sameContent(&t.Content, t.Published),
	}
}

// templateRequest is the body of POST and PATCH /templates: raw members,
// so that absent, null, "" and a wrong type can be told apart.
type templateRequest struct {
	Name      json.RawMessage `json:"name"`
	Alias     json.RawMessage `json:"alias"`
	From      json.RawMessage `json:"from"`
	Subject   json.RawMessage `json:"subject"`
	ReplyTo   json.RawMessage `json:"reply_to"`
	HTML      json.RawMessage `json:"html"`
	Text      json.RawMessage `json:"text"`
	Variables json.RawMessage `json:"variables"`
}

// rawString decodes an optional string member: nil when absent or null.
func rawString(field string, raw json.RawMessage) (*string, error) {
	if !present(raw) {
		return nil, nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return nil, apierr.Validation("The `%s` field must be a string.", field)
	}
	if strings.ContainsRune(s, 0) {
		return nil, apierr.Validation("The `%s` field must not contain NUL characters.", field)
	}
	return &s, nil
}

// templateRule is the API's answer to a field the template rules refuse
// (an *emailtemplate.FieldError): a 422 missing_required_field or
// validation_error with its message. Other errors pass through.
func templateRule[T any](v T, err error) (T, error) {
	var fe *emailtemplate.FieldError
	if errors.As(err, &fe) {
		if fe.Missing {
			return v, apierr.MissingField(fe.Field)
		}
		return v, apierr.Validation("%s", fe.Message)
	}
	return v, err
}

func templateName(s string) (string, error)    { return templateRule(emailtemplate.Name(s)) }
func templateAlias(s string) (string, error)   { return templateRule(emailtemplate.Alias(s)) }
func templateFrom(s string) (string, error)    { return templateRule(emailtemplate.From(s)) }
func templateSubject(s string) (string, error) { return templateRule(emailtemplate.Subject(s)) }

// templateReplyTo decodes reply_to: a string or an array of addresses;
// null, "" and [] are none.
func templateReplyTo(raw json.RawMessage) ([]string, error) {
	if !present(raw) {
		return nil, nil
	}
	var list []string
	if raw[0] == '"' {
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, apierr.Validation("The `reply_to` field must be a string or an array of strings.")
		}
		if strings.TrimSpace(s) != "" {
			list = []string{s}
		}
	} else if err := json.Unmarshal(raw, &list); err != nil {
		return nil, apierr.Validation("The `reply_to` field must be a string or an array of strings.")
	}
	return templateRule(emailtemplate.ReplyTo(list))
}

// variableValue checks a value (as JSON decodes it) for a variable of type
// typ (render.CheckValue): a string of at most 2000 characters, or a number of at
// most 2^53−1 in magnitude. Its error message names field.
func variableValue(field, typ string, v any) error {
	if err := render.CheckValue(field, typ, v); err != nil {
		return apierr.Validation("%s", err.Error())
	}
	return nil
}

// templateVariables decodes `variables`: at most 50, keys of letters,
// digits and underscores, unique and not reserved, a type (string or
// number) and an optional fallback value of that type. Variables whose key
// is in old keep their id and creation time (and their update time when
// nothing changed).
func templateVariables(raw json.RawMessage, old []store.TemplateVariable, now func() store.TemplateVariable) ([]store.TemplateVariable, error) {
	if !present(raw) {
		return nil, nil
	}
	var list []struct {
		Key           *string         `json:"key"`
		Type          *string         `json:"type"`
		FallbackValue json.RawMessage `json:"fallback_value"`
	}
	if err := json.Unmarshal(raw, &list); err != nil {
		return nil, apierr.Validation("The `variables` field must be an array of objects with `key`, `type` and `fallback_value`.")
	}
	if len(list) > emailtemplate.MaxVariables {
		return nil, apierr.Validation("A template may have at most %d variables.", emailtemplate.MaxVariables)
	}
	byKey := make(map[string]store.TemplateVariable, len(old))
	for _, v := range old {
		byKey[v.Key] = v
	}
	seen := map[string]bool{}
	out := make([]store.TemplateVariable, 0, len(list))
	for i, item := range list {
		var key, typ string
		if item.Key != nil {
			key = *item.Key
		}
		if item.Type != nil {
			typ = *item.Type
		}
		if _, err := templateRule(0, emailtemplate.Variable(i, key, typ, seen)); err != nil {
			return nil, err
		}
		var fallback any
		if present(item.FallbackValue) {
			if err := json.Unmarshal(item.FallbackValue, &fallback); err != nil {
				return nil, apierr.Validation("The `variables[%d].fallback_value` field must be a string, a number or null.", i)
			}
			if err := variableValue(fmt.Sprintf("variables[%d].fallback_value", i), typ, fallback); err != nil {
				return nil, err
			}
		}
		v := now()
		if prev, ok := byKey[key]; ok {
			v.ID, v.CreatedAt = prev.ID, prev.CreatedAt
			if prev.Type == typ && reflect.DeepEqual(prev.FallbackValue, fallback) {
				v.UpdatedAt = prev.UpdatedAt
			}
		}
		v.Key, v.Type, v.FallbackValue = key, typ, fallback
		out = append(out, v)
	}
	return out, nil
}

// applyTemplateRequest applies a POST (create) or PATCH body to t. On
// create, name and html are required; on PATCH an absent, null or empty
// name or html leaves it (the Go SDK always sends both), and null or ""
// clears alias, from, subject, reply_to and text.
func (h *Handler) applyTemplateRequest(t *store.Template, req *templateRequest, create bool) error {
	name, err := rawString("name", req.Name)
	if err != nil {
		return err
	}
	if name != nil && strings.TrimSpace(*name) != "" {
		if t.Name, err = templateName(*name); err != nil {
			return err
		}
	} else if create {
		return apierr.MissingField("name")
	}
	htmlBody, err := rawString("html", req.HTML)
	if err != nil {
		return err
	}
	if htmlBody != nil && *htmlBody != "" {
		t.Content.HTML = *htmlBody
	} else if create {
		return apierr.MissingField("html")
	}
	if len(req.Alias) > 0 {
		a, err := rawString("alias", req.Alias)
		if err != nil {
			return err
		}
		t.Alias = ""
		if a != nil && strings.TrimSpace(*a) != "" {
			if t.Alias, err = templateAlias(*a); err != nil {
				return err
			}
		}
	}
	if len(req.From) > 0 {
		f, err := rawString("from", req.From)
		if err != nil {
			return err
		}
		t.Content.From = ""
		if f != nil {
			if t.Content.From, err = templateFrom(*f); err != nil {
				return err
			}
		}
	}
	if len(req.Subject) > 0 {
		s, err := rawString("subject", req.Subject)
		if err != nil {
			return err
		}
		t.Content.Subject = ""
		if s != nil {
			if t.Content.Subject, err = templateSubject(*s); err != nil {
				return err
			}
		}
	}
	if len(req.ReplyTo) > 0 {
		if t.Content.ReplyTo, err = templateReplyTo(req.ReplyTo); err != nil {
			return err
		}
	}
	if len(req.Text) > 0 {
		s, err := rawString("text", req.Text)
		if err != nil {
			return err
		}
		t.Content.Text = nil
		if s != nil && *s != "" {
			t.Content.Text = s
		}
	}
	if len(req.Variables) > 0 {
		now := h.Now().UTC()
		vars, err := templateVariables(req.Variables, t.Content.Variables, func() store.TemplateVariable {
			return store.TemplateVariable{ID: store.NewID(), CreatedAt: now, UpdatedAt: now}
		})
		if err != nil {
			return err
		}
		t.Content.Variables = vars
	}
	return nil
}

// loadTemplate finds the team's template named by the path's id or alias.
func (h *Handler) loadTemplate(r *http.Request) (*store.Template, error) {
	ref := strings.TrimSpace(r.PathValue("id_or_alias"))
	if _, err := uuid.Parse(ref); err == nil && len(ref) == 36 {
		ref = strings.ToLower(ref)
	}
	t, err := h.Store.GetTemplate(r.Context(), callerKey(r.Context()).TeamID, ref)
	if errors.Is(err, store.ErrNotFound) {
		return nil, errTemplateNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("get template: %w", err)
	}
	return t, nil
}

func errAliasTaken(alias string) error {
	return apierr.New(http.StatusConflict, apierr.NameValidation, fmt.Sprintf("A template with the alias `%s` already exists.", alias))
}

func (h *Handler) createTemplate(w http.ResponseWriter, r *http.Request) error {
	var req templateRequest
	if err := h.decodeJSONBody(w, r, &req); err != nil {
		return err
	}
	now := h.Now().UTC()
	t := &store.Template{ID: store.NewID(), TeamID: callerKey(r.Context()).TeamID, Status: store.TemplateDraft,
		Content: store.TemplateContent{VersionID: store.NewID()}, CreatedAt: now, UpdatedAt: now}
	if err := h.applyTemplateRequest(t, &req, true); err != nil {
		return err
	}
	err := h.Store.CreateTemplate(r.Context(), t)
	if errors.Is(err, store.ErrConflict) {
		return errAliasTaken(t.Alias)
	}
	if err != nil {
		return fmt.Errorf("create template: %w", err)
	}
	writeJSON(w, http.StatusCreated, objectIDResponse{Object: "template", ID: t.ID})
	return nil
}

func (h *Handler) listTemplates(w http.ResponseWriter, r *http.Request) error {
	p, err := parsePage(r)
	if err != nil {
		return err
	}
	list, more, err := h.Store.ListTemplates(r.Context(), callerKey(r.Context()).TeamID, p)
	if errors.Is(err, store.ErrNotFound) {
		return errUnknownCursor
	}
	if err != nil {
		return fmt.Errorf("list templates: %w", err)
	}
	out := listResponse[templateItem]{Object: "list", HasMore: more, Data: make([]templateItem, 0, len(list))}
	for _, t := range list {
		out.Data = append(out.Data, templateItem{ID: t.ID, Name: t.Name, Status: t.Status, PublishedAt: formatTimePtr(t.PublishedAt),
			CreatedAt: formatTime(t.CreatedAt), UpdatedAt: formatTime(t.UpdatedAt), Alias: nonEmpty(t.Alias)})
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (h *Handler) getTemplate(w http.ResponseWriter, r *http.Request) error {
	t, err := h.loadTemplate(r)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toTemplateObject(t))
	return nil
}

// saveTemplate stores t after an edit; ErrConflict is the alias's 409.
func (h *Handler) saveTemplate(ctx context.Context, t *store.Template) error {
	err := h.Store.UpdateTemplate(ctx, t)
	switch {
	case errors.Is(err, store.ErrConflict):
		return errAliasTaken(t.Alias)
	case errors.Is(err, store.ErrNotFound):
		return errTemplateNotFound
	case err != nil:
		return fmt.Errorf("update template: %w", err)
	}
	return nil
}

func (h *Handler) updateTemplate(w http.ResponseWriter, r *http.Request) error {
	t, err := h.loadTemplate(r)
	if err != nil {
		return err
	}
	var req templateRequest
	if err := h.decodeJSONBody(w, r, &req); err != nil {
		return err
	}
	before := *t
	before.Content.Variables = slices.Clone(t.Content.Variables)
	if err := h.applyTemplateRequest(t, &req, false); err != nil {
		return err
	}
	contentChanged := !sameContent(&before.Content, &t.Content)
	if contentChanged {
		t.Content.VersionID = store.NewID()
	}
	if contentChanged || t.Name != before.Name || t.Alias != before.Alias {
		t.UpdatedAt = h.Now().UTC()
		if err := h.saveTemplate(r.Context(), t); err != nil {
			return err
		}
	}
	writeJSON(w, http.StatusOK, objectIDResponse{Object: "template", ID: t.ID})
	return nil
}

func (h *Handler) deleteTemplate(w http.ResponseWriter, r *http.Request) error {
	t, err := h.loadTemplate(r)
	if err != nil {
		return err
	}
	err = h.Store.DeleteTemplate(r.Context(), t.TeamID, t.ID)
	if errors.Is(err, store.ErrNotFound) {
		return errTemplateNotFound
	}
	if err != nil {
		return fmt.Errorf("delete template: %w", err)
	}
	writeJSON(w, http.StatusOK, struct {
		Object  string `json:"object"`
		ID      string `json:"id"`
		Deleted bool   `json:"deleted"`
	}{"template", t.ID, true})
	return nil
}

// publishTemplate copies the draft to the published version that sending
// uses. Publishing again without changes is allowed (and moves
// published_at).
func (h *Handler) publishTemplate(w http.ResponseWriter, r *http.Request) error {
	t, err := h.loadTemplate(r)
	if err != nil {
		return err
	}
	emailtemplate.Publish(t, h.Now().UTC())
	if err := h.saveTemplate(r.Context(), t); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, objectIDResponse{Object: "template", ID: t.ID})
	return nil
}

// duplicateTemplate copies a template's draft into a new draft named
// "<name> (Copy)", without an alias (aliases are unique) and unpublished.
func (h *Handler) duplicateTemplate(w http.ResponseWriter, r *http.Request) error {
	src, err := h.loadTemplate(r)
	if err != nil {
		return err
	}
	t := emailtemplate.Duplicate(src, h.Now().UTC())
	if err := h.Store.CreateTemplate(r.Context(), t); err != nil {
		return fmt.Errorf("duplicate template: %w", err)
	}
	writeJSON(w, http.StatusCreated, objectIDResponse{Object: "template", ID: t.ID})
	return nil
}
