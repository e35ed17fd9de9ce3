package ratelimit

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/godwit/godwit/internal/godwittest"
)

func redisClient(t testing.TB) *redis.Client {
	t.Helper()
	godwittest.RequireRedis(t)
	opts, err := redis.ParseURL(godwittest.RedisURL())
	require.NoError(t, err)
	c := redis.NewClient(opts)
	t.Cleanup(func() { c.Close() })
	return c
}

// TestRedisSharedWindow: two nodes (two clients, two limiters) on one Redis
// share each team's one-second window, as one node would; the next second
// starts afresh.
func TestRedisSharedWindow(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 12, 3, 12, 0, 0, 400*int(time.Millisecond), time.UTC)
	clock := func() time.Time { return now }
	prefix := "test:" + uuid.NewString() + ":"
	a := &Redis{Client: redisClient(t), Prefix: prefix, Now: clock, Timeout: time.Second}
	b := &Redis{Client: redisClient(t), Prefix: prefix, Now: clock, Timeout: time.Second}
	ctx := context.Background()
	var allowed int
	for i := range 10 {
		node := a
		if i%2 == 1 {
			node = b
		}
		r, err := node.Allow(ctx, "team-a", 5)
		require.NoError(t, err)
		require.Equal(t, 5, r.Limit)
		require.Equal(t, 600*time.Millisecond, r.Reset)
		if r.Allowed {
			allowed++
			require.Equal(t, 5-allowed, r.Remaining)
		} else {
			require.Equal(t, 0, r.Remaining)
		}
	}
	require.Equal(t, 5, allowed, "the limit holds across both nodes")
	r, err := b.Allow(ctx, "team-b", 5)
	require.NoError(t, err)
	require.True(t, r.Allowed, "teams are counted apart")

	now = now.Add(600 * time.Millisecond)
	r, err = a.Allow(ctx, "team-a", 5)
	require.NoError(t, err)
	require.True(t, r.Allowed)
	require.Equal(t, 4, r.Remaining, "a new window")

	// The window's key expires by itself.
	keys, err := a.Client.Keys(ctx, prefix+"*").Result()
	require.NoError(t, err)
	require.NotEmpty(t, keys)
	for _, k := range keys {
		ttl, err := a.Client.PTTL(ctx, k).Result()
		require.NoError(t, err)
		require.Greater(t, ttl, time.Duration(0), k)
		require.LessOrEqual(t, ttl, 2*time.Second, k)
	}
}

// TestGuard: a failing limiter never fails the request: open lets it
// through, closed refuses it as over the limit; both report the failure.
func TestGuard(t *testing.T) {
	t.Parallel()
	down := &Redis{Client: redis.NewClient(&redis.Options{Addr: godwittest.UnusedAddr(t), MaxRetries: -1, DialTimeout: 200 * time.Millisecond})}
	t.Cleanup(func() { down.Client.Close() })
	_, err := down.Allow(context.Background(), "team", 2)
	require.Error(t, err)

	for _, open := range []bool{true, false} {
		var failures []error
		g := &Guard{Limiter: down, FailOpen: open, OnFailure: func(err error, failOpen bool) {
			require.Equal(t, open, failOpen)
			failures = append(failures, err)
		}}
		r, err := g.Allow(context.Background(), "team", 2)
		require.NoError(t, err, "never an error")
		require.Equal(t, open, r.Allowed)
		require.Equal(t, 2, r.Limit)
		require.Len(t, failures, 1)
		require.ErrorContains(t, failures[0], "ratelimit: redis: ")
	}
	// A working limiter passes through untouched.
	g := &Guard{Limiter: NewMemory(nil), OnFailure: func(error, bool) { t.Fatal("no failure") }}
	r, err := g.Allow(context.Background(), "team", 1)
	require.NoError(t, err)
	require.True(t, r.Allowed)
}
