package dashboard

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/godwit/godwit/internal/message"
	"github.com/godwit/godwit/internal/schedule"
	"github.com/godwit/godwit/internal/store"
)

// The email page's parts beyond its timeline and bodies (emails.go): the
// message's headers and its .eml download, the attachments' downloads, a
// share link (admin), and canceling or rescheduling a scheduled email
// (admin).
//
// The message is the one delivery sends: the capture transport's copy
// when it kept one (signed, exactly as delivered), else built by
// message.Build as the delivery worker builds it, from the stored email,
// without the DKIM-Signature the worker adds with the domain's key (and
// without the tracking links it writes into the HTML when the domain
// tracks opens or clicks).

// emailPageStore is what the email page's actions write (part of Store).
type emailPageStore interface {
	RescheduleEmail(ctx context.Context, teamID, id string, at time.Time) error
	CancelEmail(ctx context.Context, teamID, id string, at time.Time) error
}

// headerField is one field of a message's header, unfolded and decoded.
type headerField struct {
	Name, Value string
}

// attachmentView is one line of the page's attachments.
type attachmentView struct {
	store.AttachmentInfo
	Name string // the filename, or "attachment N"
	Type string // the content type it is served with
	URL  string // its download ("" for one given by URL, which Godwit does not keep)
}

// shareChoice is one of the share form's expiries.
type shareChoice struct {
	Value, Label string
	TTL          time.Duration
}

var shareChoices = []shareChoice{{"1h", "1 hour", time.Hour}, {"24h", "24 hours", 24 * time.Hour}, {"48h", "48 hours", 48 * time.Hour}}

// parseShareTTL reads the share form's expiry: one of shareChoices.
func parseShareTTL(v string) (time.Duration, bool) {
	for _, c := range shareChoices {
		if c.Value == v {
			return c.TTL, true
		}
	}
	return 0, false
}

// emailForms is what the page's forms left for it to show: a message for
// the person, the share link just made, the reschedule field as typed.
type emailForms struct {
	Error        string
	ShareURL     string
	ShareExpires time.Time
	// SendAt and ScheduledAt are the reschedule form's text and date
	// picker as sent.
	SendAt      string
	ScheduledAt string
}

// emailMIMEData is the message part of the page.
type emailMIMEData struct {
	Headers []headerField
	// Captured: the headers are the capture transport's copy, as delivered;
	// else they are built as delivery builds them, unsigned.
	Captured bool
	// Unbuildable says why the message cannot be built ("" when it can).
	Unbuildable string
	RawURL      string
	Attachments []attachmentView
	// ByURL is set when an attachment is given by URL: delivery fetches
	// it, so a built .eml has it empty.
	ByURL bool
	// Scheduled: the email's last event is scheduled (cancel, reschedule).
	Scheduled bool
	// ScheduleMin and ScheduleMax bound the reschedule field
	// (datetime-local, UTC).
	ScheduleMin, ScheduleMax string
	// DerivedText is the text part delivery derives from the HTML of an
	// email given no text (message.HTMLToText); "" otherwise.
	DerivedText string
	// CanShare: the server has a public URL and a signer for share links.
	CanShare     bool
	ShareChoices []shareChoice
	Forms        emailForms
}

// errUnbuildable wraps why message.Build refused an email.
type errUnbuildable struct{ err error }

func (e *errUnbuildable) Error() string { return e.err.Error() }

// emailMIME is the email's message as delivered: the captured copy when
// there is one (captured true), else built as delivery builds it. With
// content false the attachments are left empty (the header is the same
// but for the random boundary), so that the page reads no attachment.
func (h *Handler) emailMIME(ctx context.Context, teamID string, d *store.EmailDetail, content bool) (raw []byte, captured bool, err error) {
	if d.Captured {
		raw, err := h.cfg.Store.GetCapturedMessage(ctx, teamID, d.Email.ID)
		if err == nil {
			return raw, true, nil
		}
		if !errors.Is(err, store.ErrNotFound) {
			return nil, false, fmt.Errorf("get captured message: %w", err)
		}
	}
	e := *d.Email
	e.Attachments = make([]store.Attachment, len(d.Attachments))
	for i, a := range d.Attachments {
		att := store.Attachment{Filename: a.Filename, ContentType: a.ContentType, ContentID: a.ContentID, Path: a.Path, Content: []byte{}}
		if content && a.Path == "" {
			full, err := h.cfg.Store.GetEmailAttachment(ctx, teamID, e.ID, a.Index)
			if err != nil {
				return nil, false, fmt.Errorf("get attachment: %w", err)
			}
			if full.Content != nil {
				att.Content = full.Content
			}
		}
		e.Attachments[i] = att
	}
	raw, err = message.Build(&e, message.Options{Now: builtDate(d), MessageID: e.MessageID()})
	if err != nil {
		return nil, false, &errUnbuildable{err}
	}
	return raw, false, nil
}

