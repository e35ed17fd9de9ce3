// Package store holds Godwit's domain types and the storage contract that
// the SQLite and PostgreSQL implementations fulfil. It is a leaf package: it
// imports nothing of Godwit's.
//
// Invariants every implementation keeps:
//   - every query that reads or changes a team's resource is scoped by team id,
//     so another team's id is indistinguishable from an unknown one (ErrNotFound);
//   - AcceptEmails returns only after the emails, their first event and the
//     idempotency record are committed durably, all in one transaction;
//   - times are stored with microsecond precision in UTC.
package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

var (
	// ErrNotFound means no row matched within the caller's team.
	ErrNotFound = errors.New("store: not found")
	// ErrConflict means a unique value is already taken.
	ErrConflict = errors.New("store: conflict")
	// ErrIdempotencyKeyTaken means an unexpired idempotency record already
	// holds the key; nothing of the request was written.
	ErrIdempotencyKeyTaken = errors.New("store: idempotency key already used")
	// ErrNotScheduled means a reschedule or cancel hit an email that is no longer scheduled.
	ErrNotScheduled = errors.New("store: email is not scheduled")
	// ErrClosed means the store is shutting down and accepts no more writes.
	ErrClosed = errors.New("store: closed")
	// ErrUnknownTopic is the ErrNotFound of a write that names a topic the
	// team does not have (errors.Is matches both), so that a caller can
	// tell it from an unknown contact or segment.
	ErrUnknownTopic = fmt.Errorf("%w: topic", ErrNotFound)
	// ErrBroadcastState means the broadcast's status does not allow the
	// change (an update or delete after draft, a second send, a cancel
	// once sending started, a chunk of a canceled broadcast).
	ErrBroadcastState = errors.New("store: broadcast status does not allow this")
)

// Permissions of API keys.
const (
	PermissionFullAccess    = "full_access"
	PermissionSendingAccess = "sending_access"
)

// Email events (the values of last_event).
const (
	EventQueued          = "queued"
	EventScheduled       = "scheduled"
	EventSent            = "sent"
	EventDelivered       = "delivered"
	EventDeliveryDelayed = "delivery_delayed"
	EventBounced         = "bounced"
	EventComplained      = "complained"
	EventFailed          = "failed"
	EventCanceled        = "canceled"
	EventSuppressed      = "suppressed"
)

// Final reports whether an email whose last event is ev needs no more
// delivery work.
func Final(ev string) bool {
	switch ev {
	case EventDelivered, EventBounced, EventComplained, EventFailed, EventCanceled, EventSuppressed:
		return true
	}
	return false
}

// Team owns every other resource.
type Team struct {
	ID        string
	Name      string
	RateLimit int // requests per second; 0 means the server default
	CreatedAt time.Time
}

// APIKey is a stored key. The token itself is never stored: Prefix finds the
// row, Hash (SHA-256 of the whole token) proves it.
type APIKey struct {
	ID         string
	TeamID     string
	Name       string
	Prefix     string
	Hash       []byte
	Permission string
	DomainID   string
	CreatedAt  time.Time
	LastUsedAt *time.Time
	// TeamRateLimit is the owning team's rate limit, filled by APIKeyByPrefix
	// so that authenticating a request costs one query.
	TeamRateLimit int
}

// Tag is a name/value label on an email.
type Tag struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// Header is one custom header, in the order the caller gave.
type Header struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// Attachment is a file to send with an email: Content is set, or Path names a
// URL the delivery worker fetches.
type Attachment struct {
	Filename    string
	ContentType string
	ContentID   string
	Path        string
	Content     []byte
}

// TemplateRef names a stored template and the variables to render it with:
// as the caller gave it (an id or an alias), and once the email is accepted
// the template's id (webhook payloads carry it as template_id).
type TemplateRef struct {
	ID        string          `json:"id"`
	Variables json.RawMessage `json:"variables,omitempty"`
}

// Email is an accepted email. HTML and Text are nil when the caller left them
// out; Text pointing at "" means "do not derive a text part".
type Email struct {
	ID          string
	TeamID      string
	From        string
	To          []string
	Cc          []string
	Bcc         []string
	ReplyTo     []string
	Subject     string
	HTML        *string
	Text        *string
	Headers     []Header
	Tags        []Tag
	Attachments []Attachment
	ScheduledAt *time.Time
	Template    *TemplateRef
	TopicID     string
	// BroadcastID names the broadcast the email was sent for ("" for none).
	BroadcastID string
	LastEvent   string
	CreatedAt   time.Time
}

