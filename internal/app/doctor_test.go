package app

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"flag"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/godwit/godwit/internal/config"
	"github.com/godwit/godwit/internal/dnscheck"
	"github.com/godwit/godwit/internal/dnscheck/dnstest"
	"github.com/godwit/godwit/internal/domains"
	"github.com/godwit/godwit/internal/godwittest"
	"github.com/godwit/godwit/internal/store"
	"github.com/godwit/godwit/internal/store/sqlstore"
)

// doctorWorld is a server's world on loopback: a DNS server that answers
// for mail.example.com (192.0.2.25, PTR included) and the domain
// example.org with every record published, a fake MX to probe, a
// database holding the domain sealed with key, and a certificate.
type doctorWorld struct {
	dns      *dnstest.Server
	mx       *godwittest.MX
	dbURL    string
	dataDir  string
	key      string
	certFile string
	keyFile  string
	dkim     string // the DKIM record's value
	// domainMX is example.org's own MX (127.0.0.1 on a port of its own,
	// --mx-port), offering STARTTLS: the readiness mx_tls check.
	domainMX *godwittest.MX
}

func (w *doctorWorld) args(extra ...string) []string {
	return append([]string{"doctor", "--data-dir", w.dataDir, "--database-url", w.dbURL, "--secret-key", w.key,
		"--hostname", "mail.example.com", "--mx-host", "mail.example.com", "--mx-addr", "127.0.0.1:0",
		"--sending-ips", "192.0.2.25", "--dns-resolver", w.dns.Addr(), "--probe-addr", w.mx.Addr(),
		"--tls-cert", w.certFile, "--tls-key", w.keyFile, "--timeout", "2s",
		"--public-url", "https://mail.example.com", "--mx-port", portOf(w.domainMX.Addr())}, extra...)
}

func newDoctorWorld(t *testing.T, kind sqlstore.Dialect) *doctorWorld {
	t.Helper()
	ctx := context.Background()
	keyBytes := make([]byte, 32)
	_, err := rand.Read(keyBytes)
	require.NoError(t, err)
	w := &doctorWorld{dns: dnstest.NewServer(t), mx: godwittest.NewMX(t, godwittest.MXOptions{Domain: "mx.probe.example.net"}),
		dbURL: godwittest.StoreURL(t, kind), dataDir: t.TempDir(), key: hex.EncodeToString(keyBytes)}
	w.dns.SetAddr("mail.example.com", "192.0.2.25")
	w.dns.SetPTR("192.0.2.25", "mail.example.com")

	// The domain, made as the API makes it, with serve's settings.
	cfg := config.Defaults()
	cfg.MXHost, cfg.SendingIPs = "mail.example.com", []string{"192.0.2.25"}
	settings, err := domainSettings(cfg, keyBytes)
	require.NoError(t, err)
	db, err := sqlstore.Open(ctx, w.dbURL, sqlstore.Options{Outbox: godwittest.NewOutbox()})
	require.NoError(t, err)
	require.NoError(t, CheckServerKey(ctx, db, keyBytes, "--secret-key"))
	team := &store.Team{ID: uuid.NewString(), Name: "default", CreatedAt: time.Now()}
	require.NoError(t, db.CreateTeam(ctx, team))
	d := settings.New(team.ID, "example.org", time.Now())
	recs, created, err := settings.Provision(d, time.Now())
	require.NoError(t, err)
	require.NoError(t, db.CreateDomain(ctx, d, created))
	require.NoError(t, db.Close())
	for _, rec := range recs {
		switch rec.Type {
		case "TXT":
			w.dns.SetTXT(rec.FQDN(d.Name), rec.Value)
		case "MX":
			w.dns.SetMX(rec.FQDN(d.Name), dnscheck.MX{Host: rec.Value, Preference: uint16(rec.Priority)})
		}
		if rec.Kind == domains.KindDKIM {
			w.dkim = rec.Value
		}
	}
	w.certFile, w.keyFile = writeCert(t, t.TempDir(), time.Now().Add(90*24*time.Hour), "mail.example.com")
	ca := godwittest.NewCA(t)
	w.domainMX = godwittest.NewMX(t, godwittest.MXOptions{Domain: "mx.example.org", TLS: ca.ServerTLS(t, "mx.example.org")})
	w.dns.SetMX("example.org", dnscheck.MX{Host: "mx.example.org", Preference: 10})
	w.dns.SetAddr("mx.example.org", "127.0.0.1")
	return w
}

func portOf(addr string) string {
	_, port, _ := net.SplitHostPort(addr)
	return port
}