// builtDate is the Date of an email's message: the time of its last
// delivery attempt (delivery builds the message at each), else of its
// schedule, else of its creation.
func builtDate(d *store.EmailDetail) time.Time {
	if n := len(d.Attempts); n > 0 {
		return d.Attempts[n-1].CreatedAt
	}
	if d.Email.ScheduledAt != nil {
		return *d.Email.ScheduledAt
	}
	return d.Email.CreatedAt
}

// formatSize is a size in bytes for people: "512 bytes", "1.5 KiB",
// "2.0 MiB".
func formatSize(n int64) string {
	switch {
	case n == 1:
		return "1 byte"
	case n < 1<<10:
		return strconv.FormatInt(n, 10) + " bytes"
	case n < 1<<20:
		return strconv.FormatFloat(float64(n)/(1<<10), 'f', 1, 64) + " KiB"
	case n < 1<<30:
		return strconv.FormatFloat(float64(n)/(1<<20), 'f', 1, 64) + " MiB"
	default:
		return strconv.FormatFloat(float64(n)/(1<<30), 'f', 1, 64) + " GiB"
	}
}

// maxHeaderFields bounds the fields the page lists.
const maxHeaderFields = 500

// headerFields lists the fields of raw's header in order: folded lines
// joined, encoded words (RFC 2047) decoded where they can be.
func headerFields(raw []byte) []headerField {
	header, _ := splitHeader(raw)
	var out []headerField
	dec := new(mime.WordDecoder)
	flush := func(name, value string) {
		value = strings.TrimSpace(value)
		if v, err := dec.DecodeHeader(value); err == nil {
			value = v
		}
		out = append(out, headerField{Name: name, Value: value})
	}
	var name string
	var value strings.Builder
	have := false
	for _, line := range strings.Split(string(header), "\n") {
		line = strings.TrimSuffix(line, "\r")
		if line == "" {
			continue
		}
		if line[0] == ' ' || line[0] == '\t' {
			if have {
				value.WriteString(" ")
				value.WriteString(strings.TrimSpace(line))
			}
			continue
		}
		if have {
			flush(name, value.String())
			if len(out) == maxHeaderFields {
				return out
			}
		}
		i := strings.IndexByte(line, ':')
		if i <= 0 || !fieldName(line[:i]) {
			have = false
			continue
		}
		name, have = line[:i], true
		value.Reset()
		value.WriteString(strings.TrimSpace(line[i+1:]))
	}
	if have {
		flush(name, value.String())
	}
	return out
}

// fieldName reports whether s is a header field's name: printable ASCII
// but for ':' (RFC 5322's ftext).
func fieldName(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 33 || s[i] > 126 || s[i] == ':' {
			return false
		}
	}
	return s != ""
}

// emailPage renders the email's page with status and what a form left.
func (h *Handler) emailPage(w http.ResponseWriter, r *http.Request, s *request, status int, f emailForms) error {
	ctx := r.Context()
	d, err := h.cfg.Store.GetEmailDetail(ctx, s.user.TeamID, r.PathValue("id"))
	if err != nil {
		return err // ErrNotFound: the 404 page, for another team's email too
	}
	e := d.Email
	base := Prefix + "emails/" + url.PathEscape(e.ID)
	data := emailData{Email: e, Timeline: timeline(d.Events, d.Attempts), HasHTML: e.HTML != nil && *e.HTML != "",
		FrameURL: base + "/body.html"}
	if d.Captured && h.cfg.Capture {
		data.InboxURL = Prefix + "inbox/" + url.PathEscape(e.ID)
	}
	m := &data.emailMIMEData
	m.RawURL, m.Forms, m.ShareChoices = base+"/raw.eml", f, shareChoices
	m.Scheduled = e.LastEvent == store.EventScheduled
	if e.Text == nil && data.HasHTML {
		m.DerivedText = message.HTMLToText(*e.HTML)
	}
	m.CanShare = h.cfg.Tracking != nil && h.cfg.PublicURL != ""
	now := time.Now().UTC()
	m.ScheduleMin, m.ScheduleMax = now.Format("2006-01-02T15:04"), now.Add(maxSchedule).Format("2006-01-02T15:04")
	raw, captured, err := h.emailMIME(ctx, s.user.TeamID, d, false)
	var ub *errUnbuildable
	switch {
	case errors.As(err, &ub):
		m.Unbuildable = ub.Error()
	case err != nil:
		return err
	default:
		m.Headers, m.Captured = headerFields(raw), captured
	}
	for _, a := range d.Attachments {
		v := attachmentView{AttachmentInfo: a, Name: a.Filename, Type: message.AttachmentContentType(a.ContentType, a.Filename)}
		if v.Name == "" {
			v.Name = "attachment " + strconv.Itoa(a.Index+1)
		}
		if a.Path == "" {
			v.URL = base + "/attachments/" + strconv.Itoa(a.Index)
		} else {
			m.ByURL = true
		}
		m.Attachments = append(m.Attachments, v)
	}
	title := e.Subject
	if title == "" {
		title = "(no subject)"
	}
	return h.render(w, r, s, status, "email", title, "Emails", data)
}

