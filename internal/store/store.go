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
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
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
	// ErrImportState is a contact import write that its import's status or
	// progress does not allow (another run of its job went first, or it
	// ended).
	ErrImportState = errors.New("store: contact import status or progress does not allow this")
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

// AttachmentInfo describes one of an email's stored attachments without its
// content: Index is its position in the email (from 0); Size is the length
// of its content, 0 for one given by Path (fetched at delivery, not stored).
type AttachmentInfo struct {
	Index       int
	Filename    string
	ContentType string
	ContentID   string
	Path        string
	Size        int64
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
	// DomainID and DomainName are the sending domain, recorded at accept:
	// delivery signs with that domain and the Message-ID names it. The test
	// sender has a DomainName and no DomainID; emails accepted before they
	// were recorded have neither. (Not part of an email's JSON: the SMTP
	// idempotency hash encodes the email before they are set.)
	DomainID   string `json:"-"`
	DomainName string `json:"-"`
	LastEvent  string
	CreatedAt  time.Time
}

// MessageID is the email's Message-ID: "<id@sending-domain>", the same on
// every attempt and in every API response and event.
func (e *Email) MessageID() string {
	if e.DomainName != "" {
		return "<" + e.ID + "@" + e.DomainName + ">"
	}
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
	// A domain with both capabilities whose records of one are verified
	// and of the other not yet (partially_verified) or not within the
	// verification window (partially_failed): the verified one works.
	DomainPartiallyVerified = "partially_verified"
	DomainPartiallyFailed   = "partially_failed"
)

// Domain is a sending domain. Its DKIM private keys are stored sealed with
// the server's secret key; the store never sees them in the clear.
type Domain struct {
	ID            string
	TeamID        string
	Name          string // ASCII (punycode), lower case, no trailing dot
	Region        string
	ReturnPath    string // the return-path subdomain label, "send" by default
	Status        string
	OpenTracking  bool
	ClickTracking bool
	TLS           string // "opportunistic" or "enforced"
	Sending       string // "enabled" or "disabled"
	Receiving     string // "enabled" or "disabled"
	// RejectDMARCFailures refuses received mail that fails DMARC under a
	// p=reject policy of its sender's domain (Godwit's own setting).
	RejectDMARCFailures bool
	TrackingSubdomain   string
	DKIMSelector        string
	DKIMKey             []byte // sealed PKCS#8 RSA key
	DKIMEd25519Key      []byte // sealed PKCS#8 Ed25519 key, or nil
	// RecordStatus maps a record's kind (DKIM, SPF-MX, SPF-TXT, …) to its status.
	RecordStatus map[string]string
	// RecordChecks maps a record's kind to what its last check found; nil
	// for a domain not checked since they were kept.
	RecordChecks    map[string]RecordCheck
	CreatedAt       time.Time
	UpdatedAt       time.Time
	VerifyStartedAt *time.Time
	NextCheckAt     *time.Time
	// FailureReason says why a failed domain failed ("" otherwise).
	FailureReason string
	// SendingPause, when not nil, holds the domain's outgoing mail: the
	// reputation guard paused it (internal/reputation) until an admin
	// resumes it. Only PauseDomainSending and ResumeDomainSending change it.
	SendingPause *SendingPause
}

// SendingPause is why and since when a domain's sending is paused.
type SendingPause struct {
	// Reason is shown in every held attempt and on the domain, e.g.
	// "complaint rate 0.41% over 24h ≥ 0.3%".
	Reason string
	At     time.Time
}

// RecordCheck is what one check of a domain's record found in DNS.
type RecordCheck struct {
	// Answer is the values published at the record's name (TXT values, MX
	// "preference host"), bounded (dnscheck.Answer).
	Answer []string
	// Omitted is how many more values were published than Answer holds.
	Omitted int
	// Error is "NXDOMAIN", or why the lookup failed ("SERVFAIL", a
	// timeout); "" when the server answered.
	Error     string
	CheckedAt time.Time
}

// Record kinds of a domain: the keys of Domain.RecordStatus (the values
// are the records internal/domains defines).
const (
	RecordDKIM        = "DKIM"
	RecordDKIMEd25519 = "DKIM-ED25519"
	RecordSPFMX       = "SPF-MX"
	RecordSPFTXT      = "SPF-TXT"
	RecordDMARC       = "DMARC"
	RecordReceiving   = "Receiving"
)

