// Package app is Godwit's command line, and the server's lifecycle: Serve
// wires the components together and runs the long-running ones as an
// ordered list of Services (lifecycle.go), started in order and stopped in
// reverse.
package app

import (
	"context"
	"crypto/hkdf"
	"crypto/sha256"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/redis/go-redis/v9"
	"golang.org/x/crypto/acme/autocert"

	"github.com/godwit/godwit/internal/accept"
	"github.com/godwit/godwit/internal/api"
	"github.com/godwit/godwit/internal/apierr"
	"github.com/godwit/godwit/internal/auth"
	"github.com/godwit/godwit/internal/automation"
	"github.com/godwit/godwit/internal/broadcast"
	"github.com/godwit/godwit/internal/config"
	"github.com/godwit/godwit/internal/connlimit"
	"github.com/godwit/godwit/internal/contactimport"
	"github.com/godwit/godwit/internal/delivery"
	"github.com/godwit/godwit/internal/destination"
	"github.com/godwit/godwit/internal/dnscheck"
	"github.com/godwit/godwit/internal/domains"
	"github.com/godwit/godwit/internal/events"
	"github.com/godwit/godwit/internal/fetch"
	"github.com/godwit/godwit/internal/httplisten"
	"github.com/godwit/godwit/internal/inbound"
	"github.com/godwit/godwit/internal/leader"
	"github.com/godwit/godwit/internal/mailauth"
	"github.com/godwit/godwit/internal/metrics"
	"github.com/godwit/godwit/internal/msa"
	"github.com/godwit/godwit/internal/mtasts"
	"github.com/godwit/godwit/internal/netguard"
	"github.com/godwit/godwit/internal/queue"
	"github.com/godwit/godwit/internal/ratelimit"
	"github.com/godwit/godwit/internal/reputation"
	"github.com/godwit/godwit/internal/requestlog"
	"github.com/godwit/godwit/internal/secretbox"
	"github.com/godwit/godwit/internal/store"
	"github.com/godwit/godwit/internal/store/sqlstore"
	"github.com/godwit/godwit/internal/throttlestate"
	"github.com/godwit/godwit/internal/tracking"
	"github.com/godwit/godwit/internal/webhook"
)

// DefaultTeam is the name of the team the first start creates.
const DefaultTeam = "default"

// verifyInterval is how often the verifier looks for domains whose records
// are due for a check (each domain has its own schedule).
const verifyInterval = 15 * time.Second

// requestLogSweepInterval is how often logs past --log-retention are deleted.
const requestLogSweepInterval = time.Hour

// idempotencyTTL is how long an Idempotency-Key is remembered, as Resend does.
const idempotencyTTL = 24 * time.Hour

