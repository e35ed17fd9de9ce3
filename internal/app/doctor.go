package app

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/godwit/godwit/internal/config"
	"github.com/godwit/godwit/internal/deliverability"
	"github.com/godwit/godwit/internal/dnscheck"
	"github.com/godwit/godwit/internal/doctor"
	"github.com/godwit/godwit/internal/domains"
	"github.com/godwit/godwit/internal/secretbox"
	"github.com/godwit/godwit/internal/store"
	"github.com/godwit/godwit/internal/store/sqlstore"
)

// doctorOptions are doctor's own flags.
type doctorOptions struct {
	timeout     time.Duration
	probeDomain string
	probeAddr   string
}

// cmdDoctor checks a configuration from the inside: it reads the settings
// as serve does and looks at what a production mail server needs of the
// world (its names in DNS, reverse DNS, outbound port 25, the database and
// secret key, every domain's records, the certificate), one line per
// check with the fix. It sends no mail and changes nothing. Any FAIL makes
// it exit 1.
func cmdDoctor(ctx context.Context, args []string, stdout, _ io.Writer, getenv func(string) string) error {
	cfg := config.Defaults()
	fs := flag.NewFlagSet("godwit doctor", flag.ContinueOnError)
	cfg.Register(fs)
	var opts doctorOptions
	fs.DurationVar(&opts.timeout, "timeout", 10*time.Second, "how long each connection (port 25, the relay) and the whole of each check may take")
	fs.StringVar(&opts.probeDomain, "probe-domain", "gmail.com", "domain whose MX host the outbound port 25 check connects to (on --mx-port)")
	fs.StringVar(&opts.probeAddr, "probe-addr", "", "host:port the outbound SMTP check connects to instead of --probe-domain's MX")
	if err := parseFlags(fs, args, stdout, getenv); err != nil {
		return err
	}
	if fs.NArg() != 0 {
		return usageErrorf(fs.Name(), "unexpected argument %q", fs.Arg(0))
	}
	if opts.timeout <= 0 {
		return usageErrorf(fs.Name(), "--timeout must be positive")
	}
	results := runDoctor(ctx, cfg, opts)
	if err := doctor.Print(stdout, results); err != nil {
		return err
	}
	passed, warned, failed := doctor.Count(results)
	if failed > 0 {
		return fmt.Errorf("%d of %d checks failed (%d warnings)", failed, len(results), warned)
	}
	fmt.Fprintf(stdout, "\n%d checks passed, %d warnings, none failed\n", passed, warned)
	return nil
}

// runDoctor runs every check, the independent groups at once, and returns
// the results in a fixed order.
func runDoctor(ctx context.Context, cfg config.Config, opts doctorOptions) []doctor.Result {
	res := &dnscheck.Resolver{Addr: cfg.DNSResolver, Timeout: min(opts.timeout, dnscheck.DefaultTimeout)}
	var names, delivery, db, cert []doctor.Result
	var wg sync.WaitGroup
	wg.Go(func() { names = doctorNames(ctx, cfg, res) })
	wg.Go(func() { delivery = doctorDelivery(ctx, cfg, res, opts) })
	wg.Go(func() { db = doctorDatabase(ctx, cfg, res, opts.timeout) })
	wg.Go(func() { cert = doctorCertificate(cfg) })
	wg.Wait()

	out := []doctor.Result{doctorConfig(cfg)}
	for _, group := range [][]doctor.Result{names, delivery, db, cert} {
		out = append(out, group...)
	}
	return out
}

func doctorConfig(cfg config.Config) doctor.Result {
	if err := cfg.Validate(); err != nil {
		return doctor.Result{Status: doctor.Fail, Check: "config", Found: err.Error(),
			Fix: "godwit serve refuses this configuration: correct the setting named (godwit check-config checks it alone)"}
	}
	where := "flags and environment"
	if cfg.ConfigFile != "" {
		where = cfg.ConfigFile
	}
	return doctor.Result{Status: doctor.Pass, Check: "config", Found: "valid (" + where + "), as godwit check-config says"}
}

