package api

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/google/uuid"

	"github.com/godwit/godwit/internal/accept"
	"github.com/godwit/godwit/internal/apierr"
	"github.com/godwit/godwit/internal/sendreq"
	"github.com/godwit/godwit/internal/store"
)

// maxIdempotencyKey is Resend's limit on Idempotency-Key.
const maxIdempotencyKey = 256

type idResponse struct {
	ID string `json:"id"`
}

type objectIDResponse struct {
	Object string `json:"object"`
	ID     string `json:"id"`
}

// readBody reads the request body, within the route's limits (guardBody):
// their errors (413, 408, 503) are returned as they are. The body is read
// into one buffer of its Content-Length (the guard has admitted that many
// bytes), and kept for the request's log (keepBody): the caller must not
// change it.
func (h *Handler) readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	var buf bytes.Buffer
	if r.ContentLength > 0 {
		buf.Grow(int(r.ContentLength) + bytes.MinRead) // room to see EOF without growing
	}
	_, err := buf.ReadFrom(r.Body)
	var apiErr *apierr.Error
	if errors.As(err, &apiErr) {
		return nil, apiErr
	}
	if err != nil {
		return nil, apierr.BadRequest("The request body could not be read.")
	}
	keepBody(r, buf.Bytes())
	return buf.Bytes(), nil
}

// idempotencyKey returns the request's Idempotency-Key, "" when absent, or a
// 400 when present but outside Resend's 1–256 characters.
func idempotencyKey(r *http.Request) (string, error) {
	vals := r.Header.Values("Idempotency-Key")
	if len(vals) == 0 {
		return "", nil
	}
	k := vals[0]
	if len(vals) > 1 || len(k) < 1 || len(k) > maxIdempotencyKey {
		return "", apierr.New(http.StatusBadRequest, apierr.NameInvalidIdempotencyKey,
			"The idempotency key must be between 1 and 256 characters.")
	}
	return k, nil
}

