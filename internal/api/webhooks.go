package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/godwit/godwit/internal/apierr"
	"github.com/godwit/godwit/internal/store"
	"github.com/godwit/godwit/internal/webhook"
)

// The Webhooks management API. Signing secrets are sealed with the server's
// key, the webhook id as additional data; after a rotation the previous
// secret keeps signing for webhook.SecretOverlap.

var errWebhookNotFound = apierr.NotFound("Webhook not found")

type webhookObject struct {
	Object        string   `json:"object,omitempty"`
	ID            string   `json:"id"`
	Endpoint      string   `json:"endpoint"`
	Events        []string `json:"events"`
	Status        string   `json:"status"`
	CreatedAt     string   `json:"created_at"`
	SigningSecret string   `json:"signing_secret"`
	// DisabledReason (Godwit's own) says why Godwit disabled the webhook.
	DisabledReason string `json:"disabled_reason,omitempty"`
}

type webhookSecretResponse struct {
	Object        string `json:"object"`
	ID            string `json:"id"`
	SigningSecret string `json:"signing_secret"`
}

func (h *Handler) webhookObject(wh *store.Webhook, object string) (webhookObject, error) {
	secret, err := webhook.Reveal(h.Domains.Keys, wh)
	if err != nil {
		return webhookObject{}, err
	}
	return webhookObject{Object: object, ID: wh.ID, Endpoint: wh.Endpoint, Events: wh.Events, Status: wh.Status,
		CreatedAt: formatTime(wh.CreatedAt), SigningSecret: secret, DisabledReason: wh.DisabledReason}, nil
}

// webhookEndpoint validates an endpoint URL (webhook.Endpoint).
func webhookEndpoint(v string) (string, error) { return webhookValidation(webhook.Endpoint(v)) }

func webhookEventList(raw json.RawMessage) ([]string, error) {
	var names []string
	if err := json.Unmarshal(raw, &names); err != nil {
		return nil, apierr.Validation("The `events` field must be an array of strings.")
	}
	return webhookValidation(webhook.Events(names))
}

// webhookValidation makes webhook's InvalidError a validation error.
func webhookValidation[T any](v T, err error) (T, error) {
	if msg, ok := webhook.IsInvalid(err); ok {
		return v, apierr.Validation("%s", msg)
	}
	return v, err
}

func (h *Handler) createWebhook(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		Endpoint *string         `json:"endpoint"`
		Events   json.RawMessage `json:"events"`
	}
	if err := h.decodeJSONBody(w, r, &req); err != nil {
		return err
	}
	if req.Endpoint == nil {
		return apierr.MissingField("endpoint")
	}
	endpoint, err := webhookEndpoint(*req.Endpoint)
	if err != nil {
		return err
	}
	if !present(req.Events) {
		return apierr.MissingField("events")
	}
	events, err := webhookEventList(req.Events)
	if err != nil {
		return err
	}
	wh, secret, err := webhook.New(h.Domains.Keys, callerKey(r.Context()).TeamID, endpoint, events, h.Now().UTC())
	if err != nil {
		return err
	}
	if err := h.Store.CreateWebhook(r.Context(), wh); err != nil {
		return fmt.Errorf("create webhook: %w", err)
	}
	writeJSON(w, http.StatusCreated, webhookSecretResponse{Object: "webhook", ID: wh.ID, SigningSecret: secret})
	return nil
}

func (h *Handler) loadWebhook(r *http.Request) (*store.Webhook, error) {
	id, err := pathID(r)
	if err != nil {
		return nil, err
	}
	wh, err := h.Store.GetWebhook(r.Context(), callerKey(r.Context()).TeamID, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, errWebhookNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("get webhook: %w", err)
	}
	return wh, nil
}

func (h *Handler) getWebhook(w http.ResponseWriter, r *http.Request) error {
	wh, err := h.loadWebhook(r)
	if err != nil {
		return err
	}
	obj, err := h.webhookObject(wh, "webhook")
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, obj)
	return nil
}

