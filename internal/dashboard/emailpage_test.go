package dashboard

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/godwit/godwit/internal/message"
	"github.com/godwit/godwit/internal/store"
)

func TestHeaderFields(t *testing.T) {
	raw := "From: Acme <news@acme.test>\r\nTo: a@example.net,\r\n b@example.net\r\n" +
		"Subject: =?utf-8?q?Caf=C3=A9_news?=\r\nX-Odd: =?bogus?x?y?=\r\nnot a field\r\nX-Empty:\r\n\r\nBody: not a header\r\n"
	require.Equal(t, []headerField{
		{"From", "Acme <news@acme.test>"},
		{"To", "a@example.net, b@example.net"},
		{"Subject", "Café news"},
		{"X-Odd", "=?bogus?x?y?="},
		{"X-Empty", ""},
	}, headerFields([]byte(raw)))
	require.Empty(t, headerFields(nil))
	require.Equal(t, []headerField{{"A", "b"}}, headerFields([]byte("A: b\n")), "LF only, no body")
	require.Empty(t, headerFields([]byte(" continuation first\r\n\r\n")))
	require.Equal(t, []headerField{{"B", "c"}}, headerFields([]byte("Bad name: x\r\n more\r\nB: c\r\n")), "not a field, nor its continuation")
}

// The page's headers are those message.Build writes, in its order.
func TestHeaderFieldsOfBuiltMessage(t *testing.T) {
	text := "hi"
	e := &store.Email{ID: store.NewID(), From: "Acme <news@acme.test>", To: []string{"a@example.net"}, Cc: []string{"c@example.net"},
		ReplyTo: []string{"r@example.net"}, Subject: "Ünïcode subject", Text: &text,
		Headers:     []store.Header{{Name: "X-Entity-Ref-ID", Value: "42"}},
		Attachments: []store.Attachment{{Filename: "a.txt", ContentType: "text/plain", Content: []byte{}}}}
	at := time.Date(2026, 12, 3, 7, 0, 0, 0, time.UTC)
	raw, err := message.Build(e, message.Options{Now: at, MessageID: e.MessageID()})
	require.NoError(t, err)
	fields := headerFields(raw)
	var names []string
	got := map[string]string{}
	for _, f := range fields {
		names = append(names, f.Name)
		got[f.Name] = f.Value
	}
	require.Equal(t, []string{"From", "To", "Cc", "Reply-To", "Subject", "Date", "Message-ID", "MIME-Version", "X-Entity-Ref-ID",
		"Content-Type"}, names)
	require.Equal(t, "Ünïcode subject", got["Subject"])
	require.Equal(t, "<news@acme.test>", got["From"][len(got["From"])-len("<news@acme.test>"):])
	require.Contains(t, got["Date"], "03 Dec 2026 07:00:00")
	require.Contains(t, got["Content-Type"], "multipart/mixed")
}

func TestBuiltDate(t *testing.T) {
	created := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	sched := created.Add(48 * time.Hour)
	d := &store.EmailDetail{Email: &store.Email{CreatedAt: created}}
	require.Equal(t, created, builtDate(d))
	d.Email.ScheduledAt = &sched
	require.Equal(t, sched, builtDate(d))
	d.Attempts = []*store.DeliveryAttempt{{CreatedAt: sched.Add(time.Minute)}, {CreatedAt: sched.Add(time.Hour)}}
	require.Equal(t, sched.Add(time.Hour), builtDate(d), "the last attempt's")
}

func TestParseShareTTL(t *testing.T) {
	for v, want := range map[string]time.Duration{"1h": time.Hour, "24h": 24 * time.Hour, "48h": 48 * time.Hour} {
		got, ok := parseShareTTL(v)
		require.True(t, ok, v)
		require.Equal(t, want, got)
	}
	for _, v := range []string{"", "2h", "49h", "48 hours", "1H", " 1h"} {
		_, ok := parseShareTTL(v)
		require.False(t, ok, v)
	}
}

