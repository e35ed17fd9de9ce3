// Package dashboard is Godwit's web UI for people: server-rendered pages
// (html/template) with embedded assets, under /dashboard/, on the API's
// listener and optionally on a listener of its own (--dashboard-addr).
//
// # Security model
//
//   - People sign in with an email and password (internal/account); the
//     session is a random token in the cookie godwit_session (HttpOnly,
//     SameSite=Lax, Secure over TLS, Path=/dashboard/), stored as its
//     SHA-256 in the database, so sessions work on every node.
//   - Every query is scoped to the signed-in user's team; another team's
//     email is a 404 page, exactly like an unknown one.
//   - Every POST form carries a CSRF token: an HMAC, with a key derived
//     from the server key, of the session token's hash (or, before
//     sign-in, of a random pre-session cookie). A POST without the right
//     one is a 403 page. Cross-origin POSTs (by Sec-Fetch-Site or Origin)
//     are refused as well (http.CrossOriginProtection).
//   - Every response has a strict Content-Security-Policy (no inline script
//     or style, frame-ancestors 'none'), nosniff and a same-origin
//     referrer policy. An email's HTML is only shown inside <iframe
//     sandbox>, from a path of its own with a CSP that allows no script
//     and no remote load.
//   - Roles: a viewer reads; the admin-only actions refuse viewers with a
//     403 page (the admin middleware on their routes).
package dashboard

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/godwit/godwit/internal/account"
	"github.com/godwit/godwit/internal/domains"
	"github.com/godwit/godwit/internal/store"
	"github.com/godwit/godwit/internal/tracking"
	"github.com/godwit/godwit/internal/webhook"
)

// Store is what the dashboard's pages read.
type Store interface {
	GetTeam(ctx context.Context, id string) (*store.Team, error)
	GetEmail(ctx context.Context, teamID, id string) (*store.Email, error)
	ListEmails(ctx context.Context, teamID string, p store.Page) ([]*store.Email, bool, error)
	GetEmailDetail(ctx context.Context, teamID, emailID string) (*store.EmailDetail, error)
	ListEmailAttachments(ctx context.Context, teamID, emailID string) ([]store.AttachmentInfo, error)
	GetEmailAttachment(ctx context.Context, teamID, emailID string, index int) (*store.Attachment, error)
	emailPageStore
	ListUsers(ctx context.Context, teamID string) ([]*store.User, error)
	webhooksStore
	rateLimitStore
	templatesStore
	broadcastsStore
	segmentsStore
	SearchEmails(ctx context.Context, teamID string, f store.EmailFilter, p store.Page) ([]*store.Email, bool, error)
	ListDomains(ctx context.Context, teamID string) ([]*store.Domain, error)
	EmailMetrics(ctx context.Context, f store.EmailMetricsFilter) ([]*store.EmailMetricsRow, error)
	ListCapturedMessages(ctx context.Context, teamID string, p store.Page) ([]*store.CapturedMessage, bool, error)
	GetCapturedMessage(ctx context.Context, teamID, emailID string) ([]byte, error)
	domainStore   // domains.go
	keyStore      // apikeys.go
	audienceStore // audience.go
}

// Accounts signs people in and out (account.Service).
type Accounts interface {
	SignIn(ctx context.Context, email, password, ip string) (*account.Session, error)
	SetPassword(ctx context.Context, token, password string) (*account.Session, error)
	Authenticate(ctx context.Context, token string) (*store.User, error)
	SignOut(ctx context.Context, token string) error
	SignOutEverywhere(ctx context.Context, teamID, userID string) error
	CreateUser(ctx context.Context, teamID, email, role string) (*store.User, string, error)
}

