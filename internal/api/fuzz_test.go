package api

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/godwit/godwit/internal/requestlog"
	"github.com/godwit/godwit/internal/store/sqlstore"
)

// FuzzRequests throws arbitrary bodies, headers and paths at the real
// router over a real SQLite store, with every method: no input may produce a
// 5xx, and every answer is JSON in Resend's shape. The seeds reach every
// route that takes a body or a path parameter.
func FuzzRequests(f *testing.F) {
	var logs *requestlog.Writer // every request recorded, as serve does
	e := setup(f, sqlstore.SQLite, withRequestLog(f, &logs))
	domain := "/domains/" + e.domainA
	seg := e.newSegment(e.keyA, "fuzz")
	contact := e.newContact(e.keyA, `{"email":"fuzz+1@example.net","segments":[{"id":"`+seg+`"}]}`)
	topic := e.newTopic(e.keyA, `{"name":"fuzz","default_subscription":"opt_out"}`)
	prop := "/contact-properties/" + e.newProperty(e.keyA, `{"key":"seats","type":"number","fallback_value":1}`)
	tpl := e.newTemplate(e.keyA, welcomeTemplate)
	e.publish(e.keyA, tpl)
	seeds := []struct{ path, idem, batchMode, body string }{
		{"/emails", "", "", simpleEmail},
		{"/emails", "k1", "", simpleEmail},
		{"/emails/batch", "", "permissive", `[` + simpleEmail + `,{"to":5}]`},
		{"/emails/batch", "", "strict", `[` + simpleEmail + `]`},
		{"/emails", "", "", `{"from":"a@example.com","to":"b@example.net","subject":"s","html":"x","attachments":[{"content":[1,2,300]}]}`},
		{"/emails", "", "", `{"from":"a@example.com","to":"b@example.net","subject":"s\r\n","html":"x"}`},
		{"/emails", "", "", `{"from":"a@example.com","to":"b@example.net","subject":"s","html":"x","scheduled_at":"tomorrow at 9am ET"}`},
		{"/emails", "", "", `{"from":"a@example.com","to":"b@example.net","subject":"s","html":"x","attachments":[{"content":{"type":"Buffer","data":[104,105]},"filename":"a"}]}`},
		{"/emails", "", "", `nul`},
		{"/emails?limit=5", "", "", ``},
		{"/emails/00000000-0000-4000-8000-000000000000/cancel", "", "", ``},
		{"/emails/00000000-0000-4000-8000-000000000000", "", "", `{"scheduled_at":"in 1 min"}`},
		{"/domains", "", "", `{"name":"fuzz.example.com","region":"eu-west-1","custom_return_path":"bounces"}`},
		{domain, "", "", `{"open_tracking":true,"click_tracking":false,"tls":"enforced"}`},
		{domain + "/verify", "", "", ``},
		{"/domains/claim", "", "", `{"name":"example.org","region":"eu-west-1","open_tracking":true,"tracking_subdomain":"links"}`},
		{"/domains/claim", "", "", `{"name":"EXAMPLE.org.","custom_return_path":""}`},
		{domain + "/claim/verify", "", "", ``},
		{"/api-keys", "", "", `{"name":"fuzz","permission":"sending_access","domain_id":"` + e.domainA + `"}`},
		{"/api-keys/00000000-0000-4000-8000-000000000000", "", "", `{"name":"renamed"}`},
		{"/webhooks", "", "", `{"endpoint":"https://hooks.example.com/x","events":["email.sent","email.bounced"]}`},
		{"/webhooks/00000000-0000-4000-8000-000000000000", "", "", `{"status":"disabled","events":[]}`},
		{"/webhooks/00000000-0000-4000-8000-000000000000/events?limit=2", "", "", ``},
		{"/suppressions", "", "", `{"email":"Someone@Example.net","reason":"manual"}`},
		{"/suppressions/batch/add", "", "", `{"emails":["a@example.net","b@example.net"]}`},
		{"/suppressions/batch/remove", "", "", `{"emails":["a@example.net"]}`},
		{"/suppressions/a@example.net", "", "", ``},
		{"/feed?after=0&limit=3", "", "", ``},
		{"/logs?limit=2&before=00000000-0000-4000-8000-000000000000", "", "", ``},
		{"/logs/00000000-0000-4000-8000-000000000000", "", "", ``},
		{"/contacts", "", "", `{"email":"Ada+x@example.net","first_name":"Ada","last_name":null,"unsubscribed":true,"properties":{"tier":"gold","n":1,"x":null},"segments":[{"id":"` + seg + `"},"` + seg + `"]}`},
		{"/contacts?segment_id=" + seg + "&limit=2", "", "", ``},
		{"/contacts/fuzz+1@example.net", "", "", `{"email":"fuzz+2@example.net","first_name":null,"properties":{"n":null,"k":"v"}}`},
		{"/contacts/" + contact + "/segments/" + seg, "", "", ``},
		{"/contacts/fuzz%2B1%40example.net/segments?limit=1", "", "", ``},
		{"/segments", "", "", `{"name":"Weekly"}`},
		{"/segments/" + seg, "", "", `{"name":"Renamed"}`},
		{"/segments/" + seg + "/contacts?after=" + contact, "", "", ``},
		{"/audiences", "", "", `{"name":"Old"}`},
		{"/audiences/" + seg + "/contacts", "", "", `{"email":"legacy@example.net","audience_id":"` + seg + `"}`},
		{"/audiences/" + seg + "/contacts/legacy@example.net", "", "", `{"unsubscribed":false}`},
		{"/topics", "", "", `{"name":"News","default_subscription":"opt_in","description":"Monthly","visibility":"public"}`},
		{"/topics?limit=2&after=" + topic, "", "", ``},
		{"/topics/" + topic, "", "", `{"id":"` + topic + `","name":"Renamed","description":null,"default_subscription":"opt_out"}`},
		{"/contacts/fuzz+1@example.net/topics", "", "", `[{"id":"` + topic + `","subscription":"opt_in"}]`},
		{"/contacts/" + contact + "/topics?limit=1", "", "", `{"topics":[{"id":"` + topic + `","subscription":"opt_out"}]}`},
		{"/contacts", "", "", `{"email":"topical@example.net","topics":[{"id":"` + topic + `","subscription":"opt_in"}]}`},
		{"/emails", "", "", `{"from":"a@example.com","to":"b@example.net","subject":"s","text":"x","topic_id":"` + topic + `"}`},
		{"/contact-properties", "", "", `{"key":"plan","type":"string","fallback_value":"free"}`},
		{"/contact-properties", "", "", `{"key":"ltv","type":"number","fallback_value":null}`},
		{"/contact-properties?limit=1&after=00000000-0000-4000-8000-000000000000", "", "", ``},
		{prop, "", "", `{"fallback_value":2.5}`},
		{prop, "", "", `{"fallback_value":null,"key":"seats","type":"number"}`},
		{"/contacts", "", "", `{"email":"typed@example.net","properties":{"seats":3,"plan":"x"}}`},
		{"/t/c/not-a-token", "", "", ``},
		{"/templates", "", "", welcomeTemplate},
		{"/templates", "", "", `{"name":"x","html":"{{{A|b}}}","alias":"fuzz","reply_to":["a@example.com"],"variables":[{"key":"A","type":"number","fallback_value":null}]}`},
		{"/templates?limit=1&after=" + tpl, "", "", ``},
		{"/templates/" + tpl, "", "", `{"name":"","html":"","subject":"S {{{NAME}}}","variables":[{"key":"NAME","type":"string","fallback_value":"x"}]}`},
		{"/templates/welcome/publish", "", "", ``},
		{"/templates/" + tpl + "/duplicate", "", "", ``},
		{"/emails", "", "", `{"to":"b@example.net","template":{"id":"` + tpl + `","variables":{"NAME":"<b>","COUNT":2}}}`},
		{"/emails/batch", "", "permissive", `[{"to":"b@example.net","template":{"id":"welcome","variables":{"NAME":1}}},{"to":"b@example.net","template":{"id":"welcome","variables":{"NAME":"x"}}}]`},
		{"/broadcasts", "", "", `{"segment_id":"` + seg + `","from":"Acme <a@example.com>","subject":"Hi {{{FIRST_NAME|you}}}","reply_to":["r@example.com"],"html":"<p>{{{seats}}}</p>","topic_id":"` + topic + `"}`},
		{"/broadcasts", "", "", `{"audience_id":"` + seg + `","from":"a@example.com","subject":"s","text":"t","send":true,"scheduled_at":"in 2 hours"}`},
		{"/broadcasts", "", "", `{"segment_id":"` + seg + `","from":"a@example.com","subject":"s","html":"{{{RESEND_UNSUBSCRIBE_URL}}}","send":"yes"}`},
		{"/broadcasts?limit=1&after=00000000-0000-4000-8000-000000000000", "", "", ``},
		{"/broadcasts/00000000-0000-4000-8000-000000000000", "", "", `{"broadcast_id":"00000000-0000-4000-8000-000000000000","name":"x"}`},
		{"/broadcasts/00000000-0000-4000-8000-000000000000/send", "", "", `{"broadcast_id":"x","scheduled_at":""}`},
		{"/broadcasts/00000000-0000-4000-8000-000000000000/cancel", "", "", ``},
		{"/unsubscribe/not-a-token", "", "", `List-Unsubscribe=One-Click`},
		{"/contacts/imports", "", "", "email,first_name\na@example.net,A\n"},
		{"/contacts/imports?status=completed&limit=1&after=00000000-0000-4000-8000-000000000000", "", "", ``},
		{"/contacts/imports/00000000-0000-4000-8000-000000000000", "", "", ``},
		{"/broadcasts/00000000-0000-4000-8000-000000000000/recipients?type=bounced&bounce_type=permanent&email=a@example.net&limit=2&after=b2Zmc2V0OjA", "", "", ``},
		{"/broadcasts/00000000-0000-4000-8000-000000000000/clicked-links?before=b2Zmc2V0OjE", "", "", ``},
		{"/queue?limit=3&after=00000000-0000-4000-8000-000000000000", "", "", ``},
		{"/emails/receiving/00000000-0000-4000-8000-000000000000/attachments", "", "", ``},
		{"/emails/metrics", "", "", ``},
		{"/events/send", "", "", `{"event":"x"}`},
	}
	for _, s := range seeds {
		f.Add(s.path, s.idem, s.batchMode, s.body)
	}
	f.Fuzz(func(t *testing.T, path, idem, batchMode, body string) {
		if !strings.HasPrefix(path, "/") {
			path = "/" + path
		}
		for _, method := range []string{"POST", "GET", "PATCH", "DELETE"} {
			req, err := http.NewRequest(method, "http://godwit.test"+path, strings.NewReader(body))
			if err != nil {
				return // not a request a client could send
			}
			req.Header.Set("Authorization", "Bearer "+e.keyA)
			if idem != "" {
				req.Header["Idempotency-Key"] = []string{idem}
			}
			if batchMode != "" {
				req.Header["X-Batch-Validation"] = []string{batchMode}
			}
			rec := httptest.NewRecorder()
			e.handler.ServeHTTP(rec, req)
			if rec.Code >= 500 {
				t.Fatalf("%s %s with %q: %d %s", method, path, body, rec.Code, rec.Body)
			}
			if !strings.HasPrefix(rec.Header().Get("Content-Type"), "application/json") {
				t.Fatalf("%s %s: content type %q", method, path, rec.Header().Get("Content-Type"))
			}
			if rec.Code >= 400 {
				var env map[string]any
				if err := json.Unmarshal(rec.Body.Bytes(), &env); err != nil || env["name"] == nil || env["message"] == nil || env["statusCode"] == nil {
					t.Fatalf("%s %s: error body not in Resend's envelope: %s", method, path, rec.Body)
				}
			}
		}
	})
}

// FuzzOffsetCursor holds the cursors of a broadcast's recipients and
// clicked links: any string is refused or read as an offset that writes
// back to a cursor that reads the same.
func FuzzOffsetCursor(f *testing.F) {
	for _, s := range []string{"b2Zmc2V0OjA", "b2Zmc2V0OjA=", "b2Zmc2V0Oi0x", "b2Zmc2V0OjAx", "", "====", "b2Zmc2V0Ojk5OTk5OTk5OTk5OTk5OTk5OTk5OTk5"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, c string) {
		n, ok := parseOffsetCursor(c)
		if !ok {
			return
		}
		if n < 0 {
			t.Fatalf("%q: negative offset %d", c, n)
		}
		if m, ok := parseOffsetCursor(offsetCursor(n)); !ok || m != n {
			t.Fatalf("%q: offset %d does not round-trip", c, n)
		}
	})
}
