package api

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/godwit/godwit/internal/broadcast"
	"github.com/godwit/godwit/internal/delivery"
	"github.com/godwit/godwit/internal/store"
	"github.com/godwit/godwit/internal/store/sqlstore"
	"github.com/godwit/godwit/internal/tracking"
)

// sentBroadcast sends a broadcast to contacts at Resend's test addresses
// (each outcome simulated by the delivery worker) and delivers its emails;
// it returns the broadcast's id and its emails by recipient.
func sentBroadcast(t *testing.T, e *testEnv, signer *tracking.Signer, contacts ...string) (string, map[string]string) {
	t.Helper()
	ctx := context.Background()
	seg := e.newSegment(e.keyA, "s")
	for _, c := range contacts {
		r := e.do("POST", "/contacts", e.keyA, `{"email":"`+c+`","segments":[{"id":"`+seg+`"}]}`)
		require.Equal(t, 201, r.status, "body: %s", r.body)
	}
	r := e.do("POST", "/broadcasts", e.keyA, `{"segment_id":"`+seg+`","from":"onboarding@resend.dev","subject":"Hi","html":"<p>hi</p>"}`)
	require.Equal(t, 201, r.status, "body: %s", r.body)
	id := r.json["id"].(string)
	require.Equal(t, 200, e.do("POST", "/broadcasts/"+id+"/send", e.keyA, `{}`).status)
	s := &broadcast.Sender{Store: e.db, Signer: signer, TestDomain: "resend.dev", Now: e.clock.Now}
	require.NoError(t, s.Send(ctx, e.teamA, id))
	list, err := e.db.BroadcastEmails(ctx, e.teamA, id, "")
	require.NoError(t, err)
	require.Len(t, list, len(contacts))
	w := &delivery.Worker{Store: e.db, Domains: e.handler.Domains, TestDomain: "resend.dev", Now: e.clock.Now}
	byTo := map[string]string{}
	for _, be := range list {
		require.NoError(t, w.Deliver(ctx, delivery.Job{EmailID: be.EmailID, Attempt: 1}))
		byTo[be.To[0]] = be.EmailID
	}
	return id, byTo
}

// hit requests a tracking URL (the pixel or a click) as a mail client would.
func hit(t *testing.T, e *testEnv, path string) {
	t.Helper()
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := noFollow.Get(e.srv.URL + path)
	require.NoError(t, err)
	resp.Body.Close()
	require.Contains(t, []int{200, 302}, resp.StatusCode, path)
}

func recipientsOf(t *testing.T, e *testEnv, id, query string) []map[string]any {
	t.Helper()
	r := e.do("GET", "/broadcasts/"+id+"/recipients?"+query, e.keyA, "")
	require.Equal(t, 200, r.status, "%s: %s", query, r.body)
	var out []map[string]any
	for _, d := range r.json["data"].([]any) {
		out = append(out, d.(map[string]any))
	}
	return out
}

func emailsOf(rows []map[string]any) []string {
	var out []string
	for _, r := range rows {
		out = append(out, r["email"].(string))
	}
	return out
}

