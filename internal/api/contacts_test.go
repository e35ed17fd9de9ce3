package api

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/godwit/godwit/internal/store/sqlstore"
	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
)

// newSegment creates a segment through the API and returns its id.
func (e *testEnv) newSegment(key, name string) string {
	e.t.Helper()
	r := e.do("POST", "/segments", key, `{"name":"`+name+`"}`)
	require.Equal(e.t, 201, r.status, "body: %s", r.body)
	return r.json["id"].(string)
}

// newContact creates a contact through the API and returns its id.
func (e *testEnv) newContact(key, body string) string {
	e.t.Helper()
	r := e.do("POST", "/contacts", key, body)
	require.Equal(e.t, 201, r.status, "body: %s", r.body)
	require.Equal(e.t, []string{"id", "object"}, keysOf(r.json))
	require.Equal(e.t, "contact", r.json["object"])
	return r.json["id"].(string)
}

// listIDs returns the ids of a list answer's items, in order.
func listIDs(t *testing.T, r result) []string {
	t.Helper()
	require.Equal(t, 200, r.status, "body: %s", r.body)
	require.Equal(t, "list", r.json["object"], "body: %s", r.body)
	var ids []string
	for _, d := range r.json["data"].([]any) {
		ids = append(ids, d.(map[string]any)["id"].(string))
	}
	return ids
}

// contactEvents returns the team's contact events' payloads (but
// contact.topics.updated), oldest first.
func (e *testEnv) contactEvents(teamID string) []map[string]any {
	e.t.Helper()
	return e.teamEvents(teamID, func(typ string) bool { return strings.HasPrefix(typ, "contact.") && typ != "contact.topics.updated" })
}

// teamEvents returns the payloads of the team's events whose type is
// wanted, oldest first.
func (e *testEnv) teamEvents(teamID string, want func(typ string) bool) []map[string]any {
	e.t.Helper()
	evs, err := e.db.ListEvents(context.Background(), teamID, "", 1000)
	require.NoError(e.t, err)
	var out []map[string]any
	for _, ev := range evs {
		if !want(ev.Type) {
			continue
		}
		var p map[string]any
		require.NoError(e.t, json.Unmarshal(ev.Data, &p))
		require.Equal(e.t, ev.Type, p["type"])
		out = append(out, p)
	}
	return out
}

