package api

import (
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/godwit/godwit/internal/store/sqlstore"
)

// resendOperations reads every path of Resend's OpenAPI document with its methods.
func resendOperations(t *testing.T) map[string][]string {
	t.Helper()
	doc, err := openapi3.NewLoader().LoadFromFile("testdata/resend-openapi.yaml")
	require.NoError(t, err)
	out := map[string][]string{}
	for path, item := range doc.Paths.Map() {
		for method := range item.Operations() {
			out[path] = append(out[path], method)
		}
		slices.Sort(out[path])
	}
	return out
}

func TestResendPathsMatchOpenAPI(t *testing.T) {
	t.Parallel()
	ours := map[string][]string{}
	for _, p := range resendPaths {
		require.NotContains(t, ours, p.path, "listed twice")
		ours[p.path] = strings.Fields(p.methods)
		require.True(t, slices.IsSorted(ours[p.path]), p.path)
	}
	require.Equal(t, resendOperations(t), ours, "resendPaths is Resend's OpenAPI document, path for path")
}

// TestRoutingWalk sends every operation of Resend's OpenAPI document, and
// every other method on each of its paths, to Godwit: each answers as the
// route it names or in Resend's envelope (404 for what Godwit does not
// have, 405 with Allow for another method), never a 500 and never a
// complaint that a fixed path segment is not a UUID.
func TestRoutingWalk(t *testing.T) {
	t.Parallel()
	e := setup(t, sqlstore.SQLite)
	id := uuid.NewString()
	for path, methods := range resendOperations(t) {
		concrete := path
		for strings.Contains(concrete, "{") {
			i, j := strings.Index(concrete, "{"), strings.Index(concrete, "}")
			concrete = concrete[:i] + id + concrete[j+1:]
		}
		for _, method := range fallbackMethods {
			t.Run(method+" "+path, func(t *testing.T) {
				body := ""
				if method != http.MethodGet && method != http.MethodDelete {
					body = "{}"
				}
				r := e.do(method, concrete, e.keyA, body)
				require.NotEqual(t, 500, r.status, "body: %s", r.body)
				require.NotContains(t, string(r.body), "valid UUID", "a fixed segment of %s taken for an id", path)
				if r.status >= 300 {
					require.EqualValues(t, r.status, r.json["statusCode"], "Resend's envelope: %s", r.body)
					require.NotEmpty(t, r.json["name"], "body: %s", r.body)
				}
				msg, _ := r.json["message"].(string)
				if slices.Contains(methods, method) {
					require.NotEqual(t, 405, r.status, "Resend has %s %s: %s", method, path, r.body)
					if r.status == 404 && strings.Contains(msg, "not available in Godwit") {
						require.Equal(t, "`"+method+" "+path+"` is part of Resend's API but is not available in Godwit.", msg)
					}
					return
				}
				// A method Resend does not have on the path: a 405 naming
				// the path's methods, unless Godwit has it too.
				if r.status == 405 {
					require.Equal(t, "method_not_allowed", r.json["name"])
					allow := strings.Split(r.header.Get("Allow"), ", ")
					for _, m := range methods {
						require.Contains(t, allow, m, "Allow: %q", r.header.Get("Allow"))
					}
					return
				}
				require.NotContains(t, msg, "not available in Godwit", "%s %s is not Resend's", method, path)
			})
		}
	}
}

