package api

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/godwit/godwit/internal/broadcast"
	"github.com/godwit/godwit/internal/store"
	"github.com/godwit/godwit/internal/store/sqlstore"
	"github.com/godwit/godwit/internal/tracking"
)

func TestBroadcastsCRUD(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, kind sqlstore.Dialect) {
		e := setup(t, kind)
		seg := e.newSegment(e.keyA, "s")
		r := e.do("POST", "/broadcasts", e.keyA, `{"audience_id":"`+seg+`","from":"Acme <news@example.com>","subject":"Hi",
			"name":"Nov","reply_to":"help@example.com","preview_text":"pv","html":"<p>{{{FIRST_NAME|there}}}</p>"}`)
		require.Equal(t, 201, r.status, "body: %s", r.body)
		require.Equal(t, []string{"id", "object"}, keysOf(r.json))
		id := r.json["id"].(string)

		r = e.do("GET", "/broadcasts/"+id, e.keyA, "")
		require.Equal(t, 200, r.status)
		require.Equal(t, map[string]any{"object": "broadcast", "id": id, "name": "Nov", "segment_id": seg, "audience_id": seg,
			"from": "Acme <news@example.com>", "subject": "Hi", "reply_to": []any{"help@example.com"}, "preview_text": "pv",
			"status": "draft", "created_at": "2026-11-28 12:00:00+00", "scheduled_at": nil, "sent_at": nil,
			"html": "<p>{{{FIRST_NAME|there}}}</p>", "text": nil, "topic_id": nil}, r.json)

		r = e.do("GET", "/broadcasts", e.keyA, "")
		require.Equal(t, 200, r.status)
		data := r.json["data"].([]any)
		require.Len(t, data, 1)
		require.Equal(t, []string{"audience_id", "created_at", "id", "name", "scheduled_at", "segment_id", "sent_at", "status", "topic_id"},
			keysOf(data[0].(map[string]any)))
		require.Empty(t, e.do("GET", "/broadcasts", e.keyB, "").json["data"])

		// Other team, sending key, bad ids.
		requireError(t, e.do("GET", "/broadcasts/"+id, e.keyB, ""), 404, "not_found", "Broadcast not found")
		requireError(t, e.do("PATCH", "/broadcasts/"+id, e.keyB, `{"name":"x"}`), 404, "not_found")
		requireError(t, e.do("POST", "/broadcasts/"+id+"/send", e.keyB, `{}`), 404, "not_found")
		requireError(t, e.do("DELETE", "/broadcasts/"+id, e.keyB, ""), 404, "not_found")
		require.Equal(t, 401, e.do("GET", "/broadcasts", e.sendA, "").status)
		requireError(t, e.do("GET", "/broadcasts/nope", e.keyA, ""), 422, "invalid_parameter")

		// Validation.
		requireError(t, e.do("POST", "/broadcasts", e.keyA, `{"from":"a@example.com","subject":"s"}`), 422, "missing_required_field")
		requireError(t, e.do("POST", "/broadcasts", e.keyA, `{"segment_id":"`+seg+`","subject":"s"}`), 422, "missing_required_field")
		requireError(t, e.do("POST", "/broadcasts", e.keyA, `{"segment_id":"`+seg+`","from":"a@example.com"}`), 422, "missing_required_field")
		requireError(t, e.do("POST", "/broadcasts", e.keyA, `{"segment_id":"`+store.NewID()+`","from":"a@example.com","subject":"s"}`), 404, "not_found")
		requireError(t, e.do("POST", "/broadcasts", e.keyA, `{"segment_id":"`+seg+`","from":"a@unverified.test","subject":"s"}`), 403, "validation_error")
		requireError(t, e.do("POST", "/broadcasts", e.keyA, `{"segment_id":"`+seg+`","from":"bad","subject":"s"}`), 422, "validation_error")
		requireError(t, e.do("POST", "/broadcasts", e.keyA, `{"segment_id":"`+seg+`","from":"a@example.com","subject":"s","topic_id":"`+store.NewID()+`"}`), 404, "not_found")
		requireError(t, e.do("POST", "/broadcasts", e.keyA, `{"segment_id":"`+seg+`","from":"a@example.com","subject":"s","html":"x","scheduled_at":"in 1 hour"}`), 422, "validation_error")
		requireError(t, e.do("POST", "/broadcasts", e.keyA, `{"segment_id":"`+seg+`","from":"a@example.com","subject":"s","send":true}`), 422, "validation_error")
		requireError(t, e.do("POST", "/broadcasts", e.keyA, `{"segment_id":"`+seg+`","from":"a@example.com","subject":"s","html":"{{{RESEND_UNSUBSCRIBE_URL}}}","send":true}`),
			422, "validation_error", "The broadcast uses {{{RESEND_UNSUBSCRIBE_URL}}}, but this server has no public URL to build unsubscribe links with (start it with --public-url).")

		// PATCH as the Go SDK sends it.
		r = e.do("PATCH", "/broadcasts/"+id, e.keyA, `{"broadcast_id":"`+id+`","subject":"New","text":"plain"}`)
		require.Equal(t, 200, r.status, "body: %s", r.body)
		require.Equal(t, id, r.json["id"])
		r = e.do("GET", "/broadcasts/"+id, e.keyA, "")
		require.Equal(t, "New", r.json["subject"])
		require.Equal(t, "plain", r.json["text"])
		require.Equal(t, "Nov", r.json["name"])

		// Send scheduled (Go sends scheduled_at "" when unset: see below), cancel, no delete.
		r = e.do("POST", "/broadcasts/"+id+"/send", e.keyA, `{"broadcast_id":"`+id+`","scheduled_at":"in 1 hour"}`)
		require.Equal(t, 200, r.status, "body: %s", r.body)
		require.Equal(t, id, r.json["id"])
		r = e.do("GET", "/broadcasts/"+id, e.keyA, "")
		require.Equal(t, "scheduled", r.json["status"])
		require.Equal(t, "2026-11-28 13:00:00+00", r.json["scheduled_at"])
		requireError(t, e.do("POST", "/broadcasts/"+id+"/send", e.keyA, `{"scheduled_at":""}`), 422, "validation_error")
		requireError(t, e.do("PATCH", "/broadcasts/"+id, e.keyA, `{"name":"x"}`), 422, "validation_error")
		requireError(t, e.do("DELETE", "/broadcasts/"+id, e.keyA, ""), 422, "validation_error")
		r = e.do("POST", "/broadcasts/"+id+"/cancel", e.keyA, "")
		require.Equal(t, 200, r.status, "body: %s", r.body)
		require.Equal(t, map[string]any{"object": "broadcast", "id": id}, r.json)
		require.Equal(t, "canceled", e.do("GET", "/broadcasts/"+id, e.keyA, "").json["status"])
		requireError(t, e.do("POST", "/broadcasts/"+id+"/cancel", e.keyA, ""), 422, "validation_error")

		// A duplicate is a new draft with the same content, whatever the
		// original's status; the name gets " (copy)", cut to 70 characters.
		r = e.do("POST", "/broadcasts/"+id+"/duplicate", e.keyA, "")
		require.Equal(t, 200, r.status, "body: %s", r.body)
		require.Equal(t, "broadcast", r.json["object"])
		dup := r.json["id"].(string)
		require.NotEqual(t, id, dup)
		orig, copied := e.do("GET", "/broadcasts/"+id, e.keyA, "").json, e.do("GET", "/broadcasts/"+dup, e.keyA, "").json
		require.Equal(t, "draft", copied["status"])
		require.Equal(t, "Nov (copy)", copied["name"])
		require.Nil(t, copied["scheduled_at"])
		for _, k := range []string{"segment_id", "from", "subject", "text", "html", "reply_to", "preview_text", "topic_id"} {
			require.Equal(t, orig[k], copied[k], k)
		}
		long := e.do("POST", "/broadcasts", e.keyA, `{"segment_id":"`+seg+`","from":"a@example.com","subject":"s","text":"t","name":"`+strings.Repeat("é", 68)+`"}`).json["id"].(string)
		r = e.do("POST", "/broadcasts/"+long+"/duplicate", e.keyA, "")
		require.Equal(t, strings.Repeat("é", 68)+" (", e.do("GET", "/broadcasts/"+r.json["id"].(string), e.keyA, "").json["name"])
		requireError(t, e.do("POST", "/broadcasts/"+id+"/duplicate", e.keyB, ""), 404, "not_found")

		// A draft is deleted; create with send:true queues at once.
		r = e.do("POST", "/broadcasts", e.keyA, `{"segment_id":"`+seg+`","from":"a@example.com","subject":"s","text":"t"}`)
		draft := r.json["id"].(string)
		requireError(t, e.do("POST", "/broadcasts/"+draft+"/cancel", e.keyA, ""), 422, "validation_error")
		r = e.do("DELETE", "/broadcasts/"+draft, e.keyA, "")
		require.Equal(t, 200, r.status)
		require.Equal(t, map[string]any{"object": "broadcast", "id": draft, "deleted": true}, r.json)
		requireError(t, e.do("GET", "/broadcasts/"+draft, e.keyA, ""), 404, "not_found")
		r = e.do("POST", "/broadcasts", e.keyA, `{"segment_id":"`+seg+`","from":"a@example.com","subject":"s","text":"t","send":true}`)
		require.Equal(t, 201, r.status, "body: %s", r.body)
		require.Equal(t, "queued", e.do("GET", "/broadcasts/"+r.json["id"].(string), e.keyA, "").json["status"])
	})
}

