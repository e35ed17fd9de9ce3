// Package metrics defines every Prometheus metric Godwit exports, in one
// place, on a registry the caller gives (never the global default one).
// serve builds one Metrics and hands it to the parts that count: accept,
// the API's middleware, SMTP submission, the delivery worker, the webhook
// dispatcher, the domain verifier, and (through a function, since the
// store imports nothing of Godwit's) the store's committers.
//
// Every method is safe on a nil *Metrics (it counts nothing), so tests and
// commands that run without metrics pass nil.
//
// Labels are bounded: sources, outcomes, reply classes, reasons and route
// patterns are fixed sets; no email id, address, team id or raw path is
// ever a label. The hot paths use children resolved when Metrics is built
// (accept by source, delivery by outcome and reply class) or cached per
// route and status (HTTP), so counting allocates nothing per request.
package metrics

import (
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// Namespace prefixes every metric's name.
const Namespace = "godwit"

// Sources of accepted emails (accept's Source* constants; these are
// resolved in advance, another is counted all the same).
const (
	SourceAPI       = "api"
	SourceSMTP      = "smtp"
	SourceBroadcast = "broadcast"
)

var sources = []string{SourceAPI, SourceSMTP, SourceBroadcast}

// Delivery outcomes (one per recipient per attempt).
var outcomes = []string{"delivered", "deferred", "bounced", "failed", "suppressed", "complained"}

// Reply classes of the remote server's answer to a recipient.
const (
	Reply2xx  = "2xx"
	Reply4xx  = "4xx"
	Reply5xx  = "5xx"
	ReplyNone = "none" // no SMTP answer: no connection, simulated, decided locally
)

var replies = []string{Reply2xx, Reply4xx, Reply5xx, ReplyNone}

// ReplyClass is the class of an SMTP reply code (0: none).
func ReplyClass(code int) string {
	switch {
	case code >= 200 && code < 300:
		return Reply2xx
	case code >= 400 && code < 500:
		return Reply4xx
	case code >= 500 && code < 600:
		return Reply5xx
	}
	return ReplyNone
}

// Webhook delivery results.
const (
	WebhookSuccess    = "success"     // a 2xx answer
	WebhookHTTPError  = "http_error"  // answered, not 2xx
	WebhookNoResponse = "no_response" // no answer: connection, TLS, timeout, refused address
	WebhookDeferred   = "deferred"    // not posted: the fairness caps said wait
)

var webhookResults = []string{WebhookSuccess, WebhookHTTPError, WebhookNoResponse, WebhookDeferred}

// SMTP refusal reasons (RefuseSMTP); accept's refusal kinds are named by
// the face that maps them.
const (
	SMTPTooManyConnections = "too_many_connections"
	SMTPAuthFailed         = "auth_failed"
	SMTPKeyRevoked         = "key_revoked"
	SMTPRateLimited        = "rate_limited"
	SMTPBareNewline        = "bare_newline"
	SMTPTooLarge           = "too_large"
	SMTPInvalidMessage     = "invalid_message"
	SMTPInternal           = "internal_error"
	SMTPStorageFull        = "storage_full"
	SMTPAuthRequired       = "auth_required"
	SMTPShuttingDown       = "shutting_down"
	SMTPTooManyMessages    = "too_many_messages"
	SMTPTooManyCommands    = "too_many_commands"
	SMTPBadAddress         = "bad_address"
)

// Store commit kinds.
const (
	CommitAccept   = "accept"   // group-committed accepts
	CommitOutcomes = "outcomes" // group-committed delivery outcomes
)

// Unmatched is the route label of a request no route matched (404, 405).
const Unmatched = "unmatched"

// Metrics holds Godwit's metrics.
type Metrics struct {
	accepted       map[string]prometheus.Counter
	acceptedVec    *prometheus.CounterVec
	outcomes       map[[2]string]prometheus.Counter
	outcomesVec    *prometheus.CounterVec
	inFlight       prometheus.Gauge
	destPaused     *prometheus.GaugeVec
	webhooks       map[string]prometheus.Counter
	smtpSessions   prometheus.Counter
	smtpRefusals   *prometheus.CounterVec
	inbound        *prometheus.CounterVec
	inboundSpooled prometheus.Counter
	limiterFails   *prometheus.CounterVec
	connLimitFails *prometheus.CounterVec
	httpRequests   *prometheus.CounterVec
	httpDuration   *prometheus.HistogramVec
	routes         atomic.Pointer[map[string]*route] // pattern → route; copied on write
	routesMu       sync.Mutex
	commitDuration *prometheus.HistogramVec
	commitRequests *prometheus.HistogramVec
	commitEmails   prometheus.Histogram
	commitErrors   *prometheus.CounterVec
	domainChecks   *prometheus.CounterVec
	bounces        *prometheus.CounterVec
	automationRuns *prometheus.CounterVec
	automationStep *prometheus.CounterVec
	domainPauses   *prometheus.CounterVec
	jobsRescued    *prometheus.CounterVec
	emailsRescued  prometheus.Counter
	stsFetches     *prometheus.CounterVec
	daneLookups    *prometheus.CounterVec
	tlsReports     *prometheus.CounterVec
	warmupSent     *prometheus.CounterVec // warmup.go
	warmupCapped   *prometheus.CounterVec
	domainClaims   *prometheus.CounterVec
	throttleFails  *prometheus.CounterVec
	reg            *prometheus.Registry
}

// route caches the children of one route pattern: the latency histogram,
// and a counter per status seen (a short list, copied on write).
type route struct {
	pattern  string
	duration prometheus.Observer
	codes    atomic.Pointer[[]codeCounter]
	mu       sync.Mutex
}

type codeCounter struct {
	code    int
	counter prometheus.Counter
}

// New registers Godwit's metrics, and Go's runtime and process
// collectors, on reg.
func New(reg *prometheus.Registry) *Metrics {
	f := func(c prometheus.Collector) { reg.MustRegister(c) }
	m := &Metrics{reg: reg,
		acceptedVec: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Name: "emails_accepted_total",
			Help: "Emails accepted (committed), by the way they came in: api, smtp or broadcast."}, []string{"source"}),
		outcomesVec: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Name: "delivery_outcomes_total",
			Help: "Delivery results, one per recipient per attempt, by outcome and by the class of the remote server's reply (2xx, 4xx, 5xx, none)."},
			[]string{"outcome", "reply"}),
		inFlight: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: Namespace, Name: "delivery_attempts_in_flight",
			Help: "Delivery attempts running on this node."}),
		destPaused: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: Namespace, Name: "destination_paused",
			Help: "Destinations this node has paused after a throttling reply (adaptive throttling), by provider (other: MX hosts of no known provider, counted together)."},
			[]string{"destination"}),
		smtpSessions: prometheus.NewCounter(prometheus.CounterOpts{Namespace: Namespace, Name: "smtp_sessions_total",
			Help: "SMTP submission connections accepted."}),
		smtpRefusals: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Name: "smtp_refusals_total",
			Help: "SMTP submission connections, logins and messages refused, by reason."}, []string{"reason"}),
		inbound: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Name: "inbound_messages_total",
			Help: "Messages and recipients at the MX (--mx-addr), by result: received, report, refused_recipient, refused_message, deferred, too_many_connections, dropped, forwarded, forward_refused."},
			[]string{"result"}),
		inboundSpooled: prometheus.NewCounter(prometheus.CounterOpts{Namespace: Namespace, Name: "inbound_spooled_messages_total",
			Help: "Messages at the MX larger than the spool threshold, kept in a temporary file instead of memory while received."}),
		limiterFails: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Name: "rate_limiter_failures_total",
			Help: "Requests the shared rate limiter (--redis-url) could not count, by what was done: allowed (fail open) or refused (fail closed)."},
			[]string{"action"}),
		connLimitFails: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Name: "connection_limiter_failures_total",
			Help: "Calls to the shared connection limiter (--connection-limiter redis or database) that failed, by operation: acquire (the delivery was deferred, not connected), renew, release (the lease expires by itself), keep (an idle connection was closed) or unwant (a wanted mark expires by itself)."},
			[]string{"op"}),
		httpRequests: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Name: "http_requests_total",
			Help: "API requests, by route pattern and status code."}, []string{"route", "code"}),
		httpDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: Namespace, Name: "http_request_duration_seconds",
			Help:    "API request latency, by route pattern.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}}, []string{"route"}),
		commitDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: Namespace, Name: "store_commit_duration_seconds",
			Help:    "Group commits of the store: the time of one transaction, by kind (accept, outcomes).",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 5}}, []string{"kind"}),
		commitRequests: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: Namespace, Name: "store_commit_batch_requests",
			Help:    "Requests gathered into one group commit, by kind.",
			Buckets: []float64{1, 2, 4, 8, 16, 32, 64, 128, 256, 512}}, []string{"kind"}),
		commitEmails: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: Namespace, Name: "store_commit_batch_emails",
			Help:    "Emails written by one group commit of accepts.",
			Buckets: []float64{1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1000}}),
		commitErrors: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Name: "store_commit_errors_total",
			Help: "Group commits whose transaction failed, by kind (their requests are then retried one by one)."}, []string{"kind"}),
		domainChecks: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Name: "domain_verifications_total",
			Help: "DNS verification checks of domains, by the status they left the domain in (or lookup_error)."}, []string{"result"}),
		jobsRescued: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Name: "jobs_rescued_total",
			Help: "Jobs a dead node (or, on SQLite, a crashed process) was running that this node made available to run again, by kind (deliver, webhook, broadcast, contact_import, automation_step): each may repeat part of what it had done."},
			[]string{"kind"}),
		emailsRescued: prometheus.NewCounter(prometheus.CounterOpts{Namespace: Namespace, Name: "delivery_emails_rescued_total",
			Help: "Emails held by the delivery jobs this node rescued (jobs_rescued_total{kind=\"deliver\"}): the bound on duplicate deliveries after a crash."}),
	}
	m.bounces = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Name: "bounces_total",
		Help: "Bounced recipients, by Resend's bounce type and subType (internal/bounce) and whether the address was suppressed (a permanent recipient failure)."},
		[]string{"type", "sub_type", "suppressed"})
	m.domainPauses = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Name: "domain_sending_pauses_total",
		Help: "Sending domains paused by the reputation guard (a bounce or complaint rate over its threshold) and resumed by an admin, by action: paused or resumed."},
		[]string{"action"})
	m.stsFetches = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Name: "mta_sts_policy_fetches_total",
		Help: "MTA-STS policy files fetched for outbound delivery (internal/mtasts), by result: ok or error."}, []string{"result"})
	m.daneLookups = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Name: "dane_lookups_total",
		Help: "TLSA lookups of outbound MX hosts for DANE (RFC 7672), by result: secure (the host is delivered under dane), none, unusable, insecure (no AD bit: ignored) or error (the host is deferred)."},
		[]string{"result"})
	m.tlsReports = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Name: "tls_reports_total",
		Help: "TLS reports (RFC 8460) sent to recipient domains' rua, by scheme (https, mailto) and result (sent, failed; deferred: a mailed report's try refused for now, retried)."},
		[]string{"scheme", "result"})
	m.registerWarmup(f)
	m.automationRuns = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Name: "automation_runs_total",
		Help: "Automation runs, by event: started, completed, failed or cancelled (internal/automation)."}, []string{"event"})
	m.automationStep = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Name: "automation_steps_total",
		Help: "Automation run steps moved on by the engine, by step type and outcome: completed, waiting, failed or stale (a doubled or late job that changed nothing)."},
		[]string{"type", "outcome"})
	m.domainClaims = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Name: "domain_claims_total",
		Help: "Domain claims by the state they moved to: created, completed, blocked, expired, superseded or canceled."}, []string{"result"})
	m.throttleFails = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Name: "throttle_state_failures_total",
		Help: "Calls to the shared destination throttling state (database or Redis) that failed, by op: load or store. The node goes on with its own state."}, []string{"op"})
	webhooksVec := prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Name: "webhook_deliveries_total",
		Help: "Webhook posts, by result: success, http_error, no_response, or deferred (not posted: fairness caps)."}, []string{"result"})
	for _, c := range []prometheus.Collector{m.acceptedVec, m.outcomesVec, m.inFlight, m.destPaused, webhooksVec, m.smtpSessions, m.smtpRefusals,
		m.inbound, m.inboundSpooled, m.limiterFails, m.connLimitFails, m.httpRequests, m.httpDuration, m.commitDuration, m.commitRequests, m.commitEmails, m.commitErrors, m.domainChecks, m.bounces,
		m.jobsRescued, m.emailsRescued, m.stsFetches, m.daneLookups, m.tlsReports, m.automationRuns, m.automationStep, m.domainPauses, m.domainClaims, m.throttleFails,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{})} {
		f(c)
	}
	for _, a := range []string{"paused", "resumed"} {
		m.domainPauses.WithLabelValues(a) // exported at 0 from the start
	}
	for _, op := range []string{"acquire", "renew", "release", "keep", "unwant"} {
		m.connLimitFails.WithLabelValues(op) // exported at 0 from the start
	}
	for _, op := range []string{"load", "store"} {
		m.throttleFails.WithLabelValues(op) // exported at 0 from the start
	}
	for _, r := range []string{"ok", "error"} {
		m.stsFetches.WithLabelValues(r) // exported at 0 from the start
	}
	for _, scheme := range []string{"https", "mailto"} {
		for _, r := range []string{"sent", "failed"} {
			m.tlsReports.WithLabelValues(scheme, r) // exported at 0 from the start
		}
	}
	for _, r := range []string{"secure", "none", "unusable", "insecure", "error"} {
		m.daneLookups.WithLabelValues(r) // exported at 0 from the start
	}
	for _, e := range []string{"started", "completed", "failed", "cancelled"} {
		m.automationRuns.WithLabelValues(e) // exported at 0 from the start
	}
	m.routes.Store(&map[string]*route{})
	// Children resolved once: the hot paths index a map of them.
	m.accepted = map[string]prometheus.Counter{}
	for _, s := range sources {
		m.accepted[s] = m.acceptedVec.WithLabelValues(s)
	}
	m.outcomes = map[[2]string]prometheus.Counter{}
	for _, o := range outcomes {
		for _, r := range replies {
			m.outcomes[[2]string{o, r}] = m.outcomesVec.WithLabelValues(o, r)
		}
	}
	m.webhooks = map[string]prometheus.Counter{}
	for _, r := range webhookResults {
		m.webhooks[r] = webhooksVec.WithLabelValues(r)
	}
	for _, k := range JobKinds {
		m.jobsRescued.WithLabelValues(k)
	}
	for _, k := range []string{CommitAccept, CommitOutcomes} {
		m.commitDuration.WithLabelValues(k)
		m.commitRequests.WithLabelValues(k)
		m.commitErrors.WithLabelValues(k)
	}
	return m
}

