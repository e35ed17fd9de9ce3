package app

import (
	"bytes"
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/godwit/godwit/internal/config"
	"github.com/godwit/godwit/internal/deliverability"
	"github.com/godwit/godwit/internal/dnscheck"
	"github.com/godwit/godwit/internal/dnscheck/dnstest"
	"github.com/godwit/godwit/internal/domains"
	"github.com/godwit/godwit/internal/godwittest"
	"github.com/godwit/godwit/internal/secretbox"
	"github.com/godwit/godwit/internal/store"
)

// TestReadinessReverseDNSPerPool: each domain's readiness checks the
// reverse DNS of the IPs of its own pool, looked up when the verifier
// checks the domain and stored with its record checks, so that the
// readiness (GET /domains/{id}) reads it without I/O. The tx pool's
// address has a PTR naming the EHLO name and is forward-confirmed; the
// bulk pool's has a provider's PTR.
func TestReadinessReverseDNSPerPool(t *testing.T) {
	t.Parallel()
	for _, kind := range godwittest.Kinds {
		t.Run(string(kind), func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			t0 := time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)
			clock := godwittest.NewClock(t0)
			db := godwittest.NewStore(t, kind, clock)
			dns := dnstest.NewServer(t)
			dns.SetAddr("mx.godwit.test", "192.0.2.1")
			dns.SetPTR("192.0.2.1", "mx.godwit.test")
			dns.SetPTR("192.0.2.2", "host-2.provider.test")

			cfg := config.Defaults()
			cfg.Hostname = "mx.godwit.test"
			cfg.SendingIPs = []string{"192.0.2.1", "192.0.2.2"}
			cfg.IPPools = []string{"tx=192.0.2.1", "bulk=192.0.2.2"}
			r := &dnscheck.Resolver{Addr: dns.Addr(), Timeout: time.Second}
			lookup, err := reverseDNSLookup(cfg, db, r, slog.New(slog.DiscardHandler))
			require.NoError(t, err)

			box, err := secretbox.New(bytes.Repeat([]byte{1}, 32))
			require.NoError(t, err)
			settings := domains.Settings{Keys: box, MXHost: "bounces.godwit.test", SPF: "v=spf1 ~all", DKIMSelector: "resend"}
			team := &store.Team{ID: store.NewID(), Name: "a", CreatedAt: t0}
			require.NoError(t, db.CreateTeam(ctx, team))
			add := func(name, pool string) *store.Domain {
				d := settings.New(team.ID, name, t0)
				d.Status, d.RecordStatus, d.NextCheckAt = store.DomainPending, map[string]string{}, &t0
				d.VerifyStartedAt = &t0
				d.DKIMKey, d.DKIMEd25519Key, err = settings.NewKeys(d.ID)
				require.NoError(t, err)
				require.NoError(t, db.CreateDomain(ctx, d))
				require.NoError(t, db.SetIPPool(ctx, team.ID, d.ID, pool))
				return d
			}
			txd, bulkd := add("tx.example.com", "tx"), add("news.example.com", "bulk")
			v := &domains.Verifier{Store: db, Settings: settings, DNS: r, ReverseDNS: lookup, Now: clock.Now,
				Logger: slog.New(slog.DiscardHandler)}
			n, err := v.RunOnce(ctx)
			require.NoError(t, err)
			require.Equal(t, 2, n)

			readiness := func(d *store.Domain) deliverability.Check {
				t.Helper()
				got, err := db.GetDomain(ctx, team.ID, d.ID)
				require.NoError(t, err)
				for _, c := range deliverability.Domain(got, deliverability.Server{EHLO: cfg.HELOName()}) {
					if c.Check == deliverability.CheckReverseDNS {
						return c
					}
				}
				t.Fatal("no reverse_dns check")
				return deliverability.Check{}
			}
			queries := dns.Queries()
			c := readiness(txd)
			require.Equal(t, deliverability.Pass, c.Status, c.Message)
			require.Contains(t, c.Message, "(192.0.2.1) is the EHLO name mx.godwit.test")
			c = readiness(bulkd)
			require.Equal(t, deliverability.Fail, c.Status, c.Message)
			require.Contains(t, c.Message, "The PTR of 192.0.2.2 is host-2.provider.test, not the EHLO name mx.godwit.test")
			require.Equal(t, queries, dns.Queries(), "reading the readiness looks nothing up")
		})
	}
}
