// Package ratelimit limits requests per team in fixed one-second windows, as
// Resend does ("the window is 1 second and there is no burst allowance").
//
// The Limiter interface is the seam for a shared Redis-backed limiter on
// multi-node deployments; Memory is the single-node implementation.
package ratelimit

import (
	"context"
	"sync"
	"time"
)

// Result describes the state of a key's window after one request.
type Result struct {
	Allowed   bool
	Limit     int
	Remaining int
	// Reset is the time until the current window ends.
	Reset time.Duration
}

// Limiter counts one request for key against limit per second.
type Limiter interface {
	Allow(ctx context.Context, key string, limit int) (Result, error)
}

// Memory is an in-process Limiter. Its memory is bounded by the number of
// keys seen in the current window: older windows are swept as time moves on.
type Memory struct {
	now func() time.Time

	mu     sync.Mutex
	window int64 // unix second of the current window
	counts map[string]int
}

// NewMemory returns a Memory limiter reading time from now (time.Now if nil).
func NewMemory(now func() time.Time) *Memory {
	if now == nil {
		now = time.Now
	}
	return &Memory{now: now, counts: make(map[string]int)}
}

// Allow implements Limiter.
func (m *Memory) Allow(_ context.Context, key string, limit int) (Result, error) {
	now := m.now()
	sec := now.Unix()
	reset := time.Unix(sec+1, 0).Sub(now)

	m.mu.Lock()
	if sec != m.window {
		m.window = sec
		clear(m.counts)
	}
	n := m.counts[key] + 1
	allowed := n <= limit
	if allowed {
		m.counts[key] = n
	} else {
		n = limit
	}
	m.mu.Unlock()

	return Result{Allowed: allowed, Limit: limit, Remaining: limit - n, Reset: reset}, nil
}
