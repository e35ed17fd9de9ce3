package api

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/godwit/godwit/internal/store/sqlstore"
)

// newTopic creates a topic through the API and returns its id.
func (e *testEnv) newTopic(key, body string) string {
	e.t.Helper()
	r := e.do("POST", "/topics", key, body)
	require.Equal(e.t, 201, r.status, "body: %s", r.body)
	require.Equal(e.t, []string{"id", "object"}, keysOf(r.json))
	require.Equal(e.t, "topic", r.json["object"])
	return r.json["id"].(string)
}

// topicEvents returns the team's topic.* and contact.topics.updated payloads.
func (e *testEnv) topicEvents(teamID string) []map[string]any {
	e.t.Helper()
	return e.teamEvents(teamID, func(typ string) bool { return strings.HasPrefix(typ, "topic.") || typ == "contact.topics.updated" })
}

// subscriptions summarises GET /contacts/{ref}/topics as "id=subscription".
func (e *testEnv) subscriptions(key, ref string) []string {
	e.t.Helper()
	r := e.do("GET", "/contacts/"+ref+"/topics", key, "")
	require.Equal(e.t, 200, r.status, "body: %s", r.body)
	out := []string{}
	for _, d := range r.json["data"].([]any) {
		m := d.(map[string]any)
		out = append(out, m["id"].(string)+"="+m["subscription"].(string))
	}
	return out
}

