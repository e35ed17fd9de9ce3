package events

import (
	"github.com/godwit/godwit/internal/store"
)

// Received builds the email.received event of a received email, at its
// CreatedAt, in Resend's payload shape: data holds email_id, created_at
// (ISO), from (the bare address), to, cc, bcc, received_for (arrays, never
// null), message_id, subject and attachments (id, filename, content_type,
// content_disposition, content_id; filename, content_disposition and
// content_id null when the part has none, as resend-node types them); the
// bodies, headers and content are never included (the Receiving API has
// them). Godwit adds in_reply_to_email_id, the id of the team's sent email
// the message replies to, only when there is one. It is the
// store.ReceivedEvent that StoreReceivedEmail takes.
func Received(e *store.ReceivedEmail) (*store.Event, error) {
	atts := make([]map[string]any, 0, len(e.Attachments))
	for _, a := range e.Attachments {
		att := map[string]any{"id": a.ID, "filename": orNull(a.Filename), "content_type": a.ContentType,
			"content_disposition": orNull(a.ContentDisposition), "content_id": orNull(a.ContentID)}
		atts = append(atts, att)
	}
	data := map[string]any{
		"email_id":     e.ID,
		"created_at":   e.CreatedAt.UTC().Format(ISO),
		"from":         e.From,
		"to":           list(e.To),
		"cc":           list(e.Cc),
		"bcc":          list(e.Bcc),
		"received_for": list(e.ReceivedFor),
		"message_id":   e.MessageID,
		"subject":      e.Subject,
		"attachments":  atts,
	}
	if e.InReplyToEmailID != "" {
		data["in_reply_to_email_id"] = e.InReplyToEmailID
	}
	return New(e.TeamID, EmailReceived, data, e.CreatedAt)
}

var _ store.ReceivedEvent = Received

func list(v []string) []string {
	if v == nil {
		return []string{}
	}
	return v
}

func orNull(s string) any {
	if s == "" {
		return nil
	}
	return s
}
