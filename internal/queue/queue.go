// Package queue runs Godwit's durable job queue: River, on the store's own
// database and connections, so that a delivery job is inserted in the same
// transaction as the email it delivers (the store's Outbox), and a 200
// from the API means both are committed.
//
// On SQLite River shares the store's single writing connection (only …Tx
// calls are made while a store transaction holds it) and polls, and the
// store wakes the workers of its own node after each commit that enqueued
// work (wake.go); on
// PostgreSQL it inserts through database/sql and listens on one extra pgx
// connection, so workers wake at commit.
//
// Jobs are small: email ids and, for scheduled emails, the time they were
// made for. The emails accepted in one commit share one job (River's
// per-job bookkeeping, not the delivery, dominated on SQLite), and the
// worker delivers them side by side; an email that must be retried gets a
// job of its own, committed with its outcome. The delivery worker decides
// everything else from the store, so a job may run twice (at-least-once)
// or outlive a reschedule or cancel harmlessly.
//
// Webhook messages, broadcasts, contact imports, automation steps and
// mailed TLS reports have jobs of their own,
// each on its own River queue and enqueued the same way, in the transaction
// that makes them (a posted message, a sent broadcast, a created import).
// The broadcast and import jobs resume from the progress committed with
// each of their chunks or batches, so they too may run twice.
package queue

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverdatabasesql"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivermigrate"
	"github.com/riverqueue/river/rivertype"

	"github.com/godwit/godwit/internal/automation"
	"github.com/godwit/godwit/internal/broadcast"
	"github.com/godwit/godwit/internal/contactimport"
	"github.com/godwit/godwit/internal/delivery"
	"github.com/godwit/godwit/internal/metrics"
	"github.com/godwit/godwit/internal/panics"
	"github.com/godwit/godwit/internal/store"
	"github.com/godwit/godwit/internal/store/sqlstore"
	"github.com/godwit/godwit/internal/tlsrpt"
	"github.com/godwit/godwit/internal/webhook"
)

// DeliverArgs is the delivery job.
type DeliverArgs struct {
	EmailIDs []string `json:"email_ids"`
	// At is the scheduled time (Unix microseconds) the job was made for; 0
	// for emails sent at once (or retried).
	At int64 `json:"at,omitempty"`
	// Accepted marks the job made with its emails when they were accepted
	// to send at once: its first run is their first attempt, and may take
	// them from the node's handoff (handoff.go).
	Accepted bool `json:"accepted,omitempty"`
}

// WebhookArgs is the job that posts one webhook message.
type WebhookArgs struct {
	MessageID string `json:"message_id"`
}

// Kind implements river.JobArgs.
func (WebhookArgs) Kind() string { return "webhook" }

const webhookQueue = "webhook"

// webhookWorkers bounds the webhook posts in flight on a node. The
// dispatcher's caps (webhook.Limits: 10 per team, 2 per endpoint) keep any
// one team to a tenth of them; messages over a cap snooze instead of
// waiting in a worker.
const webhookWorkers = 100

// BroadcastArgs is the job that sends a broadcast (at its scheduled time).
// It may run again after a crash: the sender resumes from the progress
// committed with each chunk.
type BroadcastArgs struct {
	BroadcastID string `json:"broadcast_id"`
	TeamID      string `json:"team_id"`
}

// Kind implements river.JobArgs.
func (BroadcastArgs) Kind() string { return "broadcast" }

const broadcastQueue = "broadcast"

// ContactImportArgs is the job that runs a contact import. It may run
// again after a crash: the importer resumes after the last batch
// committed.
type ContactImportArgs struct {
	ImportID string `json:"import_id"`
	TeamID   string `json:"team_id"`
}

// Kind implements river.JobArgs.
func (ContactImportArgs) Kind() string { return "contact_import" }

const contactImportQueue = "contact_import"

// importMaxAttempts bounds the runs of an import that fail with an error
// (store trouble); the import fails once the last has (about seven hours of
// River's backoff).
const importMaxAttempts = 10

// defaultImportWorkers is the imports run at once on a node by default.
const defaultImportWorkers = 2