// TestBroadcastSendAndUnsubscribe: a broadcast sent through the API is
// accepted for each subscribed member (the job run here directly) with
// broadcast_id in its events; its signed unsubscribe link flips the
// contact, and a forged one is a 404.
func TestBroadcastSendAndUnsubscribe(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, kind sqlstore.Dialect) {
		signer, err := tracking.NewSigner([]byte(strings.Repeat("s", 32)))
		require.NoError(t, err)
		e := setup(t, kind, func(d *Deps) { d.Tracking, d.PublicURL = signer, "https://godwit.test" })
		seg := e.newSegment(e.keyA, "s")
		for _, c := range []string{`{"email":"delivered+1@resend.dev","first_name":"Ann"}`, `{"email":"delivered+2@resend.dev","unsubscribed":true}`} {
			r := e.do("POST", "/contacts", e.keyA, strings.TrimSuffix(c, "}")+`,"segments":[{"id":"`+seg+`"}]}`)
			require.Equal(t, 201, r.status, "body: %s", r.body)
		}
		r := e.do("POST", "/broadcasts", e.keyA, `{"segment_id":"`+seg+`","from":"onboarding@resend.dev","subject":"Hi {{{FIRST_NAME}}}",
			"html":"<a href=\"{{{RESEND_UNSUBSCRIBE_URL}}}\">Unsubscribe</a>"}`)
		require.Equal(t, 201, r.status, "body: %s", r.body)
		id := r.json["id"].(string)
		r = e.do("POST", "/broadcasts/"+id+"/send", e.keyA, `{"broadcast_id":"`+id+`","scheduled_at":""}`)
		require.Equal(t, 200, r.status, "body: %s", r.body)
		require.Equal(t, "queued", e.do("GET", "/broadcasts/"+id, e.keyA, "").json["status"])

		s := &broadcast.Sender{Store: e.db, Signer: signer, PublicURL: "https://godwit.test", TestDomain: "resend.dev", Now: e.clock.Now}
		require.NoError(t, s.Send(context.Background(), e.teamA, id))
		b := e.do("GET", "/broadcasts/"+id, e.keyA, "").json
		require.Equal(t, "sent", b["status"])
		require.Equal(t, "2026-11-28 12:00:00+00", b["sent_at"])
		list := e.do("GET", "/emails", e.keyA, "").json["data"].([]any)
		require.Len(t, list, 1)
		em := list[0].(map[string]any)
		require.Equal(t, []any{"delivered+1@resend.dev"}, em["to"])
		require.Equal(t, "Hi Ann", em["subject"])

		stored, err := e.db.GetEmail(context.Background(), e.teamA, em["id"].(string))
		require.NoError(t, err)
		require.Equal(t, id, stored.BroadcastID)
		link := strings.TrimPrefix(strings.TrimSuffix(stored.Headers[0].Value, ">"), "<")
		require.Contains(t, *stored.HTML, link)
		path := strings.TrimPrefix(link, "https://godwit.test")
		require.True(t, strings.HasPrefix(path, "/unsubscribe/"))

		page, err := http.Get(e.srv.URL + path)
		require.NoError(t, err)
		body, err := io.ReadAll(page.Body)
		page.Body.Close()
		require.NoError(t, err)
		require.Equal(t, 200, page.StatusCode)
		require.Equal(t, "text/html; charset=utf-8", page.Header.Get("Content-Type"))
		require.Contains(t, string(body), "delivered+1@resend.dev")
		require.Contains(t, string(body), `method="post"`)
		c := e.do("GET", "/contacts/delivered+1@resend.dev", e.keyA, "").json
		require.Equal(t, false, c["unsubscribed"], "GET only asks")

		req, err := http.NewRequest("POST", e.srv.URL+path, strings.NewReader("List-Unsubscribe=One-Click"))
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, 200, resp.StatusCode)
		c = e.do("GET", "/contacts/delivered+1@resend.dev", e.keyA, "").json
		require.Equal(t, true, c["unsubscribed"])

		forged := path[:len(path)-2] + "AA"
		if forged == path {
			forged = path[:len(path)-2] + "BB"
		}
		requireError(t, e.do("POST", forged, "", ""), 404, "not_found")
		requireError(t, e.do("GET", "/unsubscribe/"+signer.OpenToken(tracking.Open{EmailID: id}), "", ""), 404, "not_found")
	})
}
