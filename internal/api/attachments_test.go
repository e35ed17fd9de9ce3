package api

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
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/cdproto/target"
	"github.com/chromedp/chromedp"
	"github.com/google/uuid"
	"github.com/resend/resend-go/v3"
	"github.com/stretchr/testify/require"

	"github.com/godwit/godwit/internal/fetch"
	"github.com/godwit/godwit/internal/godwittest"
	"github.com/godwit/godwit/internal/netguard"
	"github.com/godwit/godwit/internal/store/sqlstore"
	"github.com/godwit/godwit/internal/tracking"
)

// shareEnv is setup with a signer, a public URL (the test server's own)
// and a fetcher that may reach loopback, for attachments given by URL.
func shareEnv(t *testing.T, kind sqlstore.Dialect, publicURL bool) (*testEnv, *tracking.Signer) {
	t.Helper()
	signer, err := tracking.NewSigner(bytes.Repeat([]byte{9}, 32))
	require.NoError(t, err)
	e := setup(t, kind, func(d *Deps) {
		d.Tracking = signer
		d.Fetcher = &fetch.Fetcher{Client: netguard.Policy{AllowPrivate: true}.HTTPClient(5 * time.Second), Timeout: 5 * time.Second}
	})
	if publicURL {
		e.handler.PublicURL = e.srv.URL // set before any request
	}
	return e, signer
}

// get fetches a public URL without a key and returns the response and its body.
func get(t *testing.T, url string) (*http.Response, []byte) {
	t.Helper()
	resp, err := http.Get(url)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp, b
}

func sendWithAttachments(t *testing.T, e *testEnv, remote string) string {
	t.Helper()
	r := e.do("POST", "/emails", e.keyA, `{"from":"hi@example.com","to":"reader@example.net","subject":"Quarterly report",
		"html":"<p>See attached</p>","attachments":[
		{"content":"`+base64.StdEncoding.EncodeToString([]byte("hello, world"))+`","filename":"notes.txt"},
		{"content":[137,80,78,71],"filename":"logo.png","content_id":"logo"},
		{"path":"`+remote+`/files/report.pdf","filename":"report.pdf"}]}`)
	require.Equal(t, 200, r.status, string(r.body))
	return r.json["id"].(string)
}

