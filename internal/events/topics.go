package events

import (
	"time"

	"github.com/godwit/godwit/internal/store"
)

// Topic builds a topic event in Resend's payload shape: data holds id,
// name, description (null when there is none), default_subscription,
// deleted, and created_at and updated_at (ISO).
func Topic(typ string, t *store.Topic, deleted bool, at time.Time) (*store.Event, error) {
	var description any
	if t.Description != "" {
		description = t.Description
	}
	return New(t.TeamID, typ, map[string]any{
		"id":                   t.ID,
		"name":                 t.Name,
		"description":          description,
		"default_subscription": t.DefaultSubscription,
		"deleted":              deleted,
		"created_at":           t.CreatedAt.UTC().Format(ISO),
		"updated_at":           t.UpdatedAt.UTC().Format(ISO),
	}, at)
}

// ContactTopics builds a contact.topics.updated event: data holds the
// contact's email and the choices made, topics [{id, subscription}].
func ContactTopics(c *store.Contact, subs []store.TopicSubscription, at time.Time) (*store.Event, error) {
	topics := make([]map[string]string, 0, len(subs))
	for _, s := range subs {
		topics = append(topics, map[string]string{"id": s.TopicID, "subscription": s.Subscription})
	}
	return New(c.TeamID, ContactTopicsUpdated, map[string]any{"email": c.Email, "topics": topics}, at)
}
