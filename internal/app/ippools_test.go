package app

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/godwit/godwit/internal/config"
	"github.com/godwit/godwit/internal/godwittest"
	"github.com/godwit/godwit/internal/store"
	"github.com/godwit/godwit/internal/store/sqlstore"
	"github.com/godwit/godwit/internal/warmup"
)

// TestIPPoolsCommand: godwit ip-pools assigns configured pools to teams
// and domains, refuses unknown ones, and lists pools, warm-up and
// assignments.
func TestIPPoolsCommand(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	url := godwittest.StoreURL(t, sqlstore.SQLite)
	db, err := sqlstore.Open(ctx, url, sqlstore.Options{Outbox: godwittest.NewOutbox()})
	require.NoError(t, err)
	t.Cleanup(func() { _ = db.Close() })
	t0 := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	team := &store.Team{ID: uuid.NewString(), Name: "acme", CreatedAt: t0}
	require.NoError(t, db.CreateTeam(ctx, team))
	d := &store.Domain{ID: uuid.NewString(), TeamID: team.ID, Name: "example.com", Region: "us-east-1", ReturnPath: "send",
		Status: store.DomainVerified, TLS: "opportunistic", Sending: "enabled", Receiving: "disabled", DKIMSelector: "resend",
		DKIMKey: []byte("sealed"), RecordStatus: map[string]string{}, CreatedAt: t0, UpdatedAt: t0}
	require.NoError(t, db.CreateDomain(ctx, d))
	today := time.Now().UTC().Format(time.DateOnly)
	ok, err := db.TakeWarmup(ctx, "192.0.2.2", "gmail", warmup.DayKey(time.Now()), 100)
	require.NoError(t, err)
	require.True(t, ok)

	env := map[string]string{
		"GODWIT_DATABASE_URL": url,
		"GODWIT_SENDING_IPS":  "192.0.2.1,192.0.2.2,2001:db8::1",
		"GODWIT_IP_POOL":      "bulk=192.0.2.2;tx=192.0.2.1,2001:db8::1",
		"GODWIT_WARMUP_IPS":   "192.0.2.2=" + today,
		"GODWIT_WARMUP":       "default:start=40,gmail:start=20",
	}
	run := func(args ...string) (string, string, int) {
		var out, errb bytes.Buffer
		code := Main(ctx, append([]string{"ip-pools"}, args...), &out, &errb, func(k string) string { return env[k] })
		return out.String(), errb.String(), code
	}
	out, errs, code := run("assign", "--team", "acme", "--pool", "bulk")
	require.Zero(t, code, errs)
	require.Contains(t, out, "team acme: sends from the pool bulk")
	out, errs, code = run("assign", "--team", "acme", "--domain", "example.com", "--pool", "tx")
	require.Zero(t, code, errs)
	require.Contains(t, out, "domain example.com of team acme: sends from the pool tx")
	_, errs, code = run("assign", "--team", "acme", "--pool", "nope")
	require.NotZero(t, code)
	require.Contains(t, errs, `the pool "nope" is not configured`)
	_, errs, code = run("assign", "--team", "acme", "--domain", "other.com", "--pool", "tx")
	require.NotZero(t, code)
	require.Contains(t, errs, "other.com")

	pool, err := db.IPPoolFor(ctx, team.ID, d.ID)
	require.NoError(t, err)
	require.Equal(t, "tx", pool)

	out, errs, code = run("list")
	require.Zero(t, code, errs)
	require.Regexp(t, `bulk\s+192\.0\.2\.2\s+day 1 since `+today+`\s+gmail 1/20 microsoft 0/40`, out)
	require.Regexp(t, `tx\s+2001:db8::1\s+done \(no cap\)`, out)
	require.Regexp(t, `default\s+192\.0\.2\.1`, out, "the default pool: every sending IP")
	require.Regexp(t, `acme\s+\(all\)\s+bulk`, out)
	require.Regexp(t, `acme\s+example\.com\s+tx`, out)

	out, errs, code = run("unassign", "--team", "acme", "--domain", "example.com")
	require.Zero(t, code, errs)
	require.True(t, strings.HasPrefix(out, "domain example.com of team acme: no pool of its own"))
	pool, err = db.IPPoolFor(ctx, team.ID, d.ID)
	require.NoError(t, err)
	require.Equal(t, "bulk", pool)
}

// TestSendingSourcesBindable: a worker binds only to addresses it holds;
// one it cannot bind stops start-up naming it.
func TestSendingSourcesBindable(t *testing.T) {
	t.Parallel()
	cfg := config.Defaults()
	s, err := sendingSources(cfg, nil, nil, slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	require.Nil(t, s, "nothing to bind")

	cfg.SendingIPs, cfg.IPPools = []string{"127.0.0.2", "127.0.0.3"}, []string{"bulk=127.0.0.3"}
	s, err = sendingSources(cfg, nil, nil, slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	require.Equal(t, []string{"bulk", "default"}, s.Pools.Names())

	cfg.SendingIPs, cfg.IPPools, cfg.BindSendingIPs = []string{"192.0.2.77"}, nil, true
	_, err = sendingSources(cfg, nil, nil, slog.New(slog.DiscardHandler))
	require.ErrorContains(t, err, "sending IP 192.0.2.77 cannot be bound on this machine")
}