// Config is what a Handler needs.
type Config struct {
	Store    Store
	Accounts Accounts
	// Keys seals and opens webhook signing secrets (the server key's box,
	// as the API's).
	Keys webhook.Sealer
	// Gate checks a new broadcast's sender as the API does (the server's
	// accept.Service); without it broadcasts cannot be made here.
	Gate Gate
	// CSRFKey signs the forms' CSRF tokens (every node must have the same:
	// derive it from the server key).
	CSRFKey []byte
	// SecureCookies marks cookies Secure even on plain HTTP requests (a
	// TLS-terminating proxy is in front); requests over TLS always are.
	SecureCookies bool
	// PublicURL is where people reach Godwit (--public-url), for the
	// set-password links the dashboard shows; "" for the address the
	// request came to.
	PublicURL string
	// Capture is on when mail is captured, never sent (--delivery
	// capture): the dev inbox shows it.
	Capture bool
	// Now is the clock of the metrics and domain pages (time.Now when nil).
	Now    func() time.Time
	Logger *slog.Logger
	// Domains shapes domains' records and keys, as the API's (domains.go).
	Domains domains.Settings
	// Caches forgets what this node caches of a revoked key or a deleted
	// domain (accept.Service); nil for none.
	Caches Caches
	// VerifyNow, when set, wakes the domain verifier (as the API's).
	VerifyNow func()
	// Resumer, when set, lets an admin resume a domain the reputation guard
	// paused (internal/reputation); nil: the domain page shows the pause
	// only.
	Resumer DomainResumer
	// Tracking signs share links, as the API's; with PublicURL it lets an
	// admin share an email (nil: no share links).
	Tracking *tracking.Signer
}

//go:embed templates/*.html
var templateFS embed.FS

//go:embed assets
var assetFS embed.FS

// Paths of the dashboard.
const (
	Prefix        = "/dashboard/"
	sessionCookie = "godwit_session"
	preCookie     = "godwit_presession"
	cookiePath    = "/dashboard/"
)

// CSP is the Content-Security-Policy of every page.
const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; frame-src 'self'"

// FrameCSP is the policy of an email's HTML in its sandboxed frame: its own
// styles and inline images only; no script, nothing remote. Only the
// dashboard may frame it.
const FrameCSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'self'; base-uri 'none'; form-action 'none'"

// Handler serves the dashboard.
type Handler struct {
	cfg   Config
	log   *slog.Logger
	mux   *http.ServeMux
	pages map[string]*pageTemplate
	cop   *http.CrossOriginProtection
}

// New returns the dashboard's handler, for paths under Prefix.
func New(cfg Config) (*Handler, error) {
	if len(cfg.CSRFKey) < 16 {
		return nil, errors.New("dashboard: CSRF key too short")
	}
	h := &Handler{cfg: cfg, log: cfg.Logger, mux: http.NewServeMux(), cop: http.NewCrossOriginProtection()}
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	pages, err := parsePages()
	if err != nil {
		return nil, err
	}
	h.pages = pages
	h.cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.errorPage(w, r, nil, http.StatusForbidden, "This form was sent from another site, so it was refused.")
	}))
	h.routes()
	return h, nil
}

// ServeHTTP implements http.Handler: every response gets the security
// headers, and cross-origin writes are refused before any handler runs.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hdr := w.Header()
	hdr.Set("Content-Security-Policy", CSP)
	hdr.Set("X-Content-Type-Options", "nosniff")
	hdr.Set("Referrer-Policy", "same-origin")
	hdr.Set("X-Frame-Options", "DENY")
	h.cop.Handler(h.mux).ServeHTTP(w, r)
}

// handlerFunc is a page: it returns an error for the one error page.
type handlerFunc func(w http.ResponseWriter, r *http.Request, s *request) error

// request is what the middleware learned about a request.
type request struct {
	user *store.User // nil before sign-in
	team *store.Team
	// csrfBase is what the request's CSRF token is an HMAC of: the
	// session token's hash, or the pre-session cookie.
	csrfBase string
	// audit is what the handler adds to the request's audit line (note).
	audit []slog.Attr
}

// errNotFound is a 404 page.
var errNotFound = errors.New("not found")

// httpError is an error page with its status and message.
type httpError struct {
	status int
	msg    string
}

func (e *httpError) Error() string { return e.msg }

func forbidden(msg string) error { return &httpError{status: http.StatusForbidden, msg: msg} }

// Access levels of routes.
type access int

const (
	public access = iota
	member
	admin
)