// Capabilities of a domain (Domain.Sending and .Receiving are "enabled" or
// "disabled").
const (
	CapabilitySending   = "sending"
	CapabilityReceiving = "receiving"
)

// Capable reports whether d has capability c enabled (a row written before
// the columns had values sends and does not receive).
func (d *Domain) Capable(c string) bool {
	if c == CapabilityReceiving {
		return d.Receiving == "enabled"
	}
	return d.Sending == "enabled" || d.Sending == ""
}

// RequiredRecords are the record kinds that capability c of d needs
// verified (DMARC is suggested, not required).
func (d *Domain) RequiredRecords(c string) []string {
	if c == CapabilityReceiving {
		return []string{RecordReceiving}
	}
	kinds := []string{RecordDKIM, RecordSPFMX, RecordSPFTXT}
	if d.DKIMEd25519Key != nil {
		kinds = append(kinds, RecordDKIMEd25519)
	}
	return kinds
}

// Ready reports whether d may be used for capability c now: c is enabled,
// d holds its name (verified, temporary_failure, partially_verified or
// partially_failed), and the records c needs are verified (or verified and
// being re-checked). On a verified domain (or one in its temporary failure
// window) only a record still pending (a capability enabled since it was
// verified) or failed stops c; on a partial one each must be verified.
// The sending gate asks it for sending, the MX for receiving.
func (d *Domain) Ready(c string) bool {
	if d == nil || !d.Capable(c) || !DomainHeld(d.Status) {
		return false
	}
	partial := d.Status == DomainPartiallyVerified || d.Status == DomainPartiallyFailed
	for _, k := range d.RequiredRecords(c) {
		switch st := d.RecordStatus[k]; {
		case st == DomainVerified || st == DomainTemporaryFailure:
		case partial || st == DomainPending || st == DomainFailed:
			return false
		}
	}
	return true
}

// DomainHeld reports whether a domain of this status holds its name against
// other teams: its records, or those of one of its capabilities, were
// verified (temporary_failure is being re-checked). At most one team's copy
// of a name is held at a time.
func DomainHeld(status string) bool {
	switch status {
	case DomainVerified, DomainTemporaryFailure, DomainPartiallyVerified, DomainPartiallyFailed:
		return true
	}
	return false
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
	// TLSVersion and TLSCipher are what the connection to Host negotiated
	// ("TLS 1.3", "TLS_AES_128_GCM_SHA256"); "" when it was plaintext or
	// no connection was made.
	TLSVersion string
	TLSCipher  string
	// TLSPolicy is the transport security policy applied ("none",
	// "opportunistic", "require-tls", "mta-sts enforce", "mta-sts
	// testing"), followed by ": " and the reason when it was not met.
	TLSPolicy string
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
	// Step, when set, commits an automation step's advance in the same
	// transaction: the request commits only if the run is running and the
	// step still in Step.From (else ErrStale and nothing of it is
	// written), which makes a send_email step's email and its outcome one
	// write. The store sets Step.Ended.
	Step *StepAdvance
	// Runs are automation runs to start (AutomationRun.Steps made as
	// StartAutomationRuns does).
	Runs []*AutomationRun
}

