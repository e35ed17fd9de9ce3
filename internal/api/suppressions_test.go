package api

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/godwit/godwit/internal/events"
	"github.com/godwit/godwit/internal/store"
	"github.com/godwit/godwit/internal/store/sqlstore"
	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
)

// suppressionPath is /suppressions/{address} with the address URL-encoded
// as the Node SDK sends it ("@" as %40).
func suppressionPath(addr string) string {
	return "/suppressions/" + strings.ReplaceAll(url.PathEscape(addr), "@", "%40")
}

func TestSuppressions(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, kind sqlstore.Dialect) {
		e := setup(t, kind)
		r := e.do("POST", "/suppressions", e.keyA, `{"email":" Someone@Example.NET "}`)
		require.Equal(t, 201, r.status, "body: %s", r.body)
		id := r.json["id"].(string)
		_, err := uuid.Parse(id)
		require.NoError(t, err)
		require.Equal(t, map[string]any{"object": "suppression", "id": id}, r.json)

		// Suppressing the address again answers the same suppression.
		e.clock.Advance(time.Second)
		r = e.do("POST", "/suppressions", e.keyA, `{"email":"someone@example.net"}`)
		require.Equal(t, 201, r.status, "body: %s", r.body)
		require.Equal(t, id, r.json["id"])

		want := map[string]any{"object": "suppression", "id": id, "email": "someone@example.net", "origin": "manual",
			"source_id": nil, "created_at": "2026-11-28 12:00:00+00"}
		for _, p := range []string{"/suppressions/" + id, "/suppressions/" + strings.ToUpper(id), suppressionPath("someone@example.net"),
			suppressionPath("SOMEONE@example.NET"), "/suppressions/someone@example.net"} {
			r = e.do("GET", p, e.keyA, "")
			require.Equal(t, 200, r.status, "%s: %s", p, r.body)
			require.Equal(t, want, r.json, p)
		}

		// An address with characters that must be escaped in a path.
		odd := "a+tag/x@example.net"
		r = e.do("POST", "/suppressions", e.keyA, `{"email":"`+odd+`"}`)
		require.Equal(t, 201, r.status, "body: %s", r.body)
		oddID := r.json["id"].(string)
		r = e.do("GET", suppressionPath(odd), e.keyA, "")
		require.Equal(t, 200, r.status, "body: %s", r.body)
		require.Equal(t, oddID, r.json["id"])

		// A bounce recorded by delivery shows its source email.
		emailID := uuid.NewString()
		bounce := &store.Suppression{Email: "bounced@example.net", Origin: store.SuppressionBounce, SourceID: emailID}
		require.NoError(t, e.db.AddSuppressions(context.Background(), e.teamA, []*store.Suppression{bounce}, events.SuppressionAddedEvent))
		r = e.do("GET", suppressionPath("bounced@example.net"), e.keyA, "")
		require.Equal(t, 200, r.status, "body: %s", r.body)
		require.Equal(t, "bounce", r.json["origin"])
		require.Equal(t, emailID, r.json["source_id"])
		r = e.do("POST", "/suppressions", e.keyA, `{"email":"Bounced@example.net"}`)
		require.Equal(t, bounce.ID, r.json["id"], "a manual add keeps the bounce")
		require.Equal(t, "bounce", e.do("GET", "/suppressions/"+bounce.ID, e.keyA, "").json["origin"])

		// Another team sees none of it: 404, as for an unknown one.
		for _, p := range []string{"/suppressions/" + id, suppressionPath("someone@example.net")} {
			requireError(t, e.do("GET", p, e.keyB, ""), 404, "not_found", "Suppression not found")
			requireError(t, e.do("DELETE", p, e.keyB, ""), 404, "not_found", "Suppression not found")
		}
		for _, p := range []string{"/suppressions/" + uuid.NewString(), suppressionPath("nobody@example.net"), "/suppressions/not-an-id"} {
			requireError(t, e.do("GET", p, e.keyA, ""), 404, "not_found")
			requireError(t, e.do("DELETE", p, e.keyA, ""), 404, "not_found")
		}
		r = e.do("GET", "/suppressions", e.keyB, "")
		require.Equal(t, 200, r.status)
		require.Empty(t, r.json["data"], "another team's list is empty")

		// Team B keeps its own list, which may hold the same address.
		r = e.do("POST", "/suppressions", e.keyB, `{"email":"someone@example.net"}`)
		require.Equal(t, 201, r.status)
		require.NotEqual(t, id, r.json["id"])

		r = e.do("DELETE", suppressionPath("Someone@example.net"), e.keyA, "")
		require.Equal(t, 200, r.status, "body: %s", r.body)
		require.Equal(t, map[string]any{"object": "suppression", "id": id, "deleted": true}, r.json)
		requireError(t, e.do("GET", "/suppressions/"+id, e.keyA, ""), 404, "not_found")
		requireError(t, e.do("DELETE", "/suppressions/"+id, e.keyA, ""), 404, "not_found") // removing twice
		r = e.do("DELETE", "/suppressions/"+oddID, e.keyA, "")
		require.Equal(t, map[string]any{"object": "suppression", "id": oddID, "deleted": true}, r.json)
		require.Equal(t, 200, e.do("GET", suppressionPath("someone@example.net"), e.keyB, "").status, "team B's stays")

		among, err := e.db.SuppressedAmong(context.Background(), e.teamA, []string{"someone@example.net", "bounced@example.net"})
		require.NoError(t, err)
		require.Equal(t, map[string]bool{"bounced@example.net": true}, among)
	})
}

