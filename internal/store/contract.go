package store

import (
	"context"
	"time"
)

// The storage contract, one interface per resource, composed into Store.
// A consumer declares the slice it uses, composed from these (api.Store,
// broadcast.Store, delivery.Store, …), so that what it depends on is
// written down where it is used. The invariants of the package doc hold
// for every method.

// Store is the whole persistence contract: every resource, and the
// database's health and lifetime.
type Store interface {
	Teams
	APIKeys
	Emails
	IdempotencyRecords
	Deliveries
	EmailHistory
	EmailQueue
	Domains
	DomainClaims
	Events
	Suppressions
	Webhooks
	WebhookMessages
	Segments
	Contacts
	Topics
	ContactProperties
	Templates
	Broadcasts
	ContactImports
	RequestLogs
	Users
	ReceivedEmails
	ReceivingRules
	IPPools
	Automations

	Ping(ctx context.Context) error
	Close() error
}

// Teams holds the teams, which own every other resource.
type Teams interface {
	// CreateTeam inserts a team; ErrConflict if the name is taken.
	CreateTeam(ctx context.Context, t *Team) error
	GetTeam(ctx context.Context, id string) (*Team, error)
	GetTeamByName(ctx context.Context, name string) (*Team, error)
	ListTeams(ctx context.Context) ([]*Team, error)
	SetTeamRateLimit(ctx context.Context, teamID string, perSecond int) error
}

// APIKeys holds the teams' API keys.
type APIKeys interface {
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
}

// Emails holds accepted emails as the API sees them: accepting them (with
// their delivery jobs, through the store's outbox), reading and changing
// a team's.
type Emails interface {
	// AcceptEmails commits the emails, a first event for each (queued or
	// scheduled) and the idempotency record in one transaction. It returns
	// ErrIdempotencyKeyTaken, writing nothing, when an unexpired record
	// holds the key. Concurrent calls may be grouped into one commit.
	AcceptEmails(ctx context.Context, a *Accept) error
	// GetEmail returns one of the team's emails, without its attachments
	// (for the API).
	GetEmail(ctx context.Context, teamID, id string) (*Email, error)
	// ListEmails returns emails newest first, and whether more exist beyond
	// the page; their HTML and Text are left out (nil).
	ListEmails(ctx context.Context, teamID string, p Page) ([]*Email, bool, error)
	// SearchEmails returns the team's emails that match every condition f
	// sets, newest first by creation time (then by acceptance order), and
	// whether more exist beyond the page; their HTML and Text are left out.
	// A cursor (p.After, p.Before) is one of the team's emails, matching f
	// or not (ErrNotFound otherwise). Each condition is served by an index
	// in page order, so a page costs its own rows, not the team's emails.
	SearchEmails(ctx context.Context, teamID string, f EmailFilter, p Page) ([]*Email, bool, error)
	// EmailMetrics returns the team's email counts selected by f, one row
	// per hour (and domain, broadcast as f asks, and email when f names
	// emails), in no particular order. Without EmailIDs it reads the hourly rollup that
	// AcceptEmails and RecordDelivery maintain in their transactions, so
	// its cost depends on the hours and domains in range, not on the emails.
	EmailMetrics(ctx context.Context, f EmailMetricsFilter) ([]*EmailMetricsRow, error)
	// RescheduleEmail moves a scheduled email; ErrNotScheduled if it is not scheduled.
	RescheduleEmail(ctx context.Context, teamID, id string, at time.Time) error
	// CancelEmail cancels a scheduled email; ErrNotScheduled if it is not scheduled.
	CancelEmail(ctx context.Context, teamID, id string, at time.Time) error
	// ListEmailAttachments describes one of the team's emails' attachments
	// in their order, without content; ErrNotFound if the team has no such
	// email.
	ListEmailAttachments(ctx context.Context, teamID, emailID string) ([]AttachmentInfo, error)
	// GetEmailAttachment returns the index-th attachment of one of the
	// team's emails, content included (nil for one given by Path);
	// ErrNotFound if the team has no such email or it has no such attachment.
	GetEmailAttachment(ctx context.Context, teamID, emailID string, index int) (*Attachment, error)
}

