package inbound

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/godwit/godwit/internal/store"
)

// The RCPT cache: each recipient at a receiving domain costs two lookups
// (the domain holding the name, HeldDomain; the address's rule and the
// domain's catch-all, ReceivingRoute). Senders repeat the same domains and
// addresses, so the MX keeps both answers for DomainCacheTTL (5 s by
// default), "no such domain" included. Lookup failures are not kept.
//
// How stale it can be: a change made through this node (a domain deleted,
// updated, unverified by the verifier, a rule or catch-all changed) empties
// the cache at once (Backend.ForgetReceiving, which the server calls from
// the store's OnReceivingChange); a change made on another node sharing
// the database is seen within DomainCacheTTL. A lookup that started before
// a change is not kept after it.

const (
	// DefaultDomainCacheTTL is Backend.DomainCacheTTL when 0.
	DefaultDomainCacheTTL = 5 * time.Second
	// rcptCacheEntries bounds each of the two maps; when one is full it is
	// emptied (it refills within one TTL).
	rcptCacheEntries = 10_000
)

type rcptCache struct {
	ttl  time.Duration
	now  func() time.Time
	gen  atomic.Uint64 // bumped by forget: answers fetched before are not kept
	hits atomic.Uint64
	miss atomic.Uint64

	mu      sync.Mutex
	domains map[string]cacheEntry[*store.Domain]
	routes  map[routeKey]cacheEntry[*store.ReceivingRoute]
}

type routeKey struct{ domainID, local string }

// cacheEntry is one answer: a value, or the error kept (ErrNotFound).
type cacheEntry[V any] struct {
	v       V
	err     error
	fetched time.Time
}

func newRcptCache(ttl time.Duration, now func() time.Time) *rcptCache {
	return &rcptCache{ttl: ttl, now: now, domains: map[string]cacheEntry[*store.Domain]{},
		routes: map[routeKey]cacheEntry[*store.ReceivingRoute]{}}
}

// cached returns m's answer for k while it is fresh, else fetch's, kept
// (unless forget ran meanwhile) when fetch succeeded or failed with an
// error keep accepts. The answer is shared: callers must not change it.
func cached[K comparable, V any](c *rcptCache, m map[K]cacheEntry[V], k K, fetch func() (V, error), keep func(error) bool) (V, error) {
	c.mu.Lock()
	e, ok := m[k]
	c.mu.Unlock()
	if age := c.now().Sub(e.fetched); ok && age >= 0 && age < c.ttl {
		c.hits.Add(1)
		return e.v, e.err
	}
	c.miss.Add(1)
	gen, fetched := c.gen.Load(), c.now()
	v, err := fetch()
	if err != nil && !keep(err) {
		return v, err
	}
	c.mu.Lock()
	if c.gen.Load() == gen {
		if len(m) >= rcptCacheEntries {
			clear(m)
		}
		m[k] = cacheEntry[V]{v: v, err: err, fetched: fetched}
	}
	c.mu.Unlock()
	return v, err
}

func isNotFound(err error) bool { return errors.Is(err, store.ErrNotFound) }

func never(error) bool { return false }

// heldDomain is Receiving.HeldDomain through the cache, "no such domain"
// (store.ErrNotFound) included.
func (c *rcptCache) heldDomain(ctx context.Context, st ReceivingStore, name string) (*store.Domain, error) {
	return cached(c, c.domains, name, func() (*store.Domain, error) { return st.HeldDomain(ctx, name) }, isNotFound)
}

// receivingRoute is Receiving.ReceivingRoute through the cache.
func (c *rcptCache) receivingRoute(ctx context.Context, st ReceivingStore, domainID, local string) (*store.ReceivingRoute, error) {
	return cached(c, c.routes, routeKey{domainID, local},
		func() (*store.ReceivingRoute, error) { return st.ReceivingRoute(ctx, domainID, local) }, never)
}

// forget drops every answer, and those being fetched.
func (c *rcptCache) forget() {
	c.mu.Lock()
	c.gen.Add(1)
	clear(c.domains)
	clear(c.routes)
	c.mu.Unlock()
}

// rcpt returns the Backend's cache, nil when DomainCacheTTL is negative.
func (b *Backend) rcpt() *rcptCache {
	b.rcptOnce.Do(func() {
		ttl := b.DomainCacheTTL
		if ttl == 0 {
			ttl = DefaultDomainCacheTTL
		}
		if ttl > 0 {
			b.rcptCache = newRcptCache(ttl, b.now)
		}
	})
	return b.rcptCache
}

// heldDomain is the domain holding name, through the cache.
func (b *Backend) heldDomain(ctx context.Context, name string) (*store.Domain, error) {
	if c := b.rcpt(); c != nil {
		return c.heldDomain(ctx, b.Receiving, name)
	}
	return b.Receiving.HeldDomain(ctx, name)
}

// receivingRoute is what applies to local@ the domain, through the cache.
func (b *Backend) receivingRoute(ctx context.Context, domainID, local string) (*store.ReceivingRoute, error) {
	if c := b.rcpt(); c != nil {
		return c.receivingRoute(ctx, b.Receiving, domainID, local)
	}
	return b.Receiving.ReceivingRoute(ctx, domainID, local)
}

// ForgetReceiving empties the cache of receiving domains and routes: the
// server calls it after every change of a domain, rule or setting made on
// this node, so that none waits out DomainCacheTTL here.
func (b *Backend) ForgetReceiving() {
	if c := b.rcpt(); c != nil {
		c.forget()
		b.logger().Debug("inbound: receiving domains and routes forgotten after a change")
	}
}

// CacheHits and CacheMisses count the RCPT lookups the cache answered and
// those it made at the store (for the metrics).
func (b *Backend) CacheHits() uint64 {
	if c := b.rcpt(); c != nil {
		return c.hits.Load()
	}
	return 0
}

// CacheMisses: see CacheHits.
func (b *Backend) CacheMisses() uint64 {
	if c := b.rcpt(); c != nil {
		return c.miss.Load()
	}
	return 0
}
