package dashboard

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/godwit/godwit/internal/broadcast"
	"github.com/godwit/godwit/internal/schedule"
	"github.com/godwit/godwit/internal/store"
)

// The Broadcasts section: a team's broadcasts; a broadcast's page with
// its content previewed in the sandboxed frame, its recipients by type and
// its clicked links (counted by internal/broadcast from the same store
// call as GET /broadcasts/{id}/recipients and /clicked-links). An admin
// sends a draft now or at a time, and cancels a queued or scheduled one
// after a confirmation, with the store calls the API makes.

// broadcastsStore is what the Broadcasts pages read and write (part of
// Store).
type broadcastsStore interface {
	GetBroadcast(ctx context.Context, teamID, id string) (*store.Broadcast, error)
	ListBroadcasts(ctx context.Context, teamID string, p store.Page) ([]*store.Broadcast, bool, error)
	SendBroadcast(ctx context.Context, teamID, id string, at *time.Time, now time.Time) error
	CancelBroadcast(ctx context.Context, teamID, id string, now time.Time) error
	BroadcastEmails(ctx context.Context, teamID, broadcastID, eventType string) ([]*store.BroadcastEmail, error)
}

const (
	broadcastsPerPage = 50
	recipientsPerPage = 50
)

type broadcastsData struct {
	Broadcasts []*store.Broadcast
	pager
}

// broadcasts lists the team's broadcasts, newest first.
func (h *Handler) broadcasts(w http.ResponseWriter, r *http.Request, s *request) error {
	list, pg, err := listPage(r, broadcastsPerPage, "broadcasts", "broadcasts", func(p store.Page) ([]*store.Broadcast, bool, error) {
		return h.cfg.Store.ListBroadcasts(r.Context(), s.user.TeamID, p)
	}, func(b *store.Broadcast) string { return b.ID })
	if err != nil {
		return err
	}
	data := broadcastsData{Broadcasts: list, pager: pg}
	return h.render(w, r, s, http.StatusOK, "broadcasts", "Broadcasts", "Broadcasts", data)
}

// recipientRow is one recipient of the broadcast's page.
type recipientRow struct {
	Email  string
	Count  int
	Detail string
}

type broadcastData struct {
	Broadcast *store.Broadcast
	FrameURL  string
	HasHTML   bool
	// Types are the recipient kinds; Type the one shown (unsubscribed is
	// the API's only).
	Types      []string
	Type       string
	Recipients []recipientRow
	// Pager links the pages of recipients beside the one shown.
	Pager     pager
	Links     []broadcast.ClickedLink
	CanSend   bool
	CanCancel bool
	Error     string
	// SendAt is the send form's time as typed, and ReadAs the time it was
	// read as (UTC), shown back when the form is refused.
	SendAt string
	ReadAs *time.Time
}

// pageTypes are the recipient kinds the page filters by (unsubscribed,
// which needs the contacts, is the API's).
var pageTypes = slices.DeleteFunc(slices.Clone(broadcast.RecipientTypes), func(t string) bool { return t == "unsubscribed" })

// parseRecipientsQuery reads the recipients' type (sent when absent) and
// offset; ok false for anything else.
func parseRecipientsQuery(q url.Values) (typ string, offset int, ok bool) {
	typ = q.Get("type")
	if typ == "" {
		typ = "sent"
	}
	if !slices.Contains(pageTypes, typ) {
		return "", 0, false
	}
	if o := q.Get("offset"); o != "" {
		n, err := strconv.Atoi(o)
		if err != nil || n < 0 || n > 1<<30 {
			return "", 0, false
		}
		offset = n
	}
	return typ, offset, true
}

// broadcast is a broadcast's page: details, preview, recipients of one
// type (a page of them) and clicked links; three queries.
func (h *Handler) broadcast(w http.ResponseWriter, r *http.Request, s *request) error {
	return h.broadcastPage(w, r, s, http.StatusOK, "")
}

func (h *Handler) broadcastPage(w http.ResponseWriter, r *http.Request, s *request, status int, msg string) error {
	return h.broadcastPageWith(w, r, s, status, msg, broadcastData{})
}

