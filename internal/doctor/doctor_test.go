package doctor_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/godwit/godwit/internal/dnscheck"
	"github.com/godwit/godwit/internal/dnscheck/dnstest"
	"github.com/godwit/godwit/internal/doctor"
	"github.com/godwit/godwit/internal/domains"
	"github.com/godwit/godwit/internal/godwittest"
	"github.com/godwit/godwit/internal/secretbox"
)

func resolver(srv *dnstest.Server) *dnscheck.Resolver {
	return &dnscheck.Resolver{Addr: srv.Addr(), Timeout: 2 * time.Second}
}

func addrs(ss ...string) []netip.Addr {
	out := make([]netip.Addr, len(ss))
	for i, s := range ss {
		out[i] = netip.MustParseAddr(s)
	}
	return out
}

func TestHostname(t *testing.T) {
	t.Parallel()
	srv := dnstest.NewServer(t)
	srv.SetAddr("mail.example.com", "192.0.2.25", "2001:db8::25")
	r := resolver(srv)

	res, ips := doctor.Hostname(t.Context(), r, "hostname", "EHLO name", "mail.example.com", "--hostname", "--hostname")
	require.Equal(t, doctor.Pass, res.Status, res.Found)
	require.Equal(t, "EHLO name mail.example.com resolves to 192.0.2.25, 2001:db8::25", res.Found)
	require.Equal(t, addrs("192.0.2.25", "2001:db8::25"), ips)

	for _, tc := range []struct{ name, found string }{
		{"vm", "not a fully qualified domain name"},
		{"localhost", "not a fully qualified domain name"},
		{"192.0.2.25", "an IP address"},
		{"mail.internal", "names under .internal do not resolve"},
		{"nowhere.example.com", "has no A or AAAA record"},
	} {
		res, ips := doctor.Hostname(t.Context(), r, "hostname", "EHLO name", tc.name, "this machine's name", "--hostname")
		require.Equal(t, doctor.Fail, res.Status, tc.name)
		require.Contains(t, res.Found, tc.found, tc.name)
		require.NotEmpty(t, res.Fix)
		require.Nil(t, ips)
	}
	res, _ = doctor.Hostname(t.Context(), r, "hostname", "EHLO name", "vm", "this machine's name", "--hostname")
	require.Contains(t, res.Fix, "set --hostname to this server's fully qualified name")
}

func TestReverseDNS(t *testing.T) {
	t.Parallel()
	srv := dnstest.NewServer(t)
	srv.SetAddr("mail.example.com", "192.0.2.25", "2001:db8::25")
	srv.SetPTR("192.0.2.25", "mail.example.com")
	srv.SetPTR("2001:db8::25", "MAIL.example.com.")
	srv.SetPTR("192.0.2.26", "vps-26.hoster.example.net")
	srv.SetPTR("192.0.2.27", "mail.example.com") // but mail.example.com does not resolve to .27
	r := resolver(srv)

	good := doctor.ReverseDNS(t.Context(), r, "mail.example.com", addrs("192.0.2.25", "2001:db8::25"))
	require.Len(t, good, 2)
	for _, res := range good {
		require.Equal(t, doctor.Pass, res.Status, res.Found)
		require.Equal(t, "reverse-dns", res.Check)
	}
	require.Equal(t, "192.0.2.25 ↔ mail.example.com (PTR and A/AAAA agree)", good[0].Found)

	bad := doctor.ReverseDNS(t.Context(), r, "mail.example.com", addrs("192.0.2.26", "192.0.2.27", "192.0.2.28"))
	require.Len(t, bad, 3)
	for _, res := range bad {
		require.Equal(t, doctor.Fail, res.Status, res.Found)
	}
	require.Equal(t, "the PTR of 192.0.2.26 is vps-26.hoster.example.net, not the EHLO name mail.example.com", bad[0].Found)
	require.True(t, strings.HasPrefix(bad[0].Fix, "ask your hosting provider to set the PTR (reverse DNS) of 192.0.2.26 to mail.example.com"), bad[0].Fix)
	require.Contains(t, bad[1].Found, "mail.example.com does not resolve back to it")
	require.Contains(t, bad[1].Fix, "publish an A/AAAA record mail.example.com → 192.0.2.27")
	require.Equal(t, "192.0.2.28 has no PTR record: receivers reject or junk mail from it", bad[2].Found)

	none := doctor.ReverseDNS(t.Context(), r, "vm", nil)
	require.Len(t, none, 1)
	require.Equal(t, doctor.Warn, none[0].Status)

	short := doctor.ReverseDNS(t.Context(), r, "vm", addrs("192.0.2.25"))
	require.Len(t, short, 1)
	require.Equal(t, doctor.Fail, short[0].Status)
	require.Contains(t, short[0].Found, `cannot match the EHLO name "vm"`)
	require.NotContains(t, short[0].Fix, "hosting provider", "a PTR to a short name would not help")
}

