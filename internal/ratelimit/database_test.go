package ratelimit_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/godwit/godwit/internal/godwittest"
	"github.com/godwit/godwit/internal/ratelimit"
)

// TestDatabaseSharedWindow: two nodes' limiters on one database share each
// team's one-second window; the sweep removes past windows.
func TestDatabaseSharedWindow(t *testing.T) {
	for _, kind := range godwittest.Kinds {
		t.Run(string(kind), func(t *testing.T) {
			t.Parallel()
			now := time.Date(2026, 12, 3, 12, 0, 0, 250*int(time.Millisecond), time.UTC)
			clock := func() time.Time { return now }
			db := godwittest.NewStore(t, kind, godwittest.NewClock(now))
			a := &ratelimit.Database{Store: db, Now: clock, Timeout: 5 * time.Second}
			b := &ratelimit.Database{Store: db, Now: clock, Timeout: 5 * time.Second}
			ctx := context.Background()
			allowed := 0
			for i := range 9 {
				node := a
				if i%2 == 1 {
					node = b
				}
				r, err := node.Allow(ctx, "team-a", 3)
				require.NoError(t, err)
				require.Equal(t, 750*time.Millisecond, r.Reset)
				if r.Allowed {
					allowed++
					require.Equal(t, 3-allowed, r.Remaining)
				}
			}
			require.Equal(t, 3, allowed)
			r, err := a.Allow(ctx, "team-b", 3)
			require.NoError(t, err)
			require.True(t, r.Allowed, "teams are counted apart")

			now = now.Add(time.Second)
			r, err = b.Allow(ctx, "team-a", 3)
			require.NoError(t, err)
			require.Equal(t, 2, r.Remaining, "a new window")
			n, err := db.DeleteRateWindowsBefore(ctx, now.Unix())
			require.NoError(t, err)
			require.EqualValues(t, 2, n, "team-a's and team-b's past windows")
		})
	}
}