// doctorNames checks the EHLO name, the MX host and the reverse DNS of the
// sending addresses.
func doctorNames(ctx context.Context, cfg config.Config, r *dnscheck.Resolver) []doctor.Result {
	ehlo := cfg.HELOName()
	heloSource := "--hostname"
	switch {
	case cfg.Hostname != "":
	case cfg.MXHost != "":
		heloSource = "--mx-host, as no --hostname is set"
	case ehlo == "localhost":
		heloSource = "the fallback, as no --hostname is set and this machine's name is not fully qualified"
	case machineName() == ehlo:
		heloSource = "this machine's name, as no --hostname is set"
	default:
		heloSource = "the --public-url host, as no --hostname is set"
	}
	helo, addrs := doctor.Hostname(ctx, r, "hostname", "EHLO name", ehlo, heloSource, "--hostname")
	noEHLO := noEHLOToReceivers(cfg)
	if noEHLO != "" && helo.Status == doctor.Fail {
		// As serve: only a node that delivers to MX hosts itself needs it.
		helo.Status, helo.Found = doctor.Warn, helo.Found+" ("+noEHLO+")"
	}

	mxHost := cfg.BounceHost()
	mxSource := "--mx-host"
	switch {
	case cfg.MXHost != "":
	case cfg.PublicURL != "":
		mxSource = "the --public-url host, as no --mx-host is set"
	default:
		mxSource = "this machine's name, as no --mx-host is set"
	}
	mx, _ := doctor.Hostname(ctx, r, "mx-host", "MX host (return-path MX, receives bounces)", mxHost, mxSource, "--mx-host")
	out := []doctor.Result{helo, mx}
	if cfg.MXAddr == "" && cfg.Delivery != "capture" {
		out = append(out, doctor.Result{Status: doctor.Warn, Check: "mx-listener",
			Found: "--mx-addr is off: the bounces and complaints receivers send to " + mxHost + " are not received",
			Fix:   "listen with --mx-addr :25 on the node " + mxHost + " resolves to, with port 25 open inbound"})
	}

	ips := make([]netip.Addr, 0, len(cfg.SendingIPs))
	for _, s := range cfg.SendingIPs {
		if ip, err := netip.ParseAddr(s); err == nil {
			ips = append(ips, ip)
		}
	}
	if len(ips) == 0 {
		ips = addrs
	}
	if noEHLO != "" {
		return append(out, doctor.Result{Status: doctor.Pass, Check: "reverse-dns", Found: "not checked: " + noEHLO})
	}
	return append(out, doctor.ReverseDNS(ctx, r, ehlo, ips)...)
}

// noEHLOToReceivers says why this node's EHLO name and reverse DNS do not
// meet receiving servers ("" when they do: it delivers to MX hosts).
func noEHLOToReceivers(cfg config.Config) string {
	switch {
	case cfg.Role == "api":
		return "--role api: this node delivers nothing"
	case cfg.Delivery == "relay":
		return "--delivery relay: receivers see the relay, whose own names and reverse DNS count"
	case cfg.Delivery == "capture":
		return "--delivery capture: nothing is sent"
	}
	return ""
}

// doctorDelivery checks that mail can leave the way --delivery says.
func doctorDelivery(ctx context.Context, cfg config.Config, r *dnscheck.Resolver, opts doctorOptions) []doctor.Result {
	if cfg.Role == "api" {
		return []doctor.Result{{Status: doctor.Pass, Check: "delivery",
			Found: "--role api: this node delivers nothing (run godwit doctor on the worker nodes for port 25)"}}
	}
	switch cfg.Delivery {
	case "relay":
		return []doctor.Result{doctor.Relay(ctx, cfg.RelayURL, opts.timeout)}
	case "capture":
		return []doctor.Result{{Status: doctor.Warn, Check: "delivery",
			Found: "--delivery capture: emails are stored and never sent, so outbound port 25 is not checked",
			Fix:   "for production use --delivery mx (or relay with --relay-url)"}}
	}
	return []doctor.Result{doctor.OutboundSMTP(ctx, r, doctor.Probe{Domain: opts.probeDomain, Addr: opts.probeAddr,
		Port: cfg.MXPort, Timeout: opts.timeout})}
}