func TestSuppressionsBatch(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, kind sqlstore.Dialect) {
		e := setup(t, kind)
		existing := e.do("POST", "/suppressions", e.keyA, `{"email":"old@example.net"}`).json["id"].(string)

		r := e.do("POST", "/suppressions/batch/add", e.keyA, `{"emails":["a@example.net","OLD@example.net","b@example.net","A@Example.net"]}`)
		require.Equal(t, 201, r.status, "body: %s", r.body)
		data := r.json["data"].([]any)
		require.Len(t, data, 4, "one item per address given, in order")
		ids := make([]string, len(data))
		for i, d := range data {
			item := d.(map[string]any)
			require.Equal(t, []string{"id", "object"}, keysOf(item))
			require.Equal(t, "suppression", item["object"])
			ids[i] = item["id"].(string)
		}
		require.Equal(t, existing, ids[1], "an address already suppressed keeps its id")
		require.Equal(t, ids[0], ids[3], "the same address twice is one suppression")
		require.NotEqual(t, ids[0], ids[2])
		require.Len(t, e.do("GET", "/suppressions", e.keyA, "").json["data"], 3)

		// Remove by address: unknown ones are left out of the answer.
		r = e.do("POST", "/suppressions/batch/remove", e.keyA, `{"emails":["nobody@example.net","A@example.net","old@example.net","a@example.net"]}`)
		require.Equal(t, 200, r.status, "body: %s", r.body)
		require.Equal(t, map[string]any{"data": []any{
			map[string]any{"object": "suppression", "id": ids[0], "deleted": true},
			map[string]any{"object": "suppression", "id": existing, "deleted": true},
		}}, r.json)

		// Remove by id; another team's ids remove nothing.
		r = e.do("POST", "/suppressions/batch/remove", e.keyB, `{"ids":["`+ids[2]+`"]}`)
		require.Equal(t, 200, r.status, "body: %s", r.body)
		require.Equal(t, map[string]any{"data": []any{}}, r.json)
		r = e.do("POST", "/suppressions/batch/remove", e.keyA, `{"ids":["`+strings.ToUpper(ids[2])+`","`+uuid.NewString()+`"]}`)
		require.Equal(t, 200, r.status, "body: %s", r.body)
		require.Equal(t, map[string]any{"data": []any{map[string]any{"object": "suppression", "id": ids[2], "deleted": true}}}, r.json)
		require.Empty(t, e.do("GET", "/suppressions", e.keyA, "").json["data"])

		// 100 is the most either takes.
		hundred := make([]string, 100)
		for i := range hundred {
			hundred[i] = fmt.Sprintf(`"r%d@example.net"`, i)
		}
		r = e.do("POST", "/suppressions/batch/add", e.keyA, `{"emails":[`+strings.Join(hundred, ",")+`]}`)
		require.Equal(t, 201, r.status, "body: %s", r.body)
		require.Len(t, r.json["data"], 100)
		r = e.do("POST", "/suppressions/batch/remove", e.keyA, `{"emails":[`+strings.Join(hundred, ",")+`]}`)
		require.Equal(t, 200, r.status, "body: %s", r.body)
		require.Len(t, r.json["data"], 100)
	})
}