// Registry is the registry the metrics are on.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Accepted counts n emails accepted from source (SourceAPI, …).
func (m *Metrics) Accepted(source string, n int) {
	if m == nil || n == 0 {
		return
	}
	c, ok := m.accepted[source]
	if !ok {
		c = m.acceptedVec.WithLabelValues(source)
	}
	c.Add(float64(n))
}

// Delivery counts one recipient's result of an attempt: its outcome
// (delivered, deferred, bounced, failed, suppressed, complained) and the
// remote reply code (0: none). Unknown outcomes are not counted.
func (m *Metrics) Delivery(outcome string, code int) {
	if m == nil {
		return
	}
	if c, ok := m.outcomes[[2]string{outcome, ReplyClass(code)}]; ok {
		c.Inc()
	}
}

// Bounce counts one bounced recipient by its bounce type and subType (a
// fixed vocabulary) and whether its address was suppressed.
func (m *Metrics) Bounce(typ, subType string, suppressed bool) {
	if m != nil {
		m.bounces.WithLabelValues(typ, subType, strconv.FormatBool(suppressed)).Inc()
	}
}

// AutomationRun counts a run's event: started, completed, failed or
// cancelled.
func (m *Metrics) AutomationRun(event string, n int) {
	if m != nil && n > 0 {
		m.automationRuns.WithLabelValues(event).Add(float64(n))
	}
}

