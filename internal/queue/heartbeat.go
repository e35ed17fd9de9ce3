package queue

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/godwit/godwit/internal/metrics"
	"github.com/godwit/godwit/internal/store"
	"github.com/godwit/godwit/internal/store/sqlstore"
)

// # Heartbeats
//
// Every serve process writes a heartbeat row (its River client id) every
// HeartbeatInterval. The write is the node's probe of the store: its last
// result is what Writable (and so /readyz) reports, without a write per
// request. On PostgreSQL it is also how nodes tell that one of them died: a
// node whose heartbeat is older than DeadAfter is dead, and the first
// survivor to notice deletes its row and makes the jobs it was running
// (River records the client that runs a job last in attempted_by) available
// again at once, instead of after River's rescuer's hour-scale wait. A node
// that was only paused past DeadAfter and comes back finishes the jobs it
// holds while another runs them too: delivery is at-least-once either way.
//
// On SQLite one process owns the database (see Open): the jobs it finds
// running at start are its predecessor's and are released then.

const (
	defaultHeartbeatInterval = time.Second
	defaultDeadAfter         = 5 * time.Second
)

// heartbeat is the node's heartbeat loop and its last result.
type heartbeat struct {
	db        *sqlstore.DB
	node      string
	interval  time.Duration
	deadAfter time.Duration
	rescue    bool // PostgreSQL: release the jobs of dead nodes
	metrics   *metrics.Metrics
	logger    *slog.Logger

	mu      sync.Mutex
	lastErr error
	lastOK  time.Time

	stop chan struct{}
	done chan struct{}
}

// newNodeID is the River client id of this process: the host name (as
// River's default) and random bits, unique among nodes on one database.
func newNodeID() string {
	host, _ := os.Hostname()
	host = strings.NewReplacer(".", "_", "-", "_", ":", "_").Replace(host)
	if host == "" {
		host = "unknown_host"
	}
	if len(host) > 60 {
		host = host[:60]
	}
	var b [6]byte
	_, _ = rand.Read(b[:])
	return host + "_" + hex.EncodeToString(b[:])
}

func (h *heartbeat) start() {
	h.stop, h.done = make(chan struct{}), make(chan struct{})
	h.beat() // readiness is known before the node takes work
	go func() {
		defer close(h.done)
		t := time.NewTicker(h.interval)
		defer t.Stop()
		for {
			select {
			case <-h.stop:
				return
			case <-t.C:
				h.beat()
			}
		}
	}()
}

// halt ends the loop and removes the node's row: a node that stopped
// cleanly has left nothing running to rescue.
func (h *heartbeat) halt() {
	if h.stop == nil {
		return
	}
	close(h.stop)
	<-h.done
	h.stop = nil
	ctx, cancel := context.WithTimeout(context.Background(), h.interval)
	defer cancel()
	if err := h.db.DeleteHeartbeat(ctx, h.node); err != nil {
		h.logger.Warn("could not remove this node's heartbeat", slog.String("error", err.Error()))
	}
}

func (h *heartbeat) beat() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*h.interval)
	defer cancel()
	err := h.db.Heartbeat(ctx, h.node)
	h.mu.Lock()
	prev := h.lastErr
	h.lastErr = err
	if err == nil {
		h.lastOK = time.Now()
	}
	h.mu.Unlock()
	switch {
	case err != nil && (prev == nil || prev.Error() != err.Error()):
		h.logger.Error("the store cannot write: not ready", slog.String("error", err.Error()),
			slog.Bool("no_space", store.IsNoSpace(err)))
	case err == nil && prev != nil:
		h.logger.Info("the store writes again: ready")
	}
	if err == nil && h.rescue {
		if err := h.rescueDead(ctx); err != nil {
			h.logger.Warn("releasing the jobs of dead nodes failed", slog.String("error", err.Error()))
		}
	}
}

// writable reports the last heartbeat's result: nil if it was written
// within deadAfter.
func (h *heartbeat) writable() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	switch {
	case h.lastErr != nil:
		return h.lastErr
	case h.lastOK.IsZero():
		return errors.New("no heartbeat written yet")
	case time.Since(h.lastOK) > h.deadAfter:
		return fmt.Errorf("no heartbeat written for %s", time.Since(h.lastOK).Round(time.Millisecond))
	}
	return nil
}

// rescueDeadSQL deletes the heartbeats older than $1 microseconds (by the
// server's clock) of nodes other than $2, and in the same statement makes
// the jobs those nodes were running available again (discarded once they
// have used their attempts, as River's rescuer does), with an error
// recorded on each. Two survivors running it at once rescue once: the
// second waits on the first's row locks and finds the rows deleted.
const rescueDeadSQL = `WITH dead AS (
	DELETE FROM node_heartbeats
	WHERE beat_at < (extract(epoch FROM clock_timestamp()) * 1000000)::bigint - $1 AND node_id <> $2
	RETURNING node_id
)
UPDATE river_job SET
	state = (CASE WHEN attempt >= max_attempts THEN 'discarded' ELSE 'available' END)::river_job_state,
	finalized_at = CASE WHEN attempt >= max_attempts THEN now() END,
	errors = array_append(errors, jsonb_build_object('at', now(), 'attempt', attempt, 'trace', '',
		'error', 'node ' || attempted_by[cardinality(attempted_by)] || ' stopped heartbeating; job rescued'))
WHERE state = 'running' AND attempted_by[cardinality(attempted_by)] IN (SELECT node_id FROM dead)
RETURNING attempted_by[cardinality(attempted_by)], kind, state = 'discarded',
	CASE WHEN jsonb_typeof(args->'email_ids') = 'array' THEN jsonb_array_length(args->'email_ids') ELSE 0 END`

