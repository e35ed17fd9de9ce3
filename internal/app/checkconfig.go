package app

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"

	"github.com/godwit/godwit/internal/config"
	"github.com/godwit/godwit/internal/secretbox"
)

// cmdCheckConfig validates a configuration without starting anything: it
// reads the config file, the environment and the flags exactly as serve
// does, runs the same checks serve runs before it opens anything, loads a
// --tls-cert/--tls-key pair and parses --secret-key, and prints a summary.
// It never opens the database, creates the data directory or binds a port.
func cmdCheckConfig(_ context.Context, args []string, stdout, _ io.Writer, getenv func(string) string) error {
	cfg := config.Defaults()
	fs := flag.NewFlagSet("godwit check-config", flag.ContinueOnError)
	cfg.Register(fs)
	if err := parseFlags(fs, args, stdout, getenv); err != nil {
		return err
	}
	if fs.NArg() != 0 {
		return usageErrorf(fs.Name(), "unexpected argument %q: settings are flags (--name value) or lines of the --config file", fs.Arg(0))
	}
	if err := cfg.Validate(); err != nil {
		return err
	}
	if cfg.TLSCert != "" {
		if _, err := tls.LoadX509KeyPair(cfg.TLSCert, cfg.TLSKey); err != nil {
			return fmt.Errorf("--tls-cert/--tls-key cannot be used: %v", err)
		}
	}
	if cfg.SecretKey != "" {
		if _, err := secretbox.ParseKey(cfg.SecretKey); err != nil {
			return fmt.Errorf("--secret-key: %w", err)
		}
	}
	fmt.Fprint(stdout, configSummary(cfg))
	return nil
}

// configSummary is check-config's report on a valid configuration.
func configSummary(cfg config.Config) string {
	var b strings.Builder
	b.WriteString("configuration OK\n")
	line := func(name, value string) { fmt.Fprintf(&b, "  %-14s %s\n", name, value) }
	if cfg.ConfigFile != "" {
		line("config file", cfg.ConfigFile)
	}
	scheme := "http"
	if cfg.TLS() {
		scheme = "https"
	}
	line("API", scheme+"://"+cfg.HTTPAddr)
	if cfg.DashboardAddr != "" {
		line("dashboard", scheme+"://"+cfg.DashboardAddr+"/dashboard/")
	}
	switch {
	case cfg.TLSCert != "":
		line("TLS", "certificate "+cfg.TLSCert)
	case len(cfg.ACMEDomains) > 0:
		line("TLS", "ACME (TLS-ALPN-01) for "+strings.Join(cfg.ACMEDomains, ", "))
	case cfg.InsecureHTTP:
		line("TLS", "none: plain HTTP (--insecure-http), a TLS-terminating proxy must be in front")
	default:
		line("TLS", "none: plain HTTP on loopback only")
	}
	if cfg.PublicURL != "" {
		line("public URL", cfg.PublicURL)
	}
	line("database", databaseSummary(cfg))
	line("data dir", cfg.DataDir)
	if cfg.SecretKey != "" {
		line("secret key", "--secret-key")
	} else {
		key := filepath.Join(cfg.DataDir, "secret.key")
		if _, err := os.Stat(key); err == nil {
			line("secret key", key)
		} else {
			line("secret key", key+" (created on first start)")
		}
	}
	line("role", cfg.Role)
	delivery := cfg.Delivery
	if cfg.Delivery == "relay" {
		delivery += " via " + redactedURL(cfg.RelayURL)
	}
	line("delivery", delivery)
	if cfg.AllowAnySender {
		line("any sender", "yes (--allow-any-sender): development only, everything is captured")
	}
	line("MX host", cfg.BounceHost()+" (domains' MX and SPF records)")
	line("EHLO name", cfg.HELOName())
	if err := cfg.CheckNames(); err != nil {
		line("warning", "development only (every listener is on loopback): "+err.Error())
	}
	for _, l := range []struct {
		name  string
		addrs []string
	}{{"MX listener", nonEmpty(cfg.MXAddr)}, {"SMTP", cfg.SMTPAddrs}, {"SMTPS", cfg.SMTPSAddrs}, {"metrics", nonEmpty(cfg.MetricsAddr)}} {
		if len(l.addrs) > 0 {
			line(l.name, strings.Join(l.addrs, ", "))
		}
	}
	return b.String()
}

func nonEmpty(s string) []string {
	if s == "" {
		return nil
	}
	return []string{s}
}

// databaseSummary names the database kind and where it is, without the
// password of a PostgreSQL URL.
func databaseSummary(cfg config.Config) string {
	db := cfg.Database()
	lower := strings.ToLower(db)
	if strings.HasPrefix(lower, "postgres://") || strings.HasPrefix(lower, "postgresql://") {
		return "PostgreSQL " + redactedURL(db)
	}
	return "SQLite " + db
}

// redactedURL is u with its password hidden, or a placeholder when u does
// not parse (it may hold a password).
func redactedURL(u string) string {
	if i := strings.Index(u, "://"); i >= 0 {
		if at := strings.LastIndex(u, "@"); at > i {
			userinfo := u[i+3 : at]
			if user, _, ok := strings.Cut(userinfo, ":"); ok {
				return u[:i+3] + user + ":xxxxx" + u[at:]
			}
		}
	}
	return u
}

// hostForDial is the address to reach a listener on addr from this
// machine: an unspecified host (":8080", "0.0.0.0:8080", "[::]:8080") is
// loopback.
func hostForDial(addr string) (string, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", errors.New("not a host:port address")
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "127.0.0.1"
		if ip != nil && ip.To4() == nil {
			host = "::1"
		}
	}
	return net.JoinHostPort(host, port), nil
}
