package events

import (
	"time"

	"github.com/godwit/godwit/internal/store"
)

// Contact builds a contact event in Resend's payload shape: data holds id,
// segment_ids (always an array), created_at and updated_at (ISO), email,
// unsubscribed, first_name and last_name when set, and audience_id when
// the change came through an audience (the deprecated field or a
// /audiences/{id}/contacts path; audienceID "" leaves it out).
func Contact(typ string, c *store.Contact, audienceID string, at time.Time) (*store.Event, error) {
	segments := c.SegmentIDs
	if segments == nil {
		segments = []string{}
	}
	data := map[string]any{
		"id":           c.ID,
		"segment_ids":  segments,
		"created_at":   c.CreatedAt.UTC().Format(ISO),
		"updated_at":   c.UpdatedAt.UTC().Format(ISO),
		"email":        c.Email,
		"unsubscribed": c.Unsubscribed,
	}
	if audienceID != "" {
		data["audience_id"] = audienceID
	}
	if c.FirstName != nil {
		data["first_name"] = *c.FirstName
	}
	if c.LastName != nil {
		data["last_name"] = *c.LastName
	}
	return New(c.TeamID, typ, data, at)
}
