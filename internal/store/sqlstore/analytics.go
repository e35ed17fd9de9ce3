package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/godwit/godwit/internal/store"
)

// BroadcastEmails implements store.Store: one query for the broadcast's
// emails (emails_broadcast) joined with their events of the type, which
// the API counts and pages (Resend's cursors for these lists are offsets).
func (db *DB) BroadcastEmails(ctx context.Context, teamID, broadcastID, eventType string) ([]*store.BroadcastEmail, error) {
	if broadcastID == "" {
		return nil, nil
	}
	var rows *sql.Rows
	var err error
	if eventType == "" {
		rows, err = db.r.QueryContext(ctx, db.q(`SELECT e.id, e.to_addrs, NULL, NULL, NULL FROM emails e
			WHERE e.team_id = ? AND e.broadcast_id = ? AND e.broadcast_id <> '' ORDER BY e.seq`), teamID, broadcastID)
	} else {
		rows, err = db.r.QueryContext(ctx, db.q(`SELECT e.id, e.to_addrs, ev.type, ev.data, ev.created_at
			FROM emails e JOIN email_events ev ON ev.email_id = e.id
			WHERE e.team_id = ? AND e.broadcast_id = ? AND e.broadcast_id <> '' AND ev.type = ?
			ORDER BY e.seq, ev.seq`), teamID, broadcastID, eventType)
	}
	if err != nil {
		return nil, fmt.Errorf("broadcast emails: %w", interpretError(err))
	}
	defer rows.Close()
	var out []*store.BroadcastEmail
	for rows.Next() {
		var id, to string
		var typ, data sql.NullString
		var at sql.NullInt64
		if err := rows.Scan(&id, &to, &typ, &data, &at); err != nil {
			return nil, fmt.Errorf("broadcast emails: %w", err)
		}
		if len(out) == 0 || out[len(out)-1].EmailID != id {
			be := &store.BroadcastEmail{EmailID: id}
			if err := json.Unmarshal([]byte(to), &be.To); err != nil {
				return nil, fmt.Errorf("broadcast emails: recipients of %s: %w", id, err)
			}
			out = append(out, be)
		}
		if typ.Valid {
			ev := &store.EmailEvent{Type: typ.String, CreatedAt: fromMicros(at.Int64)}
			if data.Valid {
				ev.Data = json.RawMessage(data.String)
			}
			last := out[len(out)-1]
			last.Events = append(last.Events, ev)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("broadcast emails: %w", err)
	}
	return out, nil
}

// waitingEvents are the last events of an email whose delivery is not
// over; the literal list matches the partial index emails_waiting.
const waitingEvents = `last_event IN ('queued', 'scheduled', 'sent', 'delivery_delayed')`

// ListWaitingEmails implements store.Store.
func (db *DB) ListWaitingEmails(ctx context.Context, teamID, status string, p store.Page) ([]*store.WaitingEmail, bool, error) {
	limit := p.Limit
	if limit <= 0 {
		limit = 20
	}
	var where []string
	var args []any
	where = append(where, "e."+waitingEvents)
	if teamID != "" {
		where = append(where, "e.team_id = ?")
		args = append(args, teamID)
	}
	if status != "" {
		where = append(where, "e.last_event = ?")
		args = append(args, status)
	}
	if p.After != "" {
		var seq int64
		q := `SELECT seq FROM emails WHERE id = ?`
		qargs := []any{p.After}
		if teamID != "" {
			q += ` AND team_id = ?`
			qargs = append(qargs, teamID)
		}
		if err := db.r.QueryRowContext(ctx, db.q(q), qargs...).Scan(&seq); err != nil {
			return nil, false, fmt.Errorf("list waiting emails: cursor: %w", interpretError(err))
		}
		where = append(where, "e.seq > ?")
		args = append(args, seq)
	}
	args = append(args, limit+1)
	query := `SELECT e.id, e.team_id, e.to_addrs, e.subject, e.last_event, e.created_at, e.scheduled_at, e.next_attempt_at,
		(SELECT COUNT(DISTINCT a.created_at) FROM delivery_attempts a WHERE a.email_id = e.id)
		FROM emails e WHERE ` + strings.Join(where, " AND ") + ` ORDER BY e.seq LIMIT ?`
	list, more, err := queryPage(ctx, db, db.r, "list waiting emails", query, args, limit, false,
		func(r interface{ Scan(...any) error }) (*store.WaitingEmail, error) {
			w := &store.WaitingEmail{}
			var created int64
			var sched, next sql.NullInt64
			var to string
			if err := r.Scan(&w.ID, &w.TeamID, &to, &w.Subject, &w.LastEvent, &created, &sched, &next, &w.Attempts); err != nil {
				return nil, err
			}
			if err := json.Unmarshal([]byte(to), &w.To); err != nil {
				return nil, fmt.Errorf("recipients of %s: %w", w.ID, err)
			}
			w.CreatedAt, w.ScheduledAt, w.NextAttemptAt = fromMicros(created), timePtr(sched), timePtr(next)
			return w, nil
		})
	if err != nil {
		return nil, false, err
	}
	for _, w := range list {
		if w.Attempts == 0 {
			continue
		}
		a := &store.DeliveryAttempt{EmailID: w.ID, TeamID: w.TeamID}
		err := scanAttempt(db.r.QueryRowContext(ctx, db.q(`SELECT `+attemptSelectColumns+`
			FROM delivery_attempts WHERE email_id = ?
			ORDER BY CASE WHEN outcome = ? THEN 1 ELSE 0 END DESC, seq DESC LIMIT 1`), w.ID, store.OutcomeDeferred).Scan, a)
		if err != nil {
			return nil, false, fmt.Errorf("list waiting emails: last reply of %s: %w", w.ID, interpretError(err))
		}
		w.LastReply = a
	}
	return list, more, nil
}
