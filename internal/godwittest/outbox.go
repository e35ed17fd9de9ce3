package godwittest

import (
	"context"
	"database/sql"
	"sync"
	"testing"
	"time"

	"github.com/godwit/godwit/internal/store"
	"github.com/godwit/godwit/internal/store/sqlstore"
)

// Outbox is a sqlstore.Outbox for tests of the store without a job queue:
// it enqueues nothing, and calls the hook of each kind of job when one is
// set, inside the store's transaction (a hook's error aborts the write, as
// a failing queue's would). Hooks may be set at any time; they are read
// under a lock.
type Outbox struct {
	mu          sync.Mutex
	onDeliver   func(ctx context.Context, tx *sql.Tx, emails []*store.Email) error
	onRetry     func(ctx context.Context, tx *sql.Tx, retries []sqlstore.DeliveryRetry) error
	onWebhook   func(ctx context.Context, tx *sql.Tx, posts []sqlstore.WebhookPost) error
	onBroadcast func(ctx context.Context, tx *sql.Tx, teamID, broadcastID string, at *time.Time) error
	onImport    func(ctx context.Context, tx *sql.Tx, teamID, importID string) error
	onSteps     func(ctx context.Context, tx *sql.Tx, jobs []store.StepJob) error
	onTLSMail   func(ctx context.Context, tx *sql.Tx, mails []store.TLSReportMail) error
	onHandoff   func(emails []*store.Email)
}

var _ sqlstore.Outbox = (*Outbox)(nil)

// NewOutbox returns an outbox without hooks: every enqueue succeeds and
// does nothing.
func NewOutbox() *Outbox { return &Outbox{} }

// OutboxOf returns the test outbox db was opened with (by NewStore, or with
// Options.Outbox set to a NewOutbox); the test fails if it has another.
func OutboxOf(t testing.TB, db *sqlstore.DB) *Outbox {
	t.Helper()
	o, ok := db.Outbox().(*Outbox)
	if !ok {
		t.Fatalf("the store's outbox is a %T, not a godwittest.Outbox", db.Outbox())
	}
	return o
}

// OnDeliver sets the hook of delivery jobs (accepted and rescheduled emails).
func (o *Outbox) OnDeliver(f func(ctx context.Context, tx *sql.Tx, emails []*store.Email) error) {
	o.mu.Lock()
	o.onDeliver = f
	o.mu.Unlock()
}

// OnRetry sets the hook of delivery retries.
func (o *Outbox) OnRetry(f func(ctx context.Context, tx *sql.Tx, retries []sqlstore.DeliveryRetry) error) {
	o.mu.Lock()
	o.onRetry = f
	o.mu.Unlock()
}

// OnWebhook sets the hook of webhook message posts.
func (o *Outbox) OnWebhook(f func(ctx context.Context, tx *sql.Tx, posts []sqlstore.WebhookPost) error) {
	o.mu.Lock()
	o.onWebhook = f
	o.mu.Unlock()
}

// OnBroadcast sets the hook of broadcast sends.
func (o *Outbox) OnBroadcast(f func(ctx context.Context, tx *sql.Tx, teamID, broadcastID string, at *time.Time) error) {
	o.mu.Lock()
	o.onBroadcast = f
	o.mu.Unlock()
}

// OnContactImport sets the hook of contact import runs.
func (o *Outbox) OnContactImport(f func(ctx context.Context, tx *sql.Tx, teamID, importID string) error) {
	o.mu.Lock()
	o.onImport = f
	o.mu.Unlock()
}

// OnHandoff sets the hook that receives the emails handed over after their
// commit (sqlstore.EmailHandoff).
func (o *Outbox) OnHandoff(f func(emails []*store.Email)) {
	o.mu.Lock()
	o.onHandoff = f
	o.mu.Unlock()
}

var _ sqlstore.EmailHandoff = (*Outbox)(nil)

// EmailsCommitted implements sqlstore.EmailHandoff.
func (o *Outbox) EmailsCommitted(emails []*store.Email) {
	o.mu.Lock()
	f := o.onHandoff
	o.mu.Unlock()
	if f != nil {
		f(emails)
	}
}

// DeliverEmails implements sqlstore.Outbox.
func (o *Outbox) DeliverEmails(ctx context.Context, tx *sql.Tx, emails []*store.Email) error {
	o.mu.Lock()
	f := o.onDeliver
	o.mu.Unlock()
	if f == nil {
		return nil
	}
	return f(ctx, tx, emails)
}

// RetryDeliveries implements sqlstore.Outbox.
func (o *Outbox) RetryDeliveries(ctx context.Context, tx *sql.Tx, retries []sqlstore.DeliveryRetry) error {
	o.mu.Lock()
	f := o.onRetry
	o.mu.Unlock()
	if f == nil {
		return nil
	}
	return f(ctx, tx, retries)
}

// PostWebhookMessages implements sqlstore.Outbox.
func (o *Outbox) PostWebhookMessages(ctx context.Context, tx *sql.Tx, posts []sqlstore.WebhookPost) error {
	o.mu.Lock()
	f := o.onWebhook
	o.mu.Unlock()
	if f == nil {
		return nil
	}
	return f(ctx, tx, posts)
}

// RunBroadcast implements sqlstore.Outbox.
func (o *Outbox) RunBroadcast(ctx context.Context, tx *sql.Tx, teamID, broadcastID string, at *time.Time) error {
	o.mu.Lock()
	f := o.onBroadcast
	o.mu.Unlock()
	if f == nil {
		return nil
	}
	return f(ctx, tx, teamID, broadcastID, at)
}

// RunContactImport implements sqlstore.Outbox.
func (o *Outbox) RunContactImport(ctx context.Context, tx *sql.Tx, teamID, importID string) error {
	o.mu.Lock()
	f := o.onImport
	o.mu.Unlock()
	if f == nil {
		return nil
	}
	return f(ctx, tx, teamID, importID)
}

// OnAutomationSteps sets the hook of automation run step jobs.
func (o *Outbox) OnAutomationSteps(f func(ctx context.Context, tx *sql.Tx, jobs []store.StepJob) error) {
	o.mu.Lock()
	o.onSteps = f
	o.mu.Unlock()
}

// RunAutomationSteps implements sqlstore.Outbox.
func (o *Outbox) RunAutomationSteps(ctx context.Context, tx *sql.Tx, jobs []store.StepJob) error {
	o.mu.Lock()
	f := o.onSteps
	o.mu.Unlock()
	if f == nil {
		return nil
	}
	return f(ctx, tx, jobs)
}

// OnTLSReportMail sets the hook of TLS report mail jobs.
func (o *Outbox) OnTLSReportMail(f func(ctx context.Context, tx *sql.Tx, mails []store.TLSReportMail) error) {
	o.mu.Lock()
	o.onTLSMail = f
	o.mu.Unlock()
}

// MailTLSReports implements sqlstore.Outbox.
func (o *Outbox) MailTLSReports(ctx context.Context, tx *sql.Tx, mails []store.TLSReportMail) error {
	o.mu.Lock()
	f := o.onTLSMail
	o.mu.Unlock()
	if f == nil {
		return nil
	}
	return f(ctx, tx, mails)
}