// Serve runs the server until ctx ends, then drains. Its long-running
// parts are an ordered list of Services (lifecycle.go), started in order
// and stopped in reverse: the store, the profiling and metrics endpoints, the key
// revocation listener, the idempotency and request log sweepers, the
// domain verifier, the queue, the request log writer, the listeners (MX,
// SMTP submission and HTTP, which drain side by side) and last the
// readiness that /readyz reports. On shutdown /readyz answers 503 first,
// the listeners stop accepting and let requests in flight finish (each
// accepted email is committed before its 200), the request log writer
// writes the records of those requests, the queue lets deliveries in progress finish, the background work stops,
// and the store closes. A part that fails to start, or fails while
// running, stops every part started before it the same way. Before any
// of that, and before the first start creates and prints the first key,
// every configured port is bound (the servers then serve those listeners)
// and the server key is checked against the database's check value: what
// cannot work is refused in one sentence with nothing created.
func Serve(ctx context.Context, cfg config.Config, log *slog.Logger, stdout io.Writer) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	// Validate refuses such names unless every listener is on loopback:
	// a development start, told at once what would not work in production.
	if err := cfg.CheckNames(); err != nil {
		log.Warn("development start (every listener is on loopback): " + err.Error())
	}
	if cfg.AllowAnySender {
		log.Warn("--allow-any-sender: emails from any domain are accepted without a verified domain and captured, never sent (development only)")
	}
	tuneGC(cfg)
	// Every port is bound first: one that cannot be bound stops start-up
	// before a team or a key is created and printed. The servers take
	// their listeners over; what is still open on the way out is closed.
	ports, err := bindPorts(cfg)
	if err != nil {
		return err
	}
	defer ports.close()
	if !sqlstore.IsPostgresURL(cfg.Database()) {
		unlock, err := lockSQLite(sqlstore.SQLitePath(cfg.Database()))
		if err != nil {
			return err
		}
		defer unlock()
	}
	// The store's writes enqueue their jobs through the outbox, which the
	// queue binds once it is open (it needs the store's database first).
	outbox := queue.NewOutbox()
	// Metrics (--metrics-addr) are counted on a registry of their own; nil
	// counts nothing.
	var met *metrics.Metrics
	storeOpts := sqlstore.Options{Outbox: outbox}
	if cfg.MetricsAddr != "" {
		met = metrics.New(prometheus.NewRegistry())
		storeOpts.ObserveCommit = func(c sqlstore.CommitStats) {
			met.Commit(c.Kind, c.Duration, c.Requests, c.Emails, c.Failed)
		}
	}
	db, err := sqlstore.Open(ctx, cfg.Database(), storeOpts)
	if err != nil {
		return err
	}
	defer db.Close() // on the way out before the runner; the runner closes it in order
	log.Info("store opened", slog.String("database", string(db.Dialect())))

	key, err := serverKey(cfg)
	if err != nil {
		return err
	}
	// A node whose key cannot open this database's secrets stops here,
	// before anything is printed.
	if err := CheckServerKey(ctx, db, key, serverKeySource(cfg)); err != nil {
		return err
	}
	// Nor does a node whose shared settings differ from the running ones'.
	if err := CheckClusterSettings(ctx, db, cfg, log); err != nil {
		return err
	}
	domainCfg, err := domainSettings(cfg, key)
	if err != nil {
		return err
	}
	tracker, err := trackingSigner(key)
	if err != nil {
		return err
	}
	// tlsCfg is the certificate the API and the SMTP listeners offer (nil:
	// none).
	tlsCfg, err := serverTLS(cfg)
	if err != nil {
		return err
	}
	if err := bootstrap(ctx, db, stdout, firstStart{cfg: cfg, apiAddr: ports.http.Addr(), dashboardAddr: ports.dashboardAddr(),
		tls: tlsCfg != nil}); err != nil {
		return err
	}
	if err := firstUserHint(ctx, db, stdout); err != nil {
		return err
	}

	// One accept path for every way of sending: the API, SMTP submission
	// (through the handler) and broadcast chunks (through the queue) share
	// its key cache, rate limiter, domain cache and in-flight idempotency.
	limiter, limiterSweeps, closeLimiter, err := rateLimiter(ctx, cfg, db, met, log)
	if err != nil {
		return err
	}
	defer closeLimiter()
	acc := accept.New(accept.Config{Store: db, Limiter: limiter, Logger: log, DefaultRateLimit: cfg.RateLimit,
		IdempotencyTTL: idempotencyTTL, TestDomain: cfg.TestDomain, AnySender: cfg.AllowAnySender, Metrics: acceptMetrics(met)})

	slots, err := connectionLimiter(ctx, cfg, db, met, log)
	if err != nil {
		return err
	}
	defer slots.close()
	tlsReports, err := newTLSReporting(cfg, db, domainCfg, met, log)
	if err != nil {
		return err
	}
	rep := newReputationGuard(cfg, db, domainCfg, met, log)
	throttle, closeThrottle, err := throttleState(ctx, cfg, db, met, log)
	if err != nil {
		return err
	}
	defer closeThrottle()
	q, err := openQueue(ctx, cfg, db, outbox, acc, domainCfg, slots.slots, throttle, tracker, rep, met, log, tlsReports)
	if err != nil {
		return err
	}
	met.RegisterQueue(func() (metrics.QueueStats, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		return q.Stats(ctx)
	})

	reverseDNS, err := reverseDNSLookup(cfg, db, &dnscheck.Resolver{Addr: cfg.DNSResolver}, log)
	if err != nil {
		return err
	}
	verifier := &domains.Verifier{Store: db, Claims: db, Settings: domainCfg, DNS: &dnscheck.Resolver{Addr: cfg.DNSResolver},
		ReverseDNS: reverseDNS, Now: time.Now, Logger: log, Interval: verifyInterval, Metrics: met,
		OnOneNode: func(ctx context.Context, work func(context.Context)) {
			onOneNode(cfg, log, "domain verification", work)(ctx)
		}}
	ready := &readiness{log: log}
	// Download links of attachments given by URL fetch them, as delivery does.
	downloads := &fetch.Fetcher{Client: netguard.Policy{AllowPrivate: cfg.AllowPrivateNetworks}.HTTPClient(fetch.DefaultTimeout),
		MaxBytes: cfg.MaxFetchBytes}
	// The record of every authenticated API request (GET /logs), written
	// off the request path; requestLogs.Dropped counts what a full buffer
	// turned away.
	requestLogs := requestlog.NewWriter(requestlog.Config{Store: db, Logger: log})
	met.RegisterRequestLog(requestLogs.Dropped, requestLogs.Lost)
	var recorder api.RequestLogger // nil: --request-logs=false
	if cfg.RequestLogs {
		recorder = requestLogs
	} else {
		log.Info("API requests are not recorded for GET /logs (--request-logs=false)")
	}
	handler := api.New(api.Deps{
		RequestLog:       recorder,
		Store:            db,
		Accept:           acc,
		Limiter:          limiter,
		Logger:           log,
		DefaultRateLimit: cfg.RateLimit,
		FailedAuthBurst:  failedAuthBurst(cfg.AuthFailuresPerIP),
		IdempotencyTTL:   idempotencyTTL,
		Domains:          domainCfg,
		TestDomain:       cfg.TestDomain,
		Ready:            ready.Ready,
		Writable:         q.Writable,
		VerifyNow:        verifier.Wake,
		Tracking:         tracker,
		PublicURL:        strings.TrimSuffix(cfg.PublicURL, "/"),
		EHLO:             cfg.HELOName(),
		Fetcher:          downloads,
		Bodies:           bodyLimits(cfg),
		Metrics:          met,
	})

	dash, err := newDashboard(cfg, db, key, dashboardDeps{domains: domainCfg, caches: acc, verifyNow: verifier.Wake, gate: acc,
		tracker: tracker, resumer: rep}, log)
	if err != nil {
		return err
	}

	services := []Service{
		OnStop(func() error {
			if err := db.Close(); err != nil {
				return fmt.Errorf("close store: %w", err)
			}
			return nil
		}),
	}
	if cfg.DebugAddr != "" {
		services = append(services, serveDebug(cfg.DebugAddr, ports.debug, log))
	}
	if met != nil {
		services = append(services, serveMetrics(cfg, ports.metrics, met, tlsCfg, log))
	}
	// The sweeps delete what has expired; on PostgreSQL one node runs them
	// for all (the leader of "periodic sweeps"), another takes over when it
	// goes.
	sweeps := append([]func(context.Context){
		func(ctx context.Context) {
			sweepEvery(ctx, time.Hour, "expired idempotency keys", log, func(ctx context.Context) (int64, error) {
				return db.DeleteIdempotencyBefore(ctx, time.Now().Add(-idempotencyTTL))
			})
		},
		func(ctx context.Context) {
			// Expired sessions and set-password tokens are refused anyway.
			sweepEvery(ctx, time.Hour, "expired dashboard sessions", log, func(ctx context.Context) (int64, error) {
				return db.DeleteExpiredUserAuth(ctx, time.Now())
			})
		},
		func(ctx context.Context) {
			sweepEvery(ctx, time.Hour, "received emails past --inbound-retention", log, func(ctx context.Context) (int64, error) {
				return sweepReceived(ctx, db, time.Now().Add(-cfg.InboundRetention))
			})
		},
		func(ctx context.Context) {
			requestlog.Sweeper(ctx, db, cfg.LogRetention, requestLogSweepInterval, time.Now, log)
		},
	}, limiterSweeps...)
	sweeps = append(sweeps, slots.sweeps...)
	services = append(services,
		Background("key revocation listener", func(ctx context.Context) {
			db.KeyRevocations(ctx, cfg.Database(), handler.ForgetKey, func(err error) {
				log.Warn("key revocation notifications interrupted; revoked keys expire from the cache within a second meanwhile",
					slog.String("error", err.Error()))
			})
		}),
		Background("periodic sweeps", onOneNode(cfg, log, "periodic sweeps", func(ctx context.Context) { runAll(ctx, sweeps) })),
		verifier,
		// Stopped after delivery: the leases of connections still open
		// are renewed until then.
		Background("connection lease renewal", slots.run),
	)
	// Stopped after delivery too: the last sessions are counted.
	services = append(services, tlsReports.services(cfg, log)...)
	services = append(services, LogStop(q, log, "stopping delivery"))
	var listeners []Service
	if cfg.MXAddr != "" {
		listeners = append(listeners, serveMX(cfg, ports.mx, db, acc, rep, tlsCfg, met, log))
	}
	if len(cfg.SMTPAddrs) > 0 || len(cfg.SMTPSAddrs) > 0 {
		listeners = append(listeners, LogStop(serveSubmission(cfg, ports, handler, tlsCfg, met, log),
			log, "SMTP submission: messages in progress did not finish in time"))
	}
	apiSrv := serveHTTP(cfg, handler, dash, tlsCfg, log)
	apiSrv.Listener = ports.http
	listeners = append(listeners, LogStop(apiSrv, log, "shutdown did not finish in time"))
	if cfg.DashboardAddr != "" {
		dashSrv := serveDashboard(cfg, dash, tlsCfg, log)
		dashSrv.Listener = ports.dashboard
		listeners = append(listeners, LogStop(dashSrv, log, "dashboard: shutdown did not finish in time"))
	}

	// The request log writer stops after the listeners, so that it writes
	// the records of the requests they drained.
	services = append(services, LogStop(requestLogs, log, "request logs were lost at shutdown"), Parallel(listeners...), ready)

	if err := (Runner{Drain: cfg.ShutdownTimeout, Logger: log}).Run(ctx, services...); err != nil {
		return err
	}
	log.Info("stopped")
	return nil
}

