package dashboard

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/godwit/godwit/internal/emailtemplate"
	"github.com/godwit/godwit/internal/message"
	"github.com/godwit/godwit/internal/render"
	"github.com/godwit/godwit/internal/store"
)

// The Templates section: a team's email templates, each with a preview of
// its draft rendered by the server with the one merge formatter
// (internal/render) and its variables' fallback values, in the same
// sandboxed frame as an email's HTML. Creating and editing is admin-only;
// an edit that changes the content makes a new version, as the API's.

// templatesStore is what the Templates pages read and write (part of
// Store).
type templatesStore interface {
	CreateTemplate(ctx context.Context, t *store.Template) error
	GetTemplate(ctx context.Context, teamID, idOrAlias string) (*store.Template, error)
	ListTemplates(ctx context.Context, teamID string, p store.Page) ([]*store.Template, bool, error)
	UpdateTemplate(ctx context.Context, t *store.Template) error
	DeleteTemplate(ctx context.Context, teamID, id string) error
}

const templatesPerPage = 50

type templatesData struct {
	Templates []*store.Template
	pager
}

// templatesList lists the team's templates, newest first.
func (h *Handler) templatesList(w http.ResponseWriter, r *http.Request, s *request) error {
	list, pg, err := listPage(r, templatesPerPage, "templates", "templates", func(p store.Page) ([]*store.Template, bool, error) {
		return h.cfg.Store.ListTemplates(r.Context(), s.user.TeamID, p)
	}, func(t *store.Template) string { return t.ID })
	if err != nil {
		return err
	}
	data := templatesData{Templates: list, pager: pg}
	return h.render(w, r, s, http.StatusOK, "templates", "Templates", "Templates", data)
}

// templateFields is the template form's values.
type templateFields struct {
	Name, From, Subject, HTML, Text string
}

type templateFormData struct {
	Template *store.Template // nil for a new one
	Fields   templateFields
	Error    string
}

// readTemplateFields reads the form and checks it with the API's rules
// (internal/emailtemplate): a name on one line of at most 256 characters,
// an optional sender address, a subject on one line within the message
// limit, no NUL characters.
func readTemplateFields(r *http.Request) (templateFields, string) {
	return checkTemplateFields(templateFields{Name: r.PostFormValue("name"), From: r.PostFormValue("from"),
		Subject: r.PostFormValue("subject"), HTML: r.PostFormValue("html"), Text: r.PostFormValue("text")})
}

// checkTemplateFields is f as the rules keep it (the name and sender
// trimmed) and the form's message ("" when valid).
func checkTemplateFields(f templateFields) (templateFields, string) {
	name, err := emailtemplate.Name(f.Name)
	if err != nil {
		return templateFields{Name: strings.TrimSpace(f.Name), From: strings.TrimSpace(f.From), Subject: f.Subject, HTML: f.HTML, Text: f.Text},
			ruleMessage(err)
	}
	f.Name = name
	f.From = strings.TrimSpace(f.From)
	return f, ruleMessage(checkContent(f.From, f.Subject, f.HTML, f.Text))
}

// checkContent checks a sender, subject, HTML and text with the template
// rules (a broadcast's too).
func checkContent(from, subject, html, text string) error {
	if _, err := emailtemplate.From(from); err != nil {
		return err
	}
	if _, err := emailtemplate.Subject(subject); err != nil {
		return err
	}
	if err := emailtemplate.Body("html", html); err != nil {
		return err
	}
	return emailtemplate.Body("text", text)
}

// ruleMessage is the form's message for an error of the template rules
// ("" for nil): the dashboard's words for the fields it has.
func ruleMessage(err error) string {
	var fe *emailtemplate.FieldError
	switch {
	case err == nil:
		return ""
	case !errors.As(err, &fe):
		return formMessage(err.Error())
	case fe.NUL:
		return "The form must not contain NUL characters."
	}
	switch fe.Field {
	case "name":
		return fmt.Sprintf("The name is 1 to %d characters, on one line.", emailtemplate.MaxName)
	case "from":
		return "The sender must be an address like email@example.com or Name <email@example.com>."
	case "subject":
		return fmt.Sprintf("The subject is at most %d characters, on one line.", message.MaxSubjectLen)
	}
	return formMessage(fe.Message)
}

