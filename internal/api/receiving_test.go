package api

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/resend/resend-go/v3"
	"github.com/stretchr/testify/require"

	"github.com/godwit/godwit/internal/events"
	"github.com/godwit/godwit/internal/store"
	"github.com/godwit/godwit/internal/store/sqlstore"
	"github.com/godwit/godwit/internal/store/storetest"
	"github.com/godwit/godwit/internal/tracking"
)

// receive stores a received email of the team through the store, as the
// MX does (there is no MX yet), at the test clock's time plus offset.
func (e *testEnv) receive(teamID string, offset time.Duration, change ...func(*store.ReceivedEmail)) *store.ReceivedEmail {
	e.t.Helper()
	r := storetest.NewReceivedEmail(teamID, e.domainA, e.clock.Now().Add(offset))
	for _, c := range change {
		c(r)
	}
	require.NoError(e.t, e.db.StoreReceivedEmail(context.Background(), r, events.Received))
	return r
}

func receivedListIDs(t *testing.T, r result) []string {
	t.Helper()
	require.Equal(t, 200, r.status, "body: %s", r.body)
	var ids []string
	for _, it := range r.json["data"].([]any) {
		ids = append(ids, it.(map[string]any)["id"].(string))
	}
	return ids
}

func TestReceivingAPI(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, kind sqlstore.Dialect) {
		e, _ := shareEnv(t, kind, true)
		var ids []string // oldest first
		var mails []*store.ReceivedEmail
		for i := range 3 {
			m := e.receive(e.teamA, time.Duration(i)*time.Second)
			ids, mails = append(ids, m.ID), append(mails, m)
		}
		other := e.receive(e.teamB, 0)

		// The list: newest first, without bodies, with attachments.
		r := e.do("GET", "/emails/receiving", e.keyA, "")
		require.Equal(t, []string{ids[2], ids[1], ids[0]}, receivedListIDs(t, r))
		require.Equal(t, false, r.json["has_more"])
		item := r.json["data"].([]any)[0].(map[string]any)
		for _, k := range []string{"html", "text", "headers", "raw"} {
			require.NotContains(t, item, k)
		}
		require.Equal(t, "someone@example.net", item["from"])
		require.Equal(t, []any{"Support <support@example.com>"}, item["to"])
		require.Equal(t, []any{}, item["bcc"])
		require.Equal(t, []any{"support@example.com"}, item["received_for"])
		require.Equal(t, "<m@example.net>", item["message_id"])
		require.Equal(t, e.clock.Now().Add(2*time.Second).UTC().Format(events.ISO), item["created_at"], "ISO, as Resend's received emails")
		atts := item["attachments"].([]any)
		require.Len(t, atts, 3)
		require.Equal(t, map[string]any{"id": mails[2].Attachments[0].ID, "filename": "logo.png", "content_type": "image/png",
			"content_id": "logo", "content_disposition": "inline", "size": float64(4)}, atts[0])
		require.Equal(t, map[string]any{"id": mails[2].Attachments[2].ID, "filename": nil, "content_type": "application/octet-stream",
			"content_id": nil, "content_disposition": nil, "size": float64(0)}, atts[2])

		// Cursor pagination, as the other lists.
		r = e.do("GET", "/emails/receiving?limit=2", e.keyA, "")
		require.Equal(t, []string{ids[2], ids[1]}, receivedListIDs(t, r))
		require.Equal(t, true, r.json["has_more"])
		r = e.do("GET", "/emails/receiving?limit=2&after="+ids[1], e.keyA, "")
		require.Equal(t, []string{ids[0]}, receivedListIDs(t, r))
		require.Equal(t, false, r.json["has_more"])
		r = e.do("GET", "/emails/receiving?limit=1&before="+ids[0], e.keyA, "")
		require.Equal(t, []string{ids[1]}, receivedListIDs(t, r))
		require.Equal(t, true, r.json["has_more"])
		requireError(t, e.do("GET", "/emails/receiving?after="+other.ID, e.keyA, ""), 422, "validation_error", "cursor")
		requireError(t, e.do("GET", "/emails/receiving?limit=0", e.keyA, ""), 422, "validation_error", "limit")
		requireError(t, e.do("GET", "/emails/receiving?after="+ids[0]+"&before="+ids[1], e.keyA, ""), 422, "validation_error")
		requireError(t, e.do("GET", "/emails/receiving", e.sendA, ""), 401, "restricted_api_key")
		require.Equal(t, []string{other.ID}, receivedListIDs(t, e.do("GET", "/emails/receiving", e.keyB, "")), "each team its own")

		// One email: Resend's shape, the HTML's inline images as data: URIs by default.
		m := mails[1]
		r = e.do("GET", "/emails/receiving/"+strings.ToUpper(m.ID), e.keyA, "")
		require.Equal(t, 200, r.status, "body: %s", r.body)
		require.Equal(t, "email", r.json["object"])
		require.Equal(t, m.ID, r.json["id"])
		require.Equal(t, "data_uri", r.json["html_format"])
		require.Equal(t, `<p>Hi <img src="data:image/png;base64,`+base64.StdEncoding.EncodeToString(m.Attachments[0].Content)+`"></p>`, r.json["html"])
		require.Equal(t, "Hi", r.json["text"])
		require.Equal(t, map[string]any{"from": "Someone <someone@example.net>", "subject": "Help", "received": "from a, from b"}, r.json["headers"])
		require.Equal(t, map[string]any{"spf": "pass", "dkim": "fail", "dmarc": "fail"}, r.json["authentication"])
		require.Equal(t, []any{"reply@example.net"}, r.json["reply_to"])
		require.Len(t, r.json["attachments"], 3)
		require.NotContains(t, r.json, "in_reply_to_email_id", "only when the email replies to one of the team's")
		raw := r.json["raw"].(map[string]any)
		require.Equal(t, e.clock.Now().Add(time.Hour).UTC().Format(events.ISO), raw["expires_at"])
		require.True(t, strings.HasPrefix(raw["download_url"].(string), e.srv.URL+"/download/received/"), raw["download_url"])

		r = e.do("GET", "/emails/receiving/"+m.ID+"?html_format=cid", e.keyA, "")
		require.Equal(t, 200, r.status)
		require.Equal(t, "cid", r.json["html_format"])
		require.Equal(t, `<p>Hi <img src="cid:logo"></p>`, r.json["html"])
		requireError(t, e.do("GET", "/emails/receiving/"+m.ID+"?html_format=inline", e.keyA, ""), 422, "validation_error", "html_format")

		// The raw message downloads without a key, byte for byte.
		resp, body := get(t, raw["download_url"].(string))
		require.Equal(t, 200, resp.StatusCode)
		require.Equal(t, m.Raw, body)
		require.Equal(t, "message/rfc822", resp.Header.Get("Content-Type"))
		require.Equal(t, `attachment; filename=`+m.ID+`.eml`, resp.Header.Get("Content-Disposition"))
		require.Equal(t, "nosniff", resp.Header.Get("X-Content-Type-Options"))

		// Another team's, unknown and malformed ids.
		requireError(t, e.do("GET", "/emails/receiving/"+m.ID, e.keyB, ""), 404, "not_found", "Email not found")
		requireError(t, e.do("GET", "/emails/receiving/"+uuid.NewString(), e.keyA, ""), 404, "not_found")
		requireError(t, e.do("GET", "/emails/receiving/"+m.ID+"/attachments", e.keyB, ""), 404, "not_found", "Email not found")
		requireError(t, e.do("GET", "/emails/receiving/"+m.ID+"/attachments/"+m.Attachments[0].ID, e.keyB, ""), 404, "not_found")
		requireError(t, e.do("GET", "/emails/receiving/"+m.ID+"/attachments/"+other.Attachments[0].ID, e.keyA, ""), 404, "not_found",
			"Attachment not found")
		requireError(t, e.do("GET", "/emails/receiving/nope/attachments", e.keyA, ""), 422, "invalid_parameter", "email_id")
		requireError(t, e.do("GET", "/emails/receiving/"+m.ID+"/attachments/nope", e.keyA, ""), 422, "invalid_parameter", "attachment_id")
		// A sent email is not a received one, nor the other way round.
		sent := e.send(e.keyA, simpleEmail)
		requireError(t, e.do("GET", "/emails/receiving/"+sent, e.keyA, ""), 404, "not_found")
		requireError(t, e.do("GET", "/emails/"+m.ID, e.keyA, ""), 404, "not_found")

		// Attachments, each with its own download link.
		r = e.do("GET", "/emails/receiving/"+m.ID+"/attachments", e.keyA, "")
		require.Equal(t, []string{m.Attachments[0].ID, m.Attachments[1].ID, m.Attachments[2].ID}, receivedListIDs(t, r))
		require.Equal(t, false, r.json["has_more"])
		items := r.json["data"].([]any)
		for i, it := range items {
			o := it.(map[string]any)
			require.NotContains(t, o, "object")
			require.Equal(t, e.clock.Now().Add(time.Hour).UTC().Format(events.ISO), o["expires_at"])
			resp, body := get(t, o["download_url"].(string))
			require.Equal(t, 200, resp.StatusCode, "attachment %d: %s", i, body)
			require.Equal(t, m.Attachments[i].Content, body, "attachment %d", i)
			require.Equal(t, "nosniff", resp.Header.Get("X-Content-Type-Options"))
			require.True(t, strings.HasPrefix(resp.Header.Get("Content-Disposition"), "attachment"), resp.Header.Get("Content-Disposition"))
		}
		resp, _ = get(t, items[0].(map[string]any)["download_url"].(string))
		require.Equal(t, "image/png", resp.Header.Get("Content-Type"))
		require.Equal(t, "attachment; filename=logo.png", resp.Header.Get("Content-Disposition"))
		resp, _ = get(t, items[2].(map[string]any)["download_url"].(string))
		require.Equal(t, "application/octet-stream", resp.Header.Get("Content-Type"))
		require.Equal(t, "attachment; filename=attachment", resp.Header.Get("Content-Disposition"))

		r = e.do("GET", "/emails/receiving/"+m.ID+"/attachments?limit=2", e.keyA, "")
		require.Equal(t, []string{m.Attachments[0].ID, m.Attachments[1].ID}, receivedListIDs(t, r))
		require.Equal(t, true, r.json["has_more"])
		r = e.do("GET", "/emails/receiving/"+m.ID+"/attachments?limit=2&after="+m.Attachments[1].ID, e.keyA, "")
		require.Equal(t, []string{m.Attachments[2].ID}, receivedListIDs(t, r))
		requireError(t, e.do("GET", "/emails/receiving/"+m.ID+"/attachments?after="+uuid.NewString(), e.keyA, ""), 422, "validation_error")

		r = e.do("GET", "/emails/receiving/"+m.ID+"/attachments/"+strings.ToUpper(m.Attachments[1].ID), e.keyA, "")
		require.Equal(t, 200, r.status, "body: %s", r.body)
		require.Equal(t, "attachment", r.json["object"])
		require.Equal(t, "report.txt", r.json["filename"])
		require.Equal(t, "attachment", r.json["content_disposition"])
		require.EqualValues(t, len(m.Attachments[1].Content), r.json["size"])
		resp, body = get(t, r.json["download_url"].(string))
		require.Equal(t, 200, resp.StatusCode)
		require.Equal(t, m.Attachments[1].Content, body)
		require.Equal(t, "text/plain", resp.Header.Get("Content-Type"))
	})
}

