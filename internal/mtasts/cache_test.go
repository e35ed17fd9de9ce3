package mtasts_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/godwit/godwit/internal/dnscheck/dnstest"
	"github.com/godwit/godwit/internal/godwittest"
	"github.com/godwit/godwit/internal/mtasts"
	"github.com/godwit/godwit/internal/netguard"
)

type cacheEnv struct {
	dns    *dnstest.Server
	srv    *godwittest.PolicyServer
	clock  *godwittest.Clock
	cache  *mtasts.Cache
	counts map[string]int
}

func newCacheEnv(t *testing.T) *cacheEnv {
	t.Helper()
	ca := godwittest.NewCA(t)
	e := &cacheEnv{dns: dnstest.NewServer(t), srv: godwittest.NewPolicyServer(t, ca, "mta-sts.example.test"),
		clock: godwittest.NewClock(time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)), counts: map[string]int{}}
	e.dns.SetAddr("mta-sts.example.test", "127.0.0.1")
	e.cache = &mtasts.Cache{Resolver: e.dns.Addr(), RootCAs: ca.Pool(), Port: e.srv.Port(), Now: e.clock.Now,
		Guard: netguard.Policy{AllowPrivate: true}, Fetched: func(r string) { e.counts[r]++ }}
	return e
}

func (e *cacheEnv) lookup(t *testing.T) *mtasts.Policy {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	p, _ := e.cache.Lookup(ctx, "example.test")
	return p
}

const enforceMX = "version: STSv1\nmode: enforce\nmx: mx.example.test\nmax_age: 3600\n"

// TestCacheLookup: the policy is fetched once per TXT id and max_age, a
// changed id refetches, and a cached policy outlives a vanished record or
// a failing server until it expires.
func TestCacheLookup(t *testing.T) {
	e := newCacheEnv(t)
	require.Nil(t, e.lookup(t), "no TXT record: no policy")
	require.Zero(t, e.srv.Fetches())

	e.dns.SetTXT("_mta-sts.example.test", "v=STSv1; id=1")
	e.srv.Set(enforceMX)
	p := e.lookup(t)
	require.NotNil(t, p)
	require.Equal(t, mtasts.Enforce, p.Mode)
	require.Equal(t, "1", p.ID)
	require.True(t, p.Match("MX.example.test."))
	require.Equal(t, 1, e.srv.Fetches())
	require.Equal(t, 1, e.counts["ok"])

	e.srv.Set("version: STSv1\nmode: testing\nmx: mx.example.test\nmax_age: 3600\n")
	require.Equal(t, mtasts.Enforce, e.lookup(t).Mode, "same id: the cached policy, no fetch")
	require.Equal(t, 1, e.srv.Fetches())

	e.dns.SetTXT("_mta-sts.example.test", "v=STSv1; id=2")
	require.Equal(t, mtasts.Testing, e.lookup(t).Mode, "a new id refetches")
	require.Equal(t, 2, e.srv.Fetches())

	e.dns.Delete("_mta-sts.example.test")
	require.Equal(t, mtasts.Testing, e.lookup(t).Mode, "the record is gone: the cached policy still applies")
	e.dns.SetTXT("_mta-sts.example.test", "v=STSv1; id=3")
	e.srv.Fail(http.StatusInternalServerError)
	require.Equal(t, mtasts.Testing, e.lookup(t).Mode, "the fetch fails: the cached policy still applies")
	require.Equal(t, 1, e.counts["error"])

	e.clock.Advance(time.Hour)
	require.Nil(t, e.lookup(t), "expired and the server fails: no policy")
	e.srv.Set(enforceMX)
	require.Equal(t, mtasts.Enforce, e.lookup(t).Mode)
	fetches := e.srv.Fetches()
	e.clock.Advance(59 * time.Minute)
	e.lookup(t)
	require.Equal(t, fetches, e.srv.Fetches(), "within max_age")
	e.clock.Advance(time.Minute)
	e.lookup(t)
	require.Equal(t, fetches+1, e.srv.Fetches(), "max_age passed: refetched")
}

// TestCacheRefusals: what makes a domain have no policy.
func TestCacheRefusals(t *testing.T) {
	e := newCacheEnv(t)
	e.srv.Set(enforceMX)

	e.dns.SetTXT("_mta-sts.example.test", "v=STSv1; id=1", "v=STSv1; id=2")
	require.Nil(t, e.lookup(t), "two STSv1 records")
	e.dns.SetTXT("_mta-sts.example.test", "v=STSv1; id=bad-id")
	require.Nil(t, e.lookup(t), "an invalid id")
	e.dns.SetTXT("_mta-sts.example.test", "v=spf1 -all", "v=STSv1; id=1")
	require.NotNil(t, e.lookup(t), "other TXT records are ignored")

	e2 := newCacheEnv(t)
	e2.dns.SetTXT("_mta-sts.example.test", "v=STSv1; id=1")
	e2.srv.Set("version: STSv1\nmode: enforce\nmax_age: 3600\n")
	require.Nil(t, e2.lookup(t), "an invalid policy")
	e3 := newCacheEnv(t)
	e3.dns.SetTXT("_mta-sts.example.test", "v=STSv1; id=1")
	e3.srv.Set(enforceMX)
	e3.cache.Guard = netguard.Policy{} // loopback refused, as in production
	p, err := e3.cache.Lookup(context.Background(), "example.test")
	require.Nil(t, p)
	require.ErrorContains(t, err, "non-public address")
	require.Zero(t, e3.srv.Fetches(), "the guard refused the connection")

	e4 := newCacheEnv(t)
	e4.dns.SetTXT("_mta-sts.example.test", "v=STSv1; id=1")
	e4.srv.Set(enforceMX)
	e4.cache.RootCAs = nil // the test CA is not trusted
	require.Nil(t, e4.lookup(t), "certificate not trusted")
}
