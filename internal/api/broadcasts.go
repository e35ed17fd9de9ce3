package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"net/http"
	"slices"
	"strings"

	"github.com/godwit/godwit/internal/apierr"
	"github.com/godwit/godwit/internal/broadcast"
	"github.com/godwit/godwit/internal/events"
	"github.com/godwit/godwit/internal/sendreq"
	"github.com/godwit/godwit/internal/store"
	"github.com/godwit/godwit/internal/tracking"
)

// The Broadcasts API. A broadcast is a draft until it is sent; sending
// (POST /broadcasts/{id}/send, or create with send:true) queues it, or
// schedules it with scheduled_at, and commits its job (internal/broadcast)
// in the same transaction. Only drafts are updated or deleted; only queued
// or scheduled broadcasts are canceled.

var (
	errBroadcastNotFound = apierr.NotFound("Broadcast not found")
	errBroadcastNotDraft = apierr.Validation("This broadcast has already been sent or scheduled. Only broadcasts in draft can be changed or deleted.")
	errBroadcastNoCancel = apierr.Validation("Only queued or scheduled broadcasts can be canceled.")
)

type broadcastObject struct {
	Object      string   `json:"object"`
	ID          string   `json:"id"`
	Name        *string  `json:"name"`
	SegmentID   string   `json:"segment_id"`
	AudienceID  string   `json:"audience_id"`
	From        string   `json:"from"`
	Subject     string   `json:"subject"`
	ReplyTo     []string `json:"reply_to"`
	PreviewText *string  `json:"preview_text"`
	Status      string   `json:"status"`
	CreatedAt   string   `json:"created_at"`
	ScheduledAt *string  `json:"scheduled_at"`
	SentAt      *string  `json:"sent_at"`
	HTML        *string  `json:"html"`
	Text        *string  `json:"text"`
	TopicID     *string  `json:"topic_id"`
}

type broadcastItem struct {
	ID          string  `json:"id"`
	Name        *string `json:"name"`
	SegmentID   string  `json:"segment_id"`
	AudienceID  string  `json:"audience_id"`
	Status      string  `json:"status"`
	CreatedAt   string  `json:"created_at"`
	ScheduledAt *string `json:"scheduled_at"`
	SentAt      *string `json:"sent_at"`
	TopicID     *string `json:"topic_id"`
}

func toBroadcastObject(b *store.Broadcast) broadcastObject {
	return broadcastObject{Object: "broadcast", ID: b.ID, Name: nonEmpty(b.Name), SegmentID: b.SegmentID, AudienceID: b.SegmentID,
		From: b.From, Subject: b.Subject, ReplyTo: b.ReplyTo, PreviewText: nonEmpty(b.PreviewText), Status: b.Status,
		CreatedAt: formatTime(b.CreatedAt), ScheduledAt: formatTimePtr(b.ScheduledAt), SentAt: formatTimePtr(b.SentAt),
		HTML: b.HTML, Text: b.Text, TopicID: nonEmpty(b.TopicID)}
}

type broadcastRequest struct {
	SegmentID   json.RawMessage `json:"segment_id"`
	AudienceID  json.RawMessage `json:"audience_id"`
	From        json.RawMessage `json:"from"`
	Subject     json.RawMessage `json:"subject"`
	Name        json.RawMessage `json:"name"`
	ReplyTo     json.RawMessage `json:"reply_to"`
	PreviewText json.RawMessage `json:"preview_text"`
	HTML        json.RawMessage `json:"html"`
	Text        json.RawMessage `json:"text"`
	TopicID     json.RawMessage `json:"topic_id"`
	Send        json.RawMessage `json:"send"`
	ScheduledAt json.RawMessage `json:"scheduled_at"`
}

