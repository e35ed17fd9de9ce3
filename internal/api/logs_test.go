package api

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/godwit/godwit/internal/requestlog"
	"github.com/godwit/godwit/internal/store"
	"github.com/godwit/godwit/internal/store/sqlstore"
)

// withRequestLog records the requests through a running writer over the
// env's store; it is stopped (flushed) when the test ends.
func withRequestLog(t testing.TB, w **requestlog.Writer) envOption {
	return func(d *Deps) {
		*w = requestlog.NewWriter(requestlog.Config{Store: d.Store.(requestlog.Store), FlushInterval: time.Millisecond})
		require.NoError(t, (*w).Start(context.Background()))
		t.Cleanup(func() { _ = (*w).Stop(context.Background()) })
		d.RequestLog = *w
	}
}

// logsOf waits until the team's log holds n records (polling the store,
// so that the rate limit is not spent) and returns them as GET /logs
// does, newest first.
func (e *testEnv) logsOf(t *testing.T, key, teamID string, n int) []map[string]any {
	t.Helper()
	require.Eventually(t, func() bool {
		list, _, err := e.db.ListRequestLogs(context.Background(), teamID, store.Page{Limit: 100})
		require.NoError(t, err)
		return len(list) >= n
	}, 10*time.Second, 5*time.Millisecond)
	r := e.do("GET", "/logs?limit=100", key, "")
	require.Equal(t, 200, r.status, "body: %s", r.body)
	data := r.json["data"].([]any)
	require.Len(t, data, n)
	out := make([]map[string]any, n)
	for i, d := range data {
		out[i] = d.(map[string]any)
	}
	return out
}

func TestLogs(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, kind sqlstore.Dialect) {
		var w *requestlog.Writer
		e := setup(t, kind, withRequestLog(t, &w))
		id := e.send(e.keyA, `{"from":"a@example.com","to":"b@example.net","subject":"s","html":"<p>x</p>",
			"attachments":[{"filename":"a.txt","content":"c2VjcmV0IGZpbGU="}]}`, "User-Agent", "resend-node:6.38.0")
		requireError(t, e.do("GET", "/emails/"+uuid.NewString(), e.keyA, "", "User-Agent", ""), 404, "not_found")
		r := e.do("POST", "/api-keys", e.keyA, `{"name":"ci"}`)
		require.Equal(t, 201, r.status, "body: %s", r.body)
		token := r.json["token"].(string)
		// Not recorded: requests without a valid key, and reading the log.
		requireError(t, e.do("GET", "/emails", "", ""), 401, "missing_api_key")
		requireError(t, e.do("GET", "/emails", "re_nonsense", ""), 403, "invalid_api_key")

		logs := e.logsOf(t, e.keyA, e.teamA, 3)
		require.Equal(t, "/api-keys", logs[0]["endpoint"])
		require.Equal(t, "POST", logs[0]["method"])
		require.EqualValues(t, 201, logs[0]["response_status"])
		require.Equal(t, "GET", logs[1]["method"])
		require.EqualValues(t, 404, logs[1]["response_status"])
		require.Nil(t, logs[1]["user_agent"], "no User-Agent: null")
		require.Equal(t, "/emails", logs[2]["endpoint"])
		require.Equal(t, "resend-node:6.38.0", logs[2]["user_agent"])
		require.Equal(t, "2026-11-28 12:00:00+00", logs[2]["created_at"])
		require.NotContains(t, logs[2], "request_body", "a list leaves the bodies out")

		// One log: the bodies, attachments' content masked.
		r = e.do("GET", "/logs/"+logs[2]["id"].(string), e.keyA, "")
		require.Equal(t, 200, r.status, "body: %s", r.body)
		require.Equal(t, "log", r.json["object"])
		require.Equal(t, map[string]any{"from": "a@example.com", "to": "b@example.net", "subject": "s", "html": "<p>x</p>",
			"attachments": []any{map[string]any{"filename": "a.txt", "content": "[masked: 16 characters]"}}}, r.json["request_body"])
		require.Equal(t, map[string]any{"id": id}, r.json["response_body"])
		require.NotEmpty(t, r.json["request_id"])
		require.NotContains(t, string(r.body), "c2VjcmV0IGZpbGU=")
		// The new key's token is masked in the response it was created in.
		r = e.do("GET", "/logs/"+logs[0]["id"].(string), e.keyA, "")
		require.Equal(t, "[masked]", r.json["response_body"].(map[string]any)["token"])
		require.NotContains(t, string(r.body), token)
		// A body-less request: null bodies where there was none.
		r = e.do("GET", "/logs/"+logs[1]["id"].(string), e.keyA, "")
		require.Nil(t, r.json["request_body"])
		require.Equal(t, "not_found", r.json["response_body"].(map[string]any)["name"])

		// The API key never reaches the database, whatever the request.
		for _, k := range []string{e.keyA, token} {
			requireNotStored(t, e, k)
			requireNotStored(t, e, strings.TrimPrefix(k, "re_"))
		}
		requireNotStored(t, e, "Bearer")
		requireNotStored(t, e, "c2VjcmV0IGZpbGU=")

		// Another team sees none of it; bad ids are Resend's errors.
		requireError(t, e.do("GET", "/logs/"+logs[0]["id"].(string), e.keyB, ""), 404, "not_found", "Log not found")
		requireError(t, e.do("GET", "/logs/"+uuid.NewString(), e.keyA, ""), 404, "not_found")
		requireError(t, e.do("GET", "/logs/not-a-uuid", e.keyA, ""), 422, "invalid_parameter")
		require.Empty(t, e.do("GET", "/logs", e.keyB, "").json["data"])
		requireError(t, e.do("GET", "/logs", e.sendA, ""), 401, "restricted_api_key")
	})
}