// IdempotencyRecords holds the records kept for Idempotency-Keys.
type IdempotencyRecords interface {
	GetIdempotency(ctx context.Context, teamID, key string) (*Idempotency, error)
	// DeleteIdempotencyBefore removes idempotency records created before t
	// and returns how many it removed.
	DeleteIdempotencyBefore(ctx context.Context, t time.Time) (int64, error)
}

// Deliveries is what delivering an email and recording what became of it
// need: emails of any team by id, and their outcomes.
type Deliveries interface {
	// GetEmailForDelivery returns an email of any team with its bodies and
	// attachments (content included).
	GetEmailForDelivery(ctx context.Context, id string) (*Email, error)
	// GetEmailsForDelivery returns the emails of ids that exist, as
	// GetEmailForDelivery does, in no particular order; an unknown id is
	// left out.
	GetEmailsForDelivery(ctx context.Context, ids []string) ([]*Email, error)
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
}

// EmailHistory is an email's record: its attempts, events and the message
// the capture transport kept.
type EmailHistory interface {
	// ListDeliveryAttempts returns an email's attempts, oldest first.
	ListDeliveryAttempts(ctx context.Context, teamID, emailID string) ([]*DeliveryAttempt, error)
	// ListEmailEvents returns an email's events, oldest first.
	ListEmailEvents(ctx context.Context, teamID, emailID string) ([]*EmailEvent, error)
	// GetCapturedMessage returns the message the capture transport kept.
	GetCapturedMessage(ctx context.Context, teamID, emailID string) ([]byte, error)
	// GetEmailDetail returns one of the team's emails with its bodies, its
	// events and delivery attempts (oldest first), its attachments (without
	// content) and whether a captured message is kept, read in one
	// snapshot with a fixed number of queries; ErrNotFound if the team has
	// no such email.
	GetEmailDetail(ctx context.Context, teamID, emailID string) (*EmailDetail, error)
	// ListCapturedMessages returns the team's captured messages newest
	// first, and whether more exist beyond the page. A cursor is the email
	// id of one of the team's captured messages (ErrNotFound otherwise).
	ListCapturedMessages(ctx context.Context, teamID string, p Page) ([]*CapturedMessage, bool, error)
}

// EmailQueue shows what waits for delivery.
type EmailQueue interface {
	// ListWaitingEmails returns the emails whose last event is queued,
	// scheduled, sent or delivery_delayed (only status, one of those, when
	// it is not ""), oldest first, of the team (of every team when teamID
	// is ""), after the email p.After (ErrNotFound when that is not one of
	// the team's emails), at most p.Limit, and whether more exist beyond
	// the page. p.Before is not supported.
	ListWaitingEmails(ctx context.Context, teamID, status string, p Page) ([]*WaitingEmail, bool, error)
}

// Domains holds the teams' sending domains.
type Domains interface {
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
	// DeleteDomain deletes a domain; its open claims (DomainClaims) become
	// canceled in the same transaction.
	DeleteDomain(ctx context.Context, teamID, id string, events ...*Event) error
	// PauseDomainSending pauses the domain's sending with p, unless it is
	// paused already, and records the event event builds from the paused
	// domain in the same transaction. It returns the domain and whether
	// this call paused it; ErrNotFound if the team has no such domain.
	PauseDomainSending(ctx context.Context, teamID, id string, p SendingPause, event func(*Domain) (*Event, error)) (*Domain, bool, error)
	// ResumeDomainSending ends the domain's pause, if any, and in the same
	// transaction records event's event and enqueues, at now, the next
	// attempt of each of the domain's deferred emails (held while paused),
	// so that they go at once rather than at their backoff. It returns the
	// domain, whether it was paused, and how many emails were enqueued.
	ResumeDomainSending(ctx context.Context, teamID, id string, now time.Time, event func(*Domain) (*Event, error)) (*Domain, bool, int, error)
	// DomainsDue returns up to limit domains of any team whose next check is
	// at or before now, the most overdue first.
	DomainsDue(ctx context.Context, now time.Time, limit int) ([]*Domain, error)
}

