package delivery

import (
	"context"
	"crypto"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/mail"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/godwit/godwit/internal/bounce"
	"github.com/godwit/godwit/internal/dkim"
	"github.com/godwit/godwit/internal/domains"
	"github.com/godwit/godwit/internal/events"
	"github.com/godwit/godwit/internal/message"
	"github.com/godwit/godwit/internal/metrics"
	"github.com/godwit/godwit/internal/panics"
	"github.com/godwit/godwit/internal/store"
	"github.com/godwit/godwit/internal/tracking"
)

// Store is what the worker needs of the store.
type Store interface {
	GetEmailForDelivery(ctx context.Context, id string) (*store.Email, error)
	GetEmailsForDelivery(ctx context.Context, ids []string) ([]*store.Email, error)
	ClaimScheduled(ctx context.Context, id string, at time.Time) error
	RecordDelivery(ctx context.Context, o *store.DeliveryOutcome) error
	ListDeliveryAttempts(ctx context.Context, teamID, emailID string) ([]*store.DeliveryAttempt, error)
	GetDomain(ctx context.Context, teamID, id string) (*store.Domain, error)
	// GetDomainByName finds the sending domain of an email accepted before
	// the domain was recorded on it (store.Email.DomainID empty).
	GetDomainByName(ctx context.Context, teamID, name string) (*store.Domain, error)
	SuppressedAmong(ctx context.Context, teamID string, emails []string) (map[string]bool, error)
	TopicSubscriptionsAmong(ctx context.Context, teamID, topicID string, emails []string) (map[string]string, error)
}

// Transport hands a message to the network: one Result per m.Recipients,
// in order.
type Transport interface {
	Deliver(ctx context.Context, m *Message) []Result
}

// Fetcher fetches an attachment given by URL. Permanent reports whether an
// error of Fetch will not go away by retrying.
type Fetcher interface {
	Fetch(ctx context.Context, url string) (data []byte, contentType string, err error)
	Permanent(err error) bool
}

// Worker delivers one email per call of Deliver. It keeps no state of its
// own between calls but caches: every decision is made from what the store
// holds, so a call may be repeated (at-least-once) without harm beyond a
// duplicate message for recipients whose outcome was not yet recorded.
type Worker struct {
	Store Store
	// Transport sends messages; nil means capture: nothing leaves the
	// machine, the message is stored, and every recipient counts as delivered.
	Transport Transport
	Fetcher   Fetcher
	Domains   domains.Settings
	// TestDomain's recipients (delivered@, bounced@, …) are simulated, never sent.
	TestDomain string
	// AnySender captures, unsigned, the emails of a sender whose domain the
	// team never added (--allow-any-sender, with a nil Transport only).
	AnySender bool
	// MaxQueueAge is how long a deferred email is retried before it bounces
	// (Transient); 0 means 72 h.
	MaxQueueAge time.Duration
	// Tracking signs open and click tokens; with TrackingURL (the server's
	// public URL) it rewrites the HTML of domains with open_tracking or
	// click_tracking on. Either empty: no tracking.
	Tracking    *tracking.Signer
	TrackingURL string
	Now         func() time.Time
	Logger      *slog.Logger
	// Metrics counts attempts in flight and each recipient's result (nil:
	// not counted).
	Metrics *metrics.Metrics

	keysMu sync.Mutex
	keys   map[string]domainKeys // domain id → opened keys
}

type domainKeys struct {
	updated  time.Time
	selector string
	keys     []crypto.Signer
}

// Job is one run of the worker for an email.
type Job struct {
	EmailID string
	// At is the scheduled time the job was made for; nil for an email sent
	// at once. A job whose time no longer matches the email's ends.
	At *time.Time
	// Attempt counts the job's runs, from 1: a later run of a scheduled
	// email's job may find the email already claimed by its earlier run.
	Attempt int
	// Batch, if not nil, holds the email and what its attempt reads, read
	// with the other emails of its job (ReadBatch).
	Batch *Batch
}

// Retry says the email needs another run after the given delay. Enqueued
// reports that its job for that run was committed with the outcome; when
// false (a scheduled email whose time has not come) the caller enqueues it.
type Retry struct {
	After    time.Duration
	Enqueued bool
}

func (r *Retry) Error() string { return fmt.Sprintf("delivery: retry in %s", r.After) }

func (w *Worker) now() time.Time {
	if w.Now != nil {
		return w.Now()
	}
	return time.Now()
}

