package dashboard

import (
	"context"
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
	"github.com/godwit/godwit/internal/store"
)

func TestParseEmailFilter(t *testing.T) {
	t.Parallel()
	form, f, err := parseEmailFilter(url.Values{"status": {"delivered"}, "domain": {"d1"}, "tag": {" kind = welcome "},
		"to": {" Bob@Example.net "}, "since": {"2026-12-01"}, "until": {"2026-12-02"}})
	require.NoError(t, err)
	require.Equal(t, "Bob@Example.net", form.To)
	require.Equal(t, store.EmailFilter{Status: "delivered", DomainID: "d1", Tag: &store.Tag{Name: "kind", Value: "welcome"},
		Recipient: "Bob@Example.net", Since: time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC),
		Until: time.Date(2026, 12, 3, 0, 0, 0, 0, time.UTC)}, f, "until includes its day")
	_, f, err = parseEmailFilter(url.Values{"tag": {"kind:welcome"}})
	require.NoError(t, err)
	require.Equal(t, &store.Tag{Name: "kind", Value: "welcome"}, f.Tag)
	_, f, err = parseEmailFilter(url.Values{})
	require.NoError(t, err)
	require.Equal(t, store.EmailFilter{}, f)
	for _, bad := range []url.Values{
		{"status": {"lost"}}, {"tag": {"=x"}}, {"tag": {"novalue"}}, {"since": {"yesterday"}}, {"until": {"2026-13-01"}},
		{"since": {"2026-12-02"}, "until": {"2026-12-01"}}, {"to": {strings.Repeat("a", maxFilterLen+1)}}, {"to": {"\xff"}},
	} {
		_, _, err := parseEmailFilter(bad)
		require.Error(t, err, "%v", bad)
	}
}

// FuzzParseEmailFilter: any query either is refused or gives a filter
// whose form links back to the same filter.
func FuzzParseEmailFilter(f *testing.F) {
	for _, s := range []string{"", "status=delivered", "tag=a%3Db&to=x%40y", "since=2026-12-01&until=2026-11-01", "tag=:", "to=%ff", "status=opened&domain=x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		q, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		form, filter, err := parseEmailFilter(q)
		if err != nil {
			return
		}
		form2, filter2, err := parseEmailFilter(form.values())
		require.NoError(t, err)
		require.Equal(t, form, form2)
		require.Equal(t, filter, filter2)
		if !filter.Since.IsZero() && !filter.Until.IsZero() {
			require.True(t, filter.Since.Before(filter.Until))
		}
	})
}

// The filtered list pages by cursor with its filter kept in the Newer and
// Older links.
func TestEmailsFilterPagination(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	srv, accounts, team, db := setupStore(t)
	t0 := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	var emails []*store.Email
	for i := range 130 {
		status, to := store.EventDelivered, "b@example.net"
		if i%2 == 1 {
			status, to = store.EventBounced, "c@example.net"
		}
		emails = append(emails, &store.Email{ID: store.NewID(), TeamID: team.ID, From: "a@example.com", To: []string{to},
			Subject: fmt.Sprintf("subject %03d", i), LastEvent: status, CreatedAt: t0.Add(time.Duration(i) * time.Second)})
	}
	require.NoError(t, db.AcceptEmails(ctx, &store.Accept{Emails: emails}))
	cookie := viewerSession(t, accounts, team)
	subjects := regexp.MustCompile(`subject (\d{3})`)
	pager := regexp.MustCompile(`rel="(prev|next)" href="([^"]+)"`)
	get := func(path string) (int, []string, map[string]string) {
		body, status := getPage(t, srv.URL+path, cookie)
		var got []string
		for _, m := range subjects.FindAllStringSubmatch(body, -1) {
			got = append(got, m[1])
		}
		links := map[string]string{}
		for _, m := range pager.FindAllStringSubmatch(body, -1) {
			links[m[1]] = strings.ReplaceAll(m[2], "&amp;", "&")
		}
		return status, got, links
	}
	status, first, links := get("/dashboard/emails?status=bounced")
	require.Equal(t, http.StatusOK, status)
	require.Len(t, first, 50)
	require.Equal(t, "129", first[0])
	require.Equal(t, "031", first[49])
	require.Equal(t, "/dashboard/emails?after="+emails[31].ID+"&status=bounced", links["next"])
	_, second, links := get(links["next"])
	require.Len(t, second, 15)
	require.Equal(t, "029", second[0])
	require.Equal(t, "001", second[14])
	require.Empty(t, links["next"])
	_, back, _ := get(links["prev"])
	require.Equal(t, first, back)
	_, byTo, _ := get("/dashboard/emails?to=B%40EXAMPLE.NET&since=2026-12-01&until=2026-12-01")
	require.Len(t, byTo, 50)
	require.Equal(t, "128", byTo[0])
	_, none, _ := get("/dashboard/emails?since=2026-12-02")
	require.Empty(t, none)
	status, _, _ = get("/dashboard/emails?status=nope")
	require.Equal(t, http.StatusBadRequest, status)
}