// DomainClaims holds the teams' claims to domain names other teams hold.
type DomainClaims interface {
	// CreateDomainClaim stores c, a new claim, and its placeholder domain
	// d: inserted when newDomain (ErrConflict if the team has the name
	// already; another team's held copy does not stop it), else updated.
	// The team's open claims (ClaimOpen) of the name become superseded. The
	// events are recorded in the same transaction.
	CreateDomainClaim(ctx context.Context, c *DomainClaim, d *Domain, newDomain bool, events ...*Event) error
	// LatestDomainClaim returns the team's newest claim whose placeholder
	// is domainID; ErrNotFound if none.
	LatestDomainClaim(ctx context.Context, teamID, domainID string) (*DomainClaim, error)
	// OpenDomainClaim returns the team's newest open claim (ClaimOpen) of
	// name; ErrNotFound if none.
	OpenDomainClaim(ctx context.Context, teamID, name string) (*DomainClaim, error)
	// UpdateDomainClaim stores c's status, reasons, next check and update
	// time, if c is still open (ErrNotFound otherwise: it was superseded,
	// canceled or settled meanwhile).
	UpdateDomainClaim(ctx context.Context, c *DomainClaim) error
	// DomainClaimsDue returns up to limit open claims of any team whose
	// next check is at or before now, the most overdue first.
	DomainClaimsDue(ctx context.Context, now time.Time, limit int) ([]*DomainClaim, error)
	// CompleteDomainClaim settles c as completed and stores its placeholder
	// d (UpdateDomain's fields) in one transaction: every other team's held
	// copy of the name is passed to lose and stored as lose left it, with
	// the event lose returns; c.FromTeamID becomes that copy's team. It
	// returns the copy (nil if nobody held the name). ErrNotFound, and
	// nothing written, if c is no longer open or d is gone.
	CompleteDomainClaim(ctx context.Context, c *DomainClaim, d *Domain, lose func(*Domain) (*Event, error), events ...*Event) (*Domain, error)
	// WaitingEmailsFrom counts the team's emails sent from the domain whose
	// delivery is not over (queued, scheduled, sent, delivery_delayed).
	WaitingEmailsFrom(ctx context.Context, teamID, domainID string) (int, error)
}

// Events is the teams' event feed.
type Events interface {
	// ListEvents returns a team's events after the one with id after ("" for
	// the first; ErrNotFound when the team has no event with that id),
	// oldest first (in commit order), at most limit.
	ListEvents(ctx context.Context, teamID, after string, limit int) ([]*Event, error)
}

// Suppressions holds the teams' suppression lists.
type Suppressions interface {
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
}

// Webhooks holds the teams' webhooks and, for the API, their messages and
// attempts.
type Webhooks interface {
	CreateWebhook(ctx context.Context, w *Webhook) error
	GetWebhook(ctx context.Context, teamID, id string) (*Webhook, error)
	// ListWebhooks returns a team's webhooks, newest first, and whether more
	// exist beyond the page.
	ListWebhooks(ctx context.Context, teamID string, p Page) ([]*Webhook, bool, error)
	// UpdateWebhook stores every field of w but its id, team and creation time.
	UpdateWebhook(ctx context.Context, w *Webhook) error
	DeleteWebhook(ctx context.Context, teamID, id string) error
	// ListWebhookMessages returns a webhook's messages, newest first.
	ListWebhookMessages(ctx context.Context, teamID, webhookID string, p Page) ([]*WebhookMessage, bool, error)
	// ListWebhookAttempts returns a message's attempts, newest first.
	ListWebhookAttempts(ctx context.Context, teamID, messageID string, p Page) ([]*WebhookAttempt, bool, error)
	// ReplayWebhookMessage makes a message pending again and enqueues it.
	ReplayWebhookMessage(ctx context.Context, teamID, id string, at time.Time) error
}

