package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/godwit/godwit/internal/store"
)

// ErrNoOutbox means a write had a job to enqueue and the store was opened
// without an outbox (Options.Outbox nil, or NoOutbox): the write is refused
// and nothing of it is committed, rather than committed without its job.
var ErrNoOutbox = errors.New("sqlstore: no outbox: this store cannot enqueue jobs")

// Outbox enqueues the jobs that the store's writes make, inside the store's
// own transaction tx, so that a row and its job commit together or not at
// all (the job queue provides it: queue.Outbox). An error aborts the write.
//
// Every method is called only with something to enqueue, and may be called
// by several committers at once.
type Outbox interface {
	// DeliverEmails enqueues the delivery of emails accepted or rescheduled
	// in tx: each at its ScheduledAt, or at once when that is nil. Only the
	// emails' ID, TeamID and ScheduledAt are set.
	DeliverEmails(ctx context.Context, tx *sql.Tx, emails []*store.Email) error
	// RetryDeliveries enqueues another delivery attempt of each email at
	// its time (a deferred delivery, recorded in tx).
	RetryDeliveries(ctx context.Context, tx *sql.Tx, retries []DeliveryRetry) error
	// PostWebhookMessages enqueues the posting of each webhook message at
	// its time (nil: at once).
	PostWebhookMessages(ctx context.Context, tx *sql.Tx, posts []WebhookPost) error
	// RunBroadcast enqueues the sending of a broadcast at at (nil: at once).
	RunBroadcast(ctx context.Context, tx *sql.Tx, teamID, broadcastID string, at *time.Time) error
	// RunContactImport enqueues the run of a contact import created queued
	// in tx.
	RunContactImport(ctx context.Context, tx *sql.Tx, teamID, importID string) error
	// RunAutomationSteps enqueues the job of each automation run step at
	// its time (nil: at once).
	RunAutomationSteps(ctx context.Context, tx *sql.Tx, jobs []store.StepJob) error
	// MailTLSReports enqueues the mailing of each TLS report message (to a
	// mailto: rua), at once.
	MailTLSReports(ctx context.Context, tx *sql.Tx, mails []store.TLSReportMail) error
}

// DeliveryRetry is an email's next delivery attempt, at At.
type DeliveryRetry struct {
	EmailID string
	TeamID  string
	At      time.Time
}

// WebhookPost is a webhook message to post at At (nil: at once).
type WebhookPost struct {
	MessageID string
	At        *time.Time
}

// NoOutbox is the outbox of a store that never enqueues (the CLI's key,
// team and migrate commands): every enqueue fails with ErrNoOutbox. A nil
// Options.Outbox is the same.
var NoOutbox Outbox = noOutbox{}

type noOutbox struct{}

func (noOutbox) DeliverEmails(context.Context, *sql.Tx, []*store.Email) error { return ErrNoOutbox }
func (noOutbox) RetryDeliveries(context.Context, *sql.Tx, []DeliveryRetry) error {
	return ErrNoOutbox
}
func (noOutbox) PostWebhookMessages(context.Context, *sql.Tx, []WebhookPost) error {
	return ErrNoOutbox
}
func (noOutbox) RunBroadcast(context.Context, *sql.Tx, string, string, *time.Time) error {
	return ErrNoOutbox
}
func (noOutbox) RunContactImport(context.Context, *sql.Tx, string, string) error { return ErrNoOutbox }
func (noOutbox) RunAutomationSteps(context.Context, *sql.Tx, []store.StepJob) error {
	return ErrNoOutbox
}
func (noOutbox) MailTLSReports(context.Context, *sql.Tx, []store.TLSReportMail) error {
	return ErrNoOutbox
}

// CommitWaker is an optional interface of an Outbox: JobsCommitted is
// called after a transaction that enqueued jobs to run at once (accepted
// emails, webhook messages of recorded events) has committed, naming which
// kinds, so that a queue that polls for work (River on SQLite) can wake its
// workers on this node at once instead of at their next poll. It must not
// block.
type CommitWaker interface {
	JobsCommitted(deliveries, webhooks bool)
}

