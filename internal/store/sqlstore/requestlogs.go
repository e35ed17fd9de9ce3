package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"sync"
	"time"

	"github.com/klauspost/compress/s2"

	"github.com/godwit/godwit/internal/store"
)

// # Request logs' bodies in segments
//
// A request log row is small: its bodies are stored in a segment
// (request_log_bodies), one S2 block holding the bodies of many of a
// team's logs, concatenated. One flush of the writer makes one segment
// per team (more when its bodies pass maxSegmentBytes), so a logged
// POST /emails costs one small row and its share of one large sequential
// write, instead of a row carrying its own compressed body; and a team's
// similar bodies (emails from one template) compress against each other.
// Reading one log decompresses its segment (at most maxSegmentBytes). A
// log row holds its segment, where its bodies start in it, and each body's
// length (NULL: no body); the request body comes first. A segment's
// created_at is its newest log's, so once it is past the retention so
// are all its logs.

// maxSegmentBytes bounds one segment's bodies before compression.
const maxSegmentBytes = 4 << 20

const requestLogInsertColumns = `id, team_id, api_key_id, request_id, method, endpoint, status, user_agent, duration_us,
	created_at, body_segment, body_offset, request_len, response_len`

const requestLogColumns = `l.id, l.team_id, l.api_key_id, l.request_id, l.method, l.endpoint, l.status, l.user_agent,
	l.duration_us, l.created_at`

func scanRequestLog(row interface{ Scan(...any) error }, extra ...any) (*store.RequestLog, error) {
	var l store.RequestLog
	var ua sql.NullString
	var dur, created int64
	dest := append([]any{&l.ID, &l.TeamID, &l.APIKeyID, &l.RequestID, &l.Method, &l.Endpoint, &l.Status, &ua, &dur, &created}, extra...)
	if err := row.Scan(dest...); err != nil {
		return nil, interpretError(err)
	}
	l.UserAgent, l.Duration, l.CreatedAt = ua.String, time.Duration(dur)*time.Microsecond, fromMicros(created)
	return &l, nil
}

// logSegment is one segment being built: a team's bodies and, per log, the
// values of its body columns.
type logSegment struct {
	teamID  string
	newest  int64
	size    int // of raw once built
	raw     []byte
	logs    []int // indexes into the batch
	offsets []int
}

// segmentBufs holds the buffers of segments (*[]byte): a flush builds and
// compresses megabytes of bodies, and growing fresh slices for them (copied
// and zeroed at each doubling) was a tenth of the server's CPU under load.
var segmentBufs sync.Pool

// segmentBuf returns a pooled buffer of length n.
func segmentBuf(n int) []byte {
	if p, ok := segmentBufs.Get().(*[]byte); ok && cap(*p) >= n {
		return (*p)[:n]
	}
	return make([]byte, n)
}

// putSegmentBuf returns b to the pool.
func putSegmentBuf(b []byte) { segmentBufs.Put(&b) }

// segmentLogs groups the bodies of logs into segments, per team in the
// order of the batch, each at most maxSegmentBytes (a larger pair of bodies
// gets a segment of its own). Each segment's raw is a pooled buffer
// (putSegmentBuf).
func segmentLogs(logs []*store.RequestLog) []*logSegment {
	var segs []*logSegment
	open := map[string]*logSegment{}
	for i, l := range logs {
		n := len(l.RequestBody) + len(l.ResponseBody)
		if l.RequestBody == nil && l.ResponseBody == nil {
			continue
		}
		s := open[l.TeamID]
		if s == nil || (s.size > 0 && s.size+n > maxSegmentBytes) {
			s = &logSegment{teamID: l.TeamID}
			open[l.TeamID] = s
			segs = append(segs, s)
		}
		s.logs = append(s.logs, i)
		s.offsets = append(s.offsets, s.size)
		s.size += n
		s.newest = max(s.newest, micros(l.CreatedAt))
	}
	for _, s := range segs { // sized first: each segment is copied once
		s.raw = segmentBuf(s.size)[:0]
		for _, i := range s.logs {
			s.raw = append(append(s.raw, logs[i].RequestBody...), logs[i].ResponseBody...)
		}
	}
	return segs
}

// nullLen is a body's stored length: NULL when there is no body.
func nullLen(b []byte) sql.NullInt64 { return sql.NullInt64{Int64: int64(len(b)), Valid: b != nil} }

