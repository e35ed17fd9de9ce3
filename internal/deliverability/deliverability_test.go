package deliverability

import (
	"context"
	"maps"
	"net"
	"net/netip"
	"strconv"
	"testing"
	"time"

	mdns "github.com/miekg/dns"
	"github.com/stretchr/testify/require"

	"github.com/godwit/godwit/internal/dnscheck"
	"github.com/godwit/godwit/internal/dnscheck/dnstest"
	"github.com/godwit/godwit/internal/godwittest"
	"github.com/godwit/godwit/internal/store"
)

// domain is a sending domain whose last check found the records with
// statuses st and the DMARC TXT answer dmarc (nil: not looked up).
func domain(name string, st map[string]string, dmarc *store.RecordCheck) *store.Domain {
	d := &store.Domain{Name: name, ReturnPath: "send", DKIMSelector: "resend", Sending: "enabled", Receiving: "disabled",
		RecordStatus: st, RecordChecks: map[string]store.RecordCheck{}}
	if dmarc != nil {
		d.RecordChecks[store.RecordDMARC] = *dmarc
	}
	return d
}

func byName(checks []Check) map[string]Check {
	m := map[string]Check{}
	for _, c := range checks {
		m[c.Check] = c
	}
	return m
}

var allVerified = map[string]string{store.RecordDKIM: store.DomainVerified, store.RecordSPFMX: store.DomainVerified,
	store.RecordSPFTXT: store.DomainVerified, store.RecordDMARC: store.DomainVerified}

func TestDomain(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		d     *store.Domain
		srv   Server
		want  map[string]string // check → status
		found map[string]string // check → part of its message
	}{
		{name: "ready, DMARC enforcing", d: domain("example.com", allVerified, &store.RecordCheck{Answer: []string{"v=DMARC1; p=reject; rua=mailto:d@example.com"}}),
			srv:   Server{OneClickUnsubscribe: true},
			want:  map[string]string{CheckSPFAlignment: Pass, CheckDKIMAlignment: Pass, CheckDMARC: Pass, CheckOneClickUnsubscribe: Pass},
			found: map[string]string{CheckSPFAlignment: "send.example.com, which aligns with example.com", CheckDMARC: "p=reject"}},
		{name: "DMARC monitoring only", d: domain("example.com", allVerified, &store.RecordCheck{Answer: []string{"some other TXT", "v=DMARC1; p=none"}}),
			want: map[string]string{CheckDMARC: Warn, CheckOneClickUnsubscribe: Warn}, found: map[string]string{CheckDMARC: "p=none"}},
		{name: "DMARC partial", d: domain("example.com", allVerified, &store.RecordCheck{Answer: []string{"v=DMARC1; p=quarantine; pct=20"}}),
			want: map[string]string{CheckDMARC: Warn}, found: map[string]string{CheckDMARC: "20%"}},
		{name: "strict SPF alignment", d: domain("example.com", allVerified, &store.RecordCheck{Answer: []string{"v=DMARC1; p=reject; aspf=s"}}),
			want: map[string]string{CheckSPFAlignment: Warn, CheckDMARC: Pass}, found: map[string]string{CheckSPFAlignment: "aspf=s"}},
		{name: "no DMARC", d: domain("example.com", allVerified, &store.RecordCheck{Error: dnscheck.NXDomain}),
			want: map[string]string{CheckDMARC: Fail}, found: map[string]string{CheckDMARC: "No DMARC record at _dmarc.example.com"}},
		{name: "no DMARC on a subdomain", d: domain("news.example.com", allVerified, &store.RecordCheck{}),
			want: map[string]string{CheckDMARC: Warn}, found: map[string]string{CheckDMARC: "organizational domain"}},
		{name: "DMARC lookup failed", d: domain("example.com", allVerified, &store.RecordCheck{Error: "SERVFAIL"}),
			want: map[string]string{CheckDMARC: Fail}, found: map[string]string{CheckDMARC: "failed (SERVFAIL)"}},
		{name: "not verified yet", d: domain("example.com", map[string]string{store.RecordDKIM: store.DomainPending, store.RecordSPFTXT: store.DomainVerified}, nil),
			want:  map[string]string{CheckSPFAlignment: Fail, CheckDKIMAlignment: Fail, CheckDMARC: Warn},
			found: map[string]string{CheckDMARC: "not been looked up"}},
		{name: "records being re-checked still count", d: domain("example.com", map[string]string{store.RecordDKIM: store.DomainTemporaryFailure,
			store.RecordSPFMX: store.DomainVerified, store.RecordSPFTXT: store.DomainTemporaryFailure}, &store.RecordCheck{Answer: []string{"v=DMARC1; p=reject"}}),
			want: map[string]string{CheckSPFAlignment: Pass, CheckDKIMAlignment: Pass}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := byName(Domain(tc.d, tc.srv))
			require.Len(t, got, 5)
			for check, st := range tc.want {
				require.Equal(t, st, got[check].Status, "%s: %s", check, got[check].Message)
				if st != Pass {
					require.NotEmpty(t, got[check].Fix, check)
				}
			}
			for check, part := range tc.found {
				require.Contains(t, got[check].Message, part)
			}
		})
	}
	receiving := domain("in.example.com", allVerified, nil)
	receiving.Sending, receiving.Receiving = "disabled", "enabled"
	require.Nil(t, Domain(receiving, Server{}), "a domain that does not send has no sending readiness")
}

