package config

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"flag"
	"fmt"
	"io"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func parse(t *testing.T, args []string, env map[string]string) (Config, error) {
	t.Helper()
	c := Defaults()
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	c.Register(fs)
	err := Parse(fs, args, func(k string) string { return env[k] })
	return c, err
}

func TestPrecedence(t *testing.T) {
	file := filepath.Join(t.TempDir(), "godwit.conf")
	require.NoError(t, os.WriteFile(file, []byte("# comment\nrate-limit = 5\nhttp-addr = \"127.0.0.1:9000\"\ntest-domain = file.test\n"), 0o600))

	c, err := parse(t, []string{"--config", file}, nil)
	require.NoError(t, err)
	require.Equal(t, 5, c.RateLimit)
	require.Equal(t, "127.0.0.1:9000", c.HTTPAddr)

	c, err = parse(t, []string{"--config", file}, map[string]string{"GODWIT_RATE_LIMIT": "7"})
	require.NoError(t, err)
	require.Equal(t, 7, c.RateLimit, "the environment beats the file")
	require.Equal(t, "file.test", c.TestDomain)

	c, err = parse(t, []string{"--config", file, "--rate-limit", "9"}, map[string]string{"GODWIT_RATE_LIMIT": "7"})
	require.NoError(t, err)
	require.Equal(t, 9, c.RateLimit, "flags beat the environment")

	c, err = parse(t, nil, map[string]string{"GODWIT_CONFIG": file})
	require.NoError(t, err)
	require.Equal(t, 5, c.RateLimit, "the config file can come from the environment")

	c, err = parse(t, nil, map[string]string{"GODWIT_ACME_DOMAIN": "a.example.com, b.example.com"})
	require.NoError(t, err)
	require.Equal(t, []string{"a.example.com", "b.example.com"}, c.ACMEDomains)
}

func TestParseErrors(t *testing.T) {
	_, err := parse(t, nil, map[string]string{"GODWIT_RATE_LIMIT": "many"})
	require.ErrorContains(t, err, "GODWIT_RATE_LIMIT")

	file := filepath.Join(t.TempDir(), "bad.conf")
	require.NoError(t, os.WriteFile(file, []byte("no-such-setting = 1\n"), 0o600))
	_, err = parse(t, []string{"--config", file}, nil)
	require.ErrorContains(t, err, "unknown setting \"no-such-setting\"")

	require.NoError(t, os.WriteFile(file, []byte("just words\n"), 0o600))
	_, err = parse(t, []string{"--config", file}, nil)
	require.ErrorContains(t, err, "line 1")

	_, err = parse(t, []string{"--config", filepath.Join(t.TempDir(), "missing.conf")}, nil)
	require.ErrorContains(t, err, "config file")
}