func TestContacts(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, kind sqlstore.Dialect) {
		e := setup(t, kind)
		news := e.newSegment(e.keyA, "Newsletter")
		vip := e.newSegment(e.keyA, "VIP")
		topic := e.newTopic(e.keyA, `{"name":"Product news","default_subscription":"opt_out"}`)

		// Segments as objects (the SDKs) and as strings (the OpenAPI document).
		ada := e.newContact(e.keyA, `{"email":" Ada+News@Example.net ","first_name":"Ada","last_name":"Lovelace",
			"properties":{"tier":"gold","age":36,"gone":null},"segments":[{"id":"`+news+`"},"`+strings.ToUpper(vip)+`",{"id":"`+news+`"}],
			"topics":[{"id":"`+topic+`","subscription":"opt_in"}]}`)
		e.clock.Advance(time.Second)
		bob := e.newContact(e.keyA, `{"email":"bob@example.net","unsubscribed":true}`)

		want := map[string]any{"object": "contact", "id": ada, "email": "Ada+News@Example.net", "first_name": "Ada",
			"last_name": "Lovelace", "created_at": "2026-11-28 12:00:00+00", "unsubscribed": false,
			"properties": map[string]any{"tier": "gold", "age": float64(36)}}
		// By id, and by email: raw with its '+', URL-encoded, in another case.
		for _, p := range []string{"/contacts/" + ada, "/contacts/" + strings.ToUpper(ada), "/contacts/ada+news@example.net",
			"/contacts/ada%2Bnews%40example.net", "/contacts/ADA+NEWS@EXAMPLE.NET"} {
			r := e.do("GET", p, e.keyA, "")
			require.Equal(t, 200, r.status, "%s: %s", p, r.body)
			require.Equal(t, want, r.json, p)
		}
		requireError(t, e.do("GET", "/contacts/ada%20news@example.net", e.keyA, ""), 404, "not_found", "Contact not found")
		r := e.do("GET", "/contacts/"+bob, e.keyA, "")
		require.Equal(t, map[string]any{"object": "contact", "id": bob, "email": "bob@example.net", "first_name": nil,
			"last_name": nil, "created_at": "2026-11-28 12:00:01+00", "unsubscribed": true, "properties": map[string]any{}}, r.json)

		// Lists: newest first; every contact without pagination parameters.
		r = e.do("GET", "/contacts", e.keyA, "")
		require.Equal(t, []string{bob, ada}, listIDs(t, r))
		require.Equal(t, false, r.json["has_more"])
		require.Equal(t, map[string]any{"id": ada, "email": "Ada+News@Example.net", "first_name": "Ada", "last_name": "Lovelace",
			"created_at": "2026-11-28 12:00:00+00", "unsubscribed": false}, r.json["data"].([]any)[1])
		r = e.do("GET", "/contacts?limit=1", e.keyA, "")
		require.Equal(t, []string{bob}, listIDs(t, r))
		require.Equal(t, true, r.json["has_more"])
		r = e.do("GET", "/contacts?limit=1&after="+bob, e.keyA, "")
		require.Equal(t, []string{ada}, listIDs(t, r))
		require.Equal(t, false, r.json["has_more"])
		require.Equal(t, []string{bob}, listIDs(t, e.do("GET", "/contacts?before="+ada, e.keyA, "")))
		for _, p := range []string{"/contacts?segment_id=" + news, "/segments/" + news + "/contacts", "/audiences/" + news + "/contacts",
			"/segments/" + strings.ToUpper(news) + "/contacts?limit=10"} {
			require.Equal(t, []string{ada}, listIDs(t, e.do("GET", p, e.keyA, "")), p)
		}

		// A contact's segments, newest first.
		r = e.do("GET", "/contacts/ada+news@example.net/segments", e.keyA, "")
		require.Equal(t, []string{vip, news}, listIDs(t, r))
		require.Equal(t, map[string]any{"id": news, "name": "Newsletter", "created_at": "2026-11-28 12:00:00+00"}, r.json["data"].([]any)[1])
		require.Empty(t, listIDs(t, e.do("GET", "/contacts/"+bob+"/segments", e.keyA, "")))

		// Add and remove memberships (by email and by id); adding twice changes nothing.
		for range 2 {
			r = e.do("POST", "/contacts/bob@example.net/segments/"+news, e.keyA, "")
			require.Equal(t, 200, r.status, "body: %s", r.body)
			require.Equal(t, map[string]any{"object": "contact_segment", "id": news, "contact_id": bob, "segment_id": news}, r.json)
		}
		require.Equal(t, []string{bob, ada}, listIDs(t, e.do("GET", "/segments/"+news+"/contacts", e.keyA, "")))
		r = e.do("DELETE", "/contacts/"+ada+"/segments/"+news, e.keyA, "")
		require.Equal(t, 200, r.status, "body: %s", r.body)
		require.Equal(t, map[string]any{"object": "contact_segment", "id": news, "contact_id": ada, "segment_id": news, "deleted": true}, r.json)
		requireError(t, e.do("DELETE", "/contacts/"+ada+"/segments/"+news, e.keyA, ""), 404, "not_found", "Contact is not in this segment")
		require.Equal(t, []string{bob}, listIDs(t, e.do("GET", "/segments/"+news+"/contacts", e.keyA, "")))
		require.Equal(t, []string{vip}, listIDs(t, e.do("GET", "/contacts/"+ada+"/segments", e.keyA, "")))
		requireError(t, e.do("POST", "/contacts/"+ada+"/segments/"+uuid.NewString(), e.keyA, ""), 404, "not_found", "Audience not found")
		requireError(t, e.do("POST", "/contacts/nobody@example.net/segments/"+news, e.keyA, ""), 404, "not_found", "Contact not found")
		requireError(t, e.do("POST", "/contacts/"+ada+"/segments/nope", e.keyA, ""), 422, "invalid_parameter", "`segment_id`")

		// PATCH: omitted fields stay, null clears a name, properties merge
		// (null removes a key).
		e.clock.Advance(time.Second)
		r = e.do("PATCH", "/contacts/ADA+news@example.net", e.keyA, `{"id":"","last_name":null,"unsubscribed":true,
			"properties":{"age":37,"tier":null,"city":"London"}}`)
		require.Equal(t, 200, r.status, "body: %s", r.body)
		require.Equal(t, map[string]any{"object": "contact", "id": ada}, r.json)
		r = e.do("GET", "/contacts/"+ada, e.keyA, "")
		require.Equal(t, "Ada", r.json["first_name"])
		require.Nil(t, r.json["last_name"])
		require.Equal(t, true, r.json["unsubscribed"])
		require.Equal(t, map[string]any{"age": float64(37), "city": "London"}, r.json["properties"])
		r = e.do("PATCH", "/contacts/"+ada, e.keyA, `{"email":"ada@example.org","first_name":"","unsubscribed":false}`)
		require.Equal(t, 200, r.status, "body: %s", r.body)
		r = e.do("GET", "/contacts/ada@example.org", e.keyA, "")
		require.Equal(t, ada, r.json["id"])
		require.Nil(t, r.json["first_name"])
		require.Equal(t, false, r.json["unsubscribed"])
		requireError(t, e.do("GET", "/contacts/ada+news@example.net", e.keyA, ""), 404, "not_found", "Contact not found")
		// A PATCH that changes nothing records no event.
		require.Equal(t, 200, e.do("PATCH", "/contacts/"+ada, e.keyA, `{"first_name":null}`).status)
		// The SDKs send the email that names the contact: another case of
		// the same address changes nothing.
		require.Equal(t, 200, e.do("PATCH", "/contacts/ADA@example.org", e.keyA, `{"id":"","email":"ADA@example.org","properties":{"age":37}}`).status)
		require.Equal(t, "ada@example.org", e.do("GET", "/contacts/"+ada, e.keyA, "").json["email"])
		// Another contact's email is a 422.
		requireError(t, e.do("PATCH", "/contacts/"+ada, e.keyA, `{"email":"BOB@example.net"}`), 422, "validation_error", "Another contact")

		// Creating a contact whose email the team has (in any case) answers
		// 201 with that contact, joined to the segments named; its fields stay.
		r = e.do("POST", "/contacts", e.keyA, `{"email":"BOB@Example.net","first_name":"Robert","segments":[{"id":"`+vip+`"}]}`)
		require.Equal(t, 201, r.status, "body: %s", r.body)
		require.Equal(t, map[string]any{"object": "contact", "id": bob}, r.json)
		require.Equal(t, []string{vip, news}, listIDs(t, e.do("GET", "/contacts/"+bob+"/segments", e.keyA, "")))
		require.Nil(t, e.do("GET", "/contacts/"+bob, e.keyA, "").json["first_name"])
		requireError(t, e.do("POST", "/contacts", e.keyA, `{"email":"bob@example.net","segments":["`+uuid.NewString()+`"]}`),
			404, "not_found", "Audience not found")
		require.Len(t, listIDs(t, e.do("GET", "/contacts", e.keyA, "")), 2)

		// Deleting a segment keeps its contacts.
		require.Equal(t, 200, e.do("DELETE", "/segments/"+vip, e.keyA, "").status)
		require.Equal(t, []string{news}, listIDs(t, e.do("GET", "/contacts/"+bob+"/segments", e.keyA, "")))
		require.Empty(t, listIDs(t, e.do("GET", "/contacts/"+ada+"/segments", e.keyA, "")))

		// DELETE by email names the contact by id ("contact" as Resend, "id" for the Go SDK).
		r = e.do("DELETE", "/contacts/Bob@example.net", e.keyA, "")
		require.Equal(t, 200, r.status, "body: %s", r.body)
		require.Equal(t, map[string]any{"object": "contact", "id": bob, "contact": bob, "deleted": true}, r.json)
		requireError(t, e.do("GET", "/contacts/"+bob, e.keyA, ""), 404, "not_found", "Contact not found")
		requireError(t, e.do("DELETE", "/contacts/"+bob, e.keyA, ""), 404, "not_found", "Contact not found")
		require.Empty(t, listIDs(t, e.do("GET", "/segments/"+news+"/contacts", e.keyA, "")))
		require.Equal(t, []string{ada}, listIDs(t, e.do("GET", "/contacts", e.keyA, "")))
		// The email is free again.
		require.NotEqual(t, bob, e.newContact(e.keyA, `{"email":"bob@example.net"}`))

		// The events, in order, with Resend's payload.
		evs := e.contactEvents(e.teamA)
		var types []string
		for _, ev := range evs {
			types = append(types, ev["type"].(string))
		}
		require.Equal(t, []string{"contact.created", "contact.created", "contact.updated", "contact.updated", "contact.deleted", "contact.created"}, types)
		require.Equal(t, map[string]any{"id": ada, "segment_ids": []any{news, vip}, "created_at": "2026-11-28T12:00:00.000Z",
			"updated_at": "2026-11-28T12:00:00.000Z", "email": "Ada+News@Example.net", "first_name": "Ada", "last_name": "Lovelace",
			"unsubscribed": false}, evs[0]["data"])
		require.Equal(t, "2026-11-28T12:00:00.000Z", evs[0]["created_at"])
		require.Equal(t, map[string]any{"id": ada, "segment_ids": []any{vip}, "created_at": "2026-11-28T12:00:00.000Z",
			"updated_at": "2026-11-28T12:00:02.000Z", "email": "Ada+News@Example.net", "first_name": "Ada",
			"unsubscribed": true}, evs[2]["data"])
		require.Equal(t, "ada@example.org", evs[3]["data"].(map[string]any)["email"])
		require.Equal(t, map[string]any{"id": bob, "segment_ids": []any{news}, "created_at": "2026-11-28T12:00:01.000Z",
			"updated_at": "2026-11-28T12:00:01.000Z", "email": "bob@example.net", "unsubscribed": true}, evs[4]["data"])
		// They reach the feed too.
		feed := e.do("GET", "/feed?limit=100", e.keyA, "")
		require.Equal(t, 200, feed.status)
		n := 0
		for _, item := range feed.json["data"].([]any) {
			if strings.HasPrefix(item.(map[string]any)["type"].(string), "contact.") {
				n++
			}
		}
		require.Equal(t, 7, n, "with the contact.topics.updated of ada's creation")
		teamB, err := e.db.GetTeamByName(context.Background(), "b")
		require.NoError(t, err)
		require.Empty(t, e.contactEvents(teamB.ID))
	})
}

