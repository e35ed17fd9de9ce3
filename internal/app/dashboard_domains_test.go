package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/target"
	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"github.com/godwit/godwit/internal/app"
	"github.com/godwit/godwit/internal/dnscheck"
	"github.com/godwit/godwit/internal/dnscheck/dnstest"
	"github.com/godwit/godwit/internal/godwittest"
	"github.com/godwit/godwit/internal/store"
	"github.com/godwit/godwit/internal/store/sqlstore"
)

// TestDashboardDomainsAndKeysInBrowser drives the Domains and API keys
// pages in headless Chromium against the real server, on both stores, with
// a loopback DNS server: an admin adds a domain, copies a record's value
// (the clipboard holds it), publishes the records and clicks "Verify now"
// until the domain is verified, deletes another after the confirmation
// step; creates a key, sees its token once, sends with it through the API,
// revokes it and sees the API refuse it. Another team's domain and key are
// 404 pages; a viewer is refused every admin action.
func TestDashboardDomainsAndKeysInBrowser(t *testing.T) {
	eachStoreInBrowser(t, testDomainsAndKeys)
}

func testDomainsAndKeys(t *testing.T, bctx context.Context, kind sqlstore.Dialect) {
	dns := dnstest.NewServer(t)
	cfg := serveConfig(t.TempDir())
	cfg.DatabaseURL = godwittest.StoreURL(t, kind)
	cfg.DNSResolver = dns.Addr()
	d, _ := startDash(t, bctx, kind, cfg)
	ctx := d.ctx

	// Another team's domain and key, made through the API.
	keyB := d.cli(cfg, "keys", "create", "--name", "e2e", "--team", "other")
	status, body := d.api("POST", "/domains", keyB, `{"name":"theirs.test"}`)
	require.Equal(t, http.StatusCreated, status, "%v", body)
	theirDomain := body["id"].(string)
	status, body = d.api("GET", "/api-keys", keyB, "")
	require.Equal(t, http.StatusOK, status, "%v", body)
	theirKey := body["data"].([]any)[0].(map[string]any)["id"].(string)

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
	d.grantClipboard()

	// Domains: empty, a refused name, then one added.
	d.navigate(d.base+"/dashboard/domains", http.StatusOK)
	require.Equal(t, "/dashboard/domains", d.attr(`.side a[aria-current="page"]`, "href"))
	d.shot("domains-empty")
	d.do(chromedp.SetValue(chromedp.CSS("#domain-name"), "not a domain"))
	require.Equal(t, http.StatusBadRequest, d.submit("#domain-name"))
	require.Contains(t, d.text(".alert"), "not a domain name")
	d.do(chromedp.SetValue(chromedp.CSS("#domain-name"), "Shop.Test"), chromedp.SetValue(chromedp.CSS("#domain-region"), "eu-west-1"))
	require.Equal(t, http.StatusOK, d.submit("#domain-name"))
	domainURL := d.location()
	require.True(t, strings.HasPrefix(domainURL, d.base+"/dashboard/domains/"), domainURL)
	shopID := strings.TrimPrefix(domainURL, d.base+"/dashboard/domains/")
	require.Equal(t, "shop.test · Godwit", d.title())
	require.Equal(t, "not started", d.text("#status"))
	require.GreaterOrEqual(t, d.count("#records li.record"), 4, "DKIM, SPF MX and TXT, DMARC")
	require.Equal(t, 1, d.count(`#records li[data-kind="DMARC"] .guide`), "guidance per record")
	require.Equal(t, "not checked yet", d.text("#checked"))
	require.Equal(t, "not checked yet", d.text(`#records li[data-kind="DKIM"] [data-answer]`))
	require.Zero(t, d.count(`#records [data-checked]`))

	// The records' values are copied to the clipboard by their buttons.
	dkim := d.text(`#records li[data-kind="DKIM"] code[id$="-value"]`)
	require.True(t, strings.HasPrefix(dkim, "p="), dkim)
	d.do(chromedp.Click(chromedp.CSS(`#records li[data-kind="DKIM"] button[data-copy$="-value"]`)))
	require.Eventually(t, func() bool {
		return d.optAttr(`#records li[data-kind="DKIM"] button[data-copy$="-value"]`, "data-copied") == "yes"
	}, bound, 20*time.Millisecond, "the button says it copied")
	copied, err := chromedp.Run(ctx, chromedp.Evaluate[string](`navigator.clipboard.readText()`, chromedp.EvalAwaitPromise))
	require.NoError(t, err)
	require.Equal(t, dkim, copied, "the clipboard holds the value")
	d.shot("domain")

	// Published at the (loopback) DNS but for the optional DMARC record,
	// "Verify now" verifies it; the page shows what DNS answered for each
	// record, and when.
	recs, err := chromedp.Run(ctx, chromedp.Evaluate[[]map[string]string](`[...document.querySelectorAll('#records li.record')].map(li => ({
		kind: li.dataset.kind, type: li.querySelector('.tag').textContent, name: li.querySelector('[id$="-name"]').textContent,
		value: li.querySelector('[id$="-value"]').textContent}))`))
	require.NoError(t, err)
	publish := func(r map[string]string) {
		fqdn := r["name"] + ".shop.test"
		switch r["type"] {
		case "TXT":
			dns.SetTXT(fqdn, r["value"])
		case "MX":
			dns.SetMX(fqdn, dnscheck.MX{Host: r["value"] + ".", Preference: 10})
		}
	}
	var dmarc, mx map[string]string
	for _, r := range recs {
		switch r["kind"] {
		case "DMARC":
			dmarc = r
			continue
		case "SPF-MX":
			mx = r
		}
		publish(r)
	}
	require.NotNil(t, dmarc)
	require.NotNil(t, mx)
	require.Equal(t, http.StatusOK, d.click("#verify"))
	require.Equal(t, domainURL, d.location())
	require.Eventually(t, func() bool {
		d.navigate(domainURL, http.StatusOK)
		return d.text("#status") == "verified"
	}, bound, 100*time.Millisecond, "the domain is verified")
	require.Equal(t, d.count("#records li.record")-1, d.count(`#records .badge.ok`), "every record verified but DMARC")
	require.Equal(t, "pending", d.text(`#records li[data-kind="DMARC"] [data-status]`))
	require.Equal(t, dkim, d.text(`#records li[data-kind="DKIM"] [data-answer] .answer-values code`), "DNS answered the DKIM key")
	require.Equal(t, "10 "+mx["value"], d.text(`#records li[data-kind="SPF-MX"] [data-answer]`), "and the MX")
	require.Equal(t, "NXDOMAIN: the name _dmarc.shop.test does not exist.", d.text(`#records li[data-kind="DMARC"] [data-answer]`),
		"and that no DMARC record exists")
	checkedRe := `^(less than a second|\d+ seconds?) ago, at \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC$`
	require.Equal(t, d.count("#records li.record"), d.count(`#records [data-checked]`), "a check time per record")
	require.Regexp(t, checkedRe, d.text(`#records li[data-kind="DMARC"] [data-checked]`))
	require.Regexp(t, checkedRe, d.text("#checked"), "the domain's last check")
	checkedAt := d.attr(`#records li[data-kind="DMARC"] [data-checked] time`, "datetime")
	at, err := time.Parse(time.RFC3339, checkedAt)
	require.NoError(t, err)
	require.WithinDuration(t, time.Now(), at, bound, "checked just now")
	require.Equal(t, checkedAt, d.attr("#checked time", "datetime"))
	require.Regexp(t, `^in (23|24) hours, at .* UTC$`, d.text("#next-check"), "a verified domain is checked again daily")
	d.shot("domain-answers")

	// DMARC published, "Verify now" checks again and finds it.
	publish(dmarc)
	require.Equal(t, http.StatusOK, d.click("#verify"))
	require.Eventually(t, func() bool {
		d.navigate(domainURL, http.StatusOK)
		return d.text(`#records li[data-kind="DMARC"] [data-status]`) == "verified"
	}, bound, 100*time.Millisecond, "DMARC is verified")
	require.Equal(t, dmarc["value"], d.text(`#records li[data-kind="DMARC"] [data-answer]`))
	require.Equal(t, d.count("#records li.record"), d.count(`#records .badge.ok`), "every record verified")
	d.shot("domain-verified")
	d.navigate(d.base+"/dashboard/domains", http.StatusOK)
	require.Contains(t, d.text("#domains"), "shop.test")
	require.Contains(t, d.text("#domains"), "eu-west-1")
	require.NotContains(t, d.text("main"), "theirs.test")
	d.shot("domains")

	// Another team's domain is a 404, to see and to act on.
	d.navigate(d.base+"/dashboard/domains/"+theirDomain, http.StatusNotFound)
	d.navigate(d.base+"/dashboard/domains/"+theirDomain+"/delete", http.StatusNotFound)
	d.navigate(d.base+"/dashboard/domains", http.StatusOK)
	require.Equal(t, http.StatusNotFound, d.postForm("/dashboard/domains/"+theirDomain+"/verify", d.csrf()))
	d.navigate(d.base+"/dashboard/domains", http.StatusOK)
	require.Equal(t, http.StatusNotFound, d.postForm("/dashboard/domains/"+theirDomain+"/delete", d.csrf()))

	// A name another team verifies first: this team's copy is refused
	// "Verify now" (409), and adding the name again is refused too.
	d.navigate(d.base+"/dashboard/domains", http.StatusOK)
	d.do(chromedp.SetValue(chromedp.CSS("#domain-name"), "taken.test"))
	require.Equal(t, http.StatusOK, d.submit("#domain-name"))
	takenURL := d.location()
	status, body = d.api("POST", "/domains", keyB, `{"name":"taken.test"}`)
	require.Equal(t, http.StatusCreated, status, "%v", body)
	theirTaken := body["id"].(string)
	for _, rec := range body["records"].([]any) {
		r := rec.(map[string]any)
		fqdn := r["name"].(string) + ".taken.test"
		switch r["type"] {
		case "TXT":
			dns.SetTXT(fqdn, r["value"].(string))
		case "MX":
			dns.SetMX(fqdn, dnscheck.MX{Host: r["value"].(string) + ".", Preference: 10})
		}
	}
	status, _ = d.api("POST", "/domains/"+theirTaken+"/verify", keyB, "")
	require.Equal(t, http.StatusOK, status)
	require.Eventually(t, func() bool {
		_, body := d.api("GET", "/domains/"+theirTaken, keyB, "")
		return body["status"] == "verified"
	}, bound, 50*time.Millisecond, "the other team verifies taken.test")
	d.navigate(takenURL, http.StatusOK)
	require.Equal(t, http.StatusConflict, d.click("#verify"))
	require.Contains(t, d.text("main"), "Another team has verified taken.test")
	d.navigate(takenURL, http.StatusOK)
	require.Equal(t, "failed", d.text("#status"))
	require.Contains(t, d.text("#failure"), "Another team verified")
	d.navigate(d.base+"/dashboard/domains", http.StatusOK)
	d.do(chromedp.SetValue(chromedp.CSS("#domain-name"), "taken.test"))
	require.Equal(t, http.StatusConflict, d.submit("#domain-name"))
	require.Contains(t, d.text(".alert"), "registered already")

	// A domain is deleted after the confirmation step.
	d.navigate(d.base+"/dashboard/domains", http.StatusOK)
	d.do(chromedp.SetValue(chromedp.CSS("#domain-name"), "gone.test"))
	require.Equal(t, http.StatusOK, d.submit("#domain-name"))
	goneURL := d.location()
	require.Equal(t, http.StatusOK, d.click("#delete"))
	require.Contains(t, d.text("#confirm"), "Delete the domain gone.test?")
	d.shot("domain-delete")
	require.Equal(t, http.StatusOK, d.click("#confirm-button"))
	require.Equal(t, d.base+"/dashboard/domains", d.location())
	require.NotContains(t, d.text("#domains"), "gone.test")
	d.navigate(goneURL, http.StatusNotFound)

	// API keys: one created, sending access for shop.test; its token is
	// shown once.
	d.navigate(d.base+"/dashboard/api-keys", http.StatusOK)
	d.do(chromedp.SetValue(chromedp.CSS("#key-name"), "shop sender"), chromedp.SetValue(chromedp.CSS("#key-permission"), "sending_access"),
		chromedp.SetValue(chromedp.CSS("#key-domain"), shopID))
	require.Equal(t, http.StatusOK, d.submit("#key-name"))
	token := d.text("#new-token")
	require.True(t, strings.HasPrefix(token, "re_"), token)
	d.do(chromedp.Click(chromedp.CSS(`button[data-copy="new-token"]`)))
	require.Eventually(t, func() bool { return d.optAttr(`button[data-copy="new-token"]`, "data-copied") == "yes" },
		bound, 20*time.Millisecond)
	copied, err = chromedp.Run(ctx, chromedp.Evaluate[string](`navigator.clipboard.readText()`, chromedp.EvalAwaitPromise))
	require.NoError(t, err)
	require.Equal(t, token, copied)
	row := d.keyRow("shop sender")
	require.Contains(t, row, "shop sender")
	require.Contains(t, row, "sending access")
	require.Contains(t, row, "shop.test")
	d.shot("api-key-created")
	d.navigate(d.base+"/dashboard/api-keys", http.StatusOK)
	html, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.documentElement.outerHTML`))
	require.NoError(t, err)
	require.NotContains(t, html, token, "the token is never shown again")
	require.NotContains(t, html, token[:12], "nor its prefix")
	d.shot("api-keys")

	// The key sends through the API, from its domain only.
	status, body = d.api("POST", "/emails", token, `{"from":"hi@shop.test","to":["delivered@resend.dev"],"subject":"s","text":"t"}`)
	require.Equal(t, http.StatusOK, status, "%v", body)
	status, _ = d.api("GET", "/domains", token, "")
	require.Equal(t, http.StatusUnauthorized, status, "sending access only")
	var keysText string
	for deadline := time.Now().Add(bound); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		d.navigate(d.base+"/dashboard/api-keys", http.StatusOK)
		if keysText = d.keyRow("shop sender"); !strings.Contains(keysText, "never") {
			break
		}
	}
	require.NotContains(t, keysText, "never", "the key's last use shows")

	// Another team's key is a 404.
	d.navigate(d.base+"/dashboard/api-keys/"+theirKey+"/revoke", http.StatusNotFound)
	d.navigate(d.base+"/dashboard/api-keys", http.StatusOK)
	require.Equal(t, http.StatusNotFound, d.postForm("/dashboard/api-keys/"+theirKey+"/revoke", d.csrf()))
	status, _ = d.api("GET", "/api-keys", keyB, "")
	require.Equal(t, http.StatusOK, status, "their key still works")

	// Revoked after the confirmation step, the key is refused at once.
	d.navigate(d.base+"/dashboard/api-keys", http.StatusOK)
	require.Equal(t, http.StatusOK, d.click(`#keys a.revoke`))
	require.Contains(t, d.text("#confirm"), "Revoke the API key shop sender?")
	d.shot("api-key-revoke")
	require.Equal(t, http.StatusOK, d.click("#confirm-button"))
	require.Equal(t, d.base+"/dashboard/api-keys", d.location())
	require.NotContains(t, d.text("main"), "shop sender")
	status, body = d.api("POST", "/emails", token, `{"from":"hi@shop.test","to":["delivered@resend.dev"],"subject":"s","text":"t"}`)
	require.Equal(t, http.StatusForbidden, status, "a revoked key is refused")
	require.Equal(t, "invalid_api_key", body["name"], "%v", body)

	// A viewer reads, and is refused every admin action.
	d.navigate(d.base+"/dashboard/settings", http.StatusOK)
	d.do(chromedp.SetValue(chromedp.CSS("#member-email"), "viewer@example.com"), chromedp.SetValue(chromedp.CSS("#member-role"), "viewer"))
	require.Equal(t, http.StatusOK, d.submit("#member-email"))
	viewerLink := d.text("#new-member-link")
	require.Equal(t, http.StatusOK, d.click(".signout button"))
	d.navigate(viewerLink, http.StatusOK)
	d.do(chromedp.SetValue(chromedp.CSS("#password"), "the viewer's password"),
		chromedp.SetValue(chromedp.CSS("#confirm"), "the viewer's password"))
	require.Equal(t, http.StatusOK, d.submit("#confirm"))
	d.navigate(d.base+"/dashboard/domains", http.StatusOK)
	require.Zero(t, d.count("#domain-name"), "no add form for a viewer")
	d.navigate(domainURL, http.StatusOK)
	require.Zero(t, d.count("#verify"), "no Verify now for a viewer")
	require.Zero(t, d.count("#delete"))
	d.shot("domain-viewer")
	csrf := d.csrf()
	for path, form := range map[string][]string{
		"/dashboard/domains":                       {"name", "sneaky.test", "region", "us-east-1"},
		"/dashboard/domains/" + shopID + "/verify": nil,
		"/dashboard/domains/" + shopID + "/delete": nil,
		"/dashboard/api-keys":                      {"name", "sneaky", "permission", "full_access"},
	} {
		d.navigate(domainURL, http.StatusOK)
		require.Equal(t, http.StatusForbidden, d.postForm(path, csrf, form...), path)
		require.Contains(t, d.text("main"), "you are a viewer")
	}
	d.navigate(d.base+"/dashboard/domains/"+shopID+"/delete", http.StatusForbidden)
	d.navigate(d.base+"/dashboard/api-keys", http.StatusOK)
	require.Zero(t, d.count("#key-name"), "no create form for a viewer")
	require.Zero(t, d.count("#keys a.revoke"))
	list, err := db.ListDomains(context.Background(), admin.TeamID)
	require.NoError(t, err)
	require.Len(t, list, 2, "the viewer added and deleted nothing (shop.test, taken.test)")

	// At phone width, and dark.
	d.do(chromedp.EmulateViewport(375, 812))
	for _, p := range []string{"domains", "domains/" + shopID, "api-keys"} {
		d.navigate(d.base+"/dashboard/"+p, http.StatusOK)
		width, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.documentElement.scrollWidth`))
		require.NoError(t, err)
		require.LessOrEqual(t, width, 375, "%s: no sideways scrolling at phone width", p)
	}
	d.navigate(domainURL, http.StatusOK)
	d.shot("domain-375")
	d.do(chromedp.EmulateViewport(1280, 900), chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := cdp.Call(ctx, tg, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
			Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: "dark"}}})
		return err
	}))
	d.navigate(domainURL, http.StatusOK)
	bg, err := chromedp.Run(ctx, chromedp.Evaluate[string](`getComputedStyle(document.body).backgroundColor`))
	require.NoError(t, err)
	require.Equal(t, "rgb(17, 20, 23)", bg, "the dark palette")
	d.shot("domain-dark")
}

// api calls the API with key and returns the status and the JSON answer.
func (d *dash) api(method, path, key, body string) (int, map[string]any) {
	d.t.Helper()
	req, err := http.NewRequest(method, d.base+path, bytes.NewReader([]byte(body)))
	require.NoError(d.t, err)
	req.Header.Set("Authorization", "Bearer "+key)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := d.client.Do(req)
	require.NoError(d.t, err)
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out map[string]any
	_ = json.Unmarshal(raw, &out)
	return resp.StatusCode, out
}

// keyRow is the text of the keys list's row of the key named name.
func (d *dash) keyRow(name string) string {
	d.t.Helper()
	s, err := chromedp.Run(d.ctx, chromedp.Evaluate[string](`[...document.querySelectorAll('#keys tbody tr')].filter(tr =>
		tr.querySelector('td').textContent === `+quoteJS(name)+`).map(tr => tr.textContent).join('|')`))
	require.NoError(d.t, err)
	require.NotEmpty(d.t, s, "no key named %q", name)
	return s
}

// optAttr is the value of sel's attribute name ("" for none).
func (d *dash) optAttr(sel, name string) string {
	d.t.Helper()
	v, err := chromedp.Run(d.ctx, chromedp.AttributeValue(chromedp.CSS(sel), name))
	require.NoError(d.t, err, sel)
	return v.Value
}

// grantClipboard lets the pages of the test's browser context write and
// read the clipboard, so that a copy can be checked.
func (d *dash) grantClipboard() {
	d.t.Helper()
	d.do(chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		info, err := cdp.Call(ctx, tg, target.GetTargetInfo, target.GetTargetInfoParams{})
		if err != nil {
			return err
		}
		for _, name := range []string{"clipboard-read", "clipboard-write"} {
			if _, err := cdp.Call(ctx, tg, browser.SetPermission, browser.SetPermissionParams{
				Permission: &browser.PermissionDescriptor{Name: name, AllowWithoutSanitization: true},
				Setting:    browser.PermissionSettingGranted, Origin: d.base, BrowserContextID: info.TargetInfo.BrowserContextID}); err != nil {
				return err
			}
		}
		return nil
	}))
}