// readiness is the last service: /readyz answers 200 once every part has
// started, and 503 from the moment shutdown begins.
type readiness struct {
	log   *slog.Logger
	ready atomic.Bool
}

func (r *readiness) Ready() bool { return r.ready.Load() }

func (r *readiness) Start(context.Context) error {
	r.ready.Store(true)
	return nil
}

func (r *readiness) Stop(context.Context) error {
	r.log.Info("shutting down: no new connections, finishing requests in flight")
	r.ready.Store(false)
	return nil
}

// serverTLS loads the certificate the API and the SMTP listeners offer:
// --tls-cert/--tls-key, or ACME's for --acme-domain; nil for none.
func serverTLS(cfg config.Config) (*tls.Config, error) {
	switch {
	case cfg.TLSCert != "":
		cert, err := tls.LoadX509KeyPair(cfg.TLSCert, cfg.TLSKey)
		if err != nil {
			return nil, fmt.Errorf("load TLS certificate: %w", err)
		}
		return &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}, nil
	case len(cfg.ACMEDomains) > 0:
		m := &autocert.Manager{
			Prompt:     autocert.AcceptTOS,
			HostPolicy: autocert.HostWhitelist(cfg.ACMEDomains...),
			Cache:      autocert.DirCache(filepath.Join(cfg.DataDir, "acme")),
		}
		tlsCfg := m.TLSConfig() // offers acme-tls/1 for the TLS-ALPN-01 challenge
		tlsCfg.MinVersion = tls.VersionTLS12
		return tlsCfg, nil
	}
	return nil, nil
}