// closedAddr is a loopback address nobody listens on.
func closedAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	return addr
}

// silentAddr is a loopback listener that accepts connections and never
// says a word.
func silentAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	done := make(chan struct{})
	t.Cleanup(func() { ln.Close(); <-done })
	go func() {
		defer close(done)
		var conns []net.Conn
		defer func() {
			for _, c := range conns {
				c.Close()
			}
		}()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns = append(conns, c)
		}
	}()
	return ln.Addr().String()
}

func TestOutboundSMTP(t *testing.T) {
	t.Parallel()
	mx := godwittest.NewMX(t, godwittest.MXOptions{Domain: "mx.probe.example.com"})
	srv := dnstest.NewServer(t)
	srv.SetMX("probe.example.com", dnscheck.MX{Host: "mx.probe.example.com", Preference: 5})
	srv.SetAddr("mx.probe.example.com", "127.0.0.1")
	r := resolver(srv)
	_, port, err := net.SplitHostPort(mx.Addr())
	require.NoError(t, err)
	mxPort, err := strconv.Atoi(port)
	require.NoError(t, err)

	t.Run("open: greeted", func(t *testing.T) {
		res := doctor.OutboundSMTP(t.Context(), r, doctor.Probe{Addr: mx.Addr(), Port: 25, Timeout: 5 * time.Second})
		require.Equal(t, doctor.Pass, res.Status, res.Found)
		require.Contains(t, res.Found, `"220 mx.probe.example.com ESMTP`)
	})
	t.Run("through the probe domain's MX", func(t *testing.T) {
		res := doctor.OutboundSMTP(t.Context(), r, doctor.Probe{Domain: "probe.example.com", Port: mxPort, Timeout: 5 * time.Second})
		require.Equal(t, doctor.Pass, res.Status, res.Found)
		require.Contains(t, res.Found, "(mx.probe.example.com, MX of probe.example.com) greeted")
	})
	t.Run("closed: fails at once", func(t *testing.T) {
		start := time.Now()
		res := doctor.OutboundSMTP(t.Context(), r, doctor.Probe{Addr: closedAddr(t), Port: 25, Timeout: 10 * time.Second})
		require.Less(t, time.Since(start), 2*time.Second)
		require.Equal(t, doctor.Fail, res.Status)
		require.Contains(t, res.Found, "connection refused")
		require.Contains(t, res.Fix, "most cloud providers block outbound port")
		require.Contains(t, res.Fix, "--delivery relay --relay-url")
	})
	t.Run("never greets: fails within the timeout", func(t *testing.T) {
		start := time.Now()
		res := doctor.OutboundSMTP(t.Context(), r, doctor.Probe{Addr: silentAddr(t), Port: 25, Timeout: 300 * time.Millisecond})
		took := time.Since(start)
		require.GreaterOrEqual(t, took, 300*time.Millisecond)
		require.Less(t, took, 2*time.Second)
		require.Equal(t, doctor.Fail, res.Status)
		require.Contains(t, res.Found, "no SMTP greeting within 300ms")
	})
	t.Run("no MX for the probe domain", func(t *testing.T) {
		res := doctor.OutboundSMTP(t.Context(), r, doctor.Probe{Domain: "nomx.example.com", Port: 25, Timeout: time.Second})
		require.Equal(t, doctor.Fail, res.Status)
		require.Contains(t, res.Found, "cannot find the MX of the probe domain nomx.example.com")
	})
	t.Run("relay", func(t *testing.T) {
		res := doctor.Relay(t.Context(), "smtp://user:secret@"+mx.Addr(), 5*time.Second)
		require.Equal(t, doctor.Pass, res.Status, res.Found)
		require.NotContains(t, res.Found, "secret")
		res = doctor.Relay(t.Context(), "smtp://user:secret@"+closedAddr(t), 5*time.Second)
		require.Equal(t, doctor.Fail, res.Status)
		require.NotContains(t, res.Found+res.Fix, "secret")
	})
}

