package dnscheck_test

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/stretchr/testify/require"

	"github.com/godwit/godwit/internal/dnscheck"
	"github.com/godwit/godwit/internal/dnscheck/dnstest"
	"github.com/godwit/godwit/internal/godwittest"
)

// txt is r.LookupTXT(name), which must succeed.
func txt(t *testing.T, r *dnscheck.Resolver, name string) []string {
	t.Helper()
	got, err := r.LookupTXT(t.Context(), name)
	require.NoError(t, err)
	return got
}

// cachedResolver is a resolver of srv with a cache on a test clock.
func cachedResolver(srv *dnstest.Server, c *dnscheck.Cache) (*dnscheck.Resolver, *godwittest.Clock) {
	clock := godwittest.NewClock(time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC))
	c.Now = clock.Now
	return &dnscheck.Resolver{Addr: srv.Addr(), Timeout: 2 * time.Second, Cache: c}, clock
}

func TestCacheKeepsAnswerForItsTTL(t *testing.T) {
	t.Parallel()
	srv := dnstest.NewServer(t)
	srv.SetTTL(30)
	srv.SetTXT("sender.example", "v=spf1 ip4:192.0.2.1 -all")
	r, clock := cachedResolver(srv, &dnscheck.Cache{})

	got := txt(t, r, "sender.example")
	require.Equal(t, []string{"v=spf1 ip4:192.0.2.1 -all"}, got)
	require.Equal(t, 1, srv.Queries())

	// Within the TTL: answered from the cache, even once the record changed
	// (and whatever the spelling of the name).
	srv.SetTXT("sender.example", "v=spf1 ip4:192.0.2.2 -all")
	clock.Advance(29 * time.Second)
	got = txt(t, r, "SENDER.example.")
	require.Equal(t, []string{"v=spf1 ip4:192.0.2.1 -all"}, got)
	require.Equal(t, 1, srv.Queries(), "a lookup within the TTL must not reach the server")

	// Once the TTL has passed, the server is asked and the change is seen.
	clock.Advance(time.Second)
	got = txt(t, r, "sender.example")
	require.Equal(t, []string{"v=spf1 ip4:192.0.2.2 -all"}, got)
	require.Equal(t, 2, srv.Queries())
	require.Equal(t, uint64(1), r.Cache.Hits())
	require.Equal(t, uint64(2), r.Cache.Misses())
}

func TestCacheKeepsEachTypeApart(t *testing.T) {
	t.Parallel()
	srv := dnstest.NewServer(t)
	srv.SetTXT("example.org", "hello")
	srv.SetMX("example.org", dnscheck.MX{Host: "mx.example.org", Preference: 10})
	srv.SetAddr("mx.example.org", "192.0.2.25", "2001:db8::25")
	r, _ := cachedResolver(srv, &dnscheck.Cache{})
	ctx := t.Context()

	for range 3 {
		require.Equal(t, []string{"hello"}, txt(t, r, "example.org"))
		mx, err := r.LookupMX(ctx, "example.org")
		require.NoError(t, err)
		require.Equal(t, []dnscheck.MX{{Host: "mx.example.org", Preference: 10}}, mx)
		ips, err := r.LookupIP(ctx, "mx.example.org")
		require.NoError(t, err)
		require.Len(t, ips, 2)
	}
	require.Equal(t, 4, srv.Queries(), "TXT, MX, A and AAAA asked once each")
}

func TestCacheNegativeAnswers(t *testing.T) {
	t.Parallel()
	srv := dnstest.NewServer(t)
	srv.SetTXT("exists.example", "x")
	r, clock := cachedResolver(srv, &dnscheck.Cache{NegativeTTL: 20 * time.Second})
	ctx := t.Context()

	// NXDOMAIN and NODATA without an SOA: kept for NegativeTTL.
	for range 2 {
		got := txt(t, r, "_dmarc.missing.example")
		require.Empty(t, got)
		mx, err := r.LookupMX(ctx, "exists.example")
		require.NoError(t, err)
		require.Empty(t, mx)
	}
	require.Equal(t, 2, srv.Queries())

	// A record published meanwhile is seen once the negative TTL is over.
	srv.SetTXT("_dmarc.missing.example", "v=DMARC1; p=reject")
	clock.Advance(19 * time.Second)
	got := txt(t, r, "_dmarc.missing.example")
	require.Empty(t, got)
	clock.Advance(time.Second)
	got = txt(t, r, "_dmarc.missing.example")
	require.Equal(t, []string{"v=DMARC1; p=reject"}, got)
	require.Equal(t, 3, srv.Queries())
}

