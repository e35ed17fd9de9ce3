package queue_test

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/godwit/godwit/internal/delivery"
	"github.com/godwit/godwit/internal/godwittest"
	"github.com/godwit/godwit/internal/metrics"
	"github.com/godwit/godwit/internal/queue"
	"github.com/godwit/godwit/internal/store"
	"github.com/godwit/godwit/internal/store/sqlstore"
)

// openUnstarted opens a store and a queue whose workers are not running
// yet, so that a test can leave jobs as a crash would before they start.
func openUnstarted(t *testing.T, kind sqlstore.Dialect, dsn string, cfg queue.Config) (*env, *queue.Queue) {
	t.Helper()
	ctx := context.Background()
	clock := godwittest.NewClock(t0)
	cfg.Outbox = queue.NewOutbox()
	db, err := sqlstore.Open(ctx, dsn, sqlstore.Options{Now: clock.Now, Outbox: cfg.Outbox})
	require.NoError(t, err)
	t.Cleanup(func() { _ = db.Close() })
	w := &delivery.Worker{Store: db, TestDomain: "resend.dev", Now: clock.Now}
	cfg.Time, cfg.PollInterval = riverClock{clock}, 20*time.Millisecond
	if kind == sqlstore.Postgres {
		cfg.PostgresDSN = dsn
	}
	q, err := queue.Open(ctx, db, w, cfg)
	require.NoError(t, err)
	team := &store.Team{ID: uuid.NewString(), Name: "t-" + uuid.NewString(), CreatedAt: t0}
	require.NoError(t, db.CreateTeam(ctx, team))
	return &env{t: t, clock: clock, db: db, team: team}, q
}

func startQueue(t *testing.T, q *queue.Queue) {
	t.Helper()
	require.NoError(t, q.Start(context.Background()))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		require.NoError(t, q.Stop(ctx))
	})
}

// markRunning leaves the email's job as a node that died while running it
// would: running, attempted by node, with attempt and max_attempts.
func (e *env) markRunning(em *store.Email, node string, attempt, maxAttempts int) {
	e.t.Helper()
	var q string
	if e.db.Dialect() == sqlstore.Postgres {
		q = `UPDATE river_job SET state = 'running', attempt = $1, max_attempts = $2, attempted_at = now(),
			attempted_by = ARRAY[$3::text] WHERE args->'email_ids' ? $4`
	} else {
		q = `UPDATE river_job SET state = 'running', attempt = ?, max_attempts = ?, attempted_at = datetime('now', 'subsec'),
			attempted_by = jsonb_array(?) WHERE EXISTS (SELECT 1 FROM json_each(json_extract(args, '$.email_ids')) WHERE value = ?)`
	}
	res, err := e.db.Writer().ExecContext(context.Background(), q, attempt, maxAttempts, node, em.ID)
	require.NoError(e.t, err)
	n, err := res.RowsAffected()
	require.NoError(e.t, err)
	require.EqualValues(e.t, 1, n)
}

// rescueCounts is what a node's metrics say it rescued: jobs by kind, and
// the emails of the delivery jobs.
func rescueCounts(t *testing.T, reg *prometheus.Registry) (map[string]float64, float64) {
	t.Helper()
	fams, err := reg.Gather()
	require.NoError(t, err)
	jobs, emails := map[string]float64{}, 0.0
	for _, f := range fams {
		switch f.GetName() {
		case "godwit_jobs_rescued_total":
			for _, m := range f.GetMetric() {
				if v := m.GetCounter().GetValue(); v > 0 {
					jobs[m.GetLabel()[0].GetValue()] = v
				}
			}
		case "godwit_delivery_emails_rescued_total":
			emails = f.GetMetric()[0].GetCounter().GetValue()
		}
	}
	return jobs, emails
}

// TestJobKindsAreTheMetricsLabels: the kind label of the rescue metric
// lists every job kind of the queue.
func TestJobKindsAreTheMetricsLabels(t *testing.T) {
	t.Parallel()
	require.Equal(t, metrics.JobKinds, []string{queue.DeliverArgs{}.Kind(), queue.WebhookArgs{}.Kind(),
		queue.BroadcastArgs{}.Kind(), queue.ContactImportArgs{}.Kind(), queue.AutomationStepArgs{}.Kind()})
}

func (e *env) jobState(em *store.Email) string {
	e.t.Helper()
	var q string
	if e.db.Dialect() == sqlstore.Postgres {
		q = `SELECT state FROM river_job WHERE args->'email_ids' ? $1`
	} else {
		q = `SELECT state FROM river_job WHERE EXISTS (SELECT 1 FROM json_each(json_extract(args, '$.email_ids')) WHERE value = ?)`
	}
	var state string
	require.NoError(e.t, e.db.Writer().QueryRowContext(context.Background(), q, em.ID).Scan(&state))
	return state
}