func TestTopics(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, kind sqlstore.Dialect) {
		e := setup(t, kind)
		news := e.newTopic(e.keyA, `{"name":" Newsletter ","default_subscription":"opt_in","description":"Once a month",
			"visibility":"public","unknown":1}`)
		e.clock.Advance(time.Second)
		promo := e.newTopic(e.keyA, `{"name":"Promotions","default_subscription":"opt_out"}`)

		r := e.do("GET", "/topics/"+news, e.keyA, "")
		require.Equal(t, 200, r.status, "body: %s", r.body)
		require.Equal(t, map[string]any{"object": "topic", "id": news, "name": "Newsletter", "description": "Once a month",
			"default_subscription": "opt_in", "visibility": "public", "created_at": "2026-11-28 12:00:00+00"}, r.json)
		r = e.do("GET", "/topics/"+strings.ToUpper(promo), e.keyA, "")
		require.Equal(t, map[string]any{"object": "topic", "id": promo, "name": "Promotions", "description": nil,
			"default_subscription": "opt_out", "visibility": "private", "created_at": "2026-11-28 12:00:01+00"}, r.json,
			"no description is null; private by default")

		// Lists always paginate (20 by default), newest first.
		r = e.do("GET", "/topics", e.keyA, "")
		require.Equal(t, []string{promo, news}, listIDs(t, r))
		require.Equal(t, false, r.json["has_more"])
		require.Equal(t, map[string]any{"id": news, "name": "Newsletter", "description": "Once a month",
			"default_subscription": "opt_in", "visibility": "public", "created_at": "2026-11-28 12:00:00+00"}, r.json["data"].([]any)[1])
		r = e.do("GET", "/topics?limit=1", e.keyA, "")
		require.Equal(t, []string{promo}, listIDs(t, r))
		require.Equal(t, true, r.json["has_more"])
		require.Equal(t, []string{news}, listIDs(t, e.do("GET", "/topics?limit=1&after="+promo, e.keyA, "")))
		require.Equal(t, []string{promo}, listIDs(t, e.do("GET", "/topics?before="+news, e.keyA, "")))
		requireError(t, e.do("GET", "/topics?limit=0", e.keyA, ""), 422, "validation_error", "pagination limit")
		requireError(t, e.do("GET", "/topics?after="+uuid.NewString(), e.keyA, ""), 422, "validation_error", "cursor")

		// PATCH: the Node SDK sends the id in the body; unknown fields are ignored.
		e.clock.Advance(time.Second)
		r = e.do("PATCH", "/topics/"+news, e.keyA, `{"id":"`+news+`","name":"Monthly news","description":null,"default_subscription":"opt_in"}`)
		require.Equal(t, 200, r.status, "body: %s", r.body)
		require.Equal(t, map[string]any{"object": "topic", "id": news}, r.json)
		r = e.do("GET", "/topics/"+news, e.keyA, "")
		require.Equal(t, "Monthly news", r.json["name"])
		require.Nil(t, r.json["description"], "null clears the description")
		require.Equal(t, "public", r.json["visibility"])
		r = e.do("PATCH", "/topics/"+news, e.keyA, `{"description":"Every month","visibility":"private"}`)
		require.Equal(t, 200, r.status, "body: %s", r.body)
		r = e.do("GET", "/topics/"+news, e.keyA, "")
		require.Equal(t, "Every month", r.json["description"])
		require.Equal(t, "private", r.json["visibility"])
		require.Equal(t, 200, e.do("PATCH", "/topics/"+news, e.keyA, `{"name":"Monthly news"}`).status, "a PATCH that changes nothing")
		requireError(t, e.do("PATCH", "/topics/"+news, e.keyA, `{"default_subscription":"opt_out"}`), 422, "validation_error",
			"cannot be changed")
		require.Equal(t, "opt_in", e.do("GET", "/topics/"+news, e.keyA, "").json["default_subscription"])

		// Delete.
		r = e.do("DELETE", "/topics/"+promo, e.keyA, "")
		require.Equal(t, 200, r.status, "body: %s", r.body)
		require.Equal(t, map[string]any{"object": "topic", "id": promo, "deleted": true}, r.json)
		requireError(t, e.do("GET", "/topics/"+promo, e.keyA, ""), 404, "not_found", "Topic not found")
		requireError(t, e.do("DELETE", "/topics/"+promo, e.keyA, ""), 404, "not_found", "Topic not found")
		requireError(t, e.do("PATCH", "/topics/"+promo, e.keyA, `{"name":"x"}`), 404, "not_found", "Topic not found")
		require.Equal(t, []string{news}, listIDs(t, e.do("GET", "/topics", e.keyA, "")))

		// Events, with Resend's topic payload.
		evs := e.topicEvents(e.teamA)
		var types []string
		for _, ev := range evs {
			types = append(types, ev["type"].(string))
		}
		require.Equal(t, []string{"topic.created", "topic.created", "topic.updated", "topic.updated", "topic.deleted"}, types,
			"none for a PATCH that changes nothing or is refused")
		require.Equal(t, map[string]any{"id": news, "name": "Newsletter", "description": "Once a month", "default_subscription": "opt_in",
			"deleted": false, "created_at": "2026-11-28T12:00:00.000Z", "updated_at": "2026-11-28T12:00:00.000Z"}, evs[0]["data"])
		require.Equal(t, map[string]any{"id": news, "name": "Monthly news", "description": nil, "default_subscription": "opt_in",
			"deleted": false, "created_at": "2026-11-28T12:00:00.000Z", "updated_at": "2026-11-28T12:00:02.000Z"}, evs[2]["data"])
		require.Equal(t, map[string]any{"id": promo, "name": "Promotions", "description": nil, "default_subscription": "opt_out",
			"deleted": true, "created_at": "2026-11-28T12:00:01.000Z", "updated_at": "2026-11-28T12:00:02.000Z"}, evs[4]["data"])

		// Webhooks may subscribe to the topic events.
		r = e.do("POST", "/webhooks", e.keyA, `{"endpoint":"https://hooks.example.com/t",
			"events":["topic.created","topic.updated","topic.deleted","contact.topics.updated"]}`)
		require.Equal(t, 201, r.status, "body: %s", r.body)
	})
}

