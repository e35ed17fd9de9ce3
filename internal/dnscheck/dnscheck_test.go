package dnscheck_test

import (
	"context"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"math/big"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/stretchr/testify/require"

	"github.com/godwit/godwit/internal/dnscheck"
	"github.com/godwit/godwit/internal/dnscheck/dnstest"
)

func resolverFor(srv *dnstest.Server) *dnscheck.Resolver {
	return &dnscheck.Resolver{Addr: srv.Addr(), Timeout: 2 * time.Second}
}

// dkimKey returns the base64 SubjectPublicKeyInfo of a 2048-bit RSA public
// key (392 characters, as in a real DKIM record). The modulus is random, not
// a real key pair: generating one would only slow the tests down.
func dkimKey(t testing.TB, seed uint64) string {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, seed))
	buf := make([]byte, 256)
	for i := range buf {
		buf[i] = byte(rng.UintN(256))
	}
	buf[0] |= 0x80 // full 2048 bits
	buf[255] |= 1  // odd
	der, err := x509.MarshalPKIXPublicKey(&rsa.PublicKey{N: new(big.Int).SetBytes(buf), E: 65537})
	require.NoError(t, err)
	key := base64.StdEncoding.EncodeToString(der)
	require.Len(t, key, 392)
	return key
}

func check(t *testing.T, r *dnscheck.Resolver, e dnscheck.Expected) dnscheck.Status {
	t.Helper()
	st, err := r.Check(t.Context(), e)
	require.NoError(t, err)
	return st
}

func TestLookupTXT(t *testing.T) {
	t.Parallel()
	srv := dnstest.NewServer(t)
	r := resolverFor(srv)
	raw := "quote\" back\\slash tab\t nul\x00 utf8-é;"
	srv.SetTXT("example.com", "v=spf1 -all", "hello world")
	srv.SetTXTStrings("split.example.com", []string{"v=DKIM1; p=ab", "cd", "ef"})
	srv.SetTXT("raw.example.com", raw)
	srv.SetMX("mxonly.example.com", dnscheck.MX{Host: "mx.example.com", Preference: 10})
	srv.SetTXT("s1._domainkey.example.com", "p=x")

	for _, tc := range []struct {
		name, query string
		want        []string // in any order; nil for none
	}{
		{"several records", "example.com", []string{"v=spf1 -all", "hello world"}},
		{"name case and trailing dot do not matter", "EXAMPLE.com.", []string{"v=spf1 -all", "hello world"}},
		{"character-strings are joined without separator", "split.example.com", []string{"v=DKIM1; p=abcdef"}},
		{"bytes that presentation format escapes come back raw", "raw.example.com", []string{raw}},
		{"NXDOMAIN is nothing, no error", "nowhere.example.com", nil},
		{"NODATA (other types only) is nothing, no error", "mxonly.example.com", nil},
		// "_domainkey.example.com" exists only through a descendant, so it
		// is NODATA rather than NXDOMAIN.
		{"empty non-terminal is nothing, no error", "_domainkey.example.com", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := r.LookupTXT(t.Context(), tc.query)
			require.NoError(t, err)
			if tc.want == nil {
				require.Nil(t, got)
				return
			}
			require.ElementsMatch(t, tc.want, got)
		})
	}
	for _, name := range []string{"", "bad..name"} {
		t.Run(fmt.Sprintf("invalid name %q", name), func(t *testing.T) {
			_, err := r.LookupTXT(t.Context(), name)
			require.Error(t, err)
		})
	}
}

