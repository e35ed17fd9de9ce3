package webhook

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/godwit/godwit/internal/metrics"
	"github.com/godwit/godwit/internal/store"
)

// Schedule is the wait before each retry after a failed attempt (Resend's):
// a message is posted at most len(Schedule)+1 times.
var Schedule = []time.Duration{5 * time.Second, 5 * time.Minute, 30 * time.Minute, 2 * time.Hour, 5 * time.Hour, 10 * time.Hour, 10 * time.Hour}

// Timeout bounds one POST, answer included (Dispatcher.Timeout overrides it).
const Timeout = 10 * time.Second

// maxResponse is how much of an endpoint's answer an attempt keeps.
const maxResponse = 1024

// Store is what the dispatcher needs of the store.
type Store interface {
	GetWebhookMessage(ctx context.Context, id string) (*store.WebhookMessage, error)
	GetWebhook(ctx context.Context, teamID, id string) (*store.Webhook, error)
	RecordWebhookAttempt(ctx context.Context, r *store.WebhookResult) error
}

// Opener opens sealed signing secrets (secretbox.Box).
type Opener interface {
	Open(sealed, additionalData []byte) ([]byte, error)
}

// SecretAD is the additional data a webhook's secrets are sealed with.
func SecretAD(webhookID string) []byte { return []byte("webhook:" + webhookID) }

// Dispatcher posts webhook messages. Each call of Deliver makes one attempt
// and records it with the message's next step (success, a retry at its time
// in the schedule, or failed); the queue runs it again only for a store
// error. An endpoint failing every attempt for DisableAfter is disabled
// with a reason the API shows. Limits keep one team's troubled endpoints
// from delaying other teams' messages (fair.go): Deliver answers *Deferred
// instead of posting when they say wait.
type Dispatcher struct {
	Store  Store
	Keys   Opener
	Client *http.Client // netguard's client: refuses non-public addresses at connect time
	Now    func() time.Time
	// DisableAfter: 0 means 5 days.
	DisableAfter time.Duration
	// Timeout bounds one POST, answer included; 0 means Timeout (10 s).
	// Client's own timeout, if shorter, still applies.
	Timeout time.Duration
	// Limits are the caps and breakers; read once, at the first Deliver.
	Limits Limits
	Logger *slog.Logger
	// Metrics counts posts by result (nil: not counted).
	Metrics *metrics.Metrics

	gateOnce sync.Once
	gate     *gate
}

func (d *Dispatcher) now() time.Time {
	if d.Now != nil {
		return d.Now()
	}
	return time.Now()
}

func (d *Dispatcher) timeout() time.Duration {
	if d.Timeout > 0 {
		return d.Timeout
	}
	return Timeout
}

func (d *Dispatcher) fairness() *gate {
	d.gateOnce.Do(func() { d.gate = newGate(d.Limits, d.Logger) })
	return d.gate
}