func TestContactTopics(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, kind sqlstore.Dialect) {
		e := setup(t, kind)
		news := e.newTopic(e.keyA, `{"name":"News","default_subscription":"opt_in","description":"Monthly"}`)
		promo := e.newTopic(e.keyA, `{"name":"Promotions","default_subscription":"opt_out"}`)
		ada := e.newContact(e.keyA, `{"email":"Ada@Example.net"}`)

		// Every topic, with its default until the contact chooses.
		r := e.do("GET", "/contacts/"+ada+"/topics", e.keyA, "")
		require.Equal(t, []string{promo, news}, listIDs(t, r))
		require.Equal(t, false, r.json["has_more"])
		require.Equal(t, map[string]any{"id": news, "name": "News", "description": "Monthly", "subscription": "opt_in"},
			r.json["data"].([]any)[1])
		require.Equal(t, map[string]any{"id": promo, "name": "Promotions", "description": nil, "subscription": "opt_out"},
			r.json["data"].([]any)[0])

		// A bare array (the SDKs), by email in any case.
		r = e.do("PATCH", "/contacts/ADA@example.net/topics", e.keyA,
			`[{"id":"`+strings.ToUpper(promo)+`","subscription":"opt_in"},{"id":"`+news+`","subscription":"opt_out"}]`)
		require.Equal(t, 200, r.status, "body: %s", r.body)
		require.Equal(t, map[string]any{"object": "contact_topics", "id": ada, "contact_id": ada, "topics": []any{
			map[string]any{"id": promo, "subscription": "opt_in"}, map[string]any{"id": news, "subscription": "opt_out"}}}, r.json)
		require.Equal(t, []string{promo + "=opt_in", news + "=opt_out"}, e.subscriptions(e.keyA, ada))
		// The OpenAPI document's {"topics": […]}; the last choice for a topic wins.
		r = e.do("PATCH", "/contacts/"+ada+"/topics", e.keyA,
			`{"topics":[{"id":"`+news+`","subscription":"opt_out"},{"id":"`+news+`","subscription":"opt_in"}]}`)
		require.Equal(t, 200, r.status, "body: %s", r.body)
		require.Equal(t, []string{promo + "=opt_in", news + "=opt_in"}, e.subscriptions(e.keyA, "ada@example.net"))
		r = e.do("PATCH", "/contacts/"+ada+"/topics", e.keyA, `[]`)
		require.Equal(t, 200, r.status, "an empty array changes nothing: body: %s", r.body)
		require.Equal(t, []any{}, r.json["topics"])

		// Pagination of a contact's topics.
		r = e.do("GET", "/contacts/"+ada+"/topics?limit=1", e.keyA, "")
		require.Equal(t, []string{promo}, listIDs(t, r))
		require.Equal(t, true, r.json["has_more"])
		require.Equal(t, []string{news}, listIDs(t, e.do("GET", "/contacts/"+ada+"/topics?after="+promo, e.keyA, "")))

		// Refused: nothing is written.
		unknown := uuid.NewString()
		requireError(t, e.do("PATCH", "/contacts/"+ada+"/topics", e.keyA,
			`[{"id":"`+promo+`","subscription":"opt_out"},{"id":"`+unknown+`","subscription":"opt_in"}]`), 404, "not_found", "Topic not found")
		require.Equal(t, []string{promo + "=opt_in", news + "=opt_in"}, e.subscriptions(e.keyA, ada))
		requireError(t, e.do("PATCH", "/contacts/nobody@example.net/topics", e.keyA, `[]`), 404, "not_found", "Contact not found")
		requireError(t, e.do("GET", "/contacts/"+uuid.NewString()+"/topics", e.keyA, ""), 404, "not_found", "Contact not found")

		// Created with topics; an existing contact's are updated as it is answered.
		bob := e.newContact(e.keyA, `{"email":"bob@example.net","topics":[{"id":"`+news+`","subscription":"opt_out"}]}`)
		require.Equal(t, []string{promo + "=opt_out", news + "=opt_out"}, e.subscriptions(e.keyA, bob))
		again := e.newContact(e.keyA, `{"email":"BOB@example.net","topics":[{"id":"`+promo+`","subscription":"opt_in"}]}`)
		require.Equal(t, bob, again)
		require.Equal(t, []string{promo + "=opt_in", news + "=opt_out"}, e.subscriptions(e.keyA, bob))
		requireError(t, e.do("POST", "/contacts", e.keyA, `{"email":"eve@example.net","topics":[{"id":"`+unknown+`","subscription":"opt_in"}]}`),
			404, "not_found", "Topic not found")
		requireError(t, e.do("GET", "/contacts/eve@example.net", e.keyA, ""), 404, "not_found", "Contact not found")
		requireError(t, e.do("POST", "/contacts", e.keyA, `{"email":"bob@example.net","topics":[{"id":"`+unknown+`","subscription":"opt_in"}]}`),
			404, "not_found", "Topic not found")

		// Deleting a topic removes the choices made for it.
		require.Equal(t, 200, e.do("DELETE", "/topics/"+promo, e.keyA, "").status)
		require.Equal(t, []string{news + "=opt_out"}, e.subscriptions(e.keyA, bob))

		// Events: contact.topics.updated with the email and the choices made.
		var got []map[string]any
		for _, ev := range e.topicEvents(e.teamA) {
			if ev["type"] == "contact.topics.updated" {
				got = append(got, ev["data"].(map[string]any))
			}
		}
		require.Equal(t, []map[string]any{
			{"email": "Ada@Example.net", "topics": []any{map[string]any{"id": promo, "subscription": "opt_in"},
				map[string]any{"id": news, "subscription": "opt_out"}}},
			{"email": "Ada@Example.net", "topics": []any{map[string]any{"id": news, "subscription": "opt_in"}}},
			{"email": "bob@example.net", "topics": []any{map[string]any{"id": news, "subscription": "opt_out"}}},
			{"email": "bob@example.net", "topics": []any{map[string]any{"id": promo, "subscription": "opt_in"}}},
		}, got, "one per change made, none for an empty or refused one")
	})
}

