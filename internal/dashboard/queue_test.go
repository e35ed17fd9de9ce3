package dashboard

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/godwit/godwit/internal/store"
)

// The Queue pages forward, oldest first, 50 at a time, by status; another
// team's emails never show, and an unknown status is refused.
func TestQueuePages(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	srv, accounts, team, db := setupStore(t)
	other := &store.Team{ID: store.NewID(), Name: "other", CreatedAt: time.Now()}
	require.NoError(t, db.CreateTeam(ctx, other))
	t0 := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	var emails []*store.Email
	for i := range 60 {
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
	more := regexp.MustCompile(`rel="next" href="/dashboard/queue\?(?:status=[a-z_]+&amp;)?after=([0-9a-f-]+)"`)
	get := func(query string) (int, []string, string) {
		req, err := http.NewRequest(http.MethodGet, srv.URL+"/dashboard/queue"+query, nil)
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
		next := ""
		if m := more.FindStringSubmatch(string(body)); m != nil {
			next = m[1]
		}
		return resp.StatusCode, got, next
	}
	status, first, next := get("?status=queued")
	require.Equal(t, http.StatusOK, status)
	require.Len(t, first, 50)
	require.Equal(t, "000", first[0], "oldest first")
	require.Equal(t, emails[49].ID, next)
	_, second, next := get("?status=queued&after=" + next)
	require.Len(t, second, 10)
	require.Equal(t, "050", second[0])
	require.Empty(t, next, "the last page")
	_, none, _ := get("?status=scheduled")
	require.Empty(t, none)
	status, _, _ = get("?status=delivered")
	require.Equal(t, http.StatusBadRequest, status, "not a status of the queue")
}
