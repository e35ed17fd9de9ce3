package events

import "slices"

// Webhook event types: every type Godwit records for webhooks and the event
// feed. This file is their one home: a new event type gets its constant
// here and its place in subscribable, and its builder calls New with it.
const (
	EmailSent            = "email.sent"
	EmailScheduled       = "email.scheduled"
	EmailDelivered       = "email.delivered"
	EmailDeliveryDelayed = "email.delivery_delayed"
	EmailComplained      = "email.complained"
	EmailBounced         = "email.bounced"
	EmailOpened          = "email.opened"
	EmailClicked         = "email.clicked"
	EmailFailed          = "email.failed"
	EmailSuppressed      = "email.suppressed"
	EmailReceived        = "email.received"

	ContactCreated       = "contact.created"
	ContactUpdated       = "contact.updated"
	ContactDeleted       = "contact.deleted"
	ContactTopicsUpdated = "contact.topics.updated"

	DomainCreated = "domain.created"
	DomainUpdated = "domain.updated"
	DomainDeleted = "domain.deleted"

	SuppressionAdded   = "suppression.added"
	SuppressionRemoved = "suppression.removed"

	TopicCreated = "topic.created"
	TopicUpdated = "topic.updated"
	TopicDeleted = "topic.deleted"
)

// subscribable is the registry: the event types a webhook may subscribe
// to, in the order the Webhooks API lists them in its error message.
var subscribable = []string{
	EmailSent, EmailScheduled, EmailDelivered, EmailDeliveryDelayed, EmailComplained,
	EmailBounced, EmailOpened, EmailClicked, EmailFailed, EmailSuppressed, EmailReceived,
	ContactCreated, ContactUpdated, ContactDeleted, ContactTopicsUpdated,
	DomainCreated, DomainUpdated, DomainDeleted,
	SuppressionAdded, SuppressionRemoved,
	TopicCreated, TopicUpdated, TopicDeleted,
}

// Subscribable returns the event types a webhook may subscribe to (a copy,
// in a stable order).
func Subscribable() []string { return slices.Clone(subscribable) }

// Registered reports whether typ is an event type of the registry.
func Registered(typ string) bool { return slices.Contains(subscribable, typ) }