// MessageID is the email's Message-ID: "<id@sending-domain>", the same on
// every attempt and in every API response and event.
func (e *Email) MessageID() string {
	domain := "godwit.invalid"
	if i := strings.LastIndexByte(e.From, '@'); i >= 0 {
		domain = strings.ToLower(strings.TrimRight(e.From[i+1:], "> \t"))
	}
	return "<" + e.ID + "@" + domain + ">"
}

// Domain statuses (of a domain and of each of its records).
const (
	DomainNotStarted       = "not_started"
	DomainPending          = "pending"
	DomainVerified         = "verified"
	DomainFailed           = "failed"
	DomainTemporaryFailure = "temporary_failure"
)

// Domain is a sending domain. Its DKIM private keys are stored sealed with
// the server's secret key; the store never sees them in the clear.
type Domain struct {
	ID                string
	TeamID            string
	Name              string // ASCII (punycode), lower case, no trailing dot
	Region            string
	ReturnPath        string // the return-path subdomain label, "send" by default
	Status            string
	OpenTracking      bool
	ClickTracking     bool
	TLS               string // "opportunistic" or "enforced"
	Sending           string // "enabled" or "disabled"
	Receiving         string // "enabled" or "disabled"
	TrackingSubdomain string
	DKIMSelector      string
	DKIMKey           []byte // sealed PKCS#8 RSA key
	DKIMEd25519Key    []byte // sealed PKCS#8 Ed25519 key, or nil
	// RecordStatus maps a record's kind (DKIM, SPF-MX, SPF-TXT, …) to its status.
	RecordStatus    map[string]string
	CreatedAt       time.Time
	UpdatedAt       time.Time
	VerifyStartedAt *time.Time
	NextCheckAt     *time.Time
	// FailureReason says why a failed domain failed ("" otherwise).
	FailureReason string
}

// DomainHeld reports whether a domain of this status holds its name against
// other teams: its records were verified (temporary_failure is being
// re-checked). At most one team's copy of a name is held at a time.
func DomainHeld(status string) bool {
	return status == DomainVerified || status == DomainTemporaryFailure
}

// Event is a team-level event (domain.created, domain.updated, …) kept for
// webhooks and the pull feed. Data is the event's payload, ready to send.
type Event struct {
	ID        string
	TeamID    string
	Type      string
	Data      json.RawMessage
	CreatedAt time.Time
}

// SuppressionEvent builds the team event that records a change made to a
// suppression at at (suppression.added or suppression.removed). The caller
// passes one (internal/events has them) to a store method that changes
// suppressions, and the store calls it in the change's transaction for
// each suppression the change really added or removed: only the store
// knows which, and only the caller knows event payloads.
type SuppressionEvent func(s *Suppression, at time.Time) (*Event, error)

// Suppression origins: why an address is on a team's suppression list.
const (
	SuppressionBounce    = "bounce"
	SuppressionComplaint = "complaint"
	SuppressionManual    = "manual"
)

// Suppression is an address a team's email is not sent to. Email is lower
// case; SourceID is the id of the email that bounced or complained, "" for
// a manual suppression.
type Suppression struct {
	ID        string
	TeamID    string
	Email     string
	Origin    string
	SourceID  string
	CreatedAt time.Time
}

// Webhook statuses.
const (
	WebhookEnabled  = "enabled"
	WebhookDisabled = "disabled"
)

// Webhook is a team's endpoint for events. Its signing secrets are stored
// sealed with the server's key; the store never sees them in the clear.
type Webhook struct {
	ID             string
	TeamID         string
	Endpoint       string
	Events         []string
	Status         string
	DisabledReason string // why Godwit disabled it ("" when a user did, or it is enabled)
	Secret         []byte // sealed "whsec_…"
	PreviousSecret []byte // sealed; still signs until PreviousUntil
	PreviousUntil  *time.Time
	// FailingSince is when the endpoint started failing every attempt (nil
	// while it succeeds); Godwit disables a webhook that fails for days.
	FailingSince *time.Time
	CreatedAt    time.Time
	UpdatedAt    time.Time
}

// Webhook message statuses (Resend's).
const (
	WebhookMessagePending    = "pending"
	WebhookMessageAttempting = "attempting"
	WebhookMessageSuccess    = "success"
	WebhookMessageFailed     = "failed"
)