func TestCheckTXTBasic(t *testing.T) {
	t.Parallel()
	srv := dnstest.NewServer(t)
	r := resolverFor(srv)

	e := dnscheck.Expected{Type: "TXT", Name: "_godwit.example.com", Value: "godwit-verification=Abc123"}
	require.Equal(t, dnscheck.Missing, check(t, r, e))

	srv.SetTXT("_godwit.example.com", "godwit-verification=abc123") // tokens are case-sensitive
	require.Equal(t, dnscheck.Mismatch, check(t, r, e))

	srv.SetTXT("_godwit.example.com", `  "godwit-verification=Abc123"  `)
	require.Equal(t, dnscheck.Verified, check(t, r, e))

	srv.Delete("_godwit.example.com")
	require.Equal(t, dnscheck.Missing, check(t, r, e))

	// Lower-case type is accepted; unknown types are errors.
	e.Type = "txt"
	require.Equal(t, dnscheck.Missing, check(t, r, e))
	_, err := r.Check(t.Context(), dnscheck.Expected{Type: "AAAA", Name: "example.com"})
	require.Error(t, err)
}

func TestCheckDKIM2048(t *testing.T) {
	t.Parallel()
	srv := dnstest.NewServer(t)
	r := resolverFor(srv)
	key := dkimKey(t, 1)
	const name = "resend._domainkey.example.com"
	full := "v=DKIM1; k=rsa; p=" + key
	e := dnscheck.Expected{Type: "TXT", Name: name, Value: "p=" + key}

	t.Run("one long value, auto-split", func(t *testing.T) {
		srv.SetTXT(name, full)
		got, err := r.LookupTXT(t.Context(), name)
		require.NoError(t, err)
		require.Equal(t, []string{full}, got)
		require.Equal(t, dnscheck.Verified, check(t, r, e))
		require.Equal(t, dnscheck.Verified, check(t, r, dnscheck.Expected{Type: "TXT", Name: name, Value: full}))
	})

	t.Run("several strings with spaces inside p=", func(t *testing.T) {
		srv.SetTXTStrings(name, []string{
			"v=DKIM1; k=rsa; ",
			"p=" + key[:100] + " " + key[100:200],
			" " + key[200:300] + "\n",
			key[300:] + " ;",
		})
		require.Equal(t, dnscheck.Verified, check(t, r, e))
	})

	t.Run("zone-file quoting pasted literally", func(t *testing.T) {
		srv.SetTXT(name, `"v=DKIM1; k=rsa; p=`+key[:255]+`" "`+key[255:]+`"`)
		require.Equal(t, dnscheck.Verified, check(t, r, e))
		srv.SetTXT(name, `v=DKIM1; p=`+key[:200]+`" "`+key[200:])
		require.Equal(t, dnscheck.Verified, check(t, r, e))
	})

	t.Run("tag names case-insensitive, order free", func(t *testing.T) {
		srv.SetTXT(name, "P="+key+"; K=RSA; V=dkim1")
		require.Equal(t, dnscheck.Verified, check(t, r, dnscheck.Expected{Type: "TXT", Name: name, Value: full}))
	})

	t.Run("different key", func(t *testing.T) {
		srv.SetTXT(name, "v=DKIM1; k=rsa; p="+dkimKey(t, 2))
		require.Equal(t, dnscheck.Mismatch, check(t, r, e))
		// One character changed in case: base64 is case-sensitive.
		flipped := key[:50] + strings.ToLower(key[50:51]) + key[51:]
		if flipped == key {
			flipped = key[:50] + strings.ToUpper(key[50:51]) + key[51:]
		}
		require.NotEqual(t, key, flipped)
		srv.SetTXT(name, "p="+flipped)
		require.Equal(t, dnscheck.Mismatch, check(t, r, e))
	})

	t.Run("non-default key type", func(t *testing.T) {
		srv.SetTXT(name, "v=DKIM1; k=ed25519; p="+key)
		require.Equal(t, dnscheck.Mismatch, check(t, r, e))
	})
}