// Without --delivery capture the navigation has no dev inbox and its
// paths say it is off.
func TestInboxOff(t *testing.T) {
	t.Parallel()
	srv, accounts, team := setup(t)
	cookie := viewerSession(t, accounts, team)
	body, status := getPage(t, srv.URL+"/dashboard/emails", cookie)
	require.Equal(t, http.StatusOK, status)
	require.NotContains(t, body, "Dev inbox")
	require.Contains(t, body, `href="/dashboard/metrics"`)
	for _, p := range []string{"/dashboard/inbox", "/dashboard/inbox/" + store.NewID()} {
		body, status = getPage(t, srv.URL+p, cookie)
		require.Equal(t, http.StatusNotFound, status, p)
		require.Contains(t, body, "The dev inbox is off", p)
	}
	for _, p := range []string{"/raw.eml", "/body.html"} {
		_, status = getPage(t, srv.URL+"/dashboard/inbox/"+store.NewID()+p, cookie)
		require.Equal(t, http.StatusNotFound, status, p)
	}
}

func TestReadCaptured(t *testing.T) {
	t.Parallel()
	raw := "From: Acme <a@acme.test>\r\nTo: b@example.net\r\nSubject: Hi\r\nMIME-Version: 1.0\r\n" +
		"Content-Type: multipart/alternative; boundary=x\r\n\r\n--x\r\nContent-Type: text/plain\r\n\r\nplain\r\n" +
		"--x\r\nContent-Type: text/html\r\n\r\n<p>html</p>\r\n--x--\r\n"
	v := readCaptured("id1", []byte(raw))
	require.False(t, v.Unreadable)
	require.Equal(t, "Hi", v.Subject)
	require.Equal(t, []string{"b@example.net"}, v.To)
	require.Equal(t, "plain", strings.TrimSpace(v.Text))
	require.True(t, v.HasHTML)
	require.Equal(t, "From: Acme <a@acme.test>\nTo: b@example.net\nSubject: Hi\nMIME-Version: 1.0\nContent-Type: multipart/alternative; boundary=x\n", v.Headers)
	require.Equal(t, "/dashboard/inbox/id1/raw.eml", v.RawURL)
	big := readCaptured("id2", []byte(raw+strings.Repeat("x", maxRawShown)))
	require.True(t, big.RawCut)
	require.Len(t, big.Raw, maxRawShown)
	require.Equal(t, "a-b", safeFilename(`a"/\-b`))
	require.Equal(t, "message", safeFilename(`"`))
}

// FuzzSplitHeader: the header and body are the message, split at an
// empty line.
func FuzzSplitHeader(f *testing.F) {
	for _, s := range []string{"", "A: b\r\n\r\nbody", "A: b\n\nbody", "no blank line", "\r\n", "A: b\r\nC: d\r\n\r\n\r\nx"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		h, b := splitHeader([]byte(s))
		require.True(t, strings.HasPrefix(s, string(h)))
		require.True(t, strings.HasSuffix(s, string(b)))
		require.LessOrEqual(t, len(h)+len(b), len(s))
		_ = readCaptured("x", []byte(s))
	})
}

func TestParseMetricsRange(t *testing.T) {
	t.Parallel()
	r, err := parseMetricsRange(url.Values{})
	require.NoError(t, err)
	require.Equal(t, metricsRange{Days: 7, Granularity: "daily"}, r)
	r, err = parseMetricsRange(url.Values{"days": {"30"}, "granularity": {"hourly"}})
	require.NoError(t, err)
	require.Equal(t, metricsRange{Days: 30, Granularity: "hourly"}, r)
	for _, bad := range []url.Values{{"days": {"9"}}, {"granularity": {"weekly"}}} {
		_, err := parseMetricsRange(bad)
		require.Error(t, err)
	}
	now := time.Date(2026, 12, 3, 4, 30, 0, 0, time.UTC)
	q, err := metricsRange{Days: 7, Granularity: "daily"}.query(now, "period")
	require.NoError(t, err)
	require.Equal(t, time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC), q.Start, "seven whole days, today included")
	require.Equal(t, now, q.End)
	q, err = metricsRange{Days: 30, Granularity: "hourly"}.query(now, "domain")
	require.NoError(t, err)
	require.Equal(t, now.Truncate(time.Hour).Add(-719*time.Hour), q.Start, "720 hours, this one included")
}

// viewerSession signs a new viewer of team in and returns the session
// cookie.
func viewerSession(t *testing.T, accounts *account.Service, team *store.Team) *http.Cookie {
	t.Helper()
	_, link, err := accounts.CreateUser(context.Background(), team.ID, store.NewID()+"@example.com", store.RoleViewer)
	require.NoError(t, err)
	sess, err := accounts.SetPassword(context.Background(), link, "long enough password")
	require.NoError(t, err)
	return &http.Cookie{Name: sessionCookie, Value: sess.Token}
}

