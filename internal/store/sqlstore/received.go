package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/klauspost/compress/s2"

	"github.com/godwit/godwit/internal/store"
)

// Received emails (migration 00031): the mail the MX accepted for the
// teams' receiving domains. Their bodies are stored as sent emails' are
// (encodeBodies); the raw message and attachments' content are compressed
// with S2 on both databases when that saves enough (compressBlob), since
// they are the bulk of what an inbound server keeps.

// compressBlob returns b's stored form and its codec: S2 when that saves at
// least an eighth, else b itself (codecText: stored as is). Never nil, so
// that a NOT NULL column takes an empty value.
func compressBlob(b []byte) ([]byte, int) {
	if b == nil {
		b = []byte{}
	}
	if len(b) < minCompress {
		return b, codecText
	}
	c := s2.Encode(nil, b)
	if len(c) > len(b)-len(b)/8 {
		return b, codecText
	}
	return c, codecS2
}

// minScratch is the blob size from which the compressed copy goes to a
// received email's Scratch memory (when it has one).
const minScratch = 64 << 10

// compressBlobIn is compressBlob with the compressed copy of a large blob
// in scratch memory (store.ReceivedEmail.Scratch), given back by release
// once stored (a no-op for the others). Without scratch memory to be had
// (a full disk) a large blob is stored as is rather than held twice.
func compressBlobIn(b []byte, scratch func(int) ([]byte, func(), error)) (c []byte, codec int, release func()) {
	if scratch == nil || len(b) < minScratch {
		c, codec = compressBlob(b)
		return c, codec, func() {}
	}
	dst, release, err := scratch(s2.MaxEncodedLen(len(b)))
	if err != nil {
		return b, codecText, func() {}
	}
	c = s2.Encode(dst, b)
	if len(c) > len(b)-len(b)/8 {
		release()
		return b, codecText, func() {}
	}
	return c, codecS2, release
}

// pieceSize bounds the pieces a large blob is sent to PostgreSQL in
// (blobExpr).
const pieceSize = 1 << 20