func (w *Worker) logger() *slog.Logger {
	if w.Logger != nil {
		return w.Logger
	}
	return slog.New(slog.DiscardHandler)
}

func (w *Worker) maxQueueAge() time.Duration {
	if w.MaxQueueAge > 0 {
		return w.MaxQueueAge
	}
	return 72 * time.Hour
}

// ReasonInternalError is the reason of the email.failed event of an email
// whose delivery panicked: a bug of Godwit's, or input it could not handle.
const ReasonInternalError = "internal_error"

// Deliver runs one delivery attempt for the job's email and records its
// outcome. It returns a *Retry when recipients remain deferred (or the
// scheduled time has not come), nil when the email needs no more work, and
// another error when the store failed (the queue retries the job).
//
// A panic during the attempt does not escape: it is logged with its stack,
// and the email's pending recipients fail with reason internal_error, so
// that the job is not run again into the same panic.
func (w *Worker) Deliver(ctx context.Context, j Job) error {
	err := panics.Catch(func() error { return w.deliver(ctx, j) })
	var p *panics.Error
	if !errors.As(err, &p) {
		return err
	}
	w.logger().Error("delivery panicked: the email fails with reason internal_error",
		append([]any{slog.String("email_id", j.EmailID)}, p.LogAttrs()...)...)
	return panics.Catch(func() error {
		e, err := w.Store.GetEmailForDelivery(ctx, j.EmailID)
		if err != nil {
			return fmt.Errorf("delivery: load the email that panicked: %w", err)
		}
		if store.Final(e.LastEvent) {
			return nil
		}
		return w.attemptWith(ctx, e, w.now(), func(pending []*recipientState, results map[string]Result, _ *store.DeliveryOutcome) error {
			for _, st := range pending {
				results[st.addr] = Result{Recipient: st.addr, Outcome: failedOutcome, reason: ReasonInternalError,
					Message: "Godwit could not process this email (an internal error; the server log has the details)"}
			}
			return nil
		})
	})
}

func (w *Worker) deliver(ctx context.Context, j Job) error {
	e, ok := j.Batch.email(j.EmailID)
	var err error
	if !ok {
		e, err = w.Store.GetEmailForDelivery(ctx, j.EmailID)
	}
	if errors.Is(err, store.ErrNotFound) {
		w.logger().Warn("delivery job for an unknown email", "email_id", j.EmailID)
		return nil
	}
	if err != nil {
		return err
	}
	if store.Final(e.LastEvent) {
		return nil
	}
	now := w.now()
	if j.At != nil {
		if e.ScheduledAt == nil || !e.ScheduledAt.Equal(*j.At) {
			return nil // rescheduled: the job made for the new time sends it
		}
		if d := e.ScheduledAt.Sub(now); d > 0 {
			return &Retry{After: d}
		}
		switch e.LastEvent {
		case store.EventScheduled:
			err := w.Store.ClaimScheduled(ctx, e.ID, now)
			if errors.Is(err, store.ErrNotScheduled) {
				return nil // canceled, or claimed by a duplicate job
			}
			if err != nil {
				return err
			}
		case store.EventQueued:
			if j.Attempt <= 1 {
				return nil // another job for the same time claimed it
			}
			// An earlier run of this job claimed it and did not finish.
		}
	}
	return w.attempt(ctx, j.Batch, e, now)
}

// recipientState is where each recipient of an email stands.
type recipientState struct {
	addr     string
	key      string // addr in lower case: a recipient is one per key
	outcome  string // "" when never tried
	deferred int    // deferred attempts so far
}

func (w *Worker) attempt(ctx context.Context, b *Batch, e *store.Email, start time.Time) error {
	return w.attemptWith(ctx, e, start, func(pending []*recipientState, results map[string]Result, out *store.DeliveryOutcome) error {
		return w.sendPending(ctx, b, e, pending, results, start, out)
	})
}

