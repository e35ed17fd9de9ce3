package domains

import (
	"time"

	"github.com/godwit/godwit/internal/events"
	"github.com/godwit/godwit/internal/store"
)

// Event builds a domain event (typ is events.DomainCreated, DomainUpdated or
// DomainDeleted) with Resend's webhook payload
// ({"type","created_at","data":{…}}, ISO 8601 times), ready to deliver.
func (s Settings) Event(typ string, d *store.Domain, at time.Time) (*store.Event, error) {
	recs, err := s.Records(d)
	if err != nil {
		return nil, err
	}
	records := Objects(d, recs)
	for i := range records {
		if records[i].Record == "Receiving" {
			records[i].Record = "Receiving MX" // the webhook payload's label (the REST API says Receiving)
		}
	}
	data := map[string]any{
		"id": d.ID, "name": d.Name, "status": d.Status, "created_at": d.CreatedAt.UTC().Format(events.ISO), "region": d.Region,
		"capabilities": map[string]string{"sending": d.Sending, "receiving": d.Receiving},
		"records":      records,
	}
	if d.FailureReason != "" {
		data["failure_reason"] = d.FailureReason // Godwit's own, as on GET /domains/{id}
	}
	if p := Pause(d); p != nil {
		data["sending_pause"] = p // Godwit's own, as on GET /domains/{id}
	}
	return events.New(d.TeamID, typ, data, at)
}

// SendingPause is the JSON of a paused domain's sending_pause field
// (Godwit's own, on GET /domains, GET /domains/{id} and the domain
// webhooks): why the reputation guard paused its sending, and since when.
type SendingPause struct {
	Reason   string `json:"reason"`
	PausedAt string `json:"paused_at"`
}

// Pause is d's sending_pause, nil when its sending is not paused.
func Pause(d *store.Domain) *SendingPause {
	if d.SendingPause == nil {
		return nil
	}
	return &SendingPause{Reason: d.SendingPause.Reason, PausedAt: d.SendingPause.At.UTC().Format(events.ISO)}
}
