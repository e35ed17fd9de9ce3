package api

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/godwit/godwit/internal/store"
	"github.com/godwit/godwit/internal/store/sqlstore"
)

// newTemplate creates a template through the API and returns its id.
func (e *testEnv) newTemplate(key, body string) string {
	e.t.Helper()
	r := e.do("POST", "/templates", key, body)
	require.Equal(e.t, 201, r.status, "body: %s", r.body)
	require.Equal(e.t, []string{"id", "object"}, keysOf(r.json))
	require.Equal(e.t, "template", r.json["object"])
	return r.json["id"].(string)
}

func (e *testEnv) publish(key, ref string) {
	e.t.Helper()
	r := e.do("POST", "/templates/"+ref+"/publish", key, "")
	require.Equal(e.t, 200, r.status, "body: %s", r.body)
	require.Equal(e.t, "template", r.json["object"])
}

const welcomeTemplate = `{"name":"Welcome","alias":"welcome","from":"Acme <hi@example.com>","subject":"Hi {{{NAME}}}",
	"reply_to":"help@example.com","html":"<p>Hi {{{NAME}}}, you have {{{COUNT}}} items{{{NOTE}}}</p>",
	"text":"Hi {{{NAME}}}: {{{COUNT}}}","variables":[{"key":"NAME","type":"string"},
	{"key":"COUNT","type":"number","fallback_value":0},{"key":"NOTE","type":"string","fallback_value":""}]}`

