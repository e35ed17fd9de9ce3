package dnscheck_test

import (
	"context"
	"testing"

	"github.com/miekg/dns"
	"github.com/stretchr/testify/require"

	"github.com/godwit/godwit/internal/dnscheck"
	"github.com/godwit/godwit/internal/dnscheck/dnstest"
)

func TestAuthenticatedLookups(t *testing.T) {
	srv := dnstest.NewServer(t)
	r := &dnscheck.Resolver{Addr: srv.Addr()}
	ctx := context.Background()
	srv.SetMX("signed.test", dnscheck.MX{Host: "mx.signed.test", Preference: 10})
	srv.SetMX("plain.test", dnscheck.MX{Host: "mx.plain.test", Preference: 10})
	srv.SetAuthenticated("signed.test", true)
	rec := dns.TLSA{Usage: 3, Selector: 1, MatchingType: 1, Certificate: "abcdef"}
	srv.SetTLSA("_25._tcp.mx.signed.test", rec)
	srv.SetAuthenticated("_25._tcp.mx.signed.test", true)
	srv.SetTLSA("_25._tcp.mx.plain.test", rec)
	srv.SetAuthenticated("_25._tcp.none.signed.test", true)

	mxs, ad, err := r.LookupMXAuthenticated(ctx, "signed.test")
	require.NoError(t, err)
	require.True(t, ad)
	require.Equal(t, []dnscheck.MX{{Host: "mx.signed.test", Preference: 10}}, mxs)

	mxs, ad, err = r.LookupMXAuthenticated(ctx, "plain.test")
	require.NoError(t, err)
	require.False(t, ad, "no AD bit: not authenticated")
	require.Len(t, mxs, 1)

	recs, ad, err := r.LookupTLSA(ctx, "_25._tcp.mx.signed.test")
	require.NoError(t, err)
	require.True(t, ad)
	require.Len(t, recs, 1)
	require.Equal(t, uint8(3), recs[0].Usage)
	require.Equal(t, "abcdef", recs[0].Certificate)

	recs, ad, err = r.LookupTLSA(ctx, "_25._tcp.mx.plain.test")
	require.NoError(t, err)
	require.False(t, ad)
	require.Len(t, recs, 1)

	recs, ad, err = r.LookupTLSA(ctx, "_25._tcp.none.signed.test")
	require.NoError(t, err)
	require.True(t, ad, "an authenticated denial")
	require.Empty(t, recs)

	srv.Fail("_25._tcp.mx.signed.test", dns.RcodeServerFailure)
	_, _, err = r.LookupTLSA(ctx, "_25._tcp.mx.signed.test")
	require.Error(t, err, "SERVFAIL is an error, not an absence")
}
