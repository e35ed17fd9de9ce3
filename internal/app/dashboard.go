package app

import (
	"crypto/hkdf"
	"crypto/sha256"
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/godwit/godwit/internal/account"
	"github.com/godwit/godwit/internal/config"
	"github.com/godwit/godwit/internal/dashboard"
	"github.com/godwit/godwit/internal/domains"
	"github.com/godwit/godwit/internal/httplisten"
	"github.com/godwit/godwit/internal/secretbox"
	"github.com/godwit/godwit/internal/store/sqlstore"
	"github.com/godwit/godwit/internal/tracking"
)

// dashboardDeps are what the dashboard shares with the API: the domains'
// settings, the accept caches to forget revoked keys and deleted domains
// in, and the verifier's wake-up.
type dashboardDeps struct {
	domains   domains.Settings
	caches    dashboard.Caches
	verifyNow func()
	// gate checks a new broadcast's sender (the server's accept.Service).
	gate dashboard.Gate
	// tracker signs share links, as the API's.
	tracker *tracking.Signer
	// resumer resumes domains the reputation guard paused.
	resumer dashboard.DomainResumer
}

// newDashboard builds the dashboard and the account service behind it. Its
// CSRF key is derived from the server key, so every node checks the forms
// of every other.
func newDashboard(cfg config.Config, db *sqlstore.DB, key []byte, deps dashboardDeps, log *slog.Logger) (*dashboard.Handler, error) {
	accounts, err := account.New(account.Config{Store: db})
	if err != nil {
		return nil, err
	}
	csrfKey, err := hkdf.Key(sha256.New, key, nil, "godwit dashboard csrf", 32)
	if err != nil {
		return nil, fmt.Errorf("dashboard key: %w", err)
	}
	box, err := secretbox.New(key)
	if err != nil {
		return nil, fmt.Errorf("dashboard key: %w", err)
	}
	dash, err := dashboard.New(dashboard.Config{
		Store:         db,
		Accounts:      accounts,
		Keys:          box,
		Gate:          deps.gate,
		CSRFKey:       csrfKey,
		SecureCookies: strings.HasPrefix(cfg.PublicURL, "https://"),
		PublicURL:     cfg.PublicURL,
		Capture:       cfg.Delivery == "capture",
		Logger:        log,
		Domains:       deps.domains,
		Caches:        deps.caches,
		VerifyNow:     deps.verifyNow,
		Resumer:       deps.resumer,
		Tracking:      deps.tracker,
	})
	if err != nil {
		return nil, err
	}
	return dash, nil
}

// withDashboard serves the dashboard under /dashboard/ beside the API, and
// sends a browser that asks for / to it; every other path is the API's.
func withDashboard(api, dash http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := r.URL.Path
		switch {
		case strings.HasPrefix(p, dashboard.Prefix):
			dash.ServeHTTP(w, r)
		case p == "/dashboard" || (p == "/" && (r.Method == http.MethodGet || r.Method == http.MethodHead) && wantsHTML(r)):
			http.Redirect(w, r, dashboard.Prefix, http.StatusFound)
		default:
			api.ServeHTTP(w, r)
		}
	})
}

// wantsHTML reports whether the request is a browser's navigation.
func wantsHTML(r *http.Request) bool {
	return strings.Contains(r.Header.Get("Accept"), "text/html")
}

// serveDashboard is the dashboard's own listener (--dashboard-addr): the
// same paths as on the API's, and / leads to them.
func serveDashboard(cfg config.Config, dash http.Handler, tlsCfg *tls.Config, log *slog.Logger) *httplisten.Server {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, dashboard.Prefix) {
			dash.ServeHTTP(w, r)
			return
		}
		http.Redirect(w, r, dashboard.Prefix, http.StatusFound)
	})
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: time.Minute, IdleTimeout: 120 * time.Second,
		ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
	return &httplisten.Server{Addr: cfg.DashboardAddr, HTTP: srv, TLSConfig: tlsCfg, Logger: log, Listening: func(addr net.Addr) {
		log.Info("serving the dashboard", slog.String("addr", addr.String()), slog.Bool("tls", tlsCfg != nil))
	}}
}
