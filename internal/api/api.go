// Package api serves Resend's REST API over Godwit's store.
//
// Every route is listed in routes.go. Every response, success or error, is
// JSON written through respond.go and apierr. Handlers are methods on
// Handler, whose dependencies are injected; nothing here reads globals.
package api

import (
	"log/slog"
	"net/http"
	"time"

	"golang.org/x/sync/semaphore"

	"github.com/godwit/godwit/internal/accept"
	"github.com/godwit/godwit/internal/automation"
	"github.com/godwit/godwit/internal/dkim"
	"github.com/godwit/godwit/internal/domains"
	"github.com/godwit/godwit/internal/metrics"
	"github.com/godwit/godwit/internal/ratelimit"
	"github.com/godwit/godwit/internal/tracking"
)

// Deps are the Handler's collaborators and settings.
type Deps struct {
	Store Store
	// Accept is the accept path the send routes call, shared with SMTP
	// submission and broadcasts: keys, the sender gate, templates,
	// idempotency, the commit. Nil: one built from these Deps.
	Accept *accept.Service
	// Automations starts automation runs and resumes waiting ones for
	// POST /events/send (nil: one built from these Deps).
	Automations *automation.Engine
	Limiter     ratelimit.Limiter
	Logger      *slog.Logger
	// Now is the clock (time.Now when nil).
	Now func() time.Time
	// DefaultRateLimit is the requests per second of a team without its own limit.
	DefaultRateLimit int
	// MaxBodyBytes caps a request body on the wire (JSON of a 40 MB email
	// whose attachments are sent as arrays of byte values is larger than 40 MB).
	MaxBodyBytes int64
	// Bodies bound the memory and time request bodies take (limits.go).
	Bodies BodyLimits
	// IdempotencyTTL is how long an Idempotency-Key is remembered (24 h).
	IdempotencyTTL time.Duration
	// KeyCacheTTL is how long a found API key is trusted without reading
	// the database again; a key revoked on another node or by the CLI stops
	// working within this time. Zero means one second; negative disables.
	KeyCacheTTL time.Duration
	// FailedAuthBurst is how many failed authentications (an unknown or
	// wrong API key) one client address may make before it is throttled;
	// after that it regains one every FailedAuthInterval. Zero means 20 and
	// one second; a negative burst disables the limit.
	FailedAuthBurst    int
	FailedAuthInterval time.Duration
	// Domains shapes domains' DNS records and seals their DKIM keys.
	Domains domains.Settings
	// TestDomain is the domain of the test sender and recipients (resend.dev).
	TestDomain string
	// Tracking checks the tokens of the open pixel and click redirects
	// (nil: those routes answer 404).
	Tracking *tracking.Signer
	// PublicURL is the server's public URL (--public-url): with Tracking,
	// broadcasts' unsubscribe links are made under it ("" refuses to send
	// a broadcast that uses {{{RESEND_UNSUBSCRIBE_URL}}}).
	PublicURL string
	// EHLO is the name the server greets with (--hostname), against which
	// the readiness's reverse DNS check was made.
	EHLO string
	// Fetcher fetches an attachment given by URL when its download link is
	// followed (nil: such downloads answer 502).
	Fetcher AttachmentFetcher
	// VerifyNow, when set, asks the domain verifier to run at once (after
	// POST /domains/{id}/verify); otherwise the check waits for its tick.
	VerifyNow func()
	// RequestLog records every authenticated request for the Logs API
	// (nil: none are recorded).
	RequestLog RequestLogger
	// Ready reports whether the server accepts traffic (false while draining).
	Ready func() bool
	// Metrics counts requests by route pattern and status, with their
	// latency (nil: not counted).
	Metrics *metrics.Metrics
	// Writable, when set, reports whether the store took the node's last
	// periodic write probe (nil) or why not; /readyz is 503 while it fails.
	Writable func() error
}

// Handler is the API's http.Handler.
type Handler struct {
	Deps
	mux *http.ServeMux

	failedAuth *failedAuth // nil: no limit

	admission *semaphore.Weighted // BodyLimits.Memory bytes of large bodies

	shapes routeShapes // the route table's patterns' shapes (resendpaths.go)
}

// New returns the API handler.
func New(d Deps) *Handler {
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.Logger == nil {
		d.Logger = slog.New(slog.DiscardHandler)
	}
	if d.DefaultRateLimit <= 0 {
		d.DefaultRateLimit = 2
	}
	if d.MaxBodyBytes <= 0 {
		d.MaxBodyBytes = 160 << 20
	}
	d.Bodies = d.Bodies.withDefaults()
	if d.IdempotencyTTL <= 0 {
		d.IdempotencyTTL = 24 * time.Hour
	}
	if d.Limiter == nil {
		d.Limiter = ratelimit.NewMemory(d.Now)
	}
	if d.TestDomain == "" {
		d.TestDomain = "resend.dev"
	}
	if d.Domains.DKIMSelector == "" {
		d.Domains.DKIMSelector = dkim.DefaultSelector
	}
	if d.KeyCacheTTL == 0 {
		d.KeyCacheTTL = time.Second
	}
	if d.FailedAuthBurst == 0 {
		d.FailedAuthBurst = 20
	}
	if d.FailedAuthInterval <= 0 {
		d.FailedAuthInterval = time.Second
	}
	if d.Accept == nil {
		d.Accept = accept.New(accept.Config{Store: d.Store, Limiter: d.Limiter, Logger: d.Logger, Now: d.Now,
			DefaultRateLimit: d.DefaultRateLimit, IdempotencyTTL: d.IdempotencyTTL, CacheTTL: d.KeyCacheTTL,
			TestDomain: d.TestDomain})
	}
	if d.Automations == nil {
		d.Automations = automation.New(automation.Config{Store: d.Store, Accept: d.Accept, Now: d.Now, Logger: d.Logger, Metrics: d.Metrics})
	}
	h := &Handler{Deps: d, mux: http.NewServeMux(), admission: newAdmission(d.Bodies), shapes: routeShapes{},
		failedAuth: newFailedAuth(d.FailedAuthBurst, d.FailedAuthInterval, 100_000)}
	h.routes()
	return h
}
