package dnscheck

import (
	"container/list"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/miekg/dns"
)

// Cache defaults.
const (
	// DefaultCacheEntries bounds a Cache when MaxEntries is 0.
	DefaultCacheEntries = 10_000
	// DefaultCacheMaxTTL caps how long an answer is kept when MaxTTL is 0,
	// whatever TTL it was published with.
	DefaultCacheMaxTTL = time.Hour
	// DefaultNegativeTTL caps how long an empty answer (NXDOMAIN or NODATA)
	// is kept when NegativeTTL is 0.
	DefaultNegativeTTL = time.Minute
)

// Cache keeps the answers a Resolver got, per name and type, for as long as
// their TTL allows, so that repeated lookups of the same records (every
// message of a sender checks the same SPF and DMARC records and DKIM keys)
// do not each cost a query. Set it as Resolver.Cache; one Cache serves one
// DNS server (Resolver.Addr). It is safe for concurrent use.
//
// What is kept, and how long:
//   - an answer with records: the smallest TTL among the records used
//     (those of the type asked and the CNAMEs followed to them), at most
//     MaxTTL;
//   - an empty answer (NXDOMAIN, or the name exists without records of the
//     type): the negative TTL of the zone's SOA record in the authority
//     section (the smaller of its TTL and its minimum field, RFC 2308 §5),
//     at most NegativeTTL; NegativeTTL when the answer has no SOA;
//   - nothing else: a failed lookup (SERVFAIL, a timeout, a network error)
//     is asked again each time, and an answer with TTL 0 is not kept.
//
// At most MaxEntries answers are kept; beyond that the least recently used
// is dropped. Answers are shared between callers, who must not change them.
type Cache struct {
	MaxEntries  int              // 0 = DefaultCacheEntries
	MaxTTL      time.Duration    // 0 = DefaultCacheMaxTTL
	NegativeTTL time.Duration    // 0 = DefaultNegativeTTL
	Now         func() time.Time // nil = time.Now

	hits, misses atomic.Uint64

	mu      sync.Mutex
	entries map[cacheKey]*list.Element // of *cacheEntry
	lru     list.List                  // front: most recently used
}

type cacheKey struct {
	name  string // lower-case FQDN
	qtype uint16
}

type cacheEntry struct {
	key     cacheKey
	rrs     []dns.RR
	nx      bool
	expires time.Time
}

// Hits is how many lookups the cache answered.
func (c *Cache) Hits() uint64 { return c.hits.Load() }

// Misses is how many lookups were asked of the server (the cache had no
// live answer).
func (c *Cache) Misses() uint64 { return c.misses.Load() }

// Len is how many answers the cache holds (some may have expired).
func (c *Cache) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.entries)
}

func (c *Cache) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

func newCacheKey(fqdn string, qtype uint16) cacheKey {
	return cacheKey{name: strings.ToLower(fqdn), qtype: qtype}
}

// get returns the live answer for key.
func (c *Cache) get(key cacheKey) (rrs []dns.RR, nx, ok bool) {
	now := c.now()
	c.mu.Lock()
	defer c.mu.Unlock()
	el, found := c.entries[key]
	if !found {
		c.misses.Add(1)
		return nil, false, false
	}
	e := el.Value.(*cacheEntry)
	if !now.Before(e.expires) {
		c.lru.Remove(el)
		delete(c.entries, key)
		c.misses.Add(1)
		return nil, false, false
	}
	c.lru.MoveToFront(el)
	c.hits.Add(1)
	return e.rrs, e.nx, true
}

// put keeps an answer for ttl (already bounded by the answer's kind).
func (c *Cache) put(key cacheKey, rrs []dns.RR, nx bool, ttl time.Duration) {
	if ttl <= 0 {
		return
	}
	e := &cacheEntry{key: key, rrs: rrs, nx: nx, expires: c.now().Add(ttl)}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.entries == nil {
		c.entries = make(map[cacheKey]*list.Element)
	}
	if el, ok := c.entries[key]; ok {
		el.Value = e
		c.lru.MoveToFront(el)
		return
	}
	c.entries[key] = c.lru.PushFront(e)
	for len(c.entries) > c.maxEntries() {
		oldest := c.lru.Back()
		c.lru.Remove(oldest)
		delete(c.entries, oldest.Value.(*cacheEntry).key)
	}
}

func (c *Cache) maxEntries() int {
	if c.MaxEntries > 0 {
		return c.MaxEntries
	}
	return DefaultCacheEntries
}

// positiveTTL is how long records are kept: their smallest TTL (in
// seconds, as published), at most MaxTTL.
func (c *Cache) positiveTTL(minTTL uint32) time.Duration {
	limit := c.MaxTTL
	if limit <= 0 {
		limit = DefaultCacheMaxTTL
	}
	return min(time.Duration(minTTL)*time.Second, limit)
}

// negativeTTL is how long an empty answer is kept: the SOA's negative TTL
// when the answer carries one, at most NegativeTTL.
func (c *Cache) negativeTTL(resp *dns.Msg) time.Duration {
	limit := c.NegativeTTL
	if limit <= 0 {
		limit = DefaultNegativeTTL
	}
	for _, rr := range resp.Ns {
		if soa, ok := rr.(*dns.SOA); ok {
			return min(time.Duration(min(soa.Hdr.Ttl, soa.Minttl))*time.Second, limit)
		}
	}
	return limit
}