// attemptWith runs one attempt whose results for the pending recipients
// come from decide, and records them with their events and retry.
func (w *Worker) attemptWith(ctx context.Context, e *store.Email, start time.Time,
	decide func(pending []*recipientState, results map[string]Result, out *store.DeliveryOutcome) error) error {
	defer w.Metrics.AttemptStarted()()
	// An email still queued has no attempts: the transaction that records
	// an email's first attempts also moves its last_event past queued (to
	// sent at least). Most attempts are first attempts: skip the query.
	var prev []*store.DeliveryAttempt
	var err error
	if e.LastEvent != store.EventQueued {
		if prev, err = w.Store.ListDeliveryAttempts(ctx, e.TeamID, e.ID); err != nil {
			return err
		}
	}
	states := recipientsOf(e, prev)
	var pending []*recipientState
	for _, st := range states {
		if st.outcome == "" || st.outcome == store.OutcomeDeferred {
			pending = append(pending, st)
		}
	}
	out := &store.DeliveryOutcome{EmailID: e.ID, TeamID: e.TeamID, SuppressionAdded: events.SuppressionAddedEvent}
	ev := &eventLog{email: e}
	if len(prev) == 0 {
		ev.add(store.EventSent, start, nil, nil)
	}

	results := map[string]Result{}
	if err := decide(pending, results, out); err != nil {
		return err
	}

	end := w.now()
	expired := end.Sub(queueStart(e)) >= w.maxQueueAge()
	final := make([]Result, 0, len(pending))
	for _, st := range pending {
		r := results[st.addr]
		if r.Outcome == Deferred && expired && !r.held {
			r.Outcome = Bounced
			r.expired = true
		}
		r.Recipient = st.addr
		final = append(final, r)
		outcome := string(r.Outcome)
		out.Attempts = append(out.Attempts, &store.DeliveryAttempt{
			Recipient: st.addr, Outcome: outcome, Host: r.Host, Code: r.Code,
			Enhanced: r.Enhanced, Response: r.Message, CreatedAt: end,
			TLSVersion: r.TLSVersion, TLSCipher: r.TLSCipher, TLSPolicy: r.TLSPolicy,
		})
		st.outcome = outcome
		if outcome == store.OutcomeDeferred {
			st.deferred++
		}
		ev.result(st.addr, r, end)
		if r.Outcome == Bounced && !r.simulated && classify(r).Suppress() {
			out.Suppress = append(out.Suppress, st.addr)
		}
	}
	out.Events = ev.events()
	if out.TeamEvents, err = ev.teamEvents(); err != nil {
		return err
	}
	out.LastEvent = lastEvent(states, ev)
	maxDeferred := 0
	for _, st := range states {
		if st.outcome == store.OutcomeDeferred && st.deferred > maxDeferred {
			maxDeferred = st.deferred
		}
	}
	var retry *Retry
	if maxDeferred > 0 {
		retry = &Retry{After: retryAfter(final, maxDeferred), Enqueued: true}
		at := end.Add(retry.After)
		out.RetryAt = &at
	}
	if err := w.Store.RecordDelivery(ctx, out); err != nil {
		return err
	}
	w.report(e, final, out.RetryAt)
	if retry != nil {
		return retry
	}
	return nil
}

// maxLoggedReply bounds the remote reply text in a log line.
const maxLoggedReply = 300

// clip cuts s to at most n bytes, on a rune boundary, marking the cut.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

// report counts and logs the recorded results of an attempt: one INFO line
// per recipient's change of state, with the remote host and reply (the
// recipient's domain, not its address).
func (w *Worker) report(e *store.Email, results []Result, retryAt *time.Time) {
	log := w.logger()
	for _, r := range results {
		code := r.Code
		if r.simulated || r.refused {
			code = 0 // no remote server answered
		}
		w.Metrics.Delivery(string(r.Outcome), code)
		attrs := []slog.Attr{slog.String("email_id", e.ID), slog.String("team_id", e.TeamID),
			slog.String("recipient_domain", domainOf(r.Recipient))}
		if r.Host != "" {
			attrs = append(attrs, slog.String("host", r.Host))
		}
		if r.Code != 0 {
			attrs = append(attrs, slog.Int("code", r.Code))
		}
		if r.Enhanced != "" {
			attrs = append(attrs, slog.String("enhanced", r.Enhanced))
		}
		if r.Message != "" {
			attrs = append(attrs, slog.String("reply", clip(r.Message, maxLoggedReply)))
		}
		if r.TLSPolicy != "" {
			attrs = append(attrs, slog.String("tls_policy", clip(r.TLSPolicy, maxLoggedReply)))
		}
		if r.SourceIP != "" {
			attrs = append(attrs, slog.String("source_ip", r.SourceIP))
		}
		if r.TLSVersion != "" {
			attrs = append(attrs, slog.String("tls_version", r.TLSVersion), slog.String("tls_cipher", r.TLSCipher))
		}
		msg := "email " + string(r.Outcome)
		switch r.Outcome {
		case Deferred:
			if retryAt != nil {
				attrs = append(attrs, slog.Time("next_attempt", *retryAt))
			}
		case Bounced:
			if r.expired {
				attrs = append(attrs, slog.Bool("expired", true))
			}
			c := classify(r)
			suppressed := !r.simulated && c.Suppress()
			w.Metrics.Bounce(string(c.Type), string(c.SubType), suppressed)
			attrs = append(attrs, slog.String("bounce_type", string(c.Type)), slog.String("bounce_sub_type", string(c.SubType)),
				slog.Bool("suppressed", suppressed))
		case failedOutcome:
			if r.reason != "" {
				attrs = append(attrs, slog.String("reason", r.reason))
			}
		case complainedOutcome:
			msg = "email delivered" // a test address: delivered, then complained
			attrs = append(attrs, slog.Bool("complained", true))
		}
		log.LogAttrs(context.Background(), slog.LevelInfo, msg, attrs...)
	}
}