func TestSegments(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, kind sqlstore.Dialect) {
		e := setup(t, kind)
		r := e.do("POST", "/segments", e.keyA, `{"name":" Newsletter "}`)
		require.Equal(t, 201, r.status, "body: %s", r.body)
		news := r.json["id"].(string)
		_, err := uuid.Parse(news)
		require.NoError(t, err)
		require.Equal(t, map[string]any{"object": "segment", "id": news, "name": "Newsletter"}, r.json)
		e.clock.Advance(time.Second)
		// /audiences is the same resource under its old name.
		r = e.do("POST", "/audiences", e.keyA, `{"name":"Customers"}`)
		require.Equal(t, 201, r.status, "body: %s", r.body)
		customers := r.json["id"].(string)
		require.Equal(t, map[string]any{"object": "audience", "id": customers, "name": "Customers"}, r.json)

		r = e.do("GET", "/segments/"+news, e.keyA, "")
		require.Equal(t, 200, r.status, "body: %s", r.body)
		require.Equal(t, map[string]any{"object": "segment", "id": news, "name": "Newsletter", "created_at": "2026-11-28 12:00:00+00"}, r.json)
		r = e.do("GET", "/audiences/"+strings.ToUpper(news), e.keyA, "")
		require.Equal(t, map[string]any{"object": "audience", "id": news, "name": "Newsletter", "created_at": "2026-11-28 12:00:00+00"}, r.json)

		// Lists: everything without pagination parameters, newest first.
		for _, p := range []string{"/segments", "/audiences"} {
			r = e.do("GET", p, e.keyA, "")
			require.Equal(t, []string{customers, news}, listIDs(t, r), p)
			require.Equal(t, false, r.json["has_more"])
			require.Equal(t, map[string]any{"id": news, "name": "Newsletter", "created_at": "2026-11-28 12:00:00+00"}, r.json["data"].([]any)[1])
		}
		r = e.do("GET", "/segments?limit=1", e.keyA, "")
		require.Equal(t, []string{customers}, listIDs(t, r))
		require.Equal(t, true, r.json["has_more"])
		require.Equal(t, []string{news}, listIDs(t, e.do("GET", "/segments?after="+customers, e.keyA, "")))
		require.Equal(t, []string{customers}, listIDs(t, e.do("GET", "/segments?before="+news, e.keyA, "")))
		requireError(t, e.do("GET", "/segments?after="+uuid.NewString(), e.keyA, ""), 422, "validation_error", "cursor")
		requireError(t, e.do("GET", "/segments?limit=101", e.keyA, ""), 422, "validation_error", "pagination limit")

		// PATCH renames; without a name it changes nothing.
		r = e.do("PATCH", "/segments/"+news, e.keyA, `{"name":"Weekly"}`)
		require.Equal(t, 200, r.status, "body: %s", r.body)
		require.Equal(t, map[string]any{"object": "segment", "id": news}, r.json)
		r = e.do("PATCH", "/audiences/"+news, e.keyA, `{}`)
		require.Equal(t, map[string]any{"object": "audience", "id": news}, r.json)
		require.Equal(t, "Weekly", e.do("GET", "/segments/"+news, e.keyA, "").json["name"])
		requireError(t, e.do("PATCH", "/segments/"+news, e.keyA, `{"name":""}`), 422, "missing_required_field", "Missing `name` field.")

		// Unknown ids: 404 "Audience not found" (Resend's wording), but DELETE
		// answers deleted:true as Resend's does.
		unknown := uuid.NewString()
		for _, p := range []string{"/segments/" + unknown, "/audiences/" + unknown} {
			requireError(t, e.do("GET", p, e.keyA, ""), 404, "not_found", "Audience not found")
			requireError(t, e.do("PATCH", p, e.keyA, `{"name":"x"}`), 404, "not_found", "Audience not found")
			requireError(t, e.do("GET", p+"/contacts", e.keyA, ""), 404, "not_found", "Audience not found")
		}
		requireError(t, e.do("GET", "/contacts?segment_id="+unknown, e.keyA, ""), 404, "not_found", "Audience not found")
		r = e.do("DELETE", "/segments/"+unknown, e.keyA, "")
		require.Equal(t, 200, r.status, "body: %s", r.body)
		require.Equal(t, map[string]any{"object": "segment", "id": unknown, "deleted": true}, r.json)
		for _, p := range []string{"/segments/nope", "/audiences/nope", "/segments/nope/contacts", "/audiences/nope/contacts"} {
			requireError(t, e.do("GET", p, e.keyA, ""), 422, "invalid_parameter", "must be a valid UUID")
		}
		requireError(t, e.do("DELETE", "/segments/nope", e.keyA, ""), 422, "invalid_parameter", "`id`")
		requireError(t, e.do("GET", "/contacts?segment_id=nope", e.keyA, ""), 422, "invalid_parameter", "`segment_id`")

		r = e.do("DELETE", "/audiences/"+customers, e.keyA, "")
		require.Equal(t, map[string]any{"object": "audience", "id": customers, "deleted": true}, r.json)
		r = e.do("DELETE", "/segments/"+news, e.keyA, "")
		require.Equal(t, map[string]any{"object": "segment", "id": news, "deleted": true}, r.json)
		requireError(t, e.do("GET", "/segments/"+news, e.keyA, ""), 404, "not_found", "Audience not found")
		r = e.do("GET", "/segments", e.keyA, "")
		require.Equal(t, map[string]any{"object": "list", "has_more": false, "data": []any{}}, r.json)
	})
}

