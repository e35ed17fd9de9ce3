package dashboard

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/godwit/godwit/internal/accept"
	"github.com/godwit/godwit/internal/broadcast"
	"github.com/godwit/godwit/internal/store"
)

// The new-broadcast form (admin): a segment of the team's, a sender that
// passes the API's sending gate (accept.Service.CheckFrom: a verified
// domain of the team, or the test sender), a subject, and HTML and/or
// text, typed in or copied from one of the team's templates. It makes a
// draft, whose page previews it and sends it.

// Gate checks a sender as the API does (accept.Service).
type Gate interface {
	CheckFrom(ctx context.Context, key *store.APIKey, teamID string, e *store.Email) (*store.Domain, error)
}

// segmentsStore lists the segments the form offers (part of Store).
type segmentsStore interface {
	ListSegments(ctx context.Context, teamID string, p store.Page) ([]*store.Segment, bool, error)
	GetSegment(ctx context.Context, teamID, id string) (*store.Segment, error)
	CreateBroadcast(ctx context.Context, b *store.Broadcast) error
}

// formChoices bounds the segments and templates the form offers.
const formChoices = 200

type broadcastFormData struct {
	Segments  []*store.Segment
	Templates []*store.Template
	Fields    broadcastFields
	Error     string
}

type broadcastFields struct {
	Name, SegmentID, From, Subject, HTML, Text, TemplateID string
}

func (h *Handler) broadcastForm(w http.ResponseWriter, r *http.Request, s *request, status int, d broadcastFormData) error {
	ctx := r.Context()
	segs, _, err := h.cfg.Store.ListSegments(ctx, s.user.TeamID, store.Page{Limit: formChoices})
	if err != nil {
		return fmt.Errorf("list segments: %w", err)
	}
	tpls, _, err := h.cfg.Store.ListTemplates(ctx, s.user.TeamID, store.Page{Limit: formChoices})
	if err != nil {
		return fmt.Errorf("list templates: %w", err)
	}
	d.Segments, d.Templates = segs, tpls
	return h.render(w, r, s, status, "broadcastform", "New broadcast", "Broadcasts", d)
}

// newBroadcast is the form for a new broadcast (admin).
func (h *Handler) newBroadcast(w http.ResponseWriter, r *http.Request, s *request) error {
	return h.broadcastForm(w, r, s, http.StatusOK, broadcastFormData{})
}

// createBroadcast makes a draft broadcast (admin) and shows its page.
func (h *Handler) createBroadcast(w http.ResponseWriter, r *http.Request, s *request) error {
	f := broadcastFields{Name: strings.TrimSpace(r.PostFormValue("name")), SegmentID: r.PostFormValue("segment_id"),
		From: strings.TrimSpace(r.PostFormValue("from")), Subject: r.PostFormValue("subject"),
		HTML: r.PostFormValue("html"), Text: r.PostFormValue("text"), TemplateID: r.PostFormValue("template_id")}
	refuse := func(msg string) error {
		return h.broadcastForm(w, r, s, http.StatusBadRequest, broadcastFormData{Fields: f, Error: msg})
	}
	ctx := r.Context()
	if f.TemplateID != "" {
		t, err := h.cfg.Store.GetTemplate(ctx, s.user.TeamID, f.TemplateID)
		if err != nil {
			return err // another team's template: the 404 page
		}
		c := t.Content
		if t.Published != nil {
			c = *t.Published
		}
		f.HTML = c.HTML
		f.Text = ""
		if c.Text != nil {
			f.Text = *c.Text
		}
		if f.Subject == "" {
			f.Subject = c.Subject
		}
		if f.From == "" {
			f.From = c.From
		}
	}
	// The API's rules: internal/broadcast's for the name, the template
	// rules for the sender, subject and content.
	if _, err := broadcast.Name(f.Name); err != nil {
		return refuse(fmt.Sprintf("The name is at most %d characters, on one line.", broadcast.MaxName))
	}
	if msg := ruleMessage(checkContent(f.From, f.Subject, f.HTML, f.Text)); msg != "" {
		return refuse(msg)
	}
	if f.SegmentID == "" {
		return refuse("Choose a segment.")
	}
	if _, err := h.cfg.Store.GetSegment(ctx, s.user.TeamID, f.SegmentID); err != nil {
		return err // another team's segment: the 404 page
	}
	if f.From == "" || strings.TrimSpace(f.Subject) == "" {
		return refuse("A broadcast needs a sender and a subject.")
	}
	if h.cfg.Gate == nil {
		return &httpError{status: http.StatusServiceUnavailable, msg: "This server cannot check senders here."}
	}
	if _, err := h.cfg.Gate.CheckFrom(ctx, nil, s.user.TeamID, &store.Email{From: f.From}); err != nil {
		if ae := accept.AsError(err); ae != nil {
			return refuse(formMessage(ae.Message))
		}
		return fmt.Errorf("check sender: %w", err)
	}
	now := time.Now().UTC()
	b := &store.Broadcast{ID: store.NewID(), TeamID: s.user.TeamID, Name: f.Name, SegmentID: f.SegmentID, From: f.From,
		Subject: f.Subject, Status: store.BroadcastDraft, CreatedAt: now, UpdatedAt: now}
	if f.HTML != "" {
		b.HTML = &f.HTML
	}
	if f.Text != "" {
		b.Text = &f.Text
	}
	if err := h.cfg.Store.CreateBroadcast(ctx, b); err != nil {
		return fmt.Errorf("create broadcast: %w", err)
	}
	http.Redirect(w, r, Prefix+"broadcasts/"+url.PathEscape(b.ID), http.StatusSeeOther)
	return nil
}
