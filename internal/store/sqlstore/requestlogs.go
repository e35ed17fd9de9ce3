package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/godwit/godwit/internal/store"
)

const requestLogInsertColumns = `id, team_id, api_key_id, request_id, method, endpoint, status, user_agent, duration_us,
	request_body, response_body, body_codec, created_at`

const requestLogColumns = `id, team_id, api_key_id, request_id, method, endpoint, status, user_agent, duration_us,
	request_body, response_body, body_codec, created_at`

// requestLogListColumns leave the bodies out: lists do not show them.
const requestLogListColumns = `id, team_id, api_key_id, request_id, method, endpoint, status, user_agent, duration_us,
	NULL, NULL, 0, created_at`

func scanRequestLog(row interface{ Scan(...any) error }) (*store.RequestLog, error) {
	var l store.RequestLog
	var ua sql.NullString
	var req, resp []byte
	var dur, created int64
	var codec int
	if err := row.Scan(&l.ID, &l.TeamID, &l.APIKeyID, &l.RequestID, &l.Method, &l.Endpoint, &l.Status, &ua, &dur,
		&req, &resp, &codec, &created); err != nil {
		return nil, interpretError(err)
	}
	l.UserAgent, l.Duration, l.CreatedAt = ua.String, time.Duration(dur)*time.Microsecond, fromMicros(created)
	var err error
	if req != nil {
		if l.RequestBody, err = decodeBytes(req, codec); err != nil {
			return nil, fmt.Errorf("request log %s: request body: %w", l.ID, err)
		}
	}
	if resp != nil {
		if l.ResponseBody, err = decodeBytes(resp, codec); err != nil {
			return nil, fmt.Errorf("request log %s: response body: %w", l.ID, err)
		}
	}
	return &l, nil
}

// AddRequestLogs implements store.Store.
func (db *DB) AddRequestLogs(ctx context.Context, logs []*store.RequestLog) error {
	if len(logs) == 0 {
		return nil
	}
	// Encoded (compressed on SQLite) before the transaction, so the writer
	// holds the database's write lock only to write.
	rows := make([][]any, len(logs))
	for i, l := range logs {
		req, resp, codec := encodeLogBodies(l.RequestBody, l.ResponseBody)
		rows[i] = []any{l.ID, l.TeamID, l.APIKeyID, l.RequestID, l.Method, l.Endpoint, l.Status,
			sql.NullString{String: l.UserAgent, Valid: l.UserAgent != ""}, l.Duration.Microseconds(),
			req, resp, codec, micros(l.CreatedAt)}
	}
	tx, err := db.logW.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("add request logs: %w", interpretError(err))
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	if err := db.insertRows(ctx, tx, "request_logs", requestLogInsertColumns, rows); err != nil {
		return fmt.Errorf("add request logs: %w", interpretError(err))
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("add request logs: %w", interpretError(err))
	}
	return nil
}

// GetRequestLog implements store.Store.
func (db *DB) GetRequestLog(ctx context.Context, teamID, id string) (*store.RequestLog, error) {
	l, err := scanRequestLog(db.logR.QueryRowContext(ctx, db.q(`SELECT `+requestLogColumns+` FROM request_logs
		WHERE team_id = ? AND id = ?`), teamID, id))
	if err != nil {
		return nil, fmt.Errorf("get request log: %w", err)
	}
	return l, nil
}

// ListRequestLogs implements store.Store.
func (db *DB) ListRequestLogs(ctx context.Context, teamID string, p store.Page) ([]*store.RequestLog, bool, error) {
	limit := p.Limit
	if limit <= 0 {
		limit = 20
	}
	query, args := seqPageQuery(requestLogListColumns, "request_logs", "team_id", teamID, p, limit)
	if cursor := p.After + p.Before; cursor != "" {
		var one int
		err := db.logR.QueryRowContext(ctx, db.q(`SELECT 1 FROM request_logs WHERE team_id = ? AND id = ?`), teamID, cursor).Scan(&one)
		if err != nil {
			return nil, false, fmt.Errorf("list request logs: %w", interpretError(err))
		}
	}
	return queryPage(ctx, db, db.logR, "list request logs", query, args, limit, p.Before != "", scanRequestLog)
}

// DeleteRequestLogsBefore implements store.Store.
func (db *DB) DeleteRequestLogsBefore(ctx context.Context, t time.Time, limit int) (int64, error) {
	res, err := db.logW.ExecContext(ctx, db.q(`DELETE FROM request_logs WHERE seq IN
		(SELECT seq FROM request_logs WHERE created_at < ? ORDER BY created_at LIMIT ?)`), micros(t), limit)
	if err != nil {
		return 0, fmt.Errorf("delete expired request logs: %w", interpretError(err))
	}
	return res.RowsAffected()
}