func TestEmailAttachments(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, kind sqlstore.Dialect) {
		e, signer := shareEnv(t, kind, false)
		var fetched atomic.Int32
		files := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			fetched.Add(1)
			w.Header().Set("Content-Type", "application/pdf")
			_, _ = w.Write([]byte("%PDF-1.7 report"))
		}))
		t.Cleanup(files.Close)
		id := sendWithAttachments(t, e, files.URL)
		plain := e.do("POST", "/emails", e.keyA, `{"from":"hi@example.com","to":"reader@example.net","subject":"s","text":"t"}`).json["id"].(string)

		list := e.do("GET", "/emails/"+id+"/attachments", e.keyA, "")
		require.Equal(t, 200, list.status, string(list.body))
		require.Equal(t, "list", list.json["object"])
		require.Equal(t, false, list.json["has_more"])
		data := list.json["data"].([]any)
		require.Len(t, data, 3)
		items := make([]map[string]any, 3)
		for i, d := range data {
			items[i] = d.(map[string]any)
			require.Equal(t, attachmentID(id, i), items[i]["id"])
			require.True(t, strings.HasPrefix(items[i]["download_url"].(string), e.srv.URL+"/download/"),
				"without --public-url, links are under the origin the request came to: %v", items[i]["download_url"])
			require.Equal(t, "2026-11-28T13:00:00.000Z", items[i]["expires_at"], "an hour from now")
		}
		require.Equal(t, "notes.txt", items[0]["filename"])
		require.Equal(t, "text/plain; charset=utf-8", items[0]["content_type"])
		require.Equal(t, "attachment", items[0]["content_disposition"])
		require.EqualValues(t, 12, items[0]["size"])
		require.NotContains(t, items[0], "content_id")
		require.Equal(t, "image/png", items[1]["content_type"])
		require.Equal(t, "inline", items[1]["content_disposition"])
		require.Equal(t, "logo", items[1]["content_id"])
		require.EqualValues(t, 4, items[1]["size"])
		require.EqualValues(t, 0, items[2]["size"], "an attachment given by URL is not stored: size 0")
		require.Equal(t, list.json["data"], e.do("GET", "/emails/"+id+"/attachments", e.keyA, "").json["data"], "ids and links are stable")

		// Pagination by attachment id, in the email's order.
		page := func(q string) (ids []string, more bool) {
			r := e.do("GET", "/emails/"+id+"/attachments?"+q, e.keyA, "")
			require.Equal(t, 200, r.status, string(r.body))
			for _, d := range r.json["data"].([]any) {
				ids = append(ids, d.(map[string]any)["id"].(string))
			}
			return ids, r.json["has_more"].(bool)
		}
		a0, a1, a2 := attachmentID(id, 0), attachmentID(id, 1), attachmentID(id, 2)
		for _, tc := range []struct {
			q    string
			ids  []string
			more bool
		}{
			{"limit=1", []string{a0}, true},
			{"limit=2&after=" + a0, []string{a1, a2}, false},
			{"limit=1&after=" + a0, []string{a1}, true},
			{"after=" + a2, nil, false},
			{"limit=1&before=" + a2, []string{a1}, true},
			{"before=" + strings.ToUpper(a1), []string{a0}, false},
		} {
			ids, more := page(tc.q)
			require.Equal(t, tc.ids, ids, tc.q)
			require.Equal(t, tc.more, more, tc.q)
		}

		one := e.do("GET", "/emails/"+id+"/attachments/"+a1, e.keyA, "")
		require.Equal(t, 200, one.status, string(one.body))
		require.Equal(t, "attachment", one.json["object"])
		require.Equal(t, a1, one.json["id"])
		require.Equal(t, "logo.png", one.json["filename"])

		for _, tc := range []struct {
			name, path, key string
			status          int
			errName         string
		}{
			{"another team's list", "/emails/" + id + "/attachments", e.keyB, 404, "not_found"},
			{"another team's attachment", "/emails/" + id + "/attachments/" + a0, e.keyB, 404, "not_found"},
			{"unknown email", "/emails/" + uuid.NewString() + "/attachments", e.keyA, 404, "not_found"},
			{"unknown attachment", "/emails/" + id + "/attachments/" + uuid.NewString(), e.keyA, 404, "not_found"},
			{"another email's attachment", "/emails/" + plain + "/attachments/" + a0, e.keyA, 404, "not_found"},
			{"bad attachment id", "/emails/" + id + "/attachments/nope", e.keyA, 422, "invalid_parameter"},
			{"bad email id", "/emails/nope/attachments", e.keyA, 422, "invalid_parameter"},
			{"unknown cursor", "/emails/" + id + "/attachments?after=" + uuid.NewString(), e.keyA, 422, "validation_error"},
			{"bad limit", "/emails/" + id + "/attachments?limit=0", e.keyA, 422, "validation_error"},
			{"no key", "/emails/" + id + "/attachments", "", 401, "missing_api_key"},
			{"sending key", "/emails/" + id + "/attachments", e.sendA, 401, "restricted_api_key"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				r := e.do("GET", tc.path, tc.key, "")
				require.Equal(t, tc.status, r.status, string(r.body))
				require.Equal(t, tc.errName, r.json["name"])
			})
		}
		none := e.do("GET", "/emails/"+plain+"/attachments", e.keyA, "")
		require.Equal(t, 200, none.status)
		require.Empty(t, none.json["data"])

		// The download links work without a key.
		resp, body := get(t, items[0]["download_url"].(string))
		require.Equal(t, 200, resp.StatusCode)
		require.Equal(t, "hello, world", string(body))
		require.Equal(t, "text/plain; charset=utf-8", resp.Header.Get("Content-Type"))
		require.Equal(t, `attachment; filename=notes.txt`, resp.Header.Get("Content-Disposition"))
		require.Equal(t, "nosniff", resp.Header.Get("X-Content-Type-Options"))
		resp, body = get(t, items[1]["download_url"].(string))
		require.Equal(t, 200, resp.StatusCode)
		require.Equal(t, []byte{137, 80, 78, 71}, body)
		require.Equal(t, "image/png", resp.Header.Get("Content-Type"))
		// One given by URL is fetched from it when downloaded.
		resp, body = get(t, items[2]["download_url"].(string))
		require.Equal(t, 200, resp.StatusCode)
		require.Equal(t, "%PDF-1.7 report", string(body))
		require.Equal(t, "application/pdf", resp.Header.Get("Content-Type"))
		require.EqualValues(t, 1, fetched.Load())

		// Tampered, forged or misdirected tokens: 404.
		link := items[0]["download_url"].(string)
		tok := link[strings.LastIndex(link, "/")+1:]
		flip := map[bool]string{true: "A", false: "B"}[tok[10] != 'A']
		exp := e.clock.Now().Add(time.Hour)
		for name, bad := range map[string]string{
			"tampered":      tok[:10] + flip + tok[11:],
			"garbage":       "nonsense",
			"share token":   signer.ShareToken(tracking.Share{EmailID: id, TeamID: e.teamA, Expires: exp}),
			"other email":   signer.DownloadToken(tracking.Download{EmailID: plain, TeamID: e.teamA, Index: 0, Expires: exp}),
			"other team":    signer.DownloadToken(tracking.Download{EmailID: id, TeamID: e.teamB, Index: 0, Expires: exp}),
			"no such index": signer.DownloadToken(tracking.Download{EmailID: id, TeamID: e.teamA, Index: 3, Expires: exp}),
		} {
			resp, body := get(t, e.srv.URL+"/download/"+bad)
			require.Equal(t, 404, resp.StatusCode, "%s: %s", name, body)
			require.NotContains(t, string(body), "hello", name)
		}

		// An hour later the links have expired: 410.
		e.clock.Advance(time.Hour)
		resp, body = get(t, link)
		require.Equal(t, http.StatusGone, resp.StatusCode)
		require.Contains(t, string(body), "expired")
	})
}

