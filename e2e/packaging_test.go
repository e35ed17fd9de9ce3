package e2e

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestCheckConfig validates configuration files through the real binary
// without starting anything: a good file passes with a summary and leaves
// no trace (no data directory, database or key; a port in use is no
// error), a bad one fails with one sentence and exit status 1.
func TestCheckConfig(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer busy.Close()
	good := filepath.Join(dir, "good.conf")
	require.NoError(t, os.WriteFile(good, []byte(fmt.Sprintf(`# a server behind a proxy
data-dir = %s
http-addr = %s
insecure-http = true
database-url = "postgres://godwit:pw@db.internal:5432/godwit"
public-url = https://mail.example.com
smtp-addr = 127.0.0.1:2587
`, data, busy.Addr())), 0o644))
	out, stderr, err := run(t, "check-config", "--config", good)
	require.NoError(t, err, stderr)
	require.Empty(t, stderr)
	for _, want := range []string{
		"configuration OK",
		"API            http://" + busy.Addr().String(),
		"TLS            none: plain HTTP (--insecure-http)",
		"database       PostgreSQL postgres://godwit:xxxxx@db.internal:5432/godwit",
		"data dir       " + data,
		"SMTP           127.0.0.1:2587",
	} {
		require.Contains(t, out, want)
	}
	require.NotContains(t, out, ":pw@", "the summary hides the password")
	require.Contains(t, out, "MX host        mail.example.com", "the --public-url host")
	_, err = os.Stat(data)
	require.ErrorIs(t, err, os.ErrNotExist, "check-config creates nothing")

	// Flags and the environment override the file, as for serve.
	out, stderr, err = run(t, "check-config", "--config", good, "--database-url", filepath.Join(dir, "godwit.db"))
	require.NoError(t, err, stderr)
	require.Contains(t, out, "database       SQLite "+filepath.Join(dir, "godwit.db"))
	_, err = os.Stat(filepath.Join(dir, "godwit.db"))
	require.ErrorIs(t, err, os.ErrNotExist, "check-config opens no database")

	certFile, keyFile, _ := selfSigned(t, dir)
	bad := map[string]struct{ file, want string }{
		"unknown setting":    {"data-dir = " + data + "\nrate-limt = 5\n", `unknown setting "rate-limt"`},
		"public plain HTTP":  {"data-dir = " + data + "\nhttp-addr = 0.0.0.0:8080\n", `--http-addr "0.0.0.0:8080" is not a loopback address`},
		"database scheme":    {"database-url = mysql://u@h/db\n", `--database-url scheme "mysql" is not supported`},
		"missing SQLite dir": {"database-url = " + filepath.Join(dir, "nope", "godwit.db") + "\n", "the directory " + filepath.Join(dir, "nope") + " of the SQLite file does not exist"},
		"mismatched TLS":     {"tls-cert = " + certFile + "\ntls-key = " + certFile + "\n", "--tls-cert/--tls-key cannot be used"},
		"secret key":         {"secret-key = not-a-key\n", "--secret-key: "},
		"relay":              {"delivery = relay\n", "--delivery relay needs --relay-url"},
	}
	for name, c := range bad {
		file := filepath.Join(dir, strings.ReplaceAll(name, " ", "-")+".conf")
		require.NoError(t, os.WriteFile(file, []byte(c.file), 0o644))
		cmd := exec.Command(binary, "check-config", "--config", file)
		var outb, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &outb, &errb
		err := cmd.Run()
		var exit *exec.ExitError
		require.ErrorAs(t, err, &exit, name)
		require.Equal(t, 1, exit.ExitCode(), name)
		require.Empty(t, outb.String(), name)
		msg := strings.TrimSpace(errb.String())
		require.True(t, strings.HasPrefix(msg, "godwit check-config: "), "%s: %q", name, msg)
		require.Contains(t, msg, c.want, name)
		require.NotContains(t, msg, "\n", "%s: one line: %q", name, msg)
	}
	// The good pair passes.
	pair := filepath.Join(dir, "tls.conf")
	require.NoError(t, os.WriteFile(pair, []byte("data-dir = "+data+"\nhttp-addr = :8443\ntls-cert = "+certFile+"\ntls-key = "+keyFile+"\nmx-host = mail.example.com\n"), 0o644))
	out, stderr, err = run(t, "check-config", "--config", pair)
	require.NoError(t, err, stderr)
	require.Contains(t, out, "API            https://:8443")
	require.Contains(t, out, "TLS            certificate "+certFile)
	require.Contains(t, out, "MX host        mail.example.com (domains' MX and SPF records)")
	require.Contains(t, out, "EHLO name      mail.example.com")
	require.NotContains(t, out, "warning")
}

// TestHealthcheck: exit 0 while /readyz answers 200, 1 with one line
// otherwise; the default URL follows --http-addr, an unspecified host
// dialled on loopback.
func TestHealthcheck(t *testing.T) {
	s := start(t, "--data-dir", t.TempDir())
	out, stderr, err := run(t, "healthcheck", "--url", s.url+"/readyz")
	require.NoError(t, err, stderr)
	require.Contains(t, out, "ready")
	_, port, err := net.SplitHostPort(strings.TrimPrefix(s.url, "http://"))
	require.NoError(t, err)
	out, stderr, err = run(t, "healthcheck", "--http-addr", "0.0.0.0:"+port)
	require.NoError(t, err, stderr)
	require.Equal(t, "http://127.0.0.1:"+port+"/readyz: ready\n", out)

	_, stderr, err = run(t, "healthcheck", "--url", s.url+"/nothing-here")
	require.Error(t, err)
	require.Contains(t, stderr, "404")
	require.Equal(t, 1, strings.Count(strings.TrimSpace(stderr), "\n")+1, "one line: %q", stderr)

	s.stop(t)
	_, stderr, err = run(t, "healthcheck", "--url", s.url+"/readyz", "--timeout", "2s")
	require.Error(t, err)
	require.Contains(t, stderr, "connection refused")
}
