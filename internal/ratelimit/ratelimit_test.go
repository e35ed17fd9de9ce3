package ratelimit

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestMemoryWindows(t *testing.T) {
	now := time.Date(2026, 11, 28, 12, 0, 0, 250*int(time.Millisecond), time.UTC)
	m := NewMemory(func() time.Time { return now })
	ctx := context.Background()

	r, err := m.Allow(ctx, "team-a", 2)
	require.NoError(t, err)
	require.Equal(t, Result{Allowed: true, Limit: 2, Remaining: 1, Reset: 750 * time.Millisecond}, r)
	r, _ = m.Allow(ctx, "team-a", 2)
	require.True(t, r.Allowed)
	require.Equal(t, 0, r.Remaining)
	r, _ = m.Allow(ctx, "team-a", 2)
	require.False(t, r.Allowed, "no burst beyond the limit")
	require.Equal(t, 0, r.Remaining)

	r, _ = m.Allow(ctx, "team-b", 2)
	require.True(t, r.Allowed, "teams are counted apart")

	now = now.Add(750 * time.Millisecond) // the next second begins
	r, _ = m.Allow(ctx, "team-a", 2)
	require.True(t, r.Allowed)
	require.Equal(t, 1, r.Remaining)
	require.Equal(t, time.Second, r.Reset)

	// Refused requests do not eat into the next window's budget.
	for range 10 {
		m.Allow(ctx, "team-c", 1)
	}
	now = now.Add(time.Second)
	r, _ = m.Allow(ctx, "team-c", 1)
	require.True(t, r.Allowed)
}

func BenchmarkMemoryAllow(b *testing.B) {
	m := NewMemory(nil)
	ctx := context.Background()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			m.Allow(ctx, "team", 1_000_000_000)
		}
	})
}
