package dashboard

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/godwit/godwit/internal/events"
	"github.com/godwit/godwit/internal/store"
	"github.com/godwit/godwit/internal/webhook"
)

// The Webhooks section: a team's endpoints, their messages and each
// message's attempts. Writes are admin-only and follow the API's rules
// (internal/webhook): the same endpoint and event validation, the same
// sealed secrets, the same store calls. A signing secret is shown only on
// the page an admin's create, reveal or rotate answers with.

// webhooksStore is what the Webhooks, Logs and Queue pages read and write
// (part of Store).
type webhooksStore interface {
	CreateWebhook(ctx context.Context, w *store.Webhook) error
	GetWebhook(ctx context.Context, teamID, id string) (*store.Webhook, error)
	ListWebhooks(ctx context.Context, teamID string, p store.Page) ([]*store.Webhook, bool, error)
	UpdateWebhook(ctx context.Context, w *store.Webhook) error
	DeleteWebhook(ctx context.Context, teamID, id string) error
	ListWebhookMessages(ctx context.Context, teamID, webhookID string, p store.Page) ([]*store.WebhookMessage, bool, error)
	GetWebhookMessage(ctx context.Context, id string) (*store.WebhookMessage, error)
	ListWebhookAttempts(ctx context.Context, teamID, messageID string, p store.Page) ([]*store.WebhookAttempt, bool, error)
	ReplayWebhookMessage(ctx context.Context, teamID, id string, at time.Time) error
	ListRequestLogs(ctx context.Context, teamID string, p store.Page) ([]*store.RequestLog, bool, error)
	GetRequestLog(ctx context.Context, teamID, id string) (*store.RequestLog, error)
	ListWaitingEmails(ctx context.Context, teamID, status string, p store.Page) ([]*store.WaitingEmail, bool, error)
}

// Lengths of the section's pages.
const (
	webhooksPerPage = 50
	messagesPerPage = 25
	// attemptsShown is how many of a message's attempts its page shows,
	// newest first (the schedule makes at most eight, a replay more).
	attemptsShown = 50
)

type webhooksData struct {
	Webhooks []*store.Webhook
	pager
}

// webhooks lists the team's webhooks, newest first.
func (h *Handler) webhooks(w http.ResponseWriter, r *http.Request, s *request) error {
	list, pg, err := listPage(r, webhooksPerPage, "webhooks", "webhooks", func(p store.Page) ([]*store.Webhook, bool, error) {
		return h.cfg.Store.ListWebhooks(r.Context(), s.user.TeamID, p)
	}, func(wh *store.Webhook) string { return wh.ID })
	if err != nil {
		return err
	}
	data := webhooksData{Webhooks: list, pager: pg}
	return h.render(w, r, s, http.StatusOK, "webhooks", "Webhooks", "Webhooks", data)
}

// eventChoice is one checkbox of the webhook form.
type eventChoice struct {
	Name    string
	Checked bool
}

type webhookFormData struct {
	Webhook  *store.Webhook // nil for a new one
	Endpoint string
	Events   []eventChoice
	Error    string
}

func newWebhookForm(wh *store.Webhook, endpoint string, chosen []string, msg string) webhookFormData {
	d := webhookFormData{Webhook: wh, Endpoint: endpoint, Error: msg}
	for _, e := range events.Subscribable() {
		d.Events = append(d.Events, eventChoice{Name: e, Checked: slices.Contains(chosen, e)})
	}
	return d
}

func (h *Handler) webhookForm(w http.ResponseWriter, r *http.Request, s *request, status int, d webhookFormData) error {
	title := "New webhook"
	if d.Webhook != nil {
		title = "Edit webhook"
	}
	return h.render(w, r, s, status, "webhookform", title, "Webhooks", d)
}

// newWebhook is the form for a new webhook (admin).
func (h *Handler) newWebhook(w http.ResponseWriter, r *http.Request, s *request) error {
	return h.webhookForm(w, r, s, http.StatusOK, newWebhookForm(nil, "", nil, ""))
}

// webhookFields validates the form's endpoint and events as the API does.
func webhookFields(r *http.Request) (endpoint string, evs []string, msg string) {
	endpoint, evs = r.PostFormValue("endpoint"), r.PostForm["events"]
	ep, err := webhook.Endpoint(endpoint)
	if m, ok := webhook.IsInvalid(err); ok {
		return endpoint, evs, formMessage(m)
	}
	clean, err := webhook.Events(evs)
	if m, ok := webhook.IsInvalid(err); ok {
		return endpoint, evs, formMessage(m)
	}
	return ep, clean, ""
}