func (h *Handler) listWebhooks(w http.ResponseWriter, r *http.Request) error {
	p, err := parsePage(r)
	if err != nil {
		return err
	}
	list, more, err := h.Store.ListWebhooks(r.Context(), callerKey(r.Context()).TeamID, p)
	if errors.Is(err, store.ErrNotFound) {
		return errUnknownCursor
	}
	if err != nil {
		return fmt.Errorf("list webhooks: %w", err)
	}
	out := listResponse[webhookObject]{Object: "list", HasMore: more, Data: make([]webhookObject, 0, len(list))}
	for _, wh := range list {
		obj, err := h.webhookObject(wh, "")
		if err != nil {
			return err
		}
		out.Data = append(out.Data, obj)
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (h *Handler) updateWebhook(w http.ResponseWriter, r *http.Request) error {
	wh, err := h.loadWebhook(r)
	if err != nil {
		return err
	}
	var req struct {
		Endpoint *string         `json:"endpoint"`
		Events   json.RawMessage `json:"events"`
		Status   *string         `json:"status"`
	}
	if err := h.decodeJSONBody(w, r, &req); err != nil {
		return err
	}
	if req.Endpoint != nil {
		if wh.Endpoint, err = webhookEndpoint(*req.Endpoint); err != nil {
			return err
		}
	}
	if present(req.Events) {
		if wh.Events, err = webhookEventList(req.Events); err != nil {
			return err
		}
	}
	if req.Status != nil {
		switch *req.Status {
		case store.WebhookEnabled, store.WebhookDisabled:
			wh.Status, wh.DisabledReason = *req.Status, ""
		default:
			return apierr.Validation("The `status` field must be `enabled` or `disabled`.")
		}
	}
	wh.UpdatedAt = h.Now().UTC()
	if err := h.Store.UpdateWebhook(r.Context(), wh); errors.Is(err, store.ErrNotFound) {
		return errWebhookNotFound
	} else if err != nil {
		return fmt.Errorf("update webhook: %w", err)
	}
	writeJSON(w, http.StatusOK, objectIDResponse{Object: "webhook", ID: wh.ID})
	return nil
}

func (h *Handler) deleteWebhook(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	if err := h.Store.DeleteWebhook(r.Context(), callerKey(r.Context()).TeamID, id); errors.Is(err, store.ErrNotFound) {
		return errWebhookNotFound
	} else if err != nil {
		return fmt.Errorf("delete webhook: %w", err)
	}
	writeJSON(w, http.StatusOK, struct {
		Object  string `json:"object"`
		ID      string `json:"id"`
		Deleted bool   `json:"deleted"`
	}{"webhook", id, true})
	return nil
}

// rotateWebhookSecret gives the webhook a new secret; the old one keeps
// signing (beside the new) for webhook.SecretOverlap, so receivers can switch.
func (h *Handler) rotateWebhookSecret(w http.ResponseWriter, r *http.Request) error {
	wh, err := h.loadWebhook(r)
	if err != nil {
		return err
	}
	secret, err := webhook.Rotate(h.Domains.Keys, wh, h.Now().UTC())
	if err != nil {
		return err
	}
	if err := h.Store.UpdateWebhook(r.Context(), wh); errors.Is(err, store.ErrNotFound) {
		return errWebhookNotFound
	} else if err != nil {
		return fmt.Errorf("rotate webhook secret: %w", err)
	}
	writeJSON(w, http.StatusOK, webhookSecretResponse{Object: "webhook", ID: wh.ID, SigningSecret: secret})
	return nil
}

// The webhook's messages (Resend calls them its events): what was posted,
// how it went, and a replay.

var errWebhookEventNotFound = apierr.NotFound("Webhook event not found")

type webhookEventItem struct {
	Object        string          `json:"object,omitempty"`
	ID            string          `json:"id"`
	Type          string          `json:"type"`
	CreatedAt     string          `json:"created_at"`
	Status        string          `json:"status"`
	NextAttemptAt *string         `json:"next_attempt_at,omitempty"`
	Payload       json.RawMessage `json:"payload,omitempty"`
}

type webhookAttemptItem struct {
	ID             string `json:"id"`
	HTTPStatusCode *int   `json:"http_status_code"`
	Response       string `json:"response"`
	SentAt         string `json:"sent_at"`
}

func (h *Handler) listWebhookEvents(w http.ResponseWriter, r *http.Request) error {
	wh, err := h.loadWebhook(r)
	if err != nil {
		return err
	}
	p, err := parseCursorPage(r)
	if err != nil {
		return err
	}
	list, more, err := h.Store.ListWebhookMessages(r.Context(), wh.TeamID, wh.ID, p)
	if errors.Is(err, store.ErrNotFound) {
		return errUnknownCursor
	}
	if err != nil {
		return fmt.Errorf("list webhook events: %w", err)
	}
	out := listResponse[webhookEventItem]{Object: "list", HasMore: more, Data: make([]webhookEventItem, 0, len(list))}
	for _, m := range list {
		out.Data = append(out.Data, webhookEventItem{ID: m.ID, Type: m.Type, CreatedAt: formatTime(m.CreatedAt), Status: m.Status})
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// loadWebhookEvent finds a message of the webhook in the path.
func (h *Handler) loadWebhookEvent(r *http.Request) (*store.WebhookMessage, error) {
	wh, err := h.loadWebhook(r)
	if err != nil {
		return nil, err
	}
	id := r.PathValue("event_id")
	if !strings.HasPrefix(id, "msg_") || len(id) > 64 {
		return nil, errWebhookEventNotFound
	}
	m, err := h.Store.GetWebhookMessage(r.Context(), id)
	if errors.Is(err, store.ErrNotFound) || (err == nil && (m.TeamID != wh.TeamID || m.WebhookID != wh.ID)) {
		return nil, errWebhookEventNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("get webhook event: %w", err)
	}
	return m, nil
}

func (h *Handler) getWebhookEvent(w http.ResponseWriter, r *http.Request) error {
	m, err := h.loadWebhookEvent(r)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, webhookEventItem{Object: "webhook_event", ID: m.ID, Type: m.Type, CreatedAt: formatTime(m.CreatedAt),
		Status: m.Status, NextAttemptAt: formatTimePtr(m.NextAttemptAt), Payload: m.Payload})
	return nil
}

func (h *Handler) listWebhookAttempts(w http.ResponseWriter, r *http.Request) error {
	m, err := h.loadWebhookEvent(r)
	if err != nil {
		return err
	}
	p, err := parseCursorPage(r)
	if err != nil {
		return err
	}
	list, more, err := h.Store.ListWebhookAttempts(r.Context(), m.TeamID, m.ID, p)
	if errors.Is(err, store.ErrNotFound) {
		return errUnknownCursor
	}
	if err != nil {
		return fmt.Errorf("list webhook attempts: %w", err)
	}
	out := listResponse[webhookAttemptItem]{Object: "list", HasMore: more, Data: make([]webhookAttemptItem, 0, len(list))}
	for _, a := range list {
		item := webhookAttemptItem{ID: a.ID, Response: a.Response, SentAt: formatTime(a.SentAt)}
		if a.StatusCode != 0 {
			code := a.StatusCode
			item.HTTPStatusCode = &code
		}
		out.Data = append(out.Data, item)
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (h *Handler) replayWebhookEvent(w http.ResponseWriter, r *http.Request) error {
	m, err := h.loadWebhookEvent(r)
	if err != nil {
		return err
	}
	if err := h.Store.ReplayWebhookMessage(r.Context(), m.TeamID, m.ID, h.Now().UTC()); errors.Is(err, store.ErrNotFound) {
		return errWebhookEventNotFound
	} else if err != nil {
		return fmt.Errorf("replay webhook event: %w", err)
	}
	writeJSON(w, http.StatusOK, objectIDResponse{Object: "webhook_event", ID: m.ID})
	return nil
}