func TestValidate(t *testing.T) {
	ok := Defaults()
	require.NoError(t, ok.Validate())
	require.Equal(t, 30*24*time.Hour, ok.LogRetention, "Resend keeps logs 30 days")
	require.True(t, ok.RequestLogs, "every request is recorded unless --request-logs=false")

	cases := map[string]func(*Config){
		"--http-addr":                        func(c *Config) { c.HTTPAddr = "nonsense" },
		"not a loopback":                     func(c *Config) { c.HTTPAddr = "0.0.0.0:8080" },
		"--tls-cert and":                     func(c *Config) { c.TLSCert = "x.pem" },
		"--dashboard-addr \"nonsense\"":      func(c *Config) { c.DashboardAddr = "nonsense" },
		"--dashboard-addr \"0.0.0.0:8081\"":  func(c *Config) { c.DashboardAddr = "0.0.0.0:8081" },
		"--acme-domain":                      func(c *Config) { c.TLSCert, c.TLSKey, c.ACMEDomains = "a", "b", []string{"x.example.com"} },
		"--rate-limit":                       func(c *Config) { c.RateLimit = 0 },
		"--public-url":                       func(c *Config) { c.PublicURL = "ftp://x" },
		"--test-domain":                      func(c *Config) { c.TestDomain = "not a domain" },
		"--log-level":                        func(c *Config) { c.LogLevel = "loud" },
		"--log-format":                       func(c *Config) { c.LogFormat = "xml" },
		"--debug-addr":                       func(c *Config) { c.DebugAddr = "0.0.0.0:6060" },
		"--metrics-addr \"nonsense\"":        func(c *Config) { c.MetricsAddr = "nonsense" },
		"--metrics-addr \"0.0.0.0:9090\"":    func(c *Config) { c.MetricsAddr = "0.0.0.0:9090" },
		"--memory-limit":                     func(c *Config) { c.MemoryLimit = "lots" },
		"--shutdown-timeout":                 func(c *Config) { c.ShutdownTimeout = 0 },
		"--data-dir":                         func(c *Config) { c.DataDir = "" },
		"--workers":                          func(c *Config) { c.Workers = -1 },
		"--role":                             func(c *Config) { c.Role = "both" },
		"--delivery \"smtp\"":                func(c *Config) { c.Delivery = "smtp" },
		"--delivery relay needs --relay-url": func(c *Config) { c.Delivery = "relay" },
		"http://u:xxxxx@relay":               func(c *Config) { c.Delivery, c.RelayURL = "relay", "http://u:secret@relay.example.com" },
		"--mx-port":                          func(c *Config) { c.MXPort = 0 },
		"--max-queue-age":                    func(c *Config) { c.MaxQueueAge = 0 },
		"--max-per-host":                     func(c *Config) { c.MaxPerHost = 0 },
		"--reputation-window":                func(c *Config) { c.ReputationWindow = 90 * time.Minute },
		"--reputation-min-volume":            func(c *Config) { c.ReputationMinVolume = 0 },
		"--reputation-bounce-rate":           func(c *Config) { c.ReputationBounceRate = 5 },
		"--reputation-complaint-rate":        func(c *Config) { c.ReputationComplaintRate = 0 },
		`--destination-limits: destination limits "hotmail:connections=2": unknown destination "hotmail"`: func(c *Config) {
			c.DestinationLimits = "hotmail:connections=2"
		},
		"--import-workers":                 func(c *Config) { c.ImportWorkers = 0 },
		"--import-batch-size":              func(c *Config) { c.ImportBatchSize = 0 },
		"--max-fetch-bytes":                func(c *Config) { c.MaxFetchBytes = 0 },
		"--smtp-addr \"nonsense\"":         func(c *Config) { c.SMTPAddrs = []string{"127.0.0.1:587", "nonsense"} },
		"no certificate for STARTTLS":      func(c *Config) { c.SMTPAddrs = []string{"0.0.0.0:587"} },
		"--smtps-addr needs a certificate": func(c *Config) { c.SMTPSAddrs = []string{"127.0.0.1:465"} },
		"not by --role worker": func(c *Config) {
			c.Role, c.DatabaseURL, c.SMTPAddrs = "worker", "postgres://db.example.com/godwit", []string{"127.0.0.1:587"}
		},
		"--smtp-max-conns":       func(c *Config) { c.SMTPAddrs, c.SMTPMaxConnsPerIP = []string{"127.0.0.1:587"}, 0 },
		"--auth-failures-per-ip": func(c *Config) { c.AuthFailuresPerIP = -1 },
		"--log-retention":        func(c *Config) { c.LogRetention = time.Minute },
		"--connection-limiter \"shared\" must be auto, memory, database or redis": func(c *Config) { c.ConnectionLimiter = "shared" },
		"--connection-limiter redis needs --redis-url":                            func(c *Config) { c.ConnectionLimiter = "redis" },
		"--connection-limiter database needs a postgres:// --database-url":        func(c *Config) { c.ConnectionLimiter = "database" },
		"--rate-limiter database needs a postgres:// --database-url":              func(c *Config) { c.RateLimiter = "database" },
	}
	for want, mutate := range cases {
		c := Defaults()
		mutate(&c)
		err := c.Validate()
		require.Error(t, err, want)
		require.Contains(t, err.Error(), want)
	}

	c := Defaults()
	c.DestinationLimits = "gmail:connections=10/rate=20,other:connections=5"
	require.NoError(t, c.Validate(), "--destination-limits")
	d, err := c.Destinations()
	require.NoError(t, err)
	require.Equal(t, 10, d.For("gmail", c.MaxPerHost).Connections)
	c = Defaults()
	c.Role, c.DatabaseURL = "worker", "postgres://db.example.com/godwit"
	require.NoError(t, c.Validate(), "split roles on PostgreSQL")
	c = Defaults()
	c.SMTPAddrs = []string{"127.0.0.1:587", "[::1]:2587"}
	require.NoError(t, c.Validate(), "SMTP submission without TLS on loopback")
	c.SMTPAddrs, c.SMTPInsecureAuth, c.MXHost = []string{"0.0.0.0:587"}, true, "mail.example.com"
	require.NoError(t, c.Validate(), "--smtp-allow-insecure-auth allows a public listener without TLS")
	c = Defaults()
	c.HTTPAddr, c.InsecureHTTP, c.MXHost = "0.0.0.0:8080", true, "mail.example.com"
	require.NoError(t, c.Validate(), "--insecure-http allows a public plain-HTTP listener")
	c = Defaults()
	require.Equal(t, "memory", c.ConnLimiter(), "auto on SQLite")
	c.DatabaseURL = "postgres://db.example.com/godwit"
	require.Equal(t, "database", c.ConnLimiter(), "auto on PostgreSQL")
	c.RedisURL = "redis://127.0.0.1:6379/0"
	require.Equal(t, "redis", c.ConnLimiter(), "auto with --redis-url")
	c.ConnectionLimiter = "database"
	require.Equal(t, "database", c.ConnLimiter())
	require.Equal(t, "redis", c.Limiter(), "the rate limiter is chosen apart")
	require.NoError(t, c.Validate())
	c = Defaults()
	c.HTTPAddr = "[::1]:8080"
	require.NoError(t, c.Validate())
	c.HTTPAddr = "localhost:8080"
	require.NoError(t, c.Validate())
}