// formMessage words a webhook rule for a form: the API's message, with its
// field names as the form's labels.
func formMessage(m string) string {
	m = strings.ReplaceAll(m, "The `endpoint` field", "The endpoint")
	m = strings.ReplaceAll(m, "The `events` field must name", "Choose")
	return strings.ReplaceAll(m, "`", "")
}

// createWebhook makes a webhook (admin) and shows its page with the new
// signing secret, once.
func (h *Handler) createWebhook(w http.ResponseWriter, r *http.Request, s *request) error {
	endpoint, evs, msg := webhookFields(r)
	if msg != "" {
		return h.webhookForm(w, r, s, http.StatusBadRequest, newWebhookForm(nil, endpoint, evs, msg))
	}
	wh, secret, err := webhook.New(h.cfg.Keys, s.user.TeamID, endpoint, evs, time.Now().UTC())
	if err != nil {
		return err
	}
	if err := h.cfg.Store.CreateWebhook(r.Context(), wh); err != nil {
		return fmt.Errorf("create webhook: %w", err)
	}
	return h.webhookPage(w, r, s, wh, "The webhook was created. This is its signing secret; it is not shown again unless an admin reveals it.", secret)
}

type webhookData struct {
	Webhook  *store.Webhook
	Messages []*store.WebhookMessage
	pager
	// Secret is shown once, after an admin's create, reveal or rotate.
	Secret, SecretNote string
}

// webhook is a webhook's page: its settings and its messages, newest
// first, a page at a time (two queries).
func (h *Handler) webhook(w http.ResponseWriter, r *http.Request, s *request) error {
	wh, err := h.cfg.Store.GetWebhook(r.Context(), s.user.TeamID, r.PathValue("id"))
	if err != nil {
		return err // ErrNotFound: the 404 page, for another team's webhook too
	}
	return h.webhookPage(w, r, s, wh, "", "")
}

func (h *Handler) webhookPage(w http.ResponseWriter, r *http.Request, s *request, wh *store.Webhook, note, secret string) error {
	list, pg, err := listPage(r, messagesPerPage, "webhook messages", "webhooks/"+url.PathEscape(wh.ID),
		func(p store.Page) ([]*store.WebhookMessage, bool, error) {
			return h.cfg.Store.ListWebhookMessages(r.Context(), wh.TeamID, wh.ID, p)
		}, func(m *store.WebhookMessage) string { return m.ID })
	if err != nil {
		return err
	}
	data := webhookData{Webhook: wh, Messages: list, Secret: secret, SecretNote: note, pager: pg}
	data.pager.Label = "Pages of messages"
	return h.render(w, r, s, http.StatusOK, "webhook", "Webhook", "Webhooks", data)
}

// editWebhook is the form to change a webhook (admin).
func (h *Handler) editWebhook(w http.ResponseWriter, r *http.Request, s *request) error {
	wh, err := h.cfg.Store.GetWebhook(r.Context(), s.user.TeamID, r.PathValue("id"))
	if err != nil {
		return err
	}
	return h.webhookForm(w, r, s, http.StatusOK, newWebhookForm(wh, wh.Endpoint, wh.Events, ""))
}

// updateWebhook changes a webhook's endpoint, events and status (admin),
// as the API's PATCH does.
func (h *Handler) updateWebhook(w http.ResponseWriter, r *http.Request, s *request) error {
	wh, err := h.cfg.Store.GetWebhook(r.Context(), s.user.TeamID, r.PathValue("id"))
	if err != nil {
		return err
	}
	endpoint, evs, msg := webhookFields(r)
	status := r.PostFormValue("status")
	if msg == "" && status != store.WebhookEnabled && status != store.WebhookDisabled {
		msg = "The status must be enabled or disabled."
	}
	if msg != "" {
		return h.webhookForm(w, r, s, http.StatusBadRequest, newWebhookForm(wh, endpoint, evs, msg))
	}
	if status != wh.Status {
		wh.Status, wh.DisabledReason = status, ""
	}
	wh.Endpoint, wh.Events, wh.UpdatedAt = endpoint, evs, time.Now().UTC()
	if err := h.cfg.Store.UpdateWebhook(r.Context(), wh); err != nil {
		return fmt.Errorf("update webhook: %w", err)
	}
	http.Redirect(w, r, Prefix+"webhooks/"+wh.ID, http.StatusSeeOther)
	return nil
}

// confirmDeleteWebhook asks an admin to confirm the deletion.
func (h *Handler) confirmDeleteWebhook(w http.ResponseWriter, r *http.Request, s *request) error {
	wh, err := h.cfg.Store.GetWebhook(r.Context(), s.user.TeamID, r.PathValue("id"))
	if err != nil {
		return err
	}
	return h.render(w, r, s, http.StatusOK, "webhookdelete", "Delete webhook", "Webhooks", wh)
}