// WebhookMessages is what posting a webhook message needs.
type WebhookMessages interface {
	// GetWebhookMessage returns a message of any team (for the dispatcher).
	GetWebhookMessage(ctx context.Context, id string) (*WebhookMessage, error)
	// RecordWebhookAttempt writes a result in one transaction, with the
	// message's next job when its NextAttemptAt is set.
	RecordWebhookAttempt(ctx context.Context, r *WebhookResult) error
}

// Segments holds the teams' segments (Resend's audiences).
type Segments interface {
	// CreateSegment inserts a segment.
	CreateSegment(ctx context.Context, s *Segment) error
	GetSegment(ctx context.Context, teamID, id string) (*Segment, error)
	// ListSegments returns a team's segments, newest first.
	ListSegments(ctx context.Context, teamID string, p Page) ([]*Segment, bool, error)
	// UpdateSegment stores the segment's name.
	UpdateSegment(ctx context.Context, s *Segment) error
	// DeleteSegment removes a segment and its memberships; the contacts stay.
	DeleteSegment(ctx context.Context, teamID, id string) error
}

// Contacts holds the teams' contacts and their segment memberships.
type Contacts interface {
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
	// ContactsByEmail returns the team's contacts whose address is one of
	// emails (without regard to case), without their segments.
	ContactsByEmail(ctx context.Context, teamID string, emails []string) ([]*Contact, error)
}

// Topics holds the teams' topics and their contacts' subscriptions.
type Topics interface {
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
}

// ContactProperties holds the custom properties the teams declare for
// their contacts.
type ContactProperties interface {
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
}

// Templates holds the teams' email templates.
type Templates interface {
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
}

// Broadcasts holds the teams' broadcasts; queued and scheduled ones have
// their jobs enqueued through the store's outbox.
type Broadcasts interface {
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
	// BroadcastEmails returns the team's emails of the broadcast in the
	// order they were accepted: those with an event of eventType, each with
	// those events oldest first; with eventType "", every email, without
	// events.
	BroadcastEmails(ctx context.Context, teamID, broadcastID, eventType string) ([]*BroadcastEmail, error)
}

// ContactImports holds the records of the teams' CSV imports of contacts.
type ContactImports interface {
	// CreateContactImport inserts an import record; with a source, it
	// stores the source and, for a queued import, enqueues its job, in the
	// same transaction.
	CreateContactImport(ctx context.Context, ci *ContactImport, src *ContactImportSource) error
	GetContactImport(ctx context.Context, teamID, id string) (*ContactImport, error)
	// ListContactImports returns a team's imports newest first, only those
	// with the status when it is not "".
	ListContactImports(ctx context.Context, teamID, status string, p Page) ([]*ContactImport, bool, error)
	// GetContactImportSource returns an import's source; ErrNotFound once
	// the import has ended.
	GetContactImportSource(ctx context.Context, teamID, id string) (*ContactImportSource, error)
	// StartContactImport moves a queued import to in_progress and returns
	// the import as it then stands, whatever its status.
	StartContactImport(ctx context.Context, teamID, id string) (*ContactImport, error)
	// WriteContactImportBatch commits one batch of an import in one
	// transaction, or nothing: ErrImportState if the import is not
	// in_progress at the batch's From (another run committed it, or it
	// ended); ErrConflict if a contact to create exists or one to update
	// changed since it was read; ErrNotFound (or ErrUnknownTopic) if a
	// segment or topic of the batch is gone.
	WriteContactImportBatch(ctx context.Context, b *ContactImportBatch) error
	// FailContactImport ends a queued or in_progress import as failed, with
	// its reason, and deletes its source; ErrImportState if it has ended.
	FailContactImport(ctx context.Context, teamID, id, reason string, at time.Time) error
}