func TestTemplatesCRUD(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, kind sqlstore.Dialect) {
		e := setup(t, kind)
		id := e.newTemplate(e.keyA, welcomeTemplate)
		e.clock.Advance(time.Second)
		bare := e.newTemplate(e.keyA, `{"name":"Bare","html":"<p>x</p>","variables":null,"alias":null,"reply_to":[]}`)

		r := e.do("GET", "/templates/"+id, e.keyA, "")
		require.Equal(t, 200, r.status, "body: %s", r.body)
		vars := r.json["variables"].([]any)
		require.Len(t, vars, 3)
		v0 := vars[0].(map[string]any)
		require.Equal(t, []string{"created_at", "fallback_value", "id", "key", "type", "updated_at"}, keysOf(v0))
		require.Equal(t, "NAME", v0["key"])
		require.Nil(t, v0["fallback_value"])
		require.Equal(t, float64(0), vars[1].(map[string]any)["fallback_value"])
		version := r.json["current_version_id"].(string)
		require.NotEmpty(t, version)
		delete(r.json, "variables")
		delete(r.json, "current_version_id")
		require.Equal(t, map[string]any{"object": "template", "id": id, "name": "Welcome", "alias": "welcome",
			"from": "Acme <hi@example.com>", "subject": "Hi {{{NAME}}}", "reply_to": []any{"help@example.com"},
			"html": "<p>Hi {{{NAME}}}, you have {{{COUNT}}} items{{{NOTE}}}</p>", "text": "Hi {{{NAME}}}: {{{COUNT}}}",
			"created_at": "2026-11-28 12:00:00+00", "updated_at": "2026-11-28 12:00:00+00", "status": "draft",
			"published_at": nil, "has_unpublished_versions": false}, r.json)
		r = e.do("GET", "/templates/welcome", e.keyA, "")
		require.Equal(t, id, r.json["id"], "by alias")
		require.Equal(t, id, e.do("GET", "/templates/"+strings.ToUpper(id), e.keyA, "").json["id"])
		r = e.do("GET", "/templates/"+bare, e.keyA, "")
		for _, k := range []string{"alias", "from", "subject", "reply_to", "text", "published_at"} {
			require.Contains(t, r.json, k)
			require.Nil(t, r.json[k], k)
		}
		require.Equal(t, []any{}, r.json["variables"])

		// Another team sees nothing.
		for _, ref := range []string{id, "welcome"} {
			requireError(t, e.do("GET", "/templates/"+ref, e.keyB, ""), 404, "not_found", "Template not found")
			requireError(t, e.do("PATCH", "/templates/"+ref, e.keyB, `{"name":"x"}`), 404, "not_found")
			requireError(t, e.do("DELETE", "/templates/"+ref, e.keyB, ""), 404, "not_found")
			requireError(t, e.do("POST", "/templates/"+ref+"/publish", e.keyB, ""), 404, "not_found")
			requireError(t, e.do("POST", "/templates/"+ref+"/duplicate", e.keyB, ""), 404, "not_found")
		}
		e.newTemplate(e.keyB, `{"name":"B","alias":"welcome","html":"<p>b</p>"}`)
		requireError(t, e.do("GET", "/templates", e.sendA, ""), 401, "restricted_api_key")

		// The list.
		r = e.do("GET", "/templates", e.keyA, "")
		require.Equal(t, []string{bare, id}, listIDs(t, r))
		require.Equal(t, map[string]any{"id": id, "name": "Welcome", "status": "draft", "published_at": nil,
			"created_at": "2026-11-28 12:00:00+00", "updated_at": "2026-11-28 12:00:00+00", "alias": "welcome"},
			r.json["data"].([]any)[1])
		require.Equal(t, []string{bare}, listIDs(t, e.do("GET", "/templates?limit=1", e.keyA, "")))
		require.Equal(t, []string{id}, listIDs(t, e.do("GET", "/templates?after="+bare, e.keyA, "")))

		// Publish: the draft is copied; editing it leaves the published copy.
		e.clock.Advance(time.Second)
		e.publish(e.keyA, "welcome")
		r = e.do("GET", "/templates/"+id, e.keyA, "")
		require.Equal(t, "published", r.json["status"])
		require.Equal(t, "2026-11-28 12:00:02+00", r.json["published_at"])
		require.Equal(t, false, r.json["has_unpublished_versions"])
		require.Equal(t, version, r.json["current_version_id"])

		// PATCH as the Go SDK sends it: name and html always, "" meaning unchanged.
		e.clock.Advance(time.Second)
		r = e.do("PATCH", "/templates/"+id, e.keyA, `{"name":"","html":"","subject":"Hello {{{NAME}}}"}`)
		require.Equal(t, 200, r.status, "body: %s", r.body)
		require.Equal(t, map[string]any{"object": "template", "id": id}, r.json)
		r = e.do("GET", "/templates/"+id, e.keyA, "")
		require.Equal(t, "Welcome", r.json["name"])
		require.Equal(t, "Hello {{{NAME}}}", r.json["subject"])
		require.Equal(t, "<p>Hi {{{NAME}}}, you have {{{COUNT}}} items{{{NOTE}}}</p>", r.json["html"])
		require.Equal(t, true, r.json["has_unpublished_versions"])
		require.Equal(t, "published", r.json["status"])
		require.NotEqual(t, version, r.json["current_version_id"])
		require.Equal(t, "2026-11-28 12:00:03+00", r.json["updated_at"])
		// Variables keep their ids when their key stays.
		require.Equal(t, v0["id"], r.json["variables"].([]any)[0].(map[string]any)["id"])
		r = e.do("PATCH", "/templates/"+id, e.keyA, `{"variables":[{"key":"NAME","type":"string","fallback_value":"friend"},
			{"key":"COUNT","type":"number","fallback_value":0},{"key":"NOTE","type":"string","fallback_value":""}]}`)
		require.Equal(t, 200, r.status, "body: %s", r.body)
		r = e.do("GET", "/templates/"+id, e.keyA, "")
		require.Equal(t, v0["id"], r.json["variables"].([]any)[0].(map[string]any)["id"])
		require.Equal(t, "friend", r.json["variables"].([]any)[0].(map[string]any)["fallback_value"])

		// Alias: unique per team; null clears it.
		requireError(t, e.do("PATCH", "/templates/"+bare, e.keyA, `{"alias":"welcome"}`), 409, "validation_error", "alias `welcome`")
		requireError(t, e.do("POST", "/templates", e.keyA, `{"name":"x","html":"y","alias":"welcome"}`), 409, "validation_error")
		require.Equal(t, 200, e.do("PATCH", "/templates/"+bare, e.keyA, `{"alias":"bare","text":"plain"}`).status)
		require.Equal(t, bare, e.do("GET", "/templates/bare", e.keyA, "").json["id"])
		require.Equal(t, 200, e.do("PATCH", "/templates/bare", e.keyA, `{"alias":null,"text":null}`).status)
		r = e.do("GET", "/templates/"+bare, e.keyA, "")
		require.Nil(t, r.json["alias"])
		require.Nil(t, r.json["text"])

		// Duplicate: a draft copy without alias.
		r = e.do("POST", "/templates/welcome/duplicate", e.keyA, "")
		require.Equal(t, 201, r.status, "body: %s", r.body)
		dup := r.json["id"].(string)
		r = e.do("GET", "/templates/"+dup, e.keyA, "")
		require.Equal(t, "Welcome (Copy)", r.json["name"])
		require.Nil(t, r.json["alias"])
		require.Equal(t, "draft", r.json["status"])
		require.Equal(t, "Hello {{{NAME}}}", r.json["subject"])
		require.Len(t, r.json["variables"], 3)
		require.NotEqual(t, v0["id"], r.json["variables"].([]any)[0].(map[string]any)["id"])

		// Delete.
		r = e.do("DELETE", "/templates/"+dup, e.keyA, "")
		require.Equal(t, map[string]any{"object": "template", "id": dup, "deleted": true}, r.json)
		requireError(t, e.do("DELETE", "/templates/"+dup, e.keyA, ""), 404, "not_found")
		requireError(t, e.do("GET", "/templates/"+dup, e.keyA, ""), 404, "not_found")
	})
}