func TestDomain(t *testing.T) {
	t.Parallel()
	key := make([]byte, 32)
	_, err := rand.Read(key)
	require.NoError(t, err)
	box, err := secretbox.New(key)
	require.NoError(t, err)
	settings := domains.Settings{Keys: box, MXHost: "mail.example.com", SPF: "v=spf1 ip4:192.0.2.25 ~all", DKIMSelector: "resend"}
	d := settings.New("team", "example.org", time.Now())
	recs, _, err := settings.Provision(d, time.Now())
	require.NoError(t, err)

	srv := dnstest.NewServer(t)
	r := resolver(srv)
	var dkim string
	for _, rec := range recs {
		switch rec.Type {
		case "TXT":
			srv.SetTXT(rec.FQDN(d.Name), rec.Value)
		case "MX":
			srv.SetMX(rec.FQDN(d.Name), dnscheck.MX{Host: rec.Value, Preference: uint16(rec.Priority)})
		}
		if rec.Kind == domains.KindDKIM {
			dkim = rec.Value
		}
	}
	res := doctor.Domain(t.Context(), r, d.Name, "verified", recs)
	require.Equal(t, doctor.Pass, res.Status, res.Found)
	require.Equal(t, "example.org: DKIM, SPF-MX, SPF-TXT, DMARC verified (Godwit: verified)", res.Found)

	srv.Delete("resend._domainkey.example.org")
	srv.SetTXT("send.example.org", "v=spf1 -all")
	res = doctor.Domain(t.Context(), r, d.Name, "temporary_failure", recs)
	require.Equal(t, doctor.Fail, res.Status)
	require.Equal(t, `example.org: DKIM TXT at resend._domainkey.example.org is missing; SPF-TXT TXT at send.example.org is wrong (found "v=spf1 -all") (Godwit: temporary_failure)`, res.Found)
	require.Equal(t, `publish TXT resend._domainkey.example.org "`+dkim+`"`+"\n"+
		`publish TXT send.example.org "v=spf1 ip4:192.0.2.25 ~all" (replacing the one found)`, res.Fix)

	// Only the optional DMARC record missing: a warning.
	srv.SetTXT("resend._domainkey.example.org", dkim)
	srv.SetTXT("send.example.org", "v=spf1 ip4:192.0.2.25 ~all")
	srv.Delete("_dmarc.example.org")
	res = doctor.Domain(t.Context(), r, d.Name, "", recs)
	require.Equal(t, doctor.Warn, res.Status, res.Found)
	require.Equal(t, "example.org: DMARC (optional) TXT at _dmarc.example.org is missing", res.Found)
}

// certFiles writes a self-signed certificate for names valid from
// notBefore to notAfter, and its key.
func certFiles(t *testing.T, dir string, notBefore, notAfter time.Time, names ...string) (certFile, keyFile string, cert *x509.Certificate) {
	t.Helper()
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: names[0]},
		NotBefore: notBefore, NotAfter: notAfter, DNSNames: names,
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IsCA: true, BasicConstraintsValid: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &priv.PublicKey, priv)
	require.NoError(t, err)
	cert, err = x509.ParseCertificate(der)
	require.NoError(t, err)
	keyDER, err := x509.MarshalECPrivateKey(priv)
	require.NoError(t, err)
	require.NoError(t, os.MkdirAll(dir, 0o700))
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	require.NoError(t, os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600))
	require.NoError(t, os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600))
	return certFile, keyFile, cert
}

