package app_test

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/target"
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
	t.Parallel()
	browser := godwittest.Browser(t)
	for _, kind := range godwittest.Kinds {
		t.Run(string(kind), func(t *testing.T) {
			ctx, cancel := chromedp.NewContext(browser, chromedp.WithNewBrowserContext())
			defer cancel()
			testDashboardTemplates(t, ctx, kind)
		})
	}
}

func testDashboardTemplates(t *testing.T, bctx context.Context, kind sqlstore.Dialect) {
	runCtx, stop := context.WithCancel(context.Background())
	defer stop()
	cfg := serveConfig(t.TempDir())
	cfg.DatabaseURL = godwittest.StoreURL(t, kind)
	s := serve(runCtx, cfg)
	apiAddr := s.addr(t, httpServing, "addr")
	waitReady(t, apiAddr)
	defer func() {
		stop()
		require.NoError(t, s.wait(t))
	}()
	shots := os.Getenv("GODWIT_SCREENSHOTS")
	if shots == "" {
		shots = filepath.Join("testdata", "screenshots")
	}
	require.NoError(t, os.MkdirAll(shots, 0o755))
	ctx, cancel := context.WithTimeout(bctx, 3*bound)
	defer cancel()
	d := &dash{t: t, ctx: ctx, base: "http://" + apiAddr, kind: kind, shots: shots, client: &http.Client{
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }, Timeout: bound}}

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

	// Another team's template is a 404, its preview too.
	theirs := d.apiJSON(http.MethodPost, "/templates", keyB, map[string]any{"name": "Theirs", "html": "<p>secret of theirs</p>"})
	theirID := theirs["id"].(string)
	for _, p := range []string{"", "/edit", "/preview.html"} {
		d.navigate(d.base+"/dashboard/templates/"+theirID+p, http.StatusNotFound)
		require.NotContains(t, d.text("body"), "secret of theirs")
	}
	require.Equal(t, http.StatusNotFound, d.postForm("/dashboard/templates/"+theirID, d.csrf(), "name", "mine now"))

	// A viewer reads, but is refused every admin action.
	require.Equal(t, http.StatusOK, d.click(".signout button"))
	d.setPassword(viewerLink, "the viewer's password")
	d.navigate(d.base+"/dashboard/templates", http.StatusOK)
	require.Zero(t, d.count("#new-template"))
	d.navigate(d.base+"/dashboard/templates/"+tplID, http.StatusOK)
	require.Zero(t, d.count("#edit-template"))
	d.navigate(d.base+"/dashboard/settings", http.StatusOK)
	require.Zero(t, d.count("#save-rate-limit"))
	d.navigate(d.base+"/dashboard/templates/new", http.StatusForbidden)
	d.navigate(d.base+"/dashboard/templates/"+tplID+"/edit", http.StatusForbidden)
	csrf := d.csrf()
	for path, form := range map[string][]string{
		"/dashboard/templates":           {"name", "viewer's"},
		"/dashboard/templates/" + tplID:  {"name", "viewer's"},
		"/dashboard/settings/rate-limit": {"rate_limit", "1"},
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

	// At phone width, nothing scrolls sideways.
	d.do(chromedp.EmulateViewport(375, 812))
	for _, p := range []string{"/dashboard/templates", "/dashboard/templates/" + tplID, "/dashboard/settings"} {
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
	var frame *target.Info
	require.Eventually(d.t, func() bool {
		infos, err := chromedp.Targets(d.ctx)
		require.NoError(d.t, err)
		for _, info := range infos {
			if info.Type == "iframe" && info.URL == u {
				frame = info
			}
		}
		return frame != nil
	}, bound, 50*time.Millisecond, "the frame of %s", u)
	fctx, cancel := chromedp.NewContext(d.ctx, chromedp.WithTargetID(frame.TargetID), chromedp.WithDetachOnCancel())
	defer cancel()
	var text string
	require.Eventually(d.t, func() bool {
		s, err := chromedp.Run(fctx, chromedp.Text(chromedp.CSS(sel)))
		text = s
		return err == nil
	}, bound, 50*time.Millisecond)
	return text
}