// broadcastPageWith is the page with the send form's values of d (SendAt,
// ReadAs) and the message msg.
func (h *Handler) broadcastPageWith(w http.ResponseWriter, r *http.Request, s *request, status int, msg string, form broadcastData) error {
	typ, offset, ok := parseRecipientsQuery(r.URL.Query())
	if !ok {
		return &httpError{status: http.StatusBadRequest, msg: "Unknown recipient type or page."}
	}
	ctx := r.Context()
	b, err := h.cfg.Store.GetBroadcast(ctx, s.user.TeamID, r.PathValue("id"))
	if err != nil {
		return err
	}
	d := broadcastData{Broadcast: b, FrameURL: Prefix + "broadcasts/" + url.PathEscape(b.ID) + "/preview.html",
		HasHTML: b.HTML != nil && *b.HTML != "", Types: pageTypes, Type: typ, Error: msg,
		CanSend: b.Status == store.BroadcastDraft, CanCancel: b.Status == store.BroadcastQueued || b.Status == store.BroadcastScheduled,
		SendAt: form.SendAt, ReadAs: form.ReadAs}
	if b.Status != store.BroadcastDraft {
		list, err := h.cfg.Store.BroadcastEmails(ctx, s.user.TeamID, b.ID, typ)
		if err != nil {
			return fmt.Errorf("broadcast recipients: %w", err)
		}
		end := min(offset+recipientsPerPage, len(list))
		if offset < len(list) {
			for _, be := range list[offset:end] {
				row := recipientRow{Email: broadcast.RecipientAddress(be), Count: len(be.Events)}
				switch typ {
				case "bounced":
					row.Detail = broadcast.BounceType(be.Events)
				case "clicked":
					for i, c := range broadcast.Clicks(be.Events) {
						if i > 0 {
							row.Detail += ", "
						}
						row.Detail += c.URL + " (" + strconv.Itoa(c.Clicks) + ")"
					}
				}
				d.Recipients = append(d.Recipients, row)
			}
		}
		link := func(offset int) string {
			return Prefix + "broadcasts/" + url.PathEscape(b.ID) + "?type=" + url.QueryEscape(typ) + "&offset=" + strconv.Itoa(offset)
		}
		d.Pager = pager{NewerText: "← Previous", OlderText: "Next →"}
		if offset > 0 {
			d.Pager.Newer = link(max(0, offset-recipientsPerPage))
		}
		if end < len(list) {
			d.Pager.Older = link(end)
		}
		clicked, err := h.cfg.Store.BroadcastEmails(ctx, s.user.TeamID, b.ID, "clicked")
		if err != nil {
			return fmt.Errorf("broadcast clicked links: %w", err)
		}
		d.Links = broadcast.ClickedLinks(clicked)
	}
	title := b.Name
	if title == "" {
		title = b.Subject
	}
	return h.render(w, r, s, status, "broadcast", title, "Broadcasts", d)
}

// broadcastPreview serves a broadcast's HTML for the sandboxed frame of
// its page (the email frame's policy), rendered by the merge formatter
// with no contact: inline fallbacks apply, other placeholders stay as
// written (each recipient's values are filled in when it is sent).
func (h *Handler) broadcastPreview(w http.ResponseWriter, r *http.Request, s *request) error {
	b, err := h.cfg.Store.GetBroadcast(r.Context(), s.user.TeamID, r.PathValue("id"))
	if err != nil {
		return err
	}
	var body string
	if b.HTML != nil {
		if body, err = renderPreview(*b.HTML, nil, true); err != nil {
			return fmt.Errorf("render html: %w", err)
		}
	}
	writeFrame(w, body)
	return nil
}

