package app_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"github.com/godwit/godwit/internal/app"
	"github.com/godwit/godwit/internal/godwittest"
	"github.com/godwit/godwit/internal/store"
	"github.com/godwit/godwit/internal/store/sqlstore"
)

// TestDashboardTemplatesSettings drives the Templates pages and the rate
// limit in Settings in headless Chromium against the real server, on both
// stores: an admin creates a template (a bad sender refused) and sees its
// preview rendered by the server in the sandboxed frame, where its script
// does not run; a template made with the API previews with its
// variables' fallbacks; the admin edits the draft and changes the team's
// rate limit. A viewer reads the pages but is refused the admin actions;
// another team's template is a 404.
func TestDashboardTemplatesSettings(t *testing.T) {
	eachStoreInBrowser(t, testDashboardTemplates)
}

func testDashboardTemplates(t *testing.T, bctx context.Context, kind sqlstore.Dialect) {
	cfg := serveConfig(t.TempDir())
	cfg.DatabaseURL = godwittest.StoreURL(t, kind)
	cfg.RateLimit = 1000 // the test's API calls come in bursts
	d, _ := startDash(t, bctx, kind, cfg)
	ctx := d.ctx

	keyA := d.cli(cfg, "keys", "create", "--name", "e2e")
	keyB := d.cli(cfg, "keys", "create", "--name", "e2e", "--team", "other")
	db, err := sqlstore.Open(context.Background(), cfg.DatabaseURL, sqlstore.Options{Outbox: godwittest.NewOutbox()})
	require.NoError(t, err)
	defer db.Close()
	linkCfg := cfg
	linkCfg.PublicURL = d.base
	admin, adminLink, err := app.CreateUser(context.Background(), db, linkCfg, app.DefaultTeam, "admin@example.com", store.RoleAdmin)
	require.NoError(t, err)
	_, viewerLink, err := app.CreateUser(context.Background(), db, linkCfg, app.DefaultTeam, "viewer@example.com", store.RoleViewer)
	require.NoError(t, err)

	d.do(chromedp.EmulateViewport(1280, 900))
	d.setPassword(adminLink, "the admin's password")

	// An empty list, then the form; a bad sender is refused.
	d.navigate(d.base+"/dashboard/templates", http.StatusOK)
	require.Contains(t, d.text("main"), "No templates yet")
	d.shot("templates-empty")
	require.Equal(t, http.StatusOK, d.click("#new-template"))
	d.shot("template-new")
	d.do(chromedp.SetValue(chromedp.CSS("#name"), "Welcome"), chromedp.SetValue(chromedp.CSS("#from"), "not an address"),
		chromedp.SetValue(chromedp.CSS("#subject"), "Hello {{{name|friend}}}"),
		chromedp.SetValue(chromedp.CSS("#html"), `<p id="x">Hi {{{name|<b>friend</b>}}}</p><script>document.getElementById('x').textContent='script ran'</script>`),
		chromedp.SetValue(chromedp.CSS("#text"), "Hi {{{name|friend}}}"))
	require.Equal(t, http.StatusBadRequest, d.submit("#name"))
	require.Contains(t, d.text(".alert"), "The sender must be an address")
	require.Equal(t, "Welcome", d.attr("#name", "value"), "the refused form keeps its values")
	d.do(chromedp.SetValue(chromedp.CSS("#from"), "Acme <news@example.com>"))
	require.Equal(t, http.StatusOK, d.submit("#name"))
	require.True(t, strings.HasPrefix(d.location(), d.base+"/dashboard/templates/"), d.location())
	tplID := strings.TrimPrefix(d.location(), d.base+"/dashboard/templates/")
	require.Equal(t, "Hello friend", d.text("#preview-subject"))
	require.Equal(t, "Hi friend", d.text("#preview-text"))
	require.Equal(t, "draft", d.text("#template-status"))
	frameURL := d.base + "/dashboard/templates/" + tplID + "/preview.html"
	require.Equal(t, "Hi <b>friend</b>", d.frameSel(frameURL, "#x"), "rendered by the server, escaped, and the script did not run")
	d.shot("template")
	resp := d.get("/dashboard/templates/"+tplID+"/preview.html", "", d.sessionCookie())
	resp.Body.Close()
	require.Equal(t, dashboardFrameCSP, resp.Header.Get("Content-Security-Policy"))

	// Edit: a new subject, previewed.
	require.Equal(t, http.StatusOK, d.click("#edit-template"))
	require.Equal(t, "Welcome", d.attr("#name", "value"))
	d.shot("template-edit")
	d.do(chromedp.SetValue(chromedp.CSS("#subject"), "Welcome, {{{name|friend}}}"))
	require.Equal(t, http.StatusOK, d.submit("#name"))
	require.Equal(t, d.base+"/dashboard/templates/"+tplID, d.location())
	require.Equal(t, "Welcome, friend", d.text("#preview-subject"))
	tpl, err := db.GetTemplate(context.Background(), admin.TeamID, tplID)
	require.NoError(t, err)
	require.Equal(t, "Welcome, {{{name|friend}}}", tpl.Content.Subject)

	// Publish, duplicate, and delete the copy after the confirmation.
	require.Equal(t, http.StatusOK, d.click("#publish-template"))
	require.Equal(t, "published", d.text("#template-status"))
	tpl, err = db.GetTemplate(context.Background(), admin.TeamID, tplID)
	require.NoError(t, err)
	require.Equal(t, "Welcome, {{{name|friend}}}", tpl.Published.Subject)
	require.Equal(t, http.StatusOK, d.click("#duplicate-template"))
	copyID := strings.TrimPrefix(d.location(), d.base+"/dashboard/templates/")
	require.NotEqual(t, tplID, copyID)
	require.Equal(t, "Welcome (Copy)", d.text("h1"))
	require.Equal(t, "draft", d.text("#template-status"))
	require.Equal(t, http.StatusOK, d.click("#delete-template"))
	d.shot("template-delete")
	require.Equal(t, http.StatusOK, d.click("#confirm-delete"))
	require.Equal(t, d.base+"/dashboard/templates", d.location())
	d.navigate(d.base+"/dashboard/templates/"+copyID, http.StatusNotFound)

	// A template of the API's, with a declared variable: its fallback is
	// the sample value.
	made := d.apiJSON(http.MethodPost, "/templates", keyA, map[string]any{"name": "Receipt", "subject": "Order {{{order}}}",
		"html":      `<p id="x">Order {{{order}}} for {{{who}}}</p>`,
		"variables": []map[string]any{{"key": "order", "type": "number", "fallback_value": 42}, {"key": "who", "type": "string"}}})
	apiID := made["id"].(string)
	d.navigate(d.base+"/dashboard/templates", http.StatusOK)
	require.Contains(t, d.text("#templates"), "Welcome")
	require.Contains(t, d.text("#templates"), "Receipt")
	d.shot("templates")
	d.navigate(d.base+"/dashboard/templates/"+apiID, http.StatusOK)
	require.Equal(t, "Order 42", d.text("#preview-subject"))
	require.Equal(t, "Order 42 for WHO", d.frameSel(d.base+"/dashboard/templates/"+apiID+"/preview.html", "#x"))

	// The rate limit: the server default, then 25/s; a bad value refused.
	d.navigate(d.base+"/dashboard/settings", http.StatusOK)
	require.Contains(t, d.text("#rate-limit"), "default")
	d.do(chromedp.SetValue(chromedp.CSS("#rate-limit-value"), "25"))
	require.Equal(t, http.StatusOK, d.submit("#rate-limit-value"))
	require.Equal(t, "25 requests per second", d.text("#rate-limit"))
	d.shot("settings-rate-limit")
	team, err := db.GetTeam(context.Background(), admin.TeamID)
	require.NoError(t, err)
	require.Equal(t, 25, team.RateLimit)
	require.Equal(t, http.StatusBadRequest, d.postForm("/dashboard/settings/rate-limit", d.csrf(), "rate_limit", "-3"))
	require.Contains(t, d.text(".alert"), "whole number")

	// Broadcasts: a segment of two contacts, a broadcast made with the
	// API from a verified domain, sent from its page and captured; its
	// recipients by type. Another, scheduled, is canceled after the
	// confirmation.
	status, body := apiCall(t, "POST", d.base+"/domains", keyA, `{"name":"acme.test"}`)
	require.Equal(t, http.StatusCreated, status, "%v", body)
	dom, err := db.GetDomain(context.Background(), admin.TeamID, body["id"].(string))
	require.NoError(t, err)
	dom.Status = store.DomainVerified
	require.NoError(t, db.UpdateDomain(context.Background(), dom))
	seg := d.apiJSON(http.MethodPost, "/segments", keyA, map[string]any{"name": "Two"})["id"].(string)
	for _, addr := range []string{"ann@example.com", "bob@example.com"} {
		d.apiJSON(http.MethodPost, "/contacts", keyA, map[string]any{"email": addr})
		d.apiJSON(http.MethodPost, "/contacts/"+addr+"/segments/"+seg, keyA, nil)
	}
	d.apiJSON(http.MethodPost, "/contacts", keyA, map[string]any{"email": "carl@example.com"}) // in no segment
	d.navigate(d.base+"/dashboard/broadcasts", http.StatusOK)
	require.Contains(t, d.text("main"), "No broadcasts yet")
	require.Equal(t, http.StatusOK, d.click("#new-broadcast"))
	d.shot("broadcast-new")
	d.do(chromedp.SetValue(chromedp.CSS("#name"), "December news"), chromedp.SetValue(chromedp.CSS("#from"), "Acme <news@unverified.test>"),
		chromedp.SetValue(chromedp.CSS("#subject"), "December"),
		chromedp.SetValue(chromedp.CSS("#html"), `<p id="x">Hello {{{FIRST_NAME|there}}}</p><script>document.getElementById('x').textContent='script ran'</script>`))
	require.Equal(t, http.StatusBadRequest, d.submit("#name"))
	require.Contains(t, d.text(".alert"), "unverified.test", "the API's sending gate refuses an unverified domain")
	d.do(chromedp.SetValue(chromedp.CSS("#from"), "Acme <news@acme.test>"))
	require.Equal(t, http.StatusOK, d.submit("#name"))
	require.True(t, strings.HasPrefix(d.location(), d.base+"/dashboard/broadcasts/"), d.location())
	bc := strings.TrimPrefix(d.location(), d.base+"/dashboard/broadcasts/")
	stored, err := db.GetBroadcast(context.Background(), admin.TeamID, bc)
	require.NoError(t, err)
	require.Equal(t, seg, stored.SegmentID)
	// A broadcast of the published template's content and subject.
	require.Equal(t, http.StatusOK, d.postForm("/dashboard/broadcasts", d.csrf(), "segment_id", seg, "from", "Acme <news@acme.test>",
		"template_id", tplID))
	fromTpl, err := db.GetBroadcast(context.Background(), admin.TeamID, strings.TrimPrefix(d.location(), d.base+"/dashboard/broadcasts/"))
	require.NoError(t, err)
	require.Equal(t, "Welcome, {{{name|friend}}}", fromTpl.Subject)
	require.Contains(t, *fromTpl.HTML, `<p id="x">Hi {{{name|<b>friend</b>}}}</p>`)
	// Scheduled from its page, two days ahead with the date picker.
	d.navigate(d.base+"/dashboard/broadcasts/"+fromTpl.ID, http.StatusOK)
	d.do(chromedp.SetValue(chromedp.CSS("#scheduled-at"), time.Now().UTC().Add(48*time.Hour).Format("2006-01-02T15:04")))
	require.Equal(t, http.StatusOK, d.submit("#scheduled-at"))
	require.Equal(t, "scheduled", d.text("#broadcast-status"))
	// Another, scheduled with the API's words: "in 2 hours". Words it
	// cannot read, a time too far (shown back in UTC) and both fields at
	// once are refused, the text kept.
	require.Equal(t, http.StatusOK, d.postForm("/dashboard/broadcasts", d.csrf(), "segment_id", seg, "from", "Acme <news@acme.test>",
		"subject", "Soon", "name", "Soon news", "text", "soon"))
	soon := strings.TrimPrefix(d.location(), d.base+"/dashboard/broadcasts/")
	d.do(chromedp.SetValue(chromedp.CSS("#send-at"), "someday"))
	require.Equal(t, http.StatusBadRequest, d.submit("#send-at"))
	require.Contains(t, d.text(".alert"), `"in 2 hours"`)
	require.Equal(t, "someday", d.attr("#send-at", "value"))
	d.do(chromedp.SetValue(chromedp.CSS("#send-at"), "2099-01-02T10:00:00+01:00"))
	require.Equal(t, http.StatusBadRequest, d.submit("#send-at"))
	require.Equal(t, "That reads as Fri 2 Jan 2099 09:00 UTC, more than 30 days ahead: the most a broadcast can be scheduled.", d.text(".alert"))
	d.do(chromedp.SetValue(chromedp.CSS("#send-at"), "tomorrow at 9am"),
		chromedp.SetValue(chromedp.CSS("#scheduled-at"), time.Now().UTC().Add(48*time.Hour).Format("2006-01-02T15:04")))
	before := time.Now().UTC()
	require.Equal(t, http.StatusBadRequest, d.submit("#send-at"))
	after := time.Now().UTC()
	require.Contains(t, d.text(".alert"), "not both")
	readAs := func(now time.Time) string { // "tomorrow at 9am" as read at now
		tomorrow := now.AddDate(0, 0, 1)
		return "Read as " + time.Date(tomorrow.Year(), tomorrow.Month(), tomorrow.Day(), 9, 0, 0, 0, time.UTC).Format("2006-01-02 15:04:05 UTC") + "."
	}
	// The server read it between before and after, which may straddle
	// midnight UTC.
	require.Contains(t, []string{readAs(before), readAs(after)}, d.text("#send-at-read"), "the text's time shown back in UTC")
	d.shot("broadcast-send-at-refused")
	d.do(chromedp.EmulateViewport(375, 812))
	d.navigate(d.base+"/dashboard/broadcasts/"+soon, http.StatusOK)
	width, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.documentElement.scrollWidth`))
	require.NoError(t, err)
	require.LessOrEqual(t, width, 375, "the send form does not scroll sideways at phone width")
	d.shot("broadcast-send-375")
	d.do(chromedp.EmulateViewport(1280, 900))
	before = time.Now().UTC()
	d.do(chromedp.SetValue(chromedp.CSS("#send-at"), "in 2 hours"))
	require.Equal(t, http.StatusOK, d.submit("#send-at"))
	after = time.Now().UTC()
	require.Equal(t, d.base+"/dashboard/broadcasts/"+soon, d.location())
	require.Equal(t, "scheduled", d.text("#broadcast-status"))
	stored, err = db.GetBroadcast(context.Background(), admin.TeamID, soon)
	require.NoError(t, err)
	require.Equal(t, store.BroadcastScheduled, stored.Status)
	require.NotNil(t, stored.ScheduledAt)
	require.False(t, stored.ScheduledAt.Before(before.Add(2*time.Hour).Truncate(time.Second)), "%v", stored.ScheduledAt)
	require.False(t, stored.ScheduledAt.After(after.Add(2*time.Hour)), "%v", stored.ScheduledAt)
	require.Contains(t, d.text("main"), stored.ScheduledAt.UTC().Format("2006-01-02 15:04:05 UTC"), "the page shows the time in UTC")
	later := d.apiJSON(http.MethodPost, "/broadcasts", keyA, map[string]any{"segment_id": seg, "from": "Acme <news@acme.test>",
		"subject": "Later", "name": "Later news", "text": "later", "send": true, "scheduled_at": "in 2 days"})["id"].(string)
	d.navigate(d.base+"/dashboard/broadcasts", http.StatusOK)
	require.Contains(t, d.text("#broadcasts"), "December news")
	require.Contains(t, d.text("#broadcasts"), "Later news")
	d.shot("broadcasts")
	d.navigate(d.base+"/dashboard/broadcasts/"+bc, http.StatusOK)
	require.Equal(t, "draft", d.text("#broadcast-status"))
	require.Equal(t, "Hello there", d.frameSel(d.base+"/dashboard/broadcasts/"+bc+"/preview.html", "#x"), "the script did not run")
	d.shot("broadcast-draft")
	require.Equal(t, http.StatusOK, d.click("#send-broadcast"))
	require.Equal(t, d.base+"/dashboard/broadcasts/"+bc, d.location())
	require.Eventually(t, func() bool {
		d.navigate(d.base+"/dashboard/broadcasts/"+bc+"?type=sent", http.StatusOK)
		return d.count("#recipients tbody tr") == 2
	}, bound, 200*time.Millisecond, "both contacts of the segment are sent the broadcast")
	rcpts := d.text("#recipients")
	require.Contains(t, rcpts, "ann@example.com")
	require.Contains(t, rcpts, "bob@example.com")
	require.NotContains(t, rcpts, "carl@example.com")
	require.Equal(t, "sent", d.text("#broadcast-status"))
	d.shot("broadcast-sent")
	d.navigate(d.base+"/dashboard/broadcasts/"+bc+"?type=bounced", http.StatusOK)
	require.Equal(t, 1, d.count("#no-recipients"))
	d.navigate(d.base+"/dashboard/broadcasts/"+bc+"?type=nonsense", http.StatusBadRequest)
	d.navigate(d.base+"/dashboard/broadcasts/"+later, http.StatusOK)
	require.Equal(t, "scheduled", d.text("#broadcast-status"))
	require.Equal(t, http.StatusOK, d.click("#cancel-broadcast"))
	d.shot("broadcast-cancel")
	require.Equal(t, http.StatusOK, d.click("#confirm-cancel"))
	require.Equal(t, "canceled", d.text("#broadcast-status"))
	theirBC := d.apiJSON(http.MethodPost, "/broadcasts", keyB, map[string]any{"segment_id": d.apiJSON(http.MethodPost, "/segments", keyB,
		map[string]any{"name": "Theirs"})["id"], "from": "Them <onboarding@resend.dev>", "subject": "Theirs", "text": "theirs"})["id"].(string)
	for _, p := range []string{"", "/preview.html", "/cancel"} {
		d.navigate(d.base+"/dashboard/broadcasts/"+theirBC+p, http.StatusNotFound)
	}
	require.Equal(t, http.StatusNotFound, d.postForm("/dashboard/broadcasts/"+theirBC+"/send", d.csrf()))
	theirSeg := d.apiJSON(http.MethodPost, "/segments", keyB, map[string]any{"name": "Theirs too"})["id"].(string)
	require.Equal(t, http.StatusNotFound, d.postForm("/dashboard/broadcasts", d.csrf(), "segment_id", theirSeg,
		"from", "Acme <news@acme.test>", "subject", "x", "text", "x"), "another team's segment")

	// Another team's template is a 404, its preview too.
	theirs := d.apiJSON(http.MethodPost, "/templates", keyB, map[string]any{"name": "Theirs", "html": "<p>secret of theirs</p>"})
	theirID := theirs["id"].(string)
	cookie := d.sessionCookie()
	for _, p := range []string{"", "/edit", "/preview.html"} {
		d.navigate(d.base+"/dashboard/templates/"+theirID+p, http.StatusNotFound)
		req, err := http.NewRequest(http.MethodGet, d.base+"/dashboard/templates/"+theirID+p, nil)
		require.NoError(t, err)
		req.AddCookie(cookie)
		resp, err := d.client.Do(req)
		require.NoError(t, err)
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		require.NoError(t, err)
		require.Equal(t, http.StatusNotFound, resp.StatusCode, p)
		require.NotContains(t, string(b), "secret of theirs", p)
	}
	require.Equal(t, http.StatusNotFound, d.postForm("/dashboard/templates/"+theirID, d.csrf(), "name", "mine now"))
	for _, p := range []string{"/publish", "/duplicate", "/delete"} {
		require.Equal(t, http.StatusNotFound, d.postForm("/dashboard/templates/"+theirID+p, d.csrf()), p)
	}

	// A viewer reads, but is refused every admin action.
	require.Equal(t, http.StatusOK, d.click(".signout button"))
	d.setPassword(viewerLink, "the viewer's password")
	d.navigate(d.base+"/dashboard/templates", http.StatusOK)
	require.Zero(t, d.count("#new-template"))
	d.navigate(d.base+"/dashboard/templates/"+tplID, http.StatusOK)
	require.Zero(t, d.count("#edit-template, #publish-template, #duplicate-template, #delete-template"))
	d.navigate(d.base+"/dashboard/settings", http.StatusOK)
	require.Zero(t, d.count("#save-rate-limit"))
	d.navigate(d.base+"/dashboard/templates/new", http.StatusForbidden)
	d.navigate(d.base+"/dashboard/templates/"+tplID+"/edit", http.StatusForbidden)
	d.navigate(d.base+"/dashboard/broadcasts/"+bc, http.StatusOK)
	require.Zero(t, d.count("#send-broadcast, #cancel-broadcast"))
	d.navigate(d.base+"/dashboard/broadcasts/"+later+"/cancel", http.StatusForbidden)
	d.navigate(d.base+"/dashboard/broadcasts/new", http.StatusForbidden)
	csrf := d.csrf()
	for path, form := range map[string][]string{
		"/dashboard/templates":                         {"name", "viewer's"},
		"/dashboard/templates/" + tplID:                {"name", "viewer's"},
		"/dashboard/templates/" + tplID + "/publish":   nil,
		"/dashboard/templates/" + tplID + "/duplicate": nil,
		"/dashboard/templates/" + tplID + "/delete":    nil,
		"/dashboard/settings/rate-limit":               {"rate_limit", "1"},
		"/dashboard/broadcasts/" + bc + "/send":        nil,
		"/dashboard/broadcasts/" + later + "/cancel":   nil,
		"/dashboard/broadcasts":                        {"segment_id", seg, "from", "Acme <news@acme.test>", "subject", "x", "text", "x"},
	} {
		require.Equal(t, http.StatusForbidden, d.postForm(path, csrf, form...), path)
		require.Contains(t, d.text("main"), "you are a viewer", path)
	}
	team, err = db.GetTeam(context.Background(), admin.TeamID)
	require.NoError(t, err)
	require.Equal(t, 25, team.RateLimit, "the viewer changed nothing")
	list, _, err := db.ListTemplates(context.Background(), admin.TeamID, store.Page{Limit: 10})
	require.NoError(t, err)
	require.Len(t, list, 2)
	bcs, _, err := db.ListBroadcasts(context.Background(), admin.TeamID, store.Page{Limit: 10})
	require.NoError(t, err)
	require.Len(t, bcs, 4, "the viewer made no broadcast")
	later2, err := db.GetBroadcast(context.Background(), admin.TeamID, later)
	require.NoError(t, err)
	require.Equal(t, store.BroadcastCanceled, later2.Status)

	// At phone width, nothing scrolls sideways.
	d.do(chromedp.EmulateViewport(375, 812))
	for _, p := range []string{"/dashboard/templates", "/dashboard/templates/" + tplID, "/dashboard/settings", "/dashboard/broadcasts/" + bc} {
		d.navigate(d.base+p, http.StatusOK)
		width, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.documentElement.scrollWidth`))
		require.NoError(t, err)
		require.LessOrEqual(t, width, 375, "no sideways scrolling at phone width: %s", p)
	}
	d.shot("template-375")
}

// dashboardFrameCSP is the sandboxed frame's policy (dashboard.FrameCSP).
const dashboardFrameCSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'self'; base-uri 'none'; form-action 'none'"

// frameText finds the frame of url (an opaque origin: a target of its
// own) and returns the text of sel in it.
func (d *dash) frameSel(u, sel string) string {
	d.t.Helper()
	fctx, cancel := d.frame(u)
	defer cancel()
	var text string
	require.Eventually(d.t, func() bool {
		s, err := chromedp.Run(fctx, chromedp.Text(chromedp.CSS(sel)))
		text = s
		return err == nil
	}, bound, 50*time.Millisecond)
	return text
}