func TestParseIndex(t *testing.T) {
	for v, want := range map[string]int{"0": 0, "7": 7, "012": 12, "999999": 999999} {
		got, ok := parseIndex(v)
		require.True(t, ok, v)
		require.Equal(t, want, got)
	}
	for _, v := range []string{"", "-1", "+1", "1.0", "1e3", "1000000", " 1", "x"} {
		_, ok := parseIndex(v)
		require.False(t, ok, v)
	}
}

func FuzzParseIndex(f *testing.F) {
	for _, s := range []string{"0", "12", "-1", "9999999", "٣"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, ok := parseIndex(s)
		if ok && (n < 0 || n > 999999 || fmt.Sprintf("%0*d", len(s), n) != s) {
			t.Fatalf("parseIndex(%q) = %d", s, n)
		}
	})
}

func TestFormatSize(t *testing.T) {
	for n, want := range map[int64]string{0: "0 bytes", 1: "1 byte", 1023: "1023 bytes", 1024: "1.0 KiB", 1536: "1.5 KiB",
		5 << 20: "5.0 MiB", 3 << 30: "3.0 GiB"} {
		require.Equal(t, want, formatSize(n), n)
	}
}

func TestScheduleFormError(t *testing.T) {
	status, msg, err := scheduleFormError(nil)
	require.Zero(t, status)
	require.Empty(t, msg)
	require.NoError(t, err)
	status, msg, err = scheduleFormError(fmt.Errorf("wrapped: %w", store.ErrNotScheduled))
	require.Equal(t, http.StatusConflict, status)
	require.Equal(t, errNoLongerScheduled, msg)
	require.NoError(t, err)
	_, _, err = scheduleFormError(store.ErrNotFound)
	require.ErrorIs(t, err, store.ErrNotFound, "the 404 page")
	boom := errors.New("boom")
	_, msg, err = scheduleFormError(boom)
	require.ErrorIs(t, err, boom)
	require.Empty(t, msg)
}

// Without a public URL the page says share links cannot be made, and the
// form's POST says so too; an attachment given by URL is listed without a
// download, and the .eml is still built (that part empty).
func TestEmailPageWithoutPublicURL(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	srv, accounts, team, db := setupStore(t)
	_, link, err := accounts.CreateUser(ctx, team.ID, "admin@example.com", store.RoleAdmin)
	require.NoError(t, err)
	sess, err := accounts.SetPassword(ctx, link, "long enough password")
	require.NoError(t, err)
	cookie := &http.Cookie{Name: sessionCookie, Value: sess.Token}
	text := "hello"
	e := &store.Email{ID: store.NewID(), TeamID: team.ID, From: "a@example.com", To: []string{"b@example.net"},
		Subject: "With a linked file", Text: &text, LastEvent: store.EventQueued, CreatedAt: time.Now().UTC(),
		Attachments: []store.Attachment{{Filename: "kept.txt", Content: []byte("kept")},
			{Filename: "linked.pdf", Path: "https://files.example/linked.pdf"}}}
	require.NoError(t, db.AcceptEmails(ctx, &store.Accept{Emails: []*store.Email{e}}))
	base := srv.URL + "/dashboard/emails/" + e.ID

	body, status := getPage(t, base, cookie)
	require.Equal(t, http.StatusOK, status)
	require.Contains(t, body, `id="share-off"`)
	require.NotContains(t, body, `id="share-expires"`)
	require.Contains(t, body, `href="/dashboard/emails/`+e.ID+`/attachments/0"`)
	require.NotContains(t, body, `/attachments/1"`, "no download of a file Godwit does not keep")
	require.Contains(t, body, "given by URL")
	require.Contains(t, body, "the .eml has them empty")

	form := url.Values{"csrf": {csrfToken([]byte("0123456789abcdef0123456789abcdef"), sessionCSRFBase(sess.Token))}, "expires_in": {"1h"}}
	req, err := http.NewRequest(http.MethodPost, base+"/share", strings.NewReader(form.Encode()))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.AddCookie(cookie)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(t, http.StatusConflict, resp.StatusCode)
	require.Contains(t, string(b), "no public URL")

	body, status = getPage(t, base+"/attachments/1", cookie)
	require.Equal(t, http.StatusNotFound, status)
	require.Contains(t, body, "given by URL")
	body, status = getPage(t, base+"/attachments/0", cookie)
	require.Equal(t, http.StatusOK, status)
	require.Equal(t, "kept", body)
	raw, status := getPage(t, base+"/raw.eml", cookie)
	require.Equal(t, http.StatusOK, status)
	require.Contains(t, raw, "Subject: With a linked file")
	require.Contains(t, raw, `filename=linked.pdf`)
	require.Contains(t, raw, "a2VwdA==", "the kept file's bytes, in base64")

	// An email with HTML only shows the text delivery derives from it.
	html := "<p>Only <b>HTML</b> here</p>"
	htmlOnly := &store.Email{ID: store.NewID(), TeamID: team.ID, From: "a@example.com", To: []string{"b@example.net"},
		Subject: "HTML only", HTML: &html, LastEvent: store.EventQueued, CreatedAt: time.Now().UTC()}
	require.NoError(t, db.AcceptEmails(ctx, &store.Accept{Emails: []*store.Email{htmlOnly}}))
	body, status = getPage(t, srv.URL+"/dashboard/emails/"+htmlOnly.ID, cookie)
	require.Equal(t, http.StatusOK, status)
	require.Contains(t, body, "made from the HTML")
	require.Contains(t, body, message.HTMLToText(html))
	require.Contains(t, body, "multipart/alternative", "the built message has the derived text part")
}

