package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"github.com/godwit/godwit/internal/app"
	"github.com/godwit/godwit/internal/godwittest"
	"github.com/godwit/godwit/internal/store"
	"github.com/godwit/godwit/internal/store/sqlstore"
)

// TestDashboardMetricsInboxInBrowser drives the emails list's filters, the
// metrics page and the dev inbox in headless Chromium against app.Serve
// with --delivery capture, on both stores: the list filtered by status and
// by recipient; the metrics page shows the counts of the emails sent in
// its tables and draws its charts; the dev inbox lists a message sent
// through the API, opens it (HTML sandboxed, text, headers, source) and
// downloads it; another team's message is a 404. Screenshots as
// TestDashboardInBrowser's.
func TestDashboardMetricsInboxInBrowser(t *testing.T) {
	eachStoreInBrowser(t, testDashboardPages)
}

func testDashboardPages(t *testing.T, bctx context.Context, kind sqlstore.Dialect) {
	cfg := serveConfig(t.TempDir())
	cfg.DatabaseURL = godwittest.StoreURL(t, kind)
	cfg.RateLimit = 1000
	d, _ := startDash(t, bctx, kind, cfg)
	ctx := d.ctx

	keyA := d.cli(cfg, "keys", "create", "--name", "e2e")
	keyB := d.cli(cfg, "keys", "create", "--name", "e2e", "--team", "other")
	db, err := sqlstore.Open(context.Background(), cfg.DatabaseURL, sqlstore.Options{Outbox: sqlstore.NoOutbox})
	require.NoError(t, err)
	defer db.Close()
	linkCfg := cfg
	linkCfg.PublicURL = d.base
	admin, link, err := app.CreateUser(context.Background(), db, linkCfg, app.DefaultTeam, "admin@example.com", store.RoleAdmin)
	require.NoError(t, err)
	d.do(chromedp.EmulateViewport(1280, 900))
	d.navigate(link, http.StatusOK)
	d.do(chromedp.SetValue(chromedp.CSS("#password"), "a long enough password"),
		chromedp.SetValue(chromedp.CSS("#confirm"), "a long enough password"))
	require.Equal(t, http.StatusOK, d.submit("#confirm"))

	// A sending domain of each team, verified in the store (the capture
	// transport keeps only mail to real recipients; the test addresses are
	// simulated).
	verified := func(key, team, name string) {
		status, body := apiCall(t, "POST", d.base+"/domains", key, `{"name":"`+name+`"}`)
		require.Equal(t, http.StatusCreated, status, "%v", body)
		tm, err := db.GetTeamByName(context.Background(), team)
		require.NoError(t, err)
		dom, err := db.GetDomain(context.Background(), tm.ID, body["id"].(string))
		require.NoError(t, err)
		dom.Status = store.DomainVerified
		require.NoError(t, db.UpdateDomain(context.Background(), dom))
	}
	verified(keyA, app.DefaultTeam, "acme.test")
	verified(keyB, "other", "other.test")

	// Two emails delivered (captured), one scheduled for tomorrow; another
	// team's email.
	toDelivered := d.sendTo(keyA, "ann@example.net", "First of the day", "")
	toBob := d.sendTo(keyA, "bob@example.net", "A note for Bob", "")
	later := d.sendTo(keyA, "carol@example.net", "Tomorrow's news", time.Now().Add(24*time.Hour).UTC().Format(time.RFC3339))
	theirs := d.sendTo(keyB, "dan@example.net", "Another team's secret", "", "Other <news@other.test>")

	// The list filtered by status: delivered, then scheduled.
	require.Eventually(t, func() bool {
		d.navigate(d.base+"/dashboard/emails?status=delivered", http.StatusOK)
		return d.count("table.list tbody tr") == 2
	}, bound, 200*time.Millisecond, "both sent emails reach delivered")
	list := d.text("table.list")
	require.Contains(t, list, "First of the day")
	require.Contains(t, list, "A note for Bob")
	require.NotContains(t, list, "Tomorrow's news")
	require.NotContains(t, d.text("main"), "Another team's secret")
	d.do(chromedp.SetValue(chromedp.CSS("#f-status"), "scheduled"))
	require.Equal(t, http.StatusOK, d.submit("#f-status"))
	require.Contains(t, d.location(), "status=scheduled", "a filtered list is a link")
	require.Equal(t, 1, d.count("table.list tbody tr"))
	require.Contains(t, d.text("table.list"), "Tomorrow's news")
	// By recipient, in any case, with the status cleared.
	d.do(chromedp.SetValue(chromedp.CSS("#f-status"), ""), chromedp.SetValue(chromedp.CSS("#f-to"), "BOB@example.net"))
	require.Equal(t, http.StatusOK, d.submit("#f-to"))
	require.Equal(t, 1, d.count("table.list tbody tr"))
	require.Contains(t, d.text("table.list"), "A note for Bob")
	require.Equal(t, "BOB@example.net", d.value("#f-to"), "the form keeps the filter")
	d.shot("emails-filtered")
	d.navigate(d.base+"/dashboard/emails?to=nobody@example.net", http.StatusOK)
	require.Contains(t, d.text("main"), "No email matches")
	d.navigate(d.base+"/dashboard/emails?status=lost", http.StatusBadRequest)
	require.Contains(t, d.text("main"), "Choose a status")

	// The metrics page counts the two deliveries in its tables and totals,
	// and draws its charts.
	require.Eventually(t, func() bool {
		d.navigate(d.base+"/dashboard/metrics", http.StatusOK)
		return d.text(`#totals dd[data-metric="delivered"]`) == "2"
	}, bound, 200*time.Millisecond, "the metrics count both deliveries")
	require.Equal(t, 3, d.count("svg.chart"), "two line charts and the domain bars")
	require.Equal(t, 4, d.count("section.chart-card:nth-of-type(2) svg.chart polyline"), "the delivery chart has its four lines")
	require.Equal(t, 2, d.count("section.chart-card:nth-of-type(3) svg.chart polyline"), "the engagement chart its two")
	delivery := d.tableSum("section.chart-card:nth-of-type(2) table.figures", 2)
	require.Equal(t, 2, delivery, "the delivery table's delivered column sums to the deliveries")
	require.Equal(t, 7, d.count("section.chart-card:nth-of-type(2) table.figures tbody tr"), "one row a day for 7 days")
	d.shot("metrics")
	d.navigate(d.base+"/dashboard/metrics?days=30&granularity=hourly", http.StatusOK)
	require.Equal(t, "2", d.text(`#totals dd[data-metric="delivered"]`))
	require.Equal(t, 30*24, d.count("section.chart-card:nth-of-type(2) table.figures tbody tr"), "one row an hour")
	d.navigate(d.base+"/dashboard/metrics?days=9", http.StatusBadRequest)

	// The dev inbox lists the captured messages, newest first, and not
	// another team's.
	d.navigate(d.base+"/dashboard/inbox", http.StatusOK)
	inbox := d.text("#inbox")
	require.Contains(t, inbox, "A note for Bob")
	require.Contains(t, inbox, "First of the day")
	require.NotContains(t, inbox, "Tomorrow's news", "not sent yet")
	require.NotContains(t, d.text("main"), "Another team's secret")
	times, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll('#inbox time')].map(e => e.getAttribute('datetime'))`))
	require.NoError(t, err)
	require.Len(t, times, 2)
	require.True(t, sort.IsSorted(sort.Reverse(sort.StringSlice(times))), "newest first: %v", times)
	d.shot("inbox")
	require.Equal(t, http.StatusOK, d.click(`#inbox a[href="/dashboard/inbox/`+toBob+`"]`))
	require.Equal(t, "A note for Bob · Godwit", d.title())
	require.Contains(t, d.text("#text-body"), "Hello in text")
	sandbox, err := chromedp.Run(ctx, chromedp.AttributeValue(chromedp.CSS("iframe#html-body"), "sandbox"))
	require.NoError(t, err)
	require.True(t, sandbox.Exists)
	require.Empty(t, sandbox.Value, "the sandbox allows nothing")
	require.Equal(t, "A note for Bob", d.frameText(d.base+"/dashboard/inbox/"+toBob+"/body.html"), "the HTML shows in its frame")
	d.do(chromedp.Click(chromedp.CSS("#headers summary")), chromedp.Click(chromedp.CSS("#source summary")))
	require.Contains(t, d.text("#headers pre"), "Subject: A note for Bob")
	require.Contains(t, d.text("#source pre"), "Hello in text")
	d.shot("inbox-message")
	d.do(chromedp.EmulateViewport(375, 812))
	for name, p := range map[string]string{"inbox-message-375": "/dashboard/inbox/" + toBob, "metrics-375": "/dashboard/metrics",
		"emails-filtered-375": "/dashboard/emails?status=delivered"} {
		d.navigate(d.base+p, http.StatusOK)
		width, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.documentElement.scrollWidth`))
		require.NoError(t, err)
		require.LessOrEqual(t, width, 375, "no sideways scrolling at phone width: %s", p)
		d.shot(name)
	}
	d.do(chromedp.EmulateViewport(1280, 900), chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := cdp.Call(ctx, tg, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
			Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: "dark"}}})
		return err
	}))
	d.navigate(d.base+"/dashboard/metrics", http.StatusOK)
	stroke, err := chromedp.Run(ctx, chromedp.Evaluate[string](`getComputedStyle(document.querySelector('svg.chart g.series-0')).stroke`))
	require.NoError(t, err)
	require.Equal(t, "rgb(106, 168, 255)", stroke, "the dark palette's first series")
	d.shot("metrics-dark")

	cookie := d.sessionCookie()
	resp := d.getBody("/dashboard/inbox/"+toBob+"/raw.eml", cookie)
	require.Equal(t, http.StatusOK, resp.status)
	require.Equal(t, "message/rfc822", resp.header.Get("Content-Type"))
	require.Equal(t, `attachment; filename="`+toBob+`.eml"`, resp.header.Get("Content-Disposition"))
	require.Contains(t, resp.body, "Subject: A note for Bob")
	resp = d.getBody("/dashboard/inbox/"+toBob+"/body.html", cookie)
	require.Equal(t, http.StatusOK, resp.status)
	require.Contains(t, resp.body, "<p>A note for Bob</p>")
	// Another team's message, and an email that was never captured, are
	// the 404 page.
	d.navigate(d.base+"/dashboard/inbox/"+theirs, http.StatusNotFound)
	require.NotContains(t, d.text("main"), "secret")
	d.navigate(d.base+"/dashboard/inbox/"+later, http.StatusNotFound)
	for _, p := range []string{"/raw.eml", "/body.html"} {
		require.Equal(t, http.StatusNotFound, d.getBody("/dashboard/inbox/"+theirs+p, cookie).status)
	}
	require.Equal(t, http.StatusNotFound, d.getBody("/dashboard/inbox?after="+theirs, cookie).status)
	_ = toDelivered
	_ = admin
}

// sendTo sends an email to one recipient through the API (scheduled at
// when not "") and returns its id.
func (d *dash) sendTo(key, to, subject, at string, from ...string) string {
	d.t.Helper()
	sender := "Acme <news@acme.test>"
	if len(from) > 0 {
		sender = from[0]
	}
	req := map[string]any{"from": sender, "to": []string{to}, "subject": subject,
		"html": "<p>" + subject + "</p>", "text": "Hello in text"}
	if at != "" {
		req["scheduled_at"] = at
	}
	body, err := json.Marshal(req)
	require.NoError(d.t, err)
	r, err := http.NewRequest(http.MethodPost, d.base+"/emails", bytes.NewReader(body))
	require.NoError(d.t, err)
	r.Header.Set("Authorization", "Bearer "+key)
	r.Header.Set("Content-Type", "application/json")
	resp, err := d.client.Do(r)
	require.NoError(d.t, err)
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	require.Equal(d.t, http.StatusOK, resp.StatusCode, string(raw))
	var out struct{ ID string }
	require.NoError(d.t, json.Unmarshal(raw, &out))
	return out.ID
}

// value is the value of the form control sel.
func (d *dash) value(sel string) string {
	d.t.Helper()
	v, err := chromedp.Run(d.ctx, chromedp.Evaluate[string](`document.querySelector(`+quoteJS(sel)+`).value`))
	require.NoError(d.t, err)
	return v
}

// tableSum sums the column col (0 is the row's header) of the table sel.
func (d *dash) tableSum(sel string, col int) int {
	d.t.Helper()
	n, err := chromedp.Run(d.ctx, chromedp.Evaluate[int](`[...document.querySelectorAll(`+quoteJS(sel+" tbody tr")+`)]
		.reduce((s, tr) => s + (parseInt(tr.children[`+string(rune('0'+col))+`].textContent, 10) || 0), 0)`))
	require.NoError(d.t, err)
	return n
}

// frameText is the text of the frame of url (sandboxed: a target of its
// own), once it has loaded.
func (d *dash) frameText(u string) string {
	d.t.Helper()
	fctx, cancel := d.frame(u)
	defer cancel()
	text, err := chromedp.Run(fctx, chromedp.Text(chromedp.CSS("p")))
	require.NoError(d.t, err)
	return strings.TrimSpace(text)
}

type bodyResponse struct {
	status int
	header http.Header
	body   string
}

func (d *dash) getBody(path string, c *http.Cookie) bodyResponse {
	d.t.Helper()
	req, err := http.NewRequest(http.MethodGet, d.base+path, nil)
	require.NoError(d.t, err)
	req.AddCookie(c)
	resp, err := d.client.Do(req)
	require.NoError(d.t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(d.t, err)
	return bodyResponse{status: resp.StatusCode, header: resp.Header, body: string(b)}
}
