package dnstest_test

import (
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/stretchr/testify/require"

	"github.com/godwit/godwit/internal/dnscheck"
	"github.com/godwit/godwit/internal/dnscheck/dnstest"
)

func ask(t *testing.T, srv *dnstest.Server, network, name string, qtype uint16, edns uint16) *dns.Msg {
	t.Helper()
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(name), qtype)
	if edns > 0 {
		m.SetEdns0(edns, false)
	}
	c := &dns.Client{Net: network, Timeout: 2 * time.Second}
	resp, _, err := c.ExchangeContext(t.Context(), m, srv.Addr())
	require.NoError(t, err)
	return resp
}

func txts(resp *dns.Msg) [][]string {
	var out [][]string
	for _, rr := range resp.Answer {
		if txt, ok := rr.(*dns.TXT); ok {
			out = append(out, txt.Txt)
		}
	}
	return out
}

func TestAnswers(t *testing.T) {
	t.Parallel()
	srv := dnstest.NewServer(t)
	require.True(t, strings.HasPrefix(srv.Addr(), "127.0.0.1:"))

	srv.SetTXT("Example.COM.", "one", "two")
	srv.SetMX("example.com", dnscheck.MX{Host: "mx.example.com", Preference: 10})

	for _, network := range []string{"udp", "tcp"} {
		resp := ask(t, srv, network, "EXAMPLE.com", dns.TypeTXT, 0)
		require.Equal(t, dns.RcodeSuccess, resp.Rcode)
		require.True(t, resp.Authoritative)
		require.ElementsMatch(t, [][]string{{"one"}, {"two"}}, txts(resp))

		resp = ask(t, srv, network, "example.com", dns.TypeMX, 0)
		require.Len(t, resp.Answer, 1)
		mx := resp.Answer[0].(*dns.MX)
		require.Equal(t, "mx.example.com.", mx.Mx)
		require.Equal(t, uint16(10), mx.Preference)

		// Existing name, other type: NOERROR, empty.
		resp = ask(t, srv, network, "example.com", dns.TypeAAAA, 0)
		require.Equal(t, dns.RcodeSuccess, resp.Rcode)
		require.Empty(t, resp.Answer)

		resp = ask(t, srv, network, "nope.example.com", dns.TypeTXT, 0)
		require.Equal(t, dns.RcodeNameError, resp.Rcode)
		require.True(t, resp.Authoritative)
	}

	// Empty non-terminal: NOERROR.
	srv.SetTXT("sel._domainkey.example.org", "p=x")
	resp := ask(t, srv, "udp", "_domainkey.example.org", dns.TypeTXT, 0)
	require.Equal(t, dns.RcodeSuccess, resp.Rcode)
	require.Empty(t, resp.Answer)

	// Setting no values removes the records.
	srv.SetTXT("example.com")
	resp = ask(t, srv, "udp", "example.com", dns.TypeTXT, 0)
	require.Equal(t, dns.RcodeSuccess, resp.Rcode)
	require.Empty(t, resp.Answer)

	srv.Delete("EXAMPLE.COM")
	resp = ask(t, srv, "udp", "example.com", dns.TypeMX, 0)
	require.Equal(t, dns.RcodeNameError, resp.Rcode)
}

func TestAddresses(t *testing.T) {
	t.Parallel()
	srv := dnstest.NewServer(t)
	srv.SetAddr("mx.example.com", "127.0.0.1", "::1", "127.0.0.2")

	resp := ask(t, srv, "udp", "MX.example.com", dns.TypeA, 0)
	require.Equal(t, dns.RcodeSuccess, resp.Rcode)
	var v4 []string
	for _, rr := range resp.Answer {
		v4 = append(v4, rr.(*dns.A).A.String())
	}
	require.Equal(t, []string{"127.0.0.1", "127.0.0.2"}, v4)
	resp = ask(t, srv, "tcp", "mx.example.com", dns.TypeAAAA, 0)
	require.Len(t, resp.Answer, 1)
	require.Equal(t, "::1", resp.Answer[0].(*dns.AAAA).AAAA.String())

	srv.SetAddr("mx.example.com")
	resp = ask(t, srv, "udp", "mx.example.com", dns.TypeA, 0)
	require.Equal(t, dns.RcodeNameError, resp.Rcode, "no records left: the name is gone")
}

func TestTXTSplitting(t *testing.T) {
	t.Parallel()
	srv := dnstest.NewServer(t)

	long := strings.Repeat("a", 255) + strings.Repeat("b", 255) + strings.Repeat("c", 90)
	srv.SetTXT("long.example.com", long)
	resp := ask(t, srv, "tcp", "long.example.com", dns.TypeTXT, 0)
	got := txts(resp)
	require.Len(t, got, 1)
	require.Equal(t, []string{long[:255], long[255:510], long[510:]}, got[0])

	srv.SetTXTStrings("split.example.com", []string{"v=DKIM1; ", "p=abc", " def"}, []string{"other"})
	resp = ask(t, srv, "udp", "split.example.com", dns.TypeTXT, 0)
	require.ElementsMatch(t, [][]string{{"v=DKIM1; ", "p=abc", " def"}, {"other"}}, txts(resp))

	require.Panics(t, func() { srv.SetTXTStrings("x.example.com", []string{strings.Repeat("x", 256)}) })
}