// AutomationStep counts a run step the engine moved on (or found stale),
// by step type (a fixed set) and outcome.
func (m *Metrics) AutomationStep(typ, outcome string) {
	if m != nil {
		m.automationStep.WithLabelValues(typ, outcome).Inc()
	}
}

// AttemptStarted counts a delivery attempt in flight until the returned
// function is called.
func (m *Metrics) AttemptStarted() func() {
	if m == nil {
		return func() {}
	}
	m.inFlight.Inc()
	return m.inFlight.Dec
}

// Webhook counts one webhook post (or deferral) by result.
func (m *Metrics) Webhook(result string) {
	if m == nil {
		return
	}
	if c, ok := m.webhooks[result]; ok {
		c.Inc()
	}
}

// WebhookResult is the result label of a post that got status code (0:
// no answer).
func WebhookResult(code int) string {
	switch {
	case code >= 200 && code < 300:
		return WebhookSuccess
	case code == 0:
		return WebhookNoResponse
	}
	return WebhookHTTPError
}

// SMTPSession counts an SMTP submission connection accepted.
func (m *Metrics) SMTPSession() {
	if m != nil {
		m.smtpSessions.Inc()
	}
}

// SMTPRefused counts an SMTP refusal; reason is one of the SMTP* constants
// or an accept refusal kind's name (a fixed set).
func (m *Metrics) SMTPRefused(reason string) {
	if m != nil {
		m.smtpRefusals.WithLabelValues(reason).Inc()
	}
}