// doctorDatabase checks that the database opens, its migrations, that this
// node's secret key is the database's, and every domain's DNS records.
func doctorDatabase(ctx context.Context, cfg config.Config, r *dnscheck.Resolver, timeout time.Duration) []doctor.Result {
	const check = "database"
	where := databaseSummary(cfg)
	if err := cfg.CheckDatabase(); err != nil {
		return []doctor.Result{{Status: doctor.Fail, Check: check, Found: err.Error(), Fix: "correct --database-url"}}
	}
	if !sqlstore.IsPostgresURL(cfg.Database()) {
		if _, err := os.Stat(sqlstore.SQLitePath(cfg.Database())); err != nil {
			return []doctor.Result{{Status: doctor.Warn, Check: check, Found: "no database at " + sqlstore.SQLitePath(cfg.Database()) + " yet",
				Fix: "the first godwit serve (or godwit migrate) creates it; then run godwit doctor again for the secret key and domains"}}
		}
	}
	openCtx, cancel := context.WithTimeout(ctx, timeout)
	db, err := sqlstore.Open(openCtx, cfg.Database(), sqlstore.Options{Outbox: sqlstore.NoOutbox, NoMigrate: true})
	cancel()
	if err != nil {
		return []doctor.Result{{Status: doctor.Fail, Check: check, Found: where + " does not open: " + err.Error(),
			Fix: "check --database-url, that the database server runs and that this user may reach it"}}
	}
	defer db.Close()
	out := []doctor.Result{{Status: doctor.Pass, Check: check, Found: where + " opens"}}

	if st, err := db.MigrationStatus(ctx); err != nil {
		out = append(out, doctor.Result{Status: doctor.Fail, Check: "migrations", Found: err.Error(),
			Fix: "godwit migrate --status lists them"})
	} else if pending := countPending(st); pending > 0 {
		out = append(out, doctor.Result{Status: doctor.Warn, Check: "migrations",
			Found: fmt.Sprintf("%d applied, %d pending", len(st)-pending, pending),
			Fix:   "godwit migrate, or the next godwit serve, applies them (godwit migrate --status lists them)"})
	} else {
		out = append(out, doctor.Result{Status: doctor.Pass, Check: "migrations",
			Found: fmt.Sprintf("up to date at %05d (%s)", lastApplied(st), db.Dialect())})
	}

	keyResult, key := doctorKey(ctx, cfg, db)
	out = append(out, keyResult)
	return append(out, doctorDomains(ctx, cfg, db, r, key, timeout)...)
}

func machineName() string {
	h, _ := os.Hostname()
	return h
}

func countPending(st []sqlstore.Migration) int {
	n := 0
	for _, m := range st {
		if !m.Applied {
			n++
		}
	}
	return n
}