func TestLegacyAudienceContacts(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, kind sqlstore.Dialect) {
		e := setup(t, kind)
		aud := e.newSegment(e.keyA, "Audience")
		base := "/audiences/" + aud + "/contacts"
		r := e.do("POST", base, e.keyA, `{"email":"test.0@example.com","first_name":"Test","audience_id":"`+aud+`"}`)
		require.Equal(t, 201, r.status, "body: %s", r.body)
		c0 := r.json["id"].(string)
		require.Equal(t, map[string]any{"object": "contact", "id": c0}, r.json)
		c1 := e.do("POST", base, e.keyA, `{"email":"test.1@example.com"}`).json["id"].(string)
		// A contact created globally with the deprecated audience_id joins it too.
		c2 := e.newContact(e.keyA, `{"email":"test.2@example.com","audience_id":"`+aud+`"}`)
		other := e.newContact(e.keyA, `{"email":"elsewhere@example.com"}`)

		require.Equal(t, []string{c2, c1, c0}, listIDs(t, e.do("GET", base, e.keyA, "")))
		r = e.do("GET", base+"?limit=2", e.keyA, "")
		require.Equal(t, []string{c2, c1}, listIDs(t, r))
		require.Equal(t, true, r.json["has_more"])
		require.Equal(t, []string{other, c2, c1, c0}, listIDs(t, e.do("GET", "/contacts", e.keyA, "")))

		for _, p := range []string{base + "/" + c0, base + "/test.0@example.com", base + "/TEST.0%40example.com"} {
			r = e.do("GET", p, e.keyA, "")
			require.Equal(t, 200, r.status, "%s: %s", p, r.body)
			require.Equal(t, map[string]any{"object": "contact", "id": c0, "email": "test.0@example.com", "first_name": "Test",
				"last_name": nil, "created_at": "2026-11-28 12:00:00+00", "unsubscribed": false, "properties": map[string]any{}}, r.json, p)
		}

		r = e.do("PATCH", base+"/"+c1, e.keyA, `{"first_name":"Updated","last_name":"Name"}`)
		require.Equal(t, 200, r.status, "body: %s", r.body)
		require.Equal(t, map[string]any{"object": "contact", "id": c1}, r.json)
		r = e.do("GET", base+"/"+c1, e.keyA, "")
		require.Equal(t, "Updated", r.json["first_name"])
		require.Equal(t, "Name", r.json["last_name"])

		// DELETE by email echoes the email; by id the id; a contact that does
		// not exist is answered deleted:true too.
		r = e.do("DELETE", base+"/test.0@example.com", e.keyA, "")
		require.Equal(t, 200, r.status, "body: %s", r.body)
		require.Equal(t, map[string]any{"object": "contact", "id": c0, "contact": "test.0@example.com", "deleted": true}, r.json)
		requireError(t, e.do("GET", base+"/test.0@example.com", e.keyA, ""), 404, "not_found", "Contact not found")
		requireError(t, e.do("GET", "/contacts/"+c0, e.keyA, ""), 404, "not_found", "Contact not found")
		r = e.do("DELETE", base+"/"+c1, e.keyA, "")
		require.Equal(t, map[string]any{"object": "contact", "id": c1, "contact": c1, "deleted": true}, r.json)
		zero := "00000000-0000-0000-0000-000000000000"
		for _, ref := range []string{zero, "nobody@example.com", "not-an-id"} {
			r = e.do("DELETE", base+"/"+ref, e.keyA, "")
			require.Equal(t, 200, r.status, "body: %s", r.body)
			require.Equal(t, map[string]any{"object": "contact", "id": ref, "contact": ref, "deleted": true}, r.json)
		}
		require.Equal(t, []string{c2}, listIDs(t, e.do("GET", base, e.keyA, "")))

		// An audience that is not the team's.
		unknown := "/audiences/" + uuid.NewString() + "/contacts"
		requireError(t, e.do("POST", unknown, e.keyA, `{"email":"x@example.com"}`), 404, "not_found", "Audience not found")
		requireError(t, e.do("GET", unknown, e.keyA, ""), 404, "not_found", "Audience not found")
		requireError(t, e.do("GET", unknown+"/"+c2, e.keyA, ""), 404, "not_found", "Audience not found")
		requireError(t, e.do("PATCH", unknown+"/"+c2, e.keyA, `{"first_name":"x"}`), 404, "not_found", "Audience not found")
		requireError(t, e.do("DELETE", unknown+"/"+c2, e.keyA, ""), 404, "not_found", "Audience not found")
		requireError(t, e.do("POST", "/contacts", e.keyA, `{"email":"x@example.com","audience_id":"`+uuid.NewString()+`"}`),
			404, "not_found", "Audience not found")
		requireError(t, e.do("POST", "/contacts", e.keyA, `{"email":"x@example.com","audience_id":"nope"}`), 422, "invalid_parameter", "`audience_id`")
		requireError(t, e.do("GET", "/audiences/nope/contacts/"+c2, e.keyA, ""), 422, "invalid_parameter", "`audience_id`")

		// Events made through an audience name it.
		evs := e.contactEvents(e.teamA)
		require.Len(t, evs, 7) // 4 created, 1 updated, 2 deleted
		for _, i := range []int{0, 1, 2, 4, 5, 6} {
			require.Equal(t, aud, evs[i]["data"].(map[string]any)["audience_id"], "event %d", i)
			require.Equal(t, []any{aud}, evs[i]["data"].(map[string]any)["segment_ids"], "event %d", i)
		}
		require.NotContains(t, evs[3]["data"], "audience_id")
		require.Equal(t, []string{"contact.created", "contact.updated", "contact.deleted", "contact.deleted"},
			[]string{evs[0]["type"].(string), evs[4]["type"].(string), evs[5]["type"].(string), evs[6]["type"].(string)})
	})
}

