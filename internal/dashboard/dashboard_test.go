package dashboard

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
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
	srv, accounts, team, _ := setupStore(t)
	return srv, accounts, team
}

func setupStore(t *testing.T) (*httptest.Server, *account.Service, *store.Team, *sqlstore.DB) {
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
	return srv, accounts, team, db
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

// The emails list pages by cursor, 50 at a time, newest first, with Newer
// and Older links that lead back and forth; another team's emails never
// show, and another team's email as a cursor is a 404.
func TestEmailsPagination(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	srv, accounts, team, db := setupStore(t)
	other := &store.Team{ID: store.NewID(), Name: "other", CreatedAt: time.Now()}
	require.NoError(t, db.CreateTeam(ctx, other))
	t0 := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	var emails []*store.Email
	for i := range 120 {
		emails = append(emails, &store.Email{ID: store.NewID(), TeamID: team.ID, From: "a@example.com", To: []string{"b@example.net"},
			Subject: fmt.Sprintf("subject %03d", i), LastEvent: store.EventQueued, CreatedAt: t0.Add(time.Duration(i) * time.Second)})
	}
	require.NoError(t, db.AcceptEmails(ctx, &store.Accept{Emails: emails}))
	theirs := &store.Email{ID: store.NewID(), TeamID: other.ID, From: "a@example.com", To: []string{"b@example.net"},
		Subject: "theirs", LastEvent: store.EventQueued, CreatedAt: t0}
	require.NoError(t, db.AcceptEmails(ctx, &store.Accept{Emails: []*store.Email{theirs}}))
	_, link, err := accounts.CreateUser(ctx, team.ID, "ann@example.com", store.RoleViewer)
	require.NoError(t, err)
	sess, err := accounts.SetPassword(ctx, link, "long enough password")
	require.NoError(t, err)

	subjects := regexp.MustCompile(`subject (\d{3})`)
	pager := regexp.MustCompile(`href="/dashboard/emails\?(before|after)=([0-9a-f-]+)"`)
	get := func(query string) (int, []string, map[string]string) {
		req, err := http.NewRequest(http.MethodGet, srv.URL+"/dashboard/emails"+query, nil)
		require.NoError(t, err)
		req.AddCookie(&http.Cookie{Name: sessionCookie, Value: sess.Token})
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		require.NotContains(t, string(body), "theirs")
		var got []string
		for _, m := range subjects.FindAllStringSubmatch(string(body), -1) {
			got = append(got, m[1])
		}
		links := map[string]string{}
		for _, m := range pager.FindAllStringSubmatch(string(body), -1) {
			links[m[1]] = m[2]
		}
		return resp.StatusCode, got, links
	}
	status, first, links := get("")
	require.Equal(t, http.StatusOK, status)
	require.Len(t, first, 50)
	require.Equal(t, "119", first[0], "newest first")
	require.Equal(t, "070", first[49])
	require.Equal(t, map[string]string{"after": emails[70].ID}, links, "only Older on the first page")
	_, second, links := get("?after=" + emails[70].ID)
	require.Len(t, second, 50)
	require.Equal(t, "069", second[0])
	require.Equal(t, map[string]string{"before": emails[69].ID, "after": emails[20].ID}, links)
	_, third, links := get("?after=" + emails[20].ID)
	require.Len(t, third, 20)
	require.Equal(t, map[string]string{"before": emails[19].ID}, links, "only Newer on the last page")
	_, back, links := get("?before=" + emails[19].ID)
	require.Equal(t, second, back, "Newer leads back to the page before")
	require.Equal(t, map[string]string{"before": emails[69].ID, "after": emails[20].ID}, links)
	status, _, _ = get("?after=" + theirs.ID)
	require.Equal(t, http.StatusNotFound, status, "another team's email is no cursor")
	status, _, _ = get("?after=" + emails[1].ID + "&before=" + emails[2].ID)
	require.Equal(t, http.StatusBadRequest, status)
}