// AutomationStepArgs is the job that runs one step record of an
// automation run (internal/automation). It may run twice: the engine moves
// the step on only from the status it found, in the transaction that
// enqueues what follows.
type AutomationStepArgs struct {
	StepID string `json:"step_id"`
	RunID  string `json:"run_id"`
	TeamID string `json:"team_id"`
}

// Kind implements river.JobArgs.
func (AutomationStepArgs) Kind() string { return "automation_step" }

const automationQueue = "automation"

// maxEmailsPerJob bounds the emails of one job.
const maxEmailsPerJob = 100

// Kind implements river.JobArgs.
func (DeliverArgs) Kind() string { return "deliver" }

const deliverQueue = "deliver"

// sqliteDeliverCooldown is the least time between two fetches of delivery
// jobs on SQLite (River's FetchCooldown; 10 ms for the other queues).
const sqliteDeliverCooldown = 25 * time.Millisecond

// sqlitePollInterval is how often the idle workers of the queues other than
// delivery (webhook, broadcast, contact import, automation, TLS report) look
// for jobs on SQLite (webhook messages also wake their workers, as
// deliveries do: wake.go). Every poll of every queue is a write on the one
// writing connection: at 50 ms four such queues cost an idle node 8% of a
// core and the accepts 80 turns of the connection a second.
const sqlitePollInterval = 200 * time.Millisecond

// maxJobAttempts bounds the runs that fail with an error (store trouble):
// deferrals snooze and do not count. River backs off between them.
const maxJobAttempts = 25

// Config tunes the queue.
type Config struct {
	// Outbox is the outbox db was opened with (sqlstore.Options.Outbox);
	// Open binds it to the queue. Required.
	Outbox *Outbox
	// Workers is the number of deliveries run at once; 0 makes an
	// insert-only queue (an API-only node).
	Workers int
	// JobTimeout bounds one delivery attempt (default 10 minutes). River
	// retries a job still running once it is twice this old (at most this
	// plus a minute): a backstop, since the jobs of a crashed node are
	// released within seconds (heartbeat.go; on SQLite, see Open).
	JobTimeout time.Duration
	// PostgresDSN is the store's PostgreSQL URL, for the listener connection.
	PostgresDSN string
	Logger      *slog.Logger
	// Time stubs River's clock in tests.
	Time rivertype.TimeGenerator
	// Webhooks posts webhook messages; nil: they are enqueued, and posted
	// by nodes that have one.
	Webhooks *webhook.Dispatcher
	// Broadcasts sends broadcasts; nil: their jobs are enqueued, and run
	// by nodes that have one.
	Broadcasts *broadcast.Sender
	// Imports runs contact imports, ImportWorkers at once (2 when 0); nil:
	// their jobs are enqueued, and run by nodes that have one.
	Imports       *contactimport.Importer
	ImportWorkers int
	// Automations runs automation run steps; nil: their jobs are enqueued,
	// and run by nodes that have one.
	Automations *automation.Engine
	// TLSReports mails TLS reports (RFC 8460 mailto: ruas); nil: their
	// jobs are enqueued, and run by nodes that have one.
	TLSReports *tlsrpt.Mailer
	// PollInterval is how often idle workers look for jobs without a
	// notification (SQLite always polls); 0 means 1 s on PostgreSQL, and on
	// SQLite 200 ms (sqlitePollInterval), except for the delivery queue, whose workers the store
	// wakes after each commit (wake.go): 1 s, a backstop for scheduled and
	// retried emails, as on PostgreSQL.
	PollInterval time.Duration
	// HeartbeatInterval is how often the node writes its heartbeat (1 s
	// when 0), and DeadAfter how old another node's heartbeat must be for
	// that node to count as dead (5 s when 0): see heartbeat.go.
	HeartbeatInterval time.Duration
	DeadAfter         time.Duration
	// Metrics counts the jobs of dead nodes this node releases (nil: not
	// counted).
	Metrics *metrics.Metrics
}

