package account_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/godwit/godwit/internal/account"
	"github.com/godwit/godwit/internal/godwittest"
	"github.com/godwit/godwit/internal/store"
	"github.com/godwit/godwit/internal/store/sqlstore"
)

// fast keeps the tests quick; the costs themselves are tested on their own.
var fast = account.Params{Memory: 64, Time: 1, Threads: 1}

func TestPasswordHash(t *testing.T) {
	t.Parallel()
	start := time.Now()
	h, err := account.HashPassword("correct horse battery", account.DefaultParams)
	took := time.Since(start)
	require.NoError(t, err)
	t.Logf("argon2id with the default costs took %v", took)
	require.True(t, strings.HasPrefix(h, "$argon2id$v=19$m=19456,t=2,p=1$"), h)
	ok, err := account.VerifyPassword(h, "correct horse battery")
	require.NoError(t, err)
	require.True(t, ok)
	ok, err = account.VerifyPassword(h, "correct horse batterz")
	require.NoError(t, err)
	require.False(t, ok)
	h2, err := account.HashPassword("correct horse battery", account.DefaultParams)
	require.NoError(t, err)
	require.NotEqual(t, h, h2, "a random salt each time")

	for _, bad := range []string{"", "plain", "$argon2i$v=19$m=64,t=1,p=1$c2FsdHNhbHQ$" + strings.Repeat("A", 43),
		"$argon2id$v=19$m=99999999,t=1,p=1$c2FsdHNhbHQ$" + strings.Repeat("A", 43), // too costly to verify
		"$argon2id$v=19$t=1,m=64,p=1$c2FsdHNhbHQ$" + strings.Repeat("A", 43)} {
		_, err := account.VerifyPassword(bad, "x")
		require.Error(t, err, bad)
	}
	require.ErrorIs(t, account.CheckPassword("short"), account.ErrPasswordTooShort)
	require.ErrorIs(t, account.CheckPassword("ééééééééé"), account.ErrPasswordTooShort, "counted in characters")
	require.NoError(t, account.CheckPassword("éééééééééé"))
	require.ErrorIs(t, account.CheckPassword(strings.Repeat("a", 1025)), account.ErrPasswordTooLong)
}

func TestTokens(t *testing.T) {
	t.Parallel()
	tok, hash, err := account.NewToken()
	require.NoError(t, err)
	require.Len(t, tok, 43)
	got, err := account.ParseToken(tok)
	require.NoError(t, err)
	require.Equal(t, hash, got)
	for _, bad := range []string{"", tok[:42], tok + "A", strings.Repeat("+", 43), tok[:42] + "="} {
		_, err := account.ParseToken(bad)
		require.ErrorIs(t, err, account.ErrBadToken, bad)
	}
}

func FuzzParseToken(f *testing.F) {
	tok, _, _ := account.NewToken()
	for _, s := range []string{tok, "", "a", strings.Repeat("A", 43), strings.Repeat("_", 43), strings.Repeat("A", 42) + "B"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		h, err := account.ParseToken(s)
		if err != nil {
			return
		}
		require.Len(t, h, 32)
		require.Len(t, s, 43)
	})
}

func FuzzVerifyPassword(f *testing.F) {
	h, _ := account.HashPassword("password12", fast)
	for _, s := range []string{h, "", "$argon2id$v=19$m=64,t=1,p=1$$", "$argon2id$v=19$m=0,t=1,p=1$c2FsdHNhbHQ$AAAAAAAAAAAAAAAAAAAAAA"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ok, err := account.VerifyPassword(s, "password12")
		if err != nil {
			require.False(t, ok)
		}
	})
}

type env struct {
	svc   *account.Service
	db    *sqlstore.DB
	clock *godwittest.Clock
	team  *store.Team
}