// sendPending decides the pending recipients of an attempt: the email's
// topic, the test addresses (simulated), the suppression list, and the
// transport for the rest.
func (w *Worker) sendPending(ctx context.Context, b *Batch, e *store.Email, pending []*recipientState,
	results map[string]Result, start time.Time, out *store.DeliveryOutcome) error {
	if err := w.checkTopic(ctx, e, pending, results); err != nil {
		return err
	}
	var real []*recipientState
	var test []*recipientState
	for _, st := range pending {
		if _, skipped := results[st.addr]; skipped {
			continue
		}
		if domainOf(st.addr) == w.TestDomain && w.TestDomain != "" {
			test = append(test, st)
		} else {
			real = append(real, st)
		}
	}
	for _, st := range test {
		results[st.addr] = simulate(st.addr)
	}
	if len(real) > 0 {
		addrs := make([]string, len(real))
		for i, st := range real {
			addrs[i] = st.addr
		}
		suppressed, ok := b.suppressedAmong(e, addrs)
		if !ok {
			var err error
			if suppressed, err = w.Store.SuppressedAmong(ctx, e.TeamID, addrs); err != nil {
				return err
			}
		}
		var send []string
		for _, a := range addrs {
			if suppressed[a] {
				results[a] = Result{Recipient: a, Message: "The address is on the team's suppression list", Outcome: suppressedOutcome}
			} else {
				send = append(send, a)
			}
		}
		if len(send) > 0 {
			for i, r := range w.send(ctx, b, e, send, start, out) {
				results[send[i]] = r
			}
		}
	}

	return nil
}

// Reasons of the email.failed events of recipients an email's topic
// excludes.
const (
	ReasonUnsubscribedFromTopic = "unsubscribed_from_topic"
	ReasonTopicNotFound         = "topic_not_found"
)

// checkTopic applies the email's topic (if any) to the pending recipients,
// test addresses included: a recipient receives the email only if its
// subscription is opt_in, that is the choice of the team's contact with
// that address when it made one, else the topic's default (for contacts
// without a choice and for strangers alike). Every other recipient gets a
// failed result in results, and is not sent to. A topic deleted since the
// email was accepted leaves no way to tell who consented: every pending
// recipient fails.
func (w *Worker) checkTopic(ctx context.Context, e *store.Email, pending []*recipientState, results map[string]Result) error {
	if e.TopicID == "" || len(pending) == 0 {
		return nil
	}
	addrs := make([]string, len(pending))
	for i, st := range pending {
		addrs[i] = st.addr
	}
	subs, err := w.Store.TopicSubscriptionsAmong(ctx, e.TeamID, e.TopicID, addrs)
	if errors.Is(err, store.ErrNotFound) {
		for _, a := range addrs {
			results[a] = Result{Recipient: a, Outcome: failedOutcome, reason: ReasonTopicNotFound,
				Message: "The email's topic no longer exists"}
		}
		return nil
	}
	if err != nil {
		return err
	}
	for _, a := range addrs {
		if subs[a] != store.SubscriptionOptIn {
			results[a] = Result{Recipient: a, Outcome: failedOutcome, reason: ReasonUnsubscribedFromTopic,
				Message: "The recipient is not subscribed to the email's topic"}
		}
	}
	return nil
}

// retryAfter is the wait before the next attempt when some of results are
// deferred: when each was deferred by a paused destination, the longest
// pause left (the destination is tried again as soon as it may be);
// otherwise Backoff(maxDeferred).
func retryAfter(results []Result, maxDeferred int) time.Duration {
	var pause time.Duration
	for _, r := range results {
		if r.Outcome != Deferred {
			continue
		}
		if r.retryAfter <= 0 {
			return Backoff(maxDeferred)
		}
		pause = max(pause, r.retryAfter)
	}
	if pause <= 0 {
		return Backoff(maxDeferred)
	}
	return pause
}