func TestBroadcastRecipients(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, kind sqlstore.Dialect) {
		signer, err := tracking.NewSigner([]byte(strings.Repeat("s", 32)))
		require.NoError(t, err)
		e := setup(t, kind, func(d *Deps) { d.Tracking = signer })
		id, byTo := sentBroadcast(t, e, signer, "delivered+1@resend.dev", "delivered+2@resend.dev",
			"bounced@resend.dev", "complained@resend.dev", "suppressed@resend.dev")
		d1, d2 := byTo["delivered+1@resend.dev"], byTo["delivered+2@resend.dev"]
		hit(t, e, "/t/o/"+signer.OpenToken(tracking.Open{EmailID: d1}))
		hit(t, e, "/t/o/"+signer.OpenToken(tracking.Open{EmailID: d1}))
		hit(t, e, "/t/o/"+signer.OpenToken(tracking.Open{EmailID: d2}))
		click := func(email, url string) {
			hit(t, e, "/t/c/"+signer.ClickToken(tracking.Click{EmailID: email, URL: url}))
		}
		click(d1, "https://a.example/pricing")
		click(d1, "https://a.example/pricing")
		click(d1, "https://a.example/docs")
		click(d2, "https://a.example/pricing")
		r := e.do("PATCH", "/contacts/delivered+2@resend.dev", e.keyA, `{"unsubscribed":true}`)
		require.Equal(t, 200, r.status, "body: %s", r.body)

		for _, tc := range []struct {
			name, query string
			want        []string
			check       func(t *testing.T, rows []map[string]any)
		}{
			{name: "sent", query: "type=sent", want: []string{"delivered+1@resend.dev", "delivered+2@resend.dev", "bounced@resend.dev", "complained@resend.dev", "suppressed@resend.dev"},
				check: func(t *testing.T, rows []map[string]any) {
					require.Equal(t, []string{"contact_id", "email", "id"}, keysOf(rows[0]))
					require.NotNil(t, rows[0]["contact_id"], "a recipient that is a contact names it")
					require.Equal(t, "b2Zmc2V0OjA", rows[0]["id"], "Resend's opaque offset cursor")
				}},
			{name: "delivered", query: "type=delivered", want: []string{"delivered+1@resend.dev", "delivered+2@resend.dev", "complained@resend.dev"}},
			{name: "opened", query: "type=opened", want: []string{"delivered+1@resend.dev", "delivered+2@resend.dev"},
				check: func(t *testing.T, rows []map[string]any) {
					require.EqualValues(t, 2, rows[0]["count"])
					require.EqualValues(t, 1, rows[1]["count"])
				}},
			{name: "clicked", query: "type=clicked", want: []string{"delivered+1@resend.dev", "delivered+2@resend.dev"},
				check: func(t *testing.T, rows []map[string]any) {
					require.EqualValues(t, 3, rows[0]["count"])
					require.Equal(t, []any{map[string]any{"url": "https://a.example/pricing", "clicks": 2.0},
						map[string]any{"url": "https://a.example/docs", "clicks": 1.0}}, rows[0]["clicked_links"])
				}},
			{name: "bounced", query: "type=bounced", want: []string{"bounced@resend.dev"},
				check: func(t *testing.T, rows []map[string]any) { require.Equal(t, "permanent", rows[0]["bounce_type"]) }},
			{name: "bounced permanent", query: "type=bounced&bounce_type=permanent", want: []string{"bounced@resend.dev"}},
			{name: "bounced transient", query: "type=bounced&bounce_type=transient"},
			{name: "complained", query: "type=complained", want: []string{"complained@resend.dev"}},
			{name: "suppressed", query: "type=suppressed", want: []string{"suppressed@resend.dev"}},
			{name: "unsubscribed", query: "type=unsubscribed", want: []string{"delivered+2@resend.dev"}},
			{name: "email filter", query: "type=delivered&email=DELIVERED%2B2@resend.dev", want: []string{"delivered+2@resend.dev"}},
			{name: "first page", query: "type=sent&limit=2", want: []string{"delivered+1@resend.dev", "delivered+2@resend.dev"}},
			{name: "after", query: "type=sent&limit=2&after=b2Zmc2V0OjE", want: []string{"bounced@resend.dev", "complained@resend.dev"},
				check: func(t *testing.T, rows []map[string]any) { require.Equal(t, "b2Zmc2V0OjI", rows[0]["id"]) }},
			{name: "before", query: "type=sent&limit=2&before=b2Zmc2V0OjQ", want: []string{"bounced@resend.dev", "complained@resend.dev"}},
			{name: "after the end", query: "type=sent&after=b2Zmc2V0Ojk5"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				rows := recipientsOf(t, e, id, tc.query)
				require.Equal(t, tc.want, emailsOf(rows))
				if tc.check != nil {
					tc.check(t, rows)
				}
			})
		}
		// A recipient whose contact is gone has no contact id.
		require.Equal(t, 200, e.do("DELETE", "/contacts/suppressed@resend.dev", e.keyA, "").status)
		rows := recipientsOf(t, e, id, "type=suppressed")
		require.Len(t, rows, 1)
		require.Contains(t, rows[0], "contact_id")
		require.Nil(t, rows[0]["contact_id"])

		r = e.do("GET", "/broadcasts/"+id+"/recipients?type=sent&limit=2", e.keyA, "")
		require.Equal(t, true, r.json["has_more"])
		r = e.do("GET", "/broadcasts/"+id+"/recipients?type=sent&limit=2&after=b2Zmc2V0OjM", e.keyA, "")
		require.Equal(t, false, r.json["has_more"])

		links := e.do("GET", "/broadcasts/"+id+"/clicked-links", e.keyA, "")
		require.Equal(t, 200, links.status, "body: %s", links.body)
		require.Equal(t, map[string]any{"object": "list", "has_more": false, "data": []any{
			map[string]any{"id": "b2Zmc2V0OjA", "url": "https://a.example/pricing", "clicks": 3.0, "unique_clicks": 2.0},
			map[string]any{"id": "b2Zmc2V0OjE", "url": "https://a.example/docs", "clicks": 1.0, "unique_clicks": 1.0},
		}}, links.json)
		links = e.do("GET", "/broadcasts/"+id+"/clicked-links?limit=1&after=b2Zmc2V0OjA", e.keyA, "")
		require.Equal(t, 200, links.status)
		require.Len(t, links.json["data"], 1)
		require.Equal(t, "https://a.example/docs", links.json["data"].([]any)[0].(map[string]any)["url"])

		// Refusals.
		for _, tc := range []struct {
			name, method, path, key string
			status                  int
			errName                 string
		}{
			{"another team's broadcast", "GET", "/broadcasts/" + id + "/recipients?type=sent", e.keyB, 404, "not_found"},
			{"another team's links", "GET", "/broadcasts/" + id + "/clicked-links", e.keyB, 404, "not_found"},
			{"unknown broadcast", "GET", "/broadcasts/" + store.NewID() + "/recipients?type=sent", e.keyA, 404, "not_found"},
			{"not a uuid", "GET", "/broadcasts/nope/clicked-links", e.keyA, 422, "invalid_parameter"},
			{"sending key", "GET", "/broadcasts/" + id + "/recipients?type=sent", e.sendA, 401, "restricted_api_key"},
			{"no type", "GET", "/broadcasts/" + id + "/recipients", e.keyA, 422, "missing_required_field"},
			{"unknown type", "GET", "/broadcasts/" + id + "/recipients?type=read", e.keyA, 422, "validation_error"},
			{"bounce_type without bounced", "GET", "/broadcasts/" + id + "/recipients?type=sent&bounce_type=permanent", e.keyA, 422, "validation_error"},
			{"unknown bounce_type", "GET", "/broadcasts/" + id + "/recipients?type=bounced&bounce_type=soft", e.keyA, 422, "validation_error"},
			{"bad limit", "GET", "/broadcasts/" + id + "/recipients?type=sent&limit=0", e.keyA, 422, "validation_error"},
			{"bad cursor", "GET", "/broadcasts/" + id + "/recipients?type=sent&after=nope", e.keyA, 422, "invalid_parameter"},
			{"both cursors", "GET", "/broadcasts/" + id + "/clicked-links?after=b2Zmc2V0OjA&before=b2Zmc2V0OjE", e.keyA, 422, "validation_error"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				requireError(t, e.do(tc.method, tc.path, tc.key, ""), tc.status, tc.errName)
			})
		}
	})
}

func TestOffsetCursor(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in   string
		want int
		ok   bool
	}{
		{"b2Zmc2V0OjA", 0, true}, {"b2Zmc2V0OjA=", 0, true}, {offsetCursor(12345), 12345, true},
		{"", 0, false}, {"nope", 0, false}, {"b2Zmc2V0Oi0x", 0, false} /* offset:-1 */, {"b2Zmc2V0OjAx", 0, false}, /* offset:01 */
	} {
		n, ok := parseOffsetCursor(tc.in)
		require.Equal(t, tc.ok, ok, tc.in)
		require.Equal(t, tc.want, n, tc.in)
	}
}