// applyBroadcastRequest sets the fields the request gives (all required
// ones on create) after checking them: the segment and topic must be the
// team's, and from must pass the sending gate.
func (h *Handler) applyBroadcastRequest(ctx context.Context, b *store.Broadcast, req *broadcastRequest, create bool) error {
	key := callerKey(ctx)
	seg := req.SegmentID
	field := "segment_id"
	if !present(seg) || string(seg) == `""` {
		seg, field = req.AudienceID, "audience_id"
	}
	s, err := rawString(field, seg)
	if err != nil {
		return err
	}
	if s != nil && *s != "" {
		id, err := uuidParam(field, strings.TrimSpace(*s))
		if err != nil {
			return err
		}
		if _, err := h.Store.GetSegment(ctx, b.TeamID, id); errors.Is(err, store.ErrNotFound) {
			return apierr.NotFound("Segment not found")
		} else if err != nil {
			return fmt.Errorf("get segment: %w", err)
		}
		b.SegmentID = id
	} else if create {
		return apierr.MissingField("segment_id")
	}
	if s, err := rawString("from", req.From); err != nil {
		return err
	} else if s != nil && *s != "" {
		from, err := templateFrom(*s)
		if err != nil {
			return err
		}
		if _, err := h.Accept.CheckFrom(ctx, key, b.TeamID, &store.Email{From: from}); err != nil {
			return err
		}
		b.From = from
	} else if create {
		return apierr.MissingField("from")
	}
	if s, err := rawString("subject", req.Subject); err != nil {
		return err
	} else if s != nil && *s != "" {
		if b.Subject, err = templateSubject(*s); err != nil {
			return err
		}
	} else if create {
		return apierr.MissingField("subject")
	}
	if s, err := rawString("name", req.Name); err != nil {
		return err
	} else if s != nil {
		if b.Name, err = broadcast.Name(*s); err != nil {
			return broadcastRule(err)
		}
	}
	if present(req.ReplyTo) {
		if b.ReplyTo, err = templateReplyTo(req.ReplyTo); err != nil {
			return err
		}
	}
	if s, err := rawString("preview_text", req.PreviewText); err != nil {
		return err
	} else if s != nil {
		b.PreviewText = strings.TrimSpace(*s)
	}
	if s, err := rawString("html", req.HTML); err != nil {
		return err
	} else if s != nil {
		b.HTML = s
	}
	if s, err := rawString("text", req.Text); err != nil {
		return err
	} else if s != nil {
		b.Text = s
	}
	if s, err := rawString("topic_id", req.TopicID); err != nil {
		return err
	} else if s != nil {
		e := &store.Email{TopicID: strings.TrimSpace(*s)}
		if err := h.Accept.CheckTopic(ctx, b.TeamID, e); err != nil {
			return err
		}
		b.TopicID = e.TopicID
	}
	return nil
}

func (h *Handler) loadBroadcast(r *http.Request) (*store.Broadcast, error) {
	id, err := uuidParam("id", strings.TrimSpace(r.PathValue("id")))
	if err != nil {
		return nil, err
	}
	b, err := h.Store.GetBroadcast(r.Context(), callerKey(r.Context()).TeamID, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, errBroadcastNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("get broadcast: %w", err)
	}
	return b, nil
}

// sendable checks that a broadcast can be sent (broadcast.Sendable): it
// has content, and an unsubscribe link can be made when the content asks
// for one.
func (h *Handler) sendable(b *store.Broadcast) error {
	return broadcastRule(broadcast.Sendable(b, h.Tracking != nil && h.PublicURL != ""))
}

// broadcastRule is the API's answer to a broadcast the rules refuse (a
// *broadcast.Error): a 422 validation_error with its message. Other errors
// (and nil) pass through.
func broadcastRule(err error) error {
	var be *broadcast.Error
	if errors.As(err, &be) {
		return apierr.Validation("%s", be.Message)
	}
	return err
}

// parseSchedule reads a scheduled_at member: nil for absent, null or ""
// (send now; the Go SDK always sends ""), else the text to parse.
func (h *Handler) parseSchedule(raw json.RawMessage) (at *string, err error) {
	s, err := rawString("scheduled_at", raw)
	if err != nil || s == nil || strings.TrimSpace(*s) == "" {
		return nil, err
	}
	return s, nil
}