func TestRoutingFixedPaths(t *testing.T) {
	t.Parallel()
	e := setup(t, sqlstore.SQLite)
	id := uuid.NewString()
	for _, tc := range []struct {
		method, path string
		status       int
		allow        string // the 405's Allow
		message      string
	}{
		{"GET", "/emails/batch", 405, "POST", ""},
		{"PATCH", "/emails/batch", 405, "POST", ""},
		{"DELETE", "/emails/batch", 405, "POST", ""},
		{"GET", "/emails/receiving/" + id, 404, "", "Email not found"},
		{"GET", "/emails/receiving/" + id + "/attachments", 404, "", "Email not found"},
		{"GET", "/emails/receiving/" + id + "/attachments/" + id, 404, "", "Email not found"},
		{"GET", "/emails/" + id + "/nope/attachments", 404, "", "The requested endpoint does not exist."},
		{"GET", "/emails/receiving/" + id + "/nope", 404, "", "The requested endpoint does not exist."},
		{"POST", "/emails/receiving", 405, "GET", ""},
		{"PUT", "/emails/" + id, 405, "GET, PATCH", ""},
		{"DELETE", "/contacts/imports", 405, "GET, POST", ""},
		{"PATCH", "/contacts/imports", 405, "GET, POST", ""},
		{"GET", "/domains/claim", 405, "POST", ""},
		{"GET", "/domains/" + id + "/claim", 404, "", "Domain claim not found"},
		{"GET", "/domains/" + id + "/claim/verify", 405, "POST", ""},
		{"PUT", "/automations", 405, "GET, POST", ""},
		{"GET", "/events/send", 405, "POST", ""}, // the fixed path, not /events/{identifier}
		{"GET", "/oauth/grants", 404, "", "not available in Godwit"},
		{"PUT", "/segments/" + id, 405, "GET, PATCH, DELETE", ""}, // Godwit has PATCH too
		{"GET", "/segments/metrics", 404, "", "`GET /segments/metrics` is part of Resend's API but is not available in Godwit."},
		{"PATCH", "/segments/metrics", 405, "GET", ""},
		{"GET", "/broadcasts/metrics", 404, "", "not available in Godwit"},
		{"GET", "/usage", 404, "", "not available in Godwit"},
		{"GET", "/nope", 404, "", "The requested endpoint does not exist."},
		{"GET", "/emails/" + id + "/nope", 404, "", "The requested endpoint does not exist."},
	} {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			req, err := http.NewRequest(tc.method, e.srv.URL+tc.path, nil)
			require.NoError(t, err)
			req.Header.Set("Authorization", "Bearer "+e.keyA)
			resp, err := e.srv.Client().Do(req)
			require.NoError(t, err)
			resp.Body.Close()
			require.Equal(t, tc.status, resp.StatusCode)
			require.Equal(t, tc.allow, resp.Header.Get("Allow"))
			if tc.method == "HEAD" {
				return
			}
			r := e.do(tc.method, tc.path, e.keyA, "")
			want := "not_found"
			if tc.status == 405 {
				want = "method_not_allowed"
			}
			requireError(t, r, tc.status, want, tc.message)
		})
	}
	// The routes Godwit has keep their own answers.
	require.Equal(t, 200, e.do("GET", "/emails/receiving", e.keyA, "").status)
	requireError(t, e.do("GET", "/emails/receiving/nope", e.keyA, ""), 422, "invalid_parameter", "`email_id`")
	requireError(t, e.do("GET", "/emails/"+id+"/attachments", e.keyA, ""), 404, "not_found", "Email not found")
	requireError(t, e.do("GET", "/emails/"+id, e.keyA, ""), 404, "not_found", "Email not found")
	requireError(t, e.do("GET", "/emails/nope", e.keyA, ""), 422, "invalid_parameter", "valid UUID")
	requireError(t, e.do("GET", "/contacts/imports/"+id, e.keyA, ""), 404, "not_found", "Contact import not found")
	requireError(t, e.do("POST", "/domains/claim", e.keyA, ""), 400, "validation_error", "Invalid JSON body")
	require.Equal(t, 200, e.do("GET", "/contacts/imports", e.keyA, "").status)
	requireError(t, e.do("GET", "/segments/"+id, e.keyA, ""), 404, "not_found")
	requireError(t, e.do("GET", "/broadcasts/"+id, e.keyA, ""), 404, "not_found", "Broadcast not found")
}
