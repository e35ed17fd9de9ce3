// Package config loads Godwit's configuration: defaults, then an optional
// config file, then GODWIT_* environment variables (or GODWIT_*_FILE naming a
// file that holds the value), then command-line flags, each overriding the
// one before. Validate stops start-up with one sentence
// naming the bad setting.
package config

import (
	"bufio"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/godwit/godwit/internal/destination"
	"github.com/godwit/godwit/internal/ippool"
	"github.com/godwit/godwit/internal/warmup"
)

// Config is every setting of the godwit binary.
type Config struct {
	ConfigFile      string
	DataDir         string
	DatabaseURL     string
	HTTPAddr        string
	DashboardAddr   string // the dashboard's own listener; off when empty (it is on HTTPAddr too)
	TLSCert         string
	TLSKey          string
	ACMEDomains     []string
	InsecureHTTP    bool
	RateLimit       int
	PublicURL       string
	TestDomain      string
	LogLevel        string
	LogFormat       string
	ShutdownTimeout time.Duration
	DebugAddr       string
	MetricsAddr     string // Prometheus metrics (/metrics); off when empty
	MemoryLimit     string

	SecretKey    string
	MXHost       string
	SPFInclude   []string
	SendingIPs   []string
	DKIMSelector string
	DKIMEd25519  bool
	DNSResolver  string
	DMARCReport  string

	Workers         int
	Role            string
	Delivery        string
	RelayURL        string
	Hostname        string
	MXPort          int
	MaxQueueAge     time.Duration
	DeliveryTimeout time.Duration
	MaxPerHost      int

	// ReputationGuard pauses a sending domain whose bounce or complaint
	// rate over ReputationWindow crosses its threshold (internal/reputation).
	ReputationGuard         bool
	ReputationWindow        time.Duration
	ReputationMinVolume     int64
	ReputationBounceRate    float64
	ReputationComplaintRate float64

	// DestinationLimits overrides the limits per destination (an MX
	// provider, or "other"): internal/destination's Parse syntax.
	DestinationLimits string
	// IPPools (--ip-pool NAME=IP,…, repeatable), BindSendingIPs, Warmup
	// (internal/warmup's schedule syntax) and WarmupIPs (IP=YYYY-MM-DD):
	// the source addresses of delivery (SendingPools, WarmupConfig).
	IPPools              []string
	BindSendingIPs       bool
	Warmup               string
	WarmupIPs            []string
	AllowPrivateNetworks bool
	MaxFetchBytes        int64
	MXAddr               string
	// MaxInboundBytes bounds a message received at --mx-addr, and
	// InboundRetention is how long received mail is kept.
	MaxInboundBytes  int64
	InboundRetention time.Duration
	MXMaxConns       int
	MXMaxConnsPerIP  int
	// ImportWorkers is the contact imports run at once on a node, and
	// ImportBatchSize the CSV rows each writes per transaction.
	ImportWorkers   int
	ImportBatchSize int

	SMTPAddrs         []string
	SMTPSAddrs        []string
	SMTPInsecureAuth  bool
	SMTPMaxConns      int
	SMTPMaxConnsPerIP int

	// AuthFailuresPerIP is how many unknown or wrong API keys one client
	// address may send before it is throttled (one more per second after
	// that); 0 turns the throttle off.
	AuthFailuresPerIP int

	// LogRetention is how long the Logs API keeps a request's record.
	LogRetention time.Duration
	// RequestLogs turns the recording of API requests for the Logs API on
	// (the default) or off.
	RequestLogs bool

	// RedisURL is the Redis the rate limits are counted in, shared by
	// every node that names it; RateLimitFailOpen says what a request does
	// while it cannot be counted there.
	RedisURL          string
	RateLimitFailOpen bool
	// RateLimiter is where the rate limits are counted: auto (Redis with
	// --redis-url, else the database on PostgreSQL, else memory), memory,
	// database or redis.
	RateLimiter string
	// ConnectionLimiter is where the connections open to each receiving
	// host are counted against --max-per-host: auto (Redis with
	// --redis-url, else the database on PostgreSQL, else memory), memory
	// (this process only), database or redis. With a shared one,
	// --max-per-host is the total across every worker node.
	ConnectionLimiter string

	// MTASTS turns outbound MTA-STS (RFC 8461) on (the default) or off.
	MTASTS string
	// DANE turns outbound DANE for SMTP (RFC 7672) on (the default) or
	// off. It only ever applies to DNSSEC-authenticated answers of
	// --dns-resolver (the AD bit).
	DANE string
	// OutboundTLSCAFile names a PEM file of CA certificates trusted, on top
	// of the system's, to verify MX hosts and MTA-STS policy hosts.
	OutboundTLSCAFile string
	// TLSReports turns TLS reporting (RFC 8460) on (the default) or off;
	// TLSReportsOrg and TLSReportsContact are the report's
	// organization-name and contact-info (default: --hostname and
	// postmaster@ it).
	TLSReports        string
	TLSReportsOrg     string
	TLSReportsContact string
	// MTASTSPort is the HTTPS port MTA-STS policies are fetched from (0:
	// 443). Not a flag: tests set it through GODWIT_TEST_MTA_STS_PORT.
	MTASTSPort int

	// AllowAnySender lets a development server (--delivery capture, every
	// listener on loopback) accept emails from domains nobody verified.
	AllowAnySender bool
}

// Defaults returns the built-in configuration.
func Defaults() Config {
	return Config{
		DataDir:         "./godwit-data",
		HTTPAddr:        "127.0.0.1:8080",
		RateLimit:       2,
		TestDomain:      "resend.dev",
		LogLevel:        "info",
		LogFormat:       "json",
		ShutdownTimeout: 30 * time.Second,
		MemoryLimit:     "96MiB",
		DKIMSelector:    "resend",
		Workers:         100,
		Role:            "all",
		Delivery:        "mx",
		MXPort:          25,
		MaxQueueAge:     72 * time.Hour,
		DeliveryTimeout: 10 * time.Minute,
		MaxPerHost:      20,
		MaxFetchBytes:   40 << 20,

		ReputationGuard:         true,
		ReputationWindow:        24 * time.Hour,
		ReputationMinVolume:     100,
		ReputationBounceRate:    0.05,
		ReputationComplaintRate: 0.003,

		MaxInboundBytes:  40 << 20,
		InboundRetention: 30 * 24 * time.Hour,
		MXMaxConns:       1000,
		MXMaxConnsPerIP:  20,
		ImportWorkers:    2,
		ImportBatchSize:  500,

		SMTPMaxConns:      1000,
		SMTPMaxConnsPerIP: 20,
		AuthFailuresPerIP: 20,
		LogRetention:      30 * 24 * time.Hour,
		RequestLogs:       true,
		RateLimitFailOpen: true,
		RateLimiter:       "auto",
		ConnectionLimiter: "auto",
		MTASTS:            "on",
		DANE:              "on",
		TLSReports:        "on",
	}
}