// EmailHandoff is an optional interface of an Outbox: after a transaction
// that enqueued emails to deliver at once has committed, EmailsCommitted
// receives them as GetEmailsForDelivery would read them back, so that a
// delivery worker of this node can start them without that read. A few
// are not handed over (asRead: with attachments, for one). Each email is a
// copy of its own, handed over once; EmailsCommitted must not block.
type EmailHandoff interface {
	EmailsCommitted(emails []*store.Email)
}

// What the transaction being committed enqueued to run at once (db.wake).
const (
	wakeDeliveries = 1 << iota
	wakeWebhooks
)

// enqueued notes that the current transaction enqueued jobs of kind (a
// wake… bit) to run at once.
func (db *DB) enqueued(kind uint32) { db.wake.Or(kind) }

// jobsCommitted tells the outbox, if it wants to know, which kinds of jobs
// to run at once were committed. The bits are the store's, not the
// transaction's: with SQLite's single writing connection transactions run
// one after another, and a bit set by the next one only wakes the workers
// early (their fetch waits for the connection, so for its commit); the
// outbox of PostgreSQL, which listens, takes no wake-ups.
func (db *DB) jobsCommitted() {
	w, ok := db.outbox.(CommitWaker)
	if !ok {
		return
	}
	if kinds := db.wake.Swap(0); kinds != 0 {
		w.JobsCommitted(kinds&wakeDeliveries != 0, kinds&wakeWebhooks != 0)
	}
}

// Outbox returns the outbox the store was opened with (NoOutbox for none).
func (db *DB) Outbox() Outbox { return db.outbox }

// deliverTx enqueues the delivery of emails in tx.
func (db *DB) deliverTx(ctx context.Context, tx *sql.Tx, emails []*store.Email) error {
	if len(emails) == 0 {
		return nil
	}
	if err := db.outbox.DeliverEmails(ctx, tx, emails); err != nil {
		return fmt.Errorf("enqueue delivery: %w", err)
	}
	for _, e := range emails {
		if e.ScheduledAt == nil {
			db.enqueued(wakeDeliveries)
			break
		}
	}
	if fresh, ok := ctx.Value(handoffKey{}).(*[]*store.Email); ok {
		for _, e := range emails {
			if c, ok := asRead(e); ok {
				*fresh = append(*fresh, c)
			}
		}
	}
	return nil
}

// handoffKey is the context key of the emails a writeTx transaction hands
// over once committed (EmailHandoff): set only when the outbox takes them.
type handoffKey struct{}

// withHandoff returns ctx carrying a list for the emails the transaction
// run in it enqueues to deliver at once, if the outbox takes them.
func (db *DB) withHandoff(ctx context.Context) (context.Context, *[]*store.Email) {
	if _, ok := db.outbox.(EmailHandoff); !ok {
		return ctx, nil
	}
	fresh := new([]*store.Email)
	return context.WithValue(ctx, handoffKey{}, fresh), fresh
}

// handOff gives the outbox the emails a committed transaction enqueued.
func (db *DB) handOff(fresh *[]*store.Email) {
	if fresh == nil || len(*fresh) == 0 {
		return
	}
	db.outbox.(EmailHandoff).EmailsCommitted(*fresh)
}

// postTx enqueues the posting of webhook messages in tx.
func (db *DB) postTx(ctx context.Context, tx *sql.Tx, posts []WebhookPost) error {
	if len(posts) == 0 {
		return nil
	}
	if err := db.outbox.PostWebhookMessages(ctx, tx, posts); err != nil {
		return fmt.Errorf("enqueue webhook messages: %w", err)
	}
	for _, p := range posts {
		if p.At == nil {
			db.enqueued(wakeWebhooks)
			break
		}
	}
	return nil
}

// runBroadcastTx enqueues a broadcast's send in tx.
func (db *DB) runBroadcastTx(ctx context.Context, tx *sql.Tx, teamID, id string, at *time.Time) error {
	if err := db.outbox.RunBroadcast(ctx, tx, teamID, id, at); err != nil {
		return fmt.Errorf("enqueue broadcast: %w", err)
	}
	return nil
}