func TestCheckTXTCoexisting(t *testing.T) {
	t.Parallel()
	srv := dnstest.NewServer(t)
	r := resolverFor(srv)
	srv.SetTXT("example.com",
		"google-site-verification=AbCdEf0123456789",
		"v=spf1 include:_spf.godwit.example ~all",
		"MS=ms12345678",
	)
	srv.SetTXT("_dmarc.example.com", "v=DMARC1;p=None; rua=mailto:Dmarc@Example.com", "unrelated")

	for _, tc := range []struct {
		name, host, value string
		want              dnscheck.Status
	}{
		{"SPF among others", "example.com", "v=spf1 include:_spf.godwit.example ~all", dnscheck.Verified},
		{"site verification among others", "example.com", "google-site-verification=AbCdEf0123456789", dnscheck.Verified},
		{"other SPF", "example.com", "v=spf1 include:other.example ~all", dnscheck.Mismatch},
		{"DMARC, spacing and case normalised", "_dmarc.example.com", "v=DMARC1; p=none; rua=mailto:dmarc@example.com", dnscheck.Verified},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, check(t, r, dnscheck.Expected{Type: "TXT", Name: tc.host, Value: tc.value}))
		})
	}
}

func TestCheckSPF(t *testing.T) {
	t.Parallel()
	e := dnscheck.Expected{Type: "TXT", Name: "send.example.com", Value: "v=spf1 include:amazonses.com ~all"}
	for _, tc := range []struct {
		name, published string
		want            dnscheck.Status
	}{
		{"exact", "v=spf1 include:amazonses.com ~all", dnscheck.Verified},
		{"case and spacing", "V=SPF1   Include:AmazonSES.com\t~ALL", dnscheck.Verified},
		{"surrounding spaces", "  v=spf1 include:amazonses.com ~all  ", dnscheck.Verified},
		{"quoted", `"v=spf1 include:amazonses.com ~all"`, dnscheck.Verified},
		{"other all", "v=spf1 include:amazonses.com -all", dnscheck.Mismatch},
		{"order", "v=spf1 ~all include:amazonses.com", dnscheck.Mismatch},
		{"extra include", "v=spf1 include:amazonses.com include:other.example ~all", dnscheck.Mismatch},
		{"no space after version", "v=spf1include:amazonses.com ~all", dnscheck.Mismatch},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := dnstest.NewServer(t)
			srv.SetTXT("send.example.com", tc.published)
			require.Equal(t, tc.want, check(t, resolverFor(srv), e))
		})
	}
}

func TestCheckMX(t *testing.T) {
	t.Parallel()
	srv := dnstest.NewServer(t)
	r := resolverFor(srv)
	e := dnscheck.Expected{Type: "MX", Name: "send.example.com", Value: "feedback-smtp.us-east-1.amazonses.com", Priority: 10}

	require.Equal(t, dnscheck.Missing, check(t, r, e))

	srv.SetTXT("send.example.com", "v=spf1 -all") // name exists, no MX: still Missing
	require.Equal(t, dnscheck.Missing, check(t, r, e))

	srv.SetMX("Send.Example.COM.", dnscheck.MX{Host: "Feedback-SMTP.us-east-1.AmazonSES.com.", Preference: 10})
	require.Equal(t, dnscheck.Verified, check(t, r, e))
	e2 := e
	e2.Value = "feedback-smtp.us-east-1.amazonses.com."
	require.Equal(t, dnscheck.Verified, check(t, r, e2))

	srv.SetMX("send.example.com", dnscheck.MX{Host: "feedback-smtp.us-east-1.amazonses.com", Preference: 20})
	require.Equal(t, dnscheck.Mismatch, check(t, r, e))

	srv.SetMX("send.example.com",
		dnscheck.MX{Host: "mx2.example.net", Preference: 20},
		dnscheck.MX{Host: "feedback-smtp.us-east-1.amazonses.com", Preference: 10},
		dnscheck.MX{Host: "mx1.example.net", Preference: 5},
	)
	require.Equal(t, dnscheck.Verified, check(t, r, e))

	mxs, err := r.LookupMX(t.Context(), "send.example.com")
	require.NoError(t, err)
	require.Equal(t, []dnscheck.MX{
		{Host: "mx1.example.net", Preference: 5},
		{Host: "feedback-smtp.us-east-1.amazonses.com", Preference: 10},
		{Host: "mx2.example.net", Preference: 20},
	}, mxs)

	srv.SetMX("send.example.com", dnscheck.MX{Host: "other.example.net", Preference: 10})
	require.Equal(t, dnscheck.Mismatch, check(t, r, e))
}