func TestReceivedEmailReplyLink(t *testing.T) {
	t.Parallel()
	e, _ := shareEnv(t, sqlstore.SQLite, true)
	sent := e.send(e.keyA, simpleEmail)
	m := e.receive(e.teamA, 0, func(r *store.ReceivedEmail) { r.InReplyToEmailID = sent })
	r := e.do("GET", "/emails/receiving/"+m.ID, e.keyA, "")
	require.Equal(t, 200, r.status)
	require.Equal(t, sent, r.json["in_reply_to_email_id"])
	r = e.do("GET", "/emails/receiving", e.keyA, "")
	require.Equal(t, sent, r.json["data"].([]any)[0].(map[string]any)["in_reply_to_email_id"])

	// A message without checks has authentication null, and no bodies null.
	plain := e.receive(e.teamA, time.Second, func(r *store.ReceivedEmail) {
		r.Auth, r.HTML, r.Headers, r.Attachments = store.ReceivedAuth{}, nil, nil, nil
	})
	r = e.do("GET", "/emails/receiving/"+plain.ID, e.keyA, "")
	require.Equal(t, 200, r.status)
	require.Nil(t, r.json["authentication"])
	require.Nil(t, r.json["html"])
	require.Nil(t, r.json["headers"])
	require.Equal(t, []any{}, r.json["attachments"])
	// One check run: the others are "unknown".
	spf := e.receive(e.teamA, 2*time.Second, func(r *store.ReceivedEmail) { r.Auth = store.ReceivedAuth{SPF: store.AuthGray} })
	r = e.do("GET", "/emails/receiving/"+spf.ID, e.keyA, "")
	require.Equal(t, map[string]any{"spf": "gray", "dkim": "unknown", "dmarc": "unknown"}, r.json["authentication"])
}