// Backoff is the wait before the next attempt after n deferred ones:
// 1, 2, 4, … minutes, at most an hour.
func Backoff(n int) time.Duration {
	d := time.Minute
	for i := 1; i < n && d < time.Hour; i++ {
		d *= 2
	}
	return min(d, time.Hour)
}

// queueStart is when an email entered the queue for delivery.
func queueStart(e *store.Email) time.Time {
	if e.ScheduledAt != nil && e.ScheduledAt.After(e.CreatedAt) {
		return *e.ScheduledAt
	}
	return e.CreatedAt
}

// recipientsOf lists the email's envelope recipients (To, Cc, Bcc; each
// address once) with where they stand after the attempts so far.
func recipientsOf(e *store.Email, prev []*store.DeliveryAttempt) []*recipientState {
	out := make([]*recipientState, 0, len(e.To)+len(e.Cc)+len(e.Bcc))
	var idx map[string]*recipientState // by key, once there are many
	find := func(k string) *recipientState {
		if idx != nil {
			return idx[k]
		}
		for _, st := range out {
			if st.key == k {
				return st
			}
		}
		return nil
	}
	for _, list := range [][]string{e.To, e.Cc, e.Bcc} {
		for _, raw := range list {
			a := addressOf(raw)
			k := strings.ToLower(a)
			if a == "" || find(k) != nil {
				continue
			}
			st := &recipientState{addr: a, key: k}
			out = append(out, st)
			if idx != nil {
				idx[k] = st
			} else if len(out) > 8 {
				idx = make(map[string]*recipientState, cap(out))
				for _, st := range out {
					idx[st.key] = st
				}
			}
		}
	}
	for _, p := range prev {
		if st := find(strings.ToLower(p.Recipient)); st != nil {
			st.outcome = p.Outcome
			if p.Outcome == store.OutcomeDeferred {
				st.deferred++
			}
		}
	}
	return out
}

// addressOf returns the bare address of "Name <a@b>" or "a@b".
func addressOf(s string) string {
	if bareAddress(s) {
		return s // what the parse below returns for it, at a tenth of the cost
	}
	if a, err := mail.ParseAddress(s); err == nil {
		return a.Address
	}
	return strings.TrimSpace(s)
}

// bareAddress reports whether s is printable ASCII without a space or any
// of the characters that make an address more than an addr-spec (a display
// name, comment, quoted local part, domain literal or list): mail.
// ParseAddress returns such an s unchanged or fails on it, and TrimSpace
// leaves it as it is. FuzzAddressOf holds addressOf to that.
func bareAddress(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte(`"(),:;<>[\]`, c) >= 0 {
			return false
		}
	}
	return true
}

func domainOf(addr string) string {
	i := strings.LastIndexByte(addr, '@')
	if i < 0 {
		return ""
	}
	return strings.ToLower(addr[i+1:])
}

// send builds, signs and sends the message to the recipients, returning one
// result per recipient. Failures to build it are Failed for all.
func (w *Worker) send(ctx context.Context, b *Batch, e *store.Email, rcpts []string, now time.Time, out *store.DeliveryOutcome) []Result {
	all := func(outcome Outcome, host string, msg string) []Result {
		rs := make([]Result, len(rcpts))
		for i, a := range rcpts {
			rs[i] = Result{Recipient: a, Host: host, Message: msg, Outcome: outcome}
		}
		return rs
	}
	d, name, err := w.sendingDomain(ctx, b, e)
	if errors.Is(err, store.ErrNotFound) && w.AnySender && w.Transport == nil {
		return w.captureUnsigned(ctx, e, now, out, all)
	}
	if errors.Is(err, store.ErrNotFound) {
		return all(failedOutcome, "", fmt.Sprintf("the sending domain %s is not registered", name))
	}
	if err != nil {
		return all(Deferred, "", "internal error: could not read the sending domain")
	}
	if d.SendingPause != nil {
		return held(all(Deferred, "", PausedMessage(d.SendingPause)))
	}
	if err := w.fetchAttachments(ctx, e); err != nil {
		w.logger().Warn("delivery: attachment fetch failed", "email_id", e.ID, "err", err)
		if w.Fetcher != nil && w.Fetcher.Permanent(err) {
			return all(failedOutcome, "", "attachment: "+TenantText(err))
		}
		return all(Deferred, "", "attachment: "+TenantText(err))
	}
	if err := w.track(e, d); err != nil {
		return all(failedOutcome, "", "could not add tracking: "+err.Error())
	}
	raw, err := message.Build(e, message.Options{Now: now, MessageID: e.MessageID()})
	if err != nil {
		return all(failedOutcome, "", "could not build the message: "+err.Error())
	}
	keys, selector, err := w.signingKeys(d)
	if err != nil {
		w.logger().Error("dkim keys", "domain", d.Name, "err", err)
		return all(Deferred, "", "internal error: could not open the domain's DKIM key")
	}
	signed, err := dkim.Sign(raw, d.Name, selector, keys...)
	if err != nil {
		return all(failedOutcome, "", "could not sign the message: "+err.Error())
	}
	m := &Message{
		From:       ReturnPath(e.ID, d),
		Recipients: rcpts,
		Data:       signed,
		RequireTLS: d.TLS == "enforced",
		EmailID:    e.ID,
		TeamID:     e.TeamID,
		DomainID:   d.ID,
	}
	if w.Transport == nil {
		out.Captured = signed
		return all(Delivered, "capture", "captured: the message was stored, not sent")
	}
	return w.Transport.Deliver(ctx, m)
}