// AddRequestLogs implements store.Store.
func (db *DB) AddRequestLogs(ctx context.Context, logs []*store.RequestLog) error {
	if len(logs) == 0 {
		return nil
	}
	// Built and compressed before the transaction, so the writer holds the
	// database's write lock only to write.
	segs := segmentLogs(logs)
	data := make([][]byte, len(segs))
	for i, s := range segs {
		data[i] = s2.Encode(segmentBuf(s2.MaxEncodedLen(len(s.raw))), s.raw)
		putSegmentBuf(s.raw)
	}
	defer func() { // the drivers have copied them by then
		for _, d := range data {
			putSegmentBuf(d)
		}
	}()
	rows := make([][]any, len(logs))
	for i, l := range logs {
		rows[i] = []any{l.ID, l.TeamID, l.APIKeyID, l.RequestID, l.Method, l.Endpoint, l.Status,
			sql.NullString{String: l.UserAgent, Valid: l.UserAgent != ""}, l.Duration.Microseconds(), micros(l.CreatedAt),
			nil, nil, nullLen(l.RequestBody), nullLen(l.ResponseBody)}
	}
	tx, err := db.logW.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("add request logs: %w", interpretError(err))
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	for i, s := range segs {
		var seq int64
		if err := tx.QueryRowContext(ctx, db.q(`INSERT INTO request_log_bodies (team_id, created_at, data)
			VALUES (?, ?, ?) RETURNING seq`), s.teamID, s.newest, data[i]).Scan(&seq); err != nil {
			return fmt.Errorf("add request logs: segment: %w", interpretError(err))
		}
		for j, li := range s.logs {
			rows[li][10], rows[li][11] = seq, s.offsets[j]
		}
	}
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
	var offset, reqLen, respLen sql.NullInt64
	var data []byte
	l, err := scanRequestLog(db.logR.QueryRowContext(ctx, db.q(`SELECT `+requestLogColumns+`,
			l.body_offset, l.request_len, l.response_len, b.data
		FROM request_logs l LEFT JOIN request_log_bodies b ON b.seq = l.body_segment AND b.team_id = l.team_id
		WHERE l.team_id = ? AND l.id = ?`), teamID, id), &offset, &reqLen, &respLen, &data)
	if err != nil {
		return nil, fmt.Errorf("get request log: %w", err)
	}
	if data == nil || !offset.Valid {
		return l, nil
	}
	raw, err := s2.Decode(nil, data)
	if err != nil {
		return nil, fmt.Errorf("get request log %s: decompress its segment: %w", id, err)
	}
	at := offset.Int64
	body := func(n sql.NullInt64) ([]byte, error) {
		if !n.Valid {
			return nil, nil
		}
		if n.Int64 < 0 || at < 0 || at+n.Int64 > int64(len(raw)) {
			return nil, fmt.Errorf("get request log %s: body out of its segment (%d+%d of %d)", id, at, n.Int64, len(raw))
		}
		b := raw[at : at+n.Int64 : at+n.Int64]
		at += n.Int64
		return b, nil
	}
	if l.RequestBody, err = body(reqLen); err != nil {
		return nil, err
	}
	if l.ResponseBody, err = body(respLen); err != nil {
		return nil, err
	}
	return l, nil
}

// ListRequestLogs implements store.Store.
func (db *DB) ListRequestLogs(ctx context.Context, teamID string, p store.Page) ([]*store.RequestLog, bool, error) {
	limit := p.Limit
	if limit <= 0 {
		limit = 20
	}
	query, args := seqPageQuery(requestLogColumns, "request_logs l", "team_id", teamID, p, limit)
	if cursor := p.After + p.Before; cursor != "" {
		var one int
		err := db.logR.QueryRowContext(ctx, db.q(`SELECT 1 FROM request_logs WHERE team_id = ? AND id = ?`), teamID, cursor).Scan(&one)
		if err != nil {
			return nil, false, fmt.Errorf("list request logs: %w", interpretError(err))
		}
	}
	return queryPage(ctx, db, db.logR, "list request logs", query, args, limit, p.Before != "",
		func(row interface{ Scan(...any) error }) (*store.RequestLog, error) { return scanRequestLog(row) })
}

// DeleteRequestLogsBefore implements store.Store. Segments go once their
// newest log is past t, at most limit of them per call too.
func (db *DB) DeleteRequestLogsBefore(ctx context.Context, t time.Time, limit int) (int64, error) {
	res, err := db.logW.ExecContext(ctx, db.q(`DELETE FROM request_logs WHERE seq IN
		(SELECT seq FROM request_logs WHERE created_at < ? ORDER BY created_at LIMIT ?)`), micros(t), limit)
	if err != nil {
		return 0, fmt.Errorf("delete expired request logs: %w", interpretError(err))
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("delete expired request logs: %w", err)
	}
	if _, err := db.logW.ExecContext(ctx, db.q(`DELETE FROM request_log_bodies WHERE seq IN
		(SELECT seq FROM request_log_bodies WHERE created_at < ? ORDER BY created_at LIMIT ?)`), micros(t), limit); err != nil {
		return n, fmt.Errorf("delete expired request log segments: %w", interpretError(err))
	}
	return n, nil
}
