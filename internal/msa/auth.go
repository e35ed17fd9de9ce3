package msa

import (
	"errors"
	"sync"
	"time"

	"github.com/emersion/go-sasl"
)

// loginServer is the server side of AUTH LOGIN (draft-murchison-sasl-login),
// which go-sasl implements only as a client: the username and the password,
// each asked for with a base64 prompt.
type loginServer struct {
	step     int
	username string
	auth     func(username, password string) error
}

var errLoginSequence = errors.New("unexpected LOGIN response")

func (l *loginServer) Next(response []byte) (challenge []byte, done bool, err error) {
	switch l.step {
	case 0:
		l.step = 1
		if response != nil {
			// The username came as the initial response.
			l.username = string(response)
			l.step = 2
			return []byte("Password:"), false, nil
		}
		return []byte("Username:"), false, nil
	case 1:
		l.username = string(response)
		l.step = 2
		return []byte("Password:"), false, nil
	case 2:
		l.step = 3
		return nil, true, l.auth(l.username, string(response))
	}
	return nil, false, errLoginSequence
}

var _ sasl.Server = (*loginServer)(nil)

// failureTracker counts failed AUTH attempts per client IP address over a
// window, to slow down whoever guesses keys.
type failureTracker struct {
	window time.Duration
	max    int // entries kept; past it the oldest half is forgotten

	mu      sync.Mutex
	entries map[string]*failures
}

type failures struct {
	count int
	since time.Time
}

func newFailureTracker(window time.Duration) *failureTracker {
	return &failureTracker{window: window, max: 100_000, entries: map[string]*failures{}}
}

// add records one failure from ip and returns how many it has made in the
// current window.
func (t *failureTracker) add(ip string, now time.Time) int {
	t.mu.Lock()
	defer t.mu.Unlock()
	f := t.entries[ip]
	if f == nil || now.Sub(f.since) > t.window {
		if len(t.entries) >= t.max {
			for k, v := range t.entries {
				if now.Sub(v.since) > t.window || len(t.entries) >= t.max/2 {
					delete(t.entries, k)
				}
			}
		}
		f = &failures{since: now}
		t.entries[ip] = f
	}
	f.count++
	return f.count
}

// delay is the wait before answering the n-th failure from one address:
// base, doubling with every failure, at most limit.
func delay(base, limit time.Duration, n int) time.Duration {
	d := base
	for i := 1; i < n && d < limit; i++ {
		d *= 2
	}
	return min(d, limit)
}
