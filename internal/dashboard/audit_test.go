package dashboard

import (
	"context"
	"io"
	"log/slog"
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

func TestPathWildcards(t *testing.T) {
	t.Parallel()
	require.Empty(t, pathWildcards("POST /dashboard/api-keys"))
	require.Empty(t, pathWildcards("GET /dashboard/{$}"))
	require.Equal(t, []string{"id"}, pathWildcards("POST /dashboard/api-keys/{id}/revoke"))
	require.Equal(t, []string{"id", "msg"}, pathWildcards("POST /dashboard/webhooks/{id}/messages/{msg}/replay"))
	require.Equal(t, []string{"rest"}, pathWildcards("GET /x/{rest...}"))
	require.Empty(t, pathWildcards("POST /x/{id"), "an unclosed brace names nothing")
}

// Every form a signed-in person sends is one INFO line "dashboard action"
// with the route, the status, who, the objects and what was made, whatever
// the outcome; nothing typed in the form is logged.
func TestAuditLog(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := godwittest.NewStore(t, sqlstore.SQLite, nil)
	team := &store.Team{ID: store.NewID(), Name: "acme", CreatedAt: time.Now()}
	require.NoError(t, db.CreateTeam(ctx, team))
	accounts, err := account.New(account.Config{Store: db, Params: account.Params{Memory: 64, Time: 1, Threads: 1}})
	require.NoError(t, err)
	var logs godwittest.LogBuffer
	key := []byte("0123456789abcdef0123456789abcdef")
	h, err := New(Config{Store: db, Accounts: accounts, CSRFKey: key,
		Logger: slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelInfo}))})
	require.NoError(t, err)
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)

	admin, link, err := accounts.CreateUser(ctx, team.ID, "admin@example.com", store.RoleAdmin)
	require.NoError(t, err)
	sess, err := accounts.SetPassword(ctx, link, "long enough password")
	require.NoError(t, err)
	viewer := viewerSession(t, accounts, team)
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	post := func(token, path string, form url.Values) (int, string) {
		t.Helper()
		if form.Get("csrf") == "" {
			form.Set("csrf", csrfToken(key, sessionCSRFBase(token)))
		}
		req, err := http.NewRequest(http.MethodPost, srv.URL+path, strings.NewReader(form.Encode()))
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.AddCookie(&http.Cookie{Name: sessionCookie, Value: token})
		resp, err := client.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		return resp.StatusCode, string(b)
	}
	last := func() map[string]any {
		t.Helper()
		recs := logs.Records(t, auditMessage)
		require.NotEmpty(t, recs)
		rec := recs[len(recs)-1]
		require.Equal(t, "INFO", rec["level"])
		return rec
	}

	// A key made: its id, though the page shows the token instead of
	// redirecting; neither its name nor its token is logged.
	status, body := post(sess.Token, "/dashboard/api-keys", url.Values{"name": {"name-typed-in-the-form"}, "permission": {"full_access"}})
	require.Equal(t, http.StatusOK, status)
	token := regexp.MustCompile(`re_[A-Za-z0-9_]+`).FindString(body)
	require.NotEmpty(t, token)
	keys, err := db.ListAPIKeys(ctx, team.ID)
	require.NoError(t, err)
	require.Len(t, keys, 1)
	rec := last()
	require.Equal(t, "POST /dashboard/api-keys", rec["route"])
	require.EqualValues(t, 200, rec["status"])
	require.Equal(t, admin.ID, rec["user_id"])
	require.Equal(t, "admin@example.com", rec["user"])
	require.Equal(t, team.ID, rec["team_id"])
	require.Equal(t, keys[0].ID, rec["api_key_id"])

	// A viewer refused: logged with who tried and on what.
	status, _ = post(viewer.Value, "/dashboard/api-keys/"+keys[0].ID+"/revoke", url.Values{})
	require.Equal(t, http.StatusForbidden, status)
	rec = last()
	require.Equal(t, "POST /dashboard/api-keys/{id}/revoke", rec["route"])
	require.EqualValues(t, 403, rec["status"])
	require.Equal(t, keys[0].ID, rec["id"])
	require.NotEqual(t, admin.ID, rec["user_id"])

	// A stale form refused.
	status, _ = post(sess.Token, "/dashboard/api-keys/"+keys[0].ID+"/revoke", url.Values{"csrf": {"stale"}})
	require.Equal(t, http.StatusForbidden, status)
	require.EqualValues(t, 403, last()["status"])

	// The key revoked: the object and where the browser went.
	status, _ = post(sess.Token, "/dashboard/api-keys/"+keys[0].ID+"/revoke", url.Values{})
	require.Equal(t, http.StatusSeeOther, status)
	rec = last()
	require.EqualValues(t, 303, rec["status"])
	require.Equal(t, keys[0].ID, rec["id"])
	require.Equal(t, "/dashboard/api-keys", rec["location"])

	// Revoked again: not found.
	status, _ = post(sess.Token, "/dashboard/api-keys/"+keys[0].ID+"/revoke", url.Values{})
	require.Equal(t, http.StatusNotFound, status)
	require.EqualValues(t, 404, last()["status"])

	// The rate limit changed, and refused.
	status, _ = post(sess.Token, "/dashboard/settings/rate-limit", url.Values{"rate_limit": {"7"}})
	require.Equal(t, http.StatusOK, status)
	rec = last()
	require.Equal(t, "POST /dashboard/settings/rate-limit", rec["route"])
	require.EqualValues(t, 7, rec["rate_limit"])
	status, _ = post(sess.Token, "/dashboard/settings/rate-limit", url.Values{"rate_limit": {"lots"}})
	require.Equal(t, http.StatusBadRequest, status)
	rec = last()
	require.EqualValues(t, 400, rec["status"])
	require.NotContains(t, rec, "rate_limit")

	// A member added: who, with what role.
	status, _ = post(sess.Token, "/dashboard/settings/members", url.Values{"email": {"bob@example.com"}, "role": {"viewer"}})
	require.Equal(t, http.StatusOK, status)
	rec = last()
	require.Equal(t, "viewer", rec["role"])
	bob, err := db.ListUsers(ctx, team.ID)
	require.NoError(t, err)
	var bobID string
	for _, u := range bob {
		if u.Email == "bob@example.com" {
			bobID = u.ID
		}
	}
	require.Equal(t, bobID, rec["member_id"])

	logged := logs.String()
	require.NotContains(t, logged, "name-typed-in-the-form")
	require.NotContains(t, logged, token)
	require.NotContains(t, logged, sess.Token)
	require.Len(t, logs.Records(t, auditMessage), 8, "one line a form")
}