// appendList is a repeatable flag: each value given is one more entry.
type appendList struct{ p *[]string }

func (s appendList) String() string {
	if s.p == nil {
		return ""
	}
	return strings.Join(*s.p, ";")
}

func (s appendList) Set(v string) error {
	if v = strings.TrimSpace(v); v != "" {
		*s.p = append(*s.p, v)
	}
	return nil
}

// stringList is a comma-separated flag value.
type stringList struct{ p *[]string }

func (s stringList) String() string {
	if s.p == nil {
		return ""
	}
	return strings.Join(*s.p, ",")
}

func (s stringList) Set(v string) error {
	*s.p = nil
	for _, part := range strings.Split(v, ",") {
		if part = strings.TrimSpace(part); part != "" {
			*s.p = append(*s.p, part)
		}
	}
	return nil
}

// Register adds every setting to fs as a flag, with c's values as defaults.
func (c *Config) Register(fs *flag.FlagSet) {
	fs.StringVar(&c.ConfigFile, "config", c.ConfigFile, "optional config file of `name = value` lines (flag names)")
	fs.StringVar(&c.DataDir, "data-dir", c.DataDir, "directory for the SQLite database and generated files")
	fs.StringVar(&c.DatabaseURL, "database-url", c.DatabaseURL, "database: a SQLite file path (default <data-dir>/godwit.db) or a postgres:// URL")
	fs.StringVar(&c.HTTPAddr, "http-addr", c.HTTPAddr, "address the API listens on")
	fs.StringVar(&c.DashboardAddr, "dashboard-addr", c.DashboardAddr, "also serve the dashboard (/dashboard/) on a listener of its own at this address; off when empty")
	fs.StringVar(&c.TLSCert, "tls-cert", c.TLSCert, "TLS certificate file (PEM)")
	fs.StringVar(&c.TLSKey, "tls-key", c.TLSKey, "TLS private key file (PEM)")
	fs.Var(stringList{&c.ACMEDomains}, "acme-domain", "domain(s), comma-separated, to obtain certificates for automatically (ACME TLS-ALPN-01)")
	fs.BoolVar(&c.InsecureHTTP, "insecure-http", c.InsecureHTTP, "serve plain HTTP on a non-loopback address (a TLS-terminating proxy is in front)")
	fs.IntVar(&c.RateLimit, "rate-limit", c.RateLimit, "default requests per second per team")
	fs.StringVar(&c.RedisURL, "redis-url", c.RedisURL, "redis://[user:pass@]host:port/db (or rediss:// for TLS): count the per-team rate limits and the connections open to each receiving host there, shared by every node that names it; default: the database on PostgreSQL, else this process's memory")
	fs.StringVar(&c.RateLimiter, "rate-limiter", c.RateLimiter, "where the per-team rate limits are counted: auto (Redis with --redis-url, else the database on PostgreSQL, shared by the nodes, else memory), memory (this process only), database or redis")
	fs.StringVar(&c.ConnectionLimiter, "connection-limiter", c.ConnectionLimiter, "where the connections open to each receiving host are counted against --max-per-host: auto (Redis with --redis-url, else the database on PostgreSQL, shared by the worker nodes, else memory), memory (this process only), database or redis")
	fs.BoolVar(&c.RateLimitFailOpen, "rate-limit-fail-open", c.RateLimitFailOpen, "while the shared rate limiter (Redis or the database) cannot count a request, allow it (true) or refuse it with 429 (false)")
	fs.StringVar(&c.PublicURL, "public-url", c.PublicURL, "URL at which clients reach this server (for links it generates)")
	fs.StringVar(&c.TestDomain, "test-domain", c.TestDomain, "domain of the test sender and test recipients")
	fs.StringVar(&c.LogLevel, "log-level", c.LogLevel, "debug, info, warn or error")
	fs.StringVar(&c.LogFormat, "log-format", c.LogFormat, "json or text")
	fs.StringVar(&c.DebugAddr, "debug-addr", c.DebugAddr, "loopback address for Go's profiling endpoints (/debug/pprof, block and mutex profiles included); off when empty")
	fs.StringVar(&c.MetricsAddr, "metrics-addr", c.MetricsAddr, "address of the Prometheus metrics endpoint (/metrics): loopback, or any address with --tls-cert/--acme-domain (served over TLS) or --insecure-http; off when empty")
	fs.StringVar(&c.MemoryLimit, "memory-limit", c.MemoryLimit, "soft limit on the Go heap (e.g. 128MiB, 1GiB; 0 for none): the GC works harder near it; GOMEMLIMIT, when set, wins")
	fs.StringVar(&c.SecretKey, "secret-key", c.SecretKey, "32-byte key (hex or base64) that encrypts DKIM private keys at rest; default: a key generated in <data-dir>/secret.key (give every node the same one)")
	fs.StringVar(&c.MXHost, "mx-host", c.MXHost, "fully qualified name of the host that receives bounces for domains' return-path subdomains, published in every domain's MX and SPF records (default: the --public-url host, else this machine's name); required unless every listener is on loopback")
	fs.Var(stringList{&c.SPFInclude}, "spf-include", "domains to include in the SPF record, comma-separated")
	fs.Var(stringList{&c.SendingIPs}, "sending-ips", "IP addresses this server sends from, for the SPF record, comma-separated")
	fs.StringVar(&c.DKIMSelector, "dkim-selector", c.DKIMSelector, "DKIM selector of new domains")
	fs.BoolVar(&c.DKIMEd25519, "dkim-ed25519", c.DKIMEd25519, "also give new domains an Ed25519 DKIM key (dual signing)")
	fs.StringVar(&c.DNSResolver, "dns-resolver", c.DNSResolver, "host:port of the DNS resolver for verification (default: the system's)")
	fs.StringVar(&c.DMARCReport, "dmarc-report", c.DMARCReport, "address suggested for DMARC aggregate reports (rua) in the DMARC record")
	fs.IntVar(&c.Workers, "workers", c.Workers, "deliveries run at once on this node")
	fs.StringVar(&c.Role, "role", c.Role, "what this node does: all (API and delivery), api (accepts only) or worker (delivers only)")
	fs.StringVar(&c.Delivery, "delivery", c.Delivery, "how mail leaves: mx (to each recipient domain's MX hosts), relay (through --relay-url) or capture (stored, never sent)")
	fs.BoolVar(&c.AllowAnySender, "allow-any-sender", c.AllowAnySender, "development only: accept emails from any domain, verified or not, and capture them (signed with the domain's DKIM key when the team has added the domain); needs --delivery capture and every listener on loopback")
	fs.StringVar(&c.RelayURL, "relay-url", c.RelayURL, "smarthost for --delivery relay: smtp://user:pass@host:port (STARTTLS) or smtps://… (implicit TLS)")
	fs.StringVar(&c.Hostname, "hostname", c.Hostname, "name this server gives in EHLO, a fully qualified name its PTR record matches (default: the --mx-host, else this machine's name when fully qualified, else the --public-url host); required unless every listener is on loopback")
	fs.IntVar(&c.MXPort, "mx-port", c.MXPort, "port of remote MX hosts")
	fs.StringVar(&c.MTASTS, "mta-sts", c.MTASTS, "on or off: apply recipient domains' MTA-STS policies (RFC 8461) to MX delivery")
	fs.StringVar(&c.DANE, "dane", c.DANE, "on or off: apply recipient MX hosts' DNSSEC-authenticated TLSA records (DANE, RFC 7672) to MX delivery; needs a validating --dns-resolver (answers without the AD bit are ignored)")
	fs.StringVar(&c.TLSReports, "tls-reports", c.TLSReports, "on or off: count outbound TLS sessions per recipient domain and send yesterday's aggregate report (RFC 8460) to each domain that asks for one in its _smtp._tls TXT record, once a day (--delivery mx)")
	fs.StringVar(&c.TLSReportsOrg, "tls-reports-org", c.TLSReportsOrg, "organization-name of the TLS reports sent (default: --hostname)")
	fs.StringVar(&c.TLSReportsContact, "tls-reports-contact", c.TLSReportsContact, "contact-info of the TLS reports sent (default: postmaster@ the --hostname)")
	fs.StringVar(&c.OutboundTLSCAFile, "outbound-tls-ca-file", c.OutboundTLSCAFile, "PEM file of CA certificates to trust, besides the system's, when verifying MX hosts (MTA-STS enforce, require-tls) and MTA-STS policy hosts (a private relay or CA)")
	fs.DurationVar(&c.MaxQueueAge, "max-queue-age", c.MaxQueueAge, "how long a temporarily failing email is retried before it bounces")
	fs.BoolVar(&c.ReputationGuard, "reputation-guard", c.ReputationGuard, "pause a sending domain whose bounce or complaint rate over --reputation-window crosses its threshold (its emails are held, not dropped, until an admin runs godwit domains resume); see docs/delivery.md")
	fs.DurationVar(&c.ReputationWindow, "reputation-window", c.ReputationWindow, "the sliding window of the reputation guard's rates (whole hours)")
	fs.Int64Var(&c.ReputationMinVolume, "reputation-min-volume", c.ReputationMinVolume, "fewest delivered and permanently bounced emails in the window before the reputation guard judges a domain")
	fs.Float64Var(&c.ReputationBounceRate, "reputation-bounce-rate", c.ReputationBounceRate, "permanent bounces / (delivered + permanent bounces) at which a domain is paused, as a fraction (0.05 is 5%)")
	fs.Float64Var(&c.ReputationComplaintRate, "reputation-complaint-rate", c.ReputationComplaintRate, "complaints / delivered at which a domain is paused, as a fraction (0.003 is 0.3%, the Gmail and Yahoo bulk-sender limit)")
	fs.DurationVar(&c.DeliveryTimeout, "delivery-timeout", c.DeliveryTimeout, "longest one delivery attempt may take; a node's unfinished attempts are retried this long (plus a minute) after it dies")
	fs.IntVar(&c.MaxPerHost, "max-per-host", c.MaxPerHost, "connections open at once to one receiving host (an MX host, or the relay), idle ones kept for reuse included; with a shared --connection-limiter, the total across every worker node")
	fs.StringVar(&c.DestinationLimits, "destination-limits", c.DestinationLimits, "limits per destination (the MX hosts of one provider, e.g. gmail, share one budget; other hosts have one each), comma-separated NAME:KEY=VALUE[/KEY=VALUE], KEY connections, messages (per connection) or rate (per second), e.g. gmail:connections=10/rate=20,other:connections=5; see docs/delivery.md")
	fs.Var(appendList{&c.IPPools}, "ip-pool", "a named pool of sending IPs, NAME=IP[,IP…], each one of --sending-ips; repeatable (or ;-separated); the pool default is every sending IP unless given; teams and domains are assigned pools with godwit ip-pools assign; implies --bind-sending-ips")
	fs.BoolVar(&c.BindSendingIPs, "bind-sending-ips", c.BindSendingIPs, "bind outbound SMTP connections (--delivery mx) to the --sending-ips, in turns (IPv4 to IPv4 MX hosts, IPv6 to IPv6); each IP needs a PTR record naming --hostname")
	fs.StringVar(&c.Warmup, "warmup", c.Warmup, "warm-up schedule of the --warmup-ips: comma-separated NAME:KEY=VALUE[/KEY=VALUE], NAME default, a provider (gmail, microsoft, yahoo, …) or other, KEY start (messages on day 1), double (days to double) or ceiling (the daily cap that ends the warm-up); default default:start=50/double=3/ceiling=100000; see docs/delivery.md")
	fs.Var(stringList{&c.WarmupIPs}, "warmup-ips", "sending IPs that warm up, comma-separated IP=YYYY-MM-DD (the UTC day their warm-up began): each sends at most its daily cap per provider, the rest held until the next day; implies --bind-sending-ips")
	fs.IntVar(&c.ImportWorkers, "import-workers", c.ImportWorkers, "contact imports run at once on this node")
	fs.IntVar(&c.ImportBatchSize, "import-batch-size", c.ImportBatchSize, "CSV rows a contact import writes per transaction")
	fs.BoolVar(&c.AllowPrivateNetworks, "allow-private-networks", c.AllowPrivateNetworks, "let the server connect to loopback, private and link-local addresses (attachment URLs, webhooks, MX delivery)")
	fs.Int64Var(&c.MaxFetchBytes, "max-fetch-bytes", c.MaxFetchBytes, "largest attachment fetched by URL, in bytes")
	fs.StringVar(&c.MXAddr, "mx-addr", c.MXAddr, "address of the SMTP listener that receives bounces and complaints for the return-path addresses (e.g. :25); off when empty")
	fs.Int64Var(&c.MaxInboundBytes, "max-inbound-bytes", c.MaxInboundBytes, "largest message the MX (--mx-addr) receives for a receiving domain, in bytes (refused at DATA beyond it)")
	fs.IntVar(&c.MXMaxConns, "mx-max-conns", c.MXMaxConns, "open connections to the MX (--mx-addr) at once, in all; a sender past it is answered 421 and retries")
	fs.IntVar(&c.MXMaxConnsPerIP, "mx-max-conns-per-ip", c.MXMaxConnsPerIP, "open connections to the MX (--mx-addr) at once from one IP address")
	fs.DurationVar(&c.InboundRetention, "inbound-retention", c.InboundRetention, "how long received mail (GET /emails/receiving) is kept (720h is 30 days); older messages and their attachments are deleted in the background")
	fs.Var(stringList{&c.SMTPAddrs}, "smtp-addr", "addresses, comma-separated, of SMTP submission listeners with STARTTLS (e.g. :587,:2587); apps send with AUTH username resend and an API key; off when empty")
	fs.Var(stringList{&c.SMTPSAddrs}, "smtps-addr", "addresses, comma-separated, of SMTP submission listeners with implicit TLS (e.g. :465,:2465); need --tls-cert or --acme-domain; off when empty")
	fs.BoolVar(&c.SMTPInsecureAuth, "smtp-allow-insecure-auth", c.SMTPInsecureAuth, "allow AUTH without TLS on a non-loopback --smtp-addr (a TLS-terminating proxy is in front, or a trusted network)")
	fs.IntVar(&c.SMTPMaxConns, "smtp-max-conns", c.SMTPMaxConns, "open SMTP submission connections at once, in all")
	fs.IntVar(&c.SMTPMaxConnsPerIP, "smtp-max-conns-per-ip", c.SMTPMaxConnsPerIP, "open SMTP submission connections at once from one IP address")
	fs.IntVar(&c.AuthFailuresPerIP, "auth-failures-per-ip", c.AuthFailuresPerIP, "unknown or wrong API keys one client address may send before its requests are throttled (one more per second after that); 0 turns the throttle off (behind a proxy every client has the proxy's address)")
	fs.DurationVar(&c.LogRetention, "log-retention", c.LogRetention, "how long the records of API requests (GET /logs) are kept (720h is 30 days); older ones are deleted in the background")
	fs.BoolVar(&c.RequestLogs, "request-logs", c.RequestLogs, "record every authenticated API request with its masked JSON bodies for GET /logs; false records none (what was recorded is still listed until its retention ends)")
	fs.DurationVar(&c.ShutdownTimeout, "shutdown-timeout", c.ShutdownTimeout, "how long SIGTERM waits for requests in flight")
}