func (h *Handler) createBroadcast(w http.ResponseWriter, r *http.Request) error {
	var req broadcastRequest
	if err := h.decodeJSONBody(w, r, &req); err != nil {
		return err
	}
	now := h.Now().UTC()
	b := &store.Broadcast{ID: store.NewID(), TeamID: callerKey(r.Context()).TeamID, Status: store.BroadcastDraft,
		CreatedAt: now, UpdatedAt: now}
	if err := h.applyBroadcastRequest(r.Context(), b, &req, true); err != nil {
		return err
	}
	send := false
	if present(req.Send) {
		if err := json.Unmarshal(req.Send, &send); err != nil {
			return apierr.Validation("The `send` field must be a boolean.")
		}
	}
	sched, err := h.parseSchedule(req.ScheduledAt)
	if err != nil {
		return err
	}
	if sched != nil && !send {
		return apierr.Validation("The `scheduled_at` field can only be used with `send: true`.")
	}
	if send {
		if err := h.sendable(b); err != nil {
			return err
		}
		at, err := sendreq.ParseScheduledAt(deref(sched), now, 0)
		if err != nil {
			return err
		}
		b.Status, b.ScheduledAt = store.BroadcastQueued, at
		if at != nil {
			b.Status = store.BroadcastScheduled
		}
	}
	if err := h.Store.CreateBroadcast(r.Context(), b); err != nil {
		return fmt.Errorf("create broadcast: %w", err)
	}
	writeJSON(w, http.StatusCreated, objectIDResponse{Object: "broadcast", ID: b.ID})
	return nil
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func (h *Handler) listBroadcasts(w http.ResponseWriter, r *http.Request) error {
	p, paginate, err := parseLegacyPage(r)
	if err != nil {
		return err
	}
	teamID := callerKey(r.Context()).TeamID
	fetch := func(p store.Page) ([]*store.Broadcast, bool, error) {
		return h.Store.ListBroadcasts(r.Context(), teamID, p)
	}
	var list []*store.Broadcast
	more := false
	if paginate {
		list, more, err = fetch(p)
	} else {
		list, err = allPages(fetch, func(b *store.Broadcast) string { return b.ID })
	}
	if errors.Is(err, store.ErrNotFound) {
		return errUnknownCursor
	}
	if err != nil {
		return fmt.Errorf("list broadcasts: %w", err)
	}
	out := listResponse[broadcastItem]{Object: "list", HasMore: more, Data: make([]broadcastItem, 0, len(list))}
	for _, b := range list {
		out.Data = append(out.Data, broadcastItem{ID: b.ID, Name: nonEmpty(b.Name), SegmentID: b.SegmentID, AudienceID: b.SegmentID,
			Status: b.Status, CreatedAt: formatTime(b.CreatedAt), ScheduledAt: formatTimePtr(b.ScheduledAt),
			SentAt: formatTimePtr(b.SentAt), TopicID: nonEmpty(b.TopicID)})
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (h *Handler) getBroadcast(w http.ResponseWriter, r *http.Request) error {
	b, err := h.loadBroadcast(r)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toBroadcastObject(b))
	return nil
}

// broadcastStateError maps the store's answers to a guarded change.
func broadcastStateError(err error, state *apierr.Error, what string) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, store.ErrNotFound):
		return errBroadcastNotFound
	case errors.Is(err, store.ErrBroadcastState):
		return state
	}
	return fmt.Errorf("%s broadcast: %w", what, err)
}

func (h *Handler) updateBroadcast(w http.ResponseWriter, r *http.Request) error {
	b, err := h.loadBroadcast(r)
	if err != nil {
		return err
	}
	var req broadcastRequest
	if err := h.decodeJSONBody(w, r, &req); err != nil {
		return err
	}
	if b.Status != store.BroadcastDraft {
		return errBroadcastNotDraft
	}
	if err := h.applyBroadcastRequest(r.Context(), b, &req, false); err != nil {
		return err
	}
	b.UpdatedAt = h.Now().UTC()
	if err := broadcastStateError(h.Store.UpdateBroadcast(r.Context(), b), errBroadcastNotDraft, "update"); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, objectIDResponse{Object: "broadcast", ID: b.ID})
	return nil
}

func (h *Handler) deleteBroadcast(w http.ResponseWriter, r *http.Request) error {
	b, err := h.loadBroadcast(r)
	if err != nil {
		return err
	}
	if err := broadcastStateError(h.Store.DeleteBroadcast(r.Context(), b.TeamID, b.ID), errBroadcastNotDraft, "delete"); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, struct {
		Object  string `json:"object"`
		ID      string `json:"id"`
		Deleted bool   `json:"deleted"`
	}{"broadcast", b.ID, true})
	return nil
}

func (h *Handler) sendBroadcast(w http.ResponseWriter, r *http.Request) error {
	b, err := h.loadBroadcast(r)
	if err != nil {
		return err
	}
	var req struct {
		ScheduledAt json.RawMessage `json:"scheduled_at"`
	}
	if err := h.decodeJSONBody(w, r, &req); err != nil {
		return err
	}
	if b.Status != store.BroadcastDraft {
		return apierr.Validation("This broadcast has already been sent or scheduled.")
	}
	if err := h.sendable(b); err != nil {
		return err
	}
	sched, err := h.parseSchedule(req.ScheduledAt)
	if err != nil {
		return err
	}
	now := h.Now().UTC()
	at, err := sendreq.ParseScheduledAt(deref(sched), now, 0)
	if err != nil {
		return err
	}
	err = h.Store.SendBroadcast(r.Context(), b.TeamID, b.ID, at, now)
	if err := broadcastStateError(err, apierr.Validation("This broadcast has already been sent or scheduled."), "send"); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, objectIDResponse{Object: "broadcast", ID: b.ID})
	return nil
}