// Queue is the running River client.
type Queue struct {
	client   *river.Client[*sql.Tx]
	listener *pgxpool.Pool
	workers  int
	slots    chan struct{} // bounds the deliveries running at once across jobs
	handoff  *handoff      // emails committed on this node (nil without workers)
	log      *slog.Logger
	hb       *heartbeat
}

// Migrate applies River's migrations to the store's database.
func Migrate(ctx context.Context, db *sqlstore.DB, logger *slog.Logger) error {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	var err error
	switch db.Dialect() {
	case sqlstore.SQLite:
		var m *rivermigrate.Migrator[*sql.Tx]
		m, err = rivermigrate.New(riversqlite.New(db.Writer()), &rivermigrate.Config{Logger: quietLogger(logger)})
		if err == nil {
			_, err = m.Migrate(ctx, rivermigrate.DirectionUp, nil)
		}
	default:
		var m *rivermigrate.Migrator[*sql.Tx]
		m, err = rivermigrate.New(riverdatabasesql.New(db.Writer()), &rivermigrate.Config{Logger: quietLogger(logger)})
		if err == nil {
			_, err = m.Migrate(ctx, rivermigrate.DirectionUp, nil)
		}
	}
	if err != nil {
		return fmt.Errorf("queue migrations: %w", err)
	}
	return nil
}

// Open migrates River's tables, creates the client with w as the delivery
// worker, and binds cfg.Outbox (the store's) to it, so that the store's
// writes enqueue their jobs. Call Start to run the workers.
//
// On SQLite only one process serves a database file (app.Serve holds a lock
// on it), so jobs it finds running at start were left by a crash of the
// previous process; they are made available again at once. On PostgreSQL
// the nodes' heartbeats do that for the jobs of a node that died (see
// heartbeat.go).
func Open(ctx context.Context, db *sqlstore.DB, w *delivery.Worker, cfg Config) (*Queue, error) {
	if cfg.Outbox == nil {
		return nil, errors.New("queue: Config.Outbox is required: the outbox the store was opened with")
	}
	if err := Migrate(ctx, db, cfg.Logger); err != nil {
		return nil, err
	}
	logger := cfg.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	jobTimeout := cfg.JobTimeout
	if jobTimeout <= 0 {
		jobTimeout = 10 * time.Minute
	}
	rc := &river.Config{
		Logger:               quietLogger(logger),
		JobTimeout:           jobTimeout,
		RescueStuckJobsAfter: jobTimeout + min(jobTimeout, time.Minute),
		MaxAttempts:          maxJobAttempts,
		FetchCooldown:        10 * time.Millisecond,
		Test:                 river.TestConfig{Time: cfg.Time},
	}
	q := &Queue{workers: cfg.Workers, slots: make(chan struct{}, max(cfg.Workers, 1)), log: logger}
	q.hb = &heartbeat{db: db, node: newNodeID(), interval: cmpOr(cfg.HeartbeatInterval, defaultHeartbeatInterval),
		deadAfter: cmpOr(cfg.DeadAfter, defaultDeadAfter), rescue: db.Dialect() == sqlstore.Postgres, metrics: cfg.Metrics, logger: logger}
	rc.ID = q.hb.node
	if cfg.Workers > 0 {
		workers := river.NewWorkers()
		river.AddWorker(workers, &deliverWorker{w: w, q: q})
		rc.Queues = map[string]river.QueueConfig{deliverQueue: {MaxWorkers: cfg.Workers}}
		if cfg.Webhooks != nil {
			river.AddWorker(workers, &webhookWorker{d: cfg.Webhooks, q: q})
			rc.Queues[webhookQueue] = river.QueueConfig{MaxWorkers: webhookWorkers}
		}
		if cfg.Broadcasts != nil {
			river.AddWorker(workers, &broadcastWorker{s: cfg.Broadcasts, q: q})
			rc.Queues[broadcastQueue] = river.QueueConfig{MaxWorkers: 4}
		}
		if cfg.Imports != nil {
			river.AddWorker(workers, &importWorker{im: cfg.Imports, q: q})
			rc.Queues[contactImportQueue] = river.QueueConfig{MaxWorkers: cmpOr(cfg.ImportWorkers, defaultImportWorkers)}
		}
		if cfg.Automations != nil {
			river.AddWorker(workers, &automationWorker{e: cfg.Automations, q: q})
			rc.Queues[automationQueue] = river.QueueConfig{MaxWorkers: automationWorkers}
		}
		if cfg.TLSReports != nil {
			river.AddWorker(workers, &tlsReportWorker{m: cfg.TLSReports, q: q})
			rc.Queues[tlsReportQueue] = river.QueueConfig{MaxWorkers: 2}
		}
		rc.Workers = workers
	}
	var err error
	var pilot *wakePilot // SQLite: wakes the workers after a commit
	switch db.Dialect() {
	case sqlstore.SQLite:
		rc.PollOnly = true
		rc.FetchPollInterval = cmpOr(cfg.PollInterval, sqlitePollInterval)
		if qc, ok := rc.Queues[deliverQueue]; ok {
			// Each fetch is a write on SQLite's one writing connection, which
			// the API's accepts wait for: poll rarely (the store wakes the
			// workers) and fetch at most every sqliteDeliverCooldown, more
			// jobs at a time. An idle queue still fetches at once when woken.
			qc.FetchPollInterval = cmpOr(cfg.PollInterval, time.Second)
			qc.FetchCooldown = min(sqliteDeliverCooldown, qc.FetchPollInterval)
			rc.Queues[deliverQueue] = qc
		}
		if cfg.Workers > 0 {
			if err := releaseOrphans(ctx, db, cfg.Metrics, logger); err != nil {
				return nil, err
			}
		}
		pilot = &wakePilot{}
		q.client, err = river.NewClient(&wakingDriver{Driver: riversqlite.New(db.Writer()), pilot: pilot}, rc)
	default:
		rc.FetchPollInterval = cmpOr(cfg.PollInterval, time.Second)
		q.listener, err = listenerPool(ctx, cfg.PostgresDSN)
		if err != nil {
			return nil, err
		}
		q.client, err = river.NewClient(riverdatabasesql.NewWithPgxListener(db.Writer(), q.listener), rc)
	}
	if err != nil {
		q.close()
		return nil, fmt.Errorf("queue: %w", err)
	}
	if err := cfg.Outbox.bind(q.client); err != nil {
		q.close()
		return nil, err
	}
	if pilot != nil && cfg.Workers > 0 {
		cfg.Outbox.waker.Store(pilot)
	}
	if cfg.Workers > 0 {
		q.handoff = newHandoff(time.Now)
		cfg.Outbox.handoff.Store(q.handoff)
	}
	return q, nil
}