// RegisterOnly adds to fs only the named settings (and --config, which
// every command reads), for a command that needs a few of them: its -h
// lists those, and a config file written for serve still loads (the
// settings fs lacks are skipped).
func (c *Config) RegisterOnly(fs *flag.FlagSet, names ...string) {
	all := flag.NewFlagSet("all", flag.ContinueOnError)
	c.Register(all)
	for _, n := range append([]string{"config"}, names...) {
		if fs.Lookup(n) != nil {
			continue
		}
		f := all.Lookup(n)
		if f == nil {
			panic("config: no setting " + n)
		}
		fs.Var(f.Value, f.Name, f.Usage)
	}
}

// isSetting reports whether name is one of the server's settings.
func isSetting(name string) bool {
	all := flag.NewFlagSet("all", flag.ContinueOnError)
	c := Defaults()
	c.Register(all)
	return all.Lookup(name) != nil
}

// EnvName is the environment twin of a flag: --data-dir is GODWIT_DATA_DIR.
func EnvName(flagName string) string {
	return "GODWIT_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// Parse parses args into fs, then fills every flag not given on the command
// line from the environment and then from the config file.
func Parse(fs *flag.FlagSet, args []string, getenv func(string) string) error {
	if err := fs.Parse(args); err != nil {
		return err
	}
	return Fill(fs, getenv)
}

// Fill fills every flag of the parsed fs not given on the command line from
// the environment and then from the config file. A setting of the file
// that fs does not have is an error, unless it is one of the server's (a
// command with fewer flags reads serve's file).
func Fill(fs *flag.FlagSet, getenv func(string) string) error {
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })

	var apply []error
	fs.VisitAll(func(f *flag.Flag) {
		if set[f.Name] {
			return
		}
		if v, ok := lookupEnv(getenv, EnvName(f.Name)); ok {
			if err := f.Value.Set(v); err != nil {
				apply = append(apply, fmt.Errorf("environment variable %s: invalid value %q: %v", EnvName(f.Name), v, err))
			}
			set[f.Name] = true
			return
		}
		// GODWIT_X_FILE names a file holding the value (for secrets mounted as files).
		if path, ok := lookupEnv(getenv, EnvName(f.Name)+"_FILE"); ok {
			b, err := os.ReadFile(path)
			if err != nil {
				apply = append(apply, fmt.Errorf("environment variable %s_FILE: %v", EnvName(f.Name), err))
				return
			}
			if err := f.Value.Set(strings.TrimSpace(string(b))); err != nil {
				apply = append(apply, fmt.Errorf("environment variable %s_FILE: the file's value is invalid: %v", EnvName(f.Name), err))
			}
			set[f.Name] = true
		}
	})
	if err := errors.Join(apply...); err != nil {
		return err
	}
	cfgFlag := fs.Lookup("config")
	if cfgFlag == nil || cfgFlag.Value.String() == "" {
		return nil
	}
	file := cfgFlag.Value.String()
	values, err := readFile(file)
	if err != nil {
		return err
	}
	for _, kv := range values {
		f := fs.Lookup(kv.name)
		if f == nil && isSetting(kv.name) {
			continue
		}
		if f == nil {
			return fmt.Errorf("config file %s line %d: unknown setting %q", file, kv.line, kv.name)
		}
		if set[kv.name] {
			continue
		}
		if err := f.Value.Set(kv.value); err != nil {
			return fmt.Errorf("config file %s line %d: invalid value for %s: %v", file, kv.line, kv.name, err)
		}
	}
	return nil
}