// TestMXTLS: the loopback DNS server publishes the domain's MX hosts on
// 127.0.0.x; one offers STARTTLS, one does not.
func TestMXTLS(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	ca := godwittest.NewCA(t)
	tlsMX := godwittest.NewMX(t, godwittest.MXOptions{Domain: "mx1.example.com", TLS: ca.ServerTLS(t, "mx1.example.com")})
	_, port := splitPort(t, tlsMX.Addr())
	plainMX := godwittest.NewMX(t, godwittest.MXOptions{Domain: "mx2.example.com", Addr: "127.0.0.2:" + port})
	dns := dnstest.NewServer(t)
	r := &dnscheck.Resolver{Addr: dns.Addr(), Timeout: time.Second}
	dns.SetMX("example.com", dnscheck.MX{Host: "mx1.example.com", Preference: 10})
	dns.SetAddr("mx1.example.com", "127.0.0.1")
	dns.SetAddr("mx2.example.com", "127.0.0.2")
	p := atoi(t, port)

	c := MXTLS(ctx, r, "example.com", p, 2*time.Second, "doctor.test")
	require.Equal(t, Pass, c.Status, c.Message)

	dns.SetMX("example.com", dnscheck.MX{Host: "mx1.example.com", Preference: 10}, dnscheck.MX{Host: "mx2.example.com", Preference: 20})
	c = MXTLS(ctx, r, "example.com", p, 2*time.Second, "doctor.test")
	require.Equal(t, Warn, c.Status)
	require.Equal(t, "MX hosts of example.com without STARTTLS: mx2.example.com.", c.Message)
	require.NotEmpty(t, c.Fix)
	require.Positive(t, plainMX.Sessions())

	dns.SetMX("example.com", dnscheck.MX{Host: "mx3.example.com", Preference: 10})
	dns.SetAddr("mx3.example.com", "127.0.0.3") // nothing listens there
	c = MXTLS(ctx, r, "example.com", p, 2*time.Second, "doctor.test")
	require.Equal(t, Warn, c.Status)
	require.Contains(t, c.Message, "mx3.example.com (no answer)")

	c = MXTLS(ctx, r, "nomx.example.com", p, time.Second, "doctor.test")
	require.Equal(t, Warn, c.Status)
	require.Contains(t, c.Message, "publishes no MX record")
}