// TestContactsOtherTeam: another team's contacts and segments answer as
// unknown ones, and nothing of them changes.
func TestContactsOtherTeam(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, kind sqlstore.Dialect) {
		e := setup(t, kind)
		seg := e.newSegment(e.keyA, "A's")
		ada := e.newContact(e.keyA, `{"email":"ada@example.net","segments":[{"id":"`+seg+`"}]}`)
		segB := e.newSegment(e.keyB, "B's")
		adaB := e.newContact(e.keyB, `{"email":"ada@example.net"}`) // each team has its own contacts
		require.NotEqual(t, ada, adaB)

		// By email, each team finds its own.
		require.Equal(t, adaB, e.do("GET", "/contacts/ADA@example.net", e.keyB, "").json["id"])
		for _, ref := range []string{ada, strings.ToUpper(ada)} {
			p := "/contacts/" + ref
			requireError(t, e.do("GET", p, e.keyB, ""), 404, "not_found", "Contact not found")
			requireError(t, e.do("PATCH", p, e.keyB, `{"first_name":"Eve"}`), 404, "not_found", "Contact not found")
			requireError(t, e.do("GET", p+"/segments", e.keyB, ""), 404, "not_found", "Contact not found")
			requireError(t, e.do("POST", p+"/segments/"+segB, e.keyB, ""), 404, "not_found", "Contact not found")
			requireError(t, e.do("DELETE", p+"/segments/"+segB, e.keyB, ""), 404, "not_found", "Contact not found")
			requireError(t, e.do("DELETE", p, e.keyB, ""), 404, "not_found", "Contact not found")
		}
		for _, p := range []string{"/segments/" + seg, "/audiences/" + seg} {
			requireError(t, e.do("GET", p, e.keyB, ""), 404, "not_found", "Audience not found")
			requireError(t, e.do("PATCH", p, e.keyB, `{"name":"mine"}`), 404, "not_found", "Audience not found")
			requireError(t, e.do("GET", p+"/contacts", e.keyB, ""), 404, "not_found", "Audience not found")
			// Deleting it answers as for an unknown id, and deletes nothing.
			r := e.do("DELETE", p, e.keyB, "")
			require.Equal(t, 200, r.status, "body: %s", r.body)
		}
		requireError(t, e.do("GET", "/contacts?segment_id="+seg, e.keyB, ""), 404, "not_found", "Audience not found")
		requireError(t, e.do("POST", "/contacts/"+adaB+"/segments/"+seg, e.keyB, ""), 404, "not_found", "Audience not found")
		requireError(t, e.do("POST", "/contacts", e.keyB, `{"email":"eve@example.net","segments":["`+seg+`"]}`), 404, "not_found", "Audience not found")
		requireError(t, e.do("POST", "/audiences/"+seg+"/contacts", e.keyB, `{"email":"eve@example.net"}`), 404, "not_found", "Audience not found")
		requireError(t, e.do("DELETE", "/audiences/"+seg+"/contacts/"+ada, e.keyB, ""), 404, "not_found", "Audience not found")
		// A's contact in B's audience path: B's audience, but not B's contact.
		r := e.do("DELETE", "/audiences/"+segB+"/contacts/"+ada, e.keyB, "")
		require.Equal(t, 200, r.status, "body: %s", r.body)
		requireError(t, e.do("GET", "/audiences/"+segB+"/contacts/"+ada, e.keyB, ""), 404, "not_found", "Contact not found")
		requireError(t, e.do("GET", "/contacts?after="+ada, e.keyB, ""), 422, "validation_error", "cursor")
		requireError(t, e.do("GET", "/segments?after="+seg, e.keyB, ""), 422, "validation_error", "cursor")
		require.Equal(t, []string{adaB}, listIDs(t, e.do("GET", "/contacts", e.keyB, "")))
		require.Equal(t, []string{segB}, listIDs(t, e.do("GET", "/segments", e.keyB, "")))

		// A's are intact.
		r = e.do("GET", "/contacts/ada@example.net", e.keyA, "")
		require.Equal(t, ada, r.json["id"])
		require.Nil(t, r.json["first_name"])
		require.Equal(t, "A's", e.do("GET", "/segments/"+seg, e.keyA, "").json["name"])
		require.Equal(t, []string{ada}, listIDs(t, e.do("GET", "/segments/"+seg+"/contacts", e.keyA, "")))
		require.Len(t, e.contactEvents(e.teamA), 1)

		// Only full_access keys.
		for _, c := range []struct{ method, path string }{{"POST", "/contacts"}, {"GET", "/contacts"}, {"GET", "/contacts/" + ada},
			{"PATCH", "/contacts/" + ada}, {"DELETE", "/contacts/" + ada}, {"GET", "/contacts/" + ada + "/segments"},
			{"POST", "/contacts/" + ada + "/segments/" + seg}, {"DELETE", "/contacts/" + ada + "/segments/" + seg},
			{"POST", "/segments"}, {"GET", "/segments"}, {"GET", "/segments/" + seg}, {"PATCH", "/segments/" + seg},
			{"DELETE", "/segments/" + seg}, {"GET", "/segments/" + seg + "/contacts"}, {"POST", "/audiences"}, {"GET", "/audiences"},
			{"GET", "/audiences/" + seg}, {"DELETE", "/audiences/" + seg}, {"POST", "/audiences/" + seg + "/contacts"},
			{"GET", "/audiences/" + seg + "/contacts"}, {"GET", "/audiences/" + seg + "/contacts/" + ada},
			{"PATCH", "/audiences/" + seg + "/contacts/" + ada}, {"DELETE", "/audiences/" + seg + "/contacts/" + ada}} {
			requireError(t, e.do(c.method, c.path, e.sendA, `{"email":"x@example.net","name":"x"}`), 401, "restricted_api_key")
		}
		require.Equal(t, 200, e.do("GET", "/contacts/"+ada, e.keyA, "").status)
	})
}