func lookupEnv(getenv func(string) string, name string) (string, bool) {
	if getenv == nil {
		return os.LookupEnv(name)
	}
	v := getenv(name)
	return v, v != ""
}

type setting struct {
	name, value string
	line        int
}

// readFile reads `name = value` lines; '#' starts a comment line.
func readFile(path string) ([]setting, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("config file: %w", err)
	}
	defer f.Close()
	var out []setting
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		name, value, ok := strings.Cut(line, "=")
		if !ok {
			return nil, fmt.Errorf("config file %s line %d: expected `name = value`", path, n)
		}
		value = strings.TrimSpace(value)
		if len(value) >= 2 && value[0] == '"' && value[len(value)-1] == '"' {
			value = value[1 : len(value)-1]
		}
		out = append(out, setting{name: strings.TrimSpace(name), value: value, line: n})
	}
	return out, sc.Err()
}

// Database returns the database URL, defaulting to a SQLite file in the data dir.
func (c *Config) Database() string {
	if c.DatabaseURL != "" {
		return c.DatabaseURL
	}
	return filepath.Join(c.DataDir, "godwit.db")
}

// IsPostgres reports whether a database URL names PostgreSQL.
func IsPostgres(db string) bool {
	db = strings.ToLower(db)
	return strings.HasPrefix(db, "postgres://") || strings.HasPrefix(db, "postgresql://")
}