// Results at the MX (Inbound).
const (
	InboundReceived           = "received"          // a message stored for a team (one per team)
	InboundReport             = "report"            // a bounce or complaint for a return-path address
	InboundRefusedRecipient   = "refused_recipient" // RCPT refused: no receiving domain, no such email
	InboundRefusedMessage     = "refused_message"   // DATA refused: bare newline, not a message, DMARC reject
	InboundDeferred           = "deferred"          // 4xx: the store could not take it now
	InboundTooManyConnections = "too_many_connections"
	InboundDropped            = "dropped"         // a team's copy discarded: every recipient's routing rule drops it
	InboundForwarded          = "forwarded"       // a forward rule's email accepted
	InboundForwardRefused     = "forward_refused" // a forward rule's email refused by the accept path (or a loop)
)

// Inbound counts one result at the MX (an Inbound* constant).
func (m *Metrics) Inbound(result string) {
	if m != nil {
		m.inbound.WithLabelValues(result).Inc()
	}
}

// InboundSpooled counts a message the MX kept in a file while receiving it.
func (m *Metrics) InboundSpooled() {
	if m != nil {
		m.inboundSpooled.Inc()
	}
}

// RateLimiterFailed counts a request the shared rate limiter could not
// count: allowed (fail open) or refused.
func (m *Metrics) RateLimiterFailed(allowed bool) {
	if m == nil {
		return
	}
	action := "refused"
	if allowed {
		action = "allowed"
	}
	m.limiterFails.WithLabelValues(action).Inc()
}