func cmpOr[T int | time.Duration](d, def T) T {
	if d > 0 {
		return d
	}
	return def
}

func listenerPool(ctx context.Context, dsn string) (*pgxpool.Pool, error) {
	if dsn == "" {
		return nil, errors.New("queue: PostgreSQL listener needs the database URL")
	}
	pc, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("queue: listener: %w", err)
	}
	pc.MaxConns = 1
	pool, err := pgxpool.NewWithConfig(ctx, pc)
	if err != nil {
		return nil, fmt.Errorf("queue: listener: %w", err)
	}
	return pool, nil
}

func (q *Queue) close() {
	if q.listener != nil {
		q.listener.Close()
	}
}

type importWorker struct {
	river.WorkerDefaults[ContactImportArgs]
	im *contactimport.Importer
	q  *Queue
}

// Work runs (or resumes) the import. When the job ends for good without
// the import ending (its last attempt failed, or it panicked), the import
// fails, so that it does not stay in_progress.
func (iw *importWorker) Work(ctx context.Context, job *river.Job[ContactImportArgs]) error {
	err := iw.q.untilPanic("contact import", "import_id", job.Args.ImportID, func() error {
		return iw.im.Run(ctx, job.Args.TeamID, job.Args.ImportID)
	})
	var cancel *river.JobCancelError
	if err != nil && (job.Attempt >= job.MaxAttempts || errors.As(err, &cancel)) && ctx.Err() == nil {
		iw.q.log.Error("contact import job gave up: the import fails", slog.String("import_id", job.Args.ImportID),
			slog.Int("attempt", job.Attempt), slog.String("error", err.Error()))
		if ferr := iw.im.Fail(ctx, job.Args.TeamID, job.Args.ImportID, "internal error"); ferr != nil {
			return errors.Join(err, ferr)
		}
	}
	return err
}