// Limiter is where the rate limits are counted (--rate-limiter, with
// auto resolved): memory, database or redis.
func (c *Config) Limiter() string { return c.sharedIn(c.RateLimiter) }

// ConnLimiter is where the connections open to each receiving host are
// counted (--connection-limiter, with auto resolved): memory, database or
// redis.
func (c *Config) ConnLimiter() string { return c.sharedIn(c.ConnectionLimiter) }

// sharedIn resolves a limiter choice: auto is Redis with --redis-url, else
// the database on PostgreSQL, else memory.
func (c *Config) sharedIn(choice string) string {
	if choice != "auto" && choice != "" {
		return choice
	}
	switch {
	case c.RedisURL != "":
		return "redis"
	case IsPostgres(c.Database()):
		return "database"
	}
	return "memory"
}

// validateLimiter checks the choice of where a shared limit is counted
// (--rate-limiter, --connection-limiter).
func (c *Config) validateLimiter(flag, choice string) error {
	switch choice {
	case "auto", "memory":
	case "redis":
		if c.RedisURL == "" {
			return fmt.Errorf("--%s redis needs --redis-url", flag)
		}
	case "database":
		if !IsPostgres(c.Database()) {
			return fmt.Errorf("--%s database needs a postgres:// --database-url: one SQLite file has one node, which counts in memory", flag)
		}
	default:
		return fmt.Errorf("--%s %q must be auto, memory, database or redis", flag, choice)
	}
	return nil
}

// TLS reports whether the server terminates TLS itself.
func (c *Config) TLS() bool { return c.TLSCert != "" || len(c.ACMEDomains) > 0 }

