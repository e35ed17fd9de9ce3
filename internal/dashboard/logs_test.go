package dashboard

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/godwit/godwit/internal/store"
)

// The Logs list pages by cursor, 50 at a time, newest first, with Newer
// and Older links that lead back and forth; another team's logs never
// show, and another team's log, as a page or a cursor, is a 404. A log's
// page shows its bodies escaped.
func TestLogsPagination(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	srv, accounts, team, db := setupStore(t)
	other := &store.Team{ID: store.NewID(), Name: "other", CreatedAt: time.Now()}
	require.NoError(t, db.CreateTeam(ctx, other))
	t0 := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	var logs []*store.RequestLog
	for i := range 120 {
		logs = append(logs, &store.RequestLog{ID: store.NewID(), TeamID: team.ID, APIKeyID: "key", RequestID: "r",
			Method: "GET", Endpoint: fmt.Sprintf("/emails/path%03d", i), Status: 200, CreatedAt: t0.Add(time.Duration(i) * time.Second),
			RequestBody: json.RawMessage(`{"html":"<script>alert(1)</script>"}`)})
	}
	theirs := &store.RequestLog{ID: store.NewID(), TeamID: other.ID, APIKeyID: "key", Method: "GET", Endpoint: "/theirs",
		Status: 200, CreatedAt: t0}
	require.NoError(t, db.AddRequestLogs(ctx, append(logs, theirs)))
	_, link, err := accounts.CreateUser(ctx, team.ID, "ann@example.com", store.RoleViewer)
	require.NoError(t, err)
	sess, err := accounts.SetPassword(ctx, link, "long enough password")
	require.NoError(t, err)

	paths := regexp.MustCompile(`path(\d{3})`)
	pager := regexp.MustCompile(`href="/dashboard/logs\?(before|after)=([0-9a-f-]+)"`)
	get := func(path string) (int, string) {
		req, err := http.NewRequest(http.MethodGet, srv.URL+path, nil)
		require.NoError(t, err)
		req.AddCookie(&http.Cookie{Name: sessionCookie, Value: sess.Token})
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		require.NotContains(t, string(body), "/theirs")
		return resp.StatusCode, string(body)
	}
	list := func(query string) ([]string, map[string]string) {
		status, body := get("/dashboard/logs" + query)
		require.Equal(t, http.StatusOK, status)
		var got []string
		for _, m := range paths.FindAllStringSubmatch(body, -1) {
			got = append(got, m[1])
		}
		links := map[string]string{}
		for _, m := range pager.FindAllStringSubmatch(body, -1) {
			links[m[1]] = m[2]
		}
		return got, links
	}
	first, links := list("")
	require.Len(t, first, 50)
	require.Equal(t, "119", first[0], "newest first")
	require.Equal(t, map[string]string{"after": logs[70].ID}, links)
	second, links := list("?after=" + logs[70].ID)
	require.Equal(t, "069", second[0])
	require.Equal(t, map[string]string{"before": logs[69].ID, "after": logs[20].ID}, links)
	third, links := list("?after=" + logs[20].ID)
	require.Len(t, third, 20)
	require.Equal(t, map[string]string{"before": logs[19].ID}, links)
	back, _ := list("?before=" + logs[19].ID)
	require.Equal(t, second, back)

	status, _ := get("/dashboard/logs?after=" + theirs.ID)
	require.Equal(t, http.StatusNotFound, status, "another team's log is no cursor")
	status, _ = get("/dashboard/logs/" + theirs.ID)
	require.Equal(t, http.StatusNotFound, status)
	status, _ = get("/dashboard/logs?after=" + logs[1].ID + "&before=" + logs[2].ID)
	require.Equal(t, http.StatusBadRequest, status)
	status, body := get("/dashboard/logs/" + logs[5].ID)
	require.Equal(t, http.StatusOK, status)
	require.Contains(t, body, `&#34;html&#34;: &#34;&lt;script&gt;alert(1)&lt;/script&gt;&#34;`, "escaped text")
	require.NotContains(t, body, "<script>")
}
