package api

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/godwit/godwit/internal/auth"
	"github.com/godwit/godwit/internal/store"
	"github.com/godwit/godwit/internal/store/sqlstore"
)

// unknownKey is a well-formed key whose prefix no key has.
func unknownKey(t *testing.T) string {
	t.Helper()
	token, _, _, err := auth.NewToken()
	require.NoError(t, err)
	return token
}

func TestAuthorizationHeader(t *testing.T) {
	t.Parallel()
	e := setup(t, sqlstore.SQLite)
	requireError(t, e.do("GET", "/domains", "", ""), 401, "missing_api_key", "Authorization: Bearer YOUR_API_KEY")
	// Only the Bearer scheme carries a key: a bare key (even a valid one),
	// another scheme or a scheme without a key is a missing key.
	for _, v := range []string{e.keyA, "Basic " + e.keyA, "Token " + e.keyA, "Bearer", "Bearer   ", "   "} {
		requireError(t, e.do("GET", "/domains", "", "", "Authorization", v), 401, "missing_api_key", "Bearer")
	}
	require.Equal(t, 200, e.do("GET", "/domains", "", "", "Authorization", "bearer  "+e.keyA+" ").status, "the scheme in any case")

	// Two Authorization headers: refused before any key is looked at.
	for _, second := range []string{"Bearer " + e.keyA, "Bearer " + e.keyB, ""} {
		req, err := http.NewRequest("GET", e.srv.URL+"/domains", nil)
		require.NoError(t, err)
		req.Header.Add("Authorization", "Bearer "+e.keyA)
		req.Header.Add("Authorization", second)
		resp, err := e.srv.Client().Do(req)
		require.NoError(t, err)
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		require.NoError(t, err)
		r := result{status: resp.StatusCode, body: body}
		require.NoError(t, json.Unmarshal(body, &r.json))
		requireError(t, r, 400, "validation_error", "more than one `Authorization` header")
	}
}

// TestUnknownPrefixDoesTheSameWork: an unknown prefix and a wrong secret
// both end in exactly one hash comparison against a stored-size hash, so
// neither answer is quicker (asserted on the work, not on a clock).
func TestUnknownPrefixDoesTheSameWork(t *testing.T) {
	t.Parallel()
	e := setup(t, sqlstore.SQLite, func(d *Deps) { d.KeyCacheTTL = -1 }) // every request reaches the store
	var mu sync.Mutex
	var calls []int // the length of the hash each call compared against
	e.handler.Accept.Matches = func(token string, hash []byte) bool {
		mu.Lock()
		calls = append(calls, len(hash))
		mu.Unlock()
		return auth.Matches(token, hash)
	}
	work := func(key string) []int {
		t.Helper()
		mu.Lock()
		calls = nil
		mu.Unlock()
		e.do("GET", "/domains", key, "")
		mu.Lock()
		defer mu.Unlock()
		return calls
	}
	wrongSecret := e.keyA[:len(e.keyA)-4] + "AAAA"
	requireError(t, e.do("GET", "/domains", wrongSecret, ""), 403, "invalid_api_key", "API key is invalid")
	requireError(t, e.do("GET", "/domains", unknownKey(t), ""), 403, "invalid_api_key", "API key is invalid")
	require.Equal(t, []int{32}, work(wrongSecret), "a wrong secret: one comparison with the key's hash")
	require.Equal(t, []int{0}, work(unknownKey(t)), "an unknown prefix: one comparison, with nil for the dummy hash")
	require.Equal(t, []int{0}, work("re_nonsense"), "a malformed key: the same comparison")
	require.Equal(t, []int{32}, work(e.keyA), "a valid key: one comparison")
}

// countingStore is a real store that counts API key lookups.
type countingStore struct {
	Store
	lookups atomic.Int64
}

func (c *countingStore) APIKeyByPrefix(ctx context.Context, prefix string) (*store.APIKey, error) {
	c.lookups.Add(1)
	return c.Store.APIKeyByPrefix(ctx, prefix)
}

