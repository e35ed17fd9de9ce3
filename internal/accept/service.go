// Package accept is Godwit's one accept path: every way of sending (the
// API's POST /emails and /emails/batch, SMTP submission, broadcast chunks)
// goes through it, so that the rules of what may be sent live in one place:
//
//   - the API key: Authenticate finds it (with a short cache), Allow charges
//     the team's rate limit;
//   - the sender gate (CheckFrom): From, and a Sender header, must be in a
//     domain the team has verified for sending, within the key's domain
//     restriction; the test sender writes only to the test domain;
//   - the template an email names is rendered (internal/render), its topic
//     checked (CheckTopic), the whole email checked buildable
//     (internal/message);
//   - ids are minted (store.NewID), the sending domain recorded on the
//     email, and the emails committed with their jobs, their scheduled
//     events and the idempotency record in one transaction (Submit);
//   - an idempotency key is held in flight on this node while its request
//     is accepted, and a repeat is answered from the record (the ids).
//
// The package knows no transport: no net/http and no apierr. Refusals are
// *Error values whose Kind the faces map once (internal/api to Resend's
// envelope, internal/msa to SMTP replies); anything else is Godwit's own
// failure. Adding a new way of sending is one call of Submit (or Send).
package accept

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/godwit/godwit/internal/auth"
	"github.com/godwit/godwit/internal/ratelimit"
	"github.com/godwit/godwit/internal/store"
)

// Store is what the accept path reads and writes.
type Store interface {
	APIKeyByPrefix(ctx context.Context, prefix string) (*store.APIKey, error)
	TouchAPIKey(ctx context.Context, id string, t time.Time) error
	GetDomainByName(ctx context.Context, teamID, name string) (*store.Domain, error)
	GetTemplate(ctx context.Context, teamID, idOrAlias string) (*store.Template, error)
	GetTopic(ctx context.Context, teamID, id string) (*store.Topic, error)
	GetIdempotency(ctx context.Context, teamID, key string) (*store.Idempotency, error)
	AcceptEmails(ctx context.Context, a *store.Accept) error
}

// Config holds the Service's collaborators and settings; zero values take
// the defaults noted.
type Config struct {
	Store   Store
	Limiter ratelimit.Limiter // nil: one in memory
	Logger  *slog.Logger
	Now     func() time.Time // time.Now
	// DefaultRateLimit is the requests per second of a team without its own limit (2).
	DefaultRateLimit int
	// IdempotencyTTL is how long an idempotency key is remembered (24 h).
	IdempotencyTTL time.Duration
	// CacheTTL is how long a found API key, or a team's domain, is trusted
	// without reading the store again: a key revoked or a domain changed on
	// another node is seen within it. Zero means one second; negative
	// disables the caches.
	CacheTTL time.Duration
	// TestDomain is the domain of the test sender and recipients (resend.dev).
	TestDomain string
	// AnySender accepts emails from domains the team has not verified
	// (--allow-any-sender: a development server that captures everything).
	AnySender bool
	// Metrics counts accepted emails by source (nil: not counted).
	Metrics Metrics
}

// Metrics counts what the accept path does (*metrics.Metrics); accept
// knows no transport, so it names the counter by this interface only.
type Metrics interface {
	Accepted(source string, n int)
}

// The sources of accepted emails, as counted and logged.
const (
	SourceAPI       = "api"
	SourceSMTP      = "smtp"
	SourceBroadcast = "broadcast"
)

// Service is the accept path.
type Service struct {
	cfg Config
	log *slog.Logger
	now func() time.Time

	// Matches checks a token against a key's stored hash (auth.Matches;
	// tests count its calls). Set it before the Service is used.
	Matches func(token string, hash []byte) bool

	keys    *keyCache
	domains *domainCache

	inflightMu sync.Mutex
	inflight   map[string]struct{} // team id + idempotency key of accepts in progress
}

// New returns the accept path for cfg.
func New(cfg Config) *Service {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.DefaultRateLimit <= 0 {
		cfg.DefaultRateLimit = 2
	}
	if cfg.IdempotencyTTL <= 0 {
		cfg.IdempotencyTTL = 24 * time.Hour
	}
	if cfg.Limiter == nil {
		cfg.Limiter = ratelimit.NewMemory(cfg.Now)
	}
	cfg.TestDomain = strings.ToLower(cfg.TestDomain)
	if cfg.TestDomain == "" {
		cfg.TestDomain = "resend.dev"
	}
	if cfg.CacheTTL == 0 {
		cfg.CacheTTL = time.Second
	}
	return &Service{cfg: cfg, log: cfg.Logger, now: cfg.Now, Matches: auth.Matches,
		keys:     newKeyCache(cfg.CacheTTL, 100_000),
		domains:  &domainCache{ttl: max(cfg.CacheTTL, 0), entries: map[string]domainCacheEntry{}},
		inflight: map[string]struct{}{}}
}

// accepted counts and logs committed emails: one INFO line each.
func (s *Service) accepted(ctx context.Context, source string, emails []*store.Email) {
	if s.cfg.Metrics != nil {
		s.cfg.Metrics.Accepted(source, len(emails))
	}
	if !s.log.Enabled(ctx, slog.LevelInfo) {
		return
	}
	for _, e := range emails {
		if e.ScheduledAt != nil {
			s.log.LogAttrs(ctx, slog.LevelInfo, "email accepted", slog.String("email_id", e.ID),
				slog.String("team_id", e.TeamID), slog.String("source", source), slog.Time("scheduled_at", *e.ScheduledAt))
			continue
		}
		s.log.LogAttrs(ctx, slog.LevelInfo, "email accepted", slog.String("email_id", e.ID),
			slog.String("team_id", e.TeamID), slog.String("source", source))
	}
}

// TestDomain is the test sender's domain.
func (s *Service) TestDomain() string { return s.cfg.TestDomain }

// IdempotencyTTL is how long an idempotency key is remembered.
func (s *Service) IdempotencyTTL() time.Duration { return s.cfg.IdempotencyTTL }