func TestShareEmail(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, kind sqlstore.Dialect) {
		e, _ := shareEnv(t, kind, true)
		files := httptest.NewServer(http.NotFoundHandler())
		t.Cleanup(files.Close)
		id := sendWithAttachments(t, e, files.URL)

		for _, tc := range []struct {
			name, body, key string
			id              string
			status          int
			errName, msg    string
		}{
			{"another team's email", ``, e.keyB, id, 404, "not_found", "Email not found"},
			{"unknown email", ``, e.keyA, uuid.NewString(), 404, "not_found", ""},
			{"over 48 hours", `{"expires_in":"3 days"}`, e.keyA, id, 422, "validation_error", "at most 48 hours"},
			{"not a duration", `{"expires_in":"soon"}`, e.keyA, id, 422, "validation_error", "expires_in"},
			{"not a string", `{"expires_in":3600}`, e.keyA, id, 422, "validation_error", "expires_in"},
			{"not JSON", `{`, e.keyA, id, 400, "", ""},
			{"sending key", ``, e.sendA, id, 401, "restricted_api_key", ""},
		} {
			t.Run(tc.name, func(t *testing.T) {
				r := e.do("POST", "/emails/"+tc.id+"/share", tc.key, tc.body)
				require.Equal(t, tc.status, r.status, string(r.body))
				if tc.errName != "" {
					require.Equal(t, tc.errName, r.json["name"])
				}
				require.Contains(t, r.json["message"], tc.msg)
			})
		}

		// No body: the link lasts 48 hours.
		r := e.do("POST", "/emails/"+id+"/share", e.keyA, "")
		require.Equal(t, 200, r.status, string(r.body))
		require.Equal(t, "email", r.json["object"])
		require.Equal(t, id, r.json["id"])
		url := r.json["url"].(string)
		require.True(t, strings.HasPrefix(url, e.srv.URL+"/share/"), url)

		resp, body := get(t, url)
		require.Equal(t, 200, resp.StatusCode, string(body))
		require.Equal(t, "text/html; charset=utf-8", resp.Header.Get("Content-Type"))
		require.Contains(t, resp.Header.Get("Content-Security-Policy"), "default-src 'none'")
		require.Equal(t, "DENY", resp.Header.Get("X-Frame-Options"))
		require.Equal(t, "no-referrer", resp.Header.Get("Referrer-Policy"))
		page := string(body)
		for _, want := range []string{"<title>Quarterly report</title>", "hi@example.com", "reader@example.net",
			`sandbox="allow-popups allow-popups-to-escape-sandbox"`, `srcdoc="&lt;p&gt;See attached&lt;/p&gt;"`,
			">notes.txt</a>", ">logo.png</a>", ">report.pdf</a>"} {
			require.Contains(t, page, want)
		}
		// Its download links work without a key.
		i := strings.Index(page, `href="`+e.srv.URL+`/download/`)
		require.Positive(t, i)
		href := page[i+len(`href="`):]
		href = href[:strings.IndexByte(href, '"')]
		resp, dl := get(t, href)
		require.Equal(t, 200, resp.StatusCode)
		require.Equal(t, "hello, world", string(dl))

		// A shorter link expires when asked; both are refused with 410 after.
		short := e.do("POST", "/emails/"+id+"/share", e.keyA, `{"expires_in":"10 minutes"}`).json["url"].(string)
		e.clock.Advance(10 * time.Minute)
		resp, body = get(t, short)
		require.Equal(t, http.StatusGone, resp.StatusCode)
		require.Contains(t, string(body), "expired")
		resp, _ = get(t, url)
		require.Equal(t, 200, resp.StatusCode)
		e.clock.Advance(48*time.Hour - 10*time.Minute)
		resp, _ = get(t, url)
		require.Equal(t, http.StatusGone, resp.StatusCode)

		// Tampered or unknown: 404, as a page.
		tok := url[strings.LastIndex(url, "/")+1:]
		flip := map[bool]string{true: "A", false: "B"}[tok[5] != 'A']
		for _, bad := range []string{tok[:5] + flip + tok[6:], "x"} {
			resp, body := get(t, e.srv.URL+"/share/"+bad)
			require.Equal(t, 404, resp.StatusCode)
			require.Contains(t, string(body), "not valid")
		}
	})
}

