package api

import (
	"sync"
	"time"

	"github.com/godwit/godwit/internal/store"
)

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

// forget drops a key at once (after it is deleted or changed through this node).
func (c *keyCache) forget(prefix string) {
	c.mu.Lock()
	delete(c.entries, prefix)
	c.mu.Unlock()
}

// ForgetKey drops a key from this node's cache, for a key deleted elsewhere
// (the store's KeyRevocations reports them).
func (h *Handler) ForgetKey(prefix string) { h.keys.forget(prefix) }