func TestCNAMEFollowed(t *testing.T) {
	t.Parallel()
	srv := dnstest.NewServer(t)
	r := resolverFor(srv)
	key := dkimKey(t, 3)

	srv.SetCNAME("resend._domainkey.example.com", "resend.dkim.provider.example")
	srv.SetTXT("resend.dkim.provider.example", "v=DKIM1; p="+key)
	require.Equal(t, dnscheck.Verified, check(t, r, dnscheck.Expected{
		Type: "TXT", Name: "resend._domainkey.example.com", Value: "p=" + key}))

	// A chain of several CNAMEs.
	srv.SetCNAME("a.example.com", "b.example.com")
	srv.SetCNAME("b.example.com", "c.example.com")
	srv.SetCNAME("c.example.com", "d.example.com")
	srv.SetTXT("d.example.com", "end of chain")
	srv.SetMX("d.example.com", dnscheck.MX{Host: "mx.d.example.com", Preference: 1})
	got, err := r.LookupTXT(t.Context(), "a.example.com")
	require.NoError(t, err)
	require.Equal(t, []string{"end of chain"}, got)
	require.Equal(t, dnscheck.Verified, check(t, r, dnscheck.Expected{
		Type: "MX", Name: "a.example.com", Value: "mx.d.example.com", Priority: 1}))

	// A CNAME to a name that does not exist: nothing there.
	srv.SetCNAME("dangling.example.com", "gone.example.net")
	require.Equal(t, dnscheck.Missing, check(t, r, dnscheck.Expected{
		Type: "TXT", Name: "dangling.example.com", Value: "x"}))

	// The server stops at a CNAME whose target fails; the resolver asks for
	// the target itself and reports the failure.
	srv.SetCNAME("tofail.example.com", "fail.example.net")
	srv.Fail("fail.example.net", dns.RcodeServerFailure)
	_, err = r.LookupTXT(t.Context(), "tofail.example.com")
	require.Error(t, err)

	// A loop is an error, not Missing.
	srv.SetCNAME("loop1.example.com", "loop2.example.com")
	srv.SetCNAME("loop2.example.com", "loop1.example.com")
	st, err := r.Check(t.Context(), dnscheck.Expected{Type: "TXT", Name: "loop1.example.com", Value: "x"})
	require.Error(t, err)
	require.NotEqual(t, dnscheck.Missing, st)
}

// TestCNAMEOnlyAnswer uses a server that, like an authoritative server for
// separate zones, answers a CNAME without its target's records: the resolver
// must ask for the target.
func TestCNAMEOnlyAnswer(t *testing.T) {
	t.Parallel()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	require.NoError(t, err)
	started := make(chan struct{})
	srv := &dns.Server{PacketConn: pc, NotifyStartedFunc: func() { close(started) },
		Handler: dns.HandlerFunc(func(w dns.ResponseWriter, req *dns.Msg) {
			m := new(dns.Msg)
			m.SetReply(req)
			q := req.Question[0]
			h := dns.RR_Header{Name: q.Name, Class: dns.ClassINET, Ttl: 60}
			switch strings.ToLower(q.Name) {
			case "alias.zone-a.example.":
				h.Rrtype = dns.TypeCNAME
				m.Answer = append(m.Answer, &dns.CNAME{Hdr: h, Target: "target.zone-b.example."})
			case "target.zone-b.example.":
				if q.Qtype == dns.TypeTXT {
					h.Rrtype = dns.TypeTXT
					m.Answer = append(m.Answer, &dns.TXT{Hdr: h, Txt: []string{"from zone b"}})
				}
			default:
				m.Rcode = dns.RcodeNameError
			}
			_ = w.WriteMsg(m)
		})}
	go func() { _ = srv.ActivateAndServe() }()
	<-started
	t.Cleanup(func() { _ = srv.Shutdown() })

	r := &dnscheck.Resolver{Addr: pc.LocalAddr().String(), Timeout: 2 * time.Second}
	got, err := r.LookupTXT(t.Context(), "alias.zone-a.example")
	require.NoError(t, err)
	require.Equal(t, []string{"from zone b"}, got)

	mxs, err := r.LookupMX(t.Context(), "alias.zone-a.example")
	require.NoError(t, err)
	require.Nil(t, mxs)
}