func setup(t *testing.T, cfg account.Config) *env {
	t.Helper()
	clock := godwittest.NewClock(time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC))
	db := godwittest.NewStore(t, sqlstore.SQLite, clock)
	team := &store.Team{ID: store.NewID(), Name: "a", CreatedAt: clock.Now()}
	require.NoError(t, db.CreateTeam(context.Background(), team))
	cfg.Store, cfg.Now = db, clock.Now
	if cfg.Params == (account.Params{}) {
		cfg.Params = fast
	}
	svc, err := account.New(cfg)
	require.NoError(t, err)
	return &env{svc: svc, db: db, clock: clock, team: team}
}

func TestSignIn(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := setup(t, account.Config{})
	_, _, err := e.svc.CreateUser(ctx, e.team.ID, "Ann <ann@example.com>", store.RoleAdmin)
	require.ErrorIs(t, err, account.ErrInvalidEmail)
	_, _, err = e.svc.CreateUser(ctx, e.team.ID, "ann@example.com", "owner")
	require.ErrorIs(t, err, account.ErrInvalidRole)
	u, link, err := e.svc.CreateUser(ctx, e.team.ID, "Ann@example.com", store.RoleAdmin)
	require.NoError(t, err)
	_, _, err = e.svc.CreateUser(ctx, e.team.ID, "ann@EXAMPLE.com", store.RoleAdmin)
	require.ErrorIs(t, err, store.ErrConflict)

	_, err = e.svc.SignIn(ctx, "ann@example.com", "", "192.0.2.1")
	require.ErrorIs(t, err, account.ErrBadCredentials, "no password yet")
	_, err = e.svc.SetPassword(ctx, link, "short")
	require.ErrorIs(t, err, account.ErrPasswordTooShort)
	_, err = e.svc.SetPassword(ctx, "not-a-token", "long enough password")
	require.ErrorIs(t, err, account.ErrTokenInvalid)
	first, err := e.svc.SetPassword(ctx, link, "long enough password")
	require.NoError(t, err)
	require.Equal(t, u.ID, first.User.ID)
	_, err = e.svc.SetPassword(ctx, link, "another long password")
	require.ErrorIs(t, err, account.ErrTokenInvalid, "the link works once")

	s, err := e.svc.SignIn(ctx, "ANN@example.com ", "long enough password", "192.0.2.1")
	require.NoError(t, err)
	got, err := e.svc.Authenticate(ctx, s.Token)
	require.NoError(t, err)
	require.Equal(t, u.ID, got.ID)
	_, err = e.svc.SignIn(ctx, "ann@example.com", "wrong password!", "192.0.2.1")
	require.ErrorIs(t, err, account.ErrBadCredentials)
	_, err = e.svc.SignIn(ctx, "nobody@example.com", "long enough password", "192.0.2.1")
	require.ErrorIs(t, err, account.ErrBadCredentials, "an unknown email answers alike")

	require.NoError(t, e.svc.SignOut(ctx, s.Token))
	_, err = e.svc.Authenticate(ctx, s.Token)
	require.ErrorIs(t, err, account.ErrNoSession)
	_, err = e.svc.Authenticate(ctx, "garbage")
	require.ErrorIs(t, err, account.ErrNoSession)

	// Sign out everywhere ends the first session too.
	s2, err := e.svc.SignIn(ctx, "ann@example.com", "long enough password", "192.0.2.1")
	require.NoError(t, err)
	_, err = e.svc.Authenticate(ctx, first.Token)
	require.NoError(t, err)
	require.NoError(t, e.svc.SignOutEverywhere(ctx, e.team.ID, u.ID))
	for _, tok := range []string{first.Token, s2.Token} {
		_, err = e.svc.Authenticate(ctx, tok)
		require.ErrorIs(t, err, account.ErrNoSession)
	}

	// Sessions end after a week unused, and 30 days after sign-in.
	s3, err := e.svc.SignIn(ctx, "ann@example.com", "long enough password", "192.0.2.1")
	require.NoError(t, err)
	for range 5 {
		e.clock.Advance(6 * 24 * time.Hour)
		_, err = e.svc.Authenticate(ctx, s3.Token)
		require.NoError(t, err, "used within the week")
	}
	e.clock.Advance(6 * 24 * time.Hour)
	_, err = e.svc.Authenticate(ctx, s3.Token)
	require.ErrorIs(t, err, account.ErrNoSession, "past 30 days")
	s4, err := e.svc.SignIn(ctx, "ann@example.com", "long enough password", "192.0.2.1")
	require.NoError(t, err)
	e.clock.Advance(7*24*time.Hour + time.Second)
	_, err = e.svc.Authenticate(ctx, s4.Token)
	require.ErrorIs(t, err, account.ErrNoSession, "a week unused")
}