// serveHTTP is the API's HTTP server (the health checks only on a worker
// node). Its listener terminates TLS itself (httplisten.TLS: h2 and
// http/1.1 by ALPN, net/http's own errors as JSON); http.Server.TLSConfig
// stays nil so that Serve sets up HTTP/2 for the connections that
// negotiate it.
func serveHTTP(cfg config.Config, handler *api.Handler, dash http.Handler, tlsCfg *tls.Config, log *slog.Logger) *httplisten.Server {
	httpHandler := withDashboard(handler, dash)
	if cfg.Role == "worker" {
		httpHandler = healthOnly(handler)
	}
	srv := &http.Server{
		Handler:           httpHandler,
		ReadHeaderTimeout: 10 * time.Second,
		// A whole request, body included, must arrive within this: enough
		// for the largest body over a slow link, not forever.
		ReadTimeout: 10 * time.Minute,
		IdleTimeout: 120 * time.Second,
		ErrorLog:    slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	return &httplisten.Server{Addr: cfg.HTTPAddr, HTTP: srv, TLSConfig: tlsCfg, Logger: log, Listening: func(addr net.Addr) {
		switch {
		case cfg.TLSCert != "":
			log.Info("serving HTTPS", slog.String("addr", addr.String()), slog.String("certificate", cfg.TLSCert))
		case len(cfg.ACMEDomains) > 0:
			log.Info("serving HTTPS with ACME certificates", slog.String("addr", addr.String()), slog.Any("domains", cfg.ACMEDomains))
		case cfg.InsecureHTTP:
			log.Warn("serving plain HTTP because --insecure-http is set: a TLS-terminating proxy must be in front", slog.String("addr", addr.String()))
		default:
			log.Info("serving plain HTTP on loopback only; give --tls-cert/--tls-key or --acme-domain to serve HTTPS", slog.String("addr", addr.String()))
		}
	}}
}

// failedAuthBurst is api.Deps.FailedAuthBurst for --auth-failures-per-ip,
// whose 0 (no throttle) is the API's negative.
func failedAuthBurst(n int) int {
	if n == 0 {
		return -1
	}
	return n
}

// healthOnly serves a worker node's HTTP listener: the health checks, and
// Resend's 404 envelope for everything else (the API is on the api nodes).
func healthOnly(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/healthz" || r.URL.Path == "/readyz" {
			h.ServeHTTP(w, r)
			return
		}
		apierr.Write(w, apierr.NotFound("This node runs with --role worker: it delivers email and serves no API."))
	})
}

// lockSQLite makes sure one serve process owns a SQLite database: the queue
// treats the jobs it finds running at start as left by a crash. The lock
// (on <database>.lock) is released when the process ends, however it ends.
// Commands such as keys create do not take it.
func lockSQLite(path string) (func(), error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("create database directory: %w", err)
	}
	f, err := os.OpenFile(path+".lock", os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock database: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		return nil, fmt.Errorf("another godwit serve is using %s (one process serves a SQLite database; use PostgreSQL for several nodes)", path)
	}
	return func() { f.Close() }, nil
}

// serveMX is the MX (--mx-addr): the teams' receiving domains and the
// bounces and complaints for the return paths, offering STARTTLS with the
// API's certificate when it has one. Forward rules send through the accept
// path.
func serveMX(cfg config.Config, ln net.Listener, db *sqlstore.DB, acc *accept.Service, rep *reputation.Guard, tlsCfg *tls.Config, met *metrics.Metrics,
	log *slog.Logger) Service {
	dnsCache := &dnscheck.Cache{}
	met.RegisterCache("mx_dns", dnsCache.Hits, dnsCache.Misses)
	b := &inbound.Backend{Store: guardedReports{db, rep}, Receiving: db, Forward: acc, Announce: events.Received, Hostname: cfg.HELOName(), Metrics: met, Logger: log,
		SpoolDir: filepath.Join(cfg.DataDir, "spool"),
		Auth:     inbound.MailAuth{Checker: &mailauth.Checker{Resolver: cfg.DNSResolver, AuthServID: cfg.HELOName(), Cache: dnsCache}}}
	db.OnReceivingChange(b.ForgetReceiving)
	met.RegisterCache("mx_domains", b.CacheHits, b.CacheMisses)
	mx := inbound.NewServer(b, cfg.HELOName(), cfg.MaxInboundBytes)
	mx.TLSConfig = tlsCfg
	return Flagged("--mx-addr", &inbound.MX{Addr: cfg.MXAddr, Listener: ln, Server: mx, Logger: log, Metrics: met,
		Limits: inbound.Limits{MaxConns: cfg.MXMaxConns, MaxConnsPerIP: cfg.MXMaxConnsPerIP}})
}

// serveSubmission is the SMTP submission server (--smtp-addr with
// STARTTLS when there is a certificate, --smtps-addr with implicit TLS) on
// the API's accept path.
func serveSubmission(cfg config.Config, ports *boundPorts, handler *api.Handler, tlsCfg *tls.Config, met *metrics.Metrics, log *slog.Logger) *msa.Server {
	return msa.New(msa.Config{
		Accepter:          handler.Accept,
		Logger:            log,
		Hostname:          cfg.HELOName(),
		TLSConfig:         tlsCfg,
		AllowInsecureAuth: cfg.SMTPInsecureAuth,
		MaxConns:          cfg.SMTPMaxConns,
		MaxConnsPerIP:     cfg.SMTPMaxConnsPerIP,
		Listen:            cfg.SMTPAddrs,
		ListenTLS:         cfg.SMTPSAddrs,
		Listeners:         ports.smtp,
		ListenersTLS:      ports.smtps,
		Metrics:           met,
	})
}

