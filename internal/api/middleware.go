package api

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"path"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/godwit/godwit/internal/apierr"
	"github.com/godwit/godwit/internal/store"
)

type ctxKey int

const (
	ctxRequestID ctxKey = iota
	ctxAPIKey
	ctxKeptBody // *keptBody: the request body read, for its log
)

func requestID(ctx context.Context) string {
	s, _ := ctx.Value(ctxRequestID).(string)
	return s
}

// callerKey is the authenticated key of the request.
func callerKey(ctx context.Context) *store.APIKey {
	k, _ := ctx.Value(ctxAPIKey).(*store.APIKey)
	return k
}

// statusWriter remembers the status for the access log.
type statusWriter struct {
	http.ResponseWriter
	status int
	bytes  int
}

func (s *statusWriter) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusWriter) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	n, err := s.ResponseWriter.Write(b)
	s.bytes += n
	return n, err
}

func (s *statusWriter) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// ServeHTTP is the outermost layer: request id, access log, panic recovery,
// path normalisation, and Resend-shaped 404 and 405 answers (for Resend's
// own paths that the route table does not serve, resendpaths.go).
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	id := r.Header.Get("X-Request-Id")
	if id == "" || len(id) > 128 || strings.ContainsAny(id, "\r\n") {
		var b [12]byte
		_, _ = rand.Read(b[:])
		id = hex.EncodeToString(b[:])
	}
	w.Header().Set("X-Request-Id", id)
	ctx := context.WithValue(r.Context(), ctxRequestID, id)
	r = r.WithContext(ctx)
	sw := &statusWriter{ResponseWriter: w}
	var pattern string // the route's, for the metrics ("": none matched)

	defer func() {
		if p := recover(); p != nil {
			if p == http.ErrAbortHandler {
				panic(p)
			}
			h.Logger.ErrorContext(ctx, "panic serving request", slog.String("request_id", id),
				slog.String("panic", fmt.Sprint(p)), slog.String("stack", string(debug.Stack())))
			if sw.status == 0 {
				apierr.Write(sw, apierr.Internal)
			}
		}
		attrs := []slog.Attr{
			slog.String("request_id", id), slog.String("method", r.Method), slog.String("path", logPath(r.URL.Path)),
			slog.Int("status", sw.status), slog.Duration("duration", time.Since(start)),
		}
		if k := callerKey(r.Context()); k != nil {
			attrs = append(attrs, slog.String("team_id", k.TeamID), slog.String("api_key_id", k.ID))
		}
		h.Logger.LogAttrs(ctx, slog.LevelDebug, "request", attrs...)
		h.Metrics.HTTPRequest(pattern, cmp.Or(sw.status, http.StatusOK), time.Since(start))
	}()

	cleanPath(r)
	if p := r.URL.Path; p != path.Clean(p) && p != path.Clean(p)+"/" {
		// Dot segments: the mux would answer with a redirect, not JSON.
		apierr.Write(sw, apierr.NotFound("The requested endpoint does not exist."))
		return
	}
	_, pattern = h.mux.Handler(r)
	if e, allow := h.fallback(r, pattern); e != nil {
		pattern = "" // no route of ours answered
		if allow != "" {
			sw.Header().Set("Allow", allow)
		}
		apierr.Write(sw, e)
		return
	}
	if pattern == "" {
		status, allow := probe(h.mux, r)
		if status == http.StatusMethodNotAllowed {
			sw.Header().Set("Allow", allow)
			apierr.Write(sw, apierr.New(http.StatusMethodNotAllowed, apierr.NameMethodNotAllowed, "Method is not allowed for the requested path."))
			return
		}
		apierr.Write(sw, apierr.NotFound("The requested endpoint does not exist."))
		return
	}
	h.mux.ServeHTTP(sw, r)
}

// cleanPath collapses repeated slashes: the Node SDK sends //emails when its
// base URL ends in a slash.
func cleanPath(r *http.Request) {
	if !strings.Contains(r.URL.Path, "//") {
		return
	}
	collapse := func(p string) string {
		for strings.Contains(p, "//") {
			p = strings.ReplaceAll(p, "//", "/")
		}
		return p
	}
	r.URL.Path = collapse(r.URL.Path)
	if r.URL.RawPath != "" {
		r.URL.RawPath = collapse(r.URL.RawPath)
	}
}