// Validate checks the settings a server needs; the error is one sentence
// naming the setting.
func (c *Config) Validate() error {
	if c.DataDir == "" {
		return errors.New("--data-dir must not be empty")
	}
	if err := c.CheckDatabase(); err != nil {
		return err
	}
	host, port, err := net.SplitHostPort(c.HTTPAddr)
	if err != nil || port == "" {
		return fmt.Errorf("--http-addr %q is not a host:port address", c.HTTPAddr)
	}
	if (c.TLSCert == "") != (c.TLSKey == "") {
		return errors.New("--tls-cert and --tls-key must be given together")
	}
	if c.TLSCert != "" && len(c.ACMEDomains) > 0 {
		return errors.New("--acme-domain cannot be combined with --tls-cert and --tls-key")
	}
	for _, f := range []string{c.TLSCert, c.TLSKey} {
		if f == "" {
			continue
		}
		if _, err := os.Stat(f); err != nil {
			return fmt.Errorf("TLS file %s cannot be read: %v", f, err)
		}
	}
	if !c.TLS() && !c.InsecureHTTP && !IsLoopback(host) {
		return fmt.Errorf("--http-addr %q is not a loopback address: Godwit serves plain HTTP only on loopback; give --tls-cert/--tls-key or --acme-domain, or --insecure-http when a TLS-terminating proxy is in front", c.HTTPAddr)
	}
	if c.DashboardAddr != "" {
		host, port, err := net.SplitHostPort(c.DashboardAddr)
		if err != nil || port == "" {
			return fmt.Errorf("--dashboard-addr %q is not a host:port address", c.DashboardAddr)
		}
		if !c.TLS() && !c.InsecureHTTP && !IsLoopback(host) {
			return fmt.Errorf("--dashboard-addr %q is not a loopback address: Godwit serves plain HTTP only on loopback; give --tls-cert/--tls-key or --acme-domain, or --insecure-http when a TLS-terminating proxy is in front", c.DashboardAddr)
		}
	}
	if c.RateLimit < 1 {
		return fmt.Errorf("--rate-limit must be at least 1 request per second, got %d", c.RateLimit)
	}
	if c.RedisURL != "" {
		u, err := url.Parse(c.RedisURL)
		if err != nil || (u.Scheme != "redis" && u.Scheme != "rediss") || u.Host == "" {
			return fmt.Errorf("--redis-url %q is not a redis:// or rediss:// URL", redactURL(c.RedisURL))
		}
	}
	if err := c.validateLimiter("rate-limiter", c.RateLimiter); err != nil {
		return err
	}
	if err := c.validateLimiter("connection-limiter", c.ConnectionLimiter); err != nil {
		return err
	}
	if c.PublicURL != "" {
		u, err := url.Parse(c.PublicURL)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return fmt.Errorf("--public-url %q is not an absolute http(s) URL", c.PublicURL)
		}
	}
	if c.TestDomain == "" || strings.ContainsAny(c.TestDomain, " @/") || !strings.Contains(c.TestDomain, ".") {
		return fmt.Errorf("--test-domain %q is not a domain name", c.TestDomain)
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		return fmt.Errorf("--log-level %q must be debug, info, warn or error", c.LogLevel)
	}
	switch c.LogFormat {
	case "json", "text":
	default:
		return fmt.Errorf("--log-format %q must be json or text", c.LogFormat)
	}
	if c.DebugAddr != "" {
		h, _, err := net.SplitHostPort(c.DebugAddr)
		if err != nil || !IsLoopback(h) {
			return fmt.Errorf("--debug-addr %q must be a loopback host:port address", c.DebugAddr)
		}
	}
	if c.MetricsAddr != "" {
		h, _, err := net.SplitHostPort(c.MetricsAddr)
		if err != nil {
			return fmt.Errorf("--metrics-addr %q is not a host:port address", c.MetricsAddr)
		}
		if !c.TLS() && !c.InsecureHTTP && !IsLoopback(h) {
			return fmt.Errorf("--metrics-addr %q is not a loopback address: give --tls-cert/--tls-key or --acme-domain to serve metrics over TLS, or --insecure-http when a TLS-terminating proxy is in front", c.MetricsAddr)
		}
	}
	if c.DKIMSelector == "" || strings.ContainsAny(c.DKIMSelector, " ./@\r\n") {
		return fmt.Errorf("--dkim-selector %q must be one DNS label", c.DKIMSelector)
	}
	for _, ip := range c.SendingIPs {
		if net.ParseIP(ip) == nil {
			return fmt.Errorf("--sending-ips: %q is not an IP address", ip)
		}
	}
	if c.DNSResolver != "" {
		if _, _, err := net.SplitHostPort(c.DNSResolver); err != nil {
			return fmt.Errorf("--dns-resolver %q is not a host:port address", c.DNSResolver)
		}
	}
	if c.MXHost != "" && (strings.ContainsAny(c.MXHost, " /@:") || !strings.Contains(c.MXHost, ".")) {
		return fmt.Errorf("--mx-host %q is not a host name", c.MXHost)
	}
	if c.Hostname != "" && strings.ContainsAny(c.Hostname, " /@:\r\n") {
		return fmt.Errorf("--hostname %q is not a host name", c.Hostname)
	}
	if _, err := c.MemoryLimitBytes(); err != nil {
		return err
	}
	if c.Workers < 0 {
		return fmt.Errorf("--workers must not be negative, got %d", c.Workers)
	}
	switch c.Role {
	case "all":
	case "api", "worker":
		// One process owns a SQLite file (it releases the jobs it finds
		// running at start): split roles need PostgreSQL.
		if db := strings.ToLower(c.Database()); !strings.HasPrefix(db, "postgres://") && !strings.HasPrefix(db, "postgresql://") {
			return fmt.Errorf("--role %s needs a postgres:// --database-url: nodes with split roles share one PostgreSQL database", c.Role)
		}
	default:
		return fmt.Errorf("--role %q must be all, api or worker", c.Role)
	}
	switch c.Delivery {
	case "mx", "capture":
	case "relay":
		u, err := url.Parse(c.RelayURL)
		if c.RelayURL == "" || err != nil || (u.Scheme != "smtp" && u.Scheme != "smtps") || u.Hostname() == "" {
			return fmt.Errorf("--delivery relay needs --relay-url smtp://[user:pass@]host[:port] or smtps://…, got %q", redactURL(c.RelayURL))
		}
	default:
		return fmt.Errorf("--delivery %q must be mx, relay or capture", c.Delivery)
	}
	if c.AllowAnySender {
		if c.Delivery != "capture" {
			return fmt.Errorf("--allow-any-sender needs --delivery capture: mail from a domain nobody verified must never leave this server, got --delivery %s", c.Delivery)
		}
		if !c.LoopbackOnly() {
			return errors.New("--allow-any-sender is for development: every listener (--http-addr, --dashboard-addr, --metrics-addr, --mx-addr, --smtp-addr, --smtps-addr) must be on loopback")
		}
	}
	for name, v := range map[string]string{"--mta-sts": c.MTASTS, "--dane": c.DANE, "--tls-reports": c.TLSReports} {
		if v != "on" && v != "off" {
			return fmt.Errorf("%s must be on or off, got %q", name, v)
		}
	}
	if c.OutboundTLSCAFile != "" {
		if _, err := c.OutboundRootCAs(); err != nil {
			return err
		}
	}
	if c.MTASTSPort < 0 || c.MTASTSPort > 65535 {
		return fmt.Errorf("GODWIT_TEST_MTA_STS_PORT must be a port number, got %d", c.MTASTSPort)
	}
	if c.MXPort < 1 || c.MXPort > 65535 {
		return fmt.Errorf("--mx-port must be a port number, got %d", c.MXPort)
	}
	if c.MaxQueueAge <= 0 || c.DeliveryTimeout <= 0 {
		return errors.New("--max-queue-age and --delivery-timeout must be positive")
	}
	if c.MaxPerHost < 1 {
		return fmt.Errorf("--max-per-host must be at least 1, got %d", c.MaxPerHost)
	}
	if _, err := c.SendingPools(); err != nil {
		return err
	}
	if _, err := c.WarmupConfig(); err != nil {
		return err
	}
	if c.ReputationWindow < time.Hour || c.ReputationWindow%time.Hour != 0 {
		return fmt.Errorf("--reputation-window must be a whole number of hours (the counts are hourly), got %s", c.ReputationWindow)
	}
	if c.ReputationMinVolume < 1 {
		return fmt.Errorf("--reputation-min-volume must be at least 1, got %d", c.ReputationMinVolume)
	}
	if !(c.ReputationBounceRate > 0 && c.ReputationBounceRate <= 1) {
		return fmt.Errorf("--reputation-bounce-rate must be a fraction above 0 and at most 1 (0.05 is 5%%), got %g", c.ReputationBounceRate)
	}
	if !(c.ReputationComplaintRate > 0 && c.ReputationComplaintRate <= 1) {
		return fmt.Errorf("--reputation-complaint-rate must be a fraction above 0 and at most 1 (0.003 is 0.3%%), got %g", c.ReputationComplaintRate)
	}
	if _, err := c.Destinations(); err != nil {
		return err
	}
	if c.ImportWorkers < 1 {
		return fmt.Errorf("--import-workers must be at least 1, got %d", c.ImportWorkers)
	}
	if c.ImportBatchSize < 1 || c.ImportBatchSize > 10000 {
		return fmt.Errorf("--import-batch-size must be 1 to 10000, got %d", c.ImportBatchSize)
	}
	if c.MXAddr != "" {
		if _, _, err := net.SplitHostPort(c.MXAddr); err != nil {
			return fmt.Errorf("--mx-addr %q is not a host:port address", c.MXAddr)
		}
	}
	if c.MaxInboundBytes < 1<<10 {
		return fmt.Errorf("--max-inbound-bytes must be at least 1024, got %d", c.MaxInboundBytes)
	}
	if c.MXMaxConns < 1 || c.MXMaxConnsPerIP < 1 {
		return errors.New("--mx-max-conns and --mx-max-conns-per-ip must be at least 1")
	}
	if c.InboundRetention < time.Hour {
		return fmt.Errorf("--inbound-retention must be at least 1h, got %s", c.InboundRetention)
	}
	if err := c.validateSMTP(); err != nil {
		return err
	}
	if c.MaxFetchBytes < 1 {
		return fmt.Errorf("--max-fetch-bytes must be positive, got %d", c.MaxFetchBytes)
	}
	if c.AuthFailuresPerIP < 0 {
		return errors.New("--auth-failures-per-ip must be 0 (no throttle) or more")
	}
	if c.LogRetention < time.Hour {
		return fmt.Errorf("--log-retention must be at least 1h, got %s", c.LogRetention)
	}
	if c.ShutdownTimeout <= 0 {
		return fmt.Errorf("--shutdown-timeout must be positive, got %s", c.ShutdownTimeout)
	}
	// Last: a listener the world reaches means real domains and real
	// mail, so the names they are told must work.
	if !c.LoopbackOnly() {
		return c.CheckNames()
	}
	return nil
}