func TestCacheNegativeTTLFromSOA(t *testing.T) {
	t.Parallel()
	srv := dnstest.NewServer(t)
	srv.SetTXT("a.zone.example", "x")
	srv.SetSOA("zone.example", 300, 5) // the minimum field is smaller: 5 s
	r, clock := cachedResolver(srv, &dnscheck.Cache{})

	lookup := func() {
		t.Helper()
		got := txt(t, r, "nothing.zone.example")
		require.Empty(t, got)
	}
	lookup()
	clock.Advance(4 * time.Second)
	lookup()
	require.Equal(t, 1, srv.Queries())
	clock.Advance(time.Second)
	lookup()
	require.Equal(t, 2, srv.Queries(), "kept for the SOA's minimum (5 s), not longer")

	// An SOA asking for longer than the cap is held to it (60 s by default).
	srv.SetSOA("zone.example", 7200, 7200)
	clock.Advance(time.Hour)
	lookup()
	clock.Advance(59 * time.Second)
	lookup()
	require.Equal(t, 3, srv.Queries())
	clock.Advance(time.Second)
	lookup()
	require.Equal(t, 4, srv.Queries())
}

func TestCacheCapsTTLAndSkipsZero(t *testing.T) {
	t.Parallel()
	srv := dnstest.NewServer(t)
	srv.SetTTL(86400)
	srv.SetTXT("long.example", "x")
	r, clock := cachedResolver(srv, &dnscheck.Cache{MaxTTL: 10 * time.Second})
	for range 2 {
		txt(t, r, "long.example")
	}
	require.Equal(t, 1, srv.Queries())
	clock.Advance(10 * time.Second)
	txt(t, r, "long.example")
	require.Equal(t, 2, srv.Queries(), "a day's TTL is held to MaxTTL")

	// TTL 0: never kept.
	srv.SetTTL(0)
	srv.SetTXT("zero.example", "y")
	for range 3 {
		txt(t, r, "zero.example")
	}
	require.Equal(t, 5, srv.Queries())
}

func TestCacheCNAMEChainUsesSmallestTTL(t *testing.T) {
	t.Parallel()
	srv := dnstest.NewServer(t)
	srv.SetTTL(5) // the alias is kept for less time than its target
	srv.SetCNAME("s1._domainkey.alias.example", "s1._domainkey.provider.example")
	srv.SetTTL(300)
	srv.SetTXT("s1._domainkey.provider.example", "v=DKIM1; p=abc")
	r, clock := cachedResolver(srv, &dnscheck.Cache{})

	lookup := func() {
		t.Helper()
		got := txt(t, r, "s1._domainkey.alias.example")
		require.Equal(t, []string{"v=DKIM1; p=abc"}, got)
	}
	lookup()
	clock.Advance(4 * time.Second)
	lookup()
	require.Equal(t, 1, srv.Queries())
	clock.Advance(time.Second)
	lookup()
	require.Equal(t, 2, srv.Queries(), "the CNAME's 5 s bound the answer, not the target's 300 s")
}

func TestCacheDoesNotKeepFailures(t *testing.T) {
	t.Parallel()
	srv := dnstest.NewServer(t)
	srv.SetTXT("flaky.example", "ok")
	srv.Fail("flaky.example", dns.RcodeServerFailure)
	r, _ := cachedResolver(srv, &dnscheck.Cache{})
	ctx := t.Context()
	for range 2 {
		_, err := r.LookupTXT(ctx, "flaky.example")
		require.Error(t, err)
	}
	require.Equal(t, 2, srv.Queries(), "a SERVFAIL is asked again")
	srv.Fail("flaky.example", dns.RcodeSuccess)
	got := txt(t, r, "flaky.example")
	require.Equal(t, []string{"ok"}, got)
}

func TestCacheIsBounded(t *testing.T) {
	t.Parallel()
	srv := dnstest.NewServer(t)
	for i := range 5 {
		srv.SetTXT(fmt.Sprintf("n%d.example", i), fmt.Sprint(i))
	}
	c := &dnscheck.Cache{MaxEntries: 3}
	r, _ := cachedResolver(srv, c)
	ctx := t.Context()
	lookup := func(i int) {
		t.Helper()
		got, err := r.LookupTXT(ctx, fmt.Sprintf("n%d.example", i))
		require.NoError(t, err)
		require.Equal(t, []string{fmt.Sprint(i)}, got)
	}
	for i := range 5 {
		lookup(i)
		require.LessOrEqual(t, c.Len(), 3)
	}
	require.Equal(t, 5, srv.Queries())
	// The three most recent are kept; the oldest were dropped.
	lookup(4)
	lookup(3)
	lookup(2)
	require.Equal(t, 5, srv.Queries())
	lookup(0)
	require.Equal(t, 6, srv.Queries())
}

func TestCacheConcurrentLookups(t *testing.T) {
	t.Parallel()
	srv := dnstest.NewServer(t)
	for i := range 20 {
		srv.SetTXT(fmt.Sprintf("c%d.example", i), fmt.Sprint(i))
	}
	r, _ := cachedResolver(srv, &dnscheck.Cache{MaxEntries: 10})
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for j := range 200 {
				i := (g*7 + j) % 20
				got, err := r.LookupTXT(t.Context(), fmt.Sprintf("c%d.example", i))
				if err != nil || len(got) != 1 || got[0] != fmt.Sprint(i) {
					t.Errorf("c%d.example: %v %v", i, got, err)
					return
				}
			}
		})
	}
	wg.Wait()
	require.Equal(t, uint64(1600), r.Cache.Hits()+r.Cache.Misses())
}