// blobExpr returns the SQL expression, and its arguments, that give a
// column the blob b in tx, and the function to call once the statement
// using it ran. On PostgreSQL a blob larger than pieceSize is sent in
// pieces to a temporary table and joined by the server: pgx encodes an
// argument twice (the parameter, then the Bind message), which for a
// large message would be two more copies of it in the heap. SQLite's
// driver copies a blob out of the heap at once.
func (db *DB) blobExpr(ctx context.Context, tx *sql.Tx, b []byte) (expr string, args []any, done func() error, err error) {
	if db.dialect != Postgres || len(b) <= pieceSize {
		return "?", []any{b}, func() error { return nil }, nil
	}
	if _, err := tx.ExecContext(ctx, `CREATE TEMP TABLE IF NOT EXISTS godwit_blob_pieces (n int NOT NULL, piece bytea NOT NULL)
		ON COMMIT DELETE ROWS`); err != nil {
		return "", nil, nil, fmt.Errorf("blob pieces table: %w", err)
	}
	for n, off := 0, 0; off < len(b); n, off = n+1, off+pieceSize {
		if _, err := tx.ExecContext(ctx, `INSERT INTO godwit_blob_pieces (n, piece) VALUES ($1, $2)`, n, b[off:min(off+pieceSize, len(b))]); err != nil {
			return "", nil, nil, fmt.Errorf("blob piece %d: %w", n, err)
		}
	}
	return `(SELECT string_agg(piece, ''::bytea ORDER BY n) FROM godwit_blob_pieces)`, nil, func() error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM godwit_blob_pieces`); err != nil {
			return fmt.Errorf("blob pieces: %w", err)
		}
		return nil
	}, nil
}

// strings0 is a list as stored: never null.
func strings0(v []string) []string {
	if v == nil {
		return []string{}
	}
	return v
}

const receivedColumns = `id, team_id, domain_id, created_at, message_id, from_addr, to_addrs, cc_addrs, bcc_addrs, reply_to,
	received_for, subject, html_body, text_body, body_codec, headers, size, remote_ip, helo, mail_from,
	auth_spf, auth_dkim, auth_dmarc, auth_arc, auth_details, auth_results, in_reply_to_email_id`

// receivedListColumns leave the bodies and headers out, as lists do.
const receivedListColumns = `id, team_id, domain_id, created_at, message_id, from_addr, to_addrs, cc_addrs, bcc_addrs, reply_to,
	received_for, subject, NULL, NULL, body_codec, '[]', size, remote_ip, helo, mail_from,
	auth_spf, auth_dkim, auth_dmarc, auth_arc, auth_details, auth_results, in_reply_to_email_id`

const receivedAttachmentColumns = `id, email_id, team_id, filename, content_type, content_disposition, content_id, size`

// StoreReceivedEmail implements store.Store.
func (db *DB) StoreReceivedEmail(ctx context.Context, e *store.ReceivedEmail, announce store.ReceivedEvent) error {
	if e.Raw == nil {
		return errors.New("store received email: no raw message")
	}
	if announce == nil {
		return errors.New("store received email: no event builder")
	}
	if e.ID == "" {
		e.ID = store.NewID()
	}
	if e.CreatedAt.IsZero() {
		e.CreatedAt = db.now()
	}
	e.CreatedAt = e.CreatedAt.UTC().Truncate(time.Microsecond)
	if e.Size == 0 {
		e.Size = int64(len(e.Raw))
	}
	for _, a := range e.Attachments {
		if a.ID == "" {
			a.ID = store.NewID()
		}
		a.EmailID, a.TeamID, a.Size = e.ID, e.TeamID, int64(len(a.Content))
	}
	ev, err := announce(e)
	if err != nil {
		return fmt.Errorf("store received email: %w", err)
	}
	if ev == nil {
		return errors.New("store received email: no email.received event")
	}
	req := &receivedReq{e: e, ev: ev, done: make(chan struct{})}
	req.html, req.text, req.codec = db.encodeBodies(e.HTML, e.Text)
	var release func()
	req.raw, req.rawCodec, release = compressBlobIn(e.Raw, e.Scratch)
	defer release()
	if err := submit(db, ctx, db.received, req); err != nil {
		return err
	}
	// Handed over, it is committed or fails on its own; the caller waits
	// for that even if its context ends, so the MX never answers 250 for
	// what might roll back, nor an error for what committed.
	<-req.done
	return req.err
}

// receivedReq is a received email waiting for the group commit.
type receivedReq struct {
	e               *store.ReceivedEmail
	ev              *store.Event
	html, text      any // as encodeBodies gives them
	raw             []byte
	codec, rawCodec int
	done            chan struct{}
	err             error
}

// maxGroupReceived bounds the received emails of one commit, and
// maxGroupReceivedBytes their stored size: a group closes at either.
const (
	maxGroupReceived      = 64
	maxGroupReceivedBytes = 64 << 20
)

// receivedLoop commits the received emails waiting at each moment
// together, as AcceptEmails does the accepted ones: one transaction (and
// one flush) for all of them, each with its attachments and its event. When
// a group fails, each is committed alone, so that one bad email fails
// alone.
func (db *DB) receivedLoop() {
	defer db.wg.Done()
	group := make([]*receivedReq, 0, maxGroupReceived)
	for first := range db.received {
		group = append(group[:0], first)
		bytes := len(first.raw)
	gather:
		for len(group) < maxGroupReceived && bytes < maxGroupReceivedBytes {
			select {
			case r, ok := <-db.received:
				if !ok {
					break gather
				}
				group, bytes = append(group, r), bytes+len(r.raw)
			default:
				break gather
			}
		}
		if err := db.commitReceived(group); err != nil && len(group) > 1 {
			for _, r := range group {
				r.err = db.commitReceived([]*receivedReq{r})
			}
		} else {
			for _, r := range group {
				r.err = err
			}
		}
		for _, r := range group {
			close(r.done)
		}
		clear(group) // a group holds its messages no longer than its commit
	}
}

func (db *DB) commitReceived(group []*receivedReq) (err error) {
	if db.observe != nil {
		start := time.Now()
		defer func() {
			db.observe(CommitStats{Kind: "received", Duration: time.Since(start), Requests: len(group), Failed: err != nil})
		}()
	}
	ctx := context.Background()
	events := make([]*store.Event, len(group))
	for i, r := range group {
		events[i] = r.ev
	}
	err = db.withEvents(ctx, events, func(tx *sql.Tx) error {
		for _, r := range group {
			if err := db.insertReceived(ctx, tx, r); err != nil {
				return err
			}
		}
		return nil
	})
	if isUniqueViolation(err) {
		return fmt.Errorf("store received email: %w", store.ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("store received email: %w", interpretError(err))
	}
	return nil
}

func (db *DB) insertReceived(ctx context.Context, tx *sql.Tx, r *receivedReq) error {
	e := r.e
	var details sql.NullString
	if len(e.Auth.Details) > 0 {
		details = sql.NullString{String: string(e.Auth.Details), Valid: true}
	}
	headers := e.Headers
	if headers == nil {
		headers = []store.Header{}
	}
	rawExpr, rawArgs, rawDone, err := db.blobExpr(ctx, tx, r.raw)
	if err != nil {
		return fmt.Errorf("insert email: %w", err)
	}
	args := []any{e.ID, e.TeamID, e.DomainID, micros(e.CreatedAt), e.MessageID, e.From,
		jsonText(strings0(e.To)), jsonText(strings0(e.Cc)), jsonText(strings0(e.Bcc)), jsonText(strings0(e.ReplyTo)),
		jsonText(strings0(e.ReceivedFor)), e.Subject, r.html, r.text, r.codec, jsonText(headers)}
	args = append(append(args, rawArgs...), r.rawCodec, e.Size,
		e.RemoteIP, e.Helo, e.MailFrom, e.Auth.SPF, e.Auth.DKIM, e.Auth.DMARC, e.Auth.ARC, details, e.Auth.Results,
		sql.NullString{String: e.InReplyToEmailID, Valid: e.InReplyToEmailID != ""})
	_, err = tx.ExecContext(ctx, db.q(`INSERT INTO received_emails (id, team_id, domain_id, created_at, message_id,
		from_addr, to_addrs, cc_addrs, bcc_addrs, reply_to, received_for, subject, html_body, text_body, body_codec,
		headers, raw, raw_codec, size, remote_ip, helo, mail_from, auth_spf, auth_dkim, auth_dmarc, auth_arc,
		auth_details, auth_results, in_reply_to_email_id)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, `+rawExpr+`, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`), args...)
	if err != nil {
		return fmt.Errorf("insert email: %w", err)
	}
	if err := rawDone(); err != nil {
		return fmt.Errorf("insert email: %w", err)
	}
	for i, a := range e.Attachments {
		if err := db.insertReceivedAttachment(ctx, tx, e, i, a); err != nil {
			return fmt.Errorf("insert attachment: %w", err)
		}
	}
	return nil
}

// insertReceivedAttachment inserts the i-th attachment of e; a large one's
// compressed copy (in e's Scratch memory) lives only as long as its
// statement.
func (db *DB) insertReceivedAttachment(ctx context.Context, tx *sql.Tx, e *store.ReceivedEmail, i int, a *store.ReceivedAttachment) error {
	content, codec, release := compressBlobIn(a.Content, e.Scratch)
	defer release()
	expr, contentArgs, done, err := db.blobExpr(ctx, tx, content)
	if err != nil {
		return err
	}
	args := append([]any{a.ID, e.ID, e.TeamID, i, a.Filename, a.ContentType, a.ContentDisposition, a.ContentID, a.Size}, contentArgs...)
	if _, err := tx.ExecContext(ctx, db.q(`INSERT INTO received_attachments (id, email_id, team_id, idx, filename,
		content_type, content_disposition, content_id, size, content, codec) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, `+expr+`, ?)`),
		append(args, codec)...); err != nil {
		return err
	}
	return done()
}

func scanReceived(row interface{ Scan(...any) error }) (*store.ReceivedEmail, error) {
	var e store.ReceivedEmail
	var created int64
	var to, cc, bcc, replyTo, receivedFor, headers string
	var html, text sql.Null[[]byte]
	var codec int
	var details, inReplyTo sql.NullString
	if err := row.Scan(&e.ID, &e.TeamID, &e.DomainID, &created, &e.MessageID, &e.From, &to, &cc, &bcc, &replyTo,
		&receivedFor, &e.Subject, &html, &text, &codec, &headers, &e.Size, &e.RemoteIP, &e.Helo, &e.MailFrom,
		&e.Auth.SPF, &e.Auth.DKIM, &e.Auth.DMARC, &e.Auth.ARC, &details, &e.Auth.Results, &inReplyTo); err != nil {
		return nil, interpretError(err)
	}
	e.CreatedAt = fromMicros(created)
	e.InReplyToEmailID = inReplyTo.String
	if details.Valid {
		e.Auth.Details = json.RawMessage(details.String)
	}
	var htmlErr, textErr error
	e.HTML, htmlErr = decodeBody(html.V, html.Valid, codec)
	e.Text, textErr = decodeBody(text.V, text.Valid, codec)
	err := errors.Join(htmlErr, textErr,
		json.Unmarshal([]byte(to), &e.To),
		json.Unmarshal([]byte(cc), &e.Cc),
		json.Unmarshal([]byte(bcc), &e.Bcc),
		json.Unmarshal([]byte(replyTo), &e.ReplyTo),
		json.Unmarshal([]byte(receivedFor), &e.ReceivedFor),
		json.Unmarshal([]byte(headers), &e.Headers),
	)
	if err != nil {
		return nil, fmt.Errorf("decode received email %s: %w", e.ID, err)
	}
	return &e, nil
}

func scanReceivedAttachment(row interface{ Scan(...any) error }) (*store.ReceivedAttachment, error) {
	var a store.ReceivedAttachment
	if err := row.Scan(&a.ID, &a.EmailID, &a.TeamID, &a.Filename, &a.ContentType, &a.ContentDisposition, &a.ContentID, &a.Size); err != nil {
		return nil, interpretError(err)
	}
	return &a, nil
}

// receivedOwner checks that id is one of the team's received emails. It
// reads by id alone and checks the team here, as emailExists does.
func (db *DB) receivedOwner(ctx context.Context, teamID, id string) error {
	var owner string
	err := db.r.QueryRowContext(ctx, db.q(`SELECT team_id FROM received_emails WHERE id = ?`), id).Scan(&owner)
	if err != nil {
		return interpretError(err)
	}
	if owner != teamID {
		return store.ErrNotFound
	}
	return nil
}

// GetReceivedEmail implements store.Store.
func (db *DB) GetReceivedEmail(ctx context.Context, teamID, id string) (*store.ReceivedEmail, error) {
	e, err := scanReceived(db.r.QueryRowContext(ctx, db.q(`SELECT `+receivedColumns+` FROM received_emails WHERE id = ?`), id))
	if err == nil && e.TeamID != teamID {
		err = store.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("get received email: %w", err)
	}
	if e.Attachments, err = db.receivedAttachments(ctx, teamID, []string{id}); err != nil {
		return nil, err
	}
	if e.Attachments == nil {
		e.Attachments = []*store.ReceivedAttachment{}
	}
	return e, nil
}

// receivedAttachments returns the attachments, without content, of the
// team's received emails ids, by email in the messages' order.
func (db *DB) receivedAttachments(ctx context.Context, teamID string, ids []string) ([]*store.ReceivedAttachment, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	args := []any{teamID}
	for _, id := range ids {
		args = append(args, id)
	}
	rows, err := db.r.QueryContext(ctx, db.q(`SELECT `+receivedAttachmentColumns+` FROM received_attachments
		WHERE team_id = ? AND email_id IN (?`+strings.Repeat(", ?", len(ids)-1)+`) ORDER BY email_id, idx`), args...)
	if err != nil {
		return nil, fmt.Errorf("list received attachments: %w", interpretError(err))
	}
	defer rows.Close()
	var out []*store.ReceivedAttachment
	for rows.Next() {
		a, err := scanReceivedAttachment(rows)
		if err != nil {
			return nil, fmt.Errorf("list received attachments: %w", err)
		}
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list received attachments: %w", err)
	}
	return out, nil
}

// ListReceivedEmails implements store.Store.
func (db *DB) ListReceivedEmails(ctx context.Context, teamID string, p store.Page) ([]*store.ReceivedEmail, bool, error) {
	limit := p.Limit
	if limit <= 0 {
		limit = 20
	}
	if c := p.After + p.Before; c != "" {
		if err := db.receivedOwner(ctx, teamID, c); err != nil {
			return nil, false, fmt.Errorf("list received emails: %w", err)
		}
	}
	query, args := seqPageQuery(receivedListColumns, "received_emails", "team_id", teamID, p, limit)
	list, more, err := queryPage(ctx, db, db.r, "list received emails", query, args, limit, p.Before != "", scanReceived)
	if err != nil {
		return nil, false, err
	}
	ids := make([]string, len(list))
	byID := make(map[string]*store.ReceivedEmail, len(list))
	for i, e := range list {
		ids[i], byID[e.ID] = e.ID, e
		e.Attachments = []*store.ReceivedAttachment{}
	}
	atts, err := db.receivedAttachments(ctx, teamID, ids)
	if err != nil {
		return nil, false, err
	}
	for _, a := range atts {
		if e := byID[a.EmailID]; e != nil {
			e.Attachments = append(e.Attachments, a)
		}
	}
	return list, more, nil
}

// GetReceivedRaw implements store.Store.
func (db *DB) GetReceivedRaw(ctx context.Context, teamID, id string) ([]byte, error) {
	var owner string
	var raw []byte
	var codec int
	err := db.r.QueryRowContext(ctx, db.q(`SELECT team_id, raw, raw_codec FROM received_emails WHERE id = ?`), id).
		Scan(&owner, &raw, &codec)
	if err == nil && owner != teamID {
		err = store.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("get received message: %w", interpretError(err))
	}
	b, err := decodeBytes(raw, codec)
	if err != nil {
		return nil, fmt.Errorf("get received message %s: %w", id, err)
	}
	return b, nil
}

// ListReceivedAttachments implements store.Store.
func (db *DB) ListReceivedAttachments(ctx context.Context, teamID, emailID string) ([]*store.ReceivedAttachment, error) {
	if err := db.receivedOwner(ctx, teamID, emailID); err != nil {
		return nil, fmt.Errorf("list received attachments: %w", err)
	}
	out, err := db.receivedAttachments(ctx, teamID, []string{emailID})
	if out == nil && err == nil {
		out = []*store.ReceivedAttachment{}
	}
	return out, err
}

// GetReceivedAttachment implements store.Store.
func (db *DB) GetReceivedAttachment(ctx context.Context, teamID, emailID, id string) (*store.ReceivedAttachment, error) {
	var a store.ReceivedAttachment
	var content []byte
	var codec int
	err := db.r.QueryRowContext(ctx, db.q(`SELECT `+receivedAttachmentColumns+`, content, codec FROM received_attachments
		WHERE id = ?`), id).Scan(&a.ID, &a.EmailID, &a.TeamID, &a.Filename, &a.ContentType, &a.ContentDisposition,
		&a.ContentID, &a.Size, &content, &codec)
	if err == nil && (a.TeamID != teamID || a.EmailID != emailID) {
		err = store.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("get received attachment: %w", interpretError(err))
	}
	if a.Content, err = decodeBytes(content, codec); err != nil {
		return nil, fmt.Errorf("get received attachment %s: %w", id, err)
	}
	if a.Content == nil {
		a.Content = []byte{}
	}
	return &a, nil
}

// receivedDeleteChunk bounds the ids one DELETE of DeleteReceivedBefore names.
const receivedDeleteChunk = 500

// DeleteReceivedBefore implements store.Store.
func (db *DB) DeleteReceivedBefore(ctx context.Context, t time.Time, limit int) (int64, error) {
	if limit <= 0 {
		return 0, nil
	}
	var total int64
	for total < int64(limit) {
		n := min(int64(limit)-total, receivedDeleteChunk)
		done, err := db.deleteReceivedChunk(ctx, t, int(n))
		if err != nil {
			return total, err
		}
		total += done
		if done < n {
			break
		}
	}
	return total, nil
}

// deleteReceivedChunk removes up to n of the oldest received emails created
// before t, with their attachments, in one transaction.
func (db *DB) deleteReceivedChunk(ctx context.Context, t time.Time, n int) (int64, error) {
	tx, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("delete received emails: %w", interpretError(err))
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	rows, err := tx.QueryContext(ctx, db.q(`SELECT id FROM received_emails WHERE created_at < ? ORDER BY created_at LIMIT ?`), micros(t), n)
	if err != nil {
		return 0, fmt.Errorf("delete received emails: %w", interpretError(err))
	}
	var ids []any
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return 0, fmt.Errorf("delete received emails: %w", err)
		}
		ids = append(ids, id)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, fmt.Errorf("delete received emails: %w", err)
	}
	if len(ids) == 0 {
		return 0, nil
	}
	in := `(?` + strings.Repeat(", ?", len(ids)-1) + `)`
	if _, err := tx.ExecContext(ctx, db.q(`DELETE FROM received_attachments WHERE email_id IN `+in), ids...); err != nil {
		return 0, fmt.Errorf("delete received attachments: %w", err)
	}
	res, err := tx.ExecContext(ctx, db.q(`DELETE FROM received_emails WHERE id IN `+in), ids...)
	if err != nil {
		return 0, fmt.Errorf("delete received emails: %w", err)
	}
	deleted, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("delete received emails: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("delete received emails: %w", interpretError(err))
	}
	return deleted, nil
}

// FindSentEmailByMessageID implements store.Store. Godwit's Message-IDs
// are "<email id@sending domain>" (store.Email.MessageID), so the id is
// read from the value and the email found by its primary key; the whole
// Message-ID must then be that email's.
func (db *DB) FindSentEmailByMessageID(ctx context.Context, teamID, messageID string) (string, error) {
	v := strings.TrimSpace(messageID)
	v = strings.TrimSuffix(strings.TrimPrefix(v, "<"), ">")
	at := strings.IndexByte(v, '@')
	if at != 36 {
		return "", store.ErrNotFound
	}
	id, err := uuid.Parse(v[:at])
	if err != nil {
		return "", store.ErrNotFound
	}
	e, err := db.GetEmail(ctx, teamID, id.String())
	if err != nil {
		return "", fmt.Errorf("find sent email by message id: %w", err)
	}
	if !strings.EqualFold(e.MessageID(), "<"+v+">") {
		return "", store.ErrNotFound
	}
	return e.ID, nil
}