func TestServerFailureIsError(t *testing.T) {
	t.Parallel()
	srv := dnstest.NewServer(t)
	r := resolverFor(srv)
	txt := dnscheck.Expected{Type: "TXT", Name: "example.com", Value: "v=spf1 -all"}
	mx := dnscheck.Expected{Type: "MX", Name: "example.com", Value: "mx.example.com", Priority: 10}

	// Subtests run in order: they share the server's one failing name.
	for _, rcode := range []int{dns.RcodeServerFailure, dns.RcodeRefused, dns.RcodeNotImplemented} {
		for _, e := range []dnscheck.Expected{txt, mx} {
			t.Run(e.Type+" "+dns.RcodeToString[rcode], func(t *testing.T) {
				srv.Fail("example.com", rcode)
				st, err := r.Check(t.Context(), e)
				require.Error(t, err)
				require.Contains(t, err.Error(), dns.RcodeToString[rcode])
				require.NotEqual(t, dnscheck.Missing, st)
				require.Empty(t, st)
			})
		}
	}

	t.Run("recovered", func(t *testing.T) {
		srv.Fail("example.com", dns.RcodeSuccess)
		srv.SetTXT("example.com", "v=spf1 -all")
		require.Equal(t, dnscheck.Verified, check(t, r, txt))
	})
}

func TestDeadServerIsError(t *testing.T) {
	t.Parallel()
	// A port nothing listens on any more (UDP and TCP).
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := pc.LocalAddr().String()
	require.NoError(t, pc.Close())

	r := &dnscheck.Resolver{Addr: addr, Timeout: 300 * time.Millisecond}
	start := time.Now()
	st, err := r.Check(t.Context(), dnscheck.Expected{Type: "TXT", Name: "example.com", Value: "x"})
	require.Error(t, err)
	require.NotEqual(t, dnscheck.Missing, st)
	_, err = r.LookupMX(t.Context(), "example.com")
	require.Error(t, err)
	require.Less(t, time.Since(start), 2*time.Second)
}

// blackhole returns a UDP socket that receives queries and never answers.
func blackhole(t *testing.T) net.PacketConn {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { _ = pc.Close() })
	return pc
}

func TestTimeoutIsError(t *testing.T) {
	t.Parallel()
	pc := blackhole(t)
	r := &dnscheck.Resolver{Addr: pc.LocalAddr().String(), Timeout: 200 * time.Millisecond}
	start := time.Now()
	st, err := r.Check(t.Context(), dnscheck.Expected{Type: "TXT", Name: "example.com", Value: "x"})
	elapsed := time.Since(start)
	require.Error(t, err)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.NotEqual(t, dnscheck.Missing, st)
	require.GreaterOrEqual(t, elapsed, 150*time.Millisecond)
	require.Less(t, elapsed, 1500*time.Millisecond)
}

func TestContextCancelAbortsQuery(t *testing.T) {
	t.Parallel()
	pc := blackhole(t)
	r := &dnscheck.Resolver{Addr: pc.LocalAddr().String(), Timeout: 10 * time.Second}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()

	// Cancel as soon as the query has reached the server.
	go func() {
		buf := make([]byte, 512)
		_ = pc.SetReadDeadline(time.Now().Add(2 * time.Second))
		_, _, _ = pc.ReadFrom(buf)
		cancel()
	}()
	start := time.Now()
	_, err := r.LookupTXT(ctx, "example.com")
	require.ErrorIs(t, err, context.Canceled)
	require.Less(t, time.Since(start), 3*time.Second)

	// An already-cancelled context does not query at all.
	_, err = r.LookupTXT(ctx, "example.com")
	require.ErrorIs(t, err, context.Canceled)
}