// TestReceivedDownloads: download links work without a key for an hour,
// for their own team's email only; expired links are 403, forged or
// misdirected ones 404, both in Resend's error envelope.
func TestReceivedDownloads(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, kind sqlstore.Dialect) {
		e, signer := shareEnv(t, kind, false)
		m := e.receive(e.teamA, 0)
		theirs := e.receive(e.teamB, 0)
		r := e.do("GET", "/emails/receiving/"+m.ID, e.keyA, "")
		require.Equal(t, 200, r.status)
		rawLink := r.json["raw"].(map[string]any)["download_url"].(string)
		require.True(t, strings.HasPrefix(rawLink, e.srv.URL+"/download/received/"),
			"without --public-url, links are under the origin the request came to: %s", rawLink)
		r = e.do("GET", "/emails/receiving/"+m.ID+"/attachments/"+m.Attachments[0].ID, e.keyA, "")
		require.Equal(t, 200, r.status)
		attLink := r.json["download_url"].(string)

		for _, link := range []string{rawLink, attLink} {
			resp, _ := get(t, link)
			require.Equal(t, 200, resp.StatusCode, link)
		}
		req, err := http.NewRequest("HEAD", rawLink, nil)
		require.NoError(t, err)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, 200, resp.StatusCode)
		require.Equal(t, fmt.Sprint(len(m.Raw)), resp.Header.Get("Content-Length"))

		requireEnvelope := func(name string, resp *http.Response, body []byte, status int) {
			t.Helper()
			require.Equal(t, status, resp.StatusCode, "%s: %s", name, body)
			require.True(t, strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json"), name)
			var env map[string]any
			require.NoError(t, json.Unmarshal(body, &env), name)
			require.EqualValues(t, status, env["statusCode"], name)
			require.NotEmpty(t, env["message"], name)
			require.NotEmpty(t, env["name"], name)
			require.NotContains(t, string(body), "padding", name)
		}

		tok := rawLink[strings.LastIndex(rawLink, "/")+1:]
		flip := map[bool]string{true: "A", false: "B"}[tok[10] != 'A']
		exp := e.clock.Now().Add(time.Hour)
		forged, err := tracking.NewSigner([]byte(strings.Repeat("k", 32)))
		require.NoError(t, err)
		for name, bad := range map[string]string{
			"tampered":         tok[:10] + flip + tok[11:],
			"garbage":          "nonsense",
			"another key":      forged.ReceivedDownloadToken(tracking.ReceivedDownload{EmailID: m.ID, TeamID: e.teamA, Expires: exp}),
			"sent attachment":  signer.DownloadToken(tracking.Download{EmailID: m.ID, TeamID: e.teamA, Index: 0, Expires: exp}),
			"share token":      signer.ShareToken(tracking.Share{EmailID: m.ID, TeamID: e.teamA, Expires: exp}),
			"other team":       signer.ReceivedDownloadToken(tracking.ReceivedDownload{EmailID: m.ID, TeamID: e.teamB, Expires: exp}),
			"other team's att": signer.ReceivedDownloadToken(tracking.ReceivedDownload{EmailID: m.ID, AttachmentID: m.Attachments[0].ID, TeamID: e.teamB, Expires: exp}),
			"att of another email": signer.ReceivedDownloadToken(tracking.ReceivedDownload{EmailID: m.ID,
				AttachmentID: theirs.Attachments[0].ID, TeamID: e.teamA, Expires: exp}),
			"unknown email": signer.ReceivedDownloadToken(tracking.ReceivedDownload{EmailID: uuid.NewString(), TeamID: e.teamA, Expires: exp}),
		} {
			resp, body := get(t, e.srv.URL+"/download/received/"+bad)
			requireEnvelope(name, resp, body, 404)
		}
		// A received download token is not a sent attachment's.
		resp, body := get(t, e.srv.URL+"/download/"+tok)
		require.Equal(t, 404, resp.StatusCode, string(body))

		// An hour later the links have expired: 403.
		e.clock.Advance(time.Hour)
		for _, link := range []string{rawLink, attLink} {
			resp, body := get(t, link)
			requireEnvelope("expired", resp, body, 403)
			require.Contains(t, string(body), "expired")
		}

		// Once retention removed the email, a fresh link finds nothing.
		fresh := signer.ReceivedDownloadToken(tracking.ReceivedDownload{EmailID: m.ID, TeamID: e.teamA, Expires: e.clock.Now().Add(time.Hour)})
		resp, _ = get(t, e.srv.URL+"/download/received/"+fresh)
		require.Equal(t, 200, resp.StatusCode)
		n, err := e.db.DeleteReceivedBefore(context.Background(), e.clock.Now(), 100)
		require.NoError(t, err)
		require.EqualValues(t, 2, n)
		resp, body = get(t, e.srv.URL+"/download/received/"+fresh)
		requireEnvelope("deleted", resp, body, 404)
	})
}