func (h *Handler) templateForm(w http.ResponseWriter, r *http.Request, s *request, status int, d templateFormData) error {
	title := "New template"
	if d.Template != nil {
		title = "Edit template"
	}
	return h.render(w, r, s, status, "templateform", title, "Templates", d)
}

// newTemplate is the form for a new template (admin).
func (h *Handler) newTemplate(w http.ResponseWriter, r *http.Request, s *request) error {
	return h.templateForm(w, r, s, http.StatusOK, templateFormData{})
}

// createTemplate makes a draft template (admin) and shows its page.
func (h *Handler) createTemplate(w http.ResponseWriter, r *http.Request, s *request) error {
	f, msg := readTemplateFields(r)
	if msg != "" {
		return h.templateForm(w, r, s, http.StatusBadRequest, templateFormData{Fields: f, Error: msg})
	}
	now := time.Now().UTC()
	t := &store.Template{ID: store.NewID(), TeamID: s.user.TeamID, Name: f.Name, Status: store.TemplateDraft,
		Content: store.TemplateContent{VersionID: store.NewID()}, CreatedAt: now, UpdatedAt: now}
	setTemplateContent(&t.Content, f)
	if err := h.cfg.Store.CreateTemplate(r.Context(), t); err != nil {
		return fmt.Errorf("create template: %w", err)
	}
	http.Redirect(w, r, Prefix+"templates/"+url.PathEscape(t.ID), http.StatusSeeOther)
	return nil
}

func setTemplateContent(c *store.TemplateContent, f templateFields) {
	c.From, c.Subject, c.HTML = f.From, f.Subject, f.HTML
	c.Text = nil
	if f.Text != "" {
		c.Text = &f.Text
	}
}

func fieldsOf(t *store.Template) templateFields {
	f := templateFields{Name: t.Name, From: t.Content.From, Subject: t.Content.Subject, HTML: t.Content.HTML}
	if t.Content.Text != nil {
		f.Text = *t.Content.Text
	}
	return f
}

// editTemplate is the form of a template's draft (admin).
func (h *Handler) editTemplate(w http.ResponseWriter, r *http.Request, s *request) error {
	t, err := h.cfg.Store.GetTemplate(r.Context(), s.user.TeamID, r.PathValue("id"))
	if err != nil {
		return err
	}
	return h.templateForm(w, r, s, http.StatusOK, templateFormData{Template: t, Fields: fieldsOf(t)})
}

// updateTemplate saves a template's draft (admin): a new version when the
// content changed; its variables stay as they are.
func (h *Handler) updateTemplate(w http.ResponseWriter, r *http.Request, s *request) error {
	t, err := h.cfg.Store.GetTemplate(r.Context(), s.user.TeamID, r.PathValue("id"))
	if err != nil {
		return err
	}
	f, msg := readTemplateFields(r)
	if msg != "" {
		return h.templateForm(w, r, s, http.StatusBadRequest, templateFormData{Template: t, Fields: f, Error: msg})
	}
	before := fieldsOf(t)
	if f != before {
		if f.From != before.From || f.Subject != before.Subject || f.HTML != before.HTML || f.Text != before.Text {
			t.Content.VersionID = store.NewID()
		}
		t.Name = f.Name
		setTemplateContent(&t.Content, f)
		t.UpdatedAt = time.Now().UTC()
		if err := h.cfg.Store.UpdateTemplate(r.Context(), t); err != nil {
			return fmt.Errorf("update template: %w", err)
		}
	}
	http.Redirect(w, r, Prefix+"templates/"+url.PathEscape(t.ID), http.StatusSeeOther)
	return nil
}

type templateData struct {
	Template *store.Template
	// Subject and Text are the draft's, rendered with the sample values.
	Subject, Text string
	Samples       []sample
	FrameURL      string
}

// sample is a variable's value in the preview.
type sample struct {
	Key, Value string
}

// samples is the preview's value of each variable: its fallback, else its
// key in capitals.
func samples(vars []store.TemplateVariable) map[string]string {
	out := make(map[string]string, len(vars))
	for _, v := range vars {
		if s, ok := render.Value(v.FallbackValue); ok && v.FallbackValue != nil {
			out[v.Key] = s
		} else {
			out[v.Key] = strings.ToUpper(v.Key)
		}
	}
	return out
}

