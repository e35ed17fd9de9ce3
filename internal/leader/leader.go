// Package leader runs periodic work on one node at a time among the nodes
// of one PostgreSQL database: the node that holds a session-level advisory
// lock named after the work runs it. When that node dies or loses its
// connection, PostgreSQL ends its session and releases the lock, and
// another node, trying again every Retry, takes the work over.
package leader

import (
	"context"
	"hash/crc64"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
)

// Elector runs one named piece of work on one node at a time.
type Elector struct {
	DSN string // the PostgreSQL database the nodes share
	// Name identifies the work: the lock is derived from it.
	Name string
	// Retry is how often a node without the lock tries again, and how
	// often the holder checks that its session is still there (2 s).
	Retry  time.Duration
	Logger *slog.Logger
}

// LockID is the advisory lock of the work name.
func LockID(name string) int64 {
	return int64(crc64.Checksum([]byte("godwit:leader:"+name), crc64.MakeTable(crc64.ECMA)) >> 1)
}

// Run runs work while this node holds the lock, until ctx ends: work gets
// a context that ends when ctx does or when the lock is lost, and Run
// waits for it to return before it tries for the lock again.
func (e *Elector) Run(ctx context.Context, work func(ctx context.Context)) {
	retry := e.Retry
	if retry <= 0 {
		retry = 2 * time.Second
	}
	log := e.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	for ctx.Err() == nil {
		held, err := e.hold(ctx, retry, log, work)
		if err != nil && ctx.Err() == nil {
			log.Debug("leader: no session for "+e.Name, slog.String("error", err.Error()))
		}
		if held {
			continue // lost: try again at once
		}
		select {
		case <-ctx.Done():
		case <-time.After(retry):
		}
	}
}

// hold connects, takes the lock if it is free and runs work while the
// session lasts. It reports whether it held the lock.
func (e *Elector) hold(ctx context.Context, retry time.Duration, log *slog.Logger, work func(ctx context.Context)) (bool, error) {
	connectCtx, cancel := context.WithTimeout(ctx, retry+5*time.Second)
	conn, err := pgx.Connect(connectCtx, e.DSN)
	cancel()
	if err != nil {
		return false, err
	}
	defer conn.Close(context.Background())
	var got bool
	if err := conn.QueryRow(ctx, `SELECT pg_try_advisory_lock($1)`, LockID(e.Name)).Scan(&got); err != nil {
		return false, err
	}
	for !got {
		select {
		case <-ctx.Done():
			return false, nil
		case <-time.After(retry):
		}
		if err := conn.QueryRow(ctx, `SELECT pg_try_advisory_lock($1)`, LockID(e.Name)).Scan(&got); err != nil {
			return false, err
		}
	}
	log.Info("leader: this node runs "+e.Name, slog.String("work", e.Name))
	workCtx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		work(workCtx)
	}()
	// Hold while the session answers; the lock lives as long as it does.
	for {
		select {
		case <-ctx.Done():
			stop()
			<-done
			return true, nil
		case <-done:
			stop()
			return true, nil
		case <-time.After(retry):
		}
		pingCtx, cancel := context.WithTimeout(ctx, retry)
		err := conn.Ping(pingCtx)
		cancel()
		if err != nil && ctx.Err() == nil {
			log.Warn("leader: lost the session; "+e.Name+" stops here until this node holds it again", slog.String("error", err.Error()))
			stop()
			<-done
			return true, err
		}
	}
}