func TestShareNeedsPublicURL(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, kind sqlstore.Dialect) {
		e, _ := shareEnv(t, kind, false)
		id := e.do("POST", "/emails", e.keyA, `{"from":"hi@example.com","to":"reader@example.net","subject":"s","text":"t"}`).json["id"].(string)
		r := e.do("POST", "/emails/"+id+"/share", e.keyA, `{"expires_in":"1h"}`)
		require.Equal(t, 422, r.status, string(r.body))
		require.Equal(t, "validation_error", r.json["name"])
		require.Contains(t, r.json["message"], "--public-url")
		// Another team's email is still a 404 first.
		require.Equal(t, 404, e.do("POST", "/emails/"+id+"/share", e.keyB, "").status)
	})
}

func TestParseExpiresIn(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in   string
		want time.Duration
	}{
		{"10m", 10 * time.Minute},
		{"2 hours", 2 * time.Hour},
		{"1 day", 24 * time.Hour},
		{"48h", 48 * time.Hour},
		{"2 days", 48 * time.Hour},
		{"1h30m", 90 * time.Minute},
		{" 90 Seconds ", 90 * time.Second},
		{"1.5 hours", 90 * time.Minute},
		{"3 days", 0},
		{"49h", 0},
		{"0m", 0},
		{"-1h", 0},
		{"", 0},
		{"soon", 0},
		{"10 fortnights", 0},
		{"1e9 days", 0},
		{"99999999999999999999 s", 0},
		{".", 0},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := parseExpiresIn(tc.in)
			if tc.want == 0 {
				require.Error(t, err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
		})
	}
}

func FuzzParseExpiresIn(f *testing.F) {
	for _, s := range []string{"10m", "2 hours", "1 day", "1h30m", "48.0000001h", "1e3s", "NaN h", "Inf d", "٣ hours", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := parseExpiresIn(s)
		if err == nil {
			require.Positive(t, d)
			require.LessOrEqual(t, d, maxShareTTL)
		}
	})
}