// TestNames: a server that the world reaches must be told fully qualified
// names, because every domain publishes the bounce host in its MX and SPF
// records and receiving servers judge the EHLO name; a loopback-only
// development start may do without (serve warns).
func TestNames(t *testing.T) {
	for name, want := range map[string]bool{
		"mail.example.com": true, "MX1.Example.COM.": true, "a-b.example.co.uk": true, "xn--bcher-kva.example": true,
		"vm": false, "localhost": false, "": false, "127.0.0.1": false, "10.0.0.1": false, "::1": false,
		"mail.local": false, "box.localhost": false, "db.internal": false, "nas.lan": false, "pi.home.arpa": false,
		"-bad.example.com": false, "bad-.example.com": false, "a..example.com": false, "a_b.example.com": false,
		"mail.example.com:25": false, strings.Repeat("a", 64) + ".example.com": false,
	} {
		require.Equal(t, want, IsFQDN(name), "%q", name)
	}

	public := func() Config {
		c := Defaults()
		c.HTTPAddr, c.InsecureHTTP = "0.0.0.0:8080", true
		return c
	}
	host, _ := os.Hostname()
	for want, mutate := range map[string]func(*Config){
		`--mx-host "box.lan" is not a fully qualified domain name`:   func(c *Config) { c.MXHost = "box.lan" },
		`the --public-url host "127.0.0.1" is not a fully qualified`: func(c *Config) { c.PublicURL = "http://127.0.0.1:8080" },
		`--hostname "vm" is not a fully qualified`:                   func(c *Config) { c.MXHost, c.Hostname = "mail.example.com", "vm" },
	} {
		c := public()
		mutate(&c)
		err := c.Validate()
		require.ErrorContains(t, err, want)
		require.NotContains(t, err.Error(), "\n")
		// The same configuration on loopback starts; serve warns with
		// the sentence CheckNames returns.
		c.HTTPAddr = "127.0.0.1:8080"
		require.NoError(t, c.Validate(), want)
		require.ErrorContains(t, c.CheckNames(), want)
	}
	if !IsFQDN(host) {
		c := public()
		require.ErrorContains(t, c.Validate(), fmt.Sprintf("this machine's name %q is not a fully qualified", host))
	}
	// Every listener counts: one public one makes the start public.
	for _, mutate := range []func(*Config){
		func(c *Config) { c.DashboardAddr, c.InsecureHTTP = ":8081", true },
		func(c *Config) { c.MetricsAddr, c.InsecureHTTP = "[::]:9090", true },
		func(c *Config) { c.MXAddr = ":25" },
		func(c *Config) { c.SMTPAddrs, c.SMTPInsecureAuth = []string{"127.0.0.1:587", "192.0.2.1:587"}, true },
	} {
		c := Defaults()
		c.MXHost = "vm"
		mutate(&c)
		require.False(t, c.LoopbackOnly())
		require.ErrorContains(t, c.Validate(), `--mx-host "vm" is not a host name`)
		c.MXHost = "mail.lan"
		require.ErrorContains(t, c.Validate(), `--mx-host "mail.lan" is not a fully qualified domain name`)
		c.MXHost = "mail.example.com"
		require.NoError(t, c.Validate())
	}

	// The EHLO name follows --hostname, --mx-host, then a fully qualified
	// --public-url host; an api node delivers nothing and is not asked for one.
	c := public()
	c.PublicURL = "https://mail.example.com"
	require.NoError(t, c.Validate(), "the public URL's host is the bounce host and, lacking better, the EHLO name")
	if !IsFQDN(host) {
		require.Equal(t, "mail.example.com", c.HELOName())
	}
	c.Hostname = "vm"
	require.ErrorContains(t, c.Validate(), `--hostname "vm"`)
	c.Delivery, c.RelayURL = "relay", "smtp://relay.example.com:587"
	require.NoError(t, c.Validate(), "a relay is not judged by its client's EHLO name")
	c.Delivery, c.Role, c.DatabaseURL = "mx", "api", "postgres://db.example.com/godwit"
	require.NoError(t, c.Validate(), "an api node sends nothing")
}