// doctorKey checks, without storing anything, that this node's secret key
// is the one the database's secrets were sealed with (CheckServerKey's
// question); it returns the key when there is one.
func doctorKey(ctx context.Context, cfg config.Config, db *sqlstore.DB) (doctor.Result, []byte) {
	const check = "secret-key"
	source := serverKeySource(cfg)
	mismatchFix := "copy the first node's secret.key to " + filepath.Join(cfg.DataDir, "secret.key") +
		", or pass the same --secret-key on every node"
	var key []byte
	var err error
	if cfg.SecretKey != "" {
		if key, err = secretbox.ParseKey(cfg.SecretKey); err != nil {
			return doctor.Result{Status: doctor.Fail, Check: check, Found: "--secret-key: " + err.Error(),
				Fix: "give 32 bytes, hex or base64 (e.g. openssl rand -base64 32)"}, nil
		}
	} else {
		if _, statErr := os.Stat(source); errors.Is(statErr, os.ErrNotExist) {
			if _, err := db.ServerKeyCheck(ctx); err == nil {
				return doctor.Result{Status: doctor.Fail, Check: check,
					Found: "no key at " + source + ", but the database's secrets are sealed with one", Fix: mismatchFix}, nil
			}
			return doctor.Result{Status: doctor.Pass, Check: check, Found: "none yet: the first godwit serve creates " + source}, nil
		}
		if key, err = secretbox.LoadOrCreateKeyFile(source); err != nil {
			return doctor.Result{Status: doctor.Fail, Check: check, Found: err.Error(),
				Fix: "restore the key file (chmod 600, owned by the user godwit runs as)"}, nil
		}
	}
	want, err := KeyCheckValue(key)
	if err != nil {
		return doctor.Result{Status: doctor.Fail, Check: check, Found: err.Error()}, nil
	}
	got, err := db.ServerKeyCheck(ctx)
	switch {
	case errors.Is(err, store.ErrNotFound):
		if err := opensExistingSecret(ctx, db, key, source); err != nil {
			return doctor.Result{Status: doctor.Fail, Check: check,
				Found: "this node's secret key (" + source + ") does not open the database's secrets", Fix: mismatchFix}, nil
		}
		return doctor.Result{Status: doctor.Pass, Check: check, Found: source + " opens the database's secrets (its check value is stored at the next start)"}, key
	case err != nil:
		return doctor.Result{Status: doctor.Warn, Check: check, Found: "cannot read the database's key check: " + err.Error(),
			Fix: "apply the pending migrations (godwit migrate), then run godwit doctor again"}, key
	case got != want:
		return doctor.Result{Status: doctor.Fail, Check: check,
			Found: "this node's secret key (" + source + ") is not the one the database's secrets were sealed with", Fix: mismatchFix}, nil
	}
	return doctor.Result{Status: doctor.Pass, Check: check, Found: source + " is the database's key"}, key
}

// doctorDomains checks the DNS records of every team's domains, as the
// verifier does, a few at once.
func doctorDomains(ctx context.Context, cfg config.Config, db *sqlstore.DB, r *dnscheck.Resolver, key []byte, timeout time.Duration) []doctor.Result {
	const check = "domain"
	teams, err := db.ListTeams(ctx)
	if err != nil {
		return []doctor.Result{{Status: doctor.Warn, Check: check, Found: "cannot list the teams: " + err.Error(),
			Fix: "godwit migrate --status shows whether the database is up to date"}}
	}
	type item struct {
		team string
		d    *store.Domain
	}
	var all []item
	for _, t := range teams {
		ds, err := db.ListDomains(ctx, t.ID)
		if err != nil {
			return []doctor.Result{{Status: doctor.Warn, Check: check, Found: "cannot list the domains: " + err.Error(),
				Fix: "godwit migrate --status shows whether the database is up to date"}}
		}
		for _, d := range ds {
			if d.FailureReason == domains.ReasonTaken(d.Name) {
				continue // another team's copy holds the name: that one is checked
			}
			all = append(all, item{team: t.Name, d: d})
		}
	}
	if len(all) == 0 {
		return []doctor.Result{{Status: doctor.Pass, Check: check, Found: "no domains yet (POST /domains, or the dashboard, adds one)"}}
	}
	if key == nil {
		return []doctor.Result{{Status: doctor.Warn, Check: check, Found: fmt.Sprintf("%d domains not checked: no usable secret key opens their DKIM keys", len(all)),
			Fix: "fix the secret-key line above"}}
	}
	settings, err := domainSettings(cfg, key)
	if err != nil {
		return []doctor.Result{{Status: doctor.Fail, Check: check, Found: err.Error()}}
	}
	// The reverse DNS of each domain's sending IPs, as the verifier looks
	// it up (nil when the pools do not parse: the config line says why).
	reverse, _ := reverseDNSLookup(cfg, db, r, slog.New(slog.DiscardHandler))
	out := make([][]doctor.Result, len(all))
	sem := make(chan struct{}, 8)
	var wg sync.WaitGroup
	for i, it := range all {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			var res doctor.Result
			recs, err := settings.Records(it.d)
			if err != nil {
				res = doctor.Result{Status: doctor.Fail, Check: check, Found: it.d.Name + ": " + err.Error(),
					Fix: "the secret key does not open this domain's DKIM key: see the secret-key line"}
			} else {
				res = doctor.Domain(ctx, r, it.d.Name, it.d.Status, recs)
			}
			out[i] = []doctor.Result{res}
			if err == nil {
				out[i] = append(out[i], doctorReadiness(ctx, cfg, r, reverse, it.d, recs, timeout)...)
			}
			if len(teams) > 1 {
				for j := range out[i] {
					out[i][j].Found = "team " + it.team + ": " + out[i][j].Found
				}
			}
		})
	}
	wg.Wait()
	var flat []doctor.Result
	for _, rs := range out {
		flat = append(flat, rs...)
	}
	return flat
}