// emailRaw downloads the email's message (emailMIME) as an .eml file.
func (h *Handler) emailRaw(w http.ResponseWriter, r *http.Request, s *request) error {
	d, err := h.cfg.Store.GetEmailDetail(r.Context(), s.user.TeamID, r.PathValue("id"))
	if err != nil {
		return err
	}
	raw, _, err := h.emailMIME(r.Context(), s.user.TeamID, d, true)
	var ub *errUnbuildable
	if errors.As(err, &ub) {
		return &httpError{status: http.StatusUnprocessableEntity, msg: "This email's message cannot be built: " + ub.Error()}
	}
	if err != nil {
		return err
	}
	hdr := w.Header()
	hdr.Set("Content-Type", "message/rfc822")
	hdr.Set("Content-Disposition", `attachment; filename="`+safeFilename(d.Email.ID)+`.eml"`)
	hdr.Set("Cache-Control", "private, no-store")
	hdr.Set("X-Content-Type-Options", "nosniff")
	hdr.Set("Content-Length", strconv.Itoa(len(raw)))
	_, _ = w.Write(raw)
	return nil
}

// parseIndex reads an attachment's index: digits only, at most 6.
func parseIndex(v string) (int, bool) {
	if v == "" || len(v) > 6 || strings.Trim(v, "0123456789") != "" {
		return 0, false
	}
	n, err := strconv.Atoi(v)
	return n, err == nil
}

// attachmentCSP is the policy of a downloaded attachment, should a
// browser show it after all: nothing runs, nothing loads.
const attachmentCSP = "default-src 'none'; frame-ancestors 'none'; sandbox"

// emailAttachment downloads one of the email's attachments: always as a
// file, never shown in the page.
func (h *Handler) emailAttachment(w http.ResponseWriter, r *http.Request, s *request) error {
	idx, ok := parseIndex(r.PathValue("index"))
	if !ok {
		return errNotFound
	}
	a, err := h.cfg.Store.GetEmailAttachment(r.Context(), s.user.TeamID, r.PathValue("id"), idx)
	if err != nil {
		return err // ErrNotFound: another team's email, or no such attachment
	}
	if a.Content == nil {
		return &httpError{status: http.StatusNotFound,
			msg: "This attachment is given by URL: delivery fetches it, and Godwit does not keep it."}
	}
	ctype := message.AttachmentContentType(a.ContentType, a.Filename)
	if _, _, err := mime.ParseMediaType(ctype); err != nil {
		ctype = "application/octet-stream"
	}
	name := a.Filename
	if name == "" {
		name = "attachment-" + strconv.Itoa(idx+1)
	}
	disp := mime.FormatMediaType("attachment", map[string]string{"filename": name})
	if disp == "" {
		disp = "attachment"
	}
	hdr := w.Header()
	hdr.Set("Content-Type", ctype)
	hdr.Set("Content-Disposition", disp)
	hdr.Set("X-Content-Type-Options", "nosniff")
	hdr.Set("Content-Security-Policy", attachmentCSP)
	hdr.Set("Cache-Control", "private, no-store")
	hdr.Set("Content-Length", strconv.Itoa(len(a.Content)))
	_, _ = w.Write(a.Content)
	return nil
}