// openQueue builds the delivery worker and the job queue that runs it; an
// API-only node gets an insert-only queue.
func openQueue(ctx context.Context, cfg config.Config, db *sqlstore.DB, outbox *queue.Outbox, acc *accept.Service, domainCfg domains.Settings, slots delivery.Slots,
	throttle delivery.ThrottleState, tracker *tracking.Signer, rep *reputation.Guard, met *metrics.Metrics, log *slog.Logger, tlsReports *tlsReporting) (*queue.Queue, error) {
	guard := netguard.Policy{AllowPrivate: cfg.AllowPrivateNetworks}
	w := &delivery.Worker{
		Store:       guardedDelivery{db, rep},
		Fetcher:     &fetch.Fetcher{Client: guard.HTTPClient(fetch.DefaultTimeout), MaxBytes: cfg.MaxFetchBytes},
		Domains:     domainCfg,
		TestDomain:  cfg.TestDomain,
		AnySender:   cfg.AllowAnySender,
		MaxQueueAge: cfg.MaxQueueAge,
		Tracking:    tracker,
		TrackingURL: strings.TrimSuffix(cfg.PublicURL, "/"),
		Logger:      log,
		Metrics:     met,
	}
	workers := cfg.Workers
	if cfg.Role == "api" {
		workers = 0
	}
	switch cfg.Delivery {
	case "mx":
		dests, err := cfg.Destinations()
		if err != nil {
			return nil, err // Validate has checked it
		}
		roots, err := cfg.OutboundRootCAs()
		if err != nil {
			return nil, err
		}
		stsDNS := &dnscheck.Cache{}
		met.RegisterCache("mta_sts_dns", stsDNS.Hits, stsDNS.Misses)
		var sts delivery.STSPolicies
		if cfg.MTASTS == "on" {
			sts = &mtasts.Cache{Resolver: cfg.DNSResolver, DNSCache: stsDNS, Guard: guard, RootCAs: roots, Port: cfg.MTASTSPort,
				Logger: log, Fetched: met.MTASTSFetch}
		} else {
			log.Info("outbound MTA-STS is off (--mta-sts off): recipient domains' policies are not applied")
		}
		mx := &delivery.MXTransport{Resolver: cfg.DNSResolver, Port: cfg.MXPort, HELO: cfg.HELOName(), MaxPerHost: cfg.MaxPerHost,
			Destinations: dests, Slots: slots, Guard: guard, Logger: log, STS: sts, RootCAs: roots,
			DANE: cfg.DANE == "on", DANELookup: met.DANELookup, TLSSession: tlsReports.session(),
			Throttle: delivery.Throttle{Paused: func(dest string, paused bool) {
				met.DestinationPaused(destination.Group(dest), paused)
			}, State: throttle, StateFailed: throttlestate.OnFailure(log, met.ThrottleStateFailed, limiterWarnEvery)}}
		if workers > 0 {
			if mx.Sources, err = sendingSources(cfg, db, met, log); err != nil {
				return nil, err
			}
		}
		w.Transport = mx
	case "relay": // the operator's own relay: not guarded
		w.Transport = &delivery.RelayTransport{URL: cfg.RelayURL, HELO: cfg.HELOName(), MaxConns: cfg.MaxPerHost, Slots: slots, Logger: log}
	case "capture":
		log.Warn("--delivery capture: messages are stored, never sent")
	}
	hooks := guard.HTTPClient(webhook.Timeout)
	hooks.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse } // a redirect is a failed attempt
	qc := queue.Config{Outbox: outbox, Workers: workers, JobTimeout: cfg.DeliveryTimeout, Logger: log, Metrics: met,
		Webhooks: &webhook.Dispatcher{Store: db, Keys: domainCfg.Keys, Client: hooks, Logger: log, Metrics: met},
		Broadcasts: &broadcast.Sender{Store: db, Accept: acc, Signer: tracker, PublicURL: strings.TrimSuffix(cfg.PublicURL, "/"),
			TestDomain: cfg.TestDomain, Logger: log},
		Imports:       &contactimport.Importer{Store: db, BatchSize: cfg.ImportBatchSize, Logger: log},
		ImportWorkers: cfg.ImportWorkers,
		Automations:   automation.New(automation.Config{Store: db, Accept: acc, Logger: log, Metrics: met}),
		TLSReports:    tlsReports.mailer()}
	if db.Dialect() == sqlstore.Postgres {
		qc.PostgresDSN = cfg.Database()
	}
	return queue.Open(ctx, db, w, qc)
}

// bootstrap creates the default team and its first key on an empty database
// and prints the key once. Concurrent first starts on one PostgreSQL let one
// node win; the others see the team exists and print nothing.
// bootstrapStore is what bootstrap reads and writes.
type bootstrapStore interface {
	store.Teams
	store.APIKeys
}