// TestAllowAnySender: development only, so capture only and loopback only.
func TestAllowAnySender(t *testing.T) {
	c := Defaults()
	c.AllowAnySender = true
	require.ErrorContains(t, c.Validate(), "--allow-any-sender needs --delivery capture")
	c.Delivery = "capture"
	require.NoError(t, c.Validate())
	c.HTTPAddr, c.InsecureHTTP, c.MXHost = "0.0.0.0:8080", true, "mail.example.com"
	require.ErrorContains(t, c.Validate(), "--allow-any-sender is for development: every listener")
	c.HTTPAddr, c.SMTPAddrs = "127.0.0.1:8080", []string{"[::1]:2587"}
	require.NoError(t, c.Validate())
}

func TestMemoryLimit(t *testing.T) {
	for in, want := range map[string]int64{"0": 0, "128MiB": 128 << 20, "2GiB": 2 << 30, "512KiB": 512 << 10, "1000": 1000} {
		c := Config{MemoryLimit: in}
		got, err := c.MemoryLimitBytes()
		require.NoError(t, err, in)
		require.Equal(t, want, got, in)
	}
	for _, in := range []string{"", "-1MiB", "1TB", "MiB"} {
		c := Config{MemoryLimit: in}
		_, err := c.MemoryLimitBytes()
		require.Error(t, err, in)
	}
}

func TestDatabase(t *testing.T) {
	c := Defaults()
	c.DataDir = "/var/lib/godwit"
	require.Equal(t, "/var/lib/godwit/godwit.db", c.Database())
	c.DatabaseURL = "postgres://x@y/z"
	require.Equal(t, "postgres://x@y/z", c.Database())
}