func TestReceivedDownloadTokensAreNotLogged(t *testing.T) {
	t.Parallel()
	require.Equal(t, "/download/REDACTED", logPath("/download/received/AQYBsecret"))
}

// The official Go SDK lists and reads received emails and their
// attachments, and their download links serve the bytes without a key.
func TestSDKReceiving(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, kind sqlstore.Dialect) {
		e, _ := shareEnv(t, kind, true)
		older := e.receive(e.teamA, 0)
		m := e.receive(e.teamA, time.Second)
		client := e.sdk(e.keyA)

		list, err := client.Emails.Receiving.List()
		require.NoError(t, err)
		require.Equal(t, "list", list.Object)
		require.Len(t, list.Data, 2)
		require.Equal(t, m.ID, list.Data[0].Id)
		require.Equal(t, older.ID, list.Data[1].Id)
		require.Len(t, list.Data[0].Attachments, 3)
		require.Equal(t, "logo", list.Data[0].Attachments[0].ContentId)
		require.Equal(t, "", list.Data[0].Attachments[2].Filename, "null decodes as empty")
		page, err := client.Emails.Receiving.ListWithOptions(context.Background(), &resend.ListOptions{Limit: limit(1), After: &m.ID})
		require.NoError(t, err)
		require.Len(t, page.Data, 1)
		require.Equal(t, older.ID, page.Data[0].Id)
		require.False(t, page.HasMore)

		got, err := client.Emails.Receiving.Get(m.ID)
		require.NoError(t, err)
		require.Equal(t, "email", got.Object)
		require.Equal(t, "Help", got.Subject)
		require.Equal(t, "Hi", got.Text)
		require.Equal(t, "Help", got.Headers["subject"])
		require.NotEmpty(t, got.Raw.DownloadUrl)
		resp, body := get(t, got.Raw.DownloadUrl)
		require.Equal(t, 200, resp.StatusCode)
		require.Equal(t, m.Raw, body)

		atts, err := client.Emails.Receiving.ListAttachments(m.ID)
		require.NoError(t, err)
		require.Len(t, atts.Data, 3)
		one, err := client.Emails.Receiving.GetAttachment(m.ID, atts.Data[1].Id)
		require.NoError(t, err)
		require.Equal(t, "attachment", one.Object)
		require.Equal(t, "report.txt", one.Filename)
		resp, body = get(t, one.DownloadUrl)
		require.Equal(t, 200, resp.StatusCode)
		require.Equal(t, m.Attachments[1].Content, body)

		_, err = e.sdk(e.keyB).Emails.Receiving.Get(m.ID)
		require.ErrorContains(t, err, "Email not found")
	})
}