// writeCert writes a self-signed certificate for names, valid until
// notAfter, and its key.
func writeCert(t *testing.T, dir string, notAfter time.Time, names ...string) (string, string) {
	t.Helper()
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: names[0]}, DNSNames: names,
		NotBefore: notAfter.Add(-90 * 24 * time.Hour), NotAfter: notAfter, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &priv.PublicKey, priv)
	require.NoError(t, err)
	keyDER, err := x509.MarshalECPrivateKey(priv)
	require.NoError(t, err)
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	require.NoError(t, os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600))
	require.NoError(t, os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600))
	return certFile, keyFile
}

func runDoctorCmd(t *testing.T, args []string) (string, string, int) {
	t.Helper()
	var out, errb bytes.Buffer
	code := Main(context.Background(), args, &out, &errb, func(string) string { return "" })
	return out.String(), errb.String(), code
}

// line finds the printed line of a check: STATUS  check  found.
func requireLine(t *testing.T, out, status, check, found string) {
	t.Helper()
	re := regexp.MustCompile(`(?m)^` + status + `  ` + regexp.QuoteMeta(check) + ` +.*` + regexp.QuoteMeta(found))
	require.Regexp(t, re, out)
}

func TestDoctor(t *testing.T) {
	t.Parallel()
	for _, kind := range godwittest.Kinds {
		t.Run(string(kind), func(t *testing.T) {
			t.Parallel()
			w := newDoctorWorld(t, kind)

			out, errOut, code := runDoctorCmd(t, w.args())
			require.Equal(t, 0, code, "stdout:\n%s\nstderr:\n%s", out, errOut)
			requireLine(t, out, "PASS", "config", "valid")
			requireLine(t, out, "PASS", "hostname", "EHLO name mail.example.com resolves to 192.0.2.25")
			requireLine(t, out, "PASS", "mx-host", "mail.example.com resolves to 192.0.2.25")
			requireLine(t, out, "PASS", "reverse-dns", "192.0.2.25 ↔ mail.example.com")
			requireLine(t, out, "PASS", "outbound-25", `greeted in`)
			requireLine(t, out, "PASS", "outbound-25", `"220 mx.probe.example.net ESMTP`)
			requireLine(t, out, "PASS", "database", "opens")
			requireLine(t, out, "PASS", "migrations", "up to date at")
			requireLine(t, out, "PASS", "secret-key", "--secret-key is the database's key")
			requireLine(t, out, "PASS", "domain", "example.org: DKIM, SPF-MX, SPF-TXT, DMARC verified (Godwit: not_started)")
			requireLine(t, out, "WARN", "certificate", "not trusted") // self-signed
			requireLine(t, out, "PASS", "readiness", "example.org spf_alignment: SPF passes for the envelope sender at send.example.org")
			requireLine(t, out, "PASS", "readiness", "example.org dkim_alignment: Every email is signed with d=example.org")
			requireLine(t, out, "WARN", "readiness", "example.org dmarc: DMARC at _dmarc.example.org has p=none")
			requireLine(t, out, "PASS", "readiness", "example.org one_click_unsubscribe: Broadcasts carry List-Unsubscribe")
			requireLine(t, out, "PASS", "readiness", "example.org mx_tls: Every MX host of example.org offers STARTTLS.")
			requireLine(t, out, "PASS", "readiness", "example.org reverse_dns: The PTR of every sending IP of the domain (192.0.2.25) is the EHLO name mail.example.com")
			require.NotContains(t, out, "FAIL")
			require.Regexp(t, `\n\d+ checks passed, 2 warnings, none failed\n$`, out)

			// Everything wrong at once.
			w.dns.SetPTR("192.0.2.25", "vps-25.hoster.example.net")
			w.dns.Delete("resend._domainkey.example.org")
			otherKey := make([]byte, 32)
			_, err := rand.Read(otherKey)
			require.NoError(t, err)
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			require.NoError(t, err)
			closed := ln.Addr().String()
			require.NoError(t, ln.Close())
			expiredCert, expiredKey := writeCert(t, t.TempDir(), time.Now().Add(-48*time.Hour), "mail.example.com")
			args := w.args("--probe-addr", closed, "--tls-cert", expiredCert, "--tls-key", expiredKey)
			out, errOut, code = runDoctorCmd(t, args)
			require.Equal(t, 1, code, out)
			requireLine(t, out, "FAIL", "reverse-dns", "the PTR of 192.0.2.25 is vps-25.hoster.example.net, not the EHLO name mail.example.com")
			require.Contains(t, out, "      fix: ask your hosting provider to set the PTR (reverse DNS) of 192.0.2.25 to mail.example.com\n")
			requireLine(t, out, "FAIL", "outbound-25", "connection refused")
			require.Contains(t, out, "fix: most cloud providers block outbound port")
			requireLine(t, out, "FAIL", "domain", "example.org: DKIM TXT at resend._domainkey.example.org is missing")
			require.Contains(t, out, `fix: publish TXT resend._domainkey.example.org "`+w.dkim+`"`)
			requireLine(t, out, "FAIL", "certificate", "expired on")
			requireLine(t, out, "FAIL", "readiness", "example.org dkim_alignment: The DKIM record resend._domainkey.example.org is not verified")
			requireLine(t, out, "FAIL", "readiness", "example.org reverse_dns: The PTR of 192.0.2.25 is vps-25.hoster.example.net, not the EHLO name mail.example.com")
			require.Regexp(t, `^godwit doctor: 6 of \d+ checks failed \(1 warnings\)\n$`, errOut)

			// Another node's key: the key check fails, and the domains
			// cannot be checked without the key that opens them.
			out, _, code = runDoctorCmd(t, w.args("--secret-key", hex.EncodeToString(otherKey)))
			require.Equal(t, 1, code)
			requireLine(t, out, "FAIL", "secret-key", "this node's secret key (--secret-key) is not the one the database's secrets were sealed with")
			require.Contains(t, out, "fix: copy the first node's secret.key to")
			requireLine(t, out, "WARN", "domain", "1 domains not checked")
		})
	}
}

