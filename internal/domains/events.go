package domains

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/godwit/godwit/internal/store"
	"github.com/google/uuid"
)

// Domain event types.
const (
	EventCreated = "domain.created"
	EventUpdated = "domain.updated"
	EventDeleted = "domain.deleted"
)

// Event builds a domain event with Resend's webhook payload
// ({"type","created_at","data":{…}}, ISO 8601 times), ready to deliver.
func (s Settings) Event(typ string, d *store.Domain, at time.Time) (*store.Event, error) {
	recs, err := s.Records(d)
	if err != nil {
		return nil, err
	}
	records := Objects(d, recs)
	const iso = "2006-01-02T15:04:05.000Z"
	payload, err := json.Marshal(map[string]any{
		"type":       typ,
		"created_at": at.UTC().Format(iso),
		"data": map[string]any{
			"id": d.ID, "name": d.Name, "status": d.Status, "created_at": d.CreatedAt.UTC().Format(iso), "region": d.Region,
			"capabilities": map[string]string{"sending": d.Sending, "receiving": d.Receiving},
			"records":      records,
		},
	})
	if err != nil {
		return nil, fmt.Errorf("encode %s event: %w", typ, err)
	}
	id, err := uuid.NewV7()
	if err != nil {
		return nil, err
	}
	return &store.Event{ID: id.String(), TeamID: d.TeamID, Type: typ, Data: payload, CreatedAt: at.UTC()}, nil
}