func TestFailedAuthenticationsAreThrottled(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, kind sqlstore.Dialect) {
		var counted *countingStore
		e := setup(t, kind, func(d *Deps) {
			counted = &countingStore{Store: d.Store}
			d.Store, d.FailedAuthBurst, d.FailedAuthInterval = counted, 5, 2*time.Second
		})
		require.Equal(t, 200, e.do("GET", "/domains", e.keyA, "").status) // now in the key cache
		start := counted.lookups.Load()

		for range 5 {
			requireError(t, e.do("GET", "/domains", unknownKey(t), ""), 403, "invalid_api_key")
		}
		require.Equal(t, start+5, counted.lookups.Load())
		for range 50 {
			r := e.do("GET", "/emails", unknownKey(t), "")
			requireError(t, r, 429, "rate_limit_exceeded", "invalid API key")
			require.Equal(t, "2", r.header.Get("retry-after"))
		}
		require.Equal(t, start+5, counted.lookups.Load(), "a throttled address costs no store lookup")
		wrongSecret := e.keyA[:len(e.keyA)-4] + "AAAA"
		requireError(t, e.do("GET", "/domains", wrongSecret, ""), 429, "rate_limit_exceeded")
		requireError(t, e.do("GET", "/domains", e.keyB, ""), 429, "rate_limit_exceeded", "invalid API key")
		require.Equal(t, 200, e.do("GET", "/domains", e.keyA, "").status, "a key this node trusts already still works")
		requireError(t, e.do("GET", "/domains", "", ""), 401, "missing_api_key")
		require.Equal(t, start+5, counted.lookups.Load())

		// Another address is not affected.
		req := httptest.NewRequest("GET", "/domains", nil)
		req.RemoteAddr = "192.0.2.7:40000"
		req.Header.Set("Authorization", "Bearer "+unknownKey(t))
		rec := httptest.NewRecorder()
		e.handler.ServeHTTP(rec, req)
		require.Equal(t, 403, rec.Code, rec.Body.String())
		require.Equal(t, start+6, counted.lookups.Load())

		// One failure comes back per interval.
		e.clock.Advance(2 * time.Second)
		requireError(t, e.do("GET", "/domains", unknownKey(t), ""), 403, "invalid_api_key")
		requireError(t, e.do("GET", "/domains", unknownKey(t), ""), 429, "rate_limit_exceeded")
		require.Equal(t, start+7, counted.lookups.Load())
		e.clock.Advance(2 * time.Second)
		require.Equal(t, 200, e.do("GET", "/domains", e.keyB, "").status, "valid keys are looked up again")
		require.Equal(t, 200, e.do("GET", "/domains", e.keyB, "").status, "and are not counted as failures")
	})
}

func TestFailedAuthForgetsIdleAddresses(t *testing.T) {
	t.Parallel()
	f := newFailedAuth(2, time.Second, 3)
	now := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	for _, addr := range []string{"a", "b", "c"} {
		f.fail(addr, now)
	}
	f.fail("a", now)
	throttled, wait := f.throttled("a", now)
	require.True(t, throttled)
	require.Equal(t, time.Second, wait)
	f.fail("d", now.Add(1500*time.Millisecond)) // b's and c's buckets are full again; a's is not
	require.Len(t, f.clients, 2)
	require.Contains(t, f.clients, "a")
	require.Contains(t, f.clients, "d")
	for i := range 10 {
		f.fail(strings.Repeat("x", i+1), now)
	}
	require.LessOrEqual(t, len(f.clients), 3, "bounded under a flood from many addresses")
	var nilLimit *failedAuth
	throttled, _ = nilLimit.throttled("a", now)
	require.False(t, throttled, "a disabled limit throttles nobody")
}

// TestFailedAuthThrottleOff: a negative burst (--auth-failures-per-ip 0)
// turns the throttle off, for servers behind a proxy where every client
// has the proxy's address: invalid keys stay 403s however many there are.
func TestFailedAuthThrottleOff(t *testing.T) {
	t.Parallel()
	e := setup(t, sqlstore.SQLite, func(d *Deps) { d.FailedAuthBurst = -1 })
	for i := 0; i < 40; i++ {
		requireError(t, e.do("GET", "/domains", "re_invalid_"+strconv.Itoa(i), ""), 403, "invalid_api_key")
	}
	require.Equal(t, 200, e.do("GET", "/domains", e.keyA, "").status)
}
