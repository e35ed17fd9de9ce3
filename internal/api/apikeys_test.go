package api

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"testing"
	"time"

	"github.com/godwit/godwit/internal/store/sqlstore"
	"github.com/resend/resend-go/v3"
	"github.com/stretchr/testify/require"
)

func TestAPIKeys(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, kind sqlstore.Dialect) {
		e := setup(t, kind)
		r := e.do("POST", "/api-keys", e.keyA, `{"name":"ci","permission":"sending_access"}`)
		require.Equal(t, 201, r.status, "body: %s", r.body)
		id, token := r.json["id"].(string), r.json["token"].(string)
		require.Regexp(t, `^re_`, token)
		e.send(token, simpleEmail) // works at once
		requireError(t, e.do("GET", "/api-keys", token, ""), 401, "restricted_api_key")

		r = e.do("POST", "/api-keys", e.keyA, `{"name":""}`)
		require.Equal(t, 201, r.status, "an empty name is accepted, as by Resend")
		requireError(t, e.do("POST", "/api-keys", e.keyA, `{}`), 422, "missing_required_field", "Missing `name` field.")
		requireError(t, e.do("POST", "/api-keys", e.keyA, `{"name":5}`), 422, "validation_error", "`name`")
		requireError(t, e.do("POST", "/api-keys", e.keyA, `{"name":"x","permission":"admin"}`), 422, "validation_error", "permission")
		requireError(t, e.do("POST", "/api-keys", e.keyA, `{"name":"x","domain_id":"00000000-0000-4000-8000-000000000000"}`), 422, "validation_error", "sending_access")
		requireError(t, e.do("POST", "/api-keys", e.keyA, `{"name":"x","permission":"sending_access","domain_id":"00000000-0000-4000-8000-000000000000"}`), 404, "not_found")
		requireError(t, e.do("POST", "/api-keys", e.keyA, `{"name":`), 400, "validation_error")

		// Legacy listing: everything without pagination parameters, never tokens.
		r = e.do("GET", "/api-keys", e.keyA, "")
		require.Equal(t, 200, r.status)
		data := r.json["data"].([]any)
		require.Len(t, data, 4) // two from setup, two created here
		require.NotContains(t, string(r.body), "re_")
		first := data[0].(map[string]any)
		require.Equal(t, []string{"created_at", "id", "last_used_at", "name"}, keysOf(first))
		require.Len(t, e.do("GET", "/api-keys", e.keyB, "").json["data"], 1, "another team's keys are not listed")

		r = e.do("GET", "/api-keys?limit=2", e.keyA, "")
		require.Len(t, r.json["data"], 2)
		require.Equal(t, true, r.json["has_more"])
		second := r.json["data"].([]any)[1].(map[string]any)["id"].(string)
		r = e.do("GET", "/api-keys?limit=2&after="+second, e.keyA, "")
		require.Len(t, r.json["data"], 2)
		require.Equal(t, false, r.json["has_more"])
		requireError(t, e.do("GET", "/api-keys?limit=0", e.keyA, ""), 422, "validation_error")

		r = e.do("PATCH", "/api-keys/"+id, e.keyA, `{"name":"renamed"}`)
		require.Equal(t, 200, r.status)
		require.Equal(t, map[string]any{"object": "api_key", "id": id}, r.json)
		requireError(t, e.do("PATCH", "/api-keys/"+id, e.keyB, `{"name":"stolen"}`), 404, "not_found", "API key not found")
		requireError(t, e.do("PATCH", "/api-keys/"+id, e.keyA, `{}`), 422, "missing_required_field")

		// last_used_at is recorded (off the request path).
		deadline := time.Now().Add(5 * time.Second)
		for {
			k, err := e.db.GetAPIKey(context.Background(), e.teamA, id)
			require.NoError(t, err)
			if k.LastUsedAt != nil {
				require.Equal(t, "renamed", k.Name)
				break
			}
			require.True(t, time.Now().Before(deadline), "last_used_at was never recorded")
			time.Sleep(10 * time.Millisecond)
		}

		requireError(t, e.do("DELETE", "/api-keys/"+id, e.keyB, ""), 404, "not_found", "API key not found")
		requireError(t, e.do("DELETE", "/api-keys/00000000-0000-0000-0000-000000000000", e.keyA, ""), 404, "not_found", "API key not found")
		requireError(t, e.do("DELETE", "/api-keys/nope", e.keyA, ""), 422, "invalid_parameter")
		r = e.do("DELETE", "/api-keys/"+id, e.keyA, "")
		require.Equal(t, 200, r.status)
		require.Equal(t, map[string]any{"object": "api_key", "id": id, "deleted": true}, r.json)
		requireError(t, e.do("POST", "/emails", token, simpleEmail), 403, "invalid_api_key") // at once, though cached
	})
}