func TestLockout(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := setup(t, account.Config{IPBurst: -1})
	_, link, err := e.svc.CreateUser(ctx, e.team.ID, "ann@example.com", store.RoleViewer)
	require.NoError(t, err)
	_, err = e.svc.SetPassword(ctx, link, "long enough password")
	require.NoError(t, err)
	for i := range account.LockAfter - 1 {
		_, err := e.svc.SignIn(ctx, "ann@example.com", "wrong password!", "192.0.2.1")
		require.ErrorIs(t, err, account.ErrBadCredentials, "failure %d", i+1)
	}
	_, err = e.svc.SignIn(ctx, "ann@example.com", "wrong password!", "192.0.2.1")
	require.ErrorIs(t, err, account.ErrLocked, "the tenth failure locks")
	_, err = e.svc.SignIn(ctx, "ann@example.com", "long enough password", "192.0.2.9")
	require.ErrorIs(t, err, account.ErrLocked, "the right password is refused too, from anywhere")
	e.clock.Advance(account.LockFor + time.Second)
	_, err = e.svc.SignIn(ctx, "ann@example.com", "long enough password", "192.0.2.1")
	require.NoError(t, err, "the lock ends")
}

func TestIPThrottle(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := setup(t, account.Config{IPBurst: 3, IPEvery: time.Minute})
	for range 3 {
		_, err := e.svc.SignIn(ctx, "nobody@example.com", "whatever password", "192.0.2.1")
		require.ErrorIs(t, err, account.ErrBadCredentials)
	}
	_, err := e.svc.SignIn(ctx, "nobody@example.com", "whatever password", "192.0.2.1")
	require.ErrorIs(t, err, account.ErrThrottled)
	_, err = e.svc.SignIn(ctx, "nobody@example.com", "whatever password", "192.0.2.2")
	require.ErrorIs(t, err, account.ErrBadCredentials, "another address has its own budget")
	e.clock.Advance(time.Minute)
	_, err = e.svc.SignIn(ctx, "nobody@example.com", "whatever password", "192.0.2.1")
	require.ErrorIs(t, err, account.ErrBadCredentials, "the budget refills")
}

// Sign-in costs the same for an unknown email as for a wrong password:
// each verifies exactly one hash, with the same argon2id costs, so the
// answer's timing does not tell whether an account exists. (The costs are
// compared, not wall times, which a busy machine blurs.)
func TestUnknownEmailCostsAHash(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := setup(t, account.Config{IPBurst: -1, Params: account.DefaultParams})
	_, link, err := e.svc.CreateUser(ctx, e.team.ID, "ann@example.com", store.RoleViewer)
	require.NoError(t, err)
	_, err = e.svc.SetPassword(ctx, link, "long enough password")
	require.NoError(t, err)
	var costs []account.Params
	account.CountVerifications(e.svc, &costs)

	_, err = e.svc.SignIn(ctx, "ann@example.com", "wrong password!", "192.0.2.1")
	require.ErrorIs(t, err, account.ErrBadCredentials)
	require.Equal(t, []account.Params{account.DefaultParams}, costs, "a wrong password verifies the user's hash")
	costs = nil
	_, err = e.svc.SignIn(ctx, "nobody@example.com", "wrong password!", "192.0.2.1")
	require.ErrorIs(t, err, account.ErrBadCredentials)
	require.Equal(t, []account.Params{account.DefaultParams}, costs, "an unknown email verifies a dummy hash of the same costs")
}