// DestinationPaused counts a destination paused (paused true) or resumed
// (false) on this node; group is its provider's name, or "other".
func (m *Metrics) DestinationPaused(group string, paused bool) {
	if m == nil {
		return
	}
	if paused {
		m.destPaused.WithLabelValues(group).Inc()
	} else {
		m.destPaused.WithLabelValues(group).Dec()
	}
}

// DomainSending counts a sending domain paused by the reputation guard
// (paused true) or resumed by an admin (false).
func (m *Metrics) DomainSending(paused bool) {
	if m == nil {
		return
	}
	if paused {
		m.domainPauses.WithLabelValues("paused").Inc()
	} else {
		m.domainPauses.WithLabelValues("resumed").Inc()
	}
}

// ConnectionLimiterFailed counts a failed call to the shared connection
// limiter: op is acquire, renew, release, keep or unwant.
func (m *Metrics) ConnectionLimiterFailed(op string) {
	if m != nil {
		m.connLimitFails.WithLabelValues(op).Inc()
	}
}

// ThrottleStateFailed counts one failed call (op: load or store) to the
// shared destination throttling state.
func (m *Metrics) ThrottleStateFailed(op string) {
	if m != nil {
		m.throttleFails.WithLabelValues(op).Inc()
	}
}

// RegisterConnectionLeases exports the connection leases this node holds
// in the shared connection limiter (its open connections to receiving
// hosts).
func (m *Metrics) RegisterConnectionLeases(held func() int) {
	if m == nil {
		return
	}
	m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: Namespace, Name: "connection_leases_held",
		Help: "Connection leases this node holds in the shared connection limiter: its connections open to receiving hosts, busy or idle."},
		func() float64 { return float64(held()) }))
}

