package domains_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/godwit/godwit/internal/domains"
	"github.com/godwit/godwit/internal/store"
	"github.com/godwit/godwit/internal/store/sqlstore"
)

// failingComplete is a store whose transfer fails once, then works.
type failingComplete struct {
	domains.ClaimStore
	failed bool
}

func (f *failingComplete) CompleteDomainClaim(ctx context.Context, c *store.DomainClaim, d *store.Domain,
	lose func(*store.Domain) (*store.Event, error), events ...*store.Event) (*store.Domain, error) {
	if !f.failed {
		f.failed = true
		c.Status = store.ClaimCompleted // as the store does before its transaction
		return nil, errors.New("connection reset")
	}
	return f.ClaimStore.CompleteDomainClaim(ctx, c, d, lose, events...)
}

// TestClaimTransferFailure: a transfer whose transaction fails leaves the
// claim open (never "completed" without the transfer), logged, and it
// completes at the retry a minute later.
func TestClaimTransferFailure(t *testing.T) {
	t.Parallel()
	f := setup(t, sqlstore.SQLite)
	f.publish(domains.KindDKIM, domains.KindSPFMX, domains.KindSPFTXT)
	require.Equal(t, store.DomainVerified, f.run().Status)
	ctx := context.Background()
	team := &store.Team{ID: uuid.NewString(), Name: "b", CreatedAt: t0}
	require.NoError(t, f.db.CreateTeam(ctx, team))
	res, err := f.v.Settings.Claim(ctx, f.db, f.v.Settings.New(team.ID, "example.com", f.clock.Now()), f.clock.Now())
	require.NoError(t, err)
	c := res.Claim
	f.dns.SetTXT("example.com", c.Token)
	require.NoError(t, domains.StartClaimCheck(ctx, f.db, c, f.clock.Now()))

	var logs bytes.Buffer
	f.v.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	f.v.Claims = &failingComplete{ClaimStore: f.db}
	_, err = f.v.RunOnce(ctx)
	require.NoError(t, err)
	require.Contains(t, logs.String(), "domain claim check failed; will retry")
	got, err := f.db.LatestDomainClaim(ctx, team.ID, c.DomainID)
	require.NoError(t, err)
	require.Equal(t, store.ClaimPending, got.Status)
	require.Equal(t, f.clock.Now().Add(domains.RetryAfterError), *got.NextCheckAt)
	held, err := f.db.HeldDomain(ctx, "example.com")
	require.NoError(t, err)
	require.Equal(t, f.domain.ID, held.ID, "nothing moved")

	f.clock.Advance(domains.RetryAfterError)
	_, err = f.v.RunOnce(ctx)
	require.NoError(t, err)
	got, err = f.db.LatestDomainClaim(ctx, team.ID, c.DomainID)
	require.NoError(t, err)
	require.Equal(t, store.ClaimCompleted, got.Status)
	old, err := f.db.GetDomain(ctx, f.domain.TeamID, f.domain.ID)
	require.NoError(t, err)
	require.Equal(t, store.DomainFailed, old.Status)
	require.Equal(t, domains.ReasonClaimed("example.com"), old.FailureReason)
}