// Deliver makes one attempt for the message, or returns *Deferred when
// fairness says it must wait (nothing is recorded then).
func (d *Dispatcher) Deliver(ctx context.Context, messageID string) error {
	m, err := d.Store.GetWebhookMessage(ctx, messageID)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("webhook message %s: %w", messageID, err)
	}
	if m.Status == store.WebhookMessageSuccess || m.Status == store.WebhookMessageFailed {
		return nil // a duplicate job; replay makes a message pending again
	}
	w, err := d.Store.GetWebhook(ctx, m.TeamID, m.WebhookID)
	if errors.Is(err, store.ErrNotFound) {
		return nil // deleted
	}
	if err != nil {
		return fmt.Errorf("webhook %s: %w", m.WebhookID, err)
	}
	if w.Status != store.WebhookEnabled {
		return nil // stays pending; a replay after re-enabling sends it
	}
	now := d.now().UTC()
	secrets, err := d.secrets(w, now)
	if err != nil {
		return err
	}
	g := d.fairness()
	slot, wait := g.acquire(w, now, d.timeout())
	if wait != nil {
		d.Metrics.Webhook(metrics.WebhookDeferred)
		return wait
	}
	started := time.Now()
	code, response := d.post(ctx, w.Endpoint, secrets, m, now)
	g.release(slot, classify(code, ctx.Err() != nil), time.Since(started), d.now().UTC())
	res := &store.WebhookResult{Message: m, Attempt: &store.WebhookAttempt{
		ID: store.NewWebhookAttemptID(), MessageID: m.ID, StatusCode: code, Response: response, SentAt: now}}
	m.Attempts++
	if code >= 200 && code < 300 {
		m.Status, m.NextAttemptAt = store.WebhookMessageSuccess, nil
	} else {
		if m.Attempts <= len(Schedule) {
			next := now.Add(Schedule[m.Attempts-1])
			m.Status, m.NextAttemptAt = store.WebhookMessageAttempting, &next
		} else {
			m.Status, m.NextAttemptAt = store.WebhookMessageFailed, nil
		}
		since := now
		if w.FailingSince != nil {
			since = *w.FailingSince
		}
		res.FailingSince = &since
		if limit := d.disableAfter(); now.Sub(since) >= limit {
			res.Disable = fmt.Sprintf("Disabled by Godwit: every attempt to %s has failed since %s (last: %s).",
				w.Endpoint, since.Format(time.RFC3339), describe(code, response))
			if d.Logger != nil {
				d.Logger.Warn("webhook disabled", "webhook_id", w.ID, "failing_since", since)
			}
		}
	}
	if err := d.Store.RecordWebhookAttempt(ctx, res); err != nil {
		return err
	}
	d.Metrics.Webhook(metrics.WebhookResult(code))
	if m.Status != store.WebhookMessageSuccess && d.Logger != nil {
		attrs := []slog.Attr{slog.String("webhook_id", w.ID), slog.String("message_id", m.ID), slog.String("team_id", m.TeamID),
			slog.String("event_type", m.Type), slog.Int("attempt", m.Attempts), slog.String("result", describe(code, truncate(response, 200)))}
		if m.NextAttemptAt != nil {
			attrs = append(attrs, slog.Time("next_attempt", *m.NextAttemptAt))
		} else {
			attrs = append(attrs, slog.Bool("gave_up", true))
		}
		d.Logger.LogAttrs(ctx, slog.LevelInfo, "webhook delivery failed", attrs...)
	}
	return nil
}

// truncate cuts s to at most n bytes on a rune boundary.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

func (d *Dispatcher) disableAfter() time.Duration {
	if d.DisableAfter > 0 {
		return d.DisableAfter
	}
	return 5 * 24 * time.Hour
}

// secrets returns the webhook's signing secrets: the current one, and the
// previous one while it still signs.
func (d *Dispatcher) secrets(w *store.Webhook, now time.Time) ([]string, error) {
	cur, err := d.Keys.Open(w.Secret, SecretAD(w.ID))
	if err != nil {
		return nil, fmt.Errorf("open webhook secret: %w", err)
	}
	out := []string{string(cur)}
	if w.PreviousSecret != nil && w.PreviousUntil != nil && now.Before(*w.PreviousUntil) {
		prev, err := d.Keys.Open(w.PreviousSecret, SecretAD(w.ID))
		if err != nil {
			return nil, fmt.Errorf("open previous webhook secret: %w", err)
		}
		out = append(out, string(prev))
	}
	return out, nil
}

// post sends the message and returns the status code (0 without an
// answer) and the start of the answer, or why there was none.
func (d *Dispatcher) post(ctx context.Context, endpoint string, secrets []string, m *store.WebhookMessage, now time.Time) (int, string) {
	ctx, cancel := context.WithTimeout(ctx, d.timeout())
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, bytes.NewReader(m.Payload))
	if err != nil {
		return 0, "invalid endpoint: " + err.Error()
	}
	if err := SetHeaders(req.Header, secrets, m.ID, now, m.Payload); err != nil {
		return 0, err.Error()
	}
	req.Header.Set("User-Agent", "Godwit-Webhooks/1")
	resp, err := d.Client.Do(req)
	if err != nil {
		return 0, requestError(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, maxResponse))
	return resp.StatusCode, strings.ToValidUTF8(string(body), string(utf8.RuneError))
}

// requestError describes a failed request without repeating the URL.
func requestError(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err.Error()
	}
	return err.Error()
}

func describe(code int, response string) string {
	if code == 0 {
		return response
	}
	return fmt.Sprintf("HTTP %d", code)
}