// requireNotStored fails if any stored log holds s, in any field or body
// (bodies read back through the store, which decompresses them).
func requireNotStored(t *testing.T, e *testEnv, s string) {
	t.Helper()
	rows, err := e.db.LogWriter().QueryContext(context.Background(), `SELECT team_id, id FROM request_logs`)
	require.NoError(t, err)
	var keys [][2]string
	for rows.Next() {
		var k [2]string
		require.NoError(t, rows.Scan(&k[0], &k[1]))
		keys = append(keys, k)
	}
	require.NoError(t, rows.Err())
	require.NoError(t, rows.Close())
	require.NotEmpty(t, keys)
	for _, k := range keys {
		l, err := e.db.GetRequestLog(context.Background(), k[0], k[1])
		require.NoError(t, err)
		for _, field := range []string{l.Endpoint, l.UserAgent, l.RequestID, string(l.RequestBody), string(l.ResponseBody)} {
			require.NotContains(t, field, s, "%q is stored in log %s", s, l.ID)
		}
	}
}

func TestLogsBodies(t *testing.T) {
	t.Parallel()
	var w *requestlog.Writer
	e := setup(t, sqlstore.SQLite, withRequestLog(t, &w))
	// A body that is not JSON is not shown (the request fails alike).
	requireError(t, e.do("POST", "/domains", e.keyA, `name=example.net`, "Content-Type", "application/x-www-form-urlencoded"), 400, "validation_error")
	// A CSV upload is not read as a JSON body, so it is not recorded.
	r := e.importCSV(e.keyA, "email\nan@example.net\n")
	require.Equal(t, 201, r.status, "body: %s", r.body)
	logs := e.logsOf(t, e.keyA, e.teamA, 2)
	for _, l := range logs {
		r := e.do("GET", "/logs/"+l["id"].(string), e.keyA, "")
		require.Nil(t, r.json["request_body"], "body: %s", r.body)
		require.NotNil(t, r.json["response_body"])
	}

	// A batch's body is an array; a body above the cap is not stored.
	r = e.do("POST", "/emails/batch", e.keyA, `[`+simpleEmail+`]`)
	require.Equal(t, 200, r.status, "body: %s", r.body)
	big := fmt.Sprintf(`{"from":"a@example.com","to":"b@example.net","subject":"s","text":%q}`, strings.Repeat("x", requestlog.MaxStoredBody))
	e.send(e.keyA, big)
	logs = e.logsOf(t, e.keyA, e.teamA, 4)
	got, err := e.db.GetRequestLog(context.Background(), e.teamA, logs[1]["id"].(string))
	require.NoError(t, err)
	require.Equal(t, "/emails/batch", got.Endpoint)
	require.JSONEq(t, `[`+simpleEmail+`]`, string(got.RequestBody))
	r = e.do("GET", "/logs/"+got.ID, e.keyA, "")
	require.Equal(t, 200, r.status)
	require.Len(t, r.json["request_body"], 1)
	r = e.do("GET", "/logs/"+logs[0]["id"].(string), e.keyA, "")
	require.Nil(t, r.json["request_body"])
	require.NotNil(t, r.json["response_body"])
}

func TestLogsRateLimitedAndPagination(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, kind sqlstore.Dialect) {
		var w *requestlog.Writer
		e := setup(t, kind, withRequestLog(t, &w))
		for range 5 {
			require.Equal(t, 200, e.do("GET", "/domains", e.keyA, "").status)
		}
		all := e.logsOf(t, e.keyA, e.teamA, 5)
		ids := make([]string, len(all))
		for i, l := range all {
			ids[i] = l["id"].(string)
		}
		page := func(q string) ([]string, bool) {
			r := e.do("GET", "/logs"+q, e.keyA, "")
			require.Equal(t, 200, r.status, "body: %s", r.body)
			var out []string
			for _, d := range r.json["data"].([]any) {
				out = append(out, d.(map[string]any)["id"].(string))
			}
			return out, r.json["has_more"].(bool)
		}
		got, more := page("?limit=2")
		require.Equal(t, ids[:2], got)
		require.True(t, more)
		got, more = page("?limit=2&after=" + ids[1])
		require.Equal(t, ids[2:4], got)
		require.True(t, more)
		got, more = page("?limit=2&after=" + ids[3])
		require.Equal(t, ids[4:], got)
		require.False(t, more)
		got, more = page("?limit=2&before=" + ids[3])
		require.Equal(t, ids[1:3], got)
		require.True(t, more)
		got, _ = page("")
		require.Equal(t, ids, got, "reading the log does not add to it")
		for _, q := range []string{"?limit=0", "?limit=101", "?limit=abc"} {
			requireError(t, e.do("GET", "/logs"+q, e.keyA, ""), 422, "validation_error", "pagination limit")
		}
		requireError(t, e.do("GET", "/logs?after=nope", e.keyA, ""), 422, "invalid_parameter")
		requireError(t, e.do("GET", "/logs?after="+ids[1], e.keyB, ""), 422, "validation_error")

		// A rate-limited request is an authenticated one: recorded.
		require.NoError(t, e.db.SetTeamRateLimit(context.Background(), e.teamB, 1))
		e.clock.Advance(time.Second)
		require.Equal(t, 200, e.do("GET", "/domains", e.keyB, "").status)
		requireError(t, e.do("GET", "/domains", e.keyB, ""), 429, "rate_limit_exceeded")
		e.clock.Advance(time.Second)
		logs := e.logsOf(t, e.keyB, e.teamB, 2)
		require.EqualValues(t, 429, logs[0]["response_status"])
		require.Zero(t, w.Dropped())
	})
}