func TestContactsBadInput(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, kind sqlstore.Dialect) {
		e := setup(t, kind)
		seg := e.newSegment(e.keyA, "S")
		ada := e.newContact(e.keyA, `{"email":"ada@example.net"}`)
		manyProps := make([]string, 101)
		for i := range manyProps {
			manyProps[i] = fmt.Sprintf(`"p%d":"v"`, i)
		}
		manySegs := make([]string, 101)
		for i := range manySegs {
			manySegs[i] = `"` + uuid.NewString() + `"`
		}
		cases := []struct {
			method, path, body string
			status             int
			errName, msg       string
		}{
			{"POST", "/contacts", `{}`, 422, "missing_required_field", "Missing `email` field."},
			{"POST", "/contacts", `{"email":null}`, 422, "missing_required_field", "Missing `email` field."},
			{"POST", "/contacts", `{"email":"  "}`, 422, "missing_required_field", "Missing `email` field."},
			{"POST", "/contacts", `{"email":5}`, 422, "validation_error", "The `email` field must be a string."},
			{"POST", "/contacts", `{"email":"nope"}`, 422, "validation_error", "Invalid `email` field"},
			{"POST", "/contacts", `{"email":"Ada <ada2@example.net>"}`, 422, "validation_error", "Invalid `email` field"},
			{"POST", "/contacts", `{"email":"a@b@example.net"}`, 422, "validation_error", "Invalid `email` field"},
			{"POST", "/contacts", `{"email":"a@example.net\r\nBcc: x@example.net"}`, 422, "validation_error", "Invalid `email` field"},
			{"POST", "/contacts", `{"email":"a\u0000@example.net"}`, 422, "validation_error", "Invalid `email` field"},
			{"POST", "/contacts", `{"email":"` + strings.Repeat("a", 310) + `@example.net"}`, 422, "validation_error", "Invalid `email` field"},
			{"POST", "/contacts", `{"email":"x@example.net","first_name":5}`, 422, "validation_error", "The `first_name` field must be a string."},
			{"POST", "/contacts", `{"email":"x@example.net","last_name":"a\nb"}`, 422, "validation_error", "`last_name`"},
			{"POST", "/contacts", `{"email":"x@example.net","first_name":"a\u0000"}`, 422, "validation_error", "`first_name`"},
			{"POST", "/contacts", `{"email":"x@example.net","first_name":"` + strings.Repeat("a", 257) + `"}`, 422, "validation_error", "`first_name`"},
			{"POST", "/contacts", `{"email":"x@example.net","unsubscribed":"yes"}`, 422, "validation_error", "The `unsubscribed` field must be a boolean."},
			{"POST", "/contacts", `{"email":"x@example.net","properties":[1]}`, 422, "validation_error", "The `properties` field must be an object"},
			{"POST", "/contacts", `{"email":"x@example.net","properties":"a"}`, 422, "validation_error", "The `properties` field must be an object"},
			{"POST", "/contacts", `{"email":"x@example.net","properties":{"ok":true}}`, 422, "validation_error", "`properties.ok`"},
			{"POST", "/contacts", `{"email":"x@example.net","properties":{"ok":{"a":1}}}`, 422, "validation_error", "`properties.ok`"},
			{"POST", "/contacts", `{"email":"x@example.net","properties":{"ok":[1]}}`, 422, "validation_error", "`properties.ok`"},
			{"POST", "/contacts", `{"email":"x@example.net","properties":{"bad key":"v"}}`, 422, "validation_error", "Invalid `properties` key"},
			{"POST", "/contacts", `{"email":"x@example.net","properties":{"":"v"}}`, 422, "validation_error", "Invalid `properties` key"},
			{"POST", "/contacts", `{"email":"x@example.net","properties":{"` + strings.Repeat("k", 51) + `":"v"}}`, 422, "validation_error", "Invalid `properties` key"},
			{"POST", "/contacts", `{"email":"x@example.net","properties":{"k":"` + strings.Repeat("v", 2001) + `"}}`, 422, "validation_error", "`properties.k`"},
			{"POST", "/contacts", `{"email":"x@example.net","properties":{"k":"\u0000"}}`, 422, "validation_error", "`properties.k`"},
			{"POST", "/contacts", `{"email":"x@example.net","properties":{"k":1e999}}`, 422, "validation_error", "The `properties` field must be an object"},
			{"POST", "/contacts", `{"email":"x@example.net","properties":{` + strings.Join(manyProps, ",") + `}}`, 422, "validation_error", "at most 100 properties"},
			{"POST", "/contacts", `{"email":"x@example.net","segments":"` + seg + `"}`, 422, "validation_error", "The `segments` field must be an array"},
			{"POST", "/contacts", `{"email":"x@example.net","segments":{"id":"` + seg + `"}}`, 422, "validation_error", "The `segments` field must be an array"},
			{"POST", "/contacts", `{"email":"x@example.net","segments":[5]}`, 422, "validation_error", "Invalid `segments[0]` field"},
			{"POST", "/contacts", `{"email":"x@example.net","segments":[{"name":"S"}]}`, 422, "validation_error", "Invalid `segments[0]` field"},
			{"POST", "/contacts", `{"email":"x@example.net","segments":[{"id":5}]}`, 422, "validation_error", "Invalid `segments[0]` field"},
			{"POST", "/contacts", `{"email":"x@example.net","segments":[{"id":"` + seg + `"},"nope"]}`, 422, "invalid_parameter", "`segments[1].id`"},
			{"POST", "/contacts", `{"email":"x@example.net","segments":[null]}`, 422, "invalid_parameter", "`segments[0].id`"},
			{"POST", "/contacts", `{"email":"x@example.net","segments":[` + strings.Join(manySegs, ",") + `]}`, 422, "validation_error", "at most 100"},
			{"POST", "/contacts", `{"email":"x@example.net","audience_id":5}`, 422, "validation_error", "The `audience_id` field must be a string."},
			{"POST", "/contacts", `{"email":`, 400, "validation_error", "Invalid JSON"},
			{"POST", "/contacts", ``, 400, "validation_error", ""},
			{"POST", "/contacts", `[]`, 400, "validation_error", ""},

			{"PATCH", "/contacts/" + ada, `{"email":"nope"}`, 422, "validation_error", "Invalid `email` field"},
			{"PATCH", "/contacts/" + ada, `{"first_name":["a"]}`, 422, "validation_error", "The `first_name` field must be a string."},
			{"PATCH", "/contacts/" + ada, `{"unsubscribed":1}`, 422, "validation_error", "`unsubscribed`"},
			{"PATCH", "/contacts/" + ada, `{"properties":{"x":false}}`, 422, "validation_error", "`properties.x`"},
			{"PATCH", "/contacts/" + ada, `{"properties":{` + strings.Join(manyProps, ",") + `}}`, 422, "validation_error", "at most 100 properties"},
			{"PATCH", "/contacts/" + ada, `nope`, 400, "validation_error", ""},
			{"PATCH", "/contacts/nobody@example.net", `{}`, 404, "not_found", "Contact not found"},
			{"PATCH", "/contacts/not-an-id", `{}`, 404, "not_found", "Contact not found"},

			{"GET", "/contacts?limit=0", ``, 422, "validation_error", "pagination limit"},
			{"GET", "/contacts?limit=abc", ``, 422, "validation_error", "pagination limit"},
			{"GET", "/contacts?after=x", ``, 422, "invalid_parameter", "cursor"},
			{"GET", "/contacts?after=" + ada + "&before=" + ada, ``, 422, "validation_error", "`after` or `before`"},
			{"GET", "/contacts?after=" + uuid.NewString(), ``, 422, "validation_error", "cursor"},
			{"GET", "/contacts/" + ada + "/segments?limit=500", ``, 422, "validation_error", "pagination limit"},
			{"GET", "/contacts/" + ada + "/segments?after=" + uuid.NewString(), ``, 422, "validation_error", "cursor"},
			{"GET", "/segments/" + seg + "/contacts?before=" + uuid.NewString(), ``, 422, "validation_error", "cursor"},
			{"GET", "/contacts/%00@example.net", ``, 404, "not_found", "Contact not found"},
			{"GET", "/contacts/%ff%fe", ``, 404, "not_found", "Contact not found"},
			{"GET", "/contacts/" + strings.Repeat("a", 400) + "@example.net", ``, 404, "not_found", "Contact not found"},
			{"DELETE", "/contacts/nobody@example.net", ``, 404, "not_found", "Contact not found"},
			{"DELETE", "/contacts/" + uuid.NewString(), ``, 404, "not_found", "Contact not found"},
			{"GET", "/contacts/" + uuid.NewString() + "/segments", ``, 404, "not_found", "Contact not found"},
			{"DELETE", "/contacts/" + ada + "/segments/nope", ``, 422, "invalid_parameter", "`segment_id`"},
			{"DELETE", "/contacts/" + ada + "/segments/" + uuid.NewString(), ``, 404, "not_found", "Audience not found"},

			{"POST", "/segments", `{}`, 422, "missing_required_field", "Missing `name` field."},
			{"POST", "/segments", `{"name":null}`, 422, "missing_required_field", "Missing `name` field."},
			{"POST", "/segments", `{"name":" "}`, 422, "missing_required_field", "Missing `name` field."},
			{"POST", "/audiences", `{"name":5}`, 422, "validation_error", "The `name` field must be a string."},
			{"POST", "/segments", `{"name":"a\nb"}`, 422, "validation_error", "`name`"},
			{"POST", "/segments", `{"name":"a\u0000"}`, 422, "validation_error", "`name`"},
			{"POST", "/segments", `{"name":"` + strings.Repeat("n", 257) + `"}`, 422, "validation_error", "`name`"},
			{"POST", "/segments", `{"name":`, 400, "validation_error", ""},
			{"PATCH", "/segments/" + seg, `{"name":["x"]}`, 422, "validation_error", "The `name` field must be a string."},
			{"PATCH", "/segments/" + seg, ``, 400, "validation_error", ""},
			{"GET", "/segments?limit=-1", ``, 422, "validation_error", "pagination limit"},
			{"GET", "/segments?before=nope", ``, 422, "invalid_parameter", "cursor"},

			{"PUT", "/contacts", ``, 405, "method_not_allowed", ""},
			{"POST", "/segments/" + seg, ``, 405, "method_not_allowed", ""},
			{"PATCH", "/contacts/" + ada + "/segments", ``, 405, "method_not_allowed", ""},
		}
		for _, c := range cases {
			r := e.do(c.method, c.path, e.keyA, c.body)
			msg := []string{}
			if c.msg != "" {
				msg = append(msg, c.msg)
			}
			t.Run("", func(t *testing.T) {
				requireError(t, r, c.status, c.errName, msg...)
			})
		}
		require.Equal(t, []string{ada}, listIDs(t, e.do("GET", "/contacts", e.keyA, "")), "no bad request created a contact")
		require.Equal(t, []string{seg}, listIDs(t, e.do("GET", "/segments", e.keyA, "")), "no bad request created a segment")
		r := e.do("GET", "/contacts/"+ada, e.keyA, "")
		require.Equal(t, map[string]any{}, r.json["properties"])
		require.Len(t, e.contactEvents(e.teamA), 1, "no bad request recorded an event")
	})
}