// doctorReadiness is a sending domain's bulk-sender readiness
// (internal/deliverability, as GET /domains/{id} shows it) from what DNS
// answers now for its records and for the reverse DNS of the sending IPs
// it uses (its IP pool's), and whether its MX hosts offer STARTTLS.
func doctorReadiness(ctx context.Context, cfg config.Config, r *dnscheck.Resolver,
	reverse func(context.Context, *store.Domain, time.Time) map[string]store.RecordCheck, d *store.Domain, recs []domains.Record,
	timeout time.Duration) []doctor.Result {
	live := *d
	live.RecordStatus, live.RecordChecks = map[string]string{}, map[string]store.RecordCheck{}
	for _, rec := range recs {
		st, ans, err := r.CheckAnswer(ctx, dnscheck.Expected{Type: rec.Type, Name: rec.FQDN(d.Name), Value: rec.Value, Priority: uint16(rec.Priority)})
		if err != nil {
			continue // the domain line says the lookup failed
		}
		live.RecordChecks[rec.Kind] = store.RecordCheck{Answer: ans.Values, Omitted: ans.Omitted, Error: ans.Error, CheckedAt: time.Now()}
		if st == dnscheck.Verified {
			live.RecordStatus[rec.Kind] = store.DomainVerified
		}
	}
	if reverse != nil && d.Capable(store.CapabilitySending) {
		maps.Copy(live.RecordChecks, reverse(ctx, d, time.Now()))
	}
	checks := deliverability.Domain(&live, deliverability.Server{OneClickUnsubscribe: cfg.PublicURL != "", EHLO: cfg.HELOName()})
	if checks == nil {
		return nil
	}
	checks = append(checks, deliverability.MXTLS(ctx, r, d.Name, cfg.MXPort, timeout, cfg.HELOName()))
	out := make([]doctor.Result, 0, len(checks))
	for _, c := range checks {
		out = append(out, doctor.Result{Status: doctorStatus(c.Status), Check: "readiness", Found: d.Name + " " + c.Check + ": " + c.Message, Fix: c.Fix})
	}
	return out
}

func doctorStatus(s string) doctor.Status {
	switch s {
	case deliverability.Pass:
		return doctor.Pass
	case deliverability.Warn:
		return doctor.Warn
	}
	return doctor.Fail
}

// doctorCertificate checks the certificate the API and SMTP listeners
// offer.
func doctorCertificate(cfg config.Config) []doctor.Result {
	names := []string{cfg.HELOName()}
	if u, err := url.Parse(cfg.PublicURL); err == nil && u.Hostname() != "" {
		names = append([]string{u.Hostname()}, names...)
	}
	opts := doctor.CertOptions{Names: names, Now: time.Now()}
	switch {
	case cfg.TLSCert != "":
		return []doctor.Result{doctor.CertificateFiles(cfg.TLSCert, cfg.TLSKey, opts)}
	case len(cfg.ACMEDomains) > 0:
		return doctor.ACME(filepath.Join(cfg.DataDir, "acme"), cfg.ACMEDomains, cfg.HTTPAddr, opts)
	case cfg.InsecureHTTP:
		return []doctor.Result{{Status: doctor.Warn, Check: "certificate",
			Found: "none: plain HTTP behind a TLS-terminating proxy (--insecure-http); SMTP listeners offer no STARTTLS",
			Fix:   "give --tls-cert/--tls-key (or --acme-domain) too, so that the MX and submission listeners offer TLS"}}
	}
	return []doctor.Result{{Status: doctor.Warn, Check: "certificate", Found: "none: plain HTTP on loopback only",
		Fix: "give --acme-domain mail.example.com (port 443) or --tls-cert/--tls-key"}}
}