func TestTemplatesBadInput(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, kind sqlstore.Dialect) {
		e := setup(t, kind)
		id := e.newTemplate(e.keyA, welcomeTemplate)
		before := e.do("GET", "/templates/"+id, e.keyA, "").body
		vars := func(v string) string { return `{"name":"x","html":"y","variables":[` + v + `]}` }
		many := strings.Repeat(`{"key":"K","type":"string"},`, 51)
		cases := []struct {
			method, path, body string
			status             int
			errName, msg       string
		}{
			{"POST", "/templates", `{"html":"y"}`, 422, "missing_required_field", "Missing `name` field."},
			{"POST", "/templates", `{"name":"x"}`, 422, "missing_required_field", "Missing `html` field."},
			{"POST", "/templates", `{"name":"x","html":""}`, 422, "missing_required_field", "`html`"},
			{"POST", "/templates", `{"name":5,"html":"y"}`, 422, "validation_error", "`name`"},
			{"POST", "/templates", `{"name":"a\nb","html":"y"}`, 422, "validation_error", "one line"},
			{"POST", "/templates", `{"name":"x","html":"y","alias":"a b"}`, 422, "validation_error", "`alias`"},
			{"POST", "/templates", `{"name":"x","html":"y","alias":"` + uuid.NewString() + `"}`, 422, "validation_error", "UUID"},
			{"POST", "/templates", `{"name":"x","html":"y","from":"nope"}`, 422, "validation_error", "`from`"},
			{"POST", "/templates", `{"name":"x","html":"y","subject":"a\r\nBcc: x@y.z"}`, 422, "validation_error", "`subject`"},
			{"POST", "/templates", `{"name":"x","html":"y","reply_to":["ok@example.com","bad"]}`, 422, "validation_error", "`reply_to`"},
			{"POST", "/templates", `{"name":"x","html":"y","reply_to":5}`, 422, "validation_error", "`reply_to`"},
			{"POST", "/templates", `{"name":"x","html":"y","variables":{}}`, 422, "validation_error", "`variables`"},
			{"POST", "/templates", vars(`{"type":"string"}`), 422, "missing_required_field", "variables[0].key"},
			{"POST", "/templates", vars(`{"key":"A-B","type":"string"}`), 422, "validation_error", "variables[0].key"},
			{"POST", "/templates", vars(`{"key":"` + strings.Repeat("k", 51) + `","type":"string"}`), 422, "validation_error", "variables[0].key"},
			{"POST", "/templates", vars(`{"key":"EMAIL","type":"string"}`), 422, "validation_error", "reserved"},
			{"POST", "/templates", vars(`{"key":"this","type":"string"}`), 422, "validation_error", "reserved"},
			{"POST", "/templates", vars(`{"key":"A","type":"string"},{"key":"A","type":"number"}`), 422, "validation_error", "more than once"},
			{"POST", "/templates", vars(`{"key":"A"}`), 422, "missing_required_field", "variables[0].type"},
			{"POST", "/templates", vars(`{"key":"A","type":"boolean"}`), 422, "validation_error", "`string` or `number`"},
			{"POST", "/templates", vars(`{"key":"A","type":"number","fallback_value":"1"}`), 422, "validation_error", "must be a number"},
			{"POST", "/templates", vars(`{"key":"A","type":"string","fallback_value":1}`), 422, "validation_error", "must be a string"},
			{"POST", "/templates", vars(`{"key":"A","type":"number","fallback_value":9007199254740992}`), 422, "validation_error", "2^53-1"},
			{"POST", "/templates", vars(`{"key":"A","type":"string","fallback_value":"` + strings.Repeat("v", 2001) + `"}`), 422, "validation_error", "2000"},
			{"POST", "/templates", vars(`{"key":"A","type":"string","fallback_value":true}`), 422, "validation_error", "must be a string"},
			{"POST", "/templates", vars(strings.TrimSuffix(many, ",")), 422, "validation_error", "at most 50"},
			{"POST", "/templates", `[]`, 400, "validation_error", "JSON"},
			{"POST", "/templates", `{`, 400, "validation_error", "JSON"},
			{"GET", "/templates/nope", "", 404, "not_found", "Template not found"},
			{"GET", "/templates?limit=0", "", 422, "validation_error", "pagination limit"},
			{"GET", "/templates?after=nope", "", 422, "invalid_parameter", "cursor"},
			{"PATCH", "/templates/" + id, `{"name":"x","html":"y","from":"bad"}`, 422, "validation_error", "`from`"},
			{"PATCH", "/templates/" + id, `{"variables":[{"key":"A","type":"list"}]}`, 422, "validation_error", "`string` or `number`"},
			{"PATCH", "/templates/" + id, `{"html":5}`, 422, "validation_error", "`html`"},
			{"POST", "/templates/" + uuid.NewString() + "/publish", "", 404, "not_found", "Template not found"},
		}
		for _, c := range cases {
			r := e.do(c.method, c.path, e.keyA, c.body)
			require.Equal(t, c.status, r.status, "%s %s %s: %s", c.method, c.path, c.body, r.body)
			require.Equal(t, c.errName, r.json["name"], "%s %s %s: %s", c.method, c.path, c.body, r.body)
			require.Contains(t, r.json["message"], c.msg, "%s %s %s", c.method, c.path, c.body)
		}
		require.Equal(t, []string{id}, listIDs(t, e.do("GET", "/templates", e.keyA, "")), "nothing was written")
		require.JSONEq(t, string(before), string(e.do("GET", "/templates/"+id, e.keyA, "").body))
	})
}

