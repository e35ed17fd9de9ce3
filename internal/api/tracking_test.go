package api

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-message/mail"
	"github.com/stretchr/testify/require"

	"github.com/godwit/godwit/internal/delivery"
	"github.com/godwit/godwit/internal/store"
	"github.com/godwit/godwit/internal/store/sqlstore"
	"github.com/godwit/godwit/internal/tracking"
)

func TestOpenAndClickTracking(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, kind sqlstore.Dialect) {
		signer, err := tracking.NewSigner(bytes.Repeat([]byte{5}, 32))
		require.NoError(t, err)
		e := setup(t, kind, func(d *Deps) { d.Tracking = signer })
		ctx := context.Background()
		d, err := e.db.GetDomain(ctx, e.teamA, e.domainA)
		require.NoError(t, err)
		d.OpenTracking, d.ClickTracking = true, true
		require.NoError(t, e.db.UpdateDomain(ctx, d))

		r := e.do("POST", "/emails", e.keyA, `{"from":"hi@example.com","to":"reader@example.net","subject":"s",
			"html":"<html><body><p>Read <a href=\"https://blog.example.com/post?a=1&amp;b=2\">the post</a> or <a href=\"mailto:x@example.com\">write</a>.</p></body></html>"}`)
		require.Equal(t, 200, r.status, string(r.body))
		id := r.json["id"].(string)
		w := &delivery.Worker{Store: e.db, Domains: e.handler.Domains, TestDomain: "resend.dev", Now: e.clock.Now,
			Tracking: signer, TrackingURL: e.srv.URL}
		require.NoError(t, w.Deliver(ctx, delivery.Job{EmailID: id, Attempt: 1}))

		raw, err := e.db.GetCapturedMessage(ctx, e.teamA, id)
		require.NoError(t, err)
		mr, err := mail.CreateReader(bytes.NewReader(raw))
		require.NoError(t, err)
		var html, text string
		for {
			p, err := mr.NextPart()
			if err == io.EOF {
				break
			}
			require.NoError(t, err)
			b, _ := io.ReadAll(p.Body)
			ct, _, _ := p.Header.(*mail.InlineHeader).ContentType()
			if ct == "text/html" {
				html = string(b)
			} else {
				text = string(b)
			}
		}
		require.Contains(t, text, "https://blog.example.com/post?a=1&b=2", "the text part keeps the original link")
		require.Contains(t, html, `href="mailto:x@example.com"`, "mailto is left alone")
		click := regexp.MustCompile(`href="(` + regexp.QuoteMeta(e.srv.URL) + `/t/c/[A-Za-z0-9_-]+)"`).FindStringSubmatch(html)
		require.NotNil(t, click, html)
		open := regexp.MustCompile(`src="(` + regexp.QuoteMeta(e.srv.URL) + `/t/o/[A-Za-z0-9_-]+)"`).FindStringSubmatch(html)
		require.NotNil(t, open, html)

		// The pixel: a GIF, and an opened event.
		resp, err := http.Get(open[1])
		require.NoError(t, err)
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		require.Equal(t, 200, resp.StatusCode)
		require.Equal(t, "image/gif", resp.Header.Get("Content-Type"))
		require.True(t, bytes.HasPrefix(body, []byte("GIF89a")))
		require.Equal(t, "opened", e.do("GET", "/emails/"+id, e.keyA, "").json["last_event"])

		// The click: 302 to exactly the original URL, and a clicked event.
		noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		req, _ := http.NewRequest("GET", click[1], nil)
		req.Header.Set("User-Agent", "TestMail/1.0")
		resp, err = noFollow.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, http.StatusFound, resp.StatusCode)
		require.Equal(t, "https://blog.example.com/post?a=1&b=2", resp.Header.Get("Location"))
		require.Equal(t, "clicked", e.do("GET", "/emails/"+id, e.keyA, "").json["last_event"])

		feed := e.do("GET", "/feed", e.keyA, "").json["data"].([]any)
		last := feed[len(feed)-1].(map[string]any)
		require.Equal(t, "email.clicked", last["type"])
		c := last["data"].(map[string]any)["click"].(map[string]any)
		require.Equal(t, "https://blog.example.com/post?a=1&b=2", c["link"])
		require.Equal(t, "TestMail/1.0", c["userAgent"])
		require.Equal(t, "127.0.0.1", c["ipAddress"])
		require.Equal(t, "email.opened", feed[len(feed)-2].(map[string]any)["type"])

		// Forged or altered tokens: 404, and nothing recorded.
		n := len(feed)
		tok := click[1][strings.LastIndex(click[1], "/")+1:]
		flipped := tok[:len(tok)-2] + map[bool]string{true: "A", false: "B"}[tok[len(tok)-2] != 'A'] + tok[len(tok)-1:]
		for _, bad := range []string{"/t/c/" + flipped, "/t/c/nonsense", "/t/o/" + tok} {
			resp, err := noFollow.Get(e.srv.URL + bad)
			require.NoError(t, err)
			resp.Body.Close()
			require.Equal(t, 404, resp.StatusCode, bad)
		}
		require.Len(t, e.do("GET", "/feed", e.keyA, "").json["data"], n)

		// A token replayed in a loop records at most 10 events a second for its
		// email (the test clock stands still), and is still answered.
		before := len(e.do("GET", "/feed?limit=100", e.keyA, "").json["data"].([]any))
		for range 15 {
			resp, err := http.Get(open[1])
			require.NoError(t, err)
			resp.Body.Close()
			require.Equal(t, 200, resp.StatusCode)
		}
		after := len(e.do("GET", "/feed?limit=100", e.keyA, "").json["data"].([]any))
		require.Equal(t, 10-2, after-before, "the open and the click above count too")

		// Opens never hide a bounce (a second later: the open is recorded, last_event stays).
		e.clock.Advance(time.Second)
		require.NoError(t, e.db.RecordDelivery(ctx, &store.DeliveryOutcome{EmailID: id, TeamID: e.teamA, LastEvent: store.EventBounced}))
		resp, err = http.Get(open[1])
		require.NoError(t, err)
		resp.Body.Close()
		require.Len(t, e.do("GET", "/feed?limit=100", e.keyA, "").json["data"], after+1)
		require.Equal(t, "bounced", e.do("GET", "/emails/"+id, e.keyA, "").json["last_event"])
	})
}
