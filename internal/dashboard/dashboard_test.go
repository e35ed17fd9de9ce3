package dashboard

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/godwit/godwit/internal/account"
	"github.com/godwit/godwit/internal/godwittest"
	"github.com/godwit/godwit/internal/store"
	"github.com/godwit/godwit/internal/store/sqlstore"
)

// setup is the dashboard on a real SQLite store, behind a loopback server.
func setup(t *testing.T) (*httptest.Server, *account.Service, *store.Team) {
	t.Helper()
	db := godwittest.NewStore(t, sqlstore.SQLite, nil)
	team := &store.Team{ID: store.NewID(), Name: "acme", CreatedAt: time.Now()}
	require.NoError(t, db.CreateTeam(context.Background(), team))
	accounts, err := account.New(account.Config{Store: db, Params: account.Params{Memory: 64, Time: 1, Threads: 1}})
	require.NoError(t, err)
	h, err := New(Config{Store: db, Accounts: accounts, CSRFKey: []byte("0123456789abcdef0123456789abcdef")})
	require.NoError(t, err)
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv, accounts, team
}

// Every response carries the security headers: pages, error pages, assets.
func TestSecurityHeaders(t *testing.T) {
	t.Parallel()
	srv, _, _ := setup(t)
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for path, status := range map[string]int{
		"/dashboard/sign-in": 200, "/dashboard/nope": 404, "/dashboard/assets/style.css": 200,
		"/dashboard/emails": 303, "/dashboard/set-password?token=bad": 400,
	} {
		resp, err := client.Get(srv.URL + path)
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, status, resp.StatusCode, path)
		require.Equal(t, CSP, resp.Header.Get("Content-Security-Policy"), path)
		require.Equal(t, "nosniff", resp.Header.Get("X-Content-Type-Options"), path)
		require.Equal(t, "same-origin", resp.Header.Get("Referrer-Policy"), path)
	}
	resp, err := client.Post(srv.URL+"/dashboard/sign-in", "application/x-www-form-urlencoded",
		strings.NewReader(url.Values{"email": {"a@example.com"}, "password": {"whatever"}}.Encode()))
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(t, http.StatusForbidden, resp.StatusCode, "a sign-in without its CSRF token")
	require.Contains(t, string(body), "did not come from this dashboard")
}

func TestSafeNext(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"":                       "/dashboard/emails",
		"/dashboard/emails?x=1":  "/dashboard/emails?x=1",
		"//evil.example/":        "/dashboard/emails",
		"https://evil.example/":  "/dashboard/emails",
		"/dashboard/\\evil":      "/dashboard/emails",
		"/dashboardx":            "/dashboard/emails",
		"/dashboard/a\r\nX-A: b": "/dashboard/emails",
	} {
		require.Equal(t, want, safeNext(in), in)
	}
}

func FuzzSafeNext(f *testing.F) {
	for _, s := range []string{"", "/dashboard/emails", "//evil.example", "/dashboard//evil", "/\\evil", "/dashboard/%2F%2Fevil"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := safeNext(s)
		require.True(t, strings.HasPrefix(got, Prefix), got)
		u, err := url.Parse(got)
		if err == nil {
			require.Empty(t, u.Host, "never another site: %q", got)
		}
	})
}

func TestCSRFToken(t *testing.T) {
	t.Parallel()
	key := []byte("0123456789abcdef0123456789abcdef")
	tok := csrfToken(key, "session:abc")
	require.True(t, validCSRF(key, "session:abc", tok))
	require.False(t, validCSRF(key, "session:abd", tok), "bound to the session")
	require.False(t, validCSRF([]byte("another key of thirty-two bytes!"), "session:abc", tok), "bound to the key")
	require.False(t, validCSRF(key, "", csrfToken(key, "")), "no session, no token")
	require.False(t, validCSRF(key, "session:abc", ""))
}

// FuzzCSRFToken: no token but the one made for a base passes for it.
func FuzzCSRFToken(f *testing.F) {
	key := []byte("0123456789abcdef0123456789abcdef")
	for _, s := range []string{"", "x", csrfToken(key, "session:a"), strings.Repeat("A", 43), csrfToken(key, "pre:a")} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, tok string) {
		if validCSRF(key, "session:a", tok) {
			require.Equal(t, csrfToken(key, "session:a"), tok)
		}
	})
}

func TestTimeline(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	events := []*store.EmailEvent{
		{Type: store.EventQueued, CreatedAt: t0},
		{Type: store.EventDelivered, Data: json.RawMessage(`{"to":["a@example.net"]}`), CreatedAt: t0.Add(2 * time.Second)},
	}
	attempts := []*store.DeliveryAttempt{
		{Recipient: "a@example.net", Outcome: "deferred", Host: "mx.example.net", Code: 451, CreatedAt: t0.Add(time.Second)},
		{Recipient: "a@example.net", Outcome: "delivered", Host: "mx.example.net", Code: 250, CreatedAt: t0.Add(2 * time.Second)},
	}
	got := timeline(events, attempts)
	require.Len(t, got, 4)
	require.Equal(t, store.EventQueued, got[0].Event)
	require.Equal(t, 451, got[1].Attempt.Code)
	require.Equal(t, 250, got[2].Attempt.Code, "an attempt before the event it caused")
	require.Equal(t, store.EventDelivered, got[3].Event)
	require.Equal(t, `to: ["a@example.net"]`, got[3].Detail)
}