func TestTopicsOtherTeam(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, kind sqlstore.Dialect) {
		e := setup(t, kind)
		topic := e.newTopic(e.keyA, `{"name":"A's","default_subscription":"opt_in"}`)
		ada := e.newContact(e.keyA, `{"email":"ada@example.net"}`)
		topicB := e.newTopic(e.keyB, `{"name":"B's","default_subscription":"opt_out"}`)
		adaB := e.newContact(e.keyB, `{"email":"ada@example.net"}`)

		requireError(t, e.do("GET", "/topics/"+topic, e.keyB, ""), 404, "not_found", "Topic not found")
		requireError(t, e.do("PATCH", "/topics/"+topic, e.keyB, `{"name":"mine"}`), 404, "not_found", "Topic not found")
		requireError(t, e.do("DELETE", "/topics/"+topic, e.keyB, ""), 404, "not_found", "Topic not found")
		requireError(t, e.do("GET", "/topics?after="+topic, e.keyB, ""), 422, "validation_error", "cursor")
		require.Equal(t, []string{topicB}, listIDs(t, e.do("GET", "/topics", e.keyB, "")))
		requireError(t, e.do("GET", "/contacts/"+ada+"/topics", e.keyB, ""), 404, "not_found", "Contact not found")
		requireError(t, e.do("PATCH", "/contacts/"+ada+"/topics", e.keyB, `[{"id":"`+topicB+`","subscription":"opt_in"}]`),
			404, "not_found", "Contact not found")
		requireError(t, e.do("PATCH", "/contacts/"+adaB+"/topics", e.keyB, `[{"id":"`+topic+`","subscription":"opt_in"}]`),
			404, "not_found", "Topic not found")
		requireError(t, e.do("POST", "/contacts", e.keyB, `{"email":"eve@example.net","topics":[{"id":"`+topic+`","subscription":"opt_in"}]}`),
			404, "not_found", "Topic not found")
		// By email, each team sees its own contact and topics.
		require.Equal(t, []string{topicB + "=opt_out"}, e.subscriptions(e.keyB, "ada@example.net"))
		require.Equal(t, []string{topic + "=opt_in"}, e.subscriptions(e.keyA, "ada@example.net"))
		requireError(t, e.do("POST", "/emails", e.keyB, `{"from":"b@example.org","to":"x@example.net","subject":"s","text":"t",
			"topic_id":"`+topic+`"}`), 404, "not_found", "Topic not found")
		require.Equal(t, "A's", e.do("GET", "/topics/"+topic, e.keyA, "").json["name"])
		require.Empty(t, e.topicEvents(e.teamA)[1:], "team B's requests changed nothing of A's")

		// Only full_access keys.
		for _, c := range []struct{ method, path string }{{"POST", "/topics"}, {"GET", "/topics"}, {"GET", "/topics/" + topic},
			{"PATCH", "/topics/" + topic}, {"DELETE", "/topics/" + topic}, {"GET", "/contacts/" + ada + "/topics"},
			{"PATCH", "/contacts/" + ada + "/topics"}} {
			requireError(t, e.do(c.method, c.path, e.sendA, `{"name":"x","default_subscription":"opt_in"}`), 401, "restricted_api_key")
		}
	})
}

