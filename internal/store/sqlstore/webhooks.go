package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/godwit/godwit/internal/store"
)

const webhookColumns = `id, team_id, endpoint, events, status, disabled_reason, secret, previous_secret, previous_until, failing_since, created_at, updated_at`

func scanWebhook(row interface{ Scan(...any) error }) (*store.Webhook, error) {
	var w store.Webhook
	var events string
	var prevUntil, failing sql.NullInt64
	var created, updated int64
	if err := row.Scan(&w.ID, &w.TeamID, &w.Endpoint, &events, &w.Status, &w.DisabledReason, &w.Secret, &w.PreviousSecret,
		&prevUntil, &failing, &created, &updated); err != nil {
		return nil, interpretError(err)
	}
	if err := json.Unmarshal([]byte(events), &w.Events); err != nil {
		return nil, fmt.Errorf("decode webhook %s: %w", w.ID, err)
	}
	w.PreviousUntil, w.FailingSince = timePtr(prevUntil), timePtr(failing)
	w.CreatedAt, w.UpdatedAt = fromMicros(created), fromMicros(updated)
	return &w, nil
}

// CreateWebhook implements store.Store.
func (db *DB) CreateWebhook(ctx context.Context, w *store.Webhook) error {
	_, err := db.w.ExecContext(ctx, db.q(`INSERT INTO webhooks (`+webhookColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
		w.ID, w.TeamID, w.Endpoint, jsonText(w.Events), w.Status, w.DisabledReason, w.Secret, w.PreviousSecret,
		nullMicros(w.PreviousUntil), nullMicros(w.FailingSince), micros(w.CreatedAt), micros(w.UpdatedAt))
	if err != nil {
		return fmt.Errorf("create webhook: %w", interpretError(err))
	}
	return nil
}

// GetWebhook implements store.Store.
func (db *DB) GetWebhook(ctx context.Context, teamID, id string) (*store.Webhook, error) {
	w, err := scanWebhook(db.r.QueryRowContext(ctx, db.q(`SELECT `+webhookColumns+` FROM webhooks WHERE id = ?`), id))
	if err != nil {
		return nil, err
	}
	if w.TeamID != teamID {
		return nil, store.ErrNotFound
	}
	return w, nil
}

// ListWebhooks implements store.Store.
func (db *DB) ListWebhooks(ctx context.Context, teamID string, p store.Page) ([]*store.Webhook, bool, error) {
	limit := p.Limit
	if limit <= 0 {
		limit = 20
	}
	query, args := seqPageQuery(webhookColumns, "webhooks", "team_id", teamID, p, limit)
	if cursor := p.After + p.Before; cursor != "" {
		if _, err := db.GetWebhook(ctx, teamID, cursor); err != nil {
			return nil, false, err
		}
	}
	return queryPage(ctx, db, db.r, "list webhooks", query, args, limit, p.Before != "", scanWebhook)
}

// UpdateWebhook implements store.Store.
func (db *DB) UpdateWebhook(ctx context.Context, w *store.Webhook) error {
	res, err := db.w.ExecContext(ctx, db.q(`UPDATE webhooks SET endpoint = ?, events = ?, status = ?, disabled_reason = ?,
		secret = ?, previous_secret = ?, previous_until = ?, failing_since = ?, updated_at = ? WHERE team_id = ? AND id = ?`),
		w.Endpoint, jsonText(w.Events), w.Status, w.DisabledReason, w.Secret, w.PreviousSecret, nullMicros(w.PreviousUntil),
		nullMicros(w.FailingSince), micros(w.UpdatedAt), w.TeamID, w.ID)
	if err != nil {
		return fmt.Errorf("update webhook: %w", interpretError(err))
	}
	return mustAffect(res)
}

// DeleteWebhook implements store.Store.
func (db *DB) DeleteWebhook(ctx context.Context, teamID, id string) error {
	res, err := db.w.ExecContext(ctx, db.q(`DELETE FROM webhooks WHERE team_id = ? AND id = ?`), teamID, id)
	if err != nil {
		return fmt.Errorf("delete webhook: %w", interpretError(err))
	}
	return mustAffect(res)
}

// fanOut creates, for each event, a message for every enabled webhook of its
// team that subscribes to its type, and enqueues their jobs.
func (db *DB) fanOut(ctx context.Context, tx *sql.Tx, events []*store.Event) error {
	hooks := map[string][]*store.Webhook{} // team → enabled webhooks
	var rows [][]any
	var jobs []WebhookPost
	for _, ev := range events {
		list, ok := hooks[ev.TeamID]
		if !ok {
			var err error
			if list, err = db.enabledWebhooks(ctx, tx, ev.TeamID); err != nil {
				return err
			}
			hooks[ev.TeamID] = list
		}
		for _, w := range list {
			if !slices.Contains(w.Events, ev.Type) {
				continue
			}
			id := store.NewWebhookMessageID()
			rows = append(rows, []any{id, w.ID, ev.TeamID, ev.ID, ev.Type, string(ev.Data), store.WebhookMessagePending, micros(ev.CreatedAt)})
			jobs = append(jobs, WebhookPost{MessageID: id})
		}
	}
	if len(rows) == 0 {
		return nil
	}
	if err := db.insertRows(ctx, tx, "webhook_messages", "id, webhook_id, team_id, event_id, type, payload, status, created_at", rows); err != nil {
		return fmt.Errorf("webhook messages: %w", err)
	}
	return db.postTx(ctx, tx, jobs)
}

func (db *DB) enabledWebhooks(ctx context.Context, tx *sql.Tx, teamID string) ([]*store.Webhook, error) {
	rows, err := tx.QueryContext(ctx, db.q(`SELECT id, events FROM webhooks WHERE team_id = ? AND status = ?`), teamID, store.WebhookEnabled)
	if err != nil {
		return nil, fmt.Errorf("webhooks of team: %w", err)
	}
	defer rows.Close()
	var out []*store.Webhook
	for rows.Next() {
		var w store.Webhook
		var events string
		if err := rows.Scan(&w.ID, &events); err != nil {
			return nil, fmt.Errorf("webhooks of team: %w", err)
		}
		if err := json.Unmarshal([]byte(events), &w.Events); err != nil {
			return nil, fmt.Errorf("webhooks of team: %w", err)
		}
		out = append(out, &w)
	}
	return out, rows.Err()
}

const webhookMessageColumns = `id, webhook_id, team_id, event_id, type, payload, status, attempts, next_attempt_at, created_at`

func scanWebhookMessage(row interface{ Scan(...any) error }) (*store.WebhookMessage, error) {
	var m store.WebhookMessage
	var payload string
	var next sql.NullInt64
	var created int64
	if err := row.Scan(&m.ID, &m.WebhookID, &m.TeamID, &m.EventID, &m.Type, &payload, &m.Status, &m.Attempts, &next, &created); err != nil {
		return nil, interpretError(err)
	}
	m.Payload, m.NextAttemptAt, m.CreatedAt = json.RawMessage(payload), timePtr(next), fromMicros(created)
	return &m, nil
}

// GetWebhookMessage implements store.Store.
func (db *DB) GetWebhookMessage(ctx context.Context, id string) (*store.WebhookMessage, error) {
	return scanWebhookMessage(db.r.QueryRowContext(ctx, db.q(`SELECT `+webhookMessageColumns+` FROM webhook_messages WHERE id = ?`), id))
}

// RecordWebhookAttempt implements store.Store.
func (db *DB) RecordWebhookAttempt(ctx context.Context, r *store.WebhookResult) error {
	tx, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("record webhook attempt: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	m, a := r.Message, r.Attempt
	if _, err := tx.ExecContext(ctx, db.q(`INSERT INTO webhook_attempts (id, message_id, status_code, response, sent_at) VALUES (?, ?, ?, ?, ?)`),
		a.ID, m.ID, a.StatusCode, a.Response, micros(a.SentAt)); err != nil {
		return fmt.Errorf("record webhook attempt: %w", err)
	}
	if _, err := tx.ExecContext(ctx, db.q(`UPDATE webhook_messages SET status = ?, attempts = ?, next_attempt_at = ? WHERE id = ?`),
		m.Status, m.Attempts, nullMicros(m.NextAttemptAt), m.ID); err != nil {
		return fmt.Errorf("record webhook attempt: %w", err)
	}
	if r.Disable != "" {
		_, err = tx.ExecContext(ctx, db.q(`UPDATE webhooks SET failing_since = ?, status = ?, disabled_reason = ?, updated_at = ? WHERE id = ?`),
			nullMicros(r.FailingSince), store.WebhookDisabled, r.Disable, micros(a.SentAt), m.WebhookID)
	} else {
		_, err = tx.ExecContext(ctx, db.q(`UPDATE webhooks SET failing_since = ? WHERE id = ?`), nullMicros(r.FailingSince), m.WebhookID)
	}
	if err != nil {
		return fmt.Errorf("record webhook attempt: %w", err)
	}
	if m.NextAttemptAt != nil {
		if err := db.postTx(ctx, tx, []WebhookPost{{MessageID: m.ID, At: m.NextAttemptAt}}); err != nil {
			return fmt.Errorf("record webhook attempt: enqueue retry: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("record webhook attempt: commit: %w", err)
	}
	return nil
}

// ListWebhookMessages implements store.Store.
func (db *DB) ListWebhookMessages(ctx context.Context, teamID, webhookID string, p store.Page) ([]*store.WebhookMessage, bool, error) {
	if _, err := db.GetWebhook(ctx, teamID, webhookID); err != nil {
		return nil, false, err
	}
	limit := cmpLimit(p.Limit)
	query := `SELECT ` + webhookMessageColumns + ` FROM webhook_messages WHERE webhook_id = ? ORDER BY seq DESC LIMIT ?`
	args := []any{webhookID, limit + 1}
	if p.After != "" {
		query = `SELECT ` + webhookMessageColumns + ` FROM webhook_messages WHERE webhook_id = ?
			AND seq < (SELECT seq FROM webhook_messages WHERE webhook_id = ? AND id = ?) ORDER BY seq DESC LIMIT ?`
		args = []any{webhookID, webhookID, p.After, limit + 1}
		var one int
		if err := db.r.QueryRowContext(ctx, db.q(`SELECT 1 FROM webhook_messages WHERE webhook_id = ? AND id = ?`), webhookID, p.After).Scan(&one); err != nil {
			return nil, false, interpretError(err)
		}
	}
	return queryPage(ctx, db, db.r, "list webhook messages", query, args, limit, false, scanWebhookMessage)
}

// ListWebhookAttempts implements store.Store.
func (db *DB) ListWebhookAttempts(ctx context.Context, teamID, messageID string, p store.Page) ([]*store.WebhookAttempt, bool, error) {
	m, err := db.GetWebhookMessage(ctx, messageID)
	if err != nil {
		return nil, false, err
	}
	if m.TeamID != teamID {
		return nil, false, store.ErrNotFound
	}
	limit := cmpLimit(p.Limit)
	query := `SELECT id, message_id, status_code, response, sent_at FROM webhook_attempts WHERE message_id = ? ORDER BY seq DESC LIMIT ?`
	args := []any{messageID, limit + 1}
	if p.After != "" {
		query = `SELECT id, message_id, status_code, response, sent_at FROM webhook_attempts WHERE message_id = ?
			AND seq < (SELECT seq FROM webhook_attempts WHERE message_id = ? AND id = ?) ORDER BY seq DESC LIMIT ?`
		args = []any{messageID, messageID, p.After, limit + 1}
	}
	return queryPage(ctx, db, db.r, "list webhook attempts", query, args, limit, false, func(r interface{ Scan(...any) error }) (*store.WebhookAttempt, error) {
		var a store.WebhookAttempt
		var sent int64
		if err := r.Scan(&a.ID, &a.MessageID, &a.StatusCode, &a.Response, &sent); err != nil {
			return nil, err
		}
		a.SentAt = fromMicros(sent)
		return &a, nil
	})
}

// ReplayWebhookMessage implements store.Store.
func (db *DB) ReplayWebhookMessage(ctx context.Context, teamID, id string, at time.Time) error {
	tx, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("replay webhook message: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	res, err := tx.ExecContext(ctx, db.q(`UPDATE webhook_messages SET status = ?, next_attempt_at = ? WHERE team_id = ? AND id = ?`),
		store.WebhookMessagePending, micros(at), teamID, id)
	if err != nil {
		return fmt.Errorf("replay webhook message: %w", err)
	}
	if err := mustAffect(res); err != nil {
		return err
	}
	if err := db.postTx(ctx, tx, []WebhookPost{{MessageID: id}}); err != nil {
		return fmt.Errorf("replay webhook message: %w", err)
	}
	return tx.Commit()
}

func cmpLimit(n int) int {
	if n <= 0 {
		return 20
	}
	return n
}
