package app_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
	"github.com/stretchr/testify/require"

	"github.com/godwit/godwit/internal/app"
	"github.com/godwit/godwit/internal/godwittest"
	"github.com/godwit/godwit/internal/store"
	"github.com/godwit/godwit/internal/store/sqlstore"
)

// TestDashboardWebhooksLogsQueue drives the Webhooks, Logs and Queue pages
// in headless Chromium against the real server, on both stores: an admin
// adds a webhook to a loopback endpoint that answers 500, sees the secret
// once, sees the failed attempt, and replays it with the keyboard alone (now answered 200);
// edits, reveals and rotates the secret, and deletes the webhook after a
// confirmation. The Logs page shows a request made with an API key and
// its bodies, escaped; the Queue page shows a deferred email with its
// reason. A viewer reads the pages but is refused every admin action;
// another team's webhook, message and log are 404s.
func TestDashboardWebhooksLogsQueue(t *testing.T) {
	eachStoreInBrowser(t, testDashboardWebhooks)
}

func testDashboardWebhooks(t *testing.T, bctx context.Context, kind sqlstore.Dialect) {
	cfg := serveConfig(t.TempDir())
	cfg.DatabaseURL = godwittest.StoreURL(t, kind)
	cfg.AllowPrivateNetworks = true // the webhook's endpoint is on loopback
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

	// The endpoint answers 500 until told otherwise.
	var answer atomic.Int32
	answer.Store(http.StatusInternalServerError)
	var posts atomic.Int32
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		posts.Add(1)
		w.WriteHeader(int(answer.Load()))
		_, _ = io.WriteString(w, `<b>endpoint says</b> `+http.StatusText(int(answer.Load())))
	}))
	defer hook.Close()

	d.do(chromedp.EmulateViewport(1280, 900))
	d.setPassword(adminLink, "the admin's password")

	// An empty list, then the form; a bad endpoint is refused with the
	// API's rule.
	d.navigate(d.base+"/dashboard/webhooks", http.StatusOK)
	require.Contains(t, d.text("main"), "No webhooks yet")
	d.shot("webhooks-empty")
	require.Equal(t, http.StatusOK, d.click("#new-webhook"))
	d.shot("webhook-new")
	d.do(chromedp.SetValue(chromedp.CSS("#endpoint"), "ftp://example.com"), chromedp.Click(chromedp.CSS(`input[value="email.delivered"]`)))
	require.Equal(t, http.StatusBadRequest, d.submit("#endpoint"))
	require.Contains(t, d.text(".alert"), "absolute http or https URL")
	d.do(chromedp.SetValue(chromedp.CSS("#endpoint"), hook.URL+"/hook"))
	require.Equal(t, http.StatusOK, d.submit("#endpoint"), "the refused form kept the chosen event")
	secret := d.text("#signing-secret")
	require.True(t, strings.HasPrefix(secret, "whsec_"), secret)
	require.Equal(t, "email.delivered", d.text("#webhook-events"))
	whID := d.text("dl.meta code")
	d.shot("webhook-created")
	d.navigate(d.base+"/dashboard/webhooks/"+whID, http.StatusOK)
	require.Zero(t, d.count("#signing-secret"), "the secret is shown once")
	require.NotContains(t, d.text("main"), secret)
	d.navigate(d.base+"/dashboard/webhooks", http.StatusOK)
	require.Contains(t, d.text("#webhooks"), hook.URL+"/hook")
	d.shot("webhooks")

	// An email sent with the key makes a message; the endpoint's 500 is
	// the failed attempt on the message's page.
	// (Written by hand: json.Marshal would escape the HTML's < and >.)
	sent := d.apiRaw(http.MethodPost, "/emails", keyA, `{"from":"Acme <onboarding@resend.dev>","to":["delivered@resend.dev"],`+
		`"subject":"Webhook test","html":"<p id=\"injected\">hi</p>","text":"hi"}`)
	emailID := sent["id"].(string)
	var msgID string
	require.Eventually(t, func() bool {
		d.navigate(d.base+"/dashboard/webhooks/"+whID, http.StatusOK)
		if d.count("#messages tr[data-message]") == 0 || d.text("#messages td.attempts") == "0" {
			return false
		}
		msgID = d.attr("#messages tr[data-message]", "data-message")
		return true
	}, bound, 200*time.Millisecond, "the message is attempted")
	require.Contains(t, d.text("#messages"), "email.delivered")
	d.shot("webhook")
	require.Equal(t, http.StatusOK, d.click("#messages td.subject a"))
	require.Equal(t, d.base+"/dashboard/webhooks/"+whID+"/messages/"+msgID, d.location())
	attempts := d.text("#attempts")
	require.Contains(t, attempts, "500")
	require.Contains(t, attempts, "<b>endpoint says</b> Internal Server Error", "the response excerpt, as text")
	require.Contains(t, d.text("#payload"), emailID)
	d.shot("webhook-message-failed")

	// Replay, now answered 200: a successful attempt joins the failed one.
	// With the keyboard alone: Tab to Replay, and Enter.
	answer.Store(http.StatusOK)
	for i := 0; d.focusedID() != "replay"; i++ {
		require.Less(t, i, 40, "Tab reaches Replay")
		d.do(chromedp.KeyEvent(kb.Tab))
	}
	replayed, err := chromedp.RunResponse(ctx, chromedp.KeyEvent(kb.Enter))
	require.NoError(t, err)
	require.EqualValues(t, http.StatusOK, replayed.Status)
	require.Equal(t, d.base+"/dashboard/webhooks/"+whID+"/messages/"+msgID, d.location())
	require.Eventually(t, func() bool {
		d.navigate(d.base+"/dashboard/webhooks/"+whID+"/messages/"+msgID, http.StatusOK)
		return d.text("#message-status") == "success"
	}, bound, 200*time.Millisecond, "the replay succeeds")
	attempts = d.text("#attempts")
	require.Contains(t, attempts, "200")
	require.Contains(t, attempts, "500")
	d.shot("webhook-message-replayed")

	// Edit: another event and disabled.
	d.navigate(d.base+"/dashboard/webhooks/"+whID, http.StatusOK)
	require.Equal(t, http.StatusOK, d.click("#edit-webhook"))
	require.Equal(t, hook.URL+"/hook", d.attr("#endpoint", "value"))
	d.shot("webhook-edit")
	d.do(chromedp.Click(chromedp.CSS(`input[value="email.bounced"]`)), chromedp.SetValue(chromedp.CSS("#status"), "disabled"))
	require.Equal(t, http.StatusOK, d.submit("#endpoint"))
	require.Equal(t, d.base+"/dashboard/webhooks/"+whID, d.location())
	require.Equal(t, "email.delivered, email.bounced", d.text("#webhook-events"))
	require.Equal(t, "disabled", d.text("#webhook-status"))

	// Reveal shows the secret once; rotate shows a new one.
	require.Equal(t, http.StatusOK, d.click("#reveal-secret"))
	require.Equal(t, secret, d.text("#signing-secret"))
	require.Equal(t, http.StatusOK, d.click("#rotate-secret"))
	rotated := d.text("#signing-secret")
	require.True(t, strings.HasPrefix(rotated, "whsec_"))
	require.NotEqual(t, secret, rotated)
	d.shot("webhook-rotated")
	require.Equal(t, http.StatusOK, d.click("#reveal-secret"))
	require.Equal(t, rotated, d.text("#signing-secret"))

	// Logs: the send, with its bodies as escaped text.
	var logID string
	require.Eventually(t, func() bool {
		d.navigate(d.base+"/dashboard/logs", http.StatusOK)
		if d.count("#logs a") == 0 {
			return false
		}
		logID = strings.TrimPrefix(d.attr(`#logs a[href^="/dashboard/logs/"]`, "href"), "/dashboard/logs/")
		return strings.Contains(d.text("#logs"), "POST /emails")
	}, bound, 200*time.Millisecond, "the request is logged")
	require.Contains(t, d.text("#logs"), "Go-http-client")
	d.shot("logs")
	require.Equal(t, http.StatusOK, d.click(`#logs a[href="/dashboard/logs/`+logID+`"]`))
	require.Equal(t, "POST /emails", d.text("h1"))
	req := d.text("#request-body")
	require.Contains(t, req, `"subject": "Webhook test"`, "pretty-printed")
	require.Contains(t, req, `"html": "<p id=\"injected\">hi</p>"`, "as text, not HTML")
	require.Zero(t, d.count("#injected"), "never as HTML")
	require.Contains(t, d.text("#response-body"), emailID)
	d.shot("log")

	// Queue: a deferred email with its reason.
	t0 := time.Now().UTC()
	deferred := &store.Email{ID: store.NewID(), TeamID: admin.TeamID, From: "a@example.com", To: []string{"slow@example.net"},
		Subject: "Deferred one", LastEvent: store.EventQueued, CreatedAt: t0}
	require.NoError(t, db.AcceptEmails(context.Background(), &store.Accept{Emails: []*store.Email{deferred}}))
	retry := t0.Add(time.Hour)
	require.NoError(t, db.RecordDelivery(context.Background(), &store.DeliveryOutcome{EmailID: deferred.ID, TeamID: admin.TeamID,
		LastEvent: store.EventDeliveryDelayed, RetryAt: &retry,
		Attempts: []*store.DeliveryAttempt{{Recipient: "slow@example.net", Outcome: store.OutcomeDeferred, Host: "mx.example.net",
			Code: 421, Response: "try again later", CreatedAt: t0}}}))
	d.navigate(d.base+"/dashboard/queue", http.StatusOK)
	row := d.text(`#queue tr[data-email="` + deferred.ID + `"]`)
	require.Contains(t, row, "delivery delayed")
	require.Contains(t, row, "deferred: mx.example.net: 421 try again later (for slow@example.net)")
	require.Contains(t, row, retry.Format("2006-01-02 15:04:05 UTC"))
	d.shot("queue")
	d.do(chromedp.SetValue(chromedp.CSS("#queue-status"), "scheduled"))
	require.Equal(t, http.StatusOK, d.submit("#queue-status"))
	require.Zero(t, d.count(`#queue tr[data-email="`+deferred.ID+`"]`), "filtered by status")
	d.navigate(d.base+"/dashboard/queue?status=bogus", http.StatusBadRequest)

	// Another team's webhook, message and log are 404s.
	theirs := d.apiJSON(http.MethodPost, "/webhooks", keyB, map[string]any{"endpoint": "https://example.com/h", "events": []string{"email.sent"}})
	d.navigate(d.base+"/dashboard/webhooks/"+theirs["id"].(string), http.StatusNotFound)
	d.navigate(d.base+"/dashboard/webhooks/"+theirs["id"].(string)+"/messages/"+msgID, http.StatusNotFound)
	d.navigate(d.base+"/dashboard/webhooks/"+theirs["id"].(string)+"/edit", http.StatusNotFound)
	theirLogs := d.apiJSON(http.MethodGet, "/logs", keyB, nil)
	theirLog := theirLogs["data"].([]any)[0].(map[string]any)["id"].(string)
	d.navigate(d.base+"/dashboard/logs/"+theirLog, http.StatusNotFound)
	require.NotContains(t, d.text("main"), "example.com/h")

	// A viewer reads, but every admin action is refused, even with a
	// valid form.
	d.navigate(d.base+"/dashboard/webhooks", http.StatusOK)
	csrf := d.csrf()
	require.Equal(t, http.StatusOK, d.click(".signout button"))
	d.setPassword(viewerLink, "the viewer's password")
	d.navigate(d.base+"/dashboard/webhooks/"+whID, http.StatusOK)
	require.Zero(t, d.count("#reveal-secret, #rotate-secret, #edit-webhook, #delete-webhook"), "no admin controls for a viewer")
	d.navigate(d.base+"/dashboard/webhooks/"+whID+"/messages/"+msgID, http.StatusOK)
	require.Zero(t, d.count("#replay"))
	d.navigate(d.base+"/dashboard/webhooks/new", http.StatusForbidden)
	d.navigate(d.base+"/dashboard/webhooks/"+whID+"/delete", http.StatusForbidden)
	csrf = d.csrf()
	for path, form := range map[string][]string{
		"/dashboard/webhooks":                                            {"endpoint", "https://example.com/x", "events", "email.sent"},
		"/dashboard/webhooks/" + whID:                                    {"endpoint", "https://example.com/x", "events", "email.sent", "status", "enabled"},
		"/dashboard/webhooks/" + whID + "/reveal":                        nil,
		"/dashboard/webhooks/" + whID + "/rotate":                        nil,
		"/dashboard/webhooks/" + whID + "/delete":                        nil,
		"/dashboard/webhooks/" + whID + "/messages/" + msgID + "/replay": nil,
	} {
		require.Equal(t, http.StatusForbidden, d.postForm(path, csrf, form...), path)
		require.Contains(t, d.text("main"), "you are a viewer", path)
		require.NotContains(t, d.text("body"), rotated, path)
	}
	d.navigate(d.base+"/dashboard/logs/"+logID, http.StatusOK)
	d.navigate(d.base+"/dashboard/queue", http.StatusOK)
	wh, err := db.GetWebhook(context.Background(), admin.TeamID, whID)
	require.NoError(t, err)
	require.Equal(t, hook.URL+"/hook", wh.Endpoint, "the viewer changed nothing")

	// The admin deletes the webhook after confirming.
	require.Equal(t, http.StatusOK, d.click(".signout button"))
	require.Equal(t, http.StatusOK, d.signIn("admin@example.com", "the admin's password"))
	d.navigate(d.base+"/dashboard/webhooks/"+whID, http.StatusOK)
	require.Equal(t, http.StatusOK, d.click("#delete-webhook"))
	d.shot("webhook-delete")
	require.Equal(t, http.StatusOK, d.click("#confirm-delete"))
	require.Equal(t, d.base+"/dashboard/webhooks", d.location())
	require.Contains(t, d.text("main"), "No webhooks yet")
	d.navigate(d.base+"/dashboard/webhooks/"+whID, http.StatusNotFound)

	// At phone width, nothing scrolls sideways.
	d.do(chromedp.EmulateViewport(375, 812))
	for _, p := range []string{"/dashboard/webhooks/new", "/dashboard/logs", "/dashboard/queue", "/dashboard/logs/" + logID} {
		d.navigate(d.base+p, http.StatusOK)
		width, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.documentElement.scrollWidth`))
		require.NoError(t, err)
		require.LessOrEqual(t, width, 375, "no sideways scrolling at phone width: %s", p)
	}
	d.shot("log-375")

	// The dark theme.
	d.do(chromedp.EmulateViewport(1280, 900), chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := cdp.Call(ctx, tg, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
			Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: "dark"}}})
		return err
	}))
	d.navigate(d.base+"/dashboard/queue", http.StatusOK)
	bg, err := chromedp.Run(ctx, chromedp.Evaluate[string](`getComputedStyle(document.body).backgroundColor`))
	require.NoError(t, err)
	require.Equal(t, "rgb(17, 20, 23)", bg, "the dark palette")
	d.shot("queue-dark")
}

// setPassword opens a one-time link and sets the password, which signs in.
func (d *dash) setPassword(link, password string) {
	d.t.Helper()
	d.navigate(link, http.StatusOK)
	d.do(chromedp.SetValue(chromedp.CSS("#password"), password), chromedp.SetValue(chromedp.CSS("#confirm"), password))
	require.Equal(d.t, http.StatusOK, d.submit("#confirm"))
}

// focusedID is the id of the element that has the keyboard's focus.
func (d *dash) focusedID() string {
	d.t.Helper()
	s, err := chromedp.Run(d.ctx, chromedp.Evaluate[string](`document.activeElement.id || ''`))
	require.NoError(d.t, err)
	return s
}

func (d *dash) attr(sel, name string) string {
	d.t.Helper()
	v, err := chromedp.Run(d.ctx, chromedp.AttributeValue(chromedp.CSS(sel), name))
	require.NoError(d.t, err, sel)
	require.True(d.t, v.Exists, "%s has %s", sel, name)
	return v.Value
}

// apiJSON calls the API with key and decodes its JSON answer.
func (d *dash) apiJSON(method, path, key string, body any) map[string]any {
	d.t.Helper()
	raw := ""
	if body != nil {
		b, err := json.Marshal(body)
		require.NoError(d.t, err)
		raw = string(b)
	}
	return d.apiRaw(method, path, key, raw)
}

// apiRaw calls the API with key and the body as it is.
func (d *dash) apiRaw(method, path, key, body string) map[string]any {
	d.t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, d.base+path, r)
	require.NoError(d.t, err)
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/json")
	resp, err := d.client.Do(req)
	require.NoError(d.t, err)
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	require.Less(d.t, resp.StatusCode, 300, string(raw))
	var out map[string]any
	require.NoError(d.t, json.Unmarshal(raw, &out))
	return out
}
