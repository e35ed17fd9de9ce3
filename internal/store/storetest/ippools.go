package storetest

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/godwit/godwit/internal/store"
)

// testIPPools: a domain's pool wins over its team's, assignments are
// scoped to the team, and the warm-up count never passes its limit, even
// when many take at once.
func testIPPools(t *testing.T, newStore NewStore) {
	ctx := context.Background()
	s := newStore(t, func() time.Time { return t0 })
	a, b := newTeam(t, s, "a"), newTeam(t, s, "b")
	d := &store.Domain{ID: uuid.NewString(), TeamID: a.ID, Name: "example.com", Region: "us-east-1", ReturnPath: "send",
		Status: store.DomainPending, TLS: "opportunistic", Sending: "enabled", Receiving: "disabled", DKIMSelector: "resend",
		DKIMKey: []byte("sealed"), RecordStatus: map[string]string{}, CreatedAt: t0, UpdatedAt: t0}
	require.NoError(t, s.CreateDomain(ctx, d, event(a.ID, "domain.created")))

	pool, err := s.IPPoolFor(ctx, a.ID, d.ID)
	require.NoError(t, err)
	require.Empty(t, pool, "none assigned: the default pool")
	require.NoError(t, s.SetIPPool(ctx, a.ID, "", "bulk"))
	pool, err = s.IPPoolFor(ctx, a.ID, d.ID)
	require.NoError(t, err)
	require.Equal(t, "bulk", pool, "the team's")
	require.NoError(t, s.SetIPPool(ctx, a.ID, d.ID, "transactional"))
	pool, err = s.IPPoolFor(ctx, a.ID, d.ID)
	require.NoError(t, err)
	require.Equal(t, "transactional", pool, "the domain's wins")
	pool, err = s.IPPoolFor(ctx, a.ID, "")
	require.NoError(t, err)
	require.Equal(t, "bulk", pool)
	pool, err = s.IPPoolFor(ctx, b.ID, d.ID)
	require.NoError(t, err)
	require.Empty(t, pool, "another team's domain id is not b's")
	require.ErrorIs(t, s.SetIPPool(ctx, b.ID, d.ID, "bulk"), store.ErrNotFound, "another team's domain")
	require.ErrorIs(t, s.SetIPPool(ctx, uuid.NewString(), "", "bulk"), store.ErrNotFound)

	list, err := s.ListIPPoolAssignments(ctx)
	require.NoError(t, err)
	require.Len(t, list, 2)
	require.Equal(t, store.IPPoolAssignment{TeamID: a.ID, TeamName: "a", Pool: "bulk", UpdatedAt: t0.Truncate(time.Microsecond)}, *list[0])
	require.Equal(t, "example.com", list[1].DomainName)
	require.NoError(t, s.SetIPPool(ctx, a.ID, d.ID, ""))
	pool, err = s.IPPoolFor(ctx, a.ID, d.ID)
	require.NoError(t, err)
	require.Equal(t, "bulk", pool, "unassigned: the team's again")

	// The warm-up count stops at its limit, under concurrency too.
	const limit = 7
	var took atomic.Int32
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			ok, err := s.TakeWarmup(ctx, "192.0.2.1", "gmail", "2026-12-03", limit)
			if err == nil && ok {
				took.Add(1)
			}
		})
	}
	wg.Wait()
	require.EqualValues(t, limit, took.Load())
	ok, err := s.TakeWarmup(ctx, "192.0.2.1", "gmail", "2026-12-03", limit)
	require.NoError(t, err)
	require.False(t, ok, "at the limit")
	ok, err = s.TakeWarmup(ctx, "192.0.2.1", "yahoo", "2026-12-03", limit)
	require.NoError(t, err)
	require.True(t, ok, "each destination counts apart")
	ok, err = s.TakeWarmup(ctx, "192.0.2.1", "gmail", "2026-12-04", limit)
	require.NoError(t, err)
	require.True(t, ok, "each day counts apart")
	require.NoError(t, s.ReturnWarmup(ctx, "192.0.2.1", "gmail", "2026-12-03"))
	ok, err = s.TakeWarmup(ctx, "192.0.2.1", "gmail", "2026-12-03", limit)
	require.NoError(t, err)
	require.True(t, ok, "a returned message frees its place")
	ok, err = s.TakeWarmup(ctx, "192.0.2.1", "gmail", "2026-12-03", limit+1)
	require.NoError(t, err)
	require.True(t, ok, "a higher limit (the next day's ramp) lets more through")
	counts, err := s.WarmupCounts(ctx, "2026-12-03")
	require.NoError(t, err)
	require.Equal(t, []*store.WarmupCount{{IP: "192.0.2.1", Destination: "gmail", Day: "2026-12-03", Sent: limit + 1},
		{IP: "192.0.2.1", Destination: "yahoo", Day: "2026-12-03", Sent: 1}}, counts)
}
