package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/godwit/godwit/internal/store"
)

const broadcastColumns = `id, team_id, name, segment_id, from_addr, subject, reply_to, preview_text, html, text_body,
	topic_id, status, scheduled_at, sent_at, progress, created_at, updated_at`

func scanBroadcast(row interface{ Scan(...any) error }) (*store.Broadcast, error) {
	var b store.Broadcast
	var replyTo, html, text sql.NullString
	var scheduled, sent sql.NullInt64
	var created, updated int64
	if err := row.Scan(&b.ID, &b.TeamID, &b.Name, &b.SegmentID, &b.From, &b.Subject, &replyTo, &b.PreviewText,
		&html, &text, &b.TopicID, &b.Status, &scheduled, &sent, &b.Progress, &created, &updated); err != nil {
		return nil, interpretError(err)
	}
	if html.Valid {
		b.HTML = &html.String
	}
	if text.Valid {
		b.Text = &text.String
	}
	if err := unmarshalNull(replyTo, &b.ReplyTo); err != nil {
		return nil, fmt.Errorf("decode broadcast %s: %w", b.ID, err)
	}
	b.ScheduledAt, b.SentAt = timePtr(scheduled), timePtr(sent)
	b.CreatedAt, b.UpdatedAt = fromMicros(created), fromMicros(updated)
	return &b, nil
}