func TestTruncatedRetriedOverTCP(t *testing.T) {
	t.Parallel()
	srv := dnstest.NewServer(t)
	r := resolverFor(srv)

	var values []string
	for i := range 40 {
		values = append(values, fmt.Sprintf("record-%02d=%s", i, strings.Repeat("x", 90)))
	}
	srv.SetTXT("big.example.com", values...) // ~4 KB, far over the 1232-byte EDNS0 size

	before := srv.Queries()
	got, err := r.LookupTXT(t.Context(), "big.example.com")
	require.NoError(t, err)
	require.ElementsMatch(t, values, got)
	require.Equal(t, 2, srv.Queries()-before, "one UDP query (truncated) and one TCP query")

	require.Equal(t, dnscheck.Verified, check(t, r, dnscheck.Expected{Type: "TXT", Name: "big.example.com", Value: values[37]}))

	// A big DKIM record among other records, also over TCP.
	key := dkimKey(t, 4)
	srv.SetTXT("big.example.com", append(values[:10:10], "v=DKIM1; k=rsa; p="+key)...)
	require.Equal(t, dnscheck.Verified, check(t, r, dnscheck.Expected{Type: "TXT", Name: "big.example.com", Value: "p=" + key}))
}

func TestConcurrentChecks(t *testing.T) {
	t.Parallel()
	srv := dnstest.NewServer(t)
	r := resolverFor(srv)
	srv.SetTXT("example.com", "v=spf1 include:x ~all")
	srv.SetMX("example.com", dnscheck.MX{Host: "mx.example.com", Preference: 10})

	var wg sync.WaitGroup
	errs := make(chan error, 40)
	for i := range 40 {
		wg.Go(func() {
			e := dnscheck.Expected{Type: "TXT", Name: "example.com", Value: "v=spf1 include:x ~all"}
			if i%2 == 1 {
				e = dnscheck.Expected{Type: "MX", Name: "example.com", Value: "mx.example.com", Priority: 10}
			}
			st, err := r.Check(context.Background(), e)
			if err == nil && st != dnscheck.Verified {
				err = fmt.Errorf("%s: %s", e.Type, st)
			}
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
}

func TestDefaultServerFromResolvConf(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		content string // "" for no file at all
		want    string // "" for an error
	}{
		{"first IPv4 nameserver", "# comment\nsearch example.com\nnameserver 192.0.2.53\nnameserver 192.0.2.54\n", "192.0.2.53:53"},
		{"IPv6 nameserver", "nameserver 2001:db8::1\n", "[2001:db8::1]:53"},
		{"no nameserver", "search example.com\n", ""},
		{"no file", "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p := filepath.Join(t.TempDir(), "resolv.conf")
			if tc.content != "" {
				require.NoError(t, os.WriteFile(p, []byte(tc.content), 0o600))
			}
			addr, err := dnscheck.DefaultServer(p)
			switch {
			case tc.want != "":
				require.NoError(t, err)
				require.Equal(t, tc.want, addr)
			case tc.content == "":
				require.ErrorIs(t, err, os.ErrNotExist)
			default:
				require.Error(t, err)
			}
		})
	}
}

func checkAnswer(t *testing.T, r *dnscheck.Resolver, e dnscheck.Expected) (dnscheck.Status, dnscheck.Answer) {
	t.Helper()
	st, ans, err := r.CheckAnswer(t.Context(), e)
	require.NoError(t, err)
	return st, ans
}

func TestCheckAnswer(t *testing.T) {
	t.Parallel()
	srv := dnstest.NewServer(t)
	r := resolverFor(srv)
	key := dkimKey(t, 7)
	dkim := dnscheck.Expected{Type: "TXT", Name: "resend._domainkey.example.com", Value: "p=" + key}
	srv.SetTXTStrings("resend._domainkey.example.com", []string{"p=" + key[:200], key[200:]})
	srv.SetTXT("send.example.com", "v=spf1 include:other.example.net ~all", "google-site-verification=abc")
	srv.SetMX("send.example.com",
		dnscheck.MX{Host: "mx2.example.net.", Preference: 20},
		dnscheck.MX{Host: "feedback.example.org.", Preference: 10})

	t.Run("matching TXT: the published value, strings joined", func(t *testing.T) {
		st, ans := checkAnswer(t, r, dkim)
		require.Equal(t, dnscheck.Verified, st)
		require.Equal(t, dnscheck.Answer{Values: []string{"p=" + key}}, ans)
	})
	t.Run("wrong TXT: the values that are there", func(t *testing.T) {
		st, ans := checkAnswer(t, r, dnscheck.Expected{Type: "TXT", Name: "send.example.com", Value: "v=spf1 include:godwit.test ~all"})
		require.Equal(t, dnscheck.Mismatch, st)
		require.ElementsMatch(t, []string{"v=spf1 include:other.example.net ~all", "google-site-verification=abc"}, ans.Values)
		require.Empty(t, ans.Error)
		require.Zero(t, ans.Omitted)
	})
	t.Run("NXDOMAIN", func(t *testing.T) {
		st, ans := checkAnswer(t, r, dnscheck.Expected{Type: "TXT", Name: "_dmarc.example.com", Value: "v=DMARC1; p=none;"})
		require.Equal(t, dnscheck.Missing, st)
		require.Equal(t, dnscheck.Answer{Error: dnscheck.NXDomain}, ans)
		st, ans = checkAnswer(t, r, dnscheck.Expected{Type: "MX", Name: "nowhere.example.com", Value: "mx.example.com", Priority: 10})
		require.Equal(t, dnscheck.Missing, st)
		require.Equal(t, dnscheck.Answer{Error: dnscheck.NXDomain}, ans)
	})
	t.Run("NODATA: no values, no error", func(t *testing.T) {
		st, ans := checkAnswer(t, r, dnscheck.Expected{Type: "MX", Name: "resend._domainkey.example.com", Value: "mx.example.com", Priority: 10})
		require.Equal(t, dnscheck.Missing, st)
		require.Equal(t, dnscheck.Answer{}, ans)
	})
	t.Run("MX: preference and host, by preference", func(t *testing.T) {
		want := dnscheck.Answer{Values: []string{"10 feedback.example.org", "20 mx2.example.net"}}
		st, ans := checkAnswer(t, r, dnscheck.Expected{Type: "MX", Name: "send.example.com", Value: "feedback.example.org", Priority: 10})
		require.Equal(t, dnscheck.Verified, st)
		require.Equal(t, want, ans)
		st, ans = checkAnswer(t, r, dnscheck.Expected{Type: "MX", Name: "send.example.com", Value: "feedback.example.org", Priority: 5})
		require.Equal(t, dnscheck.Mismatch, st)
		require.Equal(t, want, ans)
	})
	t.Run("SERVFAIL: the rcode, with the error", func(t *testing.T) {
		srv.Fail("broken.example.com", dns.RcodeServerFailure)
		st, ans, err := r.CheckAnswer(t.Context(), dnscheck.Expected{Type: "TXT", Name: "broken.example.com", Value: "x"})
		require.Error(t, err)
		var rc *dnscheck.RcodeError
		require.ErrorAs(t, err, &rc)
		require.Empty(t, st)
		require.Equal(t, dnscheck.Answer{Error: "SERVFAIL"}, ans)
	})
	t.Run("bounded: 8 values of at most 512 bytes", func(t *testing.T) {
		var values []string
		for i := range 11 {
			values = append(values, fmt.Sprintf("v%02d=", i)+strings.Repeat("x", 600))
		}
		srv.SetTXT("many.example.com", values...)
		st, ans := checkAnswer(t, r, dnscheck.Expected{Type: "TXT", Name: "many.example.com", Value: "x"})
		require.Equal(t, dnscheck.Mismatch, st)
		require.Len(t, ans.Values, dnscheck.MaxAnswerValues)
		require.Equal(t, 3, ans.Omitted)
		for _, v := range ans.Values {
			require.LessOrEqual(t, len(v), dnscheck.MaxAnswerBytes)
			require.True(t, strings.HasSuffix(v, "…"), "a cut value says so")
			require.Regexp(t, `^v\d\d=x+…$`, v)
		}
	})
	t.Run("bytes that are not printable are escaped", func(t *testing.T) {
		srv.SetTXT("raw.example.com", "a\x00b\tc\xffd é")
		_, ans := checkAnswer(t, r, dnscheck.Expected{Type: "TXT", Name: "raw.example.com", Value: "x"})
		require.Equal(t, []string{`a\x00b\tc\xffd é`}, ans.Values)
	})
}

func TestCheckAnswerTimeout(t *testing.T) {
	t.Parallel()
	pc := blackhole(t)
	r := &dnscheck.Resolver{Addr: pc.LocalAddr().String(), Timeout: 200 * time.Millisecond}
	st, ans, err := r.CheckAnswer(t.Context(), dnscheck.Expected{Type: "MX", Name: "example.com", Value: "x", Priority: 1})
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.Empty(t, st)
	require.Equal(t, dnscheck.Answer{Error: "timeout: no reply within 200ms"}, ans)
}

func TestPrintable(t *testing.T) {
	t.Parallel()
	require.Equal(t, "abc", dnscheck.Printable("abc", 3))
	require.Equal(t, "a…", dnscheck.Printable("abcdef", 4), "the cut value and its ellipsis fit in max bytes")
	require.Equal(t, "é…", dnscheck.Printable("éééé", 6), "never half a character")
	require.Equal(t, "ééé", dnscheck.Printable("ééé", 6), "what fits is not cut")
	require.Equal(t, `\x00…`, dnscheck.Printable("\x00\x01", 7), "never half an escape")
}

func TestLookupIPAndPTR(t *testing.T) {
	t.Parallel()
	srv := dnstest.NewServer(t)
	r := resolverFor(srv)
	srv.SetAddr("mail.example.com", "2001:db8::25", "192.0.2.25")
	srv.SetCNAME("smtp.example.com", "mail.example.com")
	srv.SetPTR("192.0.2.25", "mail.example.com.")
	srv.SetPTR("2001:db8::25", "Mail.Example.com")

	ips, err := r.LookupIP(t.Context(), "smtp.example.com")
	require.NoError(t, err)
	require.Equal(t, []netip.Addr{netip.MustParseAddr("192.0.2.25"), netip.MustParseAddr("2001:db8::25")}, ips,
		"A records first, then AAAA, through the CNAME")
	ips, err = r.LookupIP(t.Context(), "nowhere.example.com")
	require.NoError(t, err)
	require.Empty(t, ips)

	names, err := r.LookupPTR(t.Context(), netip.MustParseAddr("192.0.2.25"))
	require.NoError(t, err)
	require.Equal(t, []string{"mail.example.com"}, names)
	names, err = r.LookupPTR(t.Context(), netip.MustParseAddr("2001:db8::25"))
	require.NoError(t, err)
	require.Equal(t, []string{"mail.example.com"}, names, "the server answers its canonical (lower-case) name")
	names, err = r.LookupPTR(t.Context(), netip.MustParseAddr("192.0.2.26"))
	require.NoError(t, err)
	require.Empty(t, names, "no PTR is nothing, no error")

	srv.Fail("25.2.0.192.in-addr.arpa", dns.RcodeServerFailure)
	_, err = r.LookupPTR(t.Context(), netip.MustParseAddr("192.0.2.25"))
	require.Error(t, err, "SERVFAIL is an error, not a missing PTR")
}
