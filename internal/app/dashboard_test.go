package app_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"image"
	pngenc "image/png"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/target"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
	"github.com/stretchr/testify/require"

	"github.com/godwit/godwit/internal/app"
	"github.com/godwit/godwit/internal/config"
	"github.com/godwit/godwit/internal/dashboard"
	"github.com/godwit/godwit/internal/godwittest"
	"github.com/godwit/godwit/internal/store"
	"github.com/godwit/godwit/internal/store/sqlstore"
)

// TestDashboardInBrowser drives the dashboard in headless Chromium against
// the real server (app.Serve with --delivery capture), on both stores: a
// user made by the CLI's function sets a password from the one-time link,
// signs out and in, finds an email sent through the API, watches its
// timeline reach delivered with its HTML in a sandboxed frame; CSRF,
// another team's email, a locked account and a viewer on an admin action
// are refused. Screenshots of each page go to $GODWIT_SCREENSHOTS or
// testdata/screenshots/.
func TestDashboardInBrowser(t *testing.T) {
	t.Parallel()
	browser := godwittest.Browser(t)
	for i, kind := range godwittest.Kinds {
		t.Run(string(kind), func(t *testing.T) {
			// One store at a time: each drives the one browser, in a tab
			// of its own with its own cookies.
			ctx, cancel := chromedp.NewContext(browser, chromedp.WithNewBrowserContext())
			defer cancel()
			testDashboard(t, ctx, kind, i)
		})
	}
}

// dash is one run of the dashboard test.
type dash struct {
	t      *testing.T
	ctx    context.Context
	base   string // the API listener, http://host:port
	kind   sqlstore.Dialect
	shots  string
	client *http.Client
}