// shareEmail makes a share link of the email (admin), as the API's POST
// /emails/{id}/share does, and shows it once on the page.
func (h *Handler) shareEmail(w http.ResponseWriter, r *http.Request, s *request) error {
	e, err := h.cfg.Store.GetEmail(r.Context(), s.user.TeamID, r.PathValue("id"))
	if err != nil {
		return err
	}
	if h.cfg.Tracking == nil || h.cfg.PublicURL == "" {
		return h.emailPage(w, r, s, http.StatusConflict, emailForms{
			Error: "This server has no public URL to build share links with: start it with --public-url."})
	}
	ttl, ok := parseShareTTL(r.PostFormValue("expires_in"))
	if !ok {
		return h.emailPage(w, r, s, http.StatusBadRequest, emailForms{Error: "Choose how long the link works: 1 hour, 24 hours or 48 hours."})
	}
	link, exp := h.cfg.Tracking.ShareLink(h.cfg.PublicURL, s.user.TeamID, e.ID, time.Now(), ttl)
	s.note(slog.Time("share_expires", exp)) // the link itself is a secret: never logged
	return h.emailPage(w, r, s, http.StatusOK, emailForms{ShareURL: link, ShareExpires: exp})
}

// errNoLongerScheduled is the answer to a cancel or reschedule of an email
// that has been sent or canceled meanwhile.
const errNoLongerScheduled = "This email is no longer scheduled: it has been sent or canceled."

// scheduleFormError maps the store's answer to a cancel or reschedule: a
// message for the person (with its status), or an error for the error
// page (ErrNotFound: the 404).
func scheduleFormError(err error) (int, string, error) {
	switch {
	case err == nil:
		return 0, "", nil
	case errors.Is(err, store.ErrNotScheduled):
		return http.StatusConflict, errNoLongerScheduled, nil
	case errors.Is(err, store.ErrNotFound):
		return 0, "", err
	default:
		return 0, "", fmt.Errorf("schedule email: %w", err)
	}
}

// confirmCancelEmail asks before canceling a scheduled email (admin).
func (h *Handler) confirmCancelEmail(w http.ResponseWriter, r *http.Request, s *request) error {
	e, err := h.cfg.Store.GetEmail(r.Context(), s.user.TeamID, r.PathValue("id"))
	if err != nil {
		return err
	}
	if e.LastEvent != store.EventScheduled {
		return h.emailPage(w, r, s, http.StatusConflict, emailForms{Error: errNoLongerScheduled})
	}
	return h.render(w, r, s, http.StatusOK, "emailcancel", "Cancel email", "Emails", e)
}

// cancelEmail cancels a scheduled email (admin), then shows its page.
func (h *Handler) cancelEmail(w http.ResponseWriter, r *http.Request, s *request) error {
	id := r.PathValue("id")
	status, msg, err := scheduleFormError(h.cfg.Store.CancelEmail(r.Context(), s.user.TeamID, id, time.Now().UTC()))
	if err != nil {
		return err
	}
	if msg != "" {
		return h.emailPage(w, r, s, status, emailForms{Error: msg})
	}
	http.Redirect(w, r, Prefix+"emails/"+url.PathEscape(id), http.StatusSeeOther)
	return nil
}

// rescheduleEmail moves a scheduled email (admin) to the form's time: the
// text in the API's scheduled_at forms (ISO 8601 or words such as "in 2
// hours", read by schedule.Parse), or else the date picker's value (UTC);
// at most 30 days ahead, and a time already past sends it now, as the
// API's PATCH does.
func (h *Handler) rescheduleEmail(w http.ResponseWriter, r *http.Request, s *request) error {
	e, err := h.cfg.Store.GetEmail(r.Context(), s.user.TeamID, r.PathValue("id"))
	if err != nil {
		return err
	}
	f := emailForms{SendAt: strings.TrimSpace(r.PostFormValue("send_at")),
		ScheduledAt: strings.TrimSpace(r.PostFormValue("scheduled_at"))}
	refuse := func(msg string) error {
		f.Error = msg
		return h.emailPage(w, r, s, http.StatusBadRequest, f)
	}
	v := f.SendAt
	switch {
	case v != "" && f.ScheduledAt != "":
		return refuse("Give the new time either as text or with the date picker, not both.")
	case v == "":
		v = f.ScheduledAt
	}
	if v == "" {
		return refuse("Give the new time.")
	}
	now := time.Now().UTC()
	at, serr := schedule.Parse(v, now, maxSchedule)
	if msg := scheduleMessage(serr, "an email"); msg != "" {
		return refuse(msg)
	}
	if serr != nil {
		return fmt.Errorf("read the new time: %w", serr)
	}
	when := now
	if at != nil {
		when = *at
	}
	status, msg, err := scheduleFormError(h.cfg.Store.RescheduleEmail(r.Context(), s.user.TeamID, e.ID, when))
	if err != nil {
		return err
	}
	if msg != "" {
		f.Error = msg
		return h.emailPage(w, r, s, status, f)
	}
	s.note(slog.Time("scheduled_at", when))
	http.Redirect(w, r, Prefix+"emails/"+url.PathEscape(e.ID), http.StatusSeeOther)
	return nil
}