func keysOf(m map[string]any) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func TestGoSDKAPIKeys(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, kind sqlstore.Dialect) {
		e := setup(t, kind)
		client := resend.NewClient(e.keyA)
		client.BaseURL, _ = url.Parse(e.srv.URL + "/")
		e.clock.Advance(time.Second) // created after the setup's keys
		created, err := client.ApiKeys.Create(&resend.CreateApiKeyRequest{Name: "sdk", Permission: "sending_access"})
		require.NoError(t, err)
		require.NotEmpty(t, created.Token)
		list, err := client.ApiKeys.List()
		require.NoError(t, err)
		require.Len(t, list.Data, 3)
		require.Equal(t, "sdk", list.Data[0].Name, "newest first")
		ok, err := client.ApiKeys.Remove(created.Id)
		require.NoError(t, err)
		require.True(t, ok)
		_, err = client.ApiKeys.Remove(created.Id)
		require.ErrorContains(t, err, "API key not found")
	})
}

// TestKeyRevokedOnEveryNode: two API nodes on one PostgreSQL database; a key
// deleted through one stops working on the other at once, though the other
// had it cached.
func TestKeyRevokedOnEveryNode(t *testing.T) {
	t.Parallel()
	e := setup(t, sqlstore.Postgres)
	node2 := New(Deps{Store: e.db, Now: e.clock.Now, DefaultRateLimit: 10000, Domains: e.handler.Domains})
	srv2 := httptest.NewServer(node2)
	t.Cleanup(srv2.Close)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	t.Cleanup(func() { cancel(); <-done })
	forgotten := make(chan string, 64)
	go func() {
		defer close(done)
		e.db.KeyRevocations(ctx, e.dbURL, func(prefix string) {
			node2.ForgetKey(prefix)
			select {
			case forgotten <- prefix:
			default:
			}
		}, func(err error) { t.Logf("listener: %v", err) })
	}()

	r := e.do("POST", "/api-keys", e.keyA, `{"name":"short-lived"}`)
	require.Equal(t, 201, r.status)
	token, id := r.json["token"].(string), r.json["id"].(string)
	get := func() int {
		req, _ := http.NewRequest("GET", srv2.URL+"/emails", nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := srv2.Client().Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		return resp.StatusCode
	}
	require.Equal(t, 200, get(), "node 2 has the key cached now")

	// The listener may still be connecting: delete only once it is
	// listening, which a throwaway key's revocation proves.
	deadline := time.After(10 * time.Second)
	for listening := false; !listening; {
		rr := e.do("POST", "/api-keys", e.keyA, `{"name":"probe"}`)
		probeID := rr.json["id"].(string)
		require.Equal(t, 200, e.do("DELETE", "/api-keys/"+probeID, e.keyA, "").status)
		select {
		case <-forgotten:
			listening = true
		case <-time.After(200 * time.Millisecond):
		case <-deadline:
			t.Fatal("no revocation notification within 10 s")
		}
	}

	require.Equal(t, 200, e.do("DELETE", "/api-keys/"+id, e.keyA, "").status, "deleted through node 1")
	deadline = time.After(5 * time.Second)
	for get() != 403 {
		select {
		case <-deadline:
			t.Fatal("node 2 still accepts the deleted key")
		case <-time.After(10 * time.Millisecond):
		}
	}
	require.Equal(t, e.clock.Now(), t0, "the clock never moved: the cache entry was dropped, not expired")
}
