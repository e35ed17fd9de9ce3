// Package events builds the team events Godwit records for webhooks and
// the event feed, in Resend's webhook payload shape:
//
//	{"type":"email.delivered","created_at":"2026-11-28T12:00:00.123Z","data":{…}}
//
// Times are ISO 8601 in UTC with milliseconds; inside data, keys are
// snake_case except the camelCase of Resend's bounce and click objects;
// tags are an object. An event is built where it happens and stored in the
// same transaction as the change it reports.
//
// This package is the registry of event types: types.go holds every type's
// constant and the list a webhook may subscribe to, and New refuses any
// other type.
package events

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/godwit/godwit/internal/bounce"
	"github.com/godwit/godwit/internal/store"
)

// ISO is the time format of event payloads.
const ISO = "2006-01-02T15:04:05.000Z"

// Email event types: the email events a webhook may receive, by the
// last_event value they report.
var emailTypes = map[string]string{
	store.EventScheduled:       EmailScheduled,
	store.EventSent:            EmailSent,
	store.EventDelivered:       EmailDelivered,
	store.EventDeliveryDelayed: EmailDeliveryDelayed,
	store.EventBounced:         EmailBounced,
	store.EventComplained:      EmailComplained,
	store.EventFailed:          EmailFailed,
	store.EventSuppressed:      EmailSuppressed,
	"opened":                   EmailOpened,
	"clicked":                  EmailClicked,
}

// EmailType returns the webhook event type of an email event ("delivered"
// → "email.delivered"), or "" for one that webhooks do not carry (queued,
// canceled).
func EmailType(event string) string { return emailTypes[event] }

// New builds an event of the team with the given payload data. typ must be
// a registered event type (types.go): New refuses any other, so that no
// builder emits a type a webhook cannot subscribe to.
func New(teamID, typ string, data map[string]any, at time.Time) (*store.Event, error) {
	if !Registered(typ) {
		return nil, fmt.Errorf("event type %q is not registered in internal/events", typ)
	}
	return newEvent(teamID, typ, data, at)
}

// newEvent encodes an event of a registered type with its data (a map, or
// a struct whose fields are in key order). The envelope's fields are in
// key order too, as a map's are encoded.
func newEvent(teamID, typ string, data any, at time.Time) (*store.Event, error) {
	payload, err := json.Marshal(struct {
		CreatedAt string `json:"created_at"`
		Data      any    `json:"data"`
		Type      string `json:"type"`
	}{at.UTC().Format(ISO), data, typ})
	if err != nil {
		return nil, fmt.Errorf("encode %s event: %w", typ, err)
	}
	return &store.Event{ID: store.NewID(), TeamID: teamID, Type: typ, Data: payload, CreatedAt: at.UTC()}, nil
}

// Email builds the webhook event for an email event (event is a last_event
// value: delivered, bounced, …) concerning the recipients to (all of the
// email's To when nil). detail holds the event's own objects (bounce,
// failed, suppressed, click), merged into data. It returns nil for an event
// webhooks do not carry.
func Email(event string, e *store.Email, to []string, detail map[string]any, at time.Time) (*store.Event, error) {
	typ := EmailType(event)
	if typ == "" {
		return nil, nil
	}
	if to == nil {
		to = e.To
	}
	if detail == nil {
		return emailEvent(typ, e, to, at)
	}
	data := map[string]any{
		"email_id":   e.ID,
		"created_at": e.CreatedAt.UTC().Format(ISO),
		"from":       e.From,
		"to":         to,
		"subject":    e.Subject,
		"message_id": e.MessageID(),
	}
	if len(e.Tags) > 0 {
		tags := make(map[string]string, len(e.Tags))
		for _, t := range e.Tags {
			tags[t.Name] = t.Value
		}
		data["tags"] = tags
	}
	if len(e.Headers) > 0 {
		data["headers"] = e.Headers
	}
	if e.Template != nil {
		data["template_id"] = e.Template.ID
	}
	if e.BroadcastID != "" {
		data["broadcast_id"] = e.BroadcastID
	}
	for k, v := range detail {
		data[k] = v
	}
	return New(e.TeamID, typ, data, at)
}

// emailData is the data of an email event without detail: the map Email
// builds, as a struct, which encoding/json encodes at a fraction of the
// map's cost (most events are sent and delivered, two per delivery). Its
// fields are in the order of their names, as a map's keys are encoded, so
// that the bytes are the same (FuzzEmailEventAsStruct).
type emailData struct {
	BroadcastID string            `json:"broadcast_id,omitempty"`
	CreatedAt   string            `json:"created_at"`
	EmailID     string            `json:"email_id"`
	From        string            `json:"from"`
	Headers     []store.Header    `json:"headers,omitempty"`
	MessageID   string            `json:"message_id"`
	Subject     string            `json:"subject"`
	Tags        map[string]string `json:"tags,omitempty"`
	TemplateID  *string           `json:"template_id,omitempty"`
	To          []string          `json:"to"`
}

// emailEvent is Email for an event without detail.
func emailEvent(typ string, e *store.Email, to []string, at time.Time) (*store.Event, error) {
	if !Registered(typ) {
		return nil, fmt.Errorf("event type %q is not registered in internal/events", typ)
	}
	d := emailData{BroadcastID: e.BroadcastID, CreatedAt: e.CreatedAt.UTC().Format(ISO), EmailID: e.ID, From: e.From,
		Headers: e.Headers, MessageID: e.MessageID(), Subject: e.Subject, To: to}
	if len(e.Tags) > 0 {
		d.Tags = make(map[string]string, len(e.Tags))
		for _, t := range e.Tags {
			d.Tags[t.Name] = t.Value
		}
	}
	if e.Template != nil {
		d.TemplateID = &e.Template.ID
	}
	return newEvent(e.TeamID, typ, d, at)
}

// Bounce is the bounce object of an email.bounced event and of GET
// /emails/{id}: Resend's {message, type, subType, diagnosticCode}, the
// class from internal/bounce. diagnosticCode is an array of strings, as
// resend-node types it; it is left out when the server gave none.
func Bounce(c bounce.Class, message, diagnostic string) map[string]any {
	b := map[string]any{"message": message, "type": string(c.Type), "subType": string(c.SubType)}
	if diagnostic != "" {
		b["diagnosticCode"] = []string{diagnostic}
	}
	return b
}
