// Package requestlog records the teams' authenticated API requests for
// Resend's Logs API (GET /logs), off the request path.
//
// The API's middleware hands each finished request to Writer.Record, which
// never blocks: a bounded channel takes the record, or, when it is full,
// the record is dropped and counted (Dropped), so that a slow or failing
// database never slows or fails a request. One goroutine drains the
// channel and inserts the records in batches (one transaction each). The
// bodies arrive raw, as captured (capped) by the middleware; the writer's
// goroutine turns them into what is stored (Body): JSON objects and arrays
// only, attachments' content and secrets masked, at most MaxStoredBody
// bytes. Stop flushes everything recorded before it.
//
// Sweep and Sweeper delete the logs older than the retention period
// (--log-retention), in bounded chunks.
package requestlog

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/godwit/godwit/internal/store"
)

// Store is what the writer and the sweeper use.
type Store interface {
	AddRequestLogs(ctx context.Context, logs []*store.RequestLog) error
	DeleteRequestLogsBefore(ctx context.Context, t time.Time, limit int) (int64, error)
}

// Config sets up a Writer.
type Config struct {
	Store  Store
	Logger *slog.Logger
	// Buffer is how many records may wait for the database (10,000 when 0);
	// beyond it records are dropped and counted.
	Buffer int
	// BatchSize is the most records one transaction inserts (256 when 0).
	BatchSize int
	// FlushInterval is how long a record waits for others to share its
	// transaction (100 ms when 0).
	FlushInterval time.Duration
}

// Writer is the batched, asynchronous writer of request logs: a Service
// (Start/Stop) of the server's lifecycle.
type Writer struct {
	cfg     Config
	ch      chan *store.RequestLog
	dropped atomic.Uint64
	lost    atomic.Uint64

	stopOnce sync.Once
	stop     chan struct{}
	done     chan struct{}
}

// NewWriter returns a writer; records wait in its buffer until Start.
func NewWriter(cfg Config) *Writer {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Buffer <= 0 {
		cfg.Buffer = 10_000
	}
	if cfg.BatchSize <= 0 {
		cfg.BatchSize = 256
	}
	if cfg.FlushInterval <= 0 {
		cfg.FlushInterval = 100 * time.Millisecond
	}
	return &Writer{cfg: cfg, ch: make(chan *store.RequestLog, cfg.Buffer), stop: make(chan struct{}), done: make(chan struct{})}
}

// Record queues l without blocking; it reports false, and counts the
// record as dropped, when the buffer is full. l's bodies are raw (as
// captured); the writer masks them before they are stored. l must not be
// changed afterwards.
func (w *Writer) Record(l *store.RequestLog) bool {
	select {
	case w.ch <- l:
		return true
	default:
		w.dropped.Add(1)
		return false
	}
}

// Dropped is how many records were dropped because the buffer was full.
func (w *Writer) Dropped() uint64 { return w.dropped.Load() }

// Lost is how many records were lost because the database refused them.
func (w *Writer) Lost() uint64 { return w.lost.Load() }

// Start starts the goroutine that drains the buffer; ctx is its writes'.
func (w *Writer) Start(ctx context.Context) error {
	go w.run(ctx)
	return nil
}

// Stop writes every record queued before it, then returns; ctx bounds the
// wait (what is left then is lost, and said so in the error).
func (w *Writer) Stop(ctx context.Context) error {
	w.stopOnce.Do(func() { close(w.stop) })
	select {
	case <-w.done:
		if d, l := w.Dropped(), w.Lost(); d > 0 || l > 0 {
			w.cfg.Logger.Warn("request logs not stored since start", slog.Uint64("dropped_buffer_full", d),
				slog.Uint64("lost_database_refused", l))
		}
		return nil
	case <-ctx.Done():
		return fmt.Errorf("request log writer: %d records not written: %w", len(w.ch), ctx.Err())
	}
}

func (w *Writer) run(ctx context.Context) {
	defer close(w.done)
	batch := make([]*store.RequestLog, 0, w.cfg.BatchSize)
	timer := time.NewTimer(w.cfg.FlushInterval)
	timer.Stop()
	for {
		select {
		case l := <-w.ch:
			batch = append(batch[:0], l)
			timer.Reset(w.cfg.FlushInterval)
		collect:
			for len(batch) < w.cfg.BatchSize {
				select {
				case l := <-w.ch:
					batch = append(batch, l)
				case <-timer.C:
					break collect
				case <-w.stop:
					break collect
				}
			}
			timer.Stop()
			w.flush(ctx, batch)
		case <-w.stop:
			// Everything recorded before Stop is in the channel by now
			// (the listeners stopped first): write it all.
			for {
				batch = batch[:0]
			drain:
				for len(batch) < w.cfg.BatchSize {
					select {
					case l := <-w.ch:
						batch = append(batch, l)
					default:
						break drain
					}
				}
				if len(batch) == 0 {
					return
				}
				w.flush(context.WithoutCancel(ctx), batch)
			}
		}
	}
}

// flush masks the batch's bodies and inserts it.
func (w *Writer) flush(ctx context.Context, batch []*store.RequestLog) {
	for _, l := range batch {
		l.RequestBody, l.ResponseBody = Body(l.RequestBody), Body(l.ResponseBody)
	}
	if err := w.cfg.Store.AddRequestLogs(ctx, batch); err != nil {
		w.lost.Add(uint64(len(batch)))
		if !errors.Is(err, context.Canceled) {
			w.cfg.Logger.Warn("writing request logs failed; they are lost", slog.Int("logs", len(batch)),
				slog.String("error", err.Error()))
		}
	}
	clear(batch)
}

// sweepChunk is how many logs one DELETE of the sweep removes, so that a
// large backlog does not hold SQLite's one writer for long.
const sweepChunk = 5000

// Sweep deletes the logs created before before, in chunks, and returns
// how many it deleted.
func Sweep(ctx context.Context, s Store, before time.Time) (int64, error) {
	var total int64
	for {
		n, err := s.DeleteRequestLogsBefore(ctx, before, sweepChunk)
		total += n
		if err != nil {
			return total, fmt.Errorf("sweep request logs: %w", err)
		}
		if n < sweepChunk || ctx.Err() != nil {
			return total, ctx.Err()
		}
	}
}

// Sweeper deletes logs older than retention at once and then every
// interval, until ctx ends (a Background service of serve). now is the
// clock (time.Now when nil).
func Sweeper(ctx context.Context, s Store, retention, interval time.Duration, now func() time.Time, log *slog.Logger) {
	if now == nil {
		now = time.Now
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		n, err := Sweep(ctx, s, now().Add(-retention))
		if err != nil && ctx.Err() == nil {
			log.Warn("sweeping request logs failed", slog.String("error", err.Error()))
		} else if n > 0 {
			log.Debug("swept request logs past their retention", slog.Int64("deleted", n))
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