func getPage(t *testing.T, u string, c *http.Cookie) (string, int) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, u, nil)
	require.NoError(t, err)
	req.AddCookie(c)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return string(b), resp.StatusCode
}

// The dev inbox pages by cursor, 50 at a time, back and forth; another
// team's message is no cursor and no page; an email that was not captured
// has no page.
func TestInboxPagination(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	_, accounts, team, db := setupStore(t)
	h, err := New(Config{Store: db, Accounts: accounts, CSRFKey: []byte("0123456789abcdef0123456789abcdef"), Capture: true})
	require.NoError(t, err)
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	other := &store.Team{ID: store.NewID(), Name: "other", CreatedAt: time.Now()}
	require.NoError(t, db.CreateTeam(ctx, other))
	t0 := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	capture := func(teamID string, i int) *store.Email {
		e := &store.Email{ID: store.NewID(), TeamID: teamID, From: "a@example.com", To: []string{"b@example.net"},
			Subject: fmt.Sprintf("message %03d", i), LastEvent: store.EventQueued, CreatedAt: t0.Add(time.Duration(i) * time.Second)}
		require.NoError(t, db.AcceptEmails(ctx, &store.Accept{Emails: []*store.Email{e}}))
		require.NoError(t, db.RecordDelivery(ctx, &store.DeliveryOutcome{EmailID: e.ID, TeamID: teamID, LastEvent: store.EventDelivered,
			Events:   []*store.EmailEvent{{Type: store.EventDelivered, CreatedAt: e.CreatedAt}},
			Captured: []byte(fmt.Sprintf("From: a@example.com\r\nTo: b@example.net\r\nSubject: message %03d\r\n\r\nhi\r\n", i))}))
		return e
	}
	for i := range 60 {
		capture(team.ID, i)
	}
	theirs := capture(other.ID, 0)
	notCaptured := &store.Email{ID: store.NewID(), TeamID: team.ID, From: "a@example.com", To: []string{"b@example.net"},
		Subject: "queued", LastEvent: store.EventQueued, CreatedAt: t0}
	require.NoError(t, db.AcceptEmails(ctx, &store.Accept{Emails: []*store.Email{notCaptured}}))
	cookie := viewerSession(t, accounts, team)
	subjects := regexp.MustCompile(`message (\d{3})`)
	pager := regexp.MustCompile(`rel="(prev|next)" href="([^"]+)"`)
	get := func(path string) (int, []string, map[string]string) {
		body, status := getPage(t, srv.URL+path, cookie)
		var got []string
		for _, m := range subjects.FindAllStringSubmatch(body, -1) {
			got = append(got, m[1])
		}
		links := map[string]string{}
		for _, m := range pager.FindAllStringSubmatch(body, -1) {
			links[m[1]] = strings.ReplaceAll(m[2], "&amp;", "&")
		}
		return status, got, links
	}
	status, first, links := get("/dashboard/inbox")
	require.Equal(t, http.StatusOK, status)
	require.Len(t, first, 50)
	require.Empty(t, links["prev"])
	require.NotEmpty(t, links["next"])
	_, second, links := get(links["next"])
	require.Len(t, second, 10)
	require.Empty(t, links["next"])
	seen := map[string]bool{}
	for _, s := range append(append([]string{}, first...), second...) {
		require.False(t, seen[s], "each message once: %s", s)
		seen[s] = true
	}
	require.Len(t, seen, 60)
	_, back, _ := get(links["prev"])
	require.Equal(t, first, back, "Newer leads back")
	status, _, _ = get("/dashboard/inbox?after=" + theirs.ID)
	require.Equal(t, http.StatusNotFound, status, "another team's message is no cursor")
	for _, p := range []string{"", "/raw.eml", "/body.html"} {
		_, status = getPage(t, srv.URL+"/dashboard/inbox/"+theirs.ID+p, cookie)
		require.Equal(t, http.StatusNotFound, status, "another team's message%s", p)
		_, status = getPage(t, srv.URL+"/dashboard/inbox/"+notCaptured.ID+p, cookie)
		require.Equal(t, http.StatusNotFound, status, "an email not captured%s", p)
	}
	body, status := getPage(t, srv.URL+"/dashboard/emails", cookie)
	require.Equal(t, http.StatusOK, status)
	require.Contains(t, body, `href="/dashboard/inbox"`, "the navigation has the dev inbox")
	inbox, _ := getPage(t, srv.URL+"/dashboard/inbox", cookie)
	mine := regexp.MustCompile(`href="/dashboard/inbox/([0-9a-f-]{36})"`).FindStringSubmatch(inbox)
	require.NotNil(t, mine)
	body, status = getPage(t, srv.URL+"/dashboard/emails/"+mine[1], cookie)
	require.Equal(t, http.StatusOK, status)
	require.Contains(t, body, `id="captured" href="/dashboard/inbox/`+mine[1]+`"`, "the email's page links to its captured message")
	body, _ = getPage(t, srv.URL+"/dashboard/emails/"+notCaptured.ID, cookie)
	require.NotContains(t, body, `id="captured"`)
}