func TestCertificateFiles(t *testing.T) {
	t.Parallel()
	now := time.Now()
	day := 24 * time.Hour
	trusting := func(c *x509.Certificate) *x509.CertPool {
		p := x509.NewCertPool()
		p.AddCert(c)
		return p
	}

	certFile, keyFile, cert := certFiles(t, filepath.Join(t.TempDir(), "good"), now.Add(-day), now.Add(90*day), "mail.example.com")
	res := doctor.CertificateFiles(certFile, keyFile, doctor.CertOptions{Names: []string{"mail.example.com"}, Now: now, Roots: trusting(cert)})
	require.Equal(t, doctor.Pass, res.Status, res.Found)
	require.Contains(t, res.Found, "for mail.example.com valid until")

	res = doctor.CertificateFiles(certFile, keyFile, doctor.CertOptions{Names: []string{"mail.example.com"}, Now: now})
	require.Equal(t, doctor.Warn, res.Status, "self-signed, and the system does not trust it")
	require.Contains(t, res.Found, "not trusted")

	res = doctor.CertificateFiles(certFile, keyFile, doctor.CertOptions{Names: []string{"api.example.com", "localhost"}, Now: now, Roots: trusting(cert)})
	require.Equal(t, doctor.Warn, res.Status)
	require.Contains(t, res.Found, "does not name api.example.com")
	require.NotContains(t, res.Found, "localhost", "a name that is not a public one is not asked for")

	certFile, keyFile, cert = certFiles(t, filepath.Join(t.TempDir(), "expiring"), now.Add(-80*day), now.Add(3*day+time.Hour), "mail.example.com")
	res = doctor.CertificateFiles(certFile, keyFile, doctor.CertOptions{Names: []string{"mail.example.com"}, Now: now, Roots: trusting(cert)})
	require.Equal(t, doctor.Warn, res.Status)
	require.Contains(t, res.Found, "expires in 3 days")
	require.Contains(t, res.Fix, "renew it")

	certFile, keyFile, cert = certFiles(t, filepath.Join(t.TempDir(), "expired"), now.Add(-90*day), now.Add(-2*day-time.Hour), "mail.example.com")
	res = doctor.CertificateFiles(certFile, keyFile, doctor.CertOptions{Names: []string{"mail.example.com"}, Now: now, Roots: trusting(cert)})
	require.Equal(t, doctor.Fail, res.Status)
	require.Contains(t, res.Found, "expired on "+now.Add(-2*day-time.Hour).UTC().Format("2006-01-02")+" (2 days ago)")

	// A certificate with another certificate's key.
	otherDir := filepath.Join(t.TempDir(), "other")
	_, otherKey, _ := certFiles(t, otherDir, now.Add(-day), now.Add(90*day), "mail.example.com")
	res = doctor.CertificateFiles(certFile, otherKey, doctor.CertOptions{Now: now})
	require.Equal(t, doctor.Fail, res.Status)
	require.Contains(t, res.Found, "cannot be used")
	require.Contains(t, res.Found, "private key does not match public key")
}

func TestACME(t *testing.T) {
	t.Parallel()
	now := time.Now()
	cache := t.TempDir()
	// As autocert.DirCache keeps it: the private key, then the chain.
	certFile, keyFile, _ := certFiles(t, t.TempDir(), now.Add(-time.Hour), now.Add(5*24*time.Hour+time.Hour), "mail.example.com")
	keyPEM, err := os.ReadFile(keyFile)
	require.NoError(t, err)
	certPEM, err := os.ReadFile(certFile)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(cache, "mail.example.com"), append(keyPEM, certPEM...), 0o600))

	out := doctor.ACME(cache, []string{"mail.example.com", "api.example.com"}, ":8443", doctor.CertOptions{Now: now})
	require.Len(t, out, 3)
	require.Equal(t, doctor.Warn, out[0].Status)
	require.Contains(t, out[0].Found, "TLS-ALPN-01 challenge arrives on port 443, but --http-addr is :8443")
	require.Equal(t, doctor.Warn, out[1].Status)
	require.Contains(t, out[1].Found, "expires in 5 days")
	require.Contains(t, out[1].Fix, "renewal is failing")
	require.Equal(t, doctor.Warn, out[2].Status)
	require.Equal(t, "no certificate for api.example.com in the ACME cache yet", out[2].Found)

	out = doctor.ACME(cache, []string{"mail.example.com"}, ":443", doctor.CertOptions{Now: now})
	require.Equal(t, doctor.Pass, out[0].Status)
}

func TestPrint(t *testing.T) {
	t.Parallel()
	var b bytes.Buffer
	require.NoError(t, doctor.Print(&b, []doctor.Result{
		{Status: doctor.Pass, Check: "hostname", Found: "ok", Fix: "never shown"},
		{Status: doctor.Fail, Check: "reverse-dns", Found: "bad\r\nline", Fix: "one\ntwo"},
	}))
	require.Equal(t, "PASS  hostname      ok\n"+
		"FAIL  reverse-dns   bad  line\n"+
		"      fix: one\n"+
		"           two\n", b.String())
	p, w, f := doctor.Count([]doctor.Result{{Status: doctor.Pass}, {Status: doctor.Warn}, {Status: doctor.Fail}, {Status: doctor.Fail}})
	require.Equal(t, []int{1, 1, 2}, []int{p, w, f})
}