func bootstrap(ctx context.Context, db bootstrapStore, stdout io.Writer, first firstStart) error {
	n, err := db.CountAPIKeys(ctx)
	if err != nil {
		return err
	}
	if n > 0 {
		return nil
	}
	if _, err := db.GetTeamByName(ctx, DefaultTeam); err == nil {
		return nil // a team exists whose keys were all revoked: leave it so
	}
	team := &store.Team{ID: uuid.NewString(), Name: DefaultTeam, CreatedAt: time.Now().UTC()}
	if err := db.CreateTeam(ctx, team); errors.Is(err, store.ErrConflict) {
		return nil
	} else if err != nil {
		return err
	}
	token, _, err := createKey(ctx, db, team.ID, "default", store.PermissionFullAccess)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "Created team %q and its first API key. It is shown only this once:\n\n    %s\n\n", DefaultTeam, token)
	first.teach(stdout, token)
	return nil
}

// createKey stores a new key (the API's and the dashboard's rules, in
// auth.NewKey) and returns its token, shown once.
func createKey(ctx context.Context, db store.APIKeys, teamID, name, permission string) (string, *store.APIKey, error) {
	k, token, err := auth.NewKey(teamID, name, permission, "", time.Now())
	if err != nil {
		return "", nil, fmt.Errorf("new key: %w", err)
	}
	if err := db.CreateAPIKey(ctx, k); err != nil {
		return "", nil, err
	}
	return token, k, nil
}

// Sampling of the block and mutex profiles while --debug-addr is set: a
// blocking event of d is recorded with probability d/debugBlockRate (so
// every wait of a millisecond or more), one contended mutex in
// debugMutexFraction. They show where requests wait (e.g. for SQLite's
// writing connection), which a CPU profile does not; at these rates their
// cost is not measurable next to the waits they sample.
const (
	debugBlockRate     = int(time.Millisecond)
	debugMutexFraction = 10
)

// serveDebug serves Go's profiling endpoints on a loopback address; they
// are closed, not drained (a profile in progress is cut off). It turns on
// the block and mutex profiles (/debug/pprof/block, /debug/pprof/mutex).
func serveDebug(addr string, ln net.Listener, log *slog.Logger) Service {
	runtime.SetBlockProfileRate(debugBlockRate)
	runtime.SetMutexProfileFraction(debugMutexFraction)
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	srv := &httplisten.Server{Addr: addr, Listener: ln, HTTP: &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}, Raw: true,
		Listening: func(a net.Addr) { log.Info("serving profiling endpoints", slog.String("addr", a.String())) }}
	return Flagged("--debug-addr", StartStop(srv.Start, func(context.Context) error { return srv.Close() }))
}

// serveMetrics serves Prometheus metrics on --metrics-addr: plain HTTP on
// loopback (or behind a proxy, --insecure-http), TLS with the API's
// certificate elsewhere. Like the profiling endpoints it is closed, not
// drained: a scrape in progress is cut off.
func serveMetrics(cfg config.Config, ln net.Listener, met *metrics.Metrics, tlsCfg *tls.Config, log *slog.Logger) Service {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(met.Registry(), promhttp.HandlerOpts{Registry: met.Registry()}))
	srv := &httplisten.Server{Addr: cfg.MetricsAddr, Listener: ln, HTTP: &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second,
		ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}, Logger: log}
	if h, _, _ := net.SplitHostPort(cfg.MetricsAddr); tlsCfg != nil && !config.IsLoopback(h) {
		srv.TLSConfig = tlsCfg
	} else {
		srv.Raw = true
	}
	srv.Listening = func(a net.Addr) {
		log.Info("serving metrics", slog.String("addr", a.String()), slog.Bool("tls", srv.TLSConfig != nil))
	}
	return Flagged("--metrics-addr", StartStop(srv.Start, func(context.Context) error { return srv.Close() }))
}

// acceptMetrics is met as accept's counter (an interface holding a nil
// *Metrics is not nil, and that is fine: its methods count nothing).
func acceptMetrics(met *metrics.Metrics) accept.Metrics {
	if met == nil {
		return nil
	}
	return met
}

// tuneGC trades memory for CPU within a bound: the collector runs half as
// often as Go's default (GOGC=200), and the soft memory limit
// (--memory-limit) makes it work harder when the heap nears the limit.
// GOGC and GOMEMLIMIT in the environment win.
func tuneGC(cfg config.Config) {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(200)
	}
	if limit, _ := cfg.MemoryLimitBytes(); limit > 0 && os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(limit)
	}
}