// CreateBroadcast implements store.Store.
func (db *DB) CreateBroadcast(ctx context.Context, b *store.Broadcast) error {
	tx, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("create broadcast: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	if _, err := tx.ExecContext(ctx, db.q(`INSERT INTO broadcasts (`+broadcastColumns+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
		b.ID, b.TeamID, b.Name, b.SegmentID, b.From, b.Subject, jsonOrNull(b.ReplyTo), b.PreviewText,
		nullString(b.HTML), nullString(b.Text), b.TopicID, b.Status, nullMicros(b.ScheduledAt), nullMicros(b.SentAt),
		b.Progress, micros(b.CreatedAt), micros(b.UpdatedAt)); err != nil {
		return fmt.Errorf("create broadcast: %w", interpretError(err))
	}
	if b.Status == store.BroadcastQueued || b.Status == store.BroadcastScheduled {
		if err := db.runBroadcastTx(ctx, tx, b.TeamID, b.ID, b.ScheduledAt); err != nil {
			return err
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("create broadcast: commit: %w", err)
	}
	return nil
}

// GetBroadcast implements store.Store.
func (db *DB) GetBroadcast(ctx context.Context, teamID, id string) (*store.Broadcast, error) {
	return scanBroadcast(db.r.QueryRowContext(ctx, db.q(`SELECT `+broadcastColumns+` FROM broadcasts
		WHERE team_id = ? AND id = ?`), teamID, id))
}

// ListBroadcasts implements store.Store.
func (db *DB) ListBroadcasts(ctx context.Context, teamID string, p store.Page) ([]*store.Broadcast, bool, error) {
	return listTeamRows(ctx, db, "list broadcasts", "broadcasts", broadcastColumns, teamID, p, scanBroadcast)
}

// draftOnly tells a missing broadcast (ErrNotFound) from one that is no
// longer a draft (ErrBroadcastState) after a guarded write touched no row.
func (db *DB) draftOnly(ctx context.Context, res sql.Result, teamID, id string) error {
	if n, err := res.RowsAffected(); err != nil || n > 0 {
		return err
	}
	if _, err := db.GetBroadcast(ctx, teamID, id); err != nil {
		return err
	}
	return store.ErrBroadcastState
}

// UpdateBroadcast implements store.Store.
func (db *DB) UpdateBroadcast(ctx context.Context, b *store.Broadcast) error {
	res, err := db.w.ExecContext(ctx, db.q(`UPDATE broadcasts SET name = ?, segment_id = ?, from_addr = ?, subject = ?,
		reply_to = ?, preview_text = ?, html = ?, text_body = ?, topic_id = ?, updated_at = ?
		WHERE team_id = ? AND id = ? AND status = ?`),
		b.Name, b.SegmentID, b.From, b.Subject, jsonOrNull(b.ReplyTo), b.PreviewText, nullString(b.HTML),
		nullString(b.Text), b.TopicID, micros(b.UpdatedAt), b.TeamID, b.ID, store.BroadcastDraft)
	if err != nil {
		return fmt.Errorf("update broadcast: %w", interpretError(err))
	}
	return db.draftOnly(ctx, res, b.TeamID, b.ID)
}

// DeleteBroadcast implements store.Store.
func (db *DB) DeleteBroadcast(ctx context.Context, teamID, id string) error {
	res, err := db.w.ExecContext(ctx, db.q(`DELETE FROM broadcasts WHERE team_id = ? AND id = ? AND status = ?`),
		teamID, id, store.BroadcastDraft)
	if err != nil {
		return fmt.Errorf("delete broadcast: %w", interpretError(err))
	}
	return db.draftOnly(ctx, res, teamID, id)
}

// SendBroadcast implements store.Store.
func (db *DB) SendBroadcast(ctx context.Context, teamID, id string, at *time.Time, now time.Time) error {
	tx, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("send broadcast: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	status := store.BroadcastQueued
	if at != nil {
		status = store.BroadcastScheduled
	}
	res, err := tx.ExecContext(ctx, db.q(`UPDATE broadcasts SET status = ?, scheduled_at = ?, updated_at = ?
		WHERE team_id = ? AND id = ? AND status = ?`), status, nullMicros(at), micros(now), teamID, id, store.BroadcastDraft)
	if err != nil {
		return fmt.Errorf("send broadcast: %w", interpretError(err))
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("send broadcast: %w", err)
	} else if n == 0 {
		_ = tx.Rollback()
		return db.draftOnly(ctx, res, teamID, id)
	}
	if err := db.runBroadcastTx(ctx, tx, teamID, id, at); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("send broadcast: commit: %w", err)
	}
	return nil
}

// CancelBroadcast implements store.Store.
func (db *DB) CancelBroadcast(ctx context.Context, teamID, id string, now time.Time) error {
	res, err := db.w.ExecContext(ctx, db.q(`UPDATE broadcasts SET status = ?, updated_at = ?
		WHERE team_id = ? AND id = ? AND status IN (?, ?)`), store.BroadcastCanceled, micros(now), teamID, id,
		store.BroadcastQueued, store.BroadcastScheduled)
	if err != nil {
		return fmt.Errorf("cancel broadcast: %w", interpretError(err))
	}
	return db.draftOnly(ctx, res, teamID, id)
}

// advanceBroadcast moves a broadcast's progress within an accept
// transaction; false when it is no longer at bp.From or not being sent.
func (db *DB) advanceBroadcast(ctx context.Context, tx *sql.Tx, bp *store.BroadcastProgress) (bool, error) {
	status := store.BroadcastSending
	var sentAt sql.NullInt64
	switch {
	case bp.Canceled:
		status = store.BroadcastCanceled
	case bp.Done:
		status = store.BroadcastSent
		sentAt = nullMicros(&bp.At)
	}
	res, err := tx.ExecContext(ctx, db.q(`UPDATE broadcasts SET progress = ?, status = ?, sent_at = ?, updated_at = ?
		WHERE team_id = ? AND id = ? AND progress = ? AND status IN (?, ?, ?)`),
		bp.To, status, sentAt, micros(bp.At), bp.TeamID, bp.ID, bp.From,
		store.BroadcastQueued, store.BroadcastScheduled, store.BroadcastSending)
	if err != nil {
		return false, fmt.Errorf("accept emails: broadcast progress: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("accept emails: broadcast progress: %w", err)
	}
	return n > 0, nil
}

// BroadcastRecipients implements store.Store.
func (db *DB) BroadcastRecipients(ctx context.Context, teamID, segmentID string, after int64, limit int) ([]store.Recipient, error) {
	rows, err := db.r.QueryContext(ctx, db.q(`SELECT m.contact_seq, `+qualified("c", contactColumns)+`
		FROM contact_segments m JOIN contacts c ON c.id = m.contact_id
		WHERE m.segment_id = ? AND m.team_id = ? AND c.team_id = ? AND m.contact_seq > ?
		ORDER BY m.contact_seq ASC LIMIT ?`), segmentID, teamID, teamID, after, limit)
	if err != nil {
		return nil, fmt.Errorf("broadcast recipients: %w", err)
	}
	defer rows.Close()
	var out []store.Recipient
	for rows.Next() {
		var seq int64
		c, err := scanContact(seqScanner{rows, &seq})
		if err != nil {
			return nil, fmt.Errorf("broadcast recipients: %w", err)
		}
		out = append(out, store.Recipient{Seq: seq, Contact: c})
	}
	return out, rows.Err()
}

// seqScanner scans a leading seq column before the rest of a row.
type seqScanner struct {
	rows *sql.Rows
	seq  *int64
}

func (s seqScanner) Scan(dest ...any) error { return s.rows.Scan(append([]any{s.seq}, dest...)...) }
