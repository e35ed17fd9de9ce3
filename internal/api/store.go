package api

import (
	"context"

	"github.com/godwit/godwit/internal/store"
)

// Store is what the API reads and writes: the resources Resend's API
// exposes, whole. Left out are the teams (made by the CLI and at
// bootstrap) and the work of the background components (delivery's claims
// and attempts' emails, the verifier's due domains, broadcasts'
// recipients, posting webhook messages, idempotency sweeping).
type Store interface {
	store.APIKeys
	store.Emails
	store.EmailHistory
	store.EmailQueue
	store.Domains
	store.DomainClaims
	store.Events
	store.Suppressions
	store.Webhooks
	store.Segments
	store.Contacts
	store.Topics
	store.ContactProperties
	store.Templates
	store.Broadcasts
	store.ContactImports
	// A receiving domain's routing rules and settings (receivingrules.go).
	store.ReceivingRules
	// Events, automations and their runs (automations.go).
	store.Automations
	// The Receiving API reads received emails (the MX writes them).
	ListReceivedEmails(ctx context.Context, teamID string, p store.Page) ([]*store.ReceivedEmail, bool, error)
	GetReceivedEmail(ctx context.Context, teamID, id string) (*store.ReceivedEmail, error)
	ListReceivedAttachments(ctx context.Context, teamID, emailID string) ([]*store.ReceivedAttachment, error)
	GetReceivedAttachment(ctx context.Context, teamID, emailID, id string) (*store.ReceivedAttachment, error)
	GetReceivedRaw(ctx context.Context, teamID, id string) ([]byte, error)

	// GetIdempotency answers a repeated Idempotency-Key (for the accept
	// path, accept.Store, which the Handler builds over this Store).
	GetIdempotency(ctx context.Context, teamID, key string) (*store.Idempotency, error)
	// GetEmailForEvent and RecordDelivery record the opens and clicks of
	// tracking links.
	GetEmailForEvent(ctx context.Context, id string) (*store.Email, error)
	RecordDelivery(ctx context.Context, o *store.DeliveryOutcome) error
	// GetWebhookMessage reads a message for its webhook's API.
	GetWebhookMessage(ctx context.Context, id string) (*store.WebhookMessage, error)
	// GetRequestLog and ListRequestLogs read the Logs API's records (a
	// requestlog.Writer writes them).
	GetRequestLog(ctx context.Context, teamID, id string) (*store.RequestLog, error)
	ListRequestLogs(ctx context.Context, teamID string, p store.Page) ([]*store.RequestLog, bool, error)
	// Ping is the readiness probe's.
	Ping(ctx context.Context) error
}

var _ Store = store.Store(nil)