func TestDomainRecords(t *testing.T) {
	c := Defaults()
	c.MXHost = "mx.godwit.example"
	require.Equal(t, "v=spf1 a:mx.godwit.example ~all", c.SPFRecord())
	c.SendingIPs = []string{"192.0.2.10", "2001:db8::10"}
	c.SPFInclude = []string{"_spf.relay.example"}
	require.Equal(t, "v=spf1 ip4:192.0.2.10 ip6:2001:db8::10 include:_spf.relay.example ~all", c.SPFRecord())
	require.NoError(t, c.Validate())

	c = Defaults()
	c.PublicURL = "https://mail.example.org:8443/api"
	require.Equal(t, "mail.example.org", c.BounceHost())

	for flag, mutate := range map[string]func(*Config){
		"--sending-ips":          func(c *Config) { c.SendingIPs = []string{"not-an-ip"} },
		"--dkim-selector":        func(c *Config) { c.DKIMSelector = "a.b" },
		"--dns-resolver":         func(c *Config) { c.DNSResolver = "8.8.8.8" },
		"--mx-host":              func(c *Config) { c.MXHost = "nodots" },
		"--mta-sts":              func(c *Config) { c.MTASTS = "yes" },
		"--dane":                 func(c *Config) { c.DANE = "" },
		"--outbound-tls-ca-file": func(c *Config) { c.OutboundTLSCAFile = filepath.Join(t.TempDir(), "missing.pem") },
	} {
		c := Defaults()
		mutate(&c)
		err := c.Validate()
		require.Error(t, err, flag)
		require.Contains(t, err.Error(), flag)
	}
}

func TestFileTwins(t *testing.T) {
	secret := filepath.Join(t.TempDir(), "secret")
	require.NoError(t, os.WriteFile(secret, []byte("  0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\n"), 0o600))
	c, err := parse(t, nil, map[string]string{"GODWIT_SECRET_KEY_FILE": secret})
	require.NoError(t, err)
	require.Equal(t, "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", c.SecretKey, "trimmed file contents")

	c, err = parse(t, nil, map[string]string{"GODWIT_SECRET_KEY_FILE": secret, "GODWIT_SECRET_KEY": "direct"})
	require.NoError(t, err)
	require.Equal(t, "direct", c.SecretKey, "the variable itself wins over its file")

	_, err = parse(t, nil, map[string]string{"GODWIT_SECRET_KEY_FILE": secret + ".missing"})
	require.ErrorContains(t, err, "GODWIT_SECRET_KEY_FILE")
	require.NotContains(t, err.Error(), "0123456789abcdef")
}

func TestCheckDatabase(t *testing.T) {
	dir := t.TempDir()
	for u, bad := range map[string]string{
		"":                                       "",
		"postgres://u@h:5432/db":                 "",
		"postgresql://u:secret@h/db":             "",
		"postgres://u:secret@h:port/db":          "not a valid PostgreSQL URL",
		dir + "/godwit.db":                       "",
		"sqlite://" + dir + "/godwit.db":         "",
		"file:" + dir + "/godwit.db?mode=rwc":    "",
		"./x:y.db":                               "", // a name with a colon, made plain by ./
		"mysql://u@h/db":                         `scheme "mysql" is not supported`,
		"mysql:u@h":                              `scheme "mysql" is not supported`,
		"postgres//u@h/db":                       "missing its colon",
		dir + "/missing/godwit.db":               "does not exist",
		"sqlite://" + dir + "/missing/godwit.db": "does not exist",
	} {
		c := Defaults()
		c.DatabaseURL = u
		err := c.CheckDatabase()
		if bad == "" {
			require.NoError(t, err, u)
			continue
		}
		require.ErrorContains(t, err, bad, u)
		require.NotContains(t, err.Error(), "secret", "no password in the message")
	}
}

func TestOutboundRootCAs(t *testing.T) {
	c := Defaults()
	require.Equal(t, "on", c.MTASTS)
	require.Equal(t, "on", c.DANE)
	pool, err := c.OutboundRootCAs()
	require.NoError(t, err)
	require.Nil(t, pool, "no file: the system's roots")

	dir := t.TempDir()
	c.OutboundTLSCAFile = filepath.Join(dir, "junk.pem")
	require.NoError(t, os.WriteFile(c.OutboundTLSCAFile, []byte("not a certificate"), 0o600))
	err = c.Validate()
	require.ErrorContains(t, err, "--outbound-tls-ca-file")
	require.ErrorContains(t, err, "no PEM certificate")

	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "private CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	c.OutboundTLSCAFile = filepath.Join(dir, "ca.pem")
	require.NoError(t, os.WriteFile(c.OutboundTLSCAFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600))
	require.NoError(t, c.Validate())
	pool, err = c.OutboundRootCAs()
	require.NoError(t, err)
	ca, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	_, err = ca.Verify(x509.VerifyOptions{Roots: pool})
	require.NoError(t, err, "the file's CA is trusted")
}