// handle registers a route at the access level. POST routes check the
// CSRF token before the page runs.
func (h *Handler) handle(pattern string, level access, fn handlerFunc) {
	h.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		s := &request{}
		if r.Method == http.MethodPost && level != public {
			sw := &statusWriter{ResponseWriter: w}
			w = sw
			defer h.logAction(r, pattern, s, sw)
		}
		if c, err := r.Cookie(sessionCookie); err == nil && c.Value != "" {
			u, err := h.cfg.Accounts.Authenticate(r.Context(), c.Value)
			switch {
			case err == nil:
				s.user = u
				s.csrfBase = sessionCSRFBase(c.Value)
			case errors.Is(err, account.ErrNoSession):
				h.clearCookie(w, r, sessionCookie)
			default:
				h.fail(w, r, s, fmt.Errorf("authenticate: %w", err))
				return
			}
		}
		if s.user == nil {
			if level != public {
				if r.Method == http.MethodGet || r.Method == http.MethodHead {
					http.Redirect(w, r, Prefix+"sign-in?next="+urlQueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
					return
				}
				h.errorPage(w, r, s, http.StatusForbidden, "Sign in first.")
				return
			}
			s.csrfBase = h.preSession(w, r)
		} else {
			t, err := h.cfg.Store.GetTeam(r.Context(), s.user.TeamID)
			if err != nil {
				h.fail(w, r, s, fmt.Errorf("team of user: %w", err))
				return
			}
			s.team = t
		}
		if r.Method == http.MethodPost {
			if err := r.ParseForm(); err != nil {
				h.errorPage(w, r, s, http.StatusBadRequest, "The form could not be read.")
				return
			}
			if !validCSRF(h.cfg.CSRFKey, s.csrfBase, r.PostFormValue("csrf")) {
				h.errorPage(w, r, s, http.StatusForbidden, "This form has expired or did not come from this dashboard. Go back, reload the page and try again.")
				return
			}
		}
		if level == admin && s.user.Role != store.RoleAdmin {
			h.errorPage(w, r, s, http.StatusForbidden, "Only an admin of the team can do this; you are a viewer.")
			return
		}
		if err := fn(w, r, s); err != nil {
			h.fail(w, r, s, err)
		}
	})
}

// fail writes the error page of err: its own for a 404 or an httpError,
// else a 500 that says nothing of the cause, which is logged.
func (h *Handler) fail(w http.ResponseWriter, r *http.Request, s *request, err error) {
	var he *httpError
	switch {
	case errors.Is(err, errNotFound) || errors.Is(err, store.ErrNotFound):
		h.errorPage(w, r, s, http.StatusNotFound, "There is nothing here, or it is not your team's.")
	case errors.As(err, &he):
		h.errorPage(w, r, s, he.status, he.msg)
	case errors.Is(err, context.Canceled):
	default:
		h.log.Error("dashboard page failed", slog.String("path", r.URL.Path), slog.String("error", err.Error()))
		h.errorPage(w, r, s, http.StatusInternalServerError, "Something went wrong on the server. It has been logged.")
	}
}

// preSession returns the browser's pre-session secret, setting the cookie
// when it has none.
func (h *Handler) preSession(w http.ResponseWriter, r *http.Request) string {
	if c, err := r.Cookie(preCookie); err == nil && len(c.Value) == 43 {
		if _, err := base64.RawURLEncoding.Strict().DecodeString(c.Value); err == nil {
			return "pre:" + c.Value
		}
	}
	b := make([]byte, 32)
	_, _ = rand.Read(b) // crypto/rand never fails on supported systems
	v := base64.RawURLEncoding.EncodeToString(b)
	h.setCookie(w, r, preCookie, v, 0)
	return "pre:" + v
}

// sessionCSRFBase binds a session's CSRF tokens to the session: the hash
// of its token, never the token itself.
func sessionCSRFBase(token string) string {
	sum := sha256.Sum256([]byte(token))
	return "session:" + base64.RawURLEncoding.EncodeToString(sum[:])
}

// csrfToken is the form token for base.
func csrfToken(key []byte, base string) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte("godwit dashboard csrf\x00" + base))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// validCSRF reports, in constant time, whether token is base's.
func validCSRF(key []byte, base, token string) bool {
	if base == "" || len(token) != 43 {
		return false
	}
	return hmac.Equal([]byte(token), []byte(csrfToken(key, base)))
}

func (h *Handler) secure(r *http.Request) bool { return r.TLS != nil || h.cfg.SecureCookies }

func (h *Handler) setCookie(w http.ResponseWriter, r *http.Request, name, value string, maxAge time.Duration) {
	http.SetCookie(w, &http.Cookie{Name: name, Value: value, Path: cookiePath, HttpOnly: true, SameSite: http.SameSiteLaxMode,
		Secure: h.secure(r), MaxAge: int(maxAge / time.Second)})
}

func (h *Handler) clearCookie(w http.ResponseWriter, r *http.Request, name string) {
	http.SetCookie(w, &http.Cookie{Name: name, Value: "", Path: cookiePath, HttpOnly: true, SameSite: http.SameSiteLaxMode,
		Secure: h.secure(r), MaxAge: -1})
}

// clientIP is the address sign-in attempts are counted against.
func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}
