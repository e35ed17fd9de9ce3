package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/godwit/godwit/internal/store"
)

// testDomainNames: teams may hold unverified copies of one name; the first
// copy to be verified wins it, the others fail in the same transaction, and
// a held name can be neither added nor verified by another team.
func testDomainNames(t *testing.T, newStore NewStore) {
	ctx := context.Background()
	s := newStore(t, func() time.Time { return t0 })
	a, b, c, late := newTeam(t, s, "a"), newTeam(t, s, "b"), newTeam(t, s, "c"), newTeam(t, s, "late")
	domain := func(teamID, name, status string) *store.Domain {
		d := &store.Domain{ID: uuid.NewString(), TeamID: teamID, Name: name, Region: "us-east-1", ReturnPath: "send",
			Status: status, TLS: "opportunistic", Sending: "enabled", Receiving: "disabled", DKIMSelector: "resend",
			DKIMKey: []byte("sealed"), RecordStatus: map[string]string{"DKIM": status, "SPF-MX": status}, CreatedAt: t0, UpdatedAt: t0}
		require.NoError(t, s.CreateDomain(ctx, d, event(teamID, "domain.created")))
		return d
	}
	lose := func(d *store.Domain) (*store.Event, error) {
		d.Status, d.FailureReason, d.NextCheckAt = store.DomainFailed, "taken by "+d.Name, nil
		d.RecordStatus["DKIM"] = store.DomainFailed
		return event(d.TeamID, "domain.lost"), nil
	}

	da := domain(a.ID, "example.com", store.DomainPending)
	db := domain(b.ID, "example.com", store.DomainPending)
	dc := domain(c.ID, "example.com", store.DomainNotStarted)
	dup := *da
	dup.ID = uuid.NewString()
	require.ErrorIs(t, s.CreateDomain(ctx, &dup), store.ErrConflict, "one copy of a name per team")
	_, err := s.HeldDomain(ctx, "example.com")
	require.ErrorIs(t, err, store.ErrNotFound, "no copy is verified yet")

	// a verifies first: b's and c's copies fail with it, each with its event.
	da.Status, da.RecordStatus["DKIM"] = store.DomainVerified, store.DomainVerified
	lost, err := s.VerifyDomain(ctx, da, lose, event(a.ID, "domain.updated"))
	require.NoError(t, err)
	require.ElementsMatch(t, []string{db.ID, dc.ID}, []string{lost[0].ID, lost[1].ID})
	for _, d := range []*store.Domain{db, dc} {
		got, err := s.GetDomain(ctx, d.TeamID, d.ID)
		require.NoError(t, err)
		require.Equal(t, store.DomainFailed, got.Status)
		require.Equal(t, "taken by example.com", got.FailureReason)
		require.Equal(t, store.DomainFailed, got.RecordStatus["DKIM"])
		require.Equal(t, d.Status, got.RecordStatus["SPF-MX"], "what lose left alone is kept")
		require.Equal(t, []string{"domain.created", "domain.lost"}, eventTypes(t, s, d.TeamID))
	}
	require.Equal(t, []string{"domain.created", "domain.updated"}, eventTypes(t, s, a.ID))
	held, err := s.HeldDomain(ctx, "example.com")
	require.NoError(t, err)
	require.Equal(t, da.ID, held.ID)

	// The held name can be neither added nor verified by another team, and
	// a refused verification writes nothing.
	require.ErrorIs(t, s.CreateDomain(ctx, &store.Domain{ID: uuid.NewString(), TeamID: late.ID, Name: "example.com", Region: "us-east-1",
		ReturnPath: "send", Status: store.DomainNotStarted, TLS: "opportunistic", Sending: "enabled", Receiving: "disabled",
		DKIMSelector: "resend", DKIMKey: []byte("sealed"), RecordStatus: map[string]string{}, CreatedAt: t0, UpdatedAt: t0}), store.ErrConflict)
	db.Status = store.DomainVerified
	_, err = s.VerifyDomain(ctx, db, lose, event(b.ID, "domain.updated"))
	require.ErrorIs(t, err, store.ErrConflict)
	require.ErrorIs(t, s.UpdateDomain(ctx, db, event(b.ID, "domain.updated")), store.ErrConflict)
	got, err := s.GetDomain(ctx, b.ID, db.ID)
	require.NoError(t, err)
	require.Equal(t, store.DomainFailed, got.Status)
	require.Equal(t, []string{"domain.created", "domain.lost"}, eventTypes(t, s, b.ID))
	got, err = s.GetDomain(ctx, a.ID, da.ID)
	require.NoError(t, err)
	require.Equal(t, store.DomainVerified, got.Status)

	// temporary_failure still holds the name; the holder's own updates pass.
	da.Status = store.DomainTemporaryFailure
	require.NoError(t, s.UpdateDomain(ctx, da))
	db.Status = store.DomainTemporaryFailure
	require.ErrorIs(t, s.UpdateDomain(ctx, db), store.ErrConflict)
	held, err = s.HeldDomain(ctx, "example.com")
	require.NoError(t, err)
	require.Equal(t, da.ID, held.ID)

	// Once the holder's copy is gone, another copy may win the name.
	require.NoError(t, s.DeleteDomain(ctx, a.ID, da.ID))
	db.Status, db.FailureReason = store.DomainVerified, ""
	lost, err = s.VerifyDomain(ctx, db, lose)
	require.NoError(t, err)
	require.Empty(t, lost, "c's copy is failed already")

	// Teams verifying at once: exactly one wins each name.
	const names, teams = 8, 3
	var racers [teams]*store.Team
	for i := range racers {
		racers[i] = newTeam(t, s, fmt.Sprintf("racer-%d", i))
	}
	copies := make([][teams]*store.Domain, names)
	for n := range copies {
		for i, team := range racers {
			copies[n][i] = domain(team.ID, fmt.Sprintf("race-%d.example", n), store.DomainPending)
		}
	}
	var wg sync.WaitGroup
	wins := make([][teams]bool, names)
	errs := make(chan error, names*teams)
	for n := range copies {
		for i := range racers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				d := *copies[n][i]
				d.RecordStatus = map[string]string{"DKIM": store.DomainVerified}
				d.Status = store.DomainVerified
				_, err := s.VerifyDomain(ctx, &d, func(c *store.Domain) (*store.Event, error) {
					c.Status = store.DomainFailed
					return nil, nil
				}, event(d.TeamID, "domain.updated"))
				switch {
				case err == nil:
					wins[n][i] = true
				case !errors.Is(err, store.ErrConflict):
					errs <- err
				}
			}()
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	for n := range copies {
		won := 0
		for i := range racers {
			if wins[n][i] {
				won++
			}
			got, err := s.GetDomain(ctx, racers[i].ID, copies[n][i].ID)
			require.NoError(t, err)
			require.Equal(t, wins[n][i], got.Status == store.DomainVerified, "name %d team %d: %s", n, i, got.Status)
		}
		require.Equal(t, 1, won, "name %d: one winner", n)
	}
}

func event(teamID, typ string) *store.Event {
	return &store.Event{ID: uuid.NewString(), TeamID: teamID, Type: typ, Data: []byte(`{"type":"` + typ + `"}`), CreatedAt: t0}
}

func eventTypes(t *testing.T, s store.Store, teamID string) []string {
	t.Helper()
	events, err := s.ListEvents(context.Background(), teamID, "", 100)
	require.NoError(t, err)
	var types []string
	for _, e := range events {
		types = append(types, e.Type)
	}
	return types
}