// The share page in a real browser: the email shows, and nothing in it
// runs or loads from elsewhere.
func TestSharePageInBrowser(t *testing.T) {
	t.Parallel()
	ctx := godwittest.Browser(t)
	e, _ := shareEnv(t, sqlstore.SQLite, true)
	var hits atomic.Int32
	beacon := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) }))
	t.Cleanup(beacon.Close)
	var png bytes.Buffer
	img := image.NewRGBA(image.Rect(0, 0, 3, 2))
	require.NoError(t, pngenc.Encode(&png, img))
	html := `<html><head><title>inner</title><script>parent.document.title='pwned';document.getElementById('x').textContent='pwned'</script></head>` +
		`<body><p id="x">Hello from the body</p><img src="` + beacon.URL + `/pixel.gif" onerror="document.getElementById('x').textContent='pwned'">` +
		`<script>fetch('` + beacon.URL + `/script');top.location='` + beacon.URL + `/nav'</script>` +
		`<form action="` + beacon.URL + `/form"><button id="b">go</button></form>` +
		`<iframe src="` + beacon.URL + `/frame"></iframe><link rel="stylesheet" href="` + beacon.URL + `/css">` +
		`<img id="logo" src="cid:logo"></body></html>`
	body, err := json.Marshal(html)
	require.NoError(t, err)
	r := e.do("POST", "/emails", e.keyA, `{"from":"hi@example.com","to":"reader@example.net","subject":"Shared subject","html":`+string(body)+`,
		"attachments":[{"filename":"logo.png","content_id":"logo","content":"`+base64.StdEncoding.EncodeToString(png.Bytes())+`"}]}`)
	require.Equal(t, 200, r.status, string(r.body))
	url := e.do("POST", "/emails/"+r.json["id"].(string)+"/share", e.keyA, "").json["url"].(string)

	tctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	require.NoError(t, chromedp.Do(tctx, chromedp.Navigate(url), chromedp.WaitVisible(chromedp.CSS("iframe#body"))))
	title, err := chromedp.Run(tctx, chromedp.Title())
	require.NoError(t, err)
	require.Equal(t, "Shared subject", title, "no script of the email changed the page")
	heading, err := chromedp.Run(tctx, chromedp.Text(chromedp.CSS("h1")))
	require.NoError(t, err)
	require.Equal(t, "Shared subject", heading)
	// The frame has an opaque origin, so Chromium runs it in a process of
	// its own: a target of type "iframe" to attach to.
	var frame *target.Info
	require.Eventually(t, func() bool {
		infos, err := chromedp.Targets(tctx)
		require.NoError(t, err)
		for _, info := range infos {
			if info.Type == "iframe" && info.URL == "about:srcdoc" {
				frame = info
			}
		}
		return frame != nil
	}, 10*time.Second, 50*time.Millisecond, "the email's frame")
	fctx, cancelFrame := chromedp.NewContext(tctx, chromedp.WithTargetID(frame.TargetID))
	defer cancelFrame()
	inner, err := chromedp.Run(fctx, chromedp.Text(chromedp.CSS("#x")))
	require.NoError(t, err)
	require.Equal(t, "Hello from the body", inner, "the email shows, and its scripts did not run")
	width, err := chromedp.Run(fctx, chromedp.Evaluate[int](`document.getElementById('logo').naturalWidth`))
	require.NoError(t, err)
	require.Equal(t, 3, width, "the inline image shows, as a data: URI")
	loc, err := chromedp.Run(tctx, chromedp.Location())
	require.NoError(t, err)
	require.Equal(t, url, loc, "the email did not navigate the page")
	require.Zero(t, hits.Load(), "the email loaded nothing from elsewhere")
}

// The official Go SDK lists and reads a sent email's attachments, and its
// download_url serves the bytes without a key.
func TestSDKEmailAttachments(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, kind sqlstore.Dialect) {
		e, _ := shareEnv(t, kind, true)
		client := e.sdk(e.keyA)
		sent, err := client.Emails.Send(&resend.SendEmailRequest{From: "hi@example.com", To: []string{"reader@example.net"},
			Subject: "s", Html: `<img src="cid:logo">`, Attachments: []*resend.Attachment{
				{Content: []byte("report"), Filename: "r.txt"},
				{Content: []byte{1, 2, 3}, Filename: "logo.png", ContentId: "logo"}}})
		require.NoError(t, err)
		list, err := client.Emails.ListAttachments(sent.Id)
		require.NoError(t, err)
		require.Equal(t, "list", list.Object)
		require.Len(t, list.Data, 2)
		require.Equal(t, "r.txt", list.Data[0].Filename)
		require.Equal(t, "inline", list.Data[1].ContentDisposition)
		require.Equal(t, "logo", list.Data[1].ContentId)

		one, err := client.Emails.GetAttachment(sent.Id, list.Data[0].Id)
		require.NoError(t, err)
		require.Equal(t, "attachment", one.Object)
		require.Equal(t, list.Data[0], resend.EmailAttachment{Id: one.Id, Filename: one.Filename, ContentType: one.ContentType,
			ContentDisposition: one.ContentDisposition, DownloadUrl: one.DownloadUrl, ExpiresAt: one.ExpiresAt})
		resp, body := get(t, one.DownloadUrl)
		require.Equal(t, 200, resp.StatusCode)
		require.Equal(t, "report", string(body))

		_, err = e.sdk(e.keyB).Emails.GetAttachment(sent.Id, list.Data[0].Id)
		require.ErrorContains(t, err, "Email not found")
	})
}
