package storetest

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/godwit/godwit/internal/store"
)

// testDomainClaims: a claim's placeholder is created beside another team's
// held copy, a new claim supersedes the team's open one, claims are their
// team's own, a settled claim is not changed, completion moves the name in
// one transaction, and deleting the placeholder cancels its claim.
func testDomainClaims(t *testing.T, newStore NewStore) {
	ctx := context.Background()
	s := newStore(t, func() time.Time { return t0 })
	a, b := newTeam(t, s, "a"), newTeam(t, s, "b")
	domain := func(teamID, status string) *store.Domain {
		return &store.Domain{ID: uuid.NewString(), TeamID: teamID, Name: "claimed.example", Region: "us-east-1", ReturnPath: "send",
			Status: status, TLS: "opportunistic", Sending: "enabled", Receiving: "disabled", DKIMSelector: "resend",
			DKIMKey: []byte("sealed"), RecordStatus: map[string]string{store.RecordDKIM: status}, CreatedAt: t0, UpdatedAt: t0}
	}
	ev := func(team, typ string) *store.Event {
		return &store.Event{ID: uuid.NewString(), TeamID: team, Type: typ, CreatedAt: t0, Data: json.RawMessage(`{"type":"` + typ + `"}`)}
	}
	held := domain(a.ID, store.DomainVerified)
	require.NoError(t, s.CreateDomain(ctx, held))
	claim := func(d *store.Domain, at time.Time) *store.DomainClaim {
		next := at.Add(7 * 24 * time.Hour)
		return &store.DomainClaim{ID: uuid.NewString(), TeamID: d.TeamID, DomainID: d.ID, Name: d.Name, Status: store.ClaimPending,
			Region: "us-east-1", Options: `["us-east-1"]`, Token: "godwit-domain-verification=00", CreatedAt: at, UpdatedAt: at,
			ExpiresAt: next, NextCheckAt: &next}
	}

	// B's placeholder is created although A holds the name.
	ph := domain(b.ID, store.DomainNotStarted)
	require.ErrorIs(t, s.CreateDomain(ctx, ph), store.ErrConflict, "an ordinary create is refused")
	first := claim(ph, t0)
	require.NoError(t, s.CreateDomainClaim(ctx, first, ph, true, ev(b.ID, "domain.created")))
	require.ErrorIs(t, s.CreateDomainClaim(ctx, claim(ph, t0), domain(b.ID, store.DomainNotStarted), true), store.ErrConflict,
		"one copy of a name per team")
	got, err := s.LatestDomainClaim(ctx, b.ID, ph.ID)
	require.NoError(t, err)
	require.Equal(t, first, got)
	_, err = s.LatestDomainClaim(ctx, a.ID, ph.ID)
	require.ErrorIs(t, err, store.ErrNotFound, "another team's claim")
	open, err := s.OpenDomainClaim(ctx, b.ID, "claimed.example")
	require.NoError(t, err)
	require.Equal(t, first.ID, open.ID)
	_, err = s.OpenDomainClaim(ctx, a.ID, "claimed.example")
	require.ErrorIs(t, err, store.ErrNotFound)

	// A second claim on the same placeholder supersedes the first.
	ph.Region, ph.UpdatedAt = "eu-west-1", t0.Add(time.Second)
	second := claim(ph, t0.Add(time.Second))
	require.NoError(t, s.CreateDomainClaim(ctx, second, ph, false, ev(b.ID, "domain.updated")))
	got, err = s.LatestDomainClaim(ctx, b.ID, ph.ID)
	require.NoError(t, err)
	require.Equal(t, second.ID, got.ID)
	require.ErrorIs(t, s.UpdateDomainClaim(ctx, first), store.ErrNotFound, "the superseded claim is settled")
	d, err := s.GetDomain(ctx, b.ID, ph.ID)
	require.NoError(t, err)
	require.Equal(t, "eu-west-1", d.Region)

	// Due: only open claims whose check time has come.
	due, err := s.DomainClaimsDue(ctx, t0.Add(time.Hour), 10)
	require.NoError(t, err)
	require.Empty(t, due)
	now := t0.Add(time.Minute)
	second.NextCheckAt, second.Status, second.BlockedReason, second.UpdatedAt = &now, store.ClaimBlocked, "pending_scheduled_emails", now
	require.NoError(t, s.UpdateDomainClaim(ctx, second))
	due, err = s.DomainClaimsDue(ctx, t0.Add(time.Hour), 10)
	require.NoError(t, err)
	require.Len(t, due, 1)
	require.Equal(t, second, due[0])

	// A's waiting emails from the domain are counted; others are not.
	e1 := newEmail(a.ID, t0)
	e1.DomainID, e1.DomainName = held.ID, held.Name
	e2 := newEmail(a.ID, t0)
	require.NoError(t, s.AcceptEmails(ctx, &store.Accept{Emails: []*store.Email{e1, e2}}))
	n, err := s.WaitingEmailsFrom(ctx, a.ID, held.ID)
	require.NoError(t, err)
	require.Equal(t, 1, n)
	n, err = s.WaitingEmailsFrom(ctx, b.ID, held.ID)
	require.NoError(t, err)
	require.Zero(t, n)

	// Completion: A's copy is lost with its event, B's placeholder stored.
	ph.Status, ph.UpdatedAt = store.DomainNotStarted, now
	lost, err := s.CompleteDomainClaim(ctx, second, ph, func(c *store.Domain) (*store.Event, error) {
		c.Status, c.FailureReason = store.DomainFailed, "claimed"
		return ev(c.TeamID, "domain.updated"), nil
	}, ev(b.ID, "domain.updated"))
	require.NoError(t, err)
	require.Equal(t, held.ID, lost.ID)
	require.Equal(t, a.ID, second.FromTeamID)
	got, err = s.LatestDomainClaim(ctx, b.ID, ph.ID)
	require.NoError(t, err)
	require.Equal(t, store.ClaimCompleted, got.Status)
	require.Equal(t, a.ID, got.FromTeamID)
	require.Nil(t, got.NextCheckAt)
	old, err := s.GetDomain(ctx, a.ID, held.ID)
	require.NoError(t, err)
	require.Equal(t, store.DomainFailed, old.Status)
	require.Equal(t, "claimed", old.FailureReason)
	_, err = s.HeldDomain(ctx, "claimed.example")
	require.ErrorIs(t, err, store.ErrNotFound)
	for _, team := range []string{a.ID, b.ID} {
		evs, err := s.ListEvents(ctx, team, "", 10)
		require.NoError(t, err)
		require.Equal(t, "domain.updated", evs[len(evs)-1].Type)
	}
	_, err = s.CompleteDomainClaim(ctx, second, ph, func(*store.Domain) (*store.Event, error) { return nil, nil })
	require.ErrorIs(t, err, store.ErrNotFound, "a settled claim completes once")

	// Deleting a placeholder cancels its open claim.
	third := claim(ph, t0.Add(2*time.Second))
	require.NoError(t, s.CreateDomainClaim(ctx, third, ph, false))
	require.NoError(t, s.DeleteDomain(ctx, b.ID, ph.ID, ev(b.ID, "domain.deleted")))
	got, err = s.LatestDomainClaim(ctx, b.ID, ph.ID)
	require.NoError(t, err)
	require.Equal(t, store.ClaimCanceled, got.Status)
	require.Nil(t, got.NextCheckAt)
	require.ErrorIs(t, s.DeleteDomain(ctx, b.ID, ph.ID), store.ErrNotFound)
}