// RequestLogs holds the record of the teams' authenticated API requests
// (Resend's Logs API). Logs are written in batches off the request path and
// kept for a retention period.
type RequestLogs interface {
	// AddRequestLogs inserts logs (of any teams) in one transaction.
	AddRequestLogs(ctx context.Context, logs []*RequestLog) error
	// GetRequestLog returns one of the team's logs, bodies included.
	GetRequestLog(ctx context.Context, teamID, id string) (*RequestLog, error)
	// ListRequestLogs returns a team's logs newest first (in the order they
	// were written), without their bodies, and whether more exist beyond
	// the page; a cursor that is not one of the team's logs is ErrNotFound.
	ListRequestLogs(ctx context.Context, teamID string, p Page) ([]*RequestLog, bool, error)
	// DeleteRequestLogsBefore removes up to limit logs, of any team, created
	// before t, oldest first, and returns how many it removed.
	DeleteRequestLogsBefore(ctx context.Context, t time.Time, limit int) (int64, error)
}

// Users holds the dashboard's people, their sessions and their one-time
// set-password tokens. Sessions and tokens are keyed by the SHA-256 of
// their secret; the secret itself is never stored.
type Users interface {
	// CreateUser inserts a user, its Email stored in lower case;
	// ErrConflict if the team has a user with that email (any case).
	CreateUser(ctx context.Context, u *User) error
	GetUser(ctx context.Context, teamID, id string) (*User, error)
	// UsersByEmail returns the users of every team with the email (any
	// case), oldest first (an address may belong to several teams).
	UsersByEmail(ctx context.Context, email string) ([]*User, error)
	// ListUsers returns a team's users, oldest first.
	ListUsers(ctx context.Context, teamID string) ([]*User, error)
	// CountUsers counts the users of every team.
	CountUsers(ctx context.Context) (int, error)
	// RecordSigninFailure counts a failed sign-in of the user; the
	// lock.Max-th failure in a row locks it until at+lock.For and starts
	// the count again. It returns the user as it then stands.
	RecordSigninFailure(ctx context.Context, teamID, id string, at time.Time, lock SigninLock) (*User, error)
	// RecordSigninSuccess clears the user's failure count and lock.
	RecordSigninSuccess(ctx context.Context, teamID, id string) error

	// CreatePasswordToken stores a one-time set-password token.
	CreatePasswordToken(ctx context.Context, t *PasswordToken) error
	// UsePasswordToken, in one transaction, marks the token used, sets its
	// user's password hash, clears its failures and lock, and ends every
	// session of the user; it returns the user. ErrNotFound, and nothing
	// written, if the token is unknown, used, or expired at at.
	UsePasswordToken(ctx context.Context, hash []byte, passwordHash string, at time.Time) (*User, error)

	// CreateUserSession stores a session.
	CreateUserSession(ctx context.Context, s *UserSession) error
	// SessionUser returns the session with the token hash, and its user,
	// in one query; ErrNotFound if there is none or it expired at at.
	SessionUser(ctx context.Context, hash []byte, at time.Time) (*UserSession, *User, error)
	// TouchUserSession records that the session was used at at and moves
	// its expiry to expires.
	TouchUserSession(ctx context.Context, hash []byte, at, expires time.Time) error
	// DeleteUserSession ends one session (no error if it is gone).
	DeleteUserSession(ctx context.Context, hash []byte) error
	// DeleteUserSessions ends every session of the team's user (sign out
	// everywhere) and returns how many it ended.
	DeleteUserSessions(ctx context.Context, teamID, userID string) (int64, error)
	// DeleteExpiredUserAuth removes sessions and set-password tokens that
	// expired before t, of every team, and returns how many it removed.
	DeleteExpiredUserAuth(ctx context.Context, t time.Time) (int64, error)
}

