package api

import (
	"context"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/godwit/godwit/internal/store"
	"github.com/godwit/godwit/internal/store/sqlstore"
)

// TestReceivingRulesAPI: a domain's routing rules and catch-all setting,
// through the real router: validation 422s, a forward's sender held to the
// sending gate (403 as POST /emails), one rule per match (409), another
// team's domain or rule a 404.
func TestReceivingRulesAPI(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, kind sqlstore.Dialect) {
		e := setup(t, kind)
		base := "/domains/" + e.domainA + "/receiving-rules"

		r := e.do("GET", base, e.keyA, "")
		require.Equal(t, 200, r.status, "body: %s", r.body)
		require.JSONEq(t, `{"object":"list","has_more":false,"data":[]}`, string(r.body))

		r = e.do("POST", base, e.keyA, `{"match":"Support@Example.com","action":"forward","forward_to":"Me <me@example.net>","forward_from":"Fwd <fwd@example.com>"}`)
		require.Equal(t, 201, r.status, "body: %s", r.body)
		fwdID := r.json["id"].(string)
		require.Equal(t, "receiving_rule", r.json["object"])
		require.Equal(t, e.domainA, r.json["domain_id"])
		require.Equal(t, "support", r.json["match"])
		require.Equal(t, "forward", r.json["action"])
		require.Equal(t, "Me <me@example.net>", r.json["forward_to"])
		require.Equal(t, "Fwd <fwd@example.com>", r.json["forward_from"])

		r = e.do("POST", base, e.keyA, `{"match":"*","action":"drop"}`)
		require.Equal(t, 201, r.status, "body: %s", r.body)
		require.Nil(t, r.json["forward_to"])
		dropID := r.json["id"].(string)

		for _, c := range []struct{ body, name, msg string }{
			{`{"action":"store"}`, "missing_required_field", "match"},
			{`{"match":"a"}`, "missing_required_field", "action"},
			{`{"match":"a","action":"bounce"}`, "validation_error", "action"},
			{`{"match":"a b","action":"store"}`, "validation_error", "match"},
			{`{"match":"a@example.org","action":"store"}`, "validation_error", "example.com"},
			{`{"match":"a","action":"forward","forward_from":"fwd@example.com"}`, "missing_required_field", "forward_to"},
			{`{"match":"a","action":"forward","forward_to":"me@example.net"}`, "missing_required_field", "forward_from"},
			{`{"match":"a","action":"forward","forward_to":"not an address","forward_from":"fwd@example.com"}`, "validation_error", "forward_to"},
			{`{"match":"a","action":"store","forward_to":"me@example.net"}`, "validation_error", "forward"},
			{`{"match":"a","action":"store","forward_to":5}`, "validation_error", "forward_to"},
		} {
			requireError(t, e.do("POST", base, e.keyA, c.body), 422, c.name, c.msg)
		}
		// The forward's sender passes the gate of POST /emails.
		requireError(t, e.do("POST", base, e.keyA, `{"match":"a","action":"forward","forward_to":"me@example.net","forward_from":"x@example.org"}`),
			403, "validation_error", "example.org")
		requireError(t, e.do("POST", base, e.keyA, `{"match":"support","action":"store"}`), 409, "validation_error", "support")

		r = e.do("GET", base, e.keyA, "")
		require.Equal(t, 200, r.status)
		data := r.json["data"].([]any)
		require.Len(t, data, 2)
		require.Equal(t, dropID, data[0].(map[string]any)["id"], "the domain's rule first")

		// Another team sees none of it.
		requireError(t, e.do("GET", base, e.keyB, ""), 404, "not_found")
		requireError(t, e.do("POST", base, e.keyB, `{"match":"x","action":"store"}`), 404, "not_found")
		requireError(t, e.do("GET", base+"/"+fwdID, e.keyB, ""), 404, "not_found")
		requireError(t, e.do("DELETE", base+"/"+fwdID, e.keyB, ""), 404, "not_found")
		requireError(t, e.do("GET", base+"/"+uuid.NewString(), e.keyA, ""), 404, "not_found")
		requireError(t, e.do("GET", base+"/nope", e.keyA, ""), 422, "invalid_parameter")
		requireError(t, e.do("GET", base, e.sendA, ""), 401, "restricted_api_key")

		// PATCH: to store clears the forward; fields left out keep their values.
		r = e.do("PATCH", base+"/"+fwdID, e.keyA, `{"action":"store"}`)
		require.Equal(t, 200, r.status, "body: %s", r.body)
		require.Equal(t, "support", r.json["match"])
		require.Nil(t, r.json["forward_to"])
		requireError(t, e.do("PATCH", base+"/"+fwdID, e.keyA, `{"action":"forward"}`), 422, "missing_required_field", "forward_to")
		requireError(t, e.do("PATCH", base+"/"+fwdID, e.keyA, `{"match":"*"}`), 409, "validation_error")
		r = e.do("PATCH", base+"/"+fwdID, e.keyA, `{"match":"help","action":"reject"}`)
		require.Equal(t, 200, r.status, "body: %s", r.body)
		got, err := e.db.GetReceivingRule(context.Background(), e.teamA, e.domainA, fwdID)
		require.NoError(t, err)
		require.Equal(t, "help", got.Match)
		require.Equal(t, store.RuleReject, got.Action)
		r = e.do("GET", base+"/"+fwdID, e.keyA, "")
		require.Equal(t, 200, r.status)
		require.Equal(t, "reject", r.json["action"])

		r = e.do("DELETE", base+"/"+dropID, e.keyA, "")
		require.Equal(t, 200, r.status, "body: %s", r.body)
		require.JSONEq(t, `{"object":"receiving_rule","id":"`+dropID+`","deleted":true}`, string(r.body))
		requireError(t, e.do("GET", base+"/"+dropID, e.keyA, ""), 404, "not_found")

		// Catch-all: on by default.
		settings := "/domains/" + e.domainA + "/receiving"
		r = e.do("GET", settings, e.keyA, "")
		require.Equal(t, 200, r.status, "body: %s", r.body)
		require.JSONEq(t, `{"object":"receiving_settings","domain_id":"`+e.domainA+`","catch_all":true}`, string(r.body))
		r = e.do("PATCH", settings, e.keyA, `{"catch_all":false}`)
		require.Equal(t, 200, r.status, "body: %s", r.body)
		require.Equal(t, false, r.json["catch_all"])
		r = e.do("GET", settings, e.keyA, "")
		require.Equal(t, false, r.json["catch_all"])
		requireError(t, e.do("PATCH", settings, e.keyA, `{"catch_all":"yes"}`), 422, "validation_error", "catch_all")
		requireError(t, e.do("PATCH", settings, e.keyA, `{"catch_all":null}`), 422, "validation_error", "catch_all")
		requireError(t, e.do("PATCH", settings, e.keyB, `{"catch_all":true}`), 404, "not_found")
		route, err := e.db.ReceivingRoute(context.Background(), e.domainA, "anyone")
		require.NoError(t, err)
		require.False(t, route.CatchAll)
	})
}
