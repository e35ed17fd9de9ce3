package sqlstore

import (
	"context"
	"fmt"

	"github.com/godwit/godwit/internal/store"
)

// ListEmailAttachments implements store.Store.
func (db *DB) ListEmailAttachments(ctx context.Context, teamID, emailID string) ([]store.AttachmentInfo, error) {
	if err := db.emailExists(ctx, teamID, emailID); err != nil {
		return nil, err
	}
	rows, err := db.r.QueryContext(ctx, db.q(`SELECT idx, filename, content_type, content_id, path, COALESCE(LENGTH(content), 0)
		FROM email_attachments WHERE email_id = ? ORDER BY idx`), emailID)
	if err != nil {
		return nil, fmt.Errorf("list attachments: %w", err)
	}
	defer rows.Close()
	out := []store.AttachmentInfo{}
	for rows.Next() {
		var a store.AttachmentInfo
		if err := rows.Scan(&a.Index, &a.Filename, &a.ContentType, &a.ContentID, &a.Path, &a.Size); err != nil {
			return nil, fmt.Errorf("list attachments: %w", err)
		}
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list attachments: %w", err)
	}
	return out, nil
}

// GetEmailAttachment implements store.Store.
func (db *DB) GetEmailAttachment(ctx context.Context, teamID, emailID string, index int) (*store.Attachment, error) {
	if err := db.emailExists(ctx, teamID, emailID); err != nil {
		return nil, err
	}
	var a store.Attachment
	err := db.r.QueryRowContext(ctx, db.q(`SELECT filename, content_type, content_id, path, content
		FROM email_attachments WHERE email_id = ? AND idx = ?`), emailID, index).
		Scan(&a.Filename, &a.ContentType, &a.ContentID, &a.Path, &a.Content)
	if err != nil {
		return nil, fmt.Errorf("get attachment: %w", interpretError(err))
	}
	return &a, nil
}
