package storetest

import (
	"context"
	"crypto/sha256"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/godwit/godwit/internal/store"
)

func newUser(t *testing.T, s store.Store, teamID, email, role string) *store.User {
	t.Helper()
	u := &store.User{ID: store.NewID(), TeamID: teamID, Email: email, Role: role, CreatedAt: t0}
	require.NoError(t, s.CreateUser(context.Background(), u))
	return u
}

func tokenHash(s string) []byte {
	h := sha256.Sum256([]byte(s))
	return h[:]
}

func testUsers(t *testing.T, newStore NewStore) {
	ctx := context.Background()
	s := newStore(t, func() time.Time { return t0 })
	a, b := newTeam(t, s, "a"), newTeam(t, s, "b")

	n, err := s.CountUsers(ctx)
	require.NoError(t, err)
	require.Zero(t, n)
	ann := newUser(t, s, a.ID, "Ann@Example.COM", store.RoleAdmin)
	require.Equal(t, "ann@example.com", ann.Email, "stored in lower case")
	dup := &store.User{ID: store.NewID(), TeamID: a.ID, Email: "ANN@example.com", Role: store.RoleViewer, CreatedAt: t0}
	require.ErrorIs(t, s.CreateUser(ctx, dup), store.ErrConflict, "one email per team, in any case")
	annB := newUser(t, s, b.ID, "ann@example.com", store.RoleViewer) // another team may have the address
	bob := newUser(t, s, a.ID, "bob@example.com", store.RoleViewer)

	got, err := s.GetUser(ctx, a.ID, ann.ID)
	require.NoError(t, err)
	require.Equal(t, ann, got)
	require.Empty(t, got.PasswordHash, "no password until one is set")
	_, err = s.GetUser(ctx, b.ID, ann.ID)
	require.ErrorIs(t, err, store.ErrNotFound, "another team's user is not found")
	list, err := s.ListUsers(ctx, a.ID)
	require.NoError(t, err)
	require.Len(t, list, 2)
	require.Equal(t, []string{ann.ID, bob.ID}, []string{list[0].ID, list[1].ID})
	byEmail, err := s.UsersByEmail(ctx, "ANN@example.com")
	require.NoError(t, err)
	require.Len(t, byEmail, 2, "the address in both teams")
	n, err = s.CountUsers(ctx)
	require.NoError(t, err)
	require.Equal(t, 3, n)

	// Lockout: the third failure in a row locks, and starts the count again.
	lock := store.SigninLock{Max: 3, For: 15 * time.Minute}
	for i := 1; i <= 2; i++ {
		u, err := s.RecordSigninFailure(ctx, a.ID, ann.ID, t0, lock)
		require.NoError(t, err)
		require.Equal(t, i, u.FailedSignins)
		require.Nil(t, u.LockedUntil)
	}
	u, err := s.RecordSigninFailure(ctx, a.ID, ann.ID, t0, lock)
	require.NoError(t, err)
	require.Zero(t, u.FailedSignins)
	require.NotNil(t, u.LockedUntil)
	require.True(t, u.LockedUntil.Equal(t0.Add(15*time.Minute)))
	_, err = s.RecordSigninFailure(ctx, b.ID, ann.ID, t0, lock)
	require.ErrorIs(t, err, store.ErrNotFound, "another team's user")
	require.NoError(t, s.RecordSigninSuccess(ctx, a.ID, ann.ID))
	u, err = s.GetUser(ctx, a.ID, ann.ID)
	require.NoError(t, err)
	require.Nil(t, u.LockedUntil)
	require.ErrorIs(t, s.RecordSigninSuccess(ctx, b.ID, ann.ID), store.ErrNotFound)

	// Sessions, scoped to their user and team.
	sess := &store.UserSession{TokenHash: tokenHash("s1"), UserID: ann.ID, TeamID: a.ID, CreatedAt: t0, LastSeenAt: t0,
		ExpiresAt: t0.Add(time.Hour)}
	require.NoError(t, s.CreateUserSession(ctx, sess))
	require.NoError(t, s.CreateUserSession(ctx, &store.UserSession{TokenHash: tokenHash("s2"), UserID: ann.ID, TeamID: a.ID,
		CreatedAt: t0, LastSeenAt: t0, ExpiresAt: t0.Add(time.Hour)}))
	require.NoError(t, s.CreateUserSession(ctx, &store.UserSession{TokenHash: tokenHash("s3"), UserID: annB.ID, TeamID: b.ID,
		CreatedAt: t0, LastSeenAt: t0, ExpiresAt: t0.Add(time.Hour)}))
	gs, gu, err := s.SessionUser(ctx, tokenHash("s1"), t0.Add(time.Minute))
	require.NoError(t, err)
	require.Equal(t, sess, gs)
	require.Equal(t, ann.ID, gu.ID)
	require.Equal(t, store.RoleAdmin, gu.Role)
	_, _, err = s.SessionUser(ctx, tokenHash("s1"), t0.Add(time.Hour))
	require.ErrorIs(t, err, store.ErrNotFound, "an expired session")
	_, _, err = s.SessionUser(ctx, tokenHash("nope"), t0)
	require.ErrorIs(t, err, store.ErrNotFound)
	require.NoError(t, s.TouchUserSession(ctx, tokenHash("s1"), t0.Add(30*time.Minute), t0.Add(2*time.Hour)))
	gs, _, err = s.SessionUser(ctx, tokenHash("s1"), t0.Add(90*time.Minute))
	require.NoError(t, err, "touching moved the expiry")
	require.True(t, gs.LastSeenAt.Equal(t0.Add(30*time.Minute)))
	require.NoError(t, s.DeleteUserSession(ctx, tokenHash("s2")))
	_, _, err = s.SessionUser(ctx, tokenHash("s2"), t0)
	require.ErrorIs(t, err, store.ErrNotFound, "signed out")
	ended, err := s.DeleteUserSessions(ctx, b.ID, ann.ID)
	require.NoError(t, err)
	require.Zero(t, ended, "another team cannot end the user's sessions")
	ended, err = s.DeleteUserSessions(ctx, a.ID, ann.ID)
	require.NoError(t, err)
	require.EqualValues(t, 1, ended)
	_, _, err = s.SessionUser(ctx, tokenHash("s1"), t0)
	require.ErrorIs(t, err, store.ErrNotFound, "signed out everywhere")
	_, _, err = s.SessionUser(ctx, tokenHash("s3"), t0)
	require.NoError(t, err, "the other team's user is still signed in")

	// One-time tokens set the password once, before they expire, and end
	// the user's sessions.
	require.NoError(t, s.CreatePasswordToken(ctx, &store.PasswordToken{Hash: tokenHash("p1"), UserID: bob.ID, ExpiresAt: t0.Add(time.Hour)}))
	require.NoError(t, s.CreatePasswordToken(ctx, &store.PasswordToken{Hash: tokenHash("p2"), UserID: bob.ID, ExpiresAt: t0.Add(time.Hour)}))
	require.NoError(t, s.CreateUserSession(ctx, &store.UserSession{TokenHash: tokenHash("bob"), UserID: bob.ID, TeamID: a.ID,
		CreatedAt: t0, LastSeenAt: t0, ExpiresAt: t0.Add(time.Hour)}))
	_, err = s.RecordSigninFailure(ctx, a.ID, bob.ID, t0, store.SigninLock{Max: 1, For: time.Hour})
	require.NoError(t, err)
	_, err = s.UsePasswordToken(ctx, tokenHash("p2"), "$h2", t0.Add(time.Hour))
	require.ErrorIs(t, err, store.ErrNotFound, "an expired token")
	u, err = s.UsePasswordToken(ctx, tokenHash("p1"), "$h1", t0.Add(time.Minute))
	require.NoError(t, err)
	require.Equal(t, bob.ID, u.ID)
	require.Equal(t, "$h1", u.PasswordHash)
	require.Nil(t, u.LockedUntil, "setting the password lifts a lock")
	_, err = s.UsePasswordToken(ctx, tokenHash("p1"), "$h3", t0.Add(2*time.Minute))
	require.ErrorIs(t, err, store.ErrNotFound, "a used token")
	u, err = s.GetUser(ctx, a.ID, bob.ID)
	require.NoError(t, err)
	require.Equal(t, "$h1", u.PasswordHash, "a refused token changed nothing")
	_, _, err = s.SessionUser(ctx, tokenHash("bob"), t0)
	require.ErrorIs(t, err, store.ErrNotFound, "a new password ends the old sessions")

	removed, err := s.DeleteExpiredUserAuth(ctx, t0.Add(3*time.Hour))
	require.NoError(t, err)
	require.EqualValues(t, 3, removed, "session s3, tokens p1 and p2")
}