// WebhookMessage is one event to post to one webhook. Its ID (msg_…) is the
// svix-id of every attempt.
type WebhookMessage struct {
	ID            string
	WebhookID     string
	TeamID        string
	EventID       string
	Type          string
	Payload       json.RawMessage
	Status        string
	Attempts      int
	NextAttemptAt *time.Time
	CreatedAt     time.Time
}

// WebhookAttempt is one POST of a message.
type WebhookAttempt struct {
	ID         string // atmpt_…
	MessageID  string
	StatusCode int    // 0 when there was no HTTP answer
	Response   string // the start of the answer's body, or why there was none
	SentAt     time.Time
}

// WebhookResult is what one POST of a message writes, in one transaction:
// the attempt, the message's new state (and, when it is to be retried, its
// job), and the webhook's failure state.
type WebhookResult struct {
	Message      *WebhookMessage
	Attempt      *WebhookAttempt
	FailingSince *time.Time // the webhook's new failing_since; nil clears it
	Disable      string     // when not empty, the webhook is disabled with this reason
}

// Per-recipient outcomes of a delivery attempt.
const (
	OutcomeDelivered  = "delivered"  // the receiving server answered 250
	OutcomeDeferred   = "deferred"   // temporary failure; retried
	OutcomeBounced    = "bounced"    // permanent failure
	OutcomeFailed     = "failed"     // Godwit could not build or send the message
	OutcomeSuppressed = "suppressed" // the address is on the team's suppression list
)

// DeliveryAttempt is one recipient's result of one delivery attempt.
type DeliveryAttempt struct {
	EmailID   string
	TeamID    string
	Recipient string
	Outcome   string
	Host      string // the server that answered (MX host, relay, "capture", "test")
	Code      int    // SMTP reply code; 0 when there was no reply
	Enhanced  string // enhanced status code, e.g. "5.1.1"
	Response  string // the server's reply text or our reason
	CreatedAt time.Time
}

// EmailEvent is one entry of an email's history. Data is the event's detail
// (bounce, failure reason, …) as JSON, or nil.
type EmailEvent struct {
	Type      string
	Data      json.RawMessage
	CreatedAt time.Time
}

// DeliveryOutcome is what one run of the delivery worker writes, in one
// transaction.
type DeliveryOutcome struct {
	EmailID  string
	TeamID   string
	Attempts []*DeliveryAttempt
	Events   []*EmailEvent
	// LastEvent is the email's new last_event ("" leaves it).
	LastEvent string
	// Suppress lists addresses to add to the team's suppression list, with
	// the email as source and SuppressOrigin ("" means bounce);
	// SuppressionAdded builds the event of each address newly suppressed
	// (required when Suppress is not empty).
	Suppress         []string
	SuppressOrigin   string
	SuppressionAdded SuppressionEvent
	// Captured is the message as it would have been sent (capture transport).
	Captured []byte
	// RetryAt, when set, enqueues the email's next attempt for that time in
	// the same transaction.
	RetryAt *time.Time
	// TeamEvents are the webhook events of this outcome (email.sent, …).
	TeamEvents []*Event
}

// Idempotency is the record kept for an Idempotency-Key: the request's
// fingerprint and the response it produced.
type Idempotency struct {
	TeamID      string
	Key         string
	Endpoint    string
	RequestHash []byte
	Response    []byte
	CreatedAt   time.Time
}

// Accept is one API request's worth of emails to commit together, with the
// idempotency record to store beside them (nil when the request had no key).
type Accept struct {
	Emails      []*Email
	Idempotency *Idempotency
	// IdempotencyTTL: a record older than this is replaced instead of conflicting.
	IdempotencyTTL time.Duration
	// Events are team events to record with the emails (email.scheduled).
	Events []*Event
	// Broadcast, when set, records a broadcast's progress in the same
	// transaction: the request commits only if the broadcast's progress is
	// still From and its status queued, scheduled or sending (else it is
	// ErrBroadcastState and nothing of it is written).
	Broadcast *BroadcastProgress
}

// BroadcastProgress moves a broadcast's progress from From to To (the
// contact_seq of the last member whose email is in the chunk); Done marks
// it sent at At.
type BroadcastProgress struct {
	TeamID string
	ID     string
	From   int64
	To     int64
	Done   bool
	At     time.Time
}

// Broadcast statuses.
const (
	BroadcastDraft     = "draft"
	BroadcastQueued    = "queued"
	BroadcastScheduled = "scheduled"
	BroadcastSending   = "sending"
	BroadcastSent      = "sent"
	BroadcastCanceled  = "canceled"
)