// HeldRetry is when a held email (its sending domain paused) is looked at
// again: resuming the domain enqueues its held emails at once, so this is
// only a backstop.
const HeldRetry = time.Hour

// PausedMessage is the attempt message of a recipient held because its
// sending domain is paused: "domain paused: complaint rate 0.41% over 24h
// ≥ 0.3%".
func PausedMessage(p *store.SendingPause) string {
	return "domain paused: " + p.Reason
}

// held marks results held by a paused sending domain: retried after
// HeldRetry, and never bounced for their age (nothing is dropped while a
// domain is paused).
func held(rs []Result) []Result {
	for i := range rs {
		rs[i].held, rs[i].retryAfter = true, HeldRetry
	}
	return rs
}

// captureUnsigned captures e built without a DKIM signature: its sender's
// domain was never added (--allow-any-sender), so there is no key.
func (w *Worker) captureUnsigned(ctx context.Context, e *store.Email, now time.Time, out *store.DeliveryOutcome,
	all func(Outcome, string, string) []Result) []Result {
	if err := w.fetchAttachments(ctx, e); err != nil {
		return all(failedOutcome, "", "attachment: "+TenantText(err))
	}
	raw, err := message.Build(e, message.Options{Now: now, MessageID: e.MessageID()})
	if err != nil {
		return all(failedOutcome, "", "could not build the message: "+err.Error())
	}
	out.Captured = raw
	return all(Delivered, "capture", "captured unsigned: the sender's domain was never added (--allow-any-sender)")
}

// sendingDomain returns the domain e is sent from (and its name): the one
// recorded when it was accepted, by id, so that nothing parses From again;
// for an email accepted before the domain was recorded, the domain of its
// From by name.
func (w *Worker) sendingDomain(ctx context.Context, b *Batch, e *store.Email) (*store.Domain, string, error) {
	if d, ok := b.domain(e); ok {
		return d, e.DomainName, nil
	}
	if e.DomainID != "" {
		d, err := w.Store.GetDomain(ctx, e.TeamID, e.DomainID)
		return d, e.DomainName, err
	}
	name := domainOf(addressOf(e.From))
	d, err := w.Store.GetDomainByName(ctx, e.TeamID, name)
	return d, name, err
}

// track rewrites the HTML for the domain's open and click tracking. The
// text part is derived from the HTML before that, so that it keeps the
// original links.
func (w *Worker) track(e *store.Email, d *store.Domain) error {
	if e.HTML == nil || w.Tracking == nil || w.TrackingURL == "" || (!d.OpenTracking && !d.ClickTracking) {
		return nil
	}
	if e.Text == nil {
		text := message.DerivedText(*e.HTML)
		e.Text = &text
	}
	var unsubscribe string
	for _, h := range e.Headers {
		if strings.EqualFold(h.Name, "List-Unsubscribe") {
			unsubscribe = h.Value
		}
	}
	html, err := tracking.Rewrite(*e.HTML, w.Tracking, tracking.Options{BaseURL: w.TrackingURL, EmailID: e.ID,
		Opens: d.OpenTracking, Clicks: d.ClickTracking, Unsubscribe: unsubscribe})
	if err != nil {
		return err
	}
	e.HTML = &html
	return nil
}