// rateLimiter is the per-team rate limiter (--rate-limiter): in this
// process's memory; in Redis (--redis-url), shared with every node that
// uses it; or in the database, shared by the nodes of one PostgreSQL. A
// shared one is behind a Guard that turns its failures into the answer
// --rate-limit-fail-open chooses, a metric, and a WARN line at most every
// limiterWarnEvery. It returns the work it needs in the background (the
// database's windows swept) and what to close.
func rateLimiter(ctx context.Context, cfg config.Config, db *sqlstore.DB, met *metrics.Metrics, log *slog.Logger) (ratelimit.Limiter, []func(context.Context), func(), error) {
	mode := "allowed (--rate-limit-fail-open)"
	if !cfg.RateLimitFailOpen {
		mode = "refused with 429 (--rate-limit-fail-open=false)"
	}
	guard := func(l ratelimit.Limiter, what string) ratelimit.Limiter {
		var lastWarn atomic.Int64
		return &ratelimit.Guard{Limiter: l, FailOpen: cfg.RateLimitFailOpen, OnFailure: func(err error, open bool) {
			met.RateLimiterFailed(open)
			now := time.Now().UnixNano()
			if last := lastWarn.Load(); now-last >= int64(limiterWarnEvery) && lastWarn.CompareAndSwap(last, now) {
				log.Warn("rate limits: "+what+" failed; requests are "+mode, slog.String("error", err.Error()))
			}
		}}
	}
	switch cfg.Limiter() {
	case "database":
		log.Info("rate limits are counted in the database, shared by every node on it (--redis-url counts them at less cost)")
		sweep := func(ctx context.Context) {
			sweepEvery(ctx, time.Minute, "past rate limit windows", log, func(ctx context.Context) (int64, error) {
				return db.DeleteRateWindowsBefore(ctx, time.Now().Add(-time.Minute).Unix())
			})
		}
		return guard(&ratelimit.Database{Store: db}, "the database"), []func(context.Context){sweep}, func() {}, nil
	case "redis":
	default:
		return ratelimit.NewMemory(nil), nil, func() {}, nil
	}
	client, err := redisClient(ctx, cfg, log, "rate limits", "requests are "+mode+" until it does")
	if err != nil {
		return nil, nil, nil, err
	}
	return guard(&ratelimit.Redis{Client: client}, "Redis"), nil, func() { client.Close() }, nil
}

// redisClient opens --redis-url for a shared limiter (what): short
// timeouts and no retries, as a failure is answered at once and the next
// call tries again. A Redis that does not answer yet is a WARN line saying
// what happens meanwhile (meanwhile), not an error.
func redisClient(ctx context.Context, cfg config.Config, log *slog.Logger, what, meanwhile string) (*redis.Client, error) {
	opts, err := redis.ParseURL(cfg.RedisURL)
	if err != nil {
		return nil, fmt.Errorf("--redis-url: %w", err)
	}
	opts.DialTimeout, opts.ReadTimeout, opts.WriteTimeout = time.Second, 200*time.Millisecond, 200*time.Millisecond
	opts.MaxRetries = -1
	client := redis.NewClient(opts)
	pingCtx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if err := client.Ping(pingCtx).Err(); err != nil {
		log.Warn(what+": Redis does not answer; "+meanwhile, slog.String("error", err.Error()))
	} else {
		log.Info(what+" are counted in Redis, shared by every node that uses it", slog.String("redis", opts.Addr))
	}
	return client, nil
}

// connSlots is the connection limiter of the delivery transports
// (--connection-limiter) with what it needs: its lease renewal (run, on
// every worker node), its sweeps (on one node) and what to close.
type connSlots struct {
	slots  delivery.Slots // nil: counted in this process
	run    func(context.Context)
	sweeps []func(context.Context)
	close  func()
}

// connectionLimiter counts the connections open to each receiving host
// against --max-per-host: in this process's memory, or in Redis or the
// database, shared with every worker node (--max-per-host is then their
// total). A failing shared limiter defers deliveries (they are retried),
// counts godwit_connection_limiter_failures_total and logs a WARN line at
// most every limiterWarnEvery. API nodes deliver nothing: they hold none.
func connectionLimiter(ctx context.Context, cfg config.Config, db *sqlstore.DB, met *metrics.Metrics, log *slog.Logger) (connSlots, error) {
	idle := connSlots{run: func(ctx context.Context) { <-ctx.Done() }, close: func() {}}
	if cfg.Role == "api" || (cfg.Delivery != "mx" && cfg.Delivery != "relay") {
		return idle, nil
	}
	var lastWarn atomic.Int64
	opts := connlimit.Options{Logger: log, OnFailure: func(op string, err error) {
		met.ConnectionLimiterFailed(op)
		now := time.Now().UnixNano()
		if last := lastWarn.Load(); now-last >= int64(limiterWarnEvery) && lastWarn.CompareAndSwap(last, now) {
			log.Warn("connection limiter failed: deliveries that need a new connection are deferred and retried until it answers",
				slog.String("op", op), slog.String("error", err.Error()))
		}
	}}
	var l *connlimit.Limiter
	out := idle
	switch cfg.ConnLimiter() {
	case "database":
		log.Info("connections to each receiving host are counted in the database, shared by every worker node on it",
			slog.Int("max_per_host", cfg.MaxPerHost))
		l = connlimit.NewDatabase(db, opts)
		out.sweeps = []func(context.Context){func(ctx context.Context) {
			sweepEvery(ctx, time.Minute, "expired connection leases", log, func(ctx context.Context) (int64, error) {
				return db.DeleteExpiredConnectionLeases(ctx, time.Now())
			})
		}}
	case "redis":
		client, err := redisClient(ctx, cfg, log, "connections to each receiving host",
			"deliveries that need a new connection are deferred until it does")
		if err != nil {
			return connSlots{}, err
		}
		l = connlimit.NewRedis(client, "", opts)
		out.close = func() { client.Close() }
	default:
		log.Info("connections to each receiving host are counted in this process (--connection-limiter memory)",
			slog.Int("max_per_host", cfg.MaxPerHost))
		return idle, nil
	}
	met.RegisterConnectionLeases(l.Held)
	out.slots, out.run = l, l.Run
	return out, nil
}