// probeWriter captures what the mux's own not-found and method-not-allowed
// handlers would answer, so that they can be answered in Resend's envelope.
type probeWriter struct {
	header http.Header
	status int
}

func (p *probeWriter) Header() http.Header         { return p.header }
func (p *probeWriter) Write(b []byte) (int, error) { return len(b), nil }
func (p *probeWriter) WriteHeader(code int)        { p.status = code }

func probe(mux *http.ServeMux, r *http.Request) (int, string) {
	pw := &probeWriter{header: http.Header{}}
	h, _ := mux.Handler(r)
	h.ServeHTTP(pw, r)
	return pw.status, pw.header.Get("Allow")
}

// authenticate checks the API key and the team's rate limit.
func (h *Handler) authenticate(a access, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		token, err := bearerToken(r)
		if err != nil {
			apierr.Write(w, apierr.As(err))
			return
		}
		// An address that has failed too often is served from the key
		// cache only: its next invalid key costs no store lookup.
		addr, now := clientIP(r), h.Now()
		var key *store.APIKey
		if throttled, wait := h.failedAuth.throttled(addr, now); throttled {
			if key = h.Accept.CachedKey(token); key == nil {
				w.Header().Set("retry-after", strconv.Itoa(retryAfterSeconds(wait)))
				apierr.Write(w, errAuthThrottled(wait))
				return
			}
		} else if key, err = h.lookupKey(r.Context(), token); err != nil {
			if errors.Is(err, errInvalidKey) {
				h.failedAuth.fail(addr, now)
			}
			h.writeError(w, r, err)
			return
		}
		r = r.WithContext(context.WithValue(r.Context(), ctxAPIKey, key))
		w, r, done := h.recordRequest(w, r, key)
		defer done()
		res, err := h.Accept.Allow(r.Context(), key)
		if err != nil {
			h.writeError(w, r, fmt.Errorf("rate limiter: %w", err))
			return
		}
		reset := int((res.Reset + time.Second - 1) / time.Second)
		if reset < 1 {
			reset = 1
		}
		hdr := w.Header()
		hdr.Set("ratelimit-limit", strconv.Itoa(res.Limit))
		hdr.Set("ratelimit-remaining", strconv.Itoa(res.Remaining))
		hdr.Set("ratelimit-reset", strconv.Itoa(reset))
		hdr.Set("ratelimit-policy", strconv.Itoa(res.Limit)+";w=1")
		if !res.Allowed {
			hdr.Set("retry-after", strconv.Itoa(reset))
			apierr.Write(w, errRateLimited(key.TeamID, res.Limit))
			return
		}
		if a == fullAccess && key.Permission != store.PermissionFullAccess {
			apierr.Write(w, apierr.New(http.StatusUnauthorized, apierr.NameRestrictedAPIKey, "This API key is restricted to only send emails."))
			return
		}
		next.ServeHTTP(w, r)
	})
}

// errRateLimited is the 429 of a team over its rate limit: Resend's name
// and first sentences, then, where Resend says to contact its support,
// what this team's limit is and how a self-hosting operator raises it.
func errRateLimited(teamID string, limit int) error {
	return apierr.New(http.StatusTooManyRequests, apierr.NameRateLimitExceeded, fmt.Sprintf(
		"Too many requests. Please limit the number of requests per second. This team may make %d per second; "+
			"the server's operator can raise it with `godwit teams set-rate-limit --team %s --limit N`.", limit, teamID))
}

func (h *Handler) healthz(w http.ResponseWriter, r *http.Request) error {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	return nil
}

func (h *Handler) readyz(w http.ResponseWriter, r *http.Request) error {
	if h.Ready != nil && !h.Ready() {
		return errUnavailable
	}
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if err := h.Store.Ping(ctx); err != nil {
		h.Logger.WarnContext(ctx, "readiness check failed", slog.String("error", err.Error()))
		return errUnavailable
	}
	if h.Writable != nil {
		if err := h.Writable(); err != nil {
			h.Logger.WarnContext(ctx, "readiness check failed: the store cannot write", slog.String("error", err.Error()))
			if store.IsNoSpace(err) {
				return apierr.StorageFull
			}
			return errUnavailable
		}
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
	return nil
}