func TestTopicsBadInput(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, kind sqlstore.Dialect) {
		e := setup(t, kind)
		topic := e.newTopic(e.keyA, `{"name":"T","default_subscription":"opt_in"}`)
		ada := e.newContact(e.keyA, `{"email":"ada@example.net"}`)
		long := strings.Repeat("é", 51)
		cases := []struct {
			method, path, body string
			status             int
			errName, msg       string
		}{
			{"POST", "/topics", `{}`, 422, "missing_required_field", "Missing `name` field."},
			{"POST", "/topics", `{"name":"  ","default_subscription":"opt_in"}`, 422, "missing_required_field", "Missing `name` field."},
			{"POST", "/topics", `{"name":"x"}`, 422, "missing_required_field", "Missing `default_subscription` field."},
			{"POST", "/topics", `{"name":"x","default_subscription":"maybe"}`, 422, "validation_error", "`opt_in` or `opt_out`"},
			{"POST", "/topics", `{"name":"x","default_subscription":true}`, 422, "validation_error", "must be a string"},
			{"POST", "/topics", `{"name":"` + long + `","default_subscription":"opt_in"}`, 422, "validation_error", "at most 50"},
			{"POST", "/topics", `{"name":"a\nb","default_subscription":"opt_in"}`, 422, "validation_error", "one line"},
			{"POST", "/topics", `{"name":"x","default_subscription":"opt_in","description":"` + strings.Repeat("d", 201) + `"}`,
				422, "validation_error", "at most 200"},
			{"POST", "/topics", `{"name":"x","default_subscription":"opt_in","description":5}`, 422, "validation_error", "must be a string"},
			{"POST", "/topics", `{"name":"x","default_subscription":"opt_in","visibility":"secret"}`, 422, "validation_error", "`public` or `private`"},
			{"POST", "/topics", `[]`, 400, "validation_error", "JSON"},
			{"POST", "/topics", `{`, 400, "validation_error", "JSON"},
			{"GET", "/topics/nope", "", 422, "invalid_parameter", "`id` must be a valid UUID"},
			{"PATCH", "/topics/" + topic, `{"name":""}`, 422, "missing_required_field", "Missing `name` field."},
			{"PATCH", "/topics/" + topic, `{"name":"` + long + `"}`, 422, "validation_error", "at most 50"},
			{"PATCH", "/topics/" + topic, `{"visibility":"all"}`, 422, "validation_error", "`public` or `private`"},
			{"DELETE", "/topics/" + topic + "x", "", 422, "invalid_parameter", "valid UUID"},
			{"PATCH", "/contacts/" + ada + "/topics", `{}`, 422, "missing_required_field", "Missing `topics` field."},
			{"PATCH", "/contacts/" + ada + "/topics", `"x"`, 400, "validation_error", "JSON"},
			{"PATCH", "/contacts/" + ada + "/topics", `[{"id":"` + topic + `"`, 400, "validation_error", "JSON"},
			{"PATCH", "/contacts/" + ada + "/topics", `{"topics":{"id":"` + topic + `"}}`, 422, "validation_error", "must be an array"},
			{"PATCH", "/contacts/" + ada + "/topics", `["` + topic + `"]`, 422, "validation_error", "Invalid `topics[0]` field"},
			{"PATCH", "/contacts/" + ada + "/topics", `[{"subscription":"opt_in"}]`, 422, "missing_required_field", "Missing `topics[0].id` field."},
			{"PATCH", "/contacts/" + ada + "/topics", `[{"id":"nope","subscription":"opt_in"}]`, 422, "invalid_parameter", "`topics[0].id`"},
			{"PATCH", "/contacts/" + ada + "/topics", `[{"id":"` + topic + `"}]`, 422, "missing_required_field", "Missing `topics[0].subscription` field."},
			{"PATCH", "/contacts/" + ada + "/topics", `[{"id":"` + topic + `","subscription":"yes"}]`, 422, "validation_error", "`opt_in` or `opt_out`"},
			{"PATCH", "/contacts/" + ada + "/topics", `[{"id":"` + topic + `","subscription":1}]`, 422, "validation_error", "Invalid `topics[0]` field"},
			{"GET", "/contacts/" + ada + "/topics?limit=101", "", 422, "validation_error", "pagination limit"},
			{"POST", "/contacts", `{"email":"x@example.net","topics":"` + topic + `"}`, 422, "validation_error", "must be an array"},
			{"POST", "/contacts", `{"email":"x@example.net","topics":[{"id":"` + topic + `","subscription":"no"}]}`, 422, "validation_error", "`topics[0].subscription`"},
			{"POST", "/emails", `{"from":"a@example.com","to":"x@example.net","subject":"s","text":"t","topic_id":"nope"}`,
				422, "invalid_parameter", "`topic_id` must be a valid UUID"},
			{"POST", "/emails", `{"from":"a@example.com","to":"x@example.net","subject":"s","text":"t","topic_id":"` + uuid.NewString() + `"}`,
				404, "not_found", "Topic not found"},
			{"POST", "/emails/batch", `[{"from":"a@example.com","to":"x@example.net","subject":"s","text":"t","topic_id":"` + uuid.NewString() + `"}]`,
				404, "not_found", "Topic not found"},
		}
		for _, c := range cases {
			r := e.do(c.method, c.path, e.keyA, c.body)
			require.Equal(t, c.status, r.status, "%s %s %s: %s", c.method, c.path, c.body, r.body)
			require.Equal(t, c.errName, r.json["name"], "%s %s %s: %s", c.method, c.path, c.body, r.body)
			require.Contains(t, r.json["message"], c.msg, "%s %s %s", c.method, c.path, c.body)
		}
		require.Equal(t, []string{topic + "=opt_in"}, e.subscriptions(e.keyA, ada))
		require.Len(t, e.topicEvents(e.teamA), 1, "no bad request recorded an event")

		// A known topic: accepted, and answered in the email (in lower case).
		id := e.send(e.sendA, `{"from":"a@example.com","to":"x@example.net","subject":"s","text":"t","topic_id":"`+strings.ToUpper(topic)+`"}`)
		r := e.do("GET", "/emails/"+id, e.keyA, "")
		require.Equal(t, topic, r.json["topic_id"])
		r = e.do("POST", "/emails/batch", e.keyA, `[{"from":"a@example.com","to":"x@example.net","subject":"s","text":"t","topic_id":"`+topic+`"},
			{"from":"a@example.com","to":"x@example.net","subject":"s","text":"t","topic_id":"`+uuid.NewString()+`"}]`,
			"x-batch-validation", "permissive")
		require.Equal(t, 200, r.status, "body: %s", r.body)
		require.Len(t, r.json["data"], 1)
		require.Equal(t, "Topic not found", r.json["errors"].([]any)[0].(map[string]any)["message"])
		em, err := e.db.GetEmail(context.Background(), e.teamA, id)
		require.NoError(t, err)
		require.Equal(t, topic, em.TopicID)
	})
}