func TestSuppressionsBadInput(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, kind sqlstore.Dialect) {
		e := setup(t, kind)
		tooMany := make([]string, 101)
		for i := range tooMany {
			tooMany[i] = fmt.Sprintf(`"r%d@example.net"`, i)
		}
		many := `[` + strings.Join(tooMany, ",") + `]`
		cases := []struct {
			path, body string
			status     int
			errName    string
			msg        string
		}{
			{"/suppressions", `{"email":`, 400, "validation_error", "Invalid JSON"},
			{"/suppressions", `[1]`, 400, "validation_error", ""},
			{"/suppressions", ``, 400, "validation_error", ""},
			{"/suppressions", `{}`, 422, "missing_required_field", "Missing `email` field."},
			{"/suppressions", `{"email":null}`, 422, "missing_required_field", "Missing `email` field."},
			{"/suppressions", `{"email":"  "}`, 422, "missing_required_field", "Missing `email` field."},
			{"/suppressions", `{"email":5}`, 422, "validation_error", "The `email` field must be a string."},
			{"/suppressions", `{"email":["a@example.net"]}`, 422, "validation_error", "`email`"},
			{"/suppressions", `{"email":"nope"}`, 422, "validation_error", "Invalid `email` field"},
			{"/suppressions", `{"email":"Someone <someone@example.net>"}`, 422, "validation_error", "Invalid `email` field"},
			{"/suppressions", `{"email":"a@b@example.net"}`, 422, "validation_error", "Invalid `email` field"},
			{"/suppressions", `{"email":"a@example.net\r\nBcc: x@example.net"}`, 422, "validation_error", "Invalid `email` field"},
			{"/suppressions", `{"email":"` + strings.Repeat("a", 310) + `@example.net"}`, 422, "validation_error", "Invalid `email` field"},

			{"/suppressions/batch/add", `{}`, 422, "missing_required_field", "Missing `emails` field."},
			{"/suppressions/batch/add", `{"emails":null}`, 422, "missing_required_field", ""},
			{"/suppressions/batch/add", `{"emails":[]}`, 422, "validation_error", "between 1 and 100"},
			{"/suppressions/batch/add", `{"emails":` + many + `}`, 422, "validation_error", "between 1 and 100"},
			{"/suppressions/batch/add", `{"emails":"a@example.net"}`, 422, "validation_error", "The `emails` field must be an array of strings."},
			{"/suppressions/batch/add", `{"emails":[1]}`, 422, "validation_error", "array of strings"},
			{"/suppressions/batch/add", `{"emails":["a@example.net",null]}`, 422, "validation_error", "array of strings"},
			{"/suppressions/batch/add", `{"emails":["a@example.net","nope"]}`, 422, "validation_error", "Invalid `emails[1]` field"},
			{"/suppressions/batch/add", `{"emails":`, 400, "validation_error", ""},

			{"/suppressions/batch/remove", `{}`, 422, "missing_required_field", "Missing `emails` or `ids` field."},
			{"/suppressions/batch/remove", `{"emails":null,"ids":null}`, 422, "missing_required_field", ""},
			{"/suppressions/batch/remove", `{"emails":["a@example.net"],"ids":["x"]}`, 422, "validation_error", "not both"},
			{"/suppressions/batch/remove", `{"emails":[],"ids":[]}`, 422, "validation_error", "not both"},
			{"/suppressions/batch/remove", `{"emails":[]}`, 422, "validation_error", "between 1 and 100"},
			{"/suppressions/batch/remove", `{"ids":[]}`, 422, "validation_error", "between 1 and 100"},
			{"/suppressions/batch/remove", `{"ids":` + many + `}`, 422, "validation_error", "between 1 and 100"},
			{"/suppressions/batch/remove", `{"emails":` + many + `}`, 422, "validation_error", "between 1 and 100"},
			{"/suppressions/batch/remove", `{"ids":"x"}`, 422, "validation_error", "The `ids` field must be an array of strings."},
			{"/suppressions/batch/remove", `{"ids":[true]}`, 422, "validation_error", "array of strings"},
			{"/suppressions/batch/remove", `{"ids":["a@example.net"]}`, 422, "validation_error", "Invalid `ids[0]` field"},
			{"/suppressions/batch/remove", `{"ids":[""]}`, 422, "validation_error", "Invalid `ids[0]` field"},
			{"/suppressions/batch/remove", `{"emails":["nope"]}`, 422, "validation_error", "Invalid `emails[0]` field"},
			{"/suppressions/batch/remove", `{"emails":{"a":1}}`, 422, "validation_error", "array of strings"},
			{"/suppressions/batch/remove", `nope`, 400, "validation_error", ""},
		}
		for _, c := range cases {
			r := e.do("POST", c.path, e.keyA, c.body)
			if c.msg != "" {
				requireError(t, r, c.status, c.errName, c.msg)
			} else {
				requireError(t, r, c.status, c.errName)
			}
		}
		r := e.do("GET", "/suppressions", e.keyA, "")
		require.Equal(t, 200, r.status)
		require.Empty(t, r.json["data"], "no bad request wrote anything")
	})
}

