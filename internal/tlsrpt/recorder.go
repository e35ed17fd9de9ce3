package tlsrpt

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/godwit/godwit/internal/store"
)

// Counts is where the Recorder adds its counts.
type Counts interface {
	AddTLSResults(ctx context.Context, counts []store.TLSResultCount) error
}

// Recorder counts TLS sessions in memory and adds them to the store every
// Interval (and when Run ends): the write path of delivery never waits for the
// database, and the database holds one row per counter, not per session.
type Recorder struct {
	Store    Counts
	Interval time.Duration // 0: 30 s
	Now      func() time.Time
	Logger   *slog.Logger

	mu      sync.Mutex
	pending map[store.TLSResultCount]int64 // keys have Sessions 0
}

// Record counts one session of domain's policy at mxHost, today (UTC).
func (r *Recorder) Record(domain, policyType string, policyString []string, mxHost, resultType string) {
	now := time.Now
	if r.Now != nil {
		now = r.Now
	}
	key := store.TLSResultCount{Domain: strings.ToLower(domain), Day: now().UTC().Format(DayLayout), PolicyType: policyType,
		PolicyString: strings.Join(policyString, "\n"), MXHost: strings.ToLower(mxHost), ResultType: resultType}
	r.mu.Lock()
	if r.pending == nil {
		r.pending = map[store.TLSResultCount]int64{}
	}
	r.pending[key]++
	r.mu.Unlock()
}

// Flush adds the pending counts to the store; on failure they stay
// pending for the next Flush.
func (r *Recorder) Flush(ctx context.Context) error {
	r.mu.Lock()
	pending := r.pending
	r.pending = nil
	r.mu.Unlock()
	if len(pending) == 0 {
		return nil
	}
	counts := make([]store.TLSResultCount, 0, len(pending))
	for k, n := range pending {
		k.Sessions = n
		counts = append(counts, k)
	}
	if err := r.Store.AddTLSResults(ctx, counts); err != nil {
		r.mu.Lock()
		if r.pending == nil {
			r.pending = map[store.TLSResultCount]int64{}
		}
		for k, n := range pending {
			r.pending[k] += n
		}
		r.mu.Unlock()
		return err
	}
	return nil
}

// Run flushes every Interval until ctx ends, and once more then (within
// 5 s).
func (r *Recorder) Run(ctx context.Context) {
	interval := r.Interval
	if interval <= 0 {
		interval = 30 * time.Second
	}
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			defer cancel()
			if err := r.Flush(fctx); err != nil && r.Logger != nil {
				r.Logger.Warn("tlsrpt: counting TLS sessions at stop failed; these are lost", "err", err)
			}
			return
		case <-tick.C:
			if err := r.Flush(ctx); err != nil && r.Logger != nil {
				r.Logger.Warn("tlsrpt: counting TLS sessions failed; kept for the next try", "err", err)
			}
		}
	}
}
