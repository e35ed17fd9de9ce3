package domains_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/godwit/godwit/internal/domains"
	"github.com/godwit/godwit/internal/godwittest"
	"github.com/godwit/godwit/internal/store"
)

// New and Provision make a domain the store takes, with a not_started
// status per record and its domain.created event; StartVerification makes
// it pending and due, or fails a copy of a name another team holds (once);
// Delete deletes it with its event. Both stores.
func TestManage(t *testing.T) {
	for _, kind := range godwittest.Kinds {
		t.Run(string(kind), func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			f := setup(t, kind)
			s := f.v.Settings
			d := s.New(f.domain.TeamID, "shop.test", t0)
			require.Equal(t, store.DomainNotStarted, d.Status)
			require.Equal(t, "us-east-1", d.Region)
			recs, created, err := s.Provision(d, t0)
			require.NoError(t, err)
			require.Len(t, d.RecordStatus, len(recs))
			for _, st := range d.RecordStatus {
				require.Equal(t, store.DomainNotStarted, st)
			}
			require.Contains(t, string(created.Data), `"type":"domain.created"`)
			require.NoError(t, f.db.CreateDomain(ctx, d, created))

			now := t0.Add(1e9)
			lostTo, err := s.StartVerification(ctx, f.db, d, now)
			require.NoError(t, err)
			require.Empty(t, lostTo)
			got := f.get(d)
			require.Equal(t, store.DomainPending, got.Status)
			require.Equal(t, now, *got.NextCheckAt, "due at once")
			for _, st := range got.RecordStatus {
				require.Equal(t, store.DomainPending, st)
			}

			// Another team holds example.com: the fixture's copy wins, then
			// a copy of team b is refused and failed, and stays failed.
			other := f.copyFor("b")
			f.publish(required...)
			f.run()
			require.Equal(t, store.DomainVerified, f.get(f.domain).Status)
			other = f.get(other)
			other.Status, other.FailureReason = store.DomainPending, ""
			require.NoError(t, f.db.UpdateDomain(ctx, other))
			lostTo, err = s.StartVerification(ctx, f.db, other, now)
			require.ErrorIs(t, err, domains.ErrTaken)
			require.Equal(t, f.domain.TeamID, lostTo)
			require.Equal(t, store.DomainFailed, f.get(other).Status)
			lostTo, err = s.StartVerification(ctx, f.db, f.get(other), now)
			require.ErrorIs(t, err, domains.ErrTaken)
			require.Empty(t, lostTo, "failed already")

			require.NoError(t, s.Delete(ctx, f.db, d, now))
			_, err = f.db.GetDomain(ctx, d.TeamID, d.ID)
			require.ErrorIs(t, err, store.ErrNotFound)
			require.ErrorIs(t, s.Delete(ctx, f.db, d, now), store.ErrNotFound)
			require.True(t, domains.ValidRegion("eu-west-1"))
			require.False(t, domains.ValidRegion("mars-1"))
		})
	}
}