// renderPreview renders s with the sample values, HTML-escaped when html.
func renderPreview(s string, values map[string]string, html bool) (string, error) {
	return render.Render(s, func(k string) (string, bool) { v, ok := values[k]; return v, ok }, html, 0)
}

// template is a template's page: its draft, previewed with sample values.
func (h *Handler) template(w http.ResponseWriter, r *http.Request, s *request) error {
	t, err := h.cfg.Store.GetTemplate(r.Context(), s.user.TeamID, r.PathValue("id"))
	if err != nil {
		return err
	}
	values := samples(t.Content.Variables)
	d := templateData{Template: t, FrameURL: Prefix + "templates/" + url.PathEscape(t.ID) + "/preview.html"}
	for _, v := range t.Content.Variables {
		d.Samples = append(d.Samples, sample{Key: v.Key, Value: values[v.Key]})
	}
	if d.Subject, err = renderPreview(t.Content.Subject, values, false); err != nil {
		return fmt.Errorf("render subject: %w", err)
	}
	if t.Content.Text != nil {
		if d.Text, err = renderPreview(*t.Content.Text, values, false); err != nil {
			return fmt.Errorf("render text: %w", err)
		}
	}
	title := t.Name
	if title == "" {
		title = "(no name)"
	}
	return h.render(w, r, s, http.StatusOK, "template", title, "Templates", d)
}

// templatePreview serves a template draft's HTML rendered with the sample
// values, for the sandboxed frame of its page (the email frame's policy).
func (h *Handler) templatePreview(w http.ResponseWriter, r *http.Request, s *request) error {
	t, err := h.cfg.Store.GetTemplate(r.Context(), s.user.TeamID, r.PathValue("id"))
	if err != nil {
		return err
	}
	body, err := renderPreview(t.Content.HTML, samples(t.Content.Variables), true)
	if err != nil {
		return fmt.Errorf("render html: %w", err)
	}
	writeFrame(w, body)
	return nil
}

// publishTemplate publishes a template's draft (admin), as
// POST /templates/{id}/publish.
func (h *Handler) publishTemplate(w http.ResponseWriter, r *http.Request, s *request) error {
	t, err := h.cfg.Store.GetTemplate(r.Context(), s.user.TeamID, r.PathValue("id"))
	if err != nil {
		return err
	}
	emailtemplate.Publish(t, time.Now().UTC())
	if err := h.cfg.Store.UpdateTemplate(r.Context(), t); err != nil {
		return fmt.Errorf("publish template: %w", err)
	}
	http.Redirect(w, r, Prefix+"templates/"+url.PathEscape(t.ID), http.StatusSeeOther)
	return nil
}

// duplicateTemplate copies a template into a new draft (admin), as
// POST /templates/{id}/duplicate, and shows the copy.
func (h *Handler) duplicateTemplate(w http.ResponseWriter, r *http.Request, s *request) error {
	src, err := h.cfg.Store.GetTemplate(r.Context(), s.user.TeamID, r.PathValue("id"))
	if err != nil {
		return err
	}
	t := emailtemplate.Duplicate(src, time.Now().UTC())
	if err := h.cfg.Store.CreateTemplate(r.Context(), t); err != nil {
		return fmt.Errorf("duplicate template: %w", err)
	}
	http.Redirect(w, r, Prefix+"templates/"+url.PathEscape(t.ID), http.StatusSeeOther)
	return nil
}

// confirmDeleteTemplate asks before deleting (admin).
func (h *Handler) confirmDeleteTemplate(w http.ResponseWriter, r *http.Request, s *request) error {
	t, err := h.cfg.Store.GetTemplate(r.Context(), s.user.TeamID, r.PathValue("id"))
	if err != nil {
		return err
	}
	return h.render(w, r, s, http.StatusOK, "templatedelete", "Delete template", "Templates", t)
}

// deleteTemplate deletes a template (admin).
func (h *Handler) deleteTemplate(w http.ResponseWriter, r *http.Request, s *request) error {
	t, err := h.cfg.Store.GetTemplate(r.Context(), s.user.TeamID, r.PathValue("id"))
	if err != nil {
		return err
	}
	if err := h.cfg.Store.DeleteTemplate(r.Context(), s.user.TeamID, t.ID); err != nil {
		return fmt.Errorf("delete template: %w", err)
	}
	http.Redirect(w, r, Prefix+"templates", http.StatusSeeOther)
	return nil
}
