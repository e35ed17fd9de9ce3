package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"

	"github.com/godwit/godwit/internal/store"
)

const webhookColumns = `id, team_id, endpoint, events, status, disabled_reason, secret, previous_secret, previous_until, created_at, updated_at`

func scanWebhook(row interface{ Scan(...any) error }) (*store.Webhook, error) {
	var w store.Webhook
	var events string
	var prevUntil sql.NullInt64
	var created, updated int64
	if err := row.Scan(&w.ID, &w.TeamID, &w.Endpoint, &events, &w.Status, &w.DisabledReason, &w.Secret, &w.PreviousSecret,
		&prevUntil, &created, &updated); err != nil {
		return nil, interpretError(err)
	}
	if err := json.Unmarshal([]byte(events), &w.Events); err != nil {
		return nil, fmt.Errorf("decode webhook %s: %w", w.ID, err)
	}
	w.PreviousUntil = timePtr(prevUntil)
	w.CreatedAt, w.UpdatedAt = fromMicros(created), fromMicros(updated)
	return &w, nil
}

// CreateWebhook implements store.Store.
func (db *DB) CreateWebhook(ctx context.Context, w *store.Webhook) error {
	_, err := db.w.ExecContext(ctx, db.q(`INSERT INTO webhooks (`+webhookColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
		w.ID, w.TeamID, w.Endpoint, jsonText(w.Events), w.Status, w.DisabledReason, w.Secret, w.PreviousSecret,
		nullMicros(w.PreviousUntil), micros(w.CreatedAt), micros(w.UpdatedAt))
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
	query := `SELECT ` + webhookColumns + ` FROM webhooks WHERE team_id = ? ORDER BY seq DESC LIMIT ?`
	args := []any{teamID, limit + 1}
	switch {
	case p.After != "":
		query = `SELECT ` + webhookColumns + ` FROM webhooks WHERE team_id = ?
			AND seq < (SELECT seq FROM webhooks WHERE team_id = ? AND id = ?) ORDER BY seq DESC LIMIT ?`
		args = []any{teamID, teamID, p.After, limit + 1}
	case p.Before != "":
		query = `SELECT ` + webhookColumns + ` FROM webhooks WHERE team_id = ?
			AND seq > (SELECT seq FROM webhooks WHERE team_id = ? AND id = ?) ORDER BY seq ASC LIMIT ?`
		args = []any{teamID, teamID, p.Before, limit + 1}
	}
	if cursor := p.After + p.Before; cursor != "" {
		if _, err := db.GetWebhook(ctx, teamID, cursor); err != nil {
			return nil, false, err
		}
	}
	rows, err := db.r.QueryContext(ctx, db.q(query), args...)
	if err != nil {
		return nil, false, fmt.Errorf("list webhooks: %w", err)
	}
	defer rows.Close()
	var out []*store.Webhook
	for rows.Next() {
		w, err := scanWebhook(rows)
		if err != nil {
			return nil, false, fmt.Errorf("list webhooks: %w", err)
		}
		out = append(out, w)
	}
	if err := rows.Err(); err != nil {
		return nil, false, fmt.Errorf("list webhooks: %w", err)
	}
	more := len(out) > limit
	if more {
		out = out[:limit]
	}
	if p.Before != "" {
		for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
			out[i], out[j] = out[j], out[i]
		}
	}
	return out, more, nil
}

// UpdateWebhook implements store.Store.
func (db *DB) UpdateWebhook(ctx context.Context, w *store.Webhook) error {
	res, err := db.w.ExecContext(ctx, db.q(`UPDATE webhooks SET endpoint = ?, events = ?, status = ?, disabled_reason = ?,
		secret = ?, previous_secret = ?, previous_until = ?, updated_at = ? WHERE team_id = ? AND id = ?`),
		w.Endpoint, jsonText(w.Events), w.Status, w.DisabledReason, w.Secret, w.PreviousSecret, nullMicros(w.PreviousUntil),
		micros(w.UpdatedAt), w.TeamID, w.ID)
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