// throttleState is where the destinations' adaptive throttling state is
// kept (docs/delivery.md "Adaptive throttling"): where the connection
// limiter counts (--connection-limiter redis or database), shared by every
// worker node; with auto on SQLite (one node), in the SQLite file, so that
// a restart keeps a pause; nil (this process's memory) with memory. API
// nodes deliver nothing: none.
func throttleState(ctx context.Context, cfg config.Config, db *sqlstore.DB, met *metrics.Metrics, log *slog.Logger) (delivery.ThrottleState, func(), error) {
	none := func() {}
	if cfg.Role == "api" || cfg.Delivery != "mx" {
		return nil, none, nil
	}
	choice := cfg.ConnLimiter()
	if choice == "memory" && (cfg.ConnectionLimiter == "auto" || cfg.ConnectionLimiter == "") {
		choice = "database"
	}
	switch choice {
	case "database":
		log.Info("destinations' throttling state is kept in the database, shared by every worker node on it and kept across restarts")
		return db, none, nil
	case "redis":
		client, err := redisClient(ctx, cfg, log, "destinations' throttling states",
			"each worker node throttles on its own state until it does")
		if err != nil {
			return nil, nil, err
		}
		return &throttlestate.Redis{Client: client}, func() { client.Close() }, nil
	}
	log.Info("destinations' throttling state is kept in this process (--connection-limiter memory)")
	return nil, none, nil
}

// onOneNode runs work on one node at a time among those of one PostgreSQL
// database (leader.Elector: the node holding the work's advisory lock; a
// survivor takes over within seconds when it goes); on SQLite, where one
// process serves the database, at once.
func onOneNode(cfg config.Config, log *slog.Logger, name string, work func(context.Context)) func(context.Context) {
	if !config.IsPostgres(cfg.Database()) {
		return work
	}
	e := &leader.Elector{DSN: cfg.Database(), Name: name, Logger: log}
	return func(ctx context.Context) { e.Run(ctx, work) }
}

// runAll runs each loop in a goroutine of its own until ctx ends, and
// waits for them.
func runAll(ctx context.Context, loops []func(context.Context)) {
	var wg sync.WaitGroup
	for _, loop := range loops {
		wg.Add(1)
		go func() {
			defer wg.Done()
			loop(ctx)
		}()
	}
	wg.Wait()
}

// limiterWarnEvery spaces the WARN lines of a failing Redis (every request
// is counted in godwit_rate_limiter_failures_total).
const limiterWarnEvery = 10 * time.Second

// sweepReceived deletes the received emails older than before, a batch
// at a time (each batch its own transaction), and says how many went.
func sweepReceived(ctx context.Context, db *sqlstore.DB, before time.Time) (int64, error) {
	const batch = 500
	var total int64
	for {
		n, err := db.DeleteReceivedBefore(ctx, before, batch)
		total += n
		if err != nil || n < batch || ctx.Err() != nil {
			return total, err
		}
	}
}

// sweepEvery runs sweep every interval until ctx ends: it deletes what
// has expired (already ignored by readers; this keeps the table small) and
// says how many rows went. what names them in the log.
func sweepEvery(ctx context.Context, interval time.Duration, what string, log *slog.Logger, sweep func(context.Context) (int64, error)) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			n, err := sweep(ctx)
			if err != nil && ctx.Err() == nil {
				log.Warn("sweeping "+what+" failed", slog.String("error", err.Error()))
			} else if n > 0 {
				log.Debug("swept "+what, slog.Int64("deleted", n))
			}
		}
	}
}

// domainSettings builds what the API needs to create domains: the secret
// key that seals DKIM keys, and the operator's DNS settings.
// serverKey returns the server's secret key (--secret-key, or the key file
// in the data directory, created on first start).
func serverKey(cfg config.Config) ([]byte, error) {
	if cfg.SecretKey != "" {
		key, err := secretbox.ParseKey(cfg.SecretKey)
		if err != nil {
			return nil, fmt.Errorf("--secret-key: %w", err)
		}
		return key, nil
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("create data directory: %w", err)
	}
	return secretbox.LoadOrCreateKeyFile(filepath.Join(cfg.DataDir, "secret.key"))
}

// trackingSigner signs open and click tokens with a key derived from the
// server key (so every node signs alike and no key is used for two things).
func trackingSigner(key []byte) (*tracking.Signer, error) {
	sub, err := hkdf.Key(sha256.New, key, nil, "godwit tracking tokens", 32)
	if err != nil {
		return nil, err
	}
	return tracking.NewSigner(sub)
}

func domainSettings(cfg config.Config, key []byte) (domains.Settings, error) {
	box, err := secretbox.New(key)
	if err != nil {
		return domains.Settings{}, err
	}
	return domains.Settings{Keys: box, MXHost: cfg.BounceHost(), SPF: cfg.SPFRecord(), DKIMSelector: cfg.DKIMSelector,
		Ed25519: cfg.DKIMEd25519, DMARCReport: cfg.DMARCReport}, nil
}

// bodyLimits admits large request bodies within --memory-limit: their bytes
// in flight at once stay under the soft heap limit, so a burst of large
// sends waits its turn instead of driving the collector (and the resident
// set) far past it. Without a limit, the API's default budget applies.
func bodyLimits(cfg config.Config) api.BodyLimits {
	limit, _ := cfg.MemoryLimitBytes()
	return api.BodyLimits{Memory: limit}
}