func TestSuppressionsList(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, kind sqlstore.Dialect) {
		e := setup(t, kind)
		ctx := context.Background()
		r := e.do("GET", "/suppressions", e.keyA, "")
		require.Equal(t, 200, r.status, "body: %s", r.body)
		require.Equal(t, map[string]any{"object": "list", "has_more": false, "data": []any{}}, r.json)

		// Oldest first: manual, bounce, complaint, manual, bounce, complaint, …
		var ids []string
		for i := range 7 {
			var id string
			switch i % 3 {
			case 0:
				id = e.do("POST", "/suppressions", e.keyA, fmt.Sprintf(`{"email":"r%d@example.net"}`, i)).json["id"].(string)
			case 1, 2:
				origin := store.SuppressionBounce
				if i%3 == 2 {
					origin = store.SuppressionComplaint
				}
				s := &store.Suppression{Email: fmt.Sprintf("r%d@example.net", i), Origin: origin, SourceID: fmt.Sprintf("email-%d", i),
					CreatedAt: e.clock.Now()}
				require.NoError(t, e.db.AddSuppressions(ctx, e.teamA, []*store.Suppression{s}, events.SuppressionAddedEvent))
				id = s.ID
			}
			ids = append(ids, id)
			e.clock.Advance(time.Second)
		}
		page := func(q string) ([]string, bool) {
			t.Helper()
			r := e.do("GET", "/suppressions"+q, e.keyA, "")
			require.Equal(t, 200, r.status, "%s: %s", q, r.body)
			require.Equal(t, "list", r.json["object"])
			var out []string
			for _, d := range r.json["data"].([]any) {
				out = append(out, d.(map[string]any)["id"].(string))
			}
			return out, r.json["has_more"].(bool)
		}

		r = e.do("GET", "/suppressions?limit=2", e.keyA, "")
		items := r.json["data"].([]any)
		require.Equal(t, map[string]any{"id": ids[6], "email": "r6@example.net", "origin": "manual", "source_id": nil,
			"created_at": "2026-11-28 12:00:06+00"}, items[0], "list items have no object")
		require.Equal(t, map[string]any{"id": ids[5], "email": "r5@example.net", "origin": "complaint", "source_id": "email-5",
			"created_at": "2026-11-28 12:00:05+00"}, items[1])

		got, more := page("?limit=3")
		require.Equal(t, []string{ids[6], ids[5], ids[4]}, got)
		require.True(t, more)
		got, more = page("?limit=3&after=" + ids[4])
		require.Equal(t, []string{ids[3], ids[2], ids[1]}, got)
		require.True(t, more)
		got, more = page("?limit=3&after=" + ids[1])
		require.Equal(t, []string{ids[0]}, got)
		require.False(t, more)
		got, more = page("?limit=2&before=" + ids[2])
		require.Equal(t, []string{ids[4], ids[3]}, got)
		require.True(t, more)
		got, more = page("")
		require.Len(t, got, 7, "20 by default")
		require.False(t, more)

		got, more = page("?origin=manual")
		require.Equal(t, []string{ids[6], ids[3], ids[0]}, got)
		require.False(t, more)
		got, more = page("?origin=bounce&limit=1")
		require.Equal(t, []string{ids[4]}, got)
		require.True(t, more)
		got, more = page("?origin=bounce&limit=1&after=" + ids[4])
		require.Equal(t, []string{ids[1]}, got)
		require.False(t, more)
		got, _ = page("?origin=complaint")
		require.Equal(t, []string{ids[5], ids[2]}, got)
		got, _ = page("?origin=")
		require.Len(t, got, 7, "an empty origin filters nothing")

		for _, q := range []string{"?limit=0", "?limit=101", "?limit=abc", "?limit="} {
			requireError(t, e.do("GET", "/suppressions"+q, e.keyA, ""), 422, "validation_error", "pagination limit")
		}
		requireError(t, e.do("GET", "/suppressions?origin=spam", e.keyA, ""), 422, "validation_error", "`origin`")
		requireError(t, e.do("GET", "/suppressions?origin=Manual", e.keyA, ""), 422, "validation_error", "`origin`")
		requireError(t, e.do("GET", "/suppressions?after="+ids[1]+"&before="+ids[2], e.keyA, ""), 422, "validation_error")
		requireError(t, e.do("GET", "/suppressions?after=nope", e.keyA, ""), 422, "invalid_parameter")
		requireError(t, e.do("GET", "/suppressions?after="+uuid.NewString(), e.keyA, ""), 422, "validation_error", "cursor")
		// Team B cannot page through team A's list with A's ids.
		requireError(t, e.do("GET", "/suppressions?after="+ids[1], e.keyB, ""), 422, "validation_error", "cursor")
	})
}

func TestSuppressionsNeedFullAccess(t *testing.T) {
	t.Parallel()
	e := setup(t, sqlstore.SQLite)
	routes := []struct{ method, path, body string }{
		{"POST", "/suppressions", `{"email":"a@example.net"}`},
		{"GET", "/suppressions", ""},
		{"GET", suppressionPath("a@example.net"), ""},
		{"DELETE", suppressionPath("a@example.net"), ""},
		{"POST", "/suppressions/batch/add", `{"emails":["a@example.net"]}`},
		{"POST", "/suppressions/batch/remove", `{"emails":["a@example.net"]}`},
	}
	for _, rt := range routes {
		requireError(t, e.do(rt.method, rt.path, "", rt.body), 401, "missing_api_key")
		requireError(t, e.do(rt.method, rt.path, "re_nonsense", rt.body), 403, "invalid_api_key")
		requireError(t, e.do(rt.method, rt.path, e.sendA, rt.body), 401, "restricted_api_key")
	}
	require.Empty(t, e.do("GET", "/suppressions", e.keyA, "").json["data"], "a restricted key wrote nothing")
	r := e.do("PATCH", "/suppressions/"+uuid.NewString(), e.keyA, "{}")
	requireError(t, r, 405, "method_not_allowed")
}