// rescueDead releases the jobs of nodes whose heartbeat is older than
// deadAfter (PostgreSQL), and counts and logs them per dead node.
func (h *heartbeat) rescueDead(ctx context.Context) error {
	rows, err := h.db.Writer().QueryContext(ctx, rescueDeadSQL, h.deadAfter.Microseconds(), h.node)
	if err != nil {
		return err
	}
	defer rows.Close()
	byNode := map[string]*rescued{}
	for rows.Next() {
		var node, kind string
		var discarded bool
		var emails int
		if err := rows.Scan(&node, &kind, &discarded, &emails); err != nil {
			return err
		}
		r := byNode[node]
		if r == nil {
			r = &rescued{}
			byNode[node] = r
		}
		r.add(kind, discarded, emails)
	}
	if err := rows.Err(); err != nil {
		return err
	}
	for node, r := range byNode {
		r.report(h.metrics, h.logger.With(slog.String("node", node)),
			"a node stopped heartbeating: its running jobs are available again")
	}
	return nil
}

// rescued tallies the running jobs of a dead node (or crashed process)
// as they are released.
type rescued struct {
	released  map[string]int // by kind: available to run again
	emails    int            // held by the released delivery jobs
	discarded int            // had used their attempts: discarded
}

func (r *rescued) add(kind string, discarded bool, emails int) {
	if discarded {
		r.discarded++
		return
	}
	if r.released == nil {
		r.released = map[string]int{}
	}
	r.released[kind]++
	if kind == (DeliverArgs{}).Kind() {
		r.emails += emails
	}
}

// report counts the released jobs (metrics.JobsRescued: the emails of the
// delivery jobs bound the duplicate deliveries) and logs one line.
func (r *rescued) report(met *metrics.Metrics, logger *slog.Logger, msg string) {
	jobs := 0
	attrs := []any{}
	for kind, n := range r.released {
		emails := 0
		if kind == (DeliverArgs{}).Kind() {
			emails = r.emails
		}
		met.JobsRescued(kind, n, emails)
		jobs += n
		attrs = append(attrs, slog.Int("jobs_"+kind, n))
	}
	logger.Warn(msg, append(attrs, slog.Int("jobs", jobs), slog.Int("emails", r.emails),
		slog.Int("discarded", r.discarded))...)
}

// Writable reports whether the store took this node's last heartbeat
// write, within the last DeadAfter: nil when it did, else why not
// (store.IsNoSpace tells a full disk). It is what /readyz reports.
func (q *Queue) Writable() error { return q.hb.writable() }

// NodeID is this node's River client id, the key of its heartbeat.
func (q *Queue) NodeID() string { return q.hb.node }

// releaseOrphans makes the jobs a crashed predecessor left running on a
// SQLite database available again (discarded once they have used their
// attempts, so that a job that crashes the server every time ends), and
// deletes the heartbeats of earlier processes. Only the process holding
// the database's lock may call it.
func releaseOrphans(ctx context.Context, db *sqlstore.DB, met *metrics.Metrics, logger *slog.Logger) error {
	tx, err := db.Writer().BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("queue: release jobs of a crashed process: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	rows, err := tx.QueryContext(ctx, `UPDATE river_job SET
		state = CASE WHEN attempt >= max_attempts THEN 'discarded' ELSE 'available' END,
		finalized_at = CASE WHEN attempt >= max_attempts THEN datetime('now', 'subsec') END
		WHERE state = 'running'
		RETURNING kind, state = 'discarded',
			CASE WHEN json_type(args, '$.email_ids') = 'array' THEN json_array_length(args, '$.email_ids') ELSE 0 END`)
	if err != nil {
		return fmt.Errorf("queue: release jobs of a crashed process: %w", err)
	}
	r, n := &rescued{}, 0
	for rows.Next() {
		var kind string
		var discarded bool
		var emails int
		if err := rows.Scan(&kind, &discarded, &emails); err != nil {
			rows.Close()
			return fmt.Errorf("queue: release jobs of a crashed process: %w", err)
		}
		r.add(kind, discarded, emails)
		n++
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("queue: release jobs of a crashed process: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM node_heartbeats`); err != nil {
		return fmt.Errorf("queue: release jobs of a crashed process: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("queue: release jobs of a crashed process: %w", err)
	}
	if n > 0 {
		r.report(met, logger, "jobs left running by a crash are available again")
	}
	return nil
}
