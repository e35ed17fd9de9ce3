package dashboard

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/godwit/godwit/internal/message"
	"github.com/godwit/godwit/internal/store"
)

// emailsPerPage is the length of a page of the emails list.
const emailsPerPage = 50

type emailsData struct {
	Emails []*store.Email
	// Newer and Older are the cursors of the pages beside this one ("" for
	// none).
	Newer, Older string
}

// emails lists the team's emails newest first, a page at a time: one
// query per page (the list leaves bodies out).
func (h *Handler) emails(w http.ResponseWriter, r *http.Request, s *request) error {
	q := r.URL.Query()
	p := store.Page{Limit: emailsPerPage, After: q.Get("after"), Before: q.Get("before")}
	if p.After != "" && p.Before != "" {
		return &httpError{status: http.StatusBadRequest, msg: "Give either a newer or an older page, not both."}
	}
	list, more, err := h.cfg.Store.ListEmails(r.Context(), s.user.TeamID, p)
	if errors.Is(err, store.ErrNotFound) {
		return errNotFound
	}
	if err != nil {
		return fmt.Errorf("list emails: %w", err)
	}
	data := emailsData{Emails: list}
	if len(list) > 0 {
		first, last := list[0].ID, list[len(list)-1].ID
		switch {
		case p.After != "":
			data.Newer = first
			if more {
				data.Older = last
			}
		case p.Before != "":
			data.Older = last
			if more {
				data.Newer = first
			}
		case more:
			data.Older = last
		}
	}
	return h.render(w, r, s, http.StatusOK, "emails", "Emails", "Emails", data)
}

// timelineEntry is one line of an email's history: an event or a delivery
// attempt.
type timelineEntry struct {
	At      time.Time
	Event   string // the event's type, or "" for an attempt
	Detail  string // the event's data, compact
	Attempt *store.DeliveryAttempt
}

type emailData struct {
	Email    *store.Email
	Timeline []timelineEntry
	HasHTML  bool
	FrameURL string
}

// email is an email's page: its metadata, a timeline of its events and
// delivery attempts, its text, and its HTML in a sandboxed frame; the
// store reads it all in one snapshot with a fixed number of queries.
func (h *Handler) email(w http.ResponseWriter, r *http.Request, s *request) error {
	d, err := h.cfg.Store.GetEmailDetail(r.Context(), s.user.TeamID, r.PathValue("id"))
	if err != nil {
		return err // ErrNotFound: the 404 page, for another team's email too
	}
	e := d.Email
	data := emailData{Email: e, Timeline: timeline(d.Events, d.Attempts), HasHTML: e.HTML != nil && *e.HTML != "",
		FrameURL: Prefix + "emails/" + url.PathEscape(e.ID) + "/body.html"}
	title := e.Subject
	if title == "" {
		title = "(no subject)"
	}
	return h.render(w, r, s, http.StatusOK, "email", title, "Emails", data)
}

// timeline merges an email's events and attempts (each oldest first) by
// time; at the same instant an attempt comes before the event it caused.
func timeline(events []*store.EmailEvent, attempts []*store.DeliveryAttempt) []timelineEntry {
	out := make([]timelineEntry, 0, len(events)+len(attempts))
	for _, a := range attempts {
		out = append(out, timelineEntry{At: a.CreatedAt, Attempt: a})
	}
	for _, ev := range events {
		out = append(out, timelineEntry{At: ev.CreatedAt, Event: ev.Type, Detail: eventDetail(ev.Data)})
	}
	sort.SliceStable(out, func(i, j int) bool {
		if !out[i].At.Equal(out[j].At) {
			return out[i].At.Before(out[j].At)
		}
		return out[i].Attempt != nil && out[j].Attempt == nil
	})
	return out
}

// eventDetail is an event's data as one short line ("" for none).
func eventDetail(data json.RawMessage) string {
	if len(data) == 0 || string(data) == "null" || string(data) == "{}" {
		return ""
	}
	var v map[string]any
	if err := json.Unmarshal(data, &v); err != nil {
		return string(data)
	}
	keys := make([]string, 0, len(v))
	for k := range v {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		if b.Len() > 0 {
			b.WriteString(" · ")
		}
		val, _ := json.Marshal(v[k])
		fmt.Fprintf(&b, "%s: %s", k, strings.Trim(string(val), `"`))
	}
	return b.String()
}

// emailHTML serves an email's HTML for the sandboxed frame of its page,
// under a policy that runs no script and loads nothing remote; its inline
// (cid:) images are written in as data: URIs.
func (h *Handler) emailHTML(w http.ResponseWriter, r *http.Request, s *request) error {
	e, err := h.cfg.Store.GetEmail(r.Context(), s.user.TeamID, r.PathValue("id"))
	if err != nil {
		return err
	}
	var body string
	if e.HTML != nil {
		body = *e.HTML
	}
	if strings.Contains(body, "cid:") {
		atts, err := h.cfg.Store.ListEmailAttachments(r.Context(), s.user.TeamID, e.ID)
		if err != nil {
			return fmt.Errorf("list attachments: %w", err)
		}
		body, err = message.InlineImages(body, atts, func(index int) (*store.Attachment, error) {
			return h.cfg.Store.GetEmailAttachment(r.Context(), s.user.TeamID, e.ID, index)
		})
		if err != nil {
			return err
		}
	}
	hdr := w.Header()
	hdr.Set("Content-Security-Policy", FrameCSP)
	hdr.Set("X-Frame-Options", "SAMEORIGIN")
	hdr.Set("Referrer-Policy", "no-referrer")
	hdr.Set("Content-Type", "text/html; charset=utf-8")
	hdr.Set("Cache-Control", "private, no-store")
	_, _ = w.Write([]byte(body))
	return nil
}
