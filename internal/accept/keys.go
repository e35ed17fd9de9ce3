package accept

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/godwit/godwit/internal/auth"
	"github.com/godwit/godwit/internal/ratelimit"
	"github.com/godwit/godwit/internal/store"
)

var errInvalidKey = &Error{Kind: ErrInvalidKey, Message: "API key is invalid"}

// touchEvery is how stale last_used_at may get: a key's use is written at
// most once a minute.
const touchEvery = time.Minute

// Authenticate returns the stored API key of token (ErrInvalidKey when
// there is none). Every token that reaches the store, whether its prefix is
// unknown or its secret wrong, costs one call of Matches (a dummy hash
// stands in for a missing key), so that the two answers take the same time.
// Any kind of key may send (sending_access is enough).
func (s *Service) Authenticate(ctx context.Context, token string) (*store.APIKey, error) {
	prefix, err := auth.Prefix(token)
	if err != nil {
		s.Matches(token, nil)
		return nil, errInvalidKey
	}
	now := s.now()
	key := s.keys.get(prefix, now)
	if key == nil {
		key, err = s.cfg.Store.APIKeyByPrefix(ctx, prefix)
		switch {
		case errors.Is(err, store.ErrNotFound):
			key = nil
		case err != nil:
			return nil, fmt.Errorf("look up api key: %w", err)
		default:
			s.keys.put(key, now)
			s.touchKey(key, now)
		}
	}
	var stored []byte
	if key != nil {
		stored = key.Hash
	}
	if !s.Matches(token, stored) || key == nil {
		return nil, errInvalidKey
	}
	return key, nil
}

// CachedKey is Authenticate without the store: the key of token if this
// node trusts it already (nil otherwise).
func (s *Service) CachedKey(token string) *store.APIKey {
	prefix, err := auth.Prefix(token)
	if err != nil {
		return nil
	}
	key := s.keys.get(prefix, s.now())
	if key == nil || !s.Matches(token, key.Hash) {
		return nil
	}
	return key
}

// ForgetKey drops a key from this node's cache at once: after it is
// deleted or changed through this node, or reported revoked elsewhere.
func (s *Service) ForgetKey(prefix string) { s.keys.forget(prefix) }

// Allow charges one request to the team rate limit of key (the API's and
// SMTP's requests share it).
func (s *Service) Allow(ctx context.Context, key *store.APIKey) (ratelimit.Result, error) {
	limit := key.TeamRateLimit
	if limit <= 0 {
		limit = s.cfg.DefaultRateLimit
	}
	return s.cfg.Limiter.Allow(ctx, key.TeamID, limit)
}

// touchKey records a key's use, at most once per touchEvery, off the
// request's path.
func (s *Service) touchKey(k *store.APIKey, now time.Time) {
	if k.LastUsedAt != nil && now.Sub(*k.LastUsedAt) < touchEvery {
		return
	}
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := s.cfg.Store.TouchAPIKey(ctx, k.ID, now.UTC()); err != nil && !errors.Is(err, store.ErrClosed) {
			s.log.Warn("recording api key use failed", "api_key_id", k.ID, "error", err.Error())
		}
	}()
}

// keyCache remembers API keys found by prefix for a short time, so that an
// authenticated request does not cost a database read. A key deleted
// elsewhere (another node, the CLI) stops working once its entry expires; a
// key deleted through this node is dropped at once with forget.
type keyCache struct {
	ttl time.Duration
	max int

	mu      sync.Mutex
	entries map[string]keyCacheEntry
}

type keyCacheEntry struct {
	key     *store.APIKey
	fetched time.Time
}

func newKeyCache(ttl time.Duration, max int) *keyCache {
	return &keyCache{ttl: ttl, max: max, entries: make(map[string]keyCacheEntry)}
}

func (c *keyCache) get(prefix string, now time.Time) *store.APIKey {
	if c.ttl <= 0 {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[prefix]
	if !ok {
		return nil
	}
	if age := now.Sub(e.fetched); age >= c.ttl || age < 0 {
		delete(c.entries, prefix)
		return nil
	}
	return e.key
}

func (c *keyCache) put(k *store.APIKey, now time.Time) {
	if c.ttl <= 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.entries) >= c.max {
		clear(c.entries) // bounded memory; entries refill within one TTL
	}
	c.entries[k.Prefix] = keyCacheEntry{key: k, fetched: now}
}

func (c *keyCache) forget(prefix string) {
	c.mu.Lock()
	delete(c.entries, prefix)
	c.mu.Unlock()
}