// automationWorkers bounds the run steps in flight on a node.
const automationWorkers = 20

type automationWorker struct {
	river.WorkerDefaults[AutomationStepArgs]
	e *automation.Engine
	q *Queue
}

// Work moves one run step on. A wake job that came early snoozes until
// its time; a panic cancels the job and leaves the step as it was (its
// run shows the step pending or waiting).
func (aw *automationWorker) Work(ctx context.Context, job *river.Job[AutomationStepArgs]) error {
	err := aw.q.untilPanic("automation step", "step_id", job.Args.StepID, func() error {
		return aw.e.Run(ctx, job.Args.StepID)
	})
	if notYet, ok := errors.AsType[*automation.NotYet](err); ok {
		return river.JobSnooze(notYet.After)
	}
	return err
}

type broadcastWorker struct {
	river.WorkerDefaults[BroadcastArgs]
	s *broadcast.Sender
	q *Queue
}

// Work sends (or resumes) the broadcast.
func (bw *broadcastWorker) Work(ctx context.Context, job *river.Job[BroadcastArgs]) error {
	return bw.q.untilPanic("broadcast", "broadcast_id", job.Args.BroadcastID, func() error {
		return bw.s.Send(ctx, job.Args.TeamID, job.Args.BroadcastID)
	})
}

type webhookWorker struct {
	river.WorkerDefaults[WebhookArgs]
	d *webhook.Dispatcher
	q *Queue
}

// Work makes one attempt; its retries are new jobs committed with its result.
// A message the dispatcher defers (its endpoint or team has posts enough in
// flight, or its breaker is open) snoozes: the job leaves the worker, keeps
// its place in the database, and does not count as an attempt.
func (ww *webhookWorker) Work(ctx context.Context, job *river.Job[WebhookArgs]) error {
	err := ww.q.untilPanic("webhook", "webhook_message_id", job.Args.MessageID, func() error {
		return ww.d.Deliver(ctx, job.Args.MessageID)
	})
	if deferred, ok := errors.AsType[*webhook.Deferred](err); ok {
		return river.JobSnooze(deferred.After)
	}
	return err
}

// untilPanic runs a job's work. A panic is logged with its stack and ends
// the job for good (river.JobCancel: it is not retried into the same panic);
// the item stays as the store last recorded it.
func (q *Queue) untilPanic(kind, idName, id string, work func() error) error {
	err := panics.Catch(work)
	var p *panics.Error
	if !errors.As(err, &p) {
		return err
	}
	q.log.Error(kind+" job panicked: it is canceled, not retried",
		append([]any{slog.String(idName, id)}, p.LogAttrs()...)...)
	return river.JobCancel(err)
}

// Start writes the node's first heartbeat, keeps writing them, and runs
// the workers (none for an insert-only queue).
func (q *Queue) Start(ctx context.Context) error {
	q.hb.start()
	if q.workers == 0 {
		return nil
	}
	if err := q.client.Start(ctx); err != nil {
		return fmt.Errorf("queue: start: %w", err)
	}
	q.log.Info("delivery started", slog.Int("workers", q.workers))
	return nil
}

// Stop lets running deliveries finish until ctx ends, then cancels them (a
// canceled delivery is retried: nothing is lost), and closes the listener.
func (q *Queue) Stop(ctx context.Context) error {
	defer q.close()
	defer q.hb.halt()
	if q.workers == 0 {
		return nil
	}
	err := q.client.Stop(ctx)
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		hard, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		err = q.client.StopAndCancel(hard)
	}
	if err == nil {
		q.log.Info("delivery stopped")
	}
	return err
}

type deliverWorker struct {
	river.WorkerDefaults[DeliverArgs]
	w *delivery.Worker
	q *Queue
}