// sendBroadcast sends a draft now, or schedules it (admin), with the
// API's checks (broadcast.Sendable), time rules (schedule.Parse: ISO 8601
// or natural language, at most 30 days ahead) and store call. The time is
// the "Send at" text, or else the date picker's value (UTC).
func (h *Handler) sendBroadcast(w http.ResponseWriter, r *http.Request, s *request) error {
	b, err := h.cfg.Store.GetBroadcast(r.Context(), s.user.TeamID, r.PathValue("id"))
	if err != nil {
		return err
	}
	now := time.Now().UTC()
	form := broadcastData{SendAt: strings.TrimSpace(r.PostFormValue("send_at"))}
	picked := strings.TrimSpace(r.PostFormValue("scheduled_at"))
	refuse := func(status int, msg string) error { return h.broadcastPageWith(w, r, s, status, msg, form) }
	both := form.SendAt != "" && picked != ""
	if form.SendAt == "" {
		form.SendAt = picked
	}
	at, serr := schedule.Parse(form.SendAt, now, maxSchedule)
	form.ReadAs = at
	if both {
		return refuse(http.StatusBadRequest, "Give the time either as text or with the date picker, not both.")
	}
	if b.Status != store.BroadcastDraft {
		return refuse(http.StatusConflict, "This broadcast has already been sent or scheduled.")
	}
	switch err := broadcast.Sendable(b, h.cfg.PublicURL != ""); {
	case errors.Is(err, broadcast.ErrNoContent):
		return refuse(http.StatusBadRequest, "The broadcast has no content to send.")
	case errors.Is(err, broadcast.ErrNoPublicURL):
		return refuse(http.StatusBadRequest,
			"The broadcast has an unsubscribe link, but this server has no public URL to build it with (start it with --public-url).")
	case err != nil:
		return fmt.Errorf("check broadcast: %w", err)
	}
	if msg := scheduleMessage(serr, "a broadcast"); msg != "" {
		return refuse(http.StatusBadRequest, msg)
	}
	if serr != nil {
		return fmt.Errorf("read send time: %w", serr)
	}
	err = h.cfg.Store.SendBroadcast(r.Context(), s.user.TeamID, b.ID, at, now)
	if errors.Is(err, store.ErrBroadcastState) {
		return refuse(http.StatusConflict, "This broadcast has already been sent or scheduled.")
	}
	if err != nil {
		return fmt.Errorf("send broadcast: %w", err)
	}
	http.Redirect(w, r, Prefix+"broadcasts/"+url.PathEscape(b.ID), http.StatusSeeOther)
	return nil
}

// scheduleMessage is the form's message for a time schedule.Parse refuses
// ("" for nil or another error): when it was read but is too far ahead,
// the time it was read as, in UTC. what is what is scheduled ("a
// broadcast").
func scheduleMessage(err error, what string) string {
	var se *schedule.Error
	switch {
	case !errors.As(err, &se):
		return ""
	case se.TooFar && !se.At.IsZero():
		return fmt.Sprintf("That reads as %s UTC, more than %s ahead: the most %s can be scheduled.",
			se.At.Format("Mon 2 Jan 2006 15:04"), schedule.HumanDuration(se.MaxAhead), what)
	case se.TooFar:
		return fmt.Sprintf("%s is scheduled at most %s ahead.", upperFirst(what), schedule.HumanDuration(se.MaxAhead))
	}
	return `The time must be a date and time such as 2026-12-24 09:00 or 2026-12-24T09:00:00+01:00 (UTC unless a zone is given), ` +
		`or words such as "in 2 hours", "tomorrow at 9am" or "Friday at 3pm ET" (UTC unless a zone ends it).`
}

// confirmCancelBroadcast asks before canceling (admin).
func (h *Handler) confirmCancelBroadcast(w http.ResponseWriter, r *http.Request, s *request) error {
	b, err := h.cfg.Store.GetBroadcast(r.Context(), s.user.TeamID, r.PathValue("id"))
	if err != nil {
		return err
	}
	return h.render(w, r, s, http.StatusOK, "broadcastcancel", "Cancel broadcast", "Broadcasts", b)
}

// cancelBroadcast cancels a queued or scheduled broadcast (admin).
func (h *Handler) cancelBroadcast(w http.ResponseWriter, r *http.Request, s *request) error {
	b, err := h.cfg.Store.GetBroadcast(r.Context(), s.user.TeamID, r.PathValue("id"))
	if err != nil {
		return err
	}
	err = h.cfg.Store.CancelBroadcast(r.Context(), s.user.TeamID, b.ID, time.Now().UTC())
	if errors.Is(err, store.ErrBroadcastState) {
		return h.broadcastPage(w, r, s, http.StatusConflict, "Only a queued or scheduled broadcast can be canceled.")
	}
	if err != nil {
		return fmt.Errorf("cancel broadcast: %w", err)
	}
	http.Redirect(w, r, Prefix+"broadcasts/"+url.PathEscape(b.ID), http.StatusSeeOther)
	return nil
}

// maxSchedule is how far ahead a broadcast can be scheduled, as in the API.
const maxSchedule = schedule.DefaultMaxAhead

// upperFirst is s with its first letter (ASCII) in upper case.
func upperFirst(s string) string {
	if s == "" || s[0] < 'a' || s[0] > 'z' {
		return s
	}
	return string(s[0]-'a'+'A') + s[1:]
}