// validateSMTP checks the submission listeners: AUTH needs TLS unless the
// listener is on loopback or --smtp-allow-insecure-auth says otherwise, so a
// public listener without a certificate could authenticate nobody.
func (c *Config) validateSMTP() error {
	if len(c.SMTPAddrs) == 0 && len(c.SMTPSAddrs) == 0 {
		return nil
	}
	if c.Role == "worker" {
		return errors.New("--smtp-addr and --smtps-addr are served by api nodes, not by --role worker")
	}
	for _, addr := range c.SMTPAddrs {
		host, port, err := net.SplitHostPort(addr)
		if err != nil || port == "" {
			return fmt.Errorf("--smtp-addr %q is not a host:port address", addr)
		}
		if !c.TLS() && !c.SMTPInsecureAuth && !IsLoopback(host) {
			return fmt.Errorf("--smtp-addr %q is not a loopback address and there is no certificate for STARTTLS: give --tls-cert/--tls-key or --acme-domain, or --smtp-allow-insecure-auth", addr)
		}
	}
	for _, addr := range c.SMTPSAddrs {
		if _, port, err := net.SplitHostPort(addr); err != nil || port == "" {
			return fmt.Errorf("--smtps-addr %q is not a host:port address", addr)
		}
		if !c.TLS() {
			return errors.New("--smtps-addr needs a certificate: give --tls-cert/--tls-key or --acme-domain")
		}
	}
	if c.SMTPMaxConns < 1 || c.SMTPMaxConnsPerIP < 1 {
		return errors.New("--smtp-max-conns and --smtp-max-conns-per-ip must be at least 1")
	}
	return nil
}

// redactURL hides a URL's password, for error messages.
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil || u.User == nil {
		if strings.Contains(s, "@") {
			return "(unparsable URL)"
		}
		return s
	}
	return u.Redacted()
}

// HELOName is the name given in EHLO: --hostname, else --mx-host, else
// this machine's name when it is fully qualified, else the --public-url
// host when it is, else localhost.
func (c *Config) HELOName() string {
	if c.Hostname != "" {
		return c.Hostname
	}
	if c.MXHost != "" {
		return c.MXHost
	}
	if h, err := os.Hostname(); err == nil && IsFQDN(h) {
		return h
	}
	if u, err := url.Parse(c.PublicURL); err == nil && IsFQDN(u.Hostname()) {
		return u.Hostname()
	}
	return "localhost"
}

// LoopbackOnly reports whether every listener of the configuration is on
// loopback: a development start, reachable from this machine only.
func (c *Config) LoopbackOnly() bool {
	addrs := append([]string{c.HTTPAddr, c.DashboardAddr, c.MetricsAddr, c.MXAddr}, c.SMTPAddrs...)
	for _, a := range append(addrs, c.SMTPSAddrs...) {
		if a == "" {
			continue
		}
		host, _, err := net.SplitHostPort(a)
		if err != nil || !IsLoopback(host) {
			return false
		}
	}
	return true
}

// CheckNames reports, in one sentence, a name that the world would be
// told and that cannot work: the bounce host that every domain publishes
// in its MX and SPF records, and (on a node that delivers to MX hosts) the
// name given in EHLO, must be fully qualified domain names. Validate
// refuses such a configuration unless every listener is on loopback; a
// loopback start only warns (serve logs this sentence).
func (c *Config) CheckNames() error {
	if h := c.BounceHost(); !IsFQDN(h) {
		var what string
		switch {
		case c.MXHost != "":
			what = fmt.Sprintf("--mx-host %q is", h)
		case c.PublicURL != "":
			what = fmt.Sprintf("--mx-host is not set and the --public-url host %q is", h)
		default:
			what = fmt.Sprintf("--mx-host is not set and this machine's name %q is", h)
		}
		return fmt.Errorf("%s not a fully qualified domain name, and every domain would publish it in its MX and SPF records: give --mx-host this server's public name (e.g. mail.example.com)", what)
	}
	if c.Delivery == "mx" && c.Role != "api" {
		if h := c.HELOName(); !IsFQDN(h) {
			what := fmt.Sprintf("--hostname %q is", h)
			if c.Hostname == "" {
				what = fmt.Sprintf("--hostname is not set and the EHLO name %q is", h)
			}
			return fmt.Errorf("%s not a fully qualified domain name, and receiving mail servers refuse or distrust such an EHLO name: give --hostname this server's public name (the name its PTR record gives)", what)
		}
	}
	return nil
}

