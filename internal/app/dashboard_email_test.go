package app_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net"
	"net/http"
	"net/mail"
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

// TestDashboardEmailPageInBrowser drives an email's page in headless
// Chromium against app.Serve (--delivery capture, --public-url), on both
// stores: a scheduled email sent through the API with an attachment, cc,
// reply-to and tags shows its headers in a table and its attachment; its
// .eml and its attachment download with the right headers and bytes; an
// admin reschedules it (the API sees the new time), shares it (the link
// shows it) and cancels it (the timeline shows it); a delivered email
// shows the headers as captured; a viewer sees none of the admin's forms
// and is refused their POSTs; another team's email's downloads are 404s.
func TestDashboardEmailPageInBrowser(t *testing.T) {
	eachStoreInBrowser(t, testDashboardEmailPage)
}

func testDashboardEmailPage(t *testing.T, bctx context.Context, kind sqlstore.Dialect) {
	cfg := serveConfig(t.TempDir())
	cfg.DatabaseURL = godwittest.StoreURL(t, kind)
	cfg.RateLimit = 1000
	// Share links need a public URL: the API's own address, reserved first.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	cfg.HTTPAddr = l.Addr().String()
	require.NoError(t, l.Close())
	cfg.PublicURL = "http://" + cfg.HTTPAddr
	d, srv := startDash(t, bctx, kind, cfg)
	require.Equal(t, cfg.PublicURL, d.base)
	ctx := d.ctx

	keyA := d.cli(cfg, "keys", "create", "--name", "e2e")
	keyB := d.cli(cfg, "keys", "create", "--name", "e2e", "--team", "other")
	db, err := sqlstore.Open(context.Background(), cfg.DatabaseURL, sqlstore.Options{Outbox: sqlstore.NoOutbox})
	require.NoError(t, err)
	defer db.Close()
	linkCfg := cfg
	linkCfg.PublicURL = d.base
	_, link, err := app.CreateUser(context.Background(), db, linkCfg, app.DefaultTeam, "admin@example.com", store.RoleAdmin)
	require.NoError(t, err)
	_, viewerLink, err := app.CreateUser(context.Background(), db, linkCfg, app.DefaultTeam, "viewer@example.com", store.RoleViewer)
	require.NoError(t, err)
	d.do(chromedp.EmulateViewport(1280, 900))
	d.setPassword(link, "a long enough password")
	d.grantClipboard()

	// A sending domain of each team, verified in the store (the capture
	// transport keeps only mail to real recipients).
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

	// A scheduled email with an attachment, cc, reply-to and tags; one sent
	// now; another team's, scheduled, with an attachment.
	report := []byte("region,total\nnorth,42\n\x00\xff binary tail")
	attachment := []map[string]any{{"filename": "report.csv", "content_type": "text/csv",
		"content": base64.StdEncoding.EncodeToString(report)}}
	sendJSON := func(key string, req map[string]any) string {
		body, err := json.Marshal(req)
		require.NoError(t, err)
		status, out := d.api("POST", "/emails", key, string(body))
		require.Equal(t, http.StatusOK, status, "%v", out)
		return out["id"].(string)
	}
	tomorrow := time.Now().Add(24 * time.Hour).UTC().Truncate(time.Second)
	scheduled := sendJSON(keyA, map[string]any{"from": "Acme <news@acme.test>", "to": []string{"carol@example.net"},
		"cc": []string{"dave@example.net"}, "reply_to": "support@acme.test", "subject": "Quarterly report",
		"html": "<p>The report is attached.</p>", "text": "The report is attached.", "scheduled_at": tomorrow.Format(time.RFC3339),
		"tags": []map[string]string{{"name": "kind", "value": "report"}}, "attachments": attachment})
	sentNow := d.sendTo(keyA, "ann@example.net", "Delivered right away", "")
	theirs := sendJSON(keyB, map[string]any{"from": "Other <news@other.test>", "to": []string{"dan@example.net"},
		"subject": "Another team's secret", "text": "theirs", "scheduled_at": tomorrow.Format(time.RFC3339), "attachments": attachment})
	page := d.base + "/dashboard/emails/" + scheduled

	// The scheduled email's page: its headers in a table, as delivery
	// builds them, and its attachment.
	d.navigate(page, http.StatusOK)
	require.Equal(t, "scheduled", d.text("#status"))
	headers := d.headerTable()
	require.Equal(t, "Quarterly report", headers["Subject"])
	require.Regexp(t, `^"?Acme"? <news@acme\.test>$`, headers["From"])
	require.Contains(t, headers["To"], "carol@example.net")
	require.Contains(t, headers["Cc"], "dave@example.net")
	require.Contains(t, headers["Reply-To"], "support@acme.test")
	require.Equal(t, "<"+scheduled+"@acme.test>", headers["Message-ID"])
	require.Contains(t, headers["Content-Type"], "multipart/mixed")
	require.NotContains(t, headers, "DKIM-Signature", "built, not signed")
	require.Contains(t, d.text("#headers-note"), "DKIM-Signature is added at delivery")
	require.Equal(t, 1, d.count("#attachments tbody tr"))
	row := d.text("#attachments tbody tr")
	require.Contains(t, row, "report.csv")
	require.Contains(t, row, "text/csv")
	require.Contains(t, row, fmt.Sprintf("%d bytes", len(report)))
	require.Equal(t, 1, d.count("#reschedule-at"), "an admin may reschedule it")
	require.Equal(t, 1, d.count("#cancel-email"))
	require.Equal(t, 1, d.count("#share-expires"))
	d.shot("email-scheduled")

	// Its .eml, as a download: the message delivery would send, with the
	// attachment.
	cookie := d.sessionCookie()
	resp := d.getBody("/dashboard/emails/"+scheduled+"/raw.eml", cookie)
	require.Equal(t, http.StatusOK, resp.status)
	require.Equal(t, "message/rfc822", resp.header.Get("Content-Type"))
	require.Equal(t, `attachment; filename="`+scheduled+`.eml"`, resp.header.Get("Content-Disposition"))
	require.Equal(t, "private, no-store", resp.header.Get("Cache-Control"))
	require.Equal(t, "nosniff", resp.header.Get("X-Content-Type-Options"))
	msg, err := mail.ReadMessage(strings.NewReader(resp.body))
	require.NoError(t, err)
	require.Equal(t, "Quarterly report", msg.Header.Get("Subject"))
	require.Equal(t, "<"+scheduled+"@acme.test>", msg.Header.Get("Message-ID"))
	parts := mimeParts(t, msg.Header.Get("Content-Type"), msg.Body)
	require.Equal(t, report, parts["report.csv"], "the attachment's part, with its bytes")

	// The attachment itself, as a download with its bytes; no other.
	resp = d.getBody("/dashboard/emails/"+scheduled+"/attachments/0", cookie)
	require.Equal(t, http.StatusOK, resp.status)
	require.Equal(t, "text/csv", resp.header.Get("Content-Type"))
	require.Equal(t, "attachment; filename=report.csv", resp.header.Get("Content-Disposition"))
	require.Equal(t, "nosniff", resp.header.Get("X-Content-Type-Options"))
	require.Contains(t, resp.header.Get("Content-Security-Policy"), "sandbox")
	require.Equal(t, string(report), resp.body)
	for _, p := range []string{"/attachments/1", "/attachments/x", "/attachments/-1"} {
		require.Equal(t, http.StatusNotFound, d.getBody("/dashboard/emails/"+scheduled+p, cookie).status, p)
	}

	// Reschedule through the form; the API sees the new time. A time too
	// far ahead is refused with a message.
	d.navigate(page, http.StatusOK)
	csrf := d.csrf()
	require.Equal(t, http.StatusBadRequest, d.postForm("/dashboard/emails/"+scheduled+"/reschedule", csrf,
		"scheduled_at", time.Now().UTC().Add(40*24*time.Hour).Format("2006-01-02T15:04")))
	require.Contains(t, d.text("#form-error"), "more than 30 days ahead: the most an email can be scheduled")
	require.Equal(t, http.StatusBadRequest, d.postForm("/dashboard/emails/"+scheduled+"/reschedule", csrf, "scheduled_at", "soon"))
	require.Contains(t, d.text("#form-error"), `"in 2 hours"`, "says which forms it reads")
	require.Equal(t, http.StatusBadRequest, d.postForm("/dashboard/emails/"+scheduled+"/reschedule", csrf,
		"send_at", "in 1 hour", "scheduled_at", "2026-12-24T09:00"))
	require.Contains(t, d.text("#form-error"), "not both")
	// In words, as the API reads scheduled_at.
	d.navigate(page, http.StatusOK)
	before := time.Now().UTC()
	d.do(chromedp.SetValue(chromedp.CSS("#reschedule-text"), "in 2 days"))
	require.Equal(t, http.StatusOK, d.submit("#reschedule-text"))
	after := time.Now().UTC()
	status, got := d.api("GET", "/emails/"+scheduled, keyA, "")
	require.Equal(t, http.StatusOK, status)
	at, err := time.Parse("2006-01-02 15:04:05.999999-07", got["scheduled_at"].(string))
	require.NoError(t, err, got["scheduled_at"])
	require.False(t, at.Before(before.Add(48*time.Hour).Truncate(time.Second)), at)
	require.False(t, at.After(after.Add(48*time.Hour)), at)
	later := time.Now().UTC().Add(72 * time.Hour).Truncate(time.Minute)
	d.navigate(page, http.StatusOK)
	d.do(chromedp.SetValue(chromedp.CSS("#reschedule-at"), later.Format("2006-01-02T15:04")))
	require.Equal(t, http.StatusOK, d.submit("#reschedule-at"))
	require.Equal(t, page, d.location(), "back on the email's page")
	status, got = d.api("GET", "/emails/"+scheduled, keyA, "")
	require.Equal(t, http.StatusOK, status)
	require.Equal(t, later.Format("2006-01-02 15:04:05")+"+00", got["scheduled_at"])
	require.Equal(t, later.Format(time.RFC3339), d.optAttr("#scheduled-for", "datetime"), "the page shows the new time")
	require.Empty(t, d.value("#reschedule-at"), "the picker starts empty, so the text field can be used alone")

	// Share it: the link shows once, and opens the email read-only.
	d.do(chromedp.SetValue(chromedp.CSS("#share-expires"), "1h"))
	require.Equal(t, http.StatusOK, d.submit("#share-expires"))
	shareURL := d.text("#share-url")
	require.True(t, strings.HasPrefix(shareURL, cfg.PublicURL+"/share/"), shareURL)
	hidden, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.querySelector('button[data-copy="share-url"]').hidden`))
	require.NoError(t, err)
	require.False(t, hidden, "the copy button shows with script")
	d.do(chromedp.Click(chromedp.CSS(`button[data-copy="share-url"]`)))
	require.Eventually(t, func() bool { return d.optAttr(`button[data-copy="share-url"]`, "data-copied") == "yes" },
		bound, 50*time.Millisecond, "the button copies")
	copied, err := chromedp.Run(ctx, chromedp.Evaluate[string](`navigator.clipboard.readText()`, chromedp.EvalAwaitPromise))
	require.NoError(t, err)
	require.Equal(t, shareURL, copied, "the clipboard holds the link")
	d.shot("email-shared")
	shared := d.getURLBody(shareURL)
	require.Equal(t, http.StatusOK, shared.status)
	require.Contains(t, shared.body, "Quarterly report")
	require.Contains(t, shared.body, "report.csv")
	// The share is in the audit log, and its link is not.
	var audited bool
	for _, rec := range srv.logs.Records(t, "dashboard action") {
		if rec["route"] == "POST /dashboard/emails/{id}/share" && rec["id"] == scheduled && rec["status"] == float64(http.StatusOK) {
			audited = rec["share_expires"] != nil
		}
	}
	require.True(t, audited, "the share's audit line, with its expiry")
	require.NotContains(t, srv.logs.String(), strings.TrimPrefix(shareURL, cfg.PublicURL+"/share/"), "the link is never logged")
	d.navigate(page, http.StatusOK)
	require.Zero(t, d.count("#share-url"), "shown once")
	require.Equal(t, http.StatusBadRequest, d.postForm("/dashboard/emails/"+scheduled+"/share", d.csrf(), "expires_in", "7d"))
	require.Contains(t, d.text("#form-error"), "1 hour, 24 hours or 48 hours")

	// Cancel it, after a confirmation; the timeline shows it, and the forms
	// are gone. Canceling or rescheduling again is refused with a message.
	d.navigate(page, http.StatusOK)
	require.Equal(t, http.StatusOK, d.click("#cancel-email"))
	require.Equal(t, page+"/cancel", d.location())
	require.Contains(t, d.text("main"), "Cancel this email?")
	d.shot("email-cancel")
	require.Equal(t, http.StatusOK, d.click("#confirm-cancel"))
	require.Equal(t, page, d.location())
	require.Equal(t, "canceled", d.text("#status"))
	require.Equal(t, 1, d.count(`#timeline li[data-event="canceled"]`))
	require.Zero(t, d.count("#reschedule-at"))
	require.Zero(t, d.count("#cancel-email"))
	status, got = d.api("GET", "/emails/"+scheduled, keyA, "")
	require.Equal(t, http.StatusOK, status)
	require.Equal(t, "canceled", got["last_event"])
	csrf = d.csrf()
	require.Equal(t, http.StatusConflict, d.postForm("/dashboard/emails/"+scheduled+"/cancel", csrf))
	require.Contains(t, d.text("#form-error"), "no longer scheduled")
	require.Equal(t, http.StatusConflict, d.postForm("/dashboard/emails/"+scheduled+"/reschedule", csrf,
		"scheduled_at", later.Format("2006-01-02T15:04")))
	require.Contains(t, d.text("#form-error"), "no longer scheduled")
	d.navigate(page+"/cancel", http.StatusConflict)

	// The email sent now: once delivered, its headers are the captured
	// message's, signed; its .eml is that message.
	sentPage := d.base + "/dashboard/emails/" + sentNow
	require.Eventually(t, func() bool {
		d.navigate(sentPage, http.StatusOK)
		return d.text("#status") == "delivered"
	}, bound, 200*time.Millisecond, "the email is delivered")
	require.Contains(t, d.text("#headers-note"), "As delivered")
	headers = d.headerTable()
	require.Equal(t, "Delivered right away", headers["Subject"])
	require.Contains(t, headers["DKIM-Signature"], "d=acme.test")
	require.Zero(t, d.count("#reschedule-at"), "not scheduled: no reschedule")
	require.Zero(t, d.count("#cancel-email"))
	d.shot("email-delivered")
	resp = d.getBody("/dashboard/emails/"+sentNow+"/raw.eml", cookie)
	require.Equal(t, http.StatusOK, resp.status)
	msg, err = mail.ReadMessage(strings.NewReader(resp.body))
	require.NoError(t, err)
	require.Equal(t, "Delivered right away", msg.Header.Get("Subject"))
	require.NotEmpty(t, msg.Header.Get("DKIM-Signature"))

	// Another team's email: its page, downloads and actions are 404s.
	for _, p := range []string{"/raw.eml", "/attachments/0", "/cancel"} {
		require.Equal(t, http.StatusNotFound, d.getBody("/dashboard/emails/"+theirs+p, cookie).status, p)
	}
	d.navigate(page, http.StatusOK)
	csrf = d.csrf()
	require.Equal(t, http.StatusNotFound, d.postForm("/dashboard/emails/"+theirs+"/share", csrf, "expires_in", "1h"))
	require.NotContains(t, d.text("main"), "secret")
	require.Equal(t, http.StatusNotFound, d.postForm("/dashboard/emails/"+theirs+"/reschedule", csrf, "scheduled_at",
		later.Format("2006-01-02T15:04")))
	require.Equal(t, http.StatusNotFound, d.postForm("/dashboard/emails/"+theirs+"/cancel", csrf))
	status, got = d.api("GET", "/emails/"+theirs, keyB, "")
	require.Equal(t, http.StatusOK, status)
	require.Equal(t, "scheduled", got["last_event"], "untouched")

	// A viewer reads the page and downloads, but sees none of the admin's
	// forms, and their POSTs are refused.
	viewed := sendJSON(keyA, map[string]any{"from": "Acme <news@acme.test>", "to": []string{"erin@example.net"},
		"subject": "For the viewer", "text": "hi", "scheduled_at": tomorrow.Format(time.RFC3339)})
	require.Equal(t, http.StatusOK, d.click(".signout button"))
	d.setPassword(viewerLink, "the viewer's password")
	viewedPage := d.base + "/dashboard/emails/" + viewed
	d.navigate(viewedPage, http.StatusOK)
	require.Equal(t, "scheduled", d.text("#status"))
	require.Equal(t, "For the viewer", d.headerTable()["Subject"])
	for _, sel := range []string{"#reschedule-at", "#cancel-email", "#share-expires", "#share-off", `form[method="post"][action^="/dashboard/emails/"]`} {
		require.Zero(t, d.count(sel), "a viewer sees no %s", sel)
	}
	d.shot("email-viewer")
	csrf = d.csrf()
	require.Equal(t, http.StatusForbidden, d.postForm("/dashboard/emails/"+viewed+"/share", csrf, "expires_in", "1h"))
	require.Contains(t, d.text("main"), "you are a viewer")
	require.Equal(t, http.StatusForbidden, d.postForm("/dashboard/emails/"+viewed+"/reschedule", csrf, "scheduled_at",
		later.Format("2006-01-02T15:04")))
	require.Equal(t, http.StatusForbidden, d.postForm("/dashboard/emails/"+viewed+"/cancel", csrf))
	viewerCookie := d.sessionCookie()
	require.Equal(t, http.StatusForbidden, d.getBody("/dashboard/emails/"+viewed+"/cancel", viewerCookie).status)
	require.Equal(t, http.StatusOK, d.getBody("/dashboard/emails/"+viewed+"/raw.eml", viewerCookie).status)
	status, got = d.api("GET", "/emails/"+viewed, keyA, "")
	require.Equal(t, http.StatusOK, status)
	require.Equal(t, "scheduled", got["last_event"], "the viewer changed nothing")
	require.Equal(t, tomorrow.Format("2006-01-02 15:04:05")+"+00", got["scheduled_at"])

	// At phone width, no sideways scrolling.
	d.do(chromedp.EmulateViewport(375, 812))
	d.navigate(page, http.StatusOK)
	width, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.documentElement.scrollWidth`))
	require.NoError(t, err)
	require.LessOrEqual(t, width, 375, "no sideways scrolling at phone width")
	d.shot("email-page-375")
}

// headerTable is the email page's header table, name to value.
func (d *dash) headerTable() map[string]string {
	d.t.Helper()
	m, err := chromedp.Run(d.ctx, chromedp.Evaluate[map[string]string](`Object.fromEntries([...document.querySelectorAll('#headers tbody tr')]
		.map(tr => [tr.querySelector('th').textContent, tr.querySelector('td').textContent]))`))
	require.NoError(d.t, err)
	require.NotEmpty(d.t, m, "the headers table")
	return m
}

// getURLBody GETs u with no cookie.
func (d *dash) getURLBody(u string) bodyResponse {
	d.t.Helper()
	resp, err := d.client.Get(u)
	require.NoError(d.t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(d.t, err)
	return bodyResponse{status: resp.StatusCode, header: resp.Header, body: string(b)}
}

// mimeParts walks a MIME body and returns its attachments' decoded
// contents by filename.
func mimeParts(t *testing.T, contentType string, body io.Reader) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	mt, params, err := mime.ParseMediaType(contentType)
	require.NoError(t, err)
	if !strings.HasPrefix(mt, "multipart/") {
		return out
	}
	r := multipart.NewReader(body, params["boundary"])
	for {
		p, err := r.NextRawPart()
		if err == io.EOF {
			return out
		}
		require.NoError(t, err)
		ct := p.Header.Get("Content-Type")
		if strings.HasPrefix(ct, "multipart/") {
			for k, v := range mimeParts(t, ct, p) {
				out[k] = v
			}
			continue
		}
		if name := p.FileName(); name != "" {
			raw, err := io.ReadAll(p)
			require.NoError(t, err)
			require.Equal(t, "base64", strings.ToLower(p.Header.Get("Content-Transfer-Encoding")))
			data, err := base64.StdEncoding.DecodeString(strings.NewReplacer("\r", "", "\n", "").Replace(string(raw)))
			require.NoError(t, err)
			out[name] = data
		}
	}
}