// Broadcast is an email to every subscribed contact of a segment. HTML
// and Text are nil when not given. Progress is the contact_seq of the last
// segment member whose email is committed (0 before the first chunk).
type Broadcast struct {
	ID          string
	TeamID      string
	Name        string
	SegmentID   string
	From        string
	Subject     string
	ReplyTo     []string
	PreviewText string
	HTML        *string
	Text        *string
	TopicID     string
	Status      string
	ScheduledAt *time.Time
	SentAt      *time.Time
	Progress    int64
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

// Recipient is a segment member as a broadcast pages through them: Seq
// orders members (ascending) and is the progress cursor.
type Recipient struct {
	Seq     int64
	Contact *Contact
}

// Segment is a named group of a team's contacts. Resend's audiences are
// segments under their old name (the /audiences paths are aliases).
type Segment struct {
	ID        string
	TeamID    string
	Name      string
	CreatedAt time.Time
}

// Contact is a person a team sends to (broadcasts). Email is unique within
// the team, compared without regard to case, and kept as given.
type Contact struct {
	ID           string
	TeamID       string
	Email        string
	FirstName    *string
	LastName     *string
	Unsubscribed bool
	// Properties are the contact's custom properties: string, float64 or
	// nil values (as JSON decodes them).
	Properties map[string]any
	// SegmentIDs are the segments the contact is in, oldest membership
	// first: filled by GetContact; for CreateContact, the segments to join.
	SegmentIDs []string
	// Topics, for CreateContact only, are the topic subscriptions to make
	// with the contact (GetContact leaves it nil: see ListContactTopics).
	Topics    []TopicSubscription
	CreatedAt time.Time
	UpdatedAt time.Time
}

// Contact import statuses.
const (
	ImportQueued     = "queued"
	ImportInProgress = "in_progress"
	ImportCompleted  = "completed"
	ImportFailed     = "failed"
)

// ContactImport is one CSV import of contacts: its status and the counts
// of its rows (Total) by outcome. CompletedAt is nil until it completes.
type ContactImport struct {
	ID          string
	TeamID      string
	Status      string
	Total       int
	Created     int
	Updated     int
	Skipped     int
	Failed      int
	CreatedAt   time.Time
	CompletedAt *time.Time
}

// Topic subscriptions, and topic visibilities.
const (
	SubscriptionOptIn  = "opt_in"
	SubscriptionOptOut = "opt_out"
	TopicPublic        = "public"
	TopicPrivate       = "private"
)

// Topic is a subject a team's contacts opt in to or out of (a newsletter,
// product updates). DefaultSubscription (opt_in or opt_out) applies to
// every address that has made no choice of its own, and never changes.
// Description "" means none.
type Topic struct {
	ID                  string
	TeamID              string
	Name                string
	Description         string
	DefaultSubscription string
	Visibility          string // public or private
	CreatedAt           time.Time
	UpdatedAt           time.Time
}

// TopicSubscription is one contact's choice for one topic.
type TopicSubscription struct {
	TopicID      string
	Subscription string // opt_in or opt_out
}

// ContactTopic is a topic as it applies to one contact: Subscription is
// the contact's own choice when it made one (Explicit), else the topic's
// default.
type ContactTopic struct {
	Topic        *Topic
	Subscription string
	Explicit     bool
}

// Contact property types.
const (
	PropertyString = "string"
	PropertyNumber = "number"
)

// ContactProperty declares a custom property of a team's contacts. Key is
// unique within the team, compared exactly (case-sensitive, as the keys of
// Contact.Properties are).
type ContactProperty struct {
	ID     string
	TeamID string
	Key    string
	Type   string // PropertyString or PropertyNumber
	// FallbackValue is the value for contacts without one: a string, a
	// float64 (as JSON decodes numbers) or nil.
	FallbackValue any
	CreatedAt     time.Time
	UpdatedAt     time.Time
}

// Template statuses.
const (
	TemplateDraft     = "draft"
	TemplatePublished = "published"
)

// TemplateVariable is a declared variable of a template. FallbackValue is
// a string, a float64 or nil, as for contact properties.
type TemplateVariable struct {
	ID            string
	Key           string
	Type          string // PropertyString or PropertyNumber
	FallbackValue any
	CreatedAt     time.Time
	UpdatedAt     time.Time
}

// TemplateContent is one version of a template's content: what sending
// renders. VersionID names the version; an edit that changes the content
// makes a new one. Text nil means none (the text part is derived from the
// HTML when sending).
type TemplateContent struct {
	VersionID string
	From      string
	Subject   string
	ReplyTo   []string
	HTML      string
	Text      *string
	Variables []TemplateVariable
}

// Template is a team's email template: the draft (Content, which the API
// edits) and, once published, the copy that sending uses (Published).
// Alias "" means none; an alias is unique within the team.
type Template struct {
	ID          string
	TeamID      string
	Name        string
	Alias       string
	Content     TemplateContent
	Published   *TemplateContent
	Status      string // TemplateDraft until the first publish, then TemplatePublished
	PublishedAt *time.Time
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

// Page asks for one page of a list: at most Limit items after (older than) or
// before (newer than) the item with the given id.
type Page struct {
	Limit  int
	After  string
	Before string
}

// Store is the persistence contract.
type Store interface {
	// CreateTeam inserts a team; ErrConflict if the name is taken.
	CreateTeam(ctx context.Context, t *Team) error
	GetTeam(ctx context.Context, id string) (*Team, error)
	GetTeamByName(ctx context.Context, name string) (*Team, error)
	ListTeams(ctx context.Context) ([]*Team, error)
	SetTeamRateLimit(ctx context.Context, teamID string, perSecond int) error

	CreateAPIKey(ctx context.Context, k *APIKey) error
	// APIKeyByPrefix finds a key by its public prefix across all teams, with
	// its team's rate limit.
	APIKeyByPrefix(ctx context.Context, prefix string) (*APIKey, error)
	// ListAPIKeys returns a team's keys, newest first.
	ListAPIKeys(ctx context.Context, teamID string) ([]*APIKey, error)
	GetAPIKey(ctx context.Context, teamID, id string) (*APIKey, error)
	RenameAPIKey(ctx context.Context, teamID, id, name string) error
	// TouchAPIKey records that the key was used at t.
	TouchAPIKey(ctx context.Context, id string, t time.Time) error
	DeleteAPIKey(ctx context.Context, teamID, id string) error
	CountAPIKeys(ctx context.Context) (int, error)

	// AcceptEmails commits the emails, a first event for each (queued or
	// scheduled) and the idempotency record in one transaction. It returns
	// ErrIdempotencyKeyTaken, writing nothing, when an unexpired record
	// holds the key. Concurrent calls may be grouped into one commit.
	AcceptEmails(ctx context.Context, a *Accept) error
	GetIdempotency(ctx context.Context, teamID, key string) (*Idempotency, error)
	// DeleteIdempotencyBefore removes idempotency records created before t
	// and returns how many it removed.
	DeleteIdempotencyBefore(ctx context.Context, t time.Time) (int64, error)

	// GetEmail returns one of the team's emails, without its attachments
	// (for the API).
	GetEmail(ctx context.Context, teamID, id string) (*Email, error)
	// ListEmails returns emails newest first, and whether more exist beyond
	// the page; their HTML and Text are left out (nil).
	ListEmails(ctx context.Context, teamID string, p Page) ([]*Email, bool, error)
	// RescheduleEmail moves a scheduled email; ErrNotScheduled if it is not scheduled.
	RescheduleEmail(ctx context.Context, teamID, id string, at time.Time) error
	// CancelEmail cancels a scheduled email; ErrNotScheduled if it is not scheduled.
	CancelEmail(ctx context.Context, teamID, id string, at time.Time) error

	// CreateDomain inserts a domain; ErrConflict if its team has the name
	// already, or another team's copy of it is held (DomainHeld). Teams may
	// hold unheld copies of one name. The events are recorded in the same
	// transaction (as are UpdateDomain's, VerifyDomain's and DeleteDomain's).
	CreateDomain(ctx context.Context, d *Domain, events ...*Event) error
	GetDomain(ctx context.Context, teamID, id string) (*Domain, error)
	GetDomainByName(ctx context.Context, teamID, name string) (*Domain, error)
	// ListDomains returns a team's domains, newest first.
	ListDomains(ctx context.Context, teamID string) ([]*Domain, error)
	// UpdateDomain stores every field of d but its id, team, name, keys and
	// creation time; ErrConflict, and nothing written, if d is held
	// (DomainHeld) while another team's copy of its name is.
	UpdateDomain(ctx context.Context, d *Domain, events ...*Event) error
	// VerifyDomain stores d, which has just become held (DomainHeld), as
	// UpdateDomain does, and in the same transaction passes every other
	// team's copy of its name that is not failed yet to lose, then stores
	// what lose made of it with the event lose returns (nil for none). It
	// returns those copies. ErrConflict, and nothing written, if another
	// team's copy is held already: of two teams verifying at once, one wins.
	VerifyDomain(ctx context.Context, d *Domain, lose func(*Domain) (*Event, error), events ...*Event) ([]*Domain, error)
	// HeldDomain returns the copy of name, of any team, that holds it
	// (DomainHeld); ErrNotFound if none does.
	HeldDomain(ctx context.Context, name string) (*Domain, error)
	DeleteDomain(ctx context.Context, teamID, id string, events ...*Event) error
	// ListEvents returns a team's events after the one with id after ("" for
	// the first; ErrNotFound when the team has no event with that id),
	// oldest first (in commit order), at most limit.
	ListEvents(ctx context.Context, teamID, after string, limit int) ([]*Event, error)
	// DomainsDue returns up to limit domains of any team whose next check is
	// at or before now, the most overdue first.
	DomainsDue(ctx context.Context, now time.Time, limit int) ([]*Domain, error)

	// AddSuppressions puts addresses on the team's suppression list, all in
	// one transaction. Each entry's Email is stored in lower case; an empty
	// ID gets a new one and a zero CreatedAt the store's clock. An address the
	// team has already suppressed (earlier, or earlier in s) is not changed:
	// its entry is overwritten with the stored suppression (id, origin,
	// source and creation time), so a caller can tell it by its ID. Each
	// address added has its event, built by added, in the transaction.
	AddSuppressions(ctx context.Context, teamID string, s []*Suppression, added SuppressionEvent) error
	// ListSuppressions returns the team's suppressions newest first, only
	// those of origin unless it is "", and whether more exist beyond the
	// page. A cursor that is not one of the team's suppressions (of any
	// origin) is ErrNotFound.
	ListSuppressions(ctx context.Context, teamID, origin string, p Page) ([]*Suppression, bool, error)
	// GetSuppression finds one of the team's suppressions by email address
	// (a value containing '@', compared in lower case) or else by id;
	// ErrNotFound if there is none.
	GetSuppression(ctx context.Context, teamID, idOrEmail string) (*Suppression, error)
	// DeleteSuppressions removes the team's suppressions named by id or by
	// email address (as in GetSuppression), in one transaction, and returns
	// those removed in the order they were named, each once. Values that
	// name none of the team's suppressions are skipped, not an error. Each
	// suppression removed has its event, built by removed, in the
	// transaction.
	DeleteSuppressions(ctx context.Context, teamID string, idsOrEmails []string, removed SuppressionEvent) ([]*Suppression, error)
	// SuppressedAmong reports which of emails the team has suppressed, in
	// one query (per 1,000 addresses): the map holds the suppressed ones,
	// keyed as given; addresses are compared in lower case.
	SuppressedAmong(ctx context.Context, teamID string, emails []string) (map[string]bool, error)
	// GetEmailForDelivery returns an email of any team with its bodies and
	// attachments (content included).
	GetEmailForDelivery(ctx context.Context, id string) (*Email, error)
	// GetEmailForEvent returns an email of any team, without its
	// attachments, to record an event of it whose id arrived from outside
	// the team's requests: signed in a tracking link, or in a return path.
	GetEmailForEvent(ctx context.Context, id string) (*Email, error)
	// ClaimScheduled moves a scheduled email to queued as its time comes, so
	// that it can no longer be canceled; ErrNotScheduled if it is not
	// scheduled any more.
	ClaimScheduled(ctx context.Context, id string, at time.Time) error
	// RecordDelivery writes a delivery outcome in one transaction.
	RecordDelivery(ctx context.Context, o *DeliveryOutcome) error
	// ListDeliveryAttempts returns an email's attempts, oldest first.
	ListDeliveryAttempts(ctx context.Context, teamID, emailID string) ([]*DeliveryAttempt, error)
	// ListEmailEvents returns an email's events, oldest first.
	ListEmailEvents(ctx context.Context, teamID, emailID string) ([]*EmailEvent, error)
	// GetCapturedMessage returns the message the capture transport kept.
	GetCapturedMessage(ctx context.Context, teamID, emailID string) ([]byte, error)

	CreateWebhook(ctx context.Context, w *Webhook) error
	GetWebhook(ctx context.Context, teamID, id string) (*Webhook, error)
	// ListWebhooks returns a team's webhooks, newest first, and whether more
	// exist beyond the page.
	ListWebhooks(ctx context.Context, teamID string, p Page) ([]*Webhook, bool, error)
	// UpdateWebhook stores every field of w but its id, team and creation time.
	UpdateWebhook(ctx context.Context, w *Webhook) error
	DeleteWebhook(ctx context.Context, teamID, id string) error
	// GetWebhookMessage returns a message of any team (for the dispatcher).
	GetWebhookMessage(ctx context.Context, id string) (*WebhookMessage, error)
	// RecordWebhookAttempt writes a result in one transaction, with the
	// message's next job when its NextAttemptAt is set.
	RecordWebhookAttempt(ctx context.Context, r *WebhookResult) error
	// ListWebhookMessages returns a webhook's messages, newest first.
	ListWebhookMessages(ctx context.Context, teamID, webhookID string, p Page) ([]*WebhookMessage, bool, error)
	// ListWebhookAttempts returns a message's attempts, newest first.
	ListWebhookAttempts(ctx context.Context, teamID, messageID string, p Page) ([]*WebhookAttempt, bool, error)
	// ReplayWebhookMessage makes a message pending again and enqueues it.
	ReplayWebhookMessage(ctx context.Context, teamID, id string, at time.Time) error

	// CreateSegment inserts a segment.
	CreateSegment(ctx context.Context, s *Segment) error
	GetSegment(ctx context.Context, teamID, id string) (*Segment, error)
	// ListSegments returns a team's segments, newest first.
	ListSegments(ctx context.Context, teamID string, p Page) ([]*Segment, bool, error)
	// UpdateSegment stores the segment's name.
	UpdateSegment(ctx context.Context, s *Segment) error
	// DeleteSegment removes a segment and its memberships; the contacts stay.
	DeleteSegment(ctx context.Context, teamID, id string) error

	// CreateContact inserts c, its memberships of c.SegmentIDs and its
	// subscriptions of c.Topics, with the events, in one transaction;
	// ErrConflict if the team has a contact with the same email (any case),
	// ErrNotFound if a segment is not the team's, ErrUnknownTopic if a topic
	// is not.
	CreateContact(ctx context.Context, c *Contact, events ...*Event) error
	// GetContact finds a contact by id, or by email (any case) when
	// idOrEmail holds an @, with its SegmentIDs.
	GetContact(ctx context.Context, teamID, idOrEmail string) (*Contact, error)
	// ListContacts returns a team's contacts newest first; with segmentID,
	// only that segment's (ErrNotFound if it is not the team's).
	ListContacts(ctx context.Context, teamID, segmentID string, p Page) ([]*Contact, bool, error)
	// UpdateContact stores every field of c but its id, team, creation time
	// and segments, with the events; ErrConflict if the new email is another
	// contact's.
	UpdateContact(ctx context.Context, c *Contact, events ...*Event) error
	// DeleteContact removes a contact, its memberships and its topic
	// subscriptions, with the events.
	DeleteContact(ctx context.Context, teamID, id string, events ...*Event) error
	// AddContactToSegment makes a contact a member of a segment (again: no
	// error); ErrNotFound if either is not the team's.
	AddContactToSegment(ctx context.Context, teamID, contactID, segmentID string, at time.Time) error
	// RemoveContactFromSegment ends a membership; ErrNotFound if there is none.
	RemoveContactFromSegment(ctx context.Context, teamID, contactID, segmentID string) error
	// ListContactSegments returns the segments a contact is in, newest first.
	ListContactSegments(ctx context.Context, teamID, contactID string, p Page) ([]*Segment, bool, error)

	// CreateTopic inserts a topic, with the events, in one transaction.
	CreateTopic(ctx context.Context, t *Topic, events ...*Event) error
	GetTopic(ctx context.Context, teamID, id string) (*Topic, error)
	// ListTopics returns a team's topics, newest first.
	ListTopics(ctx context.Context, teamID string, p Page) ([]*Topic, bool, error)
	// UpdateTopic stores the topic's name, description, visibility and
	// update time (never its default subscription), with the events.
	UpdateTopic(ctx context.Context, t *Topic, events ...*Event) error
	// DeleteTopic removes a topic and every subscription to it, with the events.
	DeleteTopic(ctx context.Context, teamID, id string, events ...*Event) error
	// SetContactTopics records a contact's choices (each replacing any
	// earlier one for its topic; a topic named twice takes the last), with
	// the events, in one transaction: ErrNotFound if the contact is not the
	// team's, ErrUnknownTopic if a topic is not, and then nothing is written.
	// CreateContact also makes the subscriptions of Contact.Topics, alike.
	SetContactTopics(ctx context.Context, teamID, contactID string, subs []TopicSubscription, at time.Time, events ...*Event) error
	// ListContactTopics returns every topic of the team, newest first, with
	// the contact's subscription to it (its own choice, else the topic's
	// default); a cursor is a topic id. ErrNotFound if the contact is not
	// the team's.
	ListContactTopics(ctx context.Context, teamID, contactID string, p Page) ([]*ContactTopic, bool, error)
	// TopicSubscriptionsAmong returns the subscription to the team's topic
	// that applies to each of emails (keyed as given): the choice of the
	// team's contact with that address (any case) when it made one, else
	// the topic's default, for contacts and other addresses alike. It reads
	// the topic and the choices in one query (per 1,000 addresses);
	// ErrNotFound if the topic is not the team's.
	TopicSubscriptionsAmong(ctx context.Context, teamID, topicID string, emails []string) (map[string]string, error)

	// CreateContactProperty inserts a property; ErrConflict if the team
	// has one with the same key (compared exactly).
	CreateContactProperty(ctx context.Context, p *ContactProperty) error
	GetContactProperty(ctx context.Context, teamID, id string) (*ContactProperty, error)
	// ListContactProperties returns a team's properties, newest first.
	ListContactProperties(ctx context.Context, teamID string, p Page) ([]*ContactProperty, bool, error)
	// ContactPropertiesByKey returns those of the team's properties whose
	// keys are among keys, in no particular order.
	ContactPropertiesByKey(ctx context.Context, teamID string, keys []string) ([]*ContactProperty, error)
	// UpdateContactProperty stores p's FallbackValue and UpdatedAt (its key
	// and type never change).
	UpdateContactProperty(ctx context.Context, p *ContactProperty) error
	// DeleteContactProperty removes a property; contacts keep the values
	// they hold for its key.
	DeleteContactProperty(ctx context.Context, teamID, id string) error

	// CreateTemplate inserts a template; ErrConflict if the team has
	// another with the same alias.
	CreateTemplate(ctx context.Context, t *Template) error
	// GetTemplate finds one of the team's templates by id, else by alias.
	GetTemplate(ctx context.Context, teamID, idOrAlias string) (*Template, error)
	// ListTemplates returns a team's templates, newest first.
	ListTemplates(ctx context.Context, teamID string, p Page) ([]*Template, bool, error)
	// UpdateTemplate stores every field of t but its id, team and creation
	// time; ErrConflict if the new alias is another template's.
	UpdateTemplate(ctx context.Context, t *Template) error
	// DeleteTemplate removes a template by id.
	DeleteTemplate(ctx context.Context, teamID, id string) error

	// CreateBroadcast inserts a broadcast (a draft, or already queued or
	// scheduled: then its job is enqueued in the same transaction).
	CreateBroadcast(ctx context.Context, b *Broadcast) error
	GetBroadcast(ctx context.Context, teamID, id string) (*Broadcast, error)
	// ListBroadcasts returns a team's broadcasts, newest first.
	ListBroadcasts(ctx context.Context, teamID string, p Page) ([]*Broadcast, bool, error)
	// UpdateBroadcast stores the content fields of a draft (name, segment,
	// from, subject, reply_to, preview_text, html, text, topic) and its
	// update time; ErrBroadcastState if it is not a draft.
	UpdateBroadcast(ctx context.Context, b *Broadcast) error
	// DeleteBroadcast removes a draft; ErrBroadcastState if it is not one.
	DeleteBroadcast(ctx context.Context, teamID, id string) error
	// SendBroadcast moves a draft to queued (at nil) or scheduled and
	// enqueues its job in the same transaction; ErrBroadcastState if it is
	// not a draft.
	SendBroadcast(ctx context.Context, teamID, id string, at *time.Time, now time.Time) error
	// CancelBroadcast cancels a queued or scheduled broadcast;
	// ErrBroadcastState otherwise.
	CancelBroadcast(ctx context.Context, teamID, id string, now time.Time) error
	// BroadcastRecipients returns up to limit members of a segment whose
	// Seq is above after, in Seq order.
	BroadcastRecipients(ctx context.Context, teamID, segmentID string, after int64, limit int) ([]Recipient, error)

	// CreateContactImport inserts an import record.
	CreateContactImport(ctx context.Context, ci *ContactImport) error
	GetContactImport(ctx context.Context, teamID, id string) (*ContactImport, error)
	// ListContactImports returns a team's imports newest first, only those
	// with the status when it is not "".
	ListContactImports(ctx context.Context, teamID, status string, p Page) ([]*ContactImport, bool, error)

	Ping(ctx context.Context) error
	Close() error
}