// send runs the shared part of POST /emails and POST /emails/batch: the
// idempotency key and the body are read, then run calls the accept path
// (which decodes the body unless the request repeats an earlier one) for
// the ids, and respond writes them in the endpoint's shape.
func (h *Handler) send(w http.ResponseWriter, r *http.Request, endpoint string,
	run func(req accept.Request, body []byte) (*accept.Result, error), respond func(*accept.Result) (any, error)) error {
	idemKey, err := idempotencyKey(r)
	if err != nil {
		return err
	}
	body, err := h.readBody(w, r)
	if err != nil {
		return err
	}
	req := accept.Request{Key: callerKey(r.Context()), Endpoint: endpoint, IdempotencyKey: idemKey}
	if idemKey != "" {
		hasher := sha256.New()
		hasher.Write([]byte(endpoint + "\n"))
		hasher.Write(body)
		req.Hash = hasher.Sum(nil)
	}
	res, err := run(req, body)
	if err != nil {
		return err
	}
	if res.Replayed {
		w.Header().Set("Idempotent-Replayed", "true")
	}
	if res.Legacy != nil {
		// A response stored before idempotency records were neutral.
		writeRawJSON(w, http.StatusOK, res.Legacy)
		return nil
	}
	out, err := respond(res)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (h *Handler) sendEmail(w http.ResponseWriter, r *http.Request) error {
	return h.send(w, r, "POST /emails", func(req accept.Request, body []byte) (*accept.Result, error) {
		return h.Accept.Send(r.Context(), req, func() (*store.Email, error) {
			return sendreq.Decode(body, sendreq.Options{Now: h.Now()})
		})
	}, func(res *accept.Result) (any, error) {
		if len(res.IDs) != 1 {
			return nil, fmt.Errorf("send: %d ids accepted for one email", len(res.IDs))
		}
		return idResponse{ID: res.IDs[0]}, nil
	})
}

type batchError = accept.ItemError

type batchResponse struct {
	Data   []idResponse `json:"data"`
	Errors []batchError `json:"errors,omitempty"`
}

func (h *Handler) sendBatch(w http.ResponseWriter, r *http.Request) error {
	key := callerKey(r.Context())
	mode := strings.ToLower(strings.TrimSpace(r.Header.Get("x-batch-validation")))
	if mode == "" {
		mode = "strict"
	}
	if mode != "strict" && mode != "permissive" {
		return apierr.Validation("Invalid `x-batch-validation` header. It must be `strict` or `permissive`.")
	}
	return h.send(w, r, "POST /emails/batch", func(req accept.Request, body []byte) (*accept.Result, error) {
		return h.Accept.Submit(r.Context(), req, func() ([]*store.Email, []accept.ItemError, error) {
			decoded, itemErrs, err := sendreq.DecodeBatch(body, sendreq.Options{Now: h.Now()})
			if err != nil {
				return nil, nil, err
			}
			emails := make([]*store.Email, 0, len(decoded))
			var refused []accept.ItemError
			templates := accept.Templates{}
			for i, e := range decoded {
				err := itemErrs[i]
				if err == nil {
					err = h.Accept.Check(r.Context(), key, e, templates)
				}
				if err != nil {
					if mode == "strict" {
						return nil, nil, err
					}
					refused = append(refused, accept.ItemError{Index: i, Message: apiError(err).Message})
					continue
				}
				emails = append(emails, e)
			}
			return emails, refused, nil
		})
	}, func(res *accept.Result) (any, error) {
		resp := batchResponse{Data: make([]idResponse, 0, len(res.IDs)), Errors: res.Errors}
		for _, id := range res.IDs {
			resp.Data = append(resp.Data, idResponse{ID: id})
		}
		if mode == "permissive" {
			// Node expects errors to be an array in permissive mode.
			if resp.Errors == nil {
				resp.Errors = []batchError{}
			}
			return struct {
				Data   []idResponse `json:"data"`
				Errors []batchError `json:"errors"`
			}{resp.Data, resp.Errors}, nil
		}
		return resp, nil
	})
}

// emailObject is GET /emails/{id}.
type emailObject struct {
	Object      string      `json:"object"`
	ID          string      `json:"id"`
	MessageID   string      `json:"message_id"`
	To          []string    `json:"to"`
	From        string      `json:"from"`
	CreatedAt   string      `json:"created_at"`
	Subject     string      `json:"subject"`
	HTML        *string     `json:"html"`
	Text        *string     `json:"text"`
	Bcc         []string    `json:"bcc"`
	Cc          []string    `json:"cc"`
	ReplyTo     []string    `json:"reply_to"`
	LastEvent   string      `json:"last_event"`
	ScheduledAt *string     `json:"scheduled_at"`
	Tags        []store.Tag `json:"tags"`
	TopicID     *string     `json:"topic_id"`
	// Bounce is the detail of the email's latest bounce, present only when
	// last_event is bounced (Resend, 2026-07; not in the v1.5.0 document).
	Bounce *emailBounce `json:"bounce,omitempty"`
}

// emailBounce is the bounce object of GET /emails/{id}: the one the
// email's bounced event (and its email.bounced webhook) carries.
type emailBounce struct {
	Message        string   `json:"message"`
	Type           string   `json:"type"`
	SubType        string   `json:"subType"`
	DiagnosticCode []string `json:"diagnosticCode,omitempty"`
}

// emailListItem is one item of GET /emails.
type emailListItem struct {
	ID          string   `json:"id"`
	MessageID   string   `json:"message_id"`
	To          []string `json:"to"`
	From        string   `json:"from"`
	CreatedAt   string   `json:"created_at"`
	Subject     string   `json:"subject"`
	Bcc         []string `json:"bcc"`
	Cc          []string `json:"cc"`
	ReplyTo     []string `json:"reply_to"`
	LastEvent   string   `json:"last_event"`
	ScheduledAt *string  `json:"scheduled_at"`
}

func orEmpty(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func toEmailObject(e *store.Email) emailObject {
	tags := e.Tags
	if tags == nil {
		tags = []store.Tag{}
	}
	var topic *string
	if e.TopicID != "" {
		topic = &e.TopicID
	}
	return emailObject{
		Object: "email", ID: e.ID, MessageID: e.MessageID(), To: orEmpty(e.To), From: e.From,
		CreatedAt: formatTime(e.CreatedAt), Subject: e.Subject, HTML: e.HTML, Text: e.Text,
		Bcc: orEmpty(e.Bcc), Cc: orEmpty(e.Cc), ReplyTo: orEmpty(e.ReplyTo), LastEvent: e.LastEvent,
		ScheduledAt: formatTimePtr(e.ScheduledAt), Tags: tags, TopicID: topic,
	}
}

// pathID validates the {id} path value.
func pathID(r *http.Request) (string, error) { return uuidParam("id", r.PathValue("id")) }

var errEmailNotFound = apierr.NotFound("Email not found")

func (h *Handler) getEmail(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	e, err := h.Store.GetEmail(r.Context(), callerKey(r.Context()).TeamID, id)
	if errors.Is(err, store.ErrNotFound) {
		return errEmailNotFound
	}
	if err != nil {
		return fmt.Errorf("get email: %w", err)
	}
	obj := toEmailObject(e)
	if e.LastEvent == store.EventBounced {
		if obj.Bounce, err = h.lastBounce(r.Context(), callerKey(r.Context()).TeamID, e.ID); err != nil {
			return err
		}
	}
	writeJSON(w, http.StatusOK, obj)
	return nil
}

// lastBounce is the bounce object of the email's latest bounced event (an
// email with several bounced recipients has an event per distinct
// bounce), or nil when no event carries one.
func (h *Handler) lastBounce(ctx context.Context, teamID, emailID string) (*emailBounce, error) {
	evs, err := h.Store.ListEmailEvents(ctx, teamID, emailID)
	if err != nil {
		return nil, fmt.Errorf("list email events: %w", err)
	}
	for i := len(evs) - 1; i >= 0; i-- {
		if evs[i].Type != store.EventBounced || len(evs[i].Data) == 0 {
			continue
		}
		var d struct {
			Bounce *emailBounce `json:"bounce"`
		}
		if err := json.Unmarshal(evs[i].Data, &d); err != nil {
			return nil, fmt.Errorf("decode the bounced event of email %s: %w", emailID, err)
		}
		if d.Bounce != nil {
			return d.Bounce, nil
		}
	}
	return nil, nil
}

type listResponse[T any] struct {
	Object  string `json:"object"`
	HasMore bool   `json:"has_more"`
	Data    []T    `json:"data"`
}

var errPaginationLimit = apierr.Validation("The pagination limit must be a number between 1 and 100. See https://resend.com/docs/api-reference/pagination for more information.")

// parseLegacyPage reads the pagination of Resend's older list endpoints,
// which return every item when none of limit, after and before is given.
func parseLegacyPage(r *http.Request) (store.Page, bool, error) {
	q := r.URL.Query()
	if !q.Has("limit") && !q.Has("after") && !q.Has("before") {
		return store.Page{}, false, nil
	}
	p, err := parsePage(r)
	return p, true, err
}

// pageOf cuts one page out of items ordered newest first, as the store does
// for emails; an unknown cursor is a 422.
func pageOf[T any](items []T, id func(T) string, p store.Page) ([]T, bool, error) {
	cursor := p.After + p.Before
	start, end := 0, len(items)
	if cursor != "" {
		at := -1
		for i, it := range items {
			if id(it) == cursor {
				at = i
				break
			}
		}
		if at < 0 {
			return nil, false, errUnknownCursor
		}
		if p.After != "" {
			start = at + 1
		} else {
			end = at
		}
	}
	if p.Before != "" {
		// The page nearest the cursor, among the newer items.
		from := max(start, end-p.Limit)
		return items[from:end], from > start, nil
	}
	to := min(end, start+p.Limit)
	return items[start:to], to < end, nil
}

// writeList answers one page of a list in Resend's shape, each item
// converted by conv; the store's ErrNotFound is an unknown cursor.
func writeList[S, T any](w http.ResponseWriter, what string, list []S, more bool, err error, conv func(S) T) error {
	if errors.Is(err, store.ErrNotFound) {
		return errUnknownCursor
	}
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	out := listResponse[T]{Object: "list", HasMore: more, Data: make([]T, 0, len(list))}
	for _, item := range list {
		out.Data = append(out.Data, conv(item))
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

var errUnknownCursor = apierr.Validation("The pagination cursor does not match any item.")

// parsePage reads limit/after/before with Resend's rules, for lists whose
// items are identified by UUIDs.
func parsePage(r *http.Request) (store.Page, error) {
	p, err := parseCursorPage(r)
	if err != nil {
		return p, err
	}
	for _, c := range []string{p.After, p.Before} {
		if c == "" {
			continue
		}
		if _, err := uuid.Parse(c); err != nil || len(c) != 36 {
			return p, apierr.New(http.StatusUnprocessableEntity, apierr.NameInvalidParameter, "The pagination cursor must be a valid UUID.")
		}
	}
	p.After, p.Before = strings.ToLower(p.After), strings.ToLower(p.Before)
	return p, nil
}

// parseCursorPage reads limit/after/before, taking the cursors as given
// (an unknown one is the store's ErrNotFound).
func parseCursorPage(r *http.Request) (store.Page, error) {
	q := r.URL.Query()
	p := store.Page{Limit: 20, After: q.Get("after"), Before: q.Get("before")}
	if v := q.Get("limit"); v != "" || q.Has("limit") {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 100 {
			return p, errPaginationLimit
		}
		p.Limit = n
	}
	if p.After != "" && p.Before != "" {
		return p, apierr.Validation("You can only use one of `after` or `before` at a time.")
	}
	return p, nil
}

func (h *Handler) listEmails(w http.ResponseWriter, r *http.Request) error {
	p, err := parsePage(r)
	if err != nil {
		return err
	}
	emails, more, err := h.Store.ListEmails(r.Context(), callerKey(r.Context()).TeamID, p)
	if errors.Is(err, store.ErrNotFound) {
		return errUnknownCursor
	}
	if err != nil {
		return fmt.Errorf("list emails: %w", err)
	}
	out := listResponse[emailListItem]{Object: "list", HasMore: more, Data: make([]emailListItem, 0, len(emails))}
	for _, e := range emails {
		out.Data = append(out.Data, emailListItem{
			ID: e.ID, MessageID: e.MessageID(), To: orEmpty(e.To), From: e.From, CreatedAt: formatTime(e.CreatedAt),
			Subject: e.Subject, Bcc: e.Bcc, Cc: e.Cc, ReplyTo: e.ReplyTo, LastEvent: e.LastEvent,
			ScheduledAt: formatTimePtr(e.ScheduledAt),
		})
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

var errNotScheduled = apierr.Validation("This email is not scheduled, so it cannot be changed or canceled.")

func (h *Handler) updateEmail(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	var req struct {
		ScheduledAt *string `json:"scheduled_at"`
	}
	if err := h.decodeJSONBody(w, r, &req); err != nil {
		return err
	}
	if req.ScheduledAt == nil || strings.TrimSpace(*req.ScheduledAt) == "" {
		return apierr.MissingField("scheduled_at")
	}
	now := h.Now().UTC()
	at, err := sendreq.ParseScheduledAt(*req.ScheduledAt, now, 0)
	if err != nil {
		return err
	}
	when := now
	if at != nil {
		when = *at
	}
	err = h.Store.RescheduleEmail(r.Context(), callerKey(r.Context()).TeamID, id, when)
	if err := scheduleError(err); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, objectIDResponse{Object: "email", ID: id})
	return nil
}

func scheduleError(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, store.ErrNotFound):
		return errEmailNotFound
	case errors.Is(err, store.ErrNotScheduled):
		return errNotScheduled
	default:
		return fmt.Errorf("update email: %w", err)
	}
}

func (h *Handler) cancelEmail(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	err = h.Store.CancelEmail(r.Context(), callerKey(r.Context()).TeamID, id, h.Now().UTC())
	if err := scheduleError(err); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, objectIDResponse{Object: "email", ID: id})
	return nil
}