// ReturnPath is the envelope sender of an email: an address on the domain's
// return-path subdomain whose local part names the email, so that a bounce
// arriving later finds it.
func ReturnPath(emailID string, d *store.Domain) string {
	sub := d.ReturnPath
	if sub == "" {
		sub = "send"
	}
	return "bounces+" + emailID + "@" + sub + "." + d.Name
}

func (w *Worker) fetchAttachments(ctx context.Context, e *store.Email) error {
	for i := range e.Attachments {
		a := &e.Attachments[i]
		if a.Content != nil || a.Path == "" {
			continue
		}
		if w.Fetcher == nil {
			return errors.New("fetching attachments by path is not configured")
		}
		data, ct, err := w.Fetcher.Fetch(ctx, a.Path)
		if err != nil {
			return err
		}
		a.Content = data
		if a.ContentType == "" {
			a.ContentType = ct
		}
	}
	return nil
}

// signingKeys returns the domain's opened DKIM keys, from a cache that a
// change of the domain invalidates.
func (w *Worker) signingKeys(d *store.Domain) ([]crypto.Signer, string, error) {
	w.keysMu.Lock()
	k, ok := w.keys[d.ID]
	w.keysMu.Unlock()
	if ok && k.updated.Equal(d.UpdatedAt) {
		return k.keys, k.selector, nil
	}
	rsaKey, err := w.Domains.PrivateKey(d.ID, d.DKIMKey)
	if err != nil {
		return nil, "", err
	}
	keys := []crypto.Signer{rsaKey}
	if len(d.DKIMEd25519Key) > 0 {
		edKey, err := w.Domains.PrivateKey(d.ID, d.DKIMEd25519Key)
		if err != nil {
			return nil, "", err
		}
		keys = append(keys, edKey)
	}
	k = domainKeys{updated: d.UpdatedAt, selector: d.DKIMSelector, keys: keys}
	w.keysMu.Lock()
	if w.keys == nil {
		w.keys = map[string]domainKeys{}
	}
	w.keys[d.ID] = k
	w.keysMu.Unlock()
	return k.keys, k.selector, nil
}

// Outcomes beyond the transports' three, used inside the worker.
const (
	failedOutcome     Outcome = store.OutcomeFailed
	suppressedOutcome Outcome = store.OutcomeSuppressed
	complainedOutcome Outcome = "complained" // test address: delivered, then a complaint
)

// simulate answers for a test-domain recipient as Resend's test addresses do.
func simulate(addr string) Result {
	local := strings.ToLower(addr[:strings.LastIndexByte(addr, '@')])
	base, _, labelled := strings.Cut(local, "+")
	r := Result{Recipient: addr, Host: "test", simulated: true}
	switch {
	case base == "bounced":
		r.Code, r.Enhanced, r.Message, r.Outcome = 550, "5.1.1", "Unknown User (test address)", Bounced
	case base == "complained":
		r.Code, r.Message, r.Outcome = 250, "OK (test address)", complainedOutcome
	case base == "suppressed" && !labelled:
		r.Message, r.Outcome = "The address is suppressed (test address)", suppressedOutcome
	default:
		r.Code, r.Message, r.Outcome = 250, "OK (test address)", Delivered
	}
	return r
}

// eventLog gathers the events of one attempt: one per type, naming the
// recipients it concerns.
type eventLog struct {
	email *store.Email
	order []string
	byTyp map[string]*pendingEvent
}

type pendingEvent struct {
	typ    string
	at     time.Time
	to     []string
	detail map[string]any
}

func (l *eventLog) add(typ string, at time.Time, to []string, detail map[string]any) {
	l.addAs(typ, typ, at, to, detail)
}

// addAs adds to the event kept under key, so that recipients of one type
// with different details (failures of different reasons) get an event each.
func (l *eventLog) addAs(key, typ string, at time.Time, to []string, detail map[string]any) {
	if l.byTyp == nil {
		l.byTyp = map[string]*pendingEvent{}
	}
	p, ok := l.byTyp[key]
	if !ok {
		p = &pendingEvent{typ: typ, at: at, detail: detail}
		l.byTyp[key] = p
		l.order = append(l.order, key)
	}
	p.to = append(p.to, to...)
}

func (l *eventLog) has(typ string) bool { _, ok := l.byTyp[typ]; return ok }