// Work delivers the job's emails side by side (within the queue's limit of
// deliveries at once). An email deferred by the worker already has its
// retry job; one whose scheduled time has not come gets one here. A store
// error fails the job, and River runs it again: the emails it finished are
// final by then and are skipped.
func (dw *deliverWorker) Work(ctx context.Context, job *river.Job[DeliverArgs]) error {
	var at *time.Time
	if job.Args.At != 0 {
		t := time.UnixMicro(job.Args.At).UTC()
		at = &t
	}
	ids := job.Args.EmailIDs
	errs := make([]error, len(ids))
	var wg sync.WaitGroup
	for start := 0; start < len(ids); {
		// A slot for the next email, then whatever more are free now: the
		// emails read together are those about to be delivered, so a job
		// holds no more emails in memory than it has slots (100 jobs of
		// 100 emails read at once crowded the heap's limit).
		select {
		case dw.q.slots <- struct{}{}:
		case <-ctx.Done():
			for i := start; i < len(ids); i++ {
				errs[i] = ctx.Err()
			}
			start = len(ids)
			continue
		}
		n := 1
	more:
		for start+n < len(ids) && n < maxReadTogether {
			select {
			case dw.q.slots <- struct{}{}:
				n++
			default:
				break more
			}
		}
		base, chunk := start, ids[start:start+n]
		batch := dw.readTogether(ctx, job, at, chunk)
		for i, id := range chunk {
			wg.Go(func() {
				defer func() { <-dw.q.slots }()
				errs[base+i] = dw.deliverOne(ctx, job, at, id, batch)
			})
		}
		start += n
	}
	wg.Wait()
	return errors.Join(errs...)
}

// maxReadTogether bounds the emails of a job read in one query.
const maxReadTogether = 32

// readTogether reads an immediate job's emails of chunk with their domains
// and suppressions (a scheduled job's are read as their time comes); the
// first run of a job made at accept takes those it can from the node's
// handoff instead. Nil if there is only one to read, or if that fails:
// then each delivery reads its own.
func (dw *deliverWorker) readTogether(ctx context.Context, job *river.Job[DeliverArgs], at *time.Time, chunk []string) *delivery.Batch {
	if at != nil {
		return nil
	}
	var fresh []*store.Email
	read := chunk
	if job.Args.Accepted && job.Attempt == 1 && dw.q.handoff != nil {
		fresh, read = dw.q.handoff.take(chunk)
	}
	if len(fresh) == 0 && len(read) < 2 {
		return nil
	}
	var batch *delivery.Batch
	if err := panics.Catch(func() error {
		var err error
		batch, err = dw.w.ReadBatch(ctx, read, fresh)
		return err
	}); err != nil {
		dw.q.log.Warn("delivery job: reading its emails together failed; each is read on its own",
			slog.Int64("job_id", job.ID), slog.Any("err", err))
		return nil
	}
	return batch
}

// deliverOne delivers one email of the job.
func (dw *deliverWorker) deliverOne(ctx context.Context, job *river.Job[DeliverArgs], at *time.Time, id string, batch *delivery.Batch) error {
	// Deliver recovers its own panics and fails the email; this is the
	// last line, for a panic outside it: the job fails and River retries
	// it, and no goroutine of a job can stop the process.
	err := panics.Catch(func() error {
		return dw.w.Deliver(ctx, delivery.Job{EmailID: id, At: at, Attempt: job.Attempt, Batch: batch})
	})
	var retry *delivery.Retry
	if errors.As(err, &retry) {
		err = nil
		if !retry.Enqueued {
			err = dw.q.retryLater(ctx, id, at, retry.After)
		}
	}
	return err
}

// retryLater inserts a job for one email of a scheduled job that ran early
// (the clocks of the node that ran it and of the one that accepted it
// disagree), to run after the delay.
func (q *Queue) retryLater(ctx context.Context, emailID string, at *time.Time, after time.Duration) error {
	args := DeliverArgs{EmailIDs: []string{emailID}}
	when := time.Now().Add(after)
	if at != nil {
		args.At = at.UnixMicro()
	}
	_, err := q.client.Insert(ctx, args, &river.InsertOpts{Queue: deliverQueue, ScheduledAt: when})
	return err
}