func testDashboard(t *testing.T, bctx context.Context, kind sqlstore.Dialect, _ int) {
	dir := t.TempDir()
	cfg := serveConfig(dir)
	cfg.DatabaseURL = godwittest.StoreURL(t, kind)
	cfg.DashboardAddr = "127.0.0.1:0"
	d, s := startDash(t, bctx, kind, cfg)
	dashAddr := s.addr(t, "serving the dashboard", "addr")
	ctx := d.ctx

	keyA := d.cli(cfg, "keys", "create", "--name", "e2e")
	keyB := d.cli(cfg, "keys", "create", "--name", "e2e", "--team", "other")
	db, err := sqlstore.Open(context.Background(), cfg.DatabaseURL, sqlstore.Options{Outbox: sqlstore.NoOutbox})
	require.NoError(t, err)
	defer db.Close()
	linkCfg := cfg
	linkCfg.PublicURL = d.base
	admin, link, err := app.CreateUser(context.Background(), db, linkCfg, app.DefaultTeam, "Admin@Example.com", store.RoleAdmin)
	require.NoError(t, err)
	require.Equal(t, "admin@example.com", admin.Email)
	require.True(t, strings.HasPrefix(link, d.base+"/dashboard/set-password?token="), link)

	// A browser asking for / is sent to the dashboard; the API keeps its
	// answers for everything else.
	resp := d.get("/", "text/html", nil)
	require.Equal(t, http.StatusFound, resp.StatusCode)
	require.Equal(t, "/dashboard/", resp.Header.Get("Location"))

	d.do(chromedp.EmulateViewport(1280, 900))
	// The one-time link sets the password and signs in.
	d.navigate(link, http.StatusOK)
	d.shot("set-password")
	d.do(chromedp.SetValue(chromedp.CSS("#password"), "short"), chromedp.SetValue(chromedp.CSS("#confirm"), "short"))
	require.Equal(t, http.StatusBadRequest, d.submit("#confirm"), "a short password is refused (the browser's minlength aside)")
	require.Contains(t, d.text(".alert"), "at least 10 characters")
	d.do(chromedp.SetValue(chromedp.CSS("#password"), "a long enough password"),
		chromedp.SetValue(chromedp.CSS("#confirm"), "a long enough password"))
	require.Equal(t, http.StatusOK, d.submit("#confirm"))
	require.Equal(t, d.base+"/dashboard/emails", d.location())
	d.shot("emails-empty")
	d.navigate(link, http.StatusOK)
	d.do(chromedp.SetValue(chromedp.CSS("#password"), "another long password"),
		chromedp.SetValue(chromedp.CSS("#confirm"), "another long password"))
	require.Equal(t, http.StatusBadRequest, d.submit("#confirm"), "the link works once")
	d.navigate(d.base+"/dashboard/emails", http.StatusOK)

	// Sign out, and in again.
	require.Equal(t, http.StatusOK, d.click(".signout button"))
	require.Equal(t, d.base+"/dashboard/sign-in", d.location())
	d.navigate(d.base+"/dashboard/emails", http.StatusOK)
	require.True(t, strings.HasPrefix(d.location(), d.base+"/dashboard/sign-in?next="), "signed out: sent to sign in")
	d.shot("sign-in")
	require.Equal(t, http.StatusUnauthorized, d.signIn("admin@example.com", "the wrong password"))
	require.Contains(t, d.text(".alert"), "wrong")
	require.Equal(t, http.StatusOK, d.signIn("ADMIN@example.com", "a long enough password"))
	require.Equal(t, d.base+"/dashboard/emails", d.location(), "back where sign-in was asked for")

	// An email sent through the API shows in the list, and its page shows
	// its timeline reach delivered and its HTML in a sandbox.
	var hits atomic.Int32
	beacon := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { hits.Add(1) }))
	defer beacon.Close()
	html := `<p id="x">Hello from the body</p><img src="` + beacon.URL + `/pixel.gif"><img id="logo" src="cid:logo">` +
		`<script>document.getElementById('x').textContent='pwned';fetch('` + beacon.URL + `/script')</script>`
	var png bytes.Buffer
	require.NoError(t, pngenc.Encode(&png, image.NewRGBA(image.Rect(0, 0, 3, 2))))
	id := d.send(keyA, "Dashboard test", html, map[string]any{"filename": "logo.png", "content_id": "logo",
		"content": base64.StdEncoding.EncodeToString(png.Bytes())})
	otherID := d.send(keyB, "Another team's secret", "<p>theirs</p>")
	require.Eventually(t, func() bool {
		d.navigate(d.base+"/dashboard/emails", http.StatusOK)
		return strings.Contains(d.text("table.list"), "Dashboard test")
	}, bound, 200*time.Millisecond, "the email is listed")
	require.NotContains(t, d.text("main"), "Another team's secret")
	require.Contains(t, d.text("table.list"), "delivered@resend.dev")
	d.shot("emails")
	// The keyboard alone opens it: the skip link first, then Tab to the
	// email's link, and Enter.
	d.do(chromedp.KeyEvent(kb.Tab))
	require.Equal(t, "#main", d.focused())
	for i := 0; d.focused() != "/dashboard/emails/"+id; i++ {
		require.Less(t, i, 40, "Tab reaches the email's link")
		d.do(chromedp.KeyEvent(kb.Tab))
	}
	opened, err := chromedp.RunResponse(ctx, chromedp.KeyEvent(kb.Enter))
	require.NoError(t, err)
	require.EqualValues(t, http.StatusOK, opened.Status)
	require.Equal(t, d.base+"/dashboard/emails/"+id, d.location())
	require.Eventually(t, func() bool {
		d.navigate(d.base+"/dashboard/emails/"+id, http.StatusOK)
		return d.count(`#timeline li[data-event="delivered"]`) == 1
	}, bound, 200*time.Millisecond, "the timeline reaches delivered")
	require.Equal(t, "delivered", d.text("#status"))
	timeline := d.text("#timeline")
	require.Contains(t, timeline, "queued")
	require.Contains(t, timeline, "Attempt to delivered@resend.dev", "the delivery attempt is on the timeline")
	require.Equal(t, "Dashboard test · Godwit", d.title())
	sandbox, err := chromedp.Run(ctx, chromedp.AttributeValue(chromedp.CSS("iframe#html-body"), "sandbox"))
	require.NoError(t, err)
	require.True(t, sandbox.Exists, "the email's HTML is in a sandboxed frame")
	require.Empty(t, sandbox.Value, "the sandbox allows nothing")
	frameURL := d.base + "/dashboard/emails/" + id + "/body.html"
	d.requireFrame(frameURL, "Hello from the body")
	d.shot("email")
	require.Zero(t, hits.Load(), "the email loaded nothing from elsewhere")

	cookie := d.sessionCookie()
	resp = d.get("/dashboard/emails/"+id+"/body.html", "", cookie)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, dashboard.FrameCSP, resp.Header.Get("Content-Security-Policy"))
	resp = d.get("/dashboard/emails/"+id, "", cookie)
	require.Equal(t, dashboard.CSP, resp.Header.Get("Content-Security-Policy"))
	require.Equal(t, "nosniff", resp.Header.Get("X-Content-Type-Options"))
	require.Equal(t, "same-origin", resp.Header.Get("Referrer-Policy"))

	// Another team's email is a 404, page and frame alike.
	d.navigate(d.base+"/dashboard/emails/"+otherID, http.StatusNotFound)
	require.Contains(t, d.text("main"), "not your team's")
	require.NotContains(t, d.text("main"), "secret")
	d.shot("not-found")
	require.Equal(t, http.StatusNotFound, d.get("/dashboard/emails/"+otherID+"/body.html", "", cookie).StatusCode)
	require.Equal(t, http.StatusNotFound, d.get("/dashboard/emails?after="+otherID, "", cookie).StatusCode)

	// A POST without the CSRF token is refused, in the browser and out of
	// it, and so is one from another origin with the right token.
	d.navigate(d.base+"/dashboard/settings", http.StatusOK)
	d.shot("settings")
	require.Equal(t, http.StatusForbidden, d.postForm("/dashboard/settings/sign-out-everywhere", ""))
	require.Contains(t, d.text("main"), "did not come from this dashboard")
	d.shot("forbidden")
	d.navigate(d.base+"/dashboard/emails", http.StatusOK) // still signed in
	require.Equal(t, d.base+"/dashboard/emails", d.location())
	resp = d.post("/dashboard/settings/sign-out-everywhere", url.Values{}, cookie, "")
	require.Equal(t, http.StatusForbidden, resp.StatusCode)
	d.navigate(d.base+"/dashboard/settings", http.StatusOK)
	token := d.csrf()
	resp = d.post("/dashboard/settings/sign-out-everywhere", url.Values{"csrf": {token}}, cookie, "http://evil.example")
	require.Equal(t, http.StatusForbidden, resp.StatusCode, "another origin")

	// An admin adds a viewer in Settings; the link it shows once works.
	d.do(chromedp.SetValue(chromedp.CSS("#member-email"), "viewer@example.com"), chromedp.SetValue(chromedp.CSS("#member-role"), "viewer"))
	require.Equal(t, http.StatusOK, d.submit("#member-email"))
	viewerLink := d.text("#new-member-link")
	require.True(t, strings.HasPrefix(viewerLink, d.base+"/dashboard/set-password?token="), viewerLink)
	d.shot("settings-member-added")
	require.Equal(t, http.StatusOK, d.click(".signout button"))
	d.navigate(viewerLink, http.StatusOK)
	d.do(chromedp.SetValue(chromedp.CSS("#password"), "the viewer's password"),
		chromedp.SetValue(chromedp.CSS("#confirm"), "the viewer's password"))
	require.Equal(t, http.StatusOK, d.submit("#confirm"))

	// A viewer is refused the admin-only action, even with a valid form.
	d.navigate(d.base+"/dashboard/settings", http.StatusOK)
	require.Zero(t, d.count("#member-email"), "no add-member form for a viewer")
	require.Equal(t, http.StatusForbidden, d.postForm("/dashboard/settings/members", d.csrf(), "email", "sneaky@example.com", "role", "admin"))
	require.Contains(t, d.text("main"), "you are a viewer")
	users, err := db.ListUsers(context.Background(), admin.TeamID)
	require.NoError(t, err)
	require.Len(t, users, 2, "the viewer added no one")

	// Sign out everywhere ends the viewer's other sessions too.
	viewerCookie := d.sessionCookie()
	d.navigate(d.base+"/dashboard/settings", http.StatusOK)
	require.Equal(t, http.StatusOK, d.click("form[action$=sign-out-everywhere] button"))
	require.Equal(t, d.base+"/dashboard/sign-in", d.location())
	resp = d.get("/dashboard/emails", "", viewerCookie)
	require.Equal(t, http.StatusSeeOther, resp.StatusCode, "the old session is gone")

	// Ten wrong passwords lock the account, and then the right one is
	// refused too.
	for i := range 10 {
		status := d.signIn("viewer@example.com", "not the password")
		if i < 9 {
			require.Equal(t, http.StatusUnauthorized, status, "attempt %d", i+1)
		} else {
			require.Equal(t, http.StatusForbidden, status, "attempt %d locks", i+1)
		}
	}
	require.Equal(t, http.StatusForbidden, d.signIn("viewer@example.com", "the viewer's password"))
	require.Contains(t, d.text(".alert"), "locked")
	d.shot("locked")
	refused := s.logs.Records(t, "dashboard sign-in refused")
	require.NotEmpty(t, refused)
	require.Equal(t, "account locked", refused[len(refused)-1]["reason"])
	require.NotContains(t, s.logs.String(), "not the password", "passwords are never logged")
	require.NotContains(t, s.logs.String(), "the viewer's password")

	// The dashboard's own listener serves the same pages.
	dashBase := "http://" + dashAddr
	resp = d.getURL(dashBase+"/", "text/html", nil)
	require.Equal(t, http.StatusFound, resp.StatusCode)
	d.navigate(dashBase+"/dashboard/sign-in", http.StatusOK)
	require.Equal(t, "Sign in · Godwit", d.title())
	require.Equal(t, http.StatusOK, d.signIn("admin@example.com", "a long enough password"))
	require.Equal(t, dashBase+"/dashboard/emails", d.location())

	// At phone width.
	d.do(chromedp.EmulateViewport(375, 812))
	d.navigate(dashBase+"/dashboard/emails", http.StatusOK)
	d.shot("emails-375")
	width, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.documentElement.scrollWidth`))
	require.NoError(t, err)
	require.LessOrEqual(t, width, 375, "no sideways scrolling at phone width")
	d.navigate(dashBase+"/dashboard/emails/"+id, http.StatusOK)
	d.shot("email-375")
	width, err = chromedp.Run(ctx, chromedp.Evaluate[int](`document.documentElement.scrollWidth`))
	require.NoError(t, err)
	require.LessOrEqual(t, width, 375, "no sideways scrolling at phone width")

	// The dark theme follows the system's.
	d.do(chromedp.EmulateViewport(1280, 900), chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := cdp.Call(ctx, tg, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
			Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: "dark"}}})
		return err
	}))
	d.navigate(dashBase+"/dashboard/emails/"+id, http.StatusOK)
	bg, err := chromedp.Run(ctx, chromedp.Evaluate[string](`getComputedStyle(document.body).backgroundColor`))
	require.NoError(t, err)
	require.Equal(t, "rgb(17, 20, 23)", bg, "the dark palette")
	d.shot("email-dark")
}

// cli runs a godwit command on the test's database and returns its output.
// startDash serves cfg (its store is kind's) until the test ends and
// returns the browser's driver for its dashboard on the API's address
// (context bctx; screenshots to $GODWIT_SCREENSHOTS or
// testdata/screenshots), and the server.
func startDash(t *testing.T, bctx context.Context, kind sqlstore.Dialect, cfg config.Config) (*dash, *served) {
	t.Helper()
	runCtx, stop := context.WithCancel(context.Background())
	s := serve(runCtx, cfg)
	t.Cleanup(func() {
		stop()
		require.NoError(t, s.wait(t))
	})
	apiAddr := s.addr(t, httpServing, "addr")
	waitReady(t, apiAddr)
	shots := os.Getenv("GODWIT_SCREENSHOTS")
	if shots == "" {
		shots = filepath.Join("testdata", "screenshots")
	}
	require.NoError(t, os.MkdirAll(shots, 0o755))
	ctx, cancel := context.WithTimeout(bctx, 3*bound)
	t.Cleanup(cancel)
	return &dash{t: t, ctx: ctx, base: "http://" + apiAddr, kind: kind, shots: shots, client: &http.Client{
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }, Timeout: bound}}, s
}

func (d *dash) cli(cfg config.Config, args ...string) string {
	d.t.Helper()
	var out, errb bytes.Buffer
	args = append(args, "--database-url", cfg.DatabaseURL)
	code := app.Main(context.Background(), args, &out, &errb, func(string) string { return "" })
	require.Zero(d.t, code, errb.String())
	return strings.TrimSpace(out.String())
}

func (d *dash) do(steps ...chromedp.Action[chromedp.Void]) {
	d.t.Helper()
	require.NoError(d.t, chromedp.Do(d.ctx, steps...))
}

// navigate loads url and checks the status of its document.
func (d *dash) navigate(u string, status int) {
	d.t.Helper()
	resp, err := chromedp.Run(d.ctx, chromedp.NavigateResponse(u))
	require.NoError(d.t, err)
	require.EqualValues(d.t, status, resp.Status, u)
}

// submit submits the form of the element sel and returns the status of
// the page it leads to.
func (d *dash) submit(sel string) int {
	d.t.Helper()
	resp, err := chromedp.RunResponse(d.ctx, chromedp.Submit(chromedp.CSS(sel)))
	require.NoError(d.t, err)
	return int(resp.Status)
}

// click clicks sel and returns the status of the page it leads to.
func (d *dash) click(sel string) int {
	d.t.Helper()
	resp, err := chromedp.RunResponse(d.ctx, chromedp.Click(chromedp.CSS(sel)))
	require.NoError(d.t, err)
	return int(resp.Status)
}

func (d *dash) signIn(email, password string) int {
	d.t.Helper()
	d.navigate(strings.Split(d.location(), "/dashboard/")[0]+"/dashboard/sign-in", http.StatusOK)
	d.do(chromedp.SetValue(chromedp.CSS("#email"), email), chromedp.SetValue(chromedp.CSS("#password"), password))
	return d.submit("#password")
}

// postForm posts a form built in the page (so with the browser's cookies
// and origin) and returns the status of the answer.
func (d *dash) postForm(path, csrf string, kv ...string) int {
	d.t.Helper()
	fields := map[string]string{}
	if csrf != "" {
		fields["csrf"] = csrf
	}
	for i := 0; i+1 < len(kv); i += 2 {
		fields[kv[i]] = kv[i+1]
	}
	js, err := json.Marshal(fields)
	require.NoError(d.t, err)
	script := `(() => { const f = document.createElement('form'); f.method = 'post'; f.action = ` + quoteJS(path) + `;
		for (const [k, v] of Object.entries(` + string(js) + `)) { const i = document.createElement('input'); i.type = 'hidden'; i.name = k; i.value = v; f.appendChild(i); }
		document.body.appendChild(f); f.submit(); return true; })()`
	resp, err := chromedp.RunResponse(d.ctx, chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := chromedp.Evaluate[bool](script)(ctx, tg)
		return err
	}))
	require.NoError(d.t, err)
	return int(resp.Status)
}

func quoteJS(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

func (d *dash) text(sel string) string {
	d.t.Helper()
	s, err := chromedp.Run(d.ctx, chromedp.Text(chromedp.CSS(sel)))
	require.NoError(d.t, err, sel)
	return strings.TrimSpace(s)
}

func (d *dash) count(sel string) int {
	d.t.Helper()
	n, err := chromedp.Run(d.ctx, chromedp.Evaluate[int](`document.querySelectorAll(`+quoteJS(sel)+`).length`))
	require.NoError(d.t, err)
	return n
}

// focused is the href of the element that has the keyboard's focus ("" for
// none, or one without an href).
func (d *dash) focused() string {
	d.t.Helper()
	s, err := chromedp.Run(d.ctx, chromedp.Evaluate[string](`document.activeElement.getAttribute('href') || ''`))
	require.NoError(d.t, err)
	return s
}

func (d *dash) title() string {
	d.t.Helper()
	s, err := chromedp.Run(d.ctx, chromedp.Title())
	require.NoError(d.t, err)
	return s
}

func (d *dash) location() string {
	d.t.Helper()
	s, err := chromedp.Run(d.ctx, chromedp.Location())
	require.NoError(d.t, err)
	return s
}

// csrf is the CSRF token of the page's forms.
func (d *dash) csrf() string {
	d.t.Helper()
	v, err := chromedp.Run(d.ctx, chromedp.AttributeValue(chromedp.CSS(`input[name="csrf"]`), "value"))
	require.NoError(d.t, err)
	require.NotEmpty(d.t, v.Value)
	return v.Value
}

// sessionCookie is the browser's session cookie (HttpOnly: read through
// DevTools).
func (d *dash) sessionCookie() *http.Cookie {
	d.t.Helper()
	cookies, err := chromedp.Run(d.ctx, chromedp.Action[[]*network.Cookie](func(ctx context.Context, tg *chromedp.Target) ([]*network.Cookie, error) {
		res, err := cdp.Call(ctx, tg, network.GetCookies, network.GetCookiesParams{URLs: []string{d.base + "/dashboard/"}})
		return res.Cookies, err
	}))
	require.NoError(d.t, err)
	for _, c := range cookies {
		if c.Name == "godwit_session" {
			require.True(d.t, c.HTTPOnly)
			require.Equal(d.t, "/dashboard/", c.Path)
			require.Equal(d.t, network.CookieSameSiteLax, c.SameSite)
			return &http.Cookie{Name: c.Name, Value: c.Value}
		}
	}
	d.t.Fatal("no session cookie")
	return nil
}

func (d *dash) get(path, accept string, c *http.Cookie) *http.Response {
	d.t.Helper()
	return d.getURL(d.base+path, accept, c)
}

func (d *dash) getURL(u, accept string, c *http.Cookie) *http.Response {
	d.t.Helper()
	req, err := http.NewRequest(http.MethodGet, u, nil)
	require.NoError(d.t, err)
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	if c != nil {
		req.AddCookie(c)
	}
	resp, err := d.client.Do(req)
	require.NoError(d.t, err)
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp
}

func (d *dash) post(path string, form url.Values, c *http.Cookie, origin string) *http.Response {
	d.t.Helper()
	req, err := http.NewRequest(http.MethodPost, d.base+path, strings.NewReader(form.Encode()))
	require.NoError(d.t, err)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if origin != "" {
		req.Header.Set("Origin", origin)
	}
	req.AddCookie(c)
	resp, err := d.client.Do(req)
	require.NoError(d.t, err)
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp
}

// send sends an email through the API and returns its id.
func (d *dash) send(key, subject, html string, attachments ...map[string]any) string {
	d.t.Helper()
	body, err := json.Marshal(map[string]any{"from": "Acme <onboarding@resend.dev>", "to": []string{"delivered@resend.dev"},
		"subject": subject, "html": html, "text": "Hello in text", "attachments": attachments})
	require.NoError(d.t, err)
	req, err := http.NewRequest(http.MethodPost, d.base+"/emails", bytes.NewReader(body))
	require.NoError(d.t, err)
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/json")
	resp, err := d.client.Do(req)
	require.NoError(d.t, err)
	defer resp.Body.Close()
	var out struct{ ID string }
	raw, _ := io.ReadAll(resp.Body)
	require.Equal(d.t, http.StatusOK, resp.StatusCode, string(raw))
	require.NoError(d.t, json.Unmarshal(raw, &out))
	return out.ID
}

// requireFrame finds the frame of url (an opaque origin: a target of its
// own) and checks its #x text, which the email's script would have changed.
func (d *dash) requireFrame(u, want string) {
	d.t.Helper()
	fctx, cancel := d.frame(u)
	defer cancel()
	inner, err := chromedp.Run(fctx, chromedp.Text(chromedp.CSS("#x")))
	require.NoError(d.t, err)
	require.Equal(d.t, want, inner, "the email shows, and its script did not run")
	width, err := chromedp.Run(fctx, chromedp.Evaluate[int](`document.getElementById('logo').naturalWidth`))
	require.NoError(d.t, err)
	require.Equal(d.t, 3, width, "the inline image shows, as a data: URI")
}

// shot writes a screenshot of the page, after checking that every control
// of the page has a label and that the keyboard reaches the content first
// through the skip link.
func (d *dash) shot(name string) {
	d.t.Helper()
	unlabelled, err := chromedp.Run(d.ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll(
		'input:not([type=hidden]), select, textarea, button')].filter(e => e.labels !== undefined && e.tagName !== 'BUTTON'
		? e.labels.length === 0 : e.textContent.trim() === '' && !e.getAttribute('aria-label')).map(e => e.outerHTML)`))
	require.NoError(d.t, err)
	require.Empty(d.t, unlabelled, "%s: every control has a label", name)
	first, err := chromedp.Run(d.ctx, chromedp.Evaluate[string](`(() => { const a = [...document.querySelectorAll('a[href], button, input:not([type=hidden]), select')]; return a.length ? a[0].className + '|' + a[0].getAttribute('href') : '' })()`))
	require.NoError(d.t, err)
	require.Equal(d.t, "skip|#main", first, "%s: the first stop of the keyboard skips to the content", name)
	png, err := chromedp.Run(d.ctx, chromedp.FullScreenshot(100))
	require.NoError(d.t, err)
	require.NoError(d.t, os.WriteFile(filepath.Join(d.shots, string(d.kind)+"-"+name+".png"), png, 0o644))
}

// eachStoreInBrowser runs test in parallel with the other browser tests,
// once per store, each in a browser context of its own.
func eachStoreInBrowser(t *testing.T, test func(t *testing.T, ctx context.Context, kind sqlstore.Dialect)) {
	t.Parallel()
	browser := godwittest.Browser(t)
	for _, kind := range godwittest.Kinds {
		t.Run(string(kind), func(t *testing.T) {
			ctx, cancel := chromedp.NewContext(browser, chromedp.WithNewBrowserContext())
			defer cancel()
			test(t, ctx, kind)
		})
	}
}

// frame is a context on the frame of url (sandboxed, an opaque origin: a
// target of its own), once the browser has it.
func (d *dash) frame(u string) (context.Context, context.CancelFunc) {
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
	return chromedp.NewContext(d.ctx, chromedp.WithTargetID(frame.TargetID), chromedp.WithDetachOnCancel())
}