// BroadcastProgress moves a broadcast's progress from From to To (the
// contact_seq of the last member whose email is in the chunk); Done marks
// it sent at At. Canceled instead stops it (canceled at At): its sender
// was refused as it was being sent.
type BroadcastProgress struct {
	TeamID   string
	ID       string
	From     int64
	To       int64
	Done     bool
	Canceled bool
	At       time.Time
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

// BroadcastEmail is one of a broadcast's emails (one per recipient) with
// the events of one type it had, oldest first: what the broadcast's
// recipients and clicked links are counted from.
type BroadcastEmail struct {
	EmailID string
	To      []string
	Events  []*EmailEvent
}

// EmailFilter selects emails for SearchEmails; the zero value selects
// every email, and each field set narrows the selection.
type EmailFilter struct {
	// Status is the email's last event (EventDelivered, …, "opened",
	// "clicked").
	Status string
	// DomainID is the sending domain's id.
	DomainID string
	// Recipient is an address in the email's to, cc or bcc, matched whole
	// and ignoring ASCII case ("Name <a@example.com>" matches as
	// a@example.com; see SearchAddress).
	Recipient string
	// Tag is a tag the email carries, name and value both matched exactly.
	Tag *Tag
	// Since and Until bound the email's creation time: Since <= created <
	// Until; a zero time leaves that side open.
	Since, Until time.Time
}

// SearchAddress is the form an address is searched by: its angle-addr
// when it has a display name ("Name <a@b>"), trimmed of spaces, with ASCII
// letters lowercased (the mailbox's own case is not otherwise changed).
func SearchAddress(s string) string {
	s = strings.Trim(s, " ")
	if i := strings.IndexByte(s, '<'); i >= 0 && strings.HasSuffix(s, ">") {
		s = strings.Trim(s[i+1:len(s)-1], " ")
	}
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

// EmailDetail is everything the page of one email shows, read together.
type EmailDetail struct {
	Email       *Email // with its bodies, without attachments
	Events      []*EmailEvent
	Attempts    []*DeliveryAttempt
	Attachments []AttachmentInfo
	// Captured reports whether the capture transport kept the message
	// (GetCapturedMessage returns it).
	Captured bool
}

// CapturedMessage is one entry of the dev inbox: a message the capture
// transport kept, described by its email.
type CapturedMessage struct {
	EmailID   string
	From      string
	To        []string
	Subject   string
	LastEvent string
	// CreatedAt is when the message was captured.
	CreatedAt time.Time
}

// WaitingEmail is an email whose delivery is not over: queued for a
// worker, scheduled, or deferred and waiting for its next attempt.
type WaitingEmail struct {
	ID        string
	TeamID    string
	To        []string
	Subject   string
	LastEvent string // queued, scheduled, sent or delivery_delayed
	CreatedAt time.Time
	// ScheduledAt is when a scheduled email is due.
	ScheduledAt *time.Time
	// NextAttemptAt is when a deferred email's next attempt is due (nil
	// for an email never deferred).
	NextAttemptAt *time.Time
	// Attempts counts the delivery attempts made so far.
	Attempts int
	// LastReply is the latest attempt's result for a recipient, preferring
	// one still deferred (nil before the first attempt).
	LastReply *DeliveryAttempt
}

// WaitingStatuses are the last events of an email whose delivery is not
// over, the statuses of the queue view.
var WaitingStatuses = []string{EventQueued, EventScheduled, EventSent, EventDeliveryDelayed}

// Reason says in words why the email is waiting: the queue view's
// (GET /queue and godwit queue) one wording.
func (w *WaitingEmail) Reason() string {
	reply := ""
	if a := w.LastReply; a != nil {
		if a.Host != "" { // no host: nothing was tried (a paused domain, a failed fetch)
			reply = a.Host + ": "
		}
		if a.Code != 0 {
			reply += strconv.Itoa(a.Code) + " "
		}
		if a.Enhanced != "" {
			reply += a.Enhanced + " "
		}
		reply += a.Response
		if a.Recipient != "" {
			reply += " (for " + a.Recipient + ")"
		}
	}
	switch w.LastEvent {
	case EventScheduled:
		return "scheduled"
	case EventDeliveryDelayed:
		if reply == "" {
			return "deferred"
		}
		return "deferred: " + reply
	case EventSent:
		if reply == "" {
			return "being delivered"
		}
		return "being delivered; last reply: " + reply
	}
	if reply != "" {
		return "waiting for a worker; last reply: " + reply
	}
	return "waiting for a worker"
}

// NextAttempt is when the email's next delivery attempt is due: a
// scheduled email's time, a deferred one's retry, else its acceptance
// (a queued email is due at once, so a time long past means no worker
// has taken it).
func (w *WaitingEmail) NextAttempt() time.Time {
	switch {
	case w.LastEvent == EventScheduled && w.ScheduledAt != nil:
		return *w.ScheduledAt
	case w.LastEvent == EventDeliveryDelayed && w.NextAttemptAt != nil:
		return *w.NextAttemptAt
	}
	return w.CreatedAt
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

// ContactImport is one CSV import of contacts: its status, and the counts
// of the rows its job has committed by outcome. CompletedAt is nil until it
// completes or fails.
type ContactImport struct {
	ID        string
	TeamID    string
	Status    string
	Counts    ContactImportCounts
	CreatedAt time.Time
	// CompletedAt is when it completed or failed.
	CompletedAt *time.Time
	// RowOffset is how many records of the CSV (after its header) the
	// committed batches have read: a job run again resumes after them.
	RowOffset int
	// Reason says why a failed import failed, for operators ("" otherwise).
	Reason string
}

// ContactImportCounts are an import's rows (Total, blank lines aside) by
// outcome: each row is created, updated, skipped or failed.
type ContactImportCounts struct {
	Total   int
	Created int
	Updated int
	Skipped int
	Failed  int
}

// ContactImportSource is what an import's job reads: the CSV as uploaded
// and the import's options, encoded by the importer (the store keeps both
// as they are). It is deleted when the import ends.
type ContactImportSource struct {
	CSV     []byte
	Options []byte
}

// ContactImportBatch is one transaction of an import's job: the rows it
// read (records From to To of the CSV), the contacts they create and
// update, and the counts they add. It commits only while the import is
// in_progress with RowOffset still From.
type ContactImportBatch struct {
	TeamID   string
	ImportID string
	From, To int
	// Create are new contacts, with the segments to join (SegmentIDs) and
	// the topic subscriptions to make (Topics).
	Create []*Contact
	// Update are existing contacts' new fields, with segments to join and
	// topic subscriptions to set.
	Update []*ContactImportUpdate
	Counts ContactImportCounts
	// Done ends the import: it completes at At and its source is deleted.
	Done bool
	At   time.Time
}

// ContactImportUpdate is one contact an import updates: its names,
// unsubscribed, properties and UpdatedAt are written, its SegmentIDs
// joined and its Topics set, if it still has the update time it was read
// with (Read).
type ContactImportUpdate struct {
	Contact *Contact
	Read    time.Time
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

// RequestLog is the record of one authenticated API request. The bodies are
// JSON as stored (nil when not stored: not JSON, too large, or left out of
// a list); secrets and attachment content are masked before they get here.
type RequestLog struct {
	ID        string
	TeamID    string
	APIKeyID  string
	RequestID string
	Method    string
	// Endpoint is the request's path, without its query.
	Endpoint     string
	Status       int
	UserAgent    string // "" when the request had none
	Duration     time.Duration
	RequestBody  json.RawMessage
	ResponseBody json.RawMessage
	CreatedAt    time.Time
}

// ReceivedEmail is a message Godwit accepted as the MX of one of a team's
// receiving domains (Resend's Receiving API). The MX fills it from the SMTP
// session and the parsed message and stores it with StoreReceivedEmail;
// the API reads it back.
type ReceivedEmail struct {
	ID       string
	TeamID   string
	DomainID string // the receiving domain the message was accepted for
	// CreatedAt is when the message was received.
	CreatedAt time.Time
	// MessageID is the message's Message-ID header, angle brackets
	// included ("" when it has none).
	MessageID string
	// From is the bare address of the From header.
	From    string
	To      []string
	Cc      []string
	Bcc     []string
	ReplyTo []string
	// ReceivedFor are the envelope recipients (RCPT TO) that matched the
	// team's receiving domains.
	ReceivedFor []string
	Subject     string
	// HTML and Text are the message's bodies, nil when it has none.
	HTML *string
	Text *string
	// Headers are the message's header fields in order, values decoded
	// (RFC 2047) and unfolded.
	Headers []Header
	// Raw is the message as received. StoreReceivedEmail requires it;
	// GetReceivedEmail and ListReceivedEmails leave it nil (GetReceivedRaw
	// reads it).
	Raw []byte
	// Size is the length of Raw (StoreReceivedEmail sets it when 0).
	Size int64
	// The SMTP session: the client's address, its HELO/EHLO name and the
	// envelope sender (MAIL FROM, "" for the null sender).
	RemoteIP string
	Helo     string
	MailFrom string
	// Auth is what the authentication checks found.
	Auth ReceivedAuth
	// InReplyToEmailID is the id of the team's sent email this message
	// replies to ("" for none), found by FindSentEmailByMessageID from its
	// In-Reply-To or References.
	InReplyToEmailID string
	// Attachments are the message's attachments in its order: with their
	// content for StoreReceivedEmail, without (Content nil) when read.
	Attachments []*ReceivedAttachment
	// Scratch, when set, gives StoreReceivedEmail memory outside the heap
	// (mapped from a file: spool.Scratch) for the compressed copies of
	// large blobs (the raw message, attachments), with the function that
	// gives it back; nil: the heap. The MX sets it for a large message,
	// whose Raw and attachments are mapped too, so that storing it adds
	// no copy of it to the heap.
	Scratch func(n int) (buf []byte, release func(), err error)
}

// Authentication verdicts of a received email (Resend's values).
const (
	AuthPass             = "pass"
	AuthFail             = "fail"
	AuthGray             = "gray"
	AuthProcessingFailed = "processing_failed"
	AuthUnknown          = "unknown"
)

// ReceivedAuth is what the MX's authentication checks found: a verdict
// each for SPF, DKIM, DMARC and ARC ("" when not checked), their details
// as JSON (per-signature results, the policy applied; the store keeps them
// as given, nil for none) and the Authentication-Results header value the
// MX wrote for them.
type ReceivedAuth struct {
	SPF     string
	DKIM    string
	DMARC   string
	ARC     string
	Details json.RawMessage
	Results string
}

// Checked reports whether any check ran.
func (a ReceivedAuth) Checked() bool {
	return a.SPF != "" || a.DKIM != "" || a.DMARC != "" || a.ARC != ""
}

// ReceivedAttachment is one attachment of a received email. Filename,
// ContentDisposition ("inline" or "attachment") and ContentID are "" when
// the part has none; Size is the decoded content's length.
type ReceivedAttachment struct {
	ID                 string
	EmailID            string
	TeamID             string
	Filename           string
	ContentType        string
	ContentDisposition string
	ContentID          string
	Size               int64
	// Content is the decoded content: given to StoreReceivedEmail, read by
	// GetReceivedAttachment (nil elsewhere).
	Content []byte
}

// ReceivedEvent builds the email.received event of a received email that
// is being stored (internal/events has it): the store calls it in the
// email's transaction, once the email's and its attachments' ids and times
// are set.
type ReceivedEvent func(e *ReceivedEmail) (*Event, error)

// Domain claim statuses (Resend's DomainClaim.status).
const (
	ClaimPending    = "pending"
	ClaimVerified   = "verified"
	ClaimCompleted  = "completed"
	ClaimBlocked    = "blocked"
	ClaimExpired    = "expired"
	ClaimSuperseded = "superseded"
	ClaimCanceled   = "canceled"
	ClaimFailed     = "failed"
)

// ClaimOpen reports whether a claim of this status may still complete
// (pending, verified or blocked).
func ClaimOpen(status string) bool {
	return status == ClaimPending || status == ClaimVerified || status == ClaimBlocked
}

// DomainClaim is a team's claim to a domain name another team holds: the
// team publishes a TXT record with Token, and once it is found the name
// moves to the team's placeholder domain (DomainID).
type DomainClaim struct {
	ID       string
	TeamID   string
	DomainID string // the claiming team's placeholder domain
	Name     string
	Status   string
	Region   string
	// Options is the canonical form of the options the claim was made
	// with: a second claim with the same Options while this one is pending
	// returns this one unchanged.
	Options       string
	Token         string // the TXT record's value
	BlockedReason string // "" unless blocked
	FailureReason string // "" unless failed
	// FromTeamID is the team the name was taken from ("" before completion,
	// or when nobody held it any more).
	FromTeamID  string
	CreatedAt   time.Time
	UpdatedAt   time.Time
	ExpiresAt   time.Time
	NextCheckAt *time.Time // when the verifier looks at it next; nil once it is settled
}

// DestinationThrottle is the adaptive throttling state of one destination
// (internal/delivery's throttle.go) as worker nodes share it: the halvings
// of its limits in force, the throttling replies since it last recovered,
// and its pause.
type DestinationThrottle struct {
	Level  int
	Pauses int
	Until  time.Time // paused until then (zero: never paused)
	Reason string    // why it was paused
}