func (h *Handler) cancelBroadcast(w http.ResponseWriter, r *http.Request) error {
	b, err := h.loadBroadcast(r)
	if err != nil {
		return err
	}
	if err := broadcastStateError(h.Store.CancelBroadcast(r.Context(), b.TeamID, b.ID, h.Now().UTC()), errBroadcastNoCancel, "cancel"); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, objectIDResponse{Object: "broadcast", ID: b.ID})
	return nil
}

// duplicateBroadcast answers POST /broadcasts/{id}/duplicate: a new draft
// with the same content, named like Resend's copies (" (copy)" appended,
// cut to 70 characters), whatever the original's status.
func (h *Handler) duplicateBroadcast(w http.ResponseWriter, r *http.Request) error {
	b, err := h.loadBroadcast(r)
	if err != nil {
		return err
	}
	now := h.Now().UTC()
	c := *b
	c.ID, c.Status, c.ScheduledAt, c.SentAt, c.Progress, c.CreatedAt, c.UpdatedAt =
		store.NewID(), store.BroadcastDraft, nil, nil, 0, now, now
	c.ReplyTo = slices.Clone(b.ReplyTo)
	if name := []rune(b.Name + " (copy)"); len(name) > maxBroadcastCopyName {
		c.Name = string(name[:maxBroadcastCopyName])
	} else {
		c.Name = string(name)
	}
	if err := h.Store.CreateBroadcast(r.Context(), &c); err != nil {
		return fmt.Errorf("duplicate broadcast: %w", err)
	}
	writeJSON(w, http.StatusOK, objectIDResponse{Object: "broadcast", ID: c.ID})
	return nil
}

// maxBroadcastCopyName is the length a duplicate's name is cut to.
const maxBroadcastCopyName = 70

// The public unsubscribe route of {{{RESEND_UNSUBSCRIBE_URL}}} and the
// List-Unsubscribe header: the token is signed (internal/tracking), so it
// names one contact and cannot be forged. GET shows a confirmation page
// whose button POSTs; POST (the button, or a mail client's RFC 8058
// one-click request) marks the contact unsubscribed.

const unsubscribePage = `<!doctype html><html><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">` +
	`<title>Unsubscribe</title></head><body style="font-family:sans-serif;max-width:32em;margin:4em auto">%s</body></html>`

func (h *Handler) unsubscribeToken(r *http.Request) (tracking.Unsubscribe, error) {
	if h.Tracking == nil {
		return tracking.Unsubscribe{}, errTrackingNotFound
	}
	u, err := h.Tracking.ParseUnsubscribe(r.PathValue("token"))
	if err != nil {
		return tracking.Unsubscribe{}, errTrackingNotFound
	}
	return u, nil
}

func writePage(w http.ResponseWriter, body string) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	_, _ = fmt.Fprintf(w, unsubscribePage, body)
}

func (h *Handler) unsubscribeForm(w http.ResponseWriter, r *http.Request) error {
	u, err := h.unsubscribeToken(r)
	if err != nil {
		return err
	}
	c, err := h.Store.GetContact(r.Context(), u.TeamID, u.ContactID)
	if errors.Is(err, store.ErrNotFound) {
		return errTrackingNotFound
	}
	if err != nil {
		return fmt.Errorf("get contact: %w", err)
	}
	writePage(w, `<p>Unsubscribe <b>`+html.EscapeString(c.Email)+`</b> from these emails?</p>`+
		`<form method="post"><input type="hidden" name="List-Unsubscribe" value="One-Click">`+
		`<button type="submit">Unsubscribe</button></form>`)
	return nil
}

func (h *Handler) unsubscribe(w http.ResponseWriter, r *http.Request) error {
	u, err := h.unsubscribeToken(r)
	if err != nil {
		return err
	}
	ctx := r.Context()
	c, err := h.Store.GetContact(ctx, u.TeamID, u.ContactID)
	if errors.Is(err, store.ErrNotFound) {
		return errTrackingNotFound
	}
	if err != nil {
		return fmt.Errorf("get contact: %w", err)
	}
	if !c.Unsubscribed {
		c.Unsubscribed, c.UpdatedAt = true, h.Now().UTC()
		ev, err := contactEvent(events.ContactUpdated, c, "", c.UpdatedAt)
		if err != nil {
			return err
		}
		if err := h.Store.UpdateContact(ctx, c, ev); err != nil && !errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("unsubscribe: %w", err)
		}
	}
	writePage(w, `<p><b>`+html.EscapeString(c.Email)+`</b> is unsubscribed.</p>`)
	return nil
}
