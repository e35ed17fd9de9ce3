package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/godwit/godwit/internal/store"
)

// testReceivingRules: a receiving domain's rules and settings are its
// team's alone, one rule per match, the address's own rule wins over the
// domain's "*" at RCPT, and they go with the domain.
func testReceivingRules(t *testing.T, newStore NewStore) {
	ctx := context.Background()
	s := newStore(t, func() time.Time { return t0 })
	a, b := newTeam(t, s, "a"), newTeam(t, s, "b")
	domain := func(teamID, name string) *store.Domain {
		d := &store.Domain{ID: uuid.NewString(), TeamID: teamID, Name: name, Region: "us-east-1", ReturnPath: "send",
			Status: store.DomainVerified, TLS: "opportunistic", Sending: "disabled", Receiving: "enabled", DKIMSelector: "resend",
			DKIMKey: []byte("sealed"), RecordStatus: map[string]string{store.RecordReceiving: store.DomainVerified}, CreatedAt: t0, UpdatedAt: t0}
		require.NoError(t, s.CreateDomain(ctx, d))
		return d
	}
	da, db := domain(a.ID, "in.example.com"), domain(b.ID, "in.example.org")
	rule := func(teamID, domainID, match, action string) *store.ReceivingRule {
		r := &store.ReceivingRule{ID: uuid.NewString(), TeamID: teamID, DomainID: domainID, Match: match, Action: action,
			CreatedAt: t0, UpdatedAt: t0}
		if action == store.RuleForward {
			r.ForwardTo, r.ForwardFrom = "me@example.net", "fwd@example.com"
		}
		return r
	}

	// No rule, no settings: everything is stored, catch-all.
	route, err := s.ReceivingRoute(ctx, da.ID, "support")
	require.NoError(t, err)
	require.Equal(t, &store.ReceivingRoute{CatchAll: true}, route)
	set, err := s.GetReceivingSettings(ctx, a.ID, da.ID)
	require.NoError(t, err)
	require.True(t, set.CatchAll)
	require.True(t, set.UpdatedAt.IsZero())

	fwd := rule(a.ID, da.ID, "support", store.RuleForward)
	require.NoError(t, s.CreateReceivingRule(ctx, fwd))
	all := rule(a.ID, da.ID, store.RuleMatchAll, store.RuleDrop)
	all.CreatedAt = t0.Add(time.Second)
	require.NoError(t, s.CreateReceivingRule(ctx, all))
	require.ErrorIs(t, s.CreateReceivingRule(ctx, rule(a.ID, da.ID, "support", store.RuleDrop)), store.ErrConflict)
	require.ErrorIs(t, s.CreateReceivingRule(ctx, rule(a.ID, db.ID, "x", store.RuleDrop)), store.ErrNotFound, "another team's domain")
	require.NoError(t, s.CreateReceivingRule(ctx, rule(b.ID, db.ID, "support", store.RuleReject)), "the same match on another domain")

	got, err := s.GetReceivingRule(ctx, a.ID, da.ID, fwd.ID)
	require.NoError(t, err)
	require.Equal(t, fwd, got)
	_, err = s.GetReceivingRule(ctx, b.ID, da.ID, fwd.ID)
	require.ErrorIs(t, err, store.ErrNotFound)
	_, err = s.GetReceivingRule(ctx, a.ID, db.ID, fwd.ID)
	require.ErrorIs(t, err, store.ErrNotFound)

	list, err := s.ListReceivingRules(ctx, a.ID, da.ID)
	require.NoError(t, err)
	require.Len(t, list, 2)
	require.Equal(t, store.RuleMatchAll, list[0].Match, "the domain's rule first")
	require.Equal(t, "support", list[1].Match)
	list, err = s.ListReceivingRules(ctx, b.ID, da.ID)
	require.NoError(t, err)
	require.Empty(t, list)

	route, err = s.ReceivingRoute(ctx, da.ID, "support")
	require.NoError(t, err)
	require.Equal(t, fwd.ID, route.Rule.ID, "the address's own rule wins")
	route, err = s.ReceivingRoute(ctx, da.ID, "sales")
	require.NoError(t, err)
	require.Equal(t, all.ID, route.Rule.ID, "then the domain's")

	fwd.Match, fwd.Action, fwd.ForwardTo, fwd.ForwardFrom, fwd.UpdatedAt = "help", store.RuleStore, "", "", t0.Add(time.Minute)
	require.NoError(t, s.UpdateReceivingRule(ctx, fwd))
	got, err = s.GetReceivingRule(ctx, a.ID, da.ID, fwd.ID)
	require.NoError(t, err)
	require.Equal(t, fwd, got)
	fwd.Match = store.RuleMatchAll
	require.ErrorIs(t, s.UpdateReceivingRule(ctx, fwd), store.ErrConflict)
	other := *fwd
	other.TeamID = b.ID
	require.ErrorIs(t, s.UpdateReceivingRule(ctx, &other), store.ErrNotFound)

	require.NoError(t, s.SetReceivingSettings(ctx, &store.ReceivingSettings{TeamID: a.ID, DomainID: da.ID, UpdatedAt: t0}))
	set, err = s.GetReceivingSettings(ctx, a.ID, da.ID)
	require.NoError(t, err)
	require.False(t, set.CatchAll)
	require.Equal(t, t0, set.UpdatedAt)
	route, err = s.ReceivingRoute(ctx, da.ID, "nobody")
	require.NoError(t, err)
	require.False(t, route.CatchAll)
	require.NoError(t, s.SetReceivingSettings(ctx, &store.ReceivingSettings{TeamID: a.ID, DomainID: da.ID, CatchAll: true, UpdatedAt: t0}))
	set, err = s.GetReceivingSettings(ctx, a.ID, da.ID)
	require.NoError(t, err)
	require.True(t, set.CatchAll)
	require.ErrorIs(t, s.SetReceivingSettings(ctx, &store.ReceivingSettings{TeamID: b.ID, DomainID: da.ID}), store.ErrNotFound)
	_, err = s.GetReceivingSettings(ctx, b.ID, da.ID)
	require.ErrorIs(t, err, store.ErrNotFound)

	require.ErrorIs(t, s.DeleteReceivingRule(ctx, b.ID, da.ID, all.ID), store.ErrNotFound)
	require.NoError(t, s.DeleteReceivingRule(ctx, a.ID, da.ID, all.ID))
	require.ErrorIs(t, s.DeleteReceivingRule(ctx, a.ID, da.ID, all.ID), store.ErrNotFound)

	// Deleting the domain removes its rules and settings.
	require.NoError(t, s.DeleteDomain(ctx, a.ID, da.ID))
	route, err = s.ReceivingRoute(ctx, da.ID, "help")
	require.NoError(t, err)
	require.Equal(t, &store.ReceivingRoute{CatchAll: true}, route)
}
