package dashboard

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/godwit/godwit/internal/message"
	"github.com/godwit/godwit/internal/store"
)

// emailsPerPage is the length of a page of the emails list.
const emailsPerPage = 50

// emailStatuses are the statuses the list filters by: every last event an
// email can have, then the engagement ones.
var emailStatuses = []string{store.EventQueued, store.EventScheduled, store.EventSent, store.EventDelivered,
	store.EventDeliveryDelayed, store.EventBounced, store.EventComplained, store.EventFailed, store.EventCanceled,
	store.EventSuppressed, "opened", "clicked"}

type emailsData struct {
	Emails []*store.Email
	// pager's links keep the filter.
	pager
	// Form is the filter as typed; Filtered whether any is set.
	Form     emailsForm
	Filtered bool
	Statuses []string
	Domains  []*store.Domain
}

// emailsForm is the list's filter form, as its GET parameters.
type emailsForm struct {
	Status, Domain, Tag, To, Since, Until string
}

// values are the form's parameters that are set, for the pager's links.
func (f emailsForm) values() url.Values {
	v := url.Values{}
	for _, kv := range [][2]string{{"status", f.Status}, {"domain", f.Domain}, {"tag", f.Tag}, {"to", f.To},
		{"since", f.Since}, {"until", f.Until}} {
		if kv[1] != "" {
			v.Set(kv[0], kv[1])
		}
	}
	return v
}

// maxFilterLen bounds each filter parameter.
const maxFilterLen = 320

// parseEmailFilter reads the list's filter from its query: status (one of
// emailStatuses), domain (a domain's id), tag ("name=value" or
// "name:value"), to (a recipient's address), since and until (UTC dates,
// both days included). A bad value is a message for the person.
func parseEmailFilter(q url.Values) (emailsForm, store.EmailFilter, error) {
	form := emailsForm{Status: strings.TrimSpace(q.Get("status")), Domain: strings.TrimSpace(q.Get("domain")),
		Tag: strings.TrimSpace(q.Get("tag")), To: strings.TrimSpace(q.Get("to")),
		Since: strings.TrimSpace(q.Get("since")), Until: strings.TrimSpace(q.Get("until"))}
	var f store.EmailFilter
	for _, v := range []string{form.Status, form.Domain, form.Tag, form.To, form.Since, form.Until} {
		if len(v) > maxFilterLen || !utf8.ValidString(v) {
			return form, f, errors.New("A filter is too long.")
		}
	}
	if form.Status != "" {
		if !slices.Contains(emailStatuses, form.Status) {
			return form, f, errors.New("Choose a status from the list.")
		}
		f.Status = form.Status
	}
	f.DomainID = form.Domain
	if form.Tag != "" {
		i := strings.IndexAny(form.Tag, "=:")
		if i <= 0 {
			return form, f, errors.New("Write a tag as name=value.")
		}
		f.Tag = &store.Tag{Name: strings.TrimSpace(form.Tag[:i]), Value: strings.TrimSpace(form.Tag[i+1:])}
	}
	f.Recipient = form.To
	if form.Since != "" {
		t, err := time.Parse(time.DateOnly, form.Since)
		if err != nil {
			return form, f, errors.New("Write the first day as YYYY-MM-DD.")
		}
		f.Since = t
	}
	if form.Until != "" {
		t, err := time.Parse(time.DateOnly, form.Until)
		if err != nil {
			return form, f, errors.New("Write the last day as YYYY-MM-DD.")
		}
		f.Until = t.AddDate(0, 0, 1)
	}
	if !f.Since.IsZero() && !f.Until.IsZero() && !f.Since.Before(f.Until) {
		return form, f, errors.New("The first day must be on or before the last.")
	}
	return form, f, nil
}

// emails lists the team's emails newest first, a page at a time, narrowed
// by the filter form (a GET form: a filtered page is a link): one query
// per page (the list leaves bodies out), and one for the domains of the
// form.
func (h *Handler) emails(w http.ResponseWriter, r *http.Request, s *request) error {
	q := r.URL.Query()
	p := store.Page{Limit: emailsPerPage, After: q.Get("after"), Before: q.Get("before")}
	if p.After != "" && p.Before != "" {
		return &httpError{status: http.StatusBadRequest, msg: "Give either a newer or an older page, not both."}
	}
	form, filter, err := parseEmailFilter(q)
	if err != nil {
		return &httpError{status: http.StatusBadRequest, msg: err.Error()}
	}
	list, more, err := h.cfg.Store.SearchEmails(r.Context(), s.user.TeamID, filter, p)
	if errors.Is(err, store.ErrNotFound) {
		return errNotFound
	}
	if err != nil {
		return fmt.Errorf("search emails: %w", err)
	}
	domains, err := h.cfg.Store.ListDomains(r.Context(), s.user.TeamID)
	if err != nil {
		return fmt.Errorf("list domains: %w", err)
	}
	data := emailsData{Emails: list, Form: form, Filtered: len(form.values()) > 0, Statuses: emailStatuses, Domains: domains}
	if len(list) > 0 {
		data.pager = pagerOf(p, len(list), list[0].ID, list[len(list)-1].ID, more, listLink("emails", form.values()))
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
	// InboxURL is the captured message's page in the dev inbox ("" when
	// none).
	InboxURL string
	emailMIMEData
}

// email is an email's page: its metadata, a timeline of its events and
// delivery attempts, its text, its HTML in a sandboxed frame, its
// message's headers, attachments and the admin's forms (emailpage.go); the
// store reads it all in one snapshot with a fixed number of queries.
func (h *Handler) email(w http.ResponseWriter, r *http.Request, s *request) error {
	return h.emailPage(w, r, s, http.StatusOK, emailForms{})
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
	writeFrame(w, body)
	return nil
}

// writeFrame answers a sandboxed frame's request (an email's, a captured
// message's, a template's or a broadcast's HTML) with body under the
// frame's own policy: FrameCSP (no script, nothing loaded from elsewhere),
// framed only by the dashboard, never cached or sent a referrer.
func writeFrame(w http.ResponseWriter, body string) {
	hdr := w.Header()
	hdr.Set("Content-Security-Policy", FrameCSP)
	hdr.Set("X-Frame-Options", "SAMEORIGIN")
	hdr.Set("Referrer-Policy", "no-referrer")
	hdr.Set("Content-Type", "text/html; charset=utf-8")
	hdr.Set("Cache-Control", "private, no-store")
	_, _ = w.Write([]byte(body))
}
