package api

import (
	"strings"
	"testing"
	"time"

	"github.com/godwit/godwit/internal/store/sqlstore"
	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
)

// newProperty creates a contact property through the API and returns its id.
func (e *testEnv) newProperty(key, body string) string {
	e.t.Helper()
	r := e.do("POST", "/contact-properties", key, body)
	require.Equal(e.t, 201, r.status, "body: %s", r.body)
	require.Equal(e.t, []string{"id", "object"}, keysOf(r.json))
	require.Equal(e.t, "contact_property", r.json["object"])
	return r.json["id"].(string)
}

func TestContactProperties(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, kind sqlstore.Dialect) {
		e := setup(t, kind)
		// With a fallback of the type, without one, and with null (the Go SDK's unset).
		plan := e.newProperty(e.keyA, `{"key":"plan","type":"string","fallback_value":"free"}`)
		e.clock.Advance(time.Second)
		seats := e.newProperty(e.keyA, `{"key":"seats","type":"number","fallback_value":0}`)
		e.clock.Advance(time.Second)
		company := e.newProperty(e.keyA, `{"key":"Company_Name_2","type":"string","fallback_value":null}`)
		e.clock.Advance(time.Second)
		ltv := e.newProperty(e.keyA, `{"key":"ltv","type":"number"}`)

		r := e.do("GET", "/contact-properties/"+plan, e.keyA, "")
		require.Equal(t, 200, r.status, "body: %s", r.body)
		require.Equal(t, map[string]any{"object": "contact_property", "id": plan, "key": "plan", "type": "string",
			"fallback_value": "free", "created_at": "2026-11-28 12:00:00+00"}, r.json)
		r = e.do("GET", "/contact-properties/"+strings.ToUpper(seats), e.keyA, "")
		require.Equal(t, map[string]any{"object": "contact_property", "id": seats, "key": "seats", "type": "number",
			"fallback_value": float64(0), "created_at": "2026-11-28 12:00:01+00"}, r.json)
		r = e.do("GET", "/contact-properties/"+company, e.keyA, "")
		require.Equal(t, nil, r.json["fallback_value"])
		require.Contains(t, r.json, "fallback_value", "an unset fallback is null, not absent")

		// The list: newest first, paginated.
		r = e.do("GET", "/contact-properties", e.keyA, "")
		require.Equal(t, []string{ltv, company, seats, plan}, listIDs(t, r))
		require.Equal(t, false, r.json["has_more"])
		require.Equal(t, map[string]any{"id": plan, "key": "plan", "type": "string", "fallback_value": "free",
			"created_at": "2026-11-28 12:00:00+00"}, r.json["data"].([]any)[3])
		r = e.do("GET", "/contact-properties?limit=2", e.keyA, "")
		require.Equal(t, []string{ltv, company}, listIDs(t, r))
		require.Equal(t, true, r.json["has_more"])
		r = e.do("GET", "/contact-properties?limit=2&after="+company, e.keyA, "")
		require.Equal(t, []string{seats, plan}, listIDs(t, r))
		require.Equal(t, false, r.json["has_more"])
		require.Equal(t, []string{ltv}, listIDs(t, e.do("GET", "/contact-properties?before="+company, e.keyA, "")))
		requireError(t, e.do("GET", "/contact-properties?after="+uuid.NewString(), e.keyA, ""), 422, "validation_error", "cursor")

		// A key is unique per team (exactly: another case is another key).
		requireError(t, e.do("POST", "/contact-properties", e.keyA, `{"key":"plan","type":"number"}`),
			409, "validation_error", "A contact property with the key `plan` already exists.")
		planB := e.newProperty(e.keyB, `{"key":"plan","type":"number","fallback_value":1.5}`)
		e.newProperty(e.keyA, `{"key":"Plan","type":"string"}`)

		// PATCH: only the fallback; null clears it, absent keeps it.
		r = e.do("PATCH", "/contact-properties/"+plan, e.keyA, `{"fallback_value":"basic"}`)
		require.Equal(t, 200, r.status, "body: %s", r.body)
		require.Equal(t, map[string]any{"object": "contact_property", "id": plan}, r.json)
		require.Equal(t, "basic", e.do("GET", "/contact-properties/"+plan, e.keyA, "").json["fallback_value"])
		require.Equal(t, 200, e.do("PATCH", "/contact-properties/"+plan, e.keyA, `{}`).status)
		require.Equal(t, 200, e.do("PATCH", "/contact-properties/"+plan, e.keyA, `{"key":"plan","type":"string"}`).status)
		require.Equal(t, "basic", e.do("GET", "/contact-properties/"+plan, e.keyA, "").json["fallback_value"])
		require.Equal(t, 200, e.do("PATCH", "/contact-properties/"+plan, e.keyA, `{"fallback_value":null}`).status)
		require.Nil(t, e.do("GET", "/contact-properties/"+plan, e.keyA, "").json["fallback_value"])
		require.Equal(t, 200, e.do("PATCH", "/contact-properties/"+seats, e.keyA, `{"fallback_value":-2.25}`).status)
		require.Equal(t, -2.25, e.do("GET", "/contact-properties/"+seats, e.keyA, "").json["fallback_value"])
		requireError(t, e.do("PATCH", "/contact-properties/"+seats, e.keyA, `{"fallback_value":"3"}`),
			422, "validation_error", "must be a number")
		requireError(t, e.do("PATCH", "/contact-properties/"+seats, e.keyA, `{"type":"string"}`),
			422, "validation_error", "The `type` of a contact property cannot be changed")
		requireError(t, e.do("PATCH", "/contact-properties/"+seats, e.keyA, `{"key":"chairs","fallback_value":1}`),
			422, "validation_error", "The `key` of a contact property cannot be changed")
		require.Equal(t, -2.25, e.do("GET", "/contact-properties/"+seats, e.keyA, "").json["fallback_value"])

		// Contacts: a declared key's values must be of its type (null unsets
		// any); undeclared keys are accepted as they are.
		requireError(t, e.do("POST", "/contacts", e.keyA, `{"email":"ada@example.net","properties":{"seats":"three"}}`),
			422, "validation_error", "The `properties.seats` value must be a number: the contact property `seats` is of type `number`.")
		requireError(t, e.do("POST", "/contacts", e.keyA, `{"email":"ada@example.net","properties":{"plan":5,"seats":"x"}}`),
			422, "validation_error", "`properties.plan` value must be a string")
		ada := e.newContact(e.keyA, `{"email":"ada@example.net","properties":{"plan":"pro","seats":3,"ltv":null,"city":"London","age":"36"}}`)
		r = e.do("GET", "/contacts/"+ada, e.keyA, "")
		require.Equal(t, map[string]any{"plan": "pro", "seats": float64(3), "city": "London", "age": "36"}, r.json["properties"],
			"only stored values: no fallbacks for declared keys the contact lacks")
		requireError(t, e.do("PATCH", "/contacts/"+ada, e.keyA, `{"properties":{"seats":"4"}}`),
			422, "validation_error", "`properties.seats`")
		requireError(t, e.do("PATCH", "/contacts/ada@example.net", e.keyA, `{"properties":{"Company_Name_2":7}}`),
			422, "validation_error", "`properties.Company_Name_2`")
		r = e.do("PATCH", "/contacts/"+ada, e.keyA, `{"properties":{"seats":4,"plan":null,"company_name_2":7,"PLAN":1}}`)
		require.Equal(t, 200, r.status, "body: %s", r.body)
		r = e.do("GET", "/contacts/"+ada, e.keyA, "")
		require.Equal(t, map[string]any{"seats": float64(4), "city": "London", "age": "36", "company_name_2": float64(7), "PLAN": float64(1)},
			r.json["properties"], "keys are compared exactly")
		// Another team's declarations do not apply.
		e.newContact(e.keyB, `{"email":"ada@example.net","properties":{"seats":"many","plan":2}}`)
		requireError(t, e.do("POST", "/contacts", e.keyB, `{"email":"bob@example.net","properties":{"plan":"pro"}}`),
			422, "validation_error", "`properties.plan` value must be a number")

		// Deleting a property keeps contacts' values; the key is then undeclared.
		r = e.do("DELETE", "/contact-properties/"+seats, e.keyA, "")
		require.Equal(t, 200, r.status, "body: %s", r.body)
		require.Equal(t, map[string]any{"object": "contact_property", "id": seats, "deleted": true}, r.json)
		requireError(t, e.do("GET", "/contact-properties/"+seats, e.keyA, ""), 404, "not_found", "Contact property not found")
		requireError(t, e.do("DELETE", "/contact-properties/"+seats, e.keyA, ""), 404, "not_found", "Contact property not found")
		require.Equal(t, float64(4), e.do("GET", "/contacts/"+ada, e.keyA, "").json["properties"].(map[string]any)["seats"])
		require.Equal(t, 200, e.do("PATCH", "/contacts/"+ada, e.keyA, `{"properties":{"seats":"four"}}`).status)
		e.newProperty(e.keyA, `{"key":"seats","type":"string"}`)

		// Another team's properties answer as unknown ones, and stay intact.
		for _, c := range []struct{ method, body string }{{"GET", ""}, {"PATCH", `{"fallback_value":3}`}, {"DELETE", ""}} {
			requireError(t, e.do(c.method, "/contact-properties/"+planB, e.keyA, c.body), 404, "not_found", "Contact property not found")
		}
		requireError(t, e.do("GET", "/contact-properties?after="+planB, e.keyA, ""), 422, "validation_error", "cursor")
		r = e.do("GET", "/contact-properties/"+planB, e.keyB, "")
		require.Equal(t, 1.5, r.json["fallback_value"])
		require.Equal(t, []string{planB}, listIDs(t, e.do("GET", "/contact-properties", e.keyB, "")))

		// Only full_access keys.
		for _, c := range []struct{ method, path string }{{"POST", "/contact-properties"}, {"GET", "/contact-properties"},
			{"GET", "/contact-properties/" + plan}, {"PATCH", "/contact-properties/" + plan}, {"DELETE", "/contact-properties/" + plan}} {
			requireError(t, e.do(c.method, c.path, e.sendA, `{"key":"k","type":"string"}`), 401, "restricted_api_key")
		}
		require.Equal(t, 200, e.do("GET", "/contact-properties/"+plan, e.keyA, "").status)
	})
}

