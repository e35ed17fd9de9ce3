package queue

import (
	"context"
	"database/sql"
	"errors"
	"sync/atomic"
	"time"

	"github.com/riverqueue/river"

	"github.com/godwit/godwit/internal/store"
	"github.com/godwit/godwit/internal/store/sqlstore"
)

// ErrOutboxUnbound means a job was enqueued through an outbox before Open
// bound it to its queue: the store's write that made the job fails.
var ErrOutboxUnbound = errors.New("queue: outbox not bound to a queue yet (queue.Open binds it)")

// Outbox is the store's sqlstore.Outbox: it inserts River jobs in the
// store's transactions. The store is opened with it before the queue exists
// (River needs the store's database), so it starts unbound: NewOutbox, then
// sqlstore.Open with Options.Outbox, then Open with Config.Outbox, which
// binds it. Until then every enqueue fails with ErrOutboxUnbound.
type Outbox struct {
	client atomic.Pointer[river.Client[*sql.Tx]]
	// waker wakes the local workers after a commit (SQLite only; nil on
	// PostgreSQL, whose workers LISTEN).
	waker atomic.Pointer[wakePilot]
	// handoff keeps committed emails for the local workers (handoff.go;
	// nil on a node without delivery workers).
	handoff atomic.Pointer[handoff]
}

var _ sqlstore.CommitWaker = (*Outbox)(nil)

// JobsCommitted implements sqlstore.CommitWaker: on SQLite it wakes this
// node's idle workers of the kinds committed, so that a committed email
// reaches one at once rather than at the next poll (wake.go).
func (o *Outbox) JobsCommitted(deliveries, webhooks bool) {
	if p := o.waker.Load(); p != nil {
		p.wake(deliveries, webhooks)
	}
}

var _ sqlstore.Outbox = (*Outbox)(nil)

var _ sqlstore.EmailHandoff = (*Outbox)(nil)

// EmailsCommitted implements sqlstore.EmailHandoff: the emails are kept
// for this node's delivery workers, if it has any (handoff.go).
func (o *Outbox) EmailsCommitted(emails []*store.Email) {
	if h := o.handoff.Load(); h != nil {
		h.put(emails)
	}
}

// NewOutbox returns an unbound outbox.
func NewOutbox() *Outbox { return &Outbox{} }

func (o *Outbox) bind(c *river.Client[*sql.Tx]) error {
	if !o.client.CompareAndSwap(nil, c) {
		return errors.New("queue: outbox already bound to another queue")
	}
	return nil
}

func (o *Outbox) insert(ctx context.Context, tx *sql.Tx, params []river.InsertManyParams) error {
	c := o.client.Load()
	if c == nil {
		return ErrOutboxUnbound
	}
	_, err := c.InsertManyFastTx(ctx, tx, params)
	return err
}

// DeliverEmails implements sqlstore.Outbox: the emails to send at once
// share jobs of up to maxEmailsPerJob, marked Accepted; a scheduled email
// has a job of its own.
func (o *Outbox) DeliverEmails(ctx context.Context, tx *sql.Tx, emails []*store.Email) error {
	var params []river.InsertManyParams
	var now []string
	flush := func() {
		if len(now) > 0 {
			params = append(params, river.InsertManyParams{Args: DeliverArgs{EmailIDs: now, Accepted: true}, InsertOpts: &river.InsertOpts{Queue: deliverQueue}})
			now = nil
		}
	}
	for _, e := range emails {
		if at := e.ScheduledAt; at != nil {
			params = append(params, river.InsertManyParams{Args: DeliverArgs{EmailIDs: []string{e.ID}, At: at.UnixMicro()},
				InsertOpts: &river.InsertOpts{Queue: deliverQueue, ScheduledAt: *at}})
			continue
		}
		now = append(now, e.ID)
		if len(now) == maxEmailsPerJob {
			flush()
		}
	}
	flush()
	return o.insert(ctx, tx, params)
}

// RetryDeliveries implements sqlstore.Outbox: each retry is a job of its own.
func (o *Outbox) RetryDeliveries(ctx context.Context, tx *sql.Tx, retries []sqlstore.DeliveryRetry) error {
	params := make([]river.InsertManyParams, len(retries))
	for i, r := range retries {
		params[i] = river.InsertManyParams{Args: DeliverArgs{EmailIDs: []string{r.EmailID}},
			InsertOpts: &river.InsertOpts{Queue: deliverQueue, ScheduledAt: r.At}}
	}
	return o.insert(ctx, tx, params)
}

// PostWebhookMessages implements sqlstore.Outbox.
func (o *Outbox) PostWebhookMessages(ctx context.Context, tx *sql.Tx, posts []sqlstore.WebhookPost) error {
	params := make([]river.InsertManyParams, len(posts))
	for i, p := range posts {
		opts := &river.InsertOpts{Queue: webhookQueue, MaxAttempts: maxJobAttempts}
		if p.At != nil {
			opts.ScheduledAt = *p.At
		}
		params[i] = river.InsertManyParams{Args: WebhookArgs{MessageID: p.MessageID}, InsertOpts: opts}
	}
	return o.insert(ctx, tx, params)
}

// RunBroadcast implements sqlstore.Outbox.
func (o *Outbox) RunBroadcast(ctx context.Context, tx *sql.Tx, teamID, broadcastID string, at *time.Time) error {
	opts := &river.InsertOpts{Queue: broadcastQueue, MaxAttempts: maxJobAttempts}
	if at != nil {
		opts.ScheduledAt = *at
	}
	return o.insert(ctx, tx, []river.InsertManyParams{{Args: BroadcastArgs{BroadcastID: broadcastID, TeamID: teamID}, InsertOpts: opts}})
}

// RunContactImport implements sqlstore.Outbox.
func (o *Outbox) RunContactImport(ctx context.Context, tx *sql.Tx, teamID, importID string) error {
	return o.insert(ctx, tx, []river.InsertManyParams{{Args: ContactImportArgs{ImportID: importID, TeamID: teamID},
		InsertOpts: &river.InsertOpts{Queue: contactImportQueue, MaxAttempts: importMaxAttempts}}})
}

// RunAutomationSteps implements sqlstore.Outbox: each run step has a job
// of its own.
func (o *Outbox) RunAutomationSteps(ctx context.Context, tx *sql.Tx, jobs []store.StepJob) error {
	params := make([]river.InsertManyParams, len(jobs))
	for i, j := range jobs {
		opts := &river.InsertOpts{Queue: automationQueue, MaxAttempts: maxJobAttempts}
		if j.At != nil {
			opts.ScheduledAt = *j.At
		}
		params[i] = river.InsertManyParams{Args: AutomationStepArgs{StepID: j.StepID, RunID: j.RunID, TeamID: j.TeamID}, InsertOpts: opts}
	}
	return o.insert(ctx, tx, params)
}