func TestSendWithTemplate(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, kind sqlstore.Dialect) {
		e := setup(t, kind)
		ctx := context.Background()
		id := e.newTemplate(e.keyA, welcomeTemplate)

		// A draft cannot be sent.
		requireError(t, e.do("POST", "/emails", e.sendA, `{"to":"x@example.net","template":{"id":"welcome","variables":{"NAME":"Ann"}}}`),
			422, "validation_error", "not published")
		e.publish(e.keyA, id)
		// The draft changes after publishing: sending uses the published copy.
		require.Equal(t, 200, e.do("PATCH", "/templates/"+id, e.keyA, `{"html":"<p>draft</p>"}`).status)

		// Defaults from the template; values HTML-escaped in the HTML only.
		eid := e.send(e.sendA, `{"to":"x@example.net","template":{"id":"welcome","variables":{"NAME":"Ann <&>","COUNT":3}}}`)
		got, err := e.db.GetEmail(ctx, e.teamA, eid)
		require.NoError(t, err)
		require.Equal(t, "Acme <hi@example.com>", got.From)
		require.Equal(t, "Hi Ann <&>", got.Subject)
		require.Equal(t, []string{"help@example.com"}, got.ReplyTo)
		require.Equal(t, "<p>Hi Ann &lt;&amp;&gt;, you have 3 items</p>", *got.HTML)
		require.Equal(t, "Hi Ann <&>: 3", *got.Text)
		require.Equal(t, id, got.Template.ID, "the alias is resolved to the id (template_id in events)")
		r := e.do("GET", "/emails/"+eid, e.keyA, "")
		require.Equal(t, "<p>Hi Ann &lt;&amp;&gt;, you have 3 items</p>", r.json["html"])

		// Webhook payloads carry the template's id (not the alias given).
		e.send(e.sendA, `{"to":"x@example.net","scheduled_at":"in 1 hour","template":{"id":"welcome","variables":{"NAME":"Cy"}}}`)
		evs, err := e.db.ListEvents(ctx, e.teamA, "", 100)
		require.NoError(t, err)
		require.Len(t, evs, 1)
		require.Equal(t, "email.scheduled", evs[0].Type)
		var payload struct {
			Data map[string]any `json:"data"`
		}
		require.NoError(t, json.Unmarshal(evs[0].Data, &payload), "%s", evs[0].Data)
		require.Equal(t, id, payload.Data["template_id"], "%s", evs[0].Data)

		// The payload's from, subject and reply_to override the template's; fallbacks fill in.
		eid = e.send(e.sendA, `{"from":"Other <o@example.com>","subject":"Mine","reply_to":["r@example.com"],"to":"x@example.net",
			"template":{"id":"`+id+`","variables":{"NAME":"Bo","COUNT":1.5,"UNUSED":"x"}}}`)
		got, err = e.db.GetEmail(ctx, e.teamA, eid)
		require.NoError(t, err)
		require.Equal(t, "Other <o@example.com>", got.From)
		require.Equal(t, "Mine", got.Subject)
		require.Equal(t, []string{"r@example.com"}, got.ReplyTo)
		require.Equal(t, "<p>Hi Bo, you have 1.5 items</p>", *got.HTML)

		// Errors, and nothing is accepted.
		cases := []struct {
			body         string
			status       int
			errName, msg string
		}{
			{`{"to":"x@example.net","template":{"id":"welcome"}}`, 422, "validation_error", "`NAME`"},
			{`{"to":"x@example.net","template":{"id":"welcome","variables":{"COUNT":2}}}`, 422, "validation_error", "`NAME`"},
			{`{"to":"x@example.net","template":{"id":"welcome","variables":{"NAME":1}}}`, 422, "validation_error", "must be a string"},
			{`{"to":"x@example.net","template":{"id":"welcome","variables":{"NAME":"a","COUNT":"2"}}}`, 422, "validation_error", "must be a number"},
			{`{"to":"x@example.net","template":{"id":"welcome","variables":{"NAME":"` + strings.Repeat("v", 2001) + `"}}}`, 422, "validation_error", "2000"},
			{`{"to":"x@example.net","template":{"id":"welcome","variables":{"NAME":"a","COUNT":1e300}}}`, 422, "validation_error", "2^53-1"},
			{`{"to":"x@example.net","template":{"id":"welcome","variables":{"NAME":"a","X":true}}}`, 422, "validation_error", "string or a number"},
			{`{"to":"x@example.net","template":{"id":"welcome","variables":{"NAME":"a","A-B":"x"}}}`, 422, "validation_error", "Invalid key"},
			{`{"to":"x@example.net","template":{"id":"welcome","variables":{"NAME":"a\nBcc: y@example.net"}}}`, 422, "validation_error", "one line"},
			{`{"to":"x@example.net","html":"<p>x</p>","template":{"id":"welcome","variables":{"NAME":"a"}}}`, 422, "validation_error", "cannot be combined"},
			{`{"to":"x@example.net","template":{"id":"nope","variables":{"NAME":"a"}}}`, 404, "not_found", "Template not found"},
			{`{"to":"x@example.net","template":{"id":"` + uuid.NewString() + `"}}`, 404, "not_found", "Template not found"},
			{`{"to":"x@example.net","template":{"variables":{}}}`, 422, "missing_required_field", "template.id"},
		}
		for _, c := range cases {
			r := e.do("POST", "/emails", e.sendA, c.body)
			require.Equal(t, c.status, r.status, "%s: %s", c.body, r.body)
			require.Equal(t, c.errName, r.json["name"], "%s: %s", c.body, r.body)
			require.Contains(t, r.json["message"], c.msg, c.body)
		}
		// Team B cannot use team A's template, even by id.
		requireError(t, e.do("POST", "/emails", e.keyB, `{"from":"b@example.org","to":"x@example.net","template":{"id":"`+id+`"}}`),
			404, "not_found", "Template not found")
		// A template without from or subject needs them in the payload.
		bare := e.newTemplate(e.keyA, `{"name":"Bare","html":"<b>{{{X|there}}}</b>"}`)
		e.publish(e.keyA, bare)
		requireError(t, e.do("POST", "/emails", e.sendA, `{"to":"x@example.net","subject":"s","template":{"id":"`+bare+`"}}`),
			422, "missing_required_field", "`from`")
		requireError(t, e.do("POST", "/emails", e.sendA, `{"to":"x@example.net","from":"a@example.com","template":{"id":"`+bare+`"}}`),
			422, "missing_required_field", "`subject`")
		list, _, err := e.db.ListEmails(ctx, e.teamA, store.Page{Limit: 100})
		require.NoError(t, err)
		require.Len(t, list, 3, "no failed send was accepted")

		// Batch: per item, with the template resolved once.
		r = e.do("POST", "/emails/batch", e.sendA, `[
			{"to":"x@example.net","template":{"id":"welcome","variables":{"NAME":"One"}}},
			{"to":"y@example.net","subject":"s","from":"a@example.com","template":{"id":"`+bare+`","variables":{"X":"<i>"}}},
			{"to":"z@example.net","from":"a@example.com","subject":"plain","text":"t"}]`)
		require.Equal(t, 200, r.status, "body: %s", r.body)
		data := r.json["data"].([]any)
		require.Len(t, data, 3)
		got, err = e.db.GetEmail(ctx, e.teamA, data[0].(map[string]any)["id"].(string))
		require.NoError(t, err)
		require.Equal(t, "Hi One", got.Subject)
		got, err = e.db.GetEmail(ctx, e.teamA, data[1].(map[string]any)["id"].(string))
		require.NoError(t, err)
		require.Equal(t, "<b>&lt;i&gt;</b>", *got.HTML)
		require.Nil(t, got.Text)
		requireError(t, e.do("POST", "/emails/batch", e.sendA, `[{"to":"x@example.net","template":{"id":"welcome"}}]`),
			422, "validation_error", "`NAME`")
		r = e.do("POST", "/emails/batch", e.sendA, `[{"to":"x@example.net","template":{"id":"welcome"}},
			{"to":"x@example.net","template":{"id":"welcome","variables":{"NAME":"ok"}}}]`, "x-batch-validation", "permissive")
		require.Equal(t, 200, r.status, "body: %s", r.body)
		require.Len(t, r.json["data"], 1)
		require.Equal(t, float64(0), r.json["errors"].([]any)[0].(map[string]any)["index"])
	})
}