func TestTruncationOverUDP(t *testing.T) {
	t.Parallel()
	srv := dnstest.NewServer(t)
	var values []string
	for range 30 {
		values = append(values, strings.Repeat("v", 100))
	}
	srv.SetTXT("big.example.com", values...)

	// Without EDNS0: 512 bytes.
	resp := ask(t, srv, "udp", "big.example.com", dns.TypeTXT, 0)
	require.True(t, resp.Truncated)
	require.Less(t, len(resp.Answer), 30)
	resp.Compress = true // as sent
	packed, err := resp.Pack()
	require.NoError(t, err)
	require.LessOrEqual(t, len(packed), dns.MinMsgSize)

	// With EDNS0 at 1232 bytes: still too small.
	resp = ask(t, srv, "udp", "big.example.com", dns.TypeTXT, 1232)
	require.True(t, resp.Truncated)
	require.Less(t, len(resp.Answer), 30)
	require.NotNil(t, resp.IsEdns0())

	// With a large EDNS0 size, or over TCP: everything.
	resp = ask(t, srv, "udp", "big.example.com", dns.TypeTXT, 8192)
	require.False(t, resp.Truncated)
	require.Len(t, resp.Answer, 30)
	resp = ask(t, srv, "tcp", "big.example.com", dns.TypeTXT, 0)
	require.False(t, resp.Truncated)
	require.Len(t, resp.Answer, 30)
}

func TestCNAMEAndFail(t *testing.T) {
	t.Parallel()
	srv := dnstest.NewServer(t)
	srv.SetCNAME("alias.example.com", "Target.Example.NET.")
	srv.SetTXT("target.example.net", "hello")

	resp := ask(t, srv, "udp", "alias.example.com", dns.TypeTXT, 0)
	require.Equal(t, dns.RcodeSuccess, resp.Rcode)
	require.Len(t, resp.Answer, 2)
	require.Equal(t, "target.example.net.", resp.Answer[0].(*dns.CNAME).Target)
	require.Equal(t, []string{"hello"}, resp.Answer[1].(*dns.TXT).Txt)

	resp = ask(t, srv, "udp", "alias.example.com", dns.TypeCNAME, 0)
	require.Len(t, resp.Answer, 1)

	// Unknown target: the answer stops at the CNAME.
	srv.SetCNAME("dangling.example.com", "nowhere.example.net")
	resp = ask(t, srv, "udp", "dangling.example.com", dns.TypeTXT, 0)
	require.Equal(t, dns.RcodeSuccess, resp.Rcode)
	require.Len(t, resp.Answer, 1)

	srv.Fail("Alias.Example.com.", dns.RcodeServerFailure)
	resp = ask(t, srv, "tcp", "alias.example.com", dns.TypeTXT, 0)
	require.Equal(t, dns.RcodeServerFailure, resp.Rcode)
	require.Empty(t, resp.Answer)

	srv.Fail("alias.example.com", dns.RcodeSuccess)
	resp = ask(t, srv, "udp", "alias.example.com", dns.TypeTXT, 0)
	require.Equal(t, dns.RcodeSuccess, resp.Rcode)

	srv.SetCNAME("alias.example.com", "")
	resp = ask(t, srv, "udp", "alias.example.com", dns.TypeTXT, 0)
	require.Equal(t, dns.RcodeNameError, resp.Rcode)
}

func TestQueriesCounted(t *testing.T) {
	t.Parallel()
	srv := dnstest.NewServer(t)
	require.Equal(t, 0, srv.Queries())
	ask(t, srv, "udp", "a.example.com", dns.TypeTXT, 0)
	ask(t, srv, "tcp", "a.example.com", dns.TypeTXT, 0)
	srv.Fail("b.example.com", dns.RcodeRefused)
	ask(t, srv, "udp", "b.example.com", dns.TypeTXT, 0)
	require.Equal(t, 3, srv.Queries())
}

func TestAddr(t *testing.T) {
	t.Parallel()
	srv := dnstest.NewServer(t)
	srv.SetAddr("mx.example.com", "127.0.0.1", "::1")
	for _, network := range []string{"udp", "tcp"} {
		resp := ask(t, srv, network, "mx.example.com", dns.TypeA, 0)
		require.Len(t, resp.Answer, 1)
		require.Equal(t, "127.0.0.1", resp.Answer[0].(*dns.A).A.String())
		resp = ask(t, srv, network, "mx.example.com", dns.TypeAAAA, 0)
		require.Len(t, resp.Answer, 1)
		require.Equal(t, "::1", resp.Answer[0].(*dns.AAAA).AAAA.String())
	}
	srv.SetAddr("mx.example.com")
	resp := ask(t, srv, "udp", "mx.example.com", dns.TypeA, 0)
	require.Equal(t, dns.RcodeNameError, resp.Rcode)
}