func FuzzHeaderFields(f *testing.F) {
	for _, s := range []string{"A: b\r\n c\r\n\r\nbody", "Subject: =?utf-8?b?w6k=?=\n\n", ":x\n", " a\nB:\n", strings.Repeat("X: y\n", 600)} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		fields := headerFields(raw)
		if len(fields) > maxHeaderFields {
			t.Fatalf("%d fields", len(fields))
		}
		for _, h := range fields {
			if !fieldName(h.Name) {
				t.Fatalf("bad name %q", h.Name)
			}
		}
	})
}

// TestEmailPageShowsTransportSecurity: an attempt's TLS version, cipher
// and policy are on the email's timeline.
func TestEmailPageShowsTransportSecurity(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	srv, accounts, team, db := setupStore(t)
	text := "hello"
	e := &store.Email{ID: store.NewID(), TeamID: team.ID, From: "a@example.com", To: []string{"b@example.net"},
		Subject: "s", Text: &text, LastEvent: store.EventQueued, CreatedAt: time.Now().UTC()}
	require.NoError(t, db.AcceptEmails(ctx, &store.Accept{Emails: []*store.Email{e}}))
	require.NoError(t, db.RecordDelivery(ctx, &store.DeliveryOutcome{EmailID: e.ID, TeamID: team.ID,
		Attempts: []*store.DeliveryAttempt{{Recipient: "b@example.net", Outcome: store.OutcomeDeferred, Host: "mx.example.net",
			Response: "mta-sts enforce: STARTTLS not offered (mx.example.net); not delivered", TLSPolicy: "mta-sts enforce",
			CreatedAt: time.Now().UTC()},
			{Recipient: "b@example.net", Outcome: store.OutcomeDelivered, Host: "mx2.example.net", Code: 250,
				TLSVersion: "TLS 1.3", TLSCipher: "TLS_AES_128_GCM_SHA256", TLSPolicy: "mta-sts testing: certificate invalid",
				CreatedAt: time.Now().UTC()}}}))
	body, status := getPage(t, srv.URL+"/dashboard/emails/"+e.ID, viewerSession(t, accounts, team))
	require.Equal(t, http.StatusOK, status)
	require.Contains(t, body, `<span class="tls" data-tls-policy="mta-sts enforce">(mta-sts enforce)</span>`)
	require.Contains(t, body, `TLS 1.3 TLS_AES_128_GCM_SHA256 (mta-sts testing: certificate invalid)</span>`)
}
