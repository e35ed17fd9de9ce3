package api

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"sync"
	"time"

	"github.com/godwit/godwit/internal/accept"
	"github.com/godwit/godwit/internal/apierr"
	"github.com/godwit/godwit/internal/auth"
	"github.com/godwit/godwit/internal/store"
	"golang.org/x/time/rate"
)

var (
	errMissingKey = apierr.New(http.StatusUnauthorized, apierr.NameMissingAPIKey,
		"Missing API key in the authorization header. Include the following header in the request: Authorization: Bearer YOUR_API_KEY")
	errTwoAuthHeaders = apierr.New(http.StatusBadRequest, apierr.NameValidation,
		"The request has more than one `Authorization` header. Send one: Authorization: Bearer YOUR_API_KEY")
	errInvalidKey = apierr.New(http.StatusForbidden, apierr.NameInvalidAPIKey, "API key is invalid")
)

// bearerToken returns the API key of a request's Authorization header:
// errMissingKey without one or without a Bearer token in it (a bare key,
// another scheme), errTwoAuthHeaders with several.
func bearerToken(r *http.Request) (string, error) {
	values := r.Header.Values("Authorization")
	switch {
	case len(values) > 1:
		return "", errTwoAuthHeaders
	case len(values) == 0:
		return "", errMissingKey
	}
	token, ok := auth.FromHeader(values[0])
	if !ok {
		return "", errMissingKey
	}
	return token, nil
}

// lookupKey finds the stored key for token (accept.Service.Authenticate):
// an unknown or wrong key is errInvalidKey.
func (h *Handler) lookupKey(ctx context.Context, token string) (*store.APIKey, error) {
	key, err := h.Accept.Authenticate(ctx, token)
	if errors.Is(err, accept.ErrInvalidKey) {
		return nil, errInvalidKey
	}
	return key, err
}

// ForgetKey drops a key from this node's cache, for a key deleted elsewhere
// (the store's KeyRevocations reports them).
func (h *Handler) ForgetKey(prefix string) { h.Accept.ForgetKey(prefix) }

// failedAuth limits, per client address, the failed authentications (an
// unknown or wrong API key) that cost a store lookup: a token bucket of
// burst failures, refilled one per interval. An address whose bucket is
// empty is throttled: only keys this node has cached are accepted from it,
// and everything else is answered 429 without reading the store, so that
// a flood of invalid keys costs no database work. Valid keys are never
// counted.
type failedAuth struct {
	every rate.Limit
	burst int
	max   int // addresses remembered; idle ones are dropped beyond it

	mu      sync.Mutex
	clients map[string]*rate.Limiter
}

func newFailedAuth(burst int, interval time.Duration, max int) *failedAuth {
	if burst <= 0 {
		return nil
	}
	return &failedAuth{every: rate.Every(interval), burst: burst, max: max, clients: map[string]*rate.Limiter{}}
}

// throttled reports whether addr has no failure left, and how long until
// it has one again.
func (f *failedAuth) throttled(addr string, now time.Time) (bool, time.Duration) {
	if f == nil {
		return false, 0
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	l, ok := f.clients[addr]
	if !ok {
		return false, 0
	}
	tokens := l.TokensAt(now)
	if tokens >= 1 {
		return false, 0
	}
	return true, time.Duration((1 - tokens) / float64(f.every) * float64(time.Second))
}

// fail charges one failed authentication to addr.
func (f *failedAuth) fail(addr string, now time.Time) {
	if f == nil {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	l, ok := f.clients[addr]
	if !ok {
		if len(f.clients) >= f.max {
			f.sweep(now)
		}
		l = rate.NewLimiter(f.every, f.burst)
		l.AllowN(now, 0) // the bucket starts full at now, not at the zero time
		f.clients[addr] = l
	}
	l.AllowN(now, 1)
}

// sweep forgets addresses whose bucket is full again (nothing to
// remember), or every address if that is not enough: memory stays bounded
// even under a flood from many addresses.
func (f *failedAuth) sweep(now time.Time) {
	for addr, l := range f.clients {
		if l.TokensAt(now) >= float64(f.burst) {
			delete(f.clients, addr)
		}
	}
	if len(f.clients) >= f.max {
		clear(f.clients)
	}
}

func errAuthThrottled(wait time.Duration) *apierr.Error {
	return apierr.New(http.StatusTooManyRequests, apierr.NameRateLimitExceeded,
		"Too many requests with an invalid API key from this address. Check your API key, and retry after "+
			fmt.Sprint(retryAfterSeconds(wait))+" seconds.")
}

func retryAfterSeconds(wait time.Duration) int {
	return max(1, int(math.Ceil(wait.Seconds())))
}