// IsFQDN reports whether name is a fully qualified domain name that DNS
// records may point at: two or more labels of letters, digits and hyphens,
// a top-level label that is not all digits (so not an IP address), and not
// a name kept for local use (localhost, .local, .localhost, .internal,
// .lan, .home.arpa).
func IsFQDN(name string) bool {
	name = strings.TrimSuffix(strings.ToLower(name), ".")
	if len(name) > 253 || !strings.Contains(name, ".") {
		return false
	}
	labels := strings.Split(name, ".")
	for _, l := range labels {
		if l == "" || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
			return false
		}
		for _, r := range l {
			if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-') {
				return false
			}
		}
	}
	tld := labels[len(labels)-1]
	if strings.Trim(tld, "0123456789") == "" {
		return false
	}
	switch tld {
	case "localhost", "local", "internal", "lan", "localdomain":
		return false
	}
	return !strings.HasSuffix(name, ".home.arpa")
}

// IsLoopback reports whether host (a name or an IP, possibly empty for
// "every interface") is only reachable from this machine.
func IsLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// MemoryLimitBytes parses --memory-limit: a number of bytes with an optional
// KiB, MiB or GiB suffix; 0 means no limit.
func (c *Config) MemoryLimitBytes() (int64, error) {
	v := strings.TrimSpace(c.MemoryLimit)
	mult := int64(1)
	for suffix, m := range map[string]int64{"KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30} {
		if strings.HasSuffix(v, suffix) {
			v, mult = strings.TrimSpace(strings.TrimSuffix(v, suffix)), m
			break
		}
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 || n > (1<<62)/mult {
		return 0, fmt.Errorf("--memory-limit %q must be a size such as 128MiB or 2GiB, or 0", c.MemoryLimit)
	}
	return n * mult, nil
}

// BounceHost is --mx-host, or the --public-url host, or this machine's name.
func (c *Config) BounceHost() string {
	if c.MXHost != "" {
		return c.MXHost
	}
	if u, err := url.Parse(c.PublicURL); err == nil && u.Hostname() != "" {
		return u.Hostname()
	}
	if h, err := os.Hostname(); err == nil && h != "" {
		return h
	}
	return "localhost"
}

// SPFRecord is the TXT value domains publish at their return-path subdomain:
// the sending IPs and includes, or the bounce host's addresses when neither is set.
func (c *Config) SPFRecord() string {
	var b strings.Builder
	b.WriteString("v=spf1")
	for _, ip := range c.SendingIPs {
		if strings.Contains(ip, ":") {
			b.WriteString(" ip6:" + ip)
		} else {
			b.WriteString(" ip4:" + ip)
		}
	}
	for _, inc := range c.SPFInclude {
		b.WriteString(" include:" + inc)
	}
	if len(c.SendingIPs) == 0 && len(c.SPFInclude) == 0 {
		b.WriteString(" a:" + c.BounceHost())
	}
	b.WriteString(" ~all")
	return b.String()
}

// BindsSendingIPs reports whether delivery binds its connections to the
// sending IPs: --bind-sending-ips, or pools or warm-up configured.
func (c *Config) BindsSendingIPs() bool {
	return c.BindSendingIPs || len(c.IPPools) > 0 || len(c.WarmupIPs) > 0
}

// SendingPools returns the pools of sending IPs delivery binds to (nil when
// it binds to none: BindsSendingIPs false).
func (c *Config) SendingPools() (ippool.Pools, error) {
	if !c.BindsSendingIPs() {
		return nil, nil
	}
	if len(c.SendingIPs) == 0 {
		return nil, errors.New("--bind-sending-ips, --ip-pool and --warmup-ips need --sending-ips (the addresses to send from)")
	}
	return ippool.Parse(c.IPPools, c.SendingIPs)
}

// WarmupConfig returns --warmup and --warmup-ips parsed; every warming-up
// IP must be one of --sending-ips.
func (c *Config) WarmupConfig() (warmup.Config, error) {
	ips, err := warmup.ParseIPs(c.WarmupIPs)
	if err != nil {
		return warmup.Config{}, fmt.Errorf("--warmup-ips: %w", err)
	}
	for ip := range ips {
		if !slices.ContainsFunc(c.SendingIPs, func(s string) bool {
			a, err := netip.ParseAddr(strings.TrimSpace(s))
			return err == nil && a.Unmap() == ip
		}) {
			return warmup.Config{}, fmt.Errorf("--warmup-ips: %s is not one of --sending-ips", ip)
		}
	}
	w, err := warmup.New(c.Warmup, ips)
	if err != nil {
		return warmup.Config{}, fmt.Errorf("--warmup: %w", err)
	}
	return w, nil
}

// Destinations returns --destination-limits parsed.
func (c *Config) Destinations() (destination.Config, error) {
	d, err := destination.Parse(c.DestinationLimits)
	if err != nil {
		return nil, fmt.Errorf("--destination-limits: %w", err)
	}
	return d, nil
}

// OutboundRootCAs returns the roots outbound TLS verifies against: the
// system's plus --outbound-tls-ca-file's certificates, or nil (the system's
// alone) without the file.
func (c Config) OutboundRootCAs() (*x509.CertPool, error) {
	if c.OutboundTLSCAFile == "" {
		return nil, nil
	}
	b, err := os.ReadFile(c.OutboundTLSCAFile)
	if err != nil {
		return nil, fmt.Errorf("--outbound-tls-ca-file: %w", err)
	}
	pool, err := x509.SystemCertPool()
	if err != nil || pool == nil {
		pool = x509.NewCertPool()
	}
	if !pool.AppendCertsFromPEM(b) {
		return nil, fmt.Errorf("--outbound-tls-ca-file %s holds no PEM certificate", c.OutboundTLSCAFile)
	}
	return pool, nil
}

// TLSReportsNames returns the organization-name, contact-info and sender
// address of TLS reports (--tls-reports-org, --tls-reports-contact, and
// tls-reports@ the EHLO name).
func (c *Config) TLSReportsNames() (org, contact, from string) {
	host := c.HELOName()
	org, contact = c.TLSReportsOrg, c.TLSReportsContact
	if org == "" {
		org = host
	}
	if contact == "" {
		contact = "postmaster@" + host
	}
	return org, contact, "tls-reports@" + host
}