func (l *eventLog) result(addr string, r Result, at time.Time) {
	to := []string{addr}
	switch r.Outcome {
	case Delivered:
		l.add(store.EventDelivered, at, to, nil)
	case complainedOutcome:
		l.add(store.EventDelivered, at, to, nil)
		l.add(store.EventComplained, at, to, nil)
	case Deferred:
		l.add(store.EventDeliveryDelayed, at, to, nil)
	case Bounced:
		c := classify(r)
		msg, diag := bounceMessage(r, c), diagnostic(r)
		// Recipients with the same bounce share an event; each different
		// reply gets its own, so that every recipient's detail is kept.
		key := strings.Join([]string{store.EventBounced, string(c.Type), string(c.SubType), msg, diag}, "\x00")
		l.addAs(key, store.EventBounced, at, to, map[string]any{"bounce": events.Bounce(c, msg, diag)})
	case failedOutcome:
		reason := r.reason
		if reason == "" {
			reason = r.Message
		}
		l.addAs(store.EventFailed+"\x00"+reason, store.EventFailed, at, to, map[string]any{"failed": map[string]any{"reason": reason}})
	case suppressedOutcome:
		l.add(store.EventSuppressed, at, to, map[string]any{"suppressed": map[string]any{
			"message": r.Message, "type": "OnAccountSuppressionList", "reason": "previous_bounce",
		}})
	}
}

func (l *eventLog) events() []*store.EmailEvent {
	out := make([]*store.EmailEvent, 0, len(l.order))
	for _, key := range l.order {
		p := l.byTyp[key]
		data := map[string]any{}
		if len(p.to) > 0 {
			data["to"] = p.to
		}
		for k, v := range p.detail {
			data[k] = v
		}
		var raw json.RawMessage
		if len(data) > 0 {
			raw, _ = json.Marshal(data)
		}
		out = append(out, &store.EmailEvent{Type: p.typ, Data: raw, CreatedAt: p.at})
	}
	return out
}

// teamEvents are the attempt's events as webhook events (Resend's payloads).
func (l *eventLog) teamEvents() ([]*store.Event, error) {
	var out []*store.Event
	for _, key := range l.order {
		p := l.byTyp[key]
		ev, err := events.Email(p.typ, l.email, p.to, p.detail, p.at)
		if err != nil {
			return nil, err
		}
		if ev != nil {
			out = append(out, ev)
		}
	}
	return out, nil
}

// lastEvent is the email's last_event after an attempt: still delayed while
// any recipient is deferred; otherwise the most telling final outcome.
func lastEvent(states []*recipientState, ev *eventLog) string {
	has := map[string]bool{}
	for _, st := range states {
		has[st.outcome] = true
	}
	switch {
	case has[store.OutcomeDeferred]:
		return store.EventDeliveryDelayed
	case has[store.OutcomeBounced]:
		return store.EventBounced
	case has[store.OutcomeFailed]:
		return store.EventFailed
	case has[string(complainedOutcome)]:
		return store.EventComplained
	case has[store.OutcomeDelivered]:
		return store.EventDelivered
	case has[store.OutcomeSuppressed]:
		return store.EventSuppressed
	}
	if ev.has(store.EventSent) {
		return store.EventSent
	}
	return ""
}

// classify is the bounce class of a bounced result (internal/bounce). An
// email still deferred when it expired bounces as Transient, whatever the
// last reply said, and is never a recipient failure.
func classify(r Result) bounce.Class {
	c := bounce.Classify(r.Code, r.Enhanced, r.Message)
	if r.expired {
		c.RecipientFailure = false
		if c.Type != bounce.Transient {
			c.Type, c.SubType = bounce.Transient, bounce.General
		}
	}
	return c
}

// bounceMessage is the bounce object's message: what happened, in a
// sentence; the server's own words are in diagnosticCode.
func bounceMessage(r Result, c bounce.Class) string {
	switch {
	case r.expired:
		return "The message could not be delivered before it expired: " + r.Message
	case r.refused:
		return "The email was not sent: the recipient's mail server is on a non-public address, which this server does not deliver to."
	}
	return bounce.Message(c)
}

// diagnostic renders a result as a DSN Diagnostic-Code: "smtp; 550 5.1.1 …".
func diagnostic(r Result) string {
	if r.Code == 0 {
		return r.Message
	}
	s := fmt.Sprintf("smtp; %d", r.Code)
	if r.Enhanced != "" {
		s += " " + r.Enhanced
	}
	if r.Message != "" {
		s += " " + r.Message
	}
	return s
}