// HTTPRequest counts one API request served by the route pattern (the
// mux's, e.g. "POST /emails"; "" for none matched) with status code and
// latency d. It allocates only the first time a route answers a code.
func (m *Metrics) HTTPRequest(pattern string, code int, d time.Duration) {
	if m == nil {
		return
	}
	if pattern == "" {
		pattern = Unmatched
	}
	rt := m.route(pattern)
	rt.duration.Observe(d.Seconds())
	rt.counter(m, code).Inc()
}

func (m *Metrics) route(pattern string) *route {
	if rt, ok := (*m.routes.Load())[pattern]; ok {
		return rt
	}
	m.routesMu.Lock()
	defer m.routesMu.Unlock()
	old := *m.routes.Load()
	if rt, ok := old[pattern]; ok {
		return rt
	}
	rt := &route{pattern: pattern, duration: m.httpDuration.WithLabelValues(pattern)}
	rt.codes.Store(&[]codeCounter{})
	next := make(map[string]*route, len(old)+1)
	for k, v := range old {
		next[k] = v
	}
	next[pattern] = rt
	m.routes.Store(&next)
	return rt
}

func (rt *route) counter(m *Metrics, code int) prometheus.Counter {
	for _, c := range *rt.codes.Load() {
		if c.code == code {
			return c.counter
		}
	}
	rt.mu.Lock()
	defer rt.mu.Unlock()
	old := *rt.codes.Load()
	for _, c := range old {
		if c.code == code {
			return c.counter
		}
	}
	c := m.httpRequests.WithLabelValues(rt.pattern, strconv.Itoa(code))
	next := append(append(make([]codeCounter, 0, len(old)+1), old...), codeCounter{code, c})
	rt.codes.Store(&next)
	return c
}

// Commit observes one group commit of the store: its kind (CommitAccept,
// CommitOutcomes), duration, the requests and emails it held, and whether
// its transaction failed.
func (m *Metrics) Commit(kind string, d time.Duration, requests, emails int, failed bool) {
	if m == nil {
		return
	}
	m.commitDuration.WithLabelValues(kind).Observe(d.Seconds())
	m.commitRequests.WithLabelValues(kind).Observe(float64(requests))
	if kind == CommitAccept {
		m.commitEmails.Observe(float64(emails))
	}
	if failed {
		m.commitErrors.WithLabelValues(kind).Inc()
	}
}

// DomainCheck counts one DNS verification check of a domain by its result:
// the status the domain was left in, or "lookup_error".
func (m *Metrics) DomainCheck(result string) {
	if m != nil {
		m.domainChecks.WithLabelValues(result).Inc()
	}
}

// DomainClaim counts a domain claim moving to result (created, completed,
// blocked, expired, superseded, canceled).
func (m *Metrics) DomainClaim(result string) {
	if m != nil {
		m.domainClaims.WithLabelValues(result).Inc()
	}
}

// MTASTSFetch counts one MTA-STS policy fetch by its result: "ok" or
// "error".
func (m *Metrics) MTASTSFetch(result string) {
	if m != nil {
		m.stsFetches.WithLabelValues(result).Inc()
	}
}

// DANELookup counts one TLSA lookup of an MX host by its result (see
// internal/delivery/dane.go).
func (m *Metrics) DANELookup(result string) {
	if m != nil {
		m.daneLookups.WithLabelValues(result).Inc()
	}
}

// TLSReport counts one TLS report sent, failed or (mailto, retried)
// deferred to a rua of the scheme "https" or "mailto".
func (m *Metrics) TLSReport(scheme, result string) {
	if m != nil {
		m.tlsReports.WithLabelValues(scheme, result).Inc()
	}
}

