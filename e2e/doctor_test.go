package e2e

import (
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/godwit/godwit/internal/dnscheck/dnstest"
	"github.com/godwit/godwit/internal/godwittest"
)

// TestDoctor runs godwit doctor on the configuration file a server ran
// with, on loopback: a DNS server that publishes the server's names, its
// PTR and a domain added through the API, and a fake MX as the port 25
// probe. Everything right exits 0; a PTR that names another host and a
// probe that never greets exit 1, each a FAIL line with its fix.
func TestDoctor(t *testing.T) {
	dns := dnstest.NewServer(t)
	dns.SetAddr("mail.example.com", "192.0.2.25")
	dns.SetPTR("192.0.2.25", "mail.example.com")
	probe := godwittest.NewMX(t, godwittest.MXOptions{Domain: "mx.probe.example.net"})

	dir := t.TempDir()
	conf := filepath.Join(dir, "godwit.conf")
	require.NoError(t, os.WriteFile(conf, []byte(`# a production-like configuration, on loopback
data-dir = `+filepath.Join(dir, "data")+`
hostname = mail.example.com
mx-host = mail.example.com
sending-ips = 192.0.2.25
dns-resolver = `+dns.Addr()+`
mx-addr = 127.0.0.1:0
`), 0o600))
	s := start(t, "--config", conf)
	waitFor(t, "the first key", func() bool { return tokenRE.MatchString(s.stdout.String()) })
	verifiedDomain(t, s, tokenRE.FindString(s.stdout.String()), dns, "example.org")
	s.stop(t)

	out, stderr, err := run(t, "doctor", "--config", conf, "--probe-addr", probe.Addr(), "--timeout", "2s")
	require.NoError(t, err, "stdout:\n%s\nstderr:\n%s", out, stderr)
	t.Logf("godwit doctor:\n%s", out)
	for _, line := range []string{
		`PASS  config\s+valid \(` + regexp.QuoteMeta(conf) + `\)`,
		`PASS  hostname\s+EHLO name mail\.example\.com resolves to 192\.0\.2\.25`,
		`PASS  reverse-dns\s+192\.0\.2\.25 ↔ mail\.example\.com`,
		`PASS  outbound-25\s+` + regexp.QuoteMeta(probe.Addr()) + ` greeted in \S+: "220 mx\.probe\.example\.net ESMTP`,
		`PASS  database\s+SQLite .* opens`,
		`PASS  migrations\s+up to date at \d{5} \(sqlite\)`,
		`PASS  secret-key\s+.*secret\.key is the database's key`,
		`PASS  domain\s+example\.org: DKIM, SPF-MX, SPF-TXT, DMARC verified \(Godwit: verified\)`,
		`WARN  certificate\s+none: plain HTTP on loopback only`,
	} {
		require.Regexp(t, `(?m)^`+line, out)
	}
	require.NotContains(t, out, "FAIL")

	// The hosting provider's default PTR, and port 25 held by something
	// that never answers.
	dns.SetPTR("192.0.2.25", "vps-25.hoster.example.net")
	silent, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer silent.Close()
	go func() {
		for {
			c, err := silent.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	start := time.Now()
	out, stderr, err = run(t, "doctor", "--config", conf, "--probe-addr", silent.Addr().String(), "--timeout", "500ms")
	require.Less(t, time.Since(start), 5*time.Second)
	var exit *exec.ExitError
	require.True(t, errors.As(err, &exit), "%v", err)
	require.Equal(t, 1, exit.ExitCode())
	t.Logf("godwit doctor:\n%s", out)
	require.Regexp(t, `(?m)^FAIL  reverse-dns\s+the PTR of 192\.0\.2\.25 is vps-25\.hoster\.example\.net, not the EHLO name mail\.example\.com\n`+
		`      fix: ask your hosting provider to set the PTR \(reverse DNS\) of 192\.0\.2\.25 to mail\.example\.com\n`, out)
	require.Regexp(t, `(?m)^FAIL  outbound-25\s+connected to \S+, but no SMTP greeting within 500ms`, out)
	require.Regexp(t, `(?m)^      fix: most cloud providers block outbound port \d+ by default`, out)
	// The domain's readiness checks the same PTR for its sending IPs.
	require.Regexp(t, `(?m)^FAIL  readiness\s+example\.org reverse_dns: The PTR of 192\.0\.2\.25 is vps-25\.hoster\.example\.net, not the EHLO name mail\.example\.com\.`, out)
	require.Regexp(t, `^godwit doctor: 3 of \d+ checks failed \(4 warnings\)\n$`, stderr)
}