// TestCrashedProcessJobsAreReleased: on SQLite, the jobs a killed process
// left running are run again as soon as the next process starts (not after
// River's rescue delay of over ten minutes), and a job that has used all
// its attempts is discarded instead.
func TestCrashedProcessJobsAreReleased(t *testing.T) {
	t.Parallel()
	dsn := godwittest.StoreURL(t, sqlstore.SQLite)
	e, _ := openUnstarted(t, sqlstore.SQLite, dsn, queue.Config{Workers: 10})
	orphan := e.accept("delivered@resend.dev", nil)
	poison := e.accept("delivered+p@resend.dev", nil)
	e.markRunning(orphan, "crashed_node", 1, 25)
	e.markRunning(poison, "crashed_node", 25, 25)
	require.NoError(t, e.db.Close())

	// The next process (the lock file is app.Serve's; here there is one).
	reg, logs := prometheus.NewRegistry(), &godwittest.LogBuffer{}
	e2, q := openUnstarted(t, sqlstore.SQLite, dsn, queue.Config{Workers: 10, Metrics: metrics.New(reg),
		Logger: slog.New(slog.NewJSONHandler(logs, nil))})
	startQueue(t, q)
	e2.team = e.team
	e2.waitFor(orphan, store.EventDelivered, 5*time.Second)
	require.Equal(t, "discarded", e2.jobState(poison))
	require.Equal(t, store.EventQueued, e2.last(poison))
	require.NoError(t, q.Writable())

	// Counted: the released job and its email (the bound on duplicates);
	// the discarded one runs no more, so it cannot duplicate anything.
	jobs, emails := rescueCounts(t, reg)
	require.Equal(t, map[string]float64{"deliver": 1}, jobs)
	require.Equal(t, 1.0, emails)
	recs := logs.Records(t, "jobs left running by a crash are available again")
	require.Len(t, recs, 1)
	require.Equal(t, map[string]any{"jobs": 1.0, "jobs_deliver": 1.0, "emails": 1.0, "discarded": 1.0},
		map[string]any{"jobs": recs[0]["jobs"], "jobs_deliver": recs[0]["jobs_deliver"], "emails": recs[0]["emails"], "discarded": recs[0]["discarded"]})
}

// TestDeadNodesJobsAreRescued: on PostgreSQL, a node whose heartbeat is
// older than DeadAfter is dead; a survivor makes the jobs it was running
// available within seconds and removes its heartbeat. A live node's
// running jobs are left alone.
func TestDeadNodesJobsAreRescued(t *testing.T) {
	t.Parallel()
	dsn := godwittest.StoreURL(t, sqlstore.Postgres)
	reg, logs := prometheus.NewRegistry(), &godwittest.LogBuffer{}
	e, q := openUnstarted(t, sqlstore.Postgres, dsn, queue.Config{Workers: 10, Metrics: metrics.New(reg),
		Logger:            slog.New(slog.NewJSONHandler(logs, nil)),
		HeartbeatInterval: 50 * time.Millisecond, DeadAfter: 500 * time.Millisecond})
	ctx := context.Background()
	orphan := e.accept("delivered@resend.dev", nil)
	held := e.accept("delivered+held@resend.dev", nil)
	e.markRunning(orphan, "dead_node", 1, 25)
	e.markRunning(held, "live_node", 1, 25)
	// dead_node last beat a minute ago; live_node's beat stays in the future.
	_, err := e.db.Writer().ExecContext(ctx, `INSERT INTO node_heartbeats (node_id, beat_at) VALUES
		('dead_node', (extract(epoch FROM now()) * 1000000)::bigint - 60000000),
		('live_node', (extract(epoch FROM now()) * 1000000)::bigint + 3600000000)`)
	require.NoError(t, err)

	start := time.Now()
	startQueue(t, q)
	e.waitFor(orphan, store.EventDelivered, 5*time.Second)
	t.Logf("a dead node's job delivered %s after a survivor started", time.Since(start).Round(time.Millisecond))

	var nodes []string
	rows, err := e.db.Writer().QueryContext(ctx, `SELECT node_id FROM node_heartbeats ORDER BY node_id`)
	require.NoError(t, err)
	for rows.Next() {
		var n string
		require.NoError(t, rows.Scan(&n))
		nodes = append(nodes, n)
	}
	require.NoError(t, rows.Err())
	require.ElementsMatch(t, []string{"live_node", q.NodeID()}, nodes)
	require.Equal(t, "running", e.jobState(held))
	require.Equal(t, store.EventQueued, e.last(held))
	require.NoError(t, q.Writable())

	// Counted once, with the dead node named in the log; the live node's
	// job is not.
	jobs, emails := rescueCounts(t, reg)
	require.Equal(t, map[string]float64{"deliver": 1}, jobs)
	require.Equal(t, 1.0, emails)
	recs := logs.Records(t, "a node stopped heartbeating: its running jobs are available again")
	require.Len(t, recs, 1)
	require.Equal(t, "dead_node", recs[0]["node"])
	require.Equal(t, 1.0, recs[0]["emails"])
}