// ReceivedEmails holds the mail Godwit received as the MX of the teams'
// receiving domains, with its attachments, for the Receiving API.
type ReceivedEmails interface {
	// StoreReceivedEmail writes e, its attachments (e.Attachments, content
	// included) and its email.received event, built by announce, in one
	// transaction: when it returns nil the email is durably stored and
	// announced (webhooks and the feed). It fills an empty e.ID and
	// attachment IDs with new ids, a zero e.CreatedAt with the store's
	// clock, e.Size (when 0) and each attachment's Size, EmailID and
	// TeamID. e.Raw is required.
	StoreReceivedEmail(ctx context.Context, e *ReceivedEmail, announce ReceivedEvent) error
	// ListReceivedEmails returns the team's received emails newest first,
	// with their attachments (without content) and without bodies, headers
	// or raw message, and whether more exist beyond the page. A cursor
	// that is not one of the team's received emails is ErrNotFound.
	ListReceivedEmails(ctx context.Context, teamID string, p Page) ([]*ReceivedEmail, bool, error)
	// GetReceivedEmail returns one of the team's received emails with its
	// bodies, headers and attachments (without content), without Raw.
	GetReceivedEmail(ctx context.Context, teamID, id string) (*ReceivedEmail, error)
	// GetReceivedRaw returns the message of one of the team's received
	// emails as it was received.
	GetReceivedRaw(ctx context.Context, teamID, id string) ([]byte, error)
	// ListReceivedAttachments returns the attachments of one of the team's
	// received emails in the message's order, without content; ErrNotFound
	// if the team has no such email.
	ListReceivedAttachments(ctx context.Context, teamID, emailID string) ([]*ReceivedAttachment, error)
	// GetReceivedAttachment returns one attachment of one of the team's
	// received emails, content included.
	GetReceivedAttachment(ctx context.Context, teamID, emailID, id string) (*ReceivedAttachment, error)
	// DeleteReceivedBefore removes up to limit received emails of any team
	// created before t, oldest first, with their attachments, and returns
	// how many emails it removed (retention).
	DeleteReceivedBefore(ctx context.Context, t time.Time, limit int) (int64, error)
	// FindSentEmailByMessageID returns the id of the team's sent email
	// whose Message-ID is messageID (angle brackets optional, compared
	// without regard to case): the message a received reply names in
	// In-Reply-To or References. ErrNotFound for any other Message-ID. It
	// costs one lookup by primary key (Godwit's Message-IDs carry the
	// email's id).
	FindSentEmailByMessageID(ctx context.Context, teamID, messageID string) (string, error)
}

// ReceivingRules holds the routing rules and settings of the teams'
// receiving domains (docs/receiving.md).
type ReceivingRules interface {
	// CreateReceivingRule inserts r; ErrNotFound if its domain is not its
	// team's, ErrConflict if the domain has a rule with its Match already.
	CreateReceivingRule(ctx context.Context, r *ReceivingRule) error
	GetReceivingRule(ctx context.Context, teamID, domainID, id string) (*ReceivingRule, error)
	// ListReceivingRules returns a domain's rules ordered by Match (the
	// RuleMatchAll rule first); an empty list for a domain of no rule or
	// of another team.
	ListReceivingRules(ctx context.Context, teamID, domainID string) ([]*ReceivingRule, error)
	// UpdateReceivingRule stores r's Match, Action, ForwardTo, ForwardFrom
	// and UpdatedAt; ErrNotFound, ErrConflict as CreateReceivingRule.
	UpdateReceivingRule(ctx context.Context, r *ReceivingRule) error
	DeleteReceivingRule(ctx context.Context, teamID, domainID, id string) error
	// GetReceivingSettings returns a domain's settings, the defaults
	// (CatchAll) when none were set; ErrNotFound if the domain is not the
	// team's.
	GetReceivingSettings(ctx context.Context, teamID, domainID string) (*ReceivingSettings, error)
	// SetReceivingSettings stores s; ErrNotFound if its domain is not its
	// team's.
	SetReceivingSettings(ctx context.Context, s *ReceivingSettings) error
	// ReceivingRoute returns what applies to the address local@domain (its
	// local part in lower case) of any team's domain, in two lookups by
	// key: the MX asks it at RCPT.
	ReceivingRoute(ctx context.Context, domainID, local string) (*ReceivingRoute, error)
}