// A listener that accepts and never greets fails the check within
// --timeout; capture and relay delivery check what they use instead.
func TestDoctorDelivery(t *testing.T) {
	t.Parallel()
	w := newDoctorWorld(t, sqlstore.SQLite)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	var conns []net.Conn
	accepted := make(chan struct{})
	go func() {
		defer close(accepted)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns = append(conns, c)
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		<-accepted
		for _, c := range conns {
			c.Close()
		}
	})
	start := time.Now()
	out, _, code := runDoctorCmd(t, w.args("--probe-addr", ln.Addr().String(), "--timeout", "400ms"))
	require.Less(t, time.Since(start), 3*time.Second)
	require.Equal(t, 1, code)
	requireLine(t, out, "FAIL", "outbound-25", "connected to "+ln.Addr().String()+", but no SMTP greeting within 400ms")

	out, _, code = runDoctorCmd(t, w.args("--delivery", "capture"))
	require.Equal(t, 0, code, out)
	requireLine(t, out, "WARN", "delivery", "--delivery capture: emails are stored and never sent")
	require.NotContains(t, out, "outbound-25")

	out, _, code = runDoctorCmd(t, w.args("--delivery", "relay", "--relay-url", "smtp://u:hunter2@"+w.mx.Addr()))
	require.Equal(t, 0, code, out)
	requireLine(t, out, "PASS", "relay", "smtp://"+w.mx.Addr()+" greeted")
	requireLine(t, out, "PASS", "reverse-dns", "not checked: --delivery relay: receivers see the relay")
	require.NotContains(t, out, "hunter2")

	// A configuration serve refuses is a FAIL line; the other checks still run.
	out, _, code = runDoctorCmd(t, w.args("--role", "api"))
	require.Equal(t, 1, code)
	requireLine(t, out, "FAIL", "config", "--role api needs a postgres:// --database-url")
	requireLine(t, out, "PASS", "delivery", "--role api: this node delivers nothing")
	requireLine(t, out, "PASS", "domain", "example.org")
}

func TestDoctorHelp(t *testing.T) {
	t.Parallel()
	out, _, code := runDoctorCmd(t, []string{"doctor", "-h"})
	require.Equal(t, 0, code)
	require.Contains(t, out, "godwit doctor [--config FILE]")
	require.Contains(t, out, "-probe-domain")
	require.Contains(t, out, "-dns-resolver")
}

// TestProductionGuideFlags: every --flag docs/production.md names is one of
// serve's settings or doctor's own (a renamed flag must not leave the guide
// wrong).
func TestProductionGuideFlags(t *testing.T) {
	t.Parallel()
	doc, err := os.ReadFile("../../docs/production.md")
	require.NoError(t, err)
	all := flag.NewFlagSet("all", flag.ContinueOnError)
	cfg := config.Defaults()
	cfg.Register(all)
	doctorOwn := map[string]bool{"timeout": true, "probe-domain": true, "probe-addr": true}
	others := map[string]bool{"deploy-hook": true, "status": true} // certbot's; godwit migrate's
	names := regexp.MustCompile(`--([a-z][a-z0-9-]*)`).FindAllStringSubmatch(string(doc), -1)
	require.NotEmpty(t, names)
	for _, m := range names {
		require.True(t, all.Lookup(m[1]) != nil || doctorOwn[m[1]] || others[m[1]], "docs/production.md names --%s, which godwit does not have", m[1])
	}
}
