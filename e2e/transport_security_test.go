package e2e

import (
	"crypto/tls"
	"crypto/x509"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	mdns "github.com/miekg/dns"
	"github.com/stretchr/testify/require"

	"github.com/godwit/godwit/internal/dnscheck"
	"github.com/godwit/godwit/internal/dnscheck/dnstest"
	"github.com/godwit/godwit/internal/godwittest"
)

// TestMTASTSThroughTheBinary runs godwit serve against two recipient
// domains that publish one MTA-STS policy in mode enforce naming
// mx.sts.test: sts.test's MX is that host (with a certificate from a
// private CA the server trusts through --outbound-tls-ca-file) and gets
// the mail over verified TLS; off.test's MX is another host, so its mail
// is deferred with the reason in GET /emails/{id}/delivery, until a
// server started with --mta-sts off delivers it opportunistically. Two
// more domains have DNSSEC-authenticated MX and TLSA records (the AD bit
// of the loopback DNS server): dane.test's matches the MX's certificate
// and is delivered under "dane", nodane.test's does not and is deferred.
//
// Not parallel: the policy server's port reaches the process through the
// environment (GODWIT_TEST_MTA_STS_PORT, a test-only setting).
func TestMTASTSThroughTheBinary(t *testing.T) {
	ca := godwittest.NewCA(t)
	caFile := filepath.Join(t.TempDir(), "private-ca.pem")
	require.NoError(t, os.WriteFile(caFile, ca.PEM(), 0o600))

	policy := godwittest.NewPolicyServer(t, ca, "mta-sts.sts.test", "mta-sts.off.test")
	policy.Set("version: STSv1\nmode: enforce\nmx: mx.sts.test\nmax_age: 86400\n")
	t.Setenv("GODWIT_TEST_MTA_STS_PORT", strconv.Itoa(policy.Port()))

	sinkCfg := ca.ServerTLS(t, "mx.sts.test", "mx.off.test")
	sink := godwittest.NewMX(t, godwittest.MXOptions{Domain: "mx.sts.test", TLS: sinkCfg})
	_, port, err := net.SplitHostPort(sink.Addr())
	require.NoError(t, err)

	dns := dnstest.NewServer(t)
	for domain, mx := range map[string]string{"sts.test": "mx.sts.test", "off.test": "mx.off.test"} {
		dns.SetMX(domain, dnscheck.MX{Host: mx, Preference: 10})
		dns.SetAddr(mx, "127.0.0.1")
		dns.SetTXT("_mta-sts."+domain, "v=STSv1; id=20261203")
		dns.SetAddr("mta-sts."+domain, "127.0.0.1")
	}

	// dane.test: a DNSSEC-authenticated MX whose TLSA record matches the
	// sink's certificate (DANE-EE, SPKI SHA-256); nodane.test: one whose
	// record matches nothing.
	sinkTLS := ca.ServerTLS(t, "unused.test") // only for a certificate that is not the sink's
	leaf := func(cfg *tls.Config) *x509.Certificate {
		c, err := x509.ParseCertificate(cfg.Certificates[0].Certificate[0])
		require.NoError(t, err)
		return c
	}
	for domain, cert := range map[string]*x509.Certificate{"dane.test": leaf(sinkCfg), "nodane.test": leaf(sinkTLS)} {
		mx := "mx." + domain
		dns.SetMX(domain, dnscheck.MX{Host: mx, Preference: 10})
		dns.SetAddr(mx, "127.0.0.1")
		data, err := mdns.CertificateToDANE(1, 1, cert)
		require.NoError(t, err)
		dns.SetTLSA("_25._tcp."+mx, mdns.TLSA{Usage: 3, Selector: 1, MatchingType: 1, Certificate: data})
		dns.SetAuthenticated(domain, true)
		dns.SetAuthenticated("_25._tcp."+mx, true)
	}

	dataDir := t.TempDir()
	args := []string{"--dns-resolver", dns.Addr(), "--delivery", "mx", "--mx-port", port, "--allow-private-networks",
		"--data-dir", dataDir, "--outbound-tls-ca-file", caFile}
	s := start(t, args...)
	e := &mxEnv{s: s, key: firstKey(t, s), dns: dns, mx: sink}
	verifiedDomain(t, s, e.key, dns, "acme.test")

	good := e.send(t, map[string]any{"from": "app@acme.test", "to": "alice@sts.test", "subject": "Enforced", "text": "hi"})
	bad := e.send(t, map[string]any{"from": "app@acme.test", "to": "bob@off.test", "subject": "Not matching", "text": "hi"})

	msgs := e.received(t, good, "acme.test", "alice@sts.test")
	require.True(t, msgs[0].TLS)
	e.waitLastEvent(t, good, "delivered")
	attempts, _ := e.delivery(t, good)
	a := attempts["alice@sts.test"]
	require.Equal(t, "delivered", a["outcome"])
	require.Equal(t, "mx.sts.test", a["host"])
	require.Equal(t, "mta-sts enforce", a["tls_policy"])
	require.NotEmpty(t, a["tls_version"])

	var b map[string]any
	waitWithin(t, 20*time.Second, "the off.test attempt", func() bool {
		attempts, _ := e.delivery(t, bad)
		b = attempts["bob@off.test"]
		return b != nil
	})
	require.Equal(t, "deferred", b["outcome"], "%v", b)
	require.Equal(t, "mx.off.test", b["host"])
	require.Equal(t, "mta-sts enforce", b["tls_policy"])
	require.Contains(t, b["response"], "does not match the domain's MTA-STS policy")
	require.Empty(t, sink.ForMessageID("<"+bad+"@acme.test>"), "never sent to a host the policy does not name")
	require.Positive(t, policy.Fetches())

	// DANE: the matching TLSA record delivers (the certificate's names do
	// not matter under DANE-EE); the other defers, never in plaintext.
	dane := e.send(t, map[string]any{"from": "app@acme.test", "to": "dan@dane.test", "subject": "DANE", "text": "hi"})
	nodane := e.send(t, map[string]any{"from": "app@acme.test", "to": "nat@nodane.test", "subject": "No DANE match", "text": "hi"})
	e.received(t, dane, "acme.test", "dan@dane.test")
	e.waitLastEvent(t, dane, "delivered")
	attempts, _ = e.delivery(t, dane)
	require.Equal(t, "dane", attempts["dan@dane.test"]["tls_policy"])
	waitWithin(t, 20*time.Second, "the nodane.test attempt", func() bool {
		attempts, _ := e.delivery(t, nodane)
		b = attempts["nat@nodane.test"]
		return b != nil
	})
	require.Equal(t, "deferred", b["outcome"], "%v", b)
	require.Equal(t, "dane", b["tls_policy"])
	require.Contains(t, b["response"], "no certificate matches the TLSA records of _25._tcp.mx.nodane.test")
	require.Empty(t, sink.ForMessageID("<"+nodane+"@acme.test>"))

	// The same database under --mta-sts off: the deferred email goes to
	// off.test's MX, opportunistically, when its retry comes.
	s.stop(t)
	fetches := policy.Fetches()
	s = start(t, append(args, "--mta-sts", "off")...)
	e.s = s
	id := e.send(t, map[string]any{"from": "app@acme.test", "to": "carol@off.test", "subject": "No policy", "text": "hi"})
	e.received(t, id, "acme.test", "carol@off.test")
	e.waitLastEvent(t, id, "delivered")
	attempts, _ = e.delivery(t, id)
	require.Equal(t, "opportunistic", attempts["carol@off.test"]["tls_policy"])
	require.Equal(t, fetches, policy.Fetches(), "no policy fetched with --mta-sts off")
	require.True(t, strings.Contains(s.stderr.String(), "--mta-sts off"), "the log says MTA-STS is off")
}