// TestReverseDNS: the loopback DNS server publishes the PTR records of the
// sending IPs and the EHLO name's addresses; LookupReverseDNS keeps its
// answers as the verifier stores them, and Domain judges them without I/O.
func TestReverseDNS(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dns := dnstest.NewServer(t)
	r := &dnscheck.Resolver{Addr: dns.Addr(), Timeout: time.Second}
	ip1, ip2 := netip.MustParseAddr("203.0.113.5"), netip.MustParseAddr("2001:db8::5")
	dns.SetAddr("mx.godwit.test", "203.0.113.5", "2001:db8::5")
	dns.SetPTR("203.0.113.5", "MX.godwit.test")
	dns.SetPTR("2001:db8::5", "mx.godwit.test")
	srv := Server{EHLO: "mx.godwit.test"}
	check := func(ips ...netip.Addr) Check {
		t.Helper()
		d := domain("example.com", allVerified, nil)
		maps.Copy(d.RecordChecks, LookupReverseDNS(ctx, r, "mx.godwit.test", ips, time.Now()))
		c := byName(Domain(d, srv))[CheckReverseDNS]
		if c.Status != Pass {
			require.NotEmpty(t, c.Fix)
		}
		return c
	}

	c := check(ip1, ip2)
	require.Equal(t, Pass, c.Status, c.Message)
	require.Contains(t, c.Message, "(203.0.113.5, 2001:db8::5) is the EHLO name mx.godwit.test")

	c = check() // no --sending-ips: the EHLO name's own addresses
	require.Equal(t, Pass, c.Status, c.Message)

	dns.SetPTR("2001:db8::5", "host-5.provider.test")
	c = check(ip1, ip2)
	require.Equal(t, Fail, c.Status)
	require.Equal(t, "The PTR of 2001:db8::5 is host-5.provider.test, not the EHLO name mx.godwit.test. Gmail and Yahoo require forward-confirmed reverse DNS of bulk senders' IPs.", c.Message)
	require.Contains(t, c.Fix, "set the PTR of 2001:db8::5 to mx.godwit.test")

	dns.SetPTR("2001:db8::5")
	c = check(ip2)
	require.Equal(t, Fail, c.Status)
	require.Contains(t, c.Message, "2001:db8::5 has no PTR record")

	dns.SetAddr("mx.godwit.test", "203.0.113.9")
	c = check(ip1)
	require.Equal(t, Fail, c.Status, "not forward-confirmed")
	require.Contains(t, c.Message, "mx.godwit.test does not resolve back to it (it resolves to 203.0.113.9)")
	require.Equal(t, "Publish an A/AAAA record mx.godwit.test → 203.0.113.5, then verify the domain again.", c.Fix)

	dns.Fail("5.113.0.203.in-addr.arpa", mdns.RcodeServerFailure)
	c = check(ip1)
	require.Equal(t, Warn, c.Status, c.Message)
	require.Contains(t, c.Message, "The PTR lookup of 203.0.113.5 failed (SERVFAIL)")

	dns.Delete("mx.godwit.test")
	c = check()
	require.Equal(t, Warn, c.Status)
	require.Contains(t, c.Message, "No sending IP to check")

	d := domain("example.com", allVerified, nil)
	c = byName(Domain(d, srv))[CheckReverseDNS]
	require.Equal(t, Warn, c.Status)
	require.Contains(t, c.Message, "not been looked up yet")
	maps.Copy(d.RecordChecks, LookupReverseDNS(ctx, r, "old.godwit.test", []netip.Addr{ip1}, time.Now()))
	c = byName(Domain(d, srv))[CheckReverseDNS]
	require.Equal(t, Warn, c.Status)
	require.Contains(t, c.Message, "compared the sending IPs' reverse DNS with old.godwit.test, but the server now greets as mx.godwit.test")
}

func FuzzParseDMARC(f *testing.F) {
	for _, s := range []string{"v=DMARC1; p=none", "v=DMARC1; p=reject; pct=50; aspf=s; adkim=r; rua=mailto:a@b.c",
		"v=DMARC1", "v=DMARC1; p=", "v=DMARC1; pct=abc", "v=spf1 -all", "", "v=DMARC1;;;=;p=quarantine;sp=reject;fo=1:d"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		rec, err := ParseDMARC(s)
		if err == nil && rec == nil {
			t.Fatal("no record and no error")
		}
		d := domain("example.com", allVerified, &store.RecordCheck{Answer: []string{s}})
		for _, c := range Domain(d, Server{}) {
			if c.Status != Pass && c.Status != Warn && c.Status != Fail {
				t.Fatalf("status %q", c.Status)
			}
		}
	})
}

func splitPort(t *testing.T, addr string) (string, string) {
	t.Helper()
	host, port, err := net.SplitHostPort(addr)
	require.NoError(t, err)
	return host, port
}

func atoi(t *testing.T, s string) int {
	t.Helper()
	n, err := strconv.Atoi(s)
	require.NoError(t, err)
	return n
}