// deleteWebhook deletes a webhook (admin), with its messages.
func (h *Handler) deleteWebhook(w http.ResponseWriter, r *http.Request, s *request) error {
	if err := h.cfg.Store.DeleteWebhook(r.Context(), s.user.TeamID, r.PathValue("id")); err != nil {
		return err
	}
	http.Redirect(w, r, Prefix+"webhooks", http.StatusSeeOther)
	return nil
}

// revealWebhookSecret shows an admin the current signing secret, once.
func (h *Handler) revealWebhookSecret(w http.ResponseWriter, r *http.Request, s *request) error {
	wh, err := h.cfg.Store.GetWebhook(r.Context(), s.user.TeamID, r.PathValue("id"))
	if err != nil {
		return err
	}
	secret, err := webhook.Reveal(h.cfg.Keys, wh)
	if err != nil {
		return err
	}
	return h.webhookPage(w, r, s, wh, "The current signing secret. It is not shown again when you leave this page.", secret)
}

// rotateWebhookSecret gives the webhook a new signing secret (admin) and
// shows it once; the old one keeps signing for webhook.SecretOverlap.
func (h *Handler) rotateWebhookSecret(w http.ResponseWriter, r *http.Request, s *request) error {
	wh, err := h.cfg.Store.GetWebhook(r.Context(), s.user.TeamID, r.PathValue("id"))
	if err != nil {
		return err
	}
	secret, err := webhook.Rotate(h.cfg.Keys, wh, time.Now().UTC())
	if err != nil {
		return err
	}
	if err := h.cfg.Store.UpdateWebhook(r.Context(), wh); err != nil {
		return fmt.Errorf("rotate webhook secret: %w", err)
	}
	return h.webhookPage(w, r, s, wh, "The new signing secret. The previous one keeps signing beside it for 24 hours, so receivers can switch. It is not shown again.", secret)
}

type webhookMessageData struct {
	Webhook  *store.Webhook
	Message  *store.WebhookMessage
	Payload  string
	Attempts []*store.WebhookAttempt
}

// loadWebhookMessage finds the message of the path's webhook, of the
// signed-in team (else a 404), as the API's loadWebhookEvent does.
func (h *Handler) loadWebhookMessage(r *http.Request, s *request) (*store.Webhook, *store.WebhookMessage, error) {
	wh, err := h.cfg.Store.GetWebhook(r.Context(), s.user.TeamID, r.PathValue("id"))
	if err != nil {
		return nil, nil, err
	}
	id := r.PathValue("msg")
	if !strings.HasPrefix(id, "msg_") || len(id) > 64 {
		return nil, nil, errNotFound
	}
	m, err := h.cfg.Store.GetWebhookMessage(r.Context(), id)
	if err != nil {
		return nil, nil, err
	}
	if m.TeamID != wh.TeamID || m.WebhookID != wh.ID {
		return nil, nil, errNotFound
	}
	return wh, m, nil
}

// webhookMessage is a message's page: its payload and its attempts
// (three queries).
func (h *Handler) webhookMessage(w http.ResponseWriter, r *http.Request, s *request) error {
	wh, m, err := h.loadWebhookMessage(r, s)
	if err != nil {
		return err
	}
	attempts, _, err := h.cfg.Store.ListWebhookAttempts(r.Context(), m.TeamID, m.ID, store.Page{Limit: attemptsShown})
	if err != nil {
		return fmt.Errorf("list webhook attempts: %w", err)
	}
	data := webhookMessageData{Webhook: wh, Message: m, Payload: prettyJSON(m.Payload), Attempts: attempts}
	return h.render(w, r, s, http.StatusOK, "webhookmessage", m.Type, "Webhooks", data)
}

// replayWebhookMessage posts a message again (admin), as the API's replay
// does: the store makes it pending and enqueues it.
func (h *Handler) replayWebhookMessage(w http.ResponseWriter, r *http.Request, s *request) error {
	wh, m, err := h.loadWebhookMessage(r, s)
	if err != nil {
		return err
	}
	if err := h.cfg.Store.ReplayWebhookMessage(r.Context(), m.TeamID, m.ID, time.Now().UTC()); err != nil {
		return fmt.Errorf("replay webhook message: %w", err)
	}
	http.Redirect(w, r, Prefix+"webhooks/"+wh.ID+"/messages/"+m.ID, http.StatusSeeOther)
	return nil
}