func TestContactPropertiesBadInput(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, kind sqlstore.Dialect) {
		e := setup(t, kind)
		num := e.newProperty(e.keyA, `{"key":"n","type":"number"}`)
		str := e.newProperty(e.keyA, `{"key":"s","type":"string"}`)
		cases := []struct {
			method, path, body string
			status             int
			errName, msg       string
		}{
			{"POST", "/contact-properties", `{"type":"string"}`, 422, "missing_required_field", "Missing `key` field."},
			{"POST", "/contact-properties", `{"key":null,"type":"string"}`, 422, "missing_required_field", "Missing `key` field."},
			{"POST", "/contact-properties", `{"key":"","type":"string"}`, 422, "missing_required_field", "Missing `key` field."},
			{"POST", "/contact-properties", `{"key":5,"type":"string"}`, 422, "validation_error", "The `key` field must be a string."},
			{"POST", "/contact-properties", `{"key":"bad key","type":"string"}`, 422, "validation_error", "Invalid `key` field"},
			{"POST", "/contact-properties", `{"key":"bad-key","type":"string"}`, 422, "validation_error", "Invalid `key` field"},
			{"POST", "/contact-properties", `{"key":"clé","type":"string"}`, 422, "validation_error", "Invalid `key` field"},
			{"POST", "/contact-properties", `{"key":"` + strings.Repeat("k", 51) + `","type":"string"}`, 422, "validation_error", "Invalid `key` field"},
			{"POST", "/contact-properties", `{"key":"k"}`, 422, "missing_required_field", "Missing `type` field."},
			{"POST", "/contact-properties", `{"key":"k","type":""}`, 422, "missing_required_field", "Missing `type` field."},
			{"POST", "/contact-properties", `{"key":"k","type":"boolean"}`, 422, "validation_error", "The `type` field must be `string` or `number`."},
			{"POST", "/contact-properties", `{"key":"k","type":"String"}`, 422, "validation_error", "The `type` field must be `string` or `number`."},
			{"POST", "/contact-properties", `{"key":"k","type":1}`, 422, "validation_error", "The `type` field must be a string."},
			{"POST", "/contact-properties", `{"key":"k","type":"string","fallback_value":1}`, 422, "validation_error", "The `fallback_value` field must be a string, as the property's `type` is `string`."},
			{"POST", "/contact-properties", `{"key":"k","type":"number","fallback_value":"1"}`, 422, "validation_error", "The `fallback_value` field must be a number, as the property's `type` is `number`."},
			{"POST", "/contact-properties", `{"key":"k","type":"number","fallback_value":true}`, 422, "validation_error", "must be a number"},
			{"POST", "/contact-properties", `{"key":"k","type":"string","fallback_value":["a"]}`, 422, "validation_error", "must be a string"},
			{"POST", "/contact-properties", `{"key":"k","type":"string","fallback_value":{"a":1}}`, 422, "validation_error", "must be a string"},
			{"POST", "/contact-properties", `{"key":"k","type":"number","fallback_value":1e999}`, 422, "validation_error", "The `fallback_value` field must be a string, a number or null."},
			{"POST", "/contact-properties", `{"key":"k","type":"string","fallback_value":"` + strings.Repeat("v", 2001) + `"}`, 422, "validation_error", "at most 2000 characters"},
			{"POST", "/contact-properties", `{"key":"k","type":"string","fallback_value":"\u0000"}`, 422, "validation_error", "at most 2000 characters"},
			{"POST", "/contact-properties", `{"key":`, 400, "validation_error", "Invalid JSON"},
			{"POST", "/contact-properties", ``, 400, "validation_error", ""},
			{"POST", "/contact-properties", `[]`, 400, "validation_error", ""},

			{"PATCH", "/contact-properties/" + num, `{"fallback_value":"x"}`, 422, "validation_error", "must be a number"},
			{"PATCH", "/contact-properties/" + str, `{"fallback_value":2}`, 422, "validation_error", "must be a string"},
			{"PATCH", "/contact-properties/" + str, `{"fallback_value":false}`, 422, "validation_error", "must be a string"},
			{"PATCH", "/contact-properties/" + str, `{"type":5}`, 422, "validation_error", "The `type` of a contact property cannot be changed"},
			{"PATCH", "/contact-properties/" + str, `nope`, 400, "validation_error", ""},
			{"PATCH", "/contact-properties/" + uuid.NewString(), `{}`, 404, "not_found", "Contact property not found"},
			{"PATCH", "/contact-properties/nope", `{}`, 422, "invalid_parameter", "The `id` must be a valid UUID."},
			{"GET", "/contact-properties/nope", ``, 422, "invalid_parameter", "`id`"},
			{"GET", "/contact-properties/" + uuid.NewString(), ``, 404, "not_found", "Contact property not found"},
			{"DELETE", "/contact-properties/nope", ``, 422, "invalid_parameter", "`id`"},
			{"DELETE", "/contact-properties/" + uuid.NewString(), ``, 404, "not_found", "Contact property not found"},
			{"GET", "/contact-properties?limit=0", ``, 422, "validation_error", "pagination limit"},
			{"GET", "/contact-properties?limit=101", ``, 422, "validation_error", "pagination limit"},
			{"GET", "/contact-properties?after=x", ``, 422, "invalid_parameter", "cursor"},
			{"GET", "/contact-properties?after=" + num + "&before=" + str, ``, 422, "validation_error", "`after` or `before`"},

			{"PUT", "/contact-properties", ``, 405, "method_not_allowed", ""},
			{"POST", "/contact-properties/" + num, ``, 405, "method_not_allowed", ""},
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
		require.Equal(t, []string{str, num}, listIDs(t, e.do("GET", "/contact-properties", e.keyA, "")), "no bad request created a property")
		for id, want := range map[string]any{num: nil, str: nil} {
			r := e.do("GET", "/contact-properties/"+id, e.keyA, "")
			require.Equal(t, want, r.json["fallback_value"], "no bad request changed a property")
		}
	})
}
