package events

import (
	"time"

	"github.com/godwit/godwit/internal/store"
)

// Suppression builds a suppression.added or suppression.removed event: data
// holds id, email, origin, source_id (null when there is none) and
// created_at (ISO).
func Suppression(typ string, s *store.Suppression, at time.Time) (*store.Event, error) {
	var source any
	if s.SourceID != "" {
		source = s.SourceID
	}
	return New(s.TeamID, typ, map[string]any{"id": s.ID, "email": s.Email, "origin": s.Origin,
		"source_id": source, "created_at": s.CreatedAt.UTC().Format(ISO)}, at)
}

// SuppressionAddedEvent is the store.SuppressionEvent of suppression.added.
func SuppressionAddedEvent(s *store.Suppression, at time.Time) (*store.Event, error) {
	return Suppression(SuppressionAdded, s, at)
}

// SuppressionRemovedEvent is the store.SuppressionEvent of suppression.removed.
func SuppressionRemovedEvent(s *store.Suppression, at time.Time) (*store.Event, error) {
	return Suppression(SuppressionRemoved, s, at)
}

var _ store.SuppressionEvent = SuppressionAddedEvent