// RegisterCache adds the hit and miss counts of one of the server's
// in-memory caches (cache label: "mx_dns" for the MX's DNS answers,
// "mx_domains" for its receiving domains), read at scrape time.
func (m *Metrics) RegisterCache(name string, hits, misses func() uint64) {
	if m == nil {
		return
	}
	labels := prometheus.Labels{"cache": name}
	m.reg.MustRegister(
		prometheus.NewCounterFunc(prometheus.CounterOpts{Namespace: Namespace, Name: "cache_hits_total", ConstLabels: labels,
			Help: "Lookups an in-memory cache answered (by cache)."},
			func() float64 { return float64(hits()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Namespace: Namespace, Name: "cache_misses_total", ConstLabels: labels,
			Help: "Lookups an in-memory cache could not answer, made at their source (by cache)."},
			func() float64 { return float64(misses()) }))
}

// JobKinds are the kinds of the queue's jobs (River's job kinds), the
// values of the kind label.
var JobKinds = []string{"deliver", "webhook", "broadcast", "contact_import", "automation_step"}

// JobsRescued counts jobs of kind that a dead node (or a crashed process)
// was running and this node made available to run again, and the emails
// they hold (delivery jobs: each email whose outcome the dead node had
// not recorded may be delivered twice).
func (m *Metrics) JobsRescued(kind string, jobs, emails int) {
	if m == nil || jobs == 0 {
		return
	}
	m.jobsRescued.WithLabelValues(kind).Add(float64(jobs))
	m.emailsRescued.Add(float64(emails))
}

// RegisterRequestLog adds the request log writer's counts (Resend's Logs
// API, internal/requestlog), read at scrape time: records dropped because
// its buffer was full, and records the database refused.
func (m *Metrics) RegisterRequestLog(dropped, lost func() uint64) {
	if m == nil {
		return
	}
	m.reg.MustRegister(
		prometheus.NewCounterFunc(prometheus.CounterOpts{Namespace: Namespace, Name: "request_logs_dropped_total",
			Help: "API request log records dropped because the writer's buffer was full (the request itself was served)."},
			func() float64 { return float64(dropped()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Namespace: Namespace, Name: "request_logs_lost_total",
			Help: "API request log records the database refused to store."},
			func() float64 { return float64(lost()) }))
}

// QueueStats is what the queue reports at scrape time.
type QueueStats struct {
	// Jobs per queue name and state ("available", "running").
	Jobs map[string]map[string]int
	// OldestDue is, per queue, how long its oldest available job has been
	// due (0 when none is waiting).
	OldestDue map[string]time.Duration
}

// RegisterQueue adds a collector that calls stats at each scrape (a few
// indexed counts on the queue's table); an error is reported as the
// scrape's error for these metrics.
func (m *Metrics) RegisterQueue(stats func() (QueueStats, error)) {
	if m == nil {
		return
	}
	m.reg.MustRegister(&queueCollector{stats: stats})
}

var (
	queueJobsDesc = prometheus.NewDesc(Namespace+"_queue_jobs",
		"Jobs in the durable queue, by queue (deliver, webhook, broadcast, contact_import) and state (available: due and waiting for a worker; running).",
		[]string{"queue", "state"}, nil)
	queueOldestDesc = prometheus.NewDesc(Namespace+"_queue_oldest_due_seconds",
		"How long the oldest due job of a queue has waited for a worker (0 when none waits).", []string{"queue"}, nil)
)

type queueCollector struct {
	stats func() (QueueStats, error)
}

func (c *queueCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- queueJobsDesc
	ch <- queueOldestDesc
}

func (c *queueCollector) Collect(ch chan<- prometheus.Metric) {
	s, err := c.stats()
	if err != nil {
		ch <- prometheus.NewInvalidMetric(queueJobsDesc, err)
		return
	}
	for q, states := range s.Jobs {
		for st, n := range states {
			ch <- prometheus.MustNewConstMetric(queueJobsDesc, prometheus.GaugeValue, float64(n), q, st)
		}
	}
	for q, d := range s.OldestDue {
		ch <- prometheus.MustNewConstMetric(queueOldestDesc, prometheus.GaugeValue, d.Seconds(), q)
	}
}
