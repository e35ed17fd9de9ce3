package api

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/godwit/godwit/internal/auth"
	"github.com/godwit/godwit/internal/domains"
	"github.com/godwit/godwit/internal/godwittest"
	"github.com/godwit/godwit/internal/secretbox"
	"github.com/godwit/godwit/internal/store"
	"github.com/godwit/godwit/internal/store/sqlstore"
)

var t0 = time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)

// testEnv is a real API handler over a real store, served on loopback.
type testEnv struct {
	t       testing.TB
	db      *sqlstore.DB
	dbURL   string
	store   Store // what the handler uses (db, or db behind a gate)
	clock   *godwittest.Clock
	handler *Handler
	srv     *httptest.Server
	keyA    string // full_access, team A
	sendA   string // sending_access, team A
	keyB    string // full_access, team B
	teamA   string
	teamB   string
	domainA string // example.com, verified, team A's; team B has example.org
}

type envOption func(*Deps)

// setup starts a server over a fresh store of the given kind. Teams have a
// high rate limit unless a test lowers it, so that only rate-limit tests meet it.
func setup(t testing.TB, kind sqlstore.Dialect, opts ...envOption) *testEnv {
	t.Helper()
	clock := godwittest.NewClock(t0)
	dbURL := godwittest.StoreURL(t, kind)
	db, err := sqlstore.Open(context.Background(), dbURL, sqlstore.Options{Now: clock.Now, Outbox: godwittest.NewOutbox()})
	require.NoError(t, err)
	t.Cleanup(func() { _ = db.Close() })
	e := &testEnv{t: t, db: db, dbURL: dbURL, store: db, clock: clock}
	box, err := secretbox.New(bytes.Repeat([]byte{7}, 32))
	require.NoError(t, err)
	d := Deps{Store: db, Now: clock.Now, DefaultRateLimit: 10000,
		Domains: domains.Settings{Keys: box, MXHost: "bounces.godwit.test", SPF: "v=spf1 include:spf.godwit.test ~all"}}
	for _, o := range opts {
		o(&d)
	}
	e.store = d.Store
	e.handler = New(d)
	e.srv = httptest.NewServer(openapiValidating(t, e.handler))
	t.Cleanup(e.srv.Close)
	e.teamA = e.newTeam("a")
	e.teamB = e.newTeam("b")
	e.keyA = e.newKey(e.teamA, store.PermissionFullAccess)
	e.sendA = e.newKey(e.teamA, store.PermissionSendingAccess)
	e.keyB = e.newKey(e.teamB, store.PermissionFullAccess)
	e.domainA = e.verifiedDomain(e.teamA, "example.com")
	e.verifiedDomain(e.teamB, "example.org")
	return e
}

// verifiedDomain stores a domain as the verifier leaves a verified one.
func (e *testEnv) verifiedDomain(teamID, name string) string {
	d := &store.Domain{ID: store.NewID(), TeamID: teamID, Name: name, Region: "us-east-1", ReturnPath: "send",
		Status: store.DomainVerified, TLS: "opportunistic", Sending: "enabled", Receiving: "disabled", DKIMSelector: "resend",
		RecordStatus: map[string]string{}, CreatedAt: t0, UpdatedAt: t0}
	var err error
	d.DKIMKey, d.DKIMEd25519Key, err = e.handler.Domains.NewKeys(d.ID)
	require.NoError(e.t, err)
	require.NoError(e.t, e.db.CreateDomain(context.Background(), d))
	return d.ID
}

func (e *testEnv) newTeam(name string) string {
	id := uuid.NewString()
	require.NoError(e.t, e.db.CreateTeam(context.Background(), &store.Team{ID: id, Name: name, CreatedAt: t0}))
	return id
}

func (e *testEnv) newKey(teamID, perm string) string {
	token, prefix, hash, err := auth.NewToken()
	require.NoError(e.t, err)
	require.NoError(e.t, e.db.CreateAPIKey(context.Background(), &store.APIKey{ID: uuid.NewString(), TeamID: teamID,
		Name: "k", Prefix: prefix, Hash: hash, Permission: perm, CreatedAt: t0}))
	return token
}

type result struct {
	status int
	header http.Header
	body   []byte
	json   map[string]any
}

// do sends a request; key "" sends no Authorization header.
func (e *testEnv) do(method, path, key, body string, headers ...string) result {
	e.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, e.srv.URL+path, rd)
	require.NoError(e.t, err)
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := e.srv.Client().Do(req)
	require.NoError(e.t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(e.t, err)
	r := result{status: resp.StatusCode, header: resp.Header, body: b}
	require.True(e.t, strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json"),
		"every response is JSON: %s %s answered %q", method, path, resp.Header.Get("Content-Type"))
	_ = json.Unmarshal(b, &r.json)
	return r
}

// requireError checks Resend's envelope.
func requireError(t *testing.T, r result, status int, name string, msgContains ...string) {
	t.Helper()
	require.Equal(t, status, r.status, "body: %s", r.body)
	require.Equal(t, name, r.json["name"], "body: %s", r.body)
	require.EqualValues(t, status, r.json["statusCode"], "body: %s", r.body)
	msg, _ := r.json["message"].(string)
	require.NotEmpty(t, msg)
	for _, m := range msgContains {
		require.Contains(t, msg, m)
	}
}

const simpleEmail = `{"from":"Acme <onboarding@example.com>","to":"delivered@example.net","subject":"hi","html":"<p>hi</p>"}`

func (e *testEnv) send(key, body string, headers ...string) string {
	e.t.Helper()
	r := e.do("POST", "/emails", key, body, headers...)
	require.Equal(e.t, 200, r.status, "body: %s", r.body)
	id, _ := r.json["id"].(string)
	require.NotEmpty(e.t, id)
	return id
}

// forEachStore runs f against SQLite and PostgreSQL.
func forEachStore(t *testing.T, f func(t *testing.T, kind sqlstore.Dialect)) {
	for _, kind := range godwittest.Kinds {
		t.Run(string(kind), func(t *testing.T) {
			t.Parallel()
			f(t, kind)
		})
	}
}

func TestAuthentication(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, kind sqlstore.Dialect) {
		e := setup(t, kind)
		requireError(t, e.do("GET", "/emails", "", ""), 401, "missing_api_key")
		requireError(t, e.do("GET", "/emails", "re_nonsense", ""), 403, "invalid_api_key")
		forged := e.keyA[:len(e.keyA)-4] + "AAAA"
		requireError(t, e.do("GET", "/emails", forged, ""), 403, "invalid_api_key")
		requireError(t, e.do("GET", "/emails", "not-a-resend-key", ""), 403, "invalid_api_key")

		r := e.do("GET", "/emails", e.sendA, "")
		requireError(t, r, 401, "restricted_api_key")
		require.NotEmpty(t, r.header.Get("ratelimit-limit"), "an authenticated error carries the rate-limit headers")
		e.send(e.sendA, simpleEmail)
		require.Equal(t, 200, e.do("GET", "/emails", e.keyA, "").status)

		// A key deleted behind the server's back (the CLI, another node)
		// stops working once the key cache's entry expires.
		keys, err := e.db.ListAPIKeys(context.Background(), e.teamA)
		require.NoError(t, err)
		for _, k := range keys {
			require.NoError(t, e.db.DeleteAPIKey(context.Background(), e.teamA, k.ID))
		}
		e.clock.Advance(time.Second)
		requireError(t, e.do("GET", "/emails", e.keyA, ""), 403, "invalid_api_key")
		requireError(t, e.do("POST", "/emails", e.sendA, simpleEmail), 403, "invalid_api_key")
	})
}

func TestRoutingEdges(t *testing.T) {
	t.Parallel()
	e := setup(t, sqlstore.SQLite)
	requireError(t, e.do("GET", "/nope", e.keyA, ""), 404, "not_found", "endpoint does not exist")
	requireError(t, e.do("GET", "/nope", "", ""), 404, "not_found")
	r := e.do("DELETE", "/emails", e.keyA, "")
	requireError(t, r, 405, "method_not_allowed")
	require.Contains(t, r.header.Get("Allow"), "GET")

	// The Node SDK with a trailing slash in its base URL sends //emails.
	id := e.send(e.keyA, simpleEmail)
	r = e.do("GET", "//emails/"+id, e.keyA, "")
	require.Equal(t, 200, r.status, "body: %s", r.body)
	r = e.do("POST", "//emails", e.keyA, simpleEmail)
	require.Equal(t, 200, r.status, "body: %s", r.body)
	// Dot segments get Resend's 404, not the mux's redirect (found by FuzzRequests).
	for _, p := range []string{"/emails/.", "/emails/..", "/emails/./" + id, "/x/../emails"} {
		req, _ := http.NewRequest("GET", e.srv.URL+p, nil)
		req.URL.Path = p // keep the dot segments on the wire
		req.Header.Set("Authorization", "Bearer "+e.keyA)
		resp, err := e.srv.Client().Do(req)
		require.NoError(t, err)
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		require.Equal(t, 404, resp.StatusCode, "%s: %s", p, body)
		require.Contains(t, string(body), `"name":"not_found"`, p)
	}

	// Bodies and content types on GET and DELETE are ignored; no User-Agent is needed.
	req, _ := http.NewRequest("GET", e.srv.URL+"/emails", strings.NewReader(`{"junk":true}`))
	req.Header.Set("Authorization", "Bearer "+e.keyA)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "")
	resp, err := e.srv.Client().Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, 200, resp.StatusCode)

	require.Equal(t, 200, e.do("GET", "/healthz", "", "").status)
	require.Equal(t, 200, e.do("GET", "/readyz", "", "").status)
	require.NotEmpty(t, r.header.Get("X-Request-Id"))
}

func TestPanicIsAnApplicationError(t *testing.T) {
	t.Parallel()
	e := setup(t, sqlstore.SQLite)
	e.handler.handle("GET /boom", public, func(w http.ResponseWriter, r *http.Request) error {
		panic("secret internal detail")
	})
	r := e.do("GET", "/boom", "", "")
	requireError(t, r, 500, "application_error")
	require.NotContains(t, string(r.body), "secret")
}

func TestRateLimit(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, kind sqlstore.Dialect) {
		e := setup(t, kind, func(d *Deps) { d.DefaultRateLimit = 2 })
		// The clock stands still: every request falls in one window.
		r := e.do("GET", "/emails", e.keyA, "")
		require.Equal(t, 200, r.status)
		require.Equal(t, "2", r.header.Get("ratelimit-limit"))
		require.Equal(t, "1", r.header.Get("ratelimit-remaining"))
		require.Equal(t, "1", r.header.Get("ratelimit-reset"))
		require.Equal(t, "2;w=1", r.header.Get("ratelimit-policy"))
		// A batch is one request, and the team's keys share the limit.
		batch := `[` + simpleEmail + `,` + simpleEmail + `,` + simpleEmail + `]`
		r = e.do("POST", "/emails/batch", e.sendA, batch)
		require.Equal(t, 200, r.status, "body: %s", r.body)
		require.Equal(t, "0", r.header.Get("ratelimit-remaining"))
		r = e.do("GET", "/emails", e.keyA, "")
		requireError(t, r, 429, "rate_limit_exceeded", "Too many requests. Please limit the number of requests per second.",
			"This team may make 2 per second", "godwit teams set-rate-limit --team "+e.teamA+" --limit N")
		require.Equal(t, "1", r.header.Get("retry-after"))
		require.Equal(t, "0", r.header.Get("ratelimit-remaining"))
		// Another team has its own budget.
		require.Equal(t, 200, e.do("GET", "/emails", e.keyB, "").status)
		// The next window admits again.
		e.clock.Advance(time.Second)
		require.Equal(t, 200, e.do("GET", "/emails", e.keyA, "").status)

		// A per-team limit overrides the default.
		require.NoError(t, e.db.SetTeamRateLimit(context.Background(), e.teamA, 5))
		e.clock.Advance(time.Second)
		for range 5 {
			require.Equal(t, 200, e.do("GET", "/emails", e.keyA, "").status)
		}
		requireError(t, e.do("GET", "/emails", e.keyA, ""), 429, "rate_limit_exceeded", "This team may make 5 per second")
	})
}

func TestSendGetList(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, kind sqlstore.Dialect) {
		e := setup(t, kind)
		id := e.send(e.keyA, `{"from":"Zoë Acme <onboarding@example.com>","to":["a@example.net","B <b@example.net>"],
			"cc":"c@example.net","bcc":["d@example.net"],"reply_to":"r@example.net","subject":"Grüße",
			"html":"<p>x</p>","text":"x","headers":{"X-Entity-Ref-ID":"123"},"tags":[{"name":"cat","value":"welcome"}],
			"unknown_field":{"ignored":true},"id":"the Go SDK sends extras"}`)
		_, err := uuid.Parse(id)
		require.NoError(t, err)

		r := e.do("GET", "/emails/"+id, e.keyA, "")
		require.Equal(t, 200, r.status)
		var got map[string]any
		require.NoError(t, json.Unmarshal(r.body, &got))
		require.Equal(t, "email", got["object"])
		require.Equal(t, id, got["id"])
		require.Equal(t, "Zoë Acme <onboarding@example.com>", got["from"])
		require.Equal(t, []any{"a@example.net", "B <b@example.net>"}, got["to"])
		require.Equal(t, []any{"c@example.net"}, got["cc"])
		require.Equal(t, []any{"d@example.net"}, got["bcc"])
		require.Equal(t, []any{"r@example.net"}, got["reply_to"], "reply_to is always an array")
		require.Equal(t, "Grüße", got["subject"])
		require.Equal(t, "<p>x</p>", got["html"])
		require.Equal(t, "queued", got["last_event"])
		require.Nil(t, got["scheduled_at"])
		require.Equal(t, "2026-11-28 12:00:00+00", got["created_at"])
		require.Equal(t, "<"+id+"@example.com>", got["message_id"])
		require.Equal(t, []any{map[string]any{"name": "cat", "value": "welcome"}}, got["tags"])

		// Another team sees nothing: 404, not 403.
		requireError(t, e.do("GET", "/emails/"+id, e.keyB, ""), 404, "not_found", "Email not found")
		requireError(t, e.do("GET", "/emails/"+uuid.NewString(), e.keyA, ""), 404, "not_found")
		requireError(t, e.do("GET", "/emails/not-a-uuid", e.keyA, ""), 422, "invalid_parameter")

		r = e.do("GET", "/emails", e.keyA, "")
		require.Equal(t, 200, r.status)
		require.Equal(t, "list", r.json["object"])
		require.Equal(t, false, r.json["has_more"])
		data := r.json["data"].([]any)
		require.Len(t, data, 1)
		item := data[0].(map[string]any)
		require.Equal(t, id, item["id"])
		require.NotContains(t, item, "html")
		r = e.do("GET", "/emails", e.keyB, "")
		require.Empty(t, r.json["data"], "another team's list is empty")
	})
}

func TestPagination(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, kind sqlstore.Dialect) {
		e := setup(t, kind)
		var ids []string
		for range 5 {
			ids = append(ids, e.send(e.keyA, simpleEmail))
		}
		page := func(q string) ([]string, bool) {
			r := e.do("GET", "/emails"+q, e.keyA, "")
			require.Equal(t, 200, r.status, "body: %s", r.body)
			var out []string
			for _, d := range r.json["data"].([]any) {
				out = append(out, d.(map[string]any)["id"].(string))
			}
			return out, r.json["has_more"].(bool)
		}
		got, more := page("?limit=2")
		require.Equal(t, []string{ids[4], ids[3]}, got)
		require.True(t, more)
		got, more = page("?limit=2&after=" + ids[3])
		require.Equal(t, []string{ids[2], ids[1]}, got)
		require.True(t, more)
		got, more = page("?limit=2&after=" + ids[1])
		require.Equal(t, []string{ids[0]}, got)
		require.False(t, more)
		got, more = page("?limit=2&before=" + ids[1])
		require.Equal(t, []string{ids[3], ids[2]}, got)
		require.True(t, more)
		got, more = page("?limit=100")
		require.Len(t, got, 5)
		require.False(t, more)

		for _, q := range []string{"?limit=0", "?limit=101", "?limit=abc", "?limit=-1", "?limit="} {
			requireError(t, e.do("GET", "/emails"+q, e.keyA, ""), 422, "validation_error", "pagination limit")
		}
		requireError(t, e.do("GET", "/emails?after="+ids[1]+"&before="+ids[2], e.keyA, ""), 422, "validation_error")
		requireError(t, e.do("GET", "/emails?after=nope", e.keyA, ""), 422, "invalid_parameter")
		// Team B cannot page through team A's emails with A's ids.
		requireError(t, e.do("GET", "/emails?after="+ids[1], e.keyB, ""), 422, "validation_error")
	})
}

func TestBadInput(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, kind sqlstore.Dialect) {
		e := setup(t, kind, func(d *Deps) { d.MaxBodyBytes = 64 << 10 })
		cases := []struct {
			name, body string
			status     int
			errName    string
			msg        string
		}{
			{"malformed", `{"from":`, 400, "validation_error", ""},
			{"not an object", `[1,2]`, 400, "validation_error", ""},
			{"empty body", ``, 400, "validation_error", ""},
			{"missing to", `{"from":"a@example.com","subject":"s","html":"x"}`, 422, "missing_required_field", "Missing `to` field"},
			{"bad to", `{"from":"a@example.com","to":"nope","subject":"s","html":"x"}`, 422, "validation_error", "Invalid `to` field"},
			{"bad from", `{"from":"nope","to":"a@example.net","subject":"s","html":"x"}`, 422, "validation_error", "Invalid `from` field"},
			{"to wrong type", `{"from":"a@example.com","to":5,"subject":"s","html":"x"}`, 422, "validation_error", "`to`"},
			{"subject wrong type", `{"from":"a@example.com","to":"b@example.net","subject":5,"html":"x"}`, 422, "validation_error", "`subject`"},
			{"subject injection", `{"from":"a@example.com","to":"b@example.net","subject":"hi\r\nBcc: x@evil.test","html":"x"}`, 422, "validation_error", "subject"},
			{"from injection", `{"from":"a@example.com\nBcc: x@evil.test","to":"b@example.net","subject":"s","html":"x"}`, 422, "validation_error", ""},
			{"header injection", `{"from":"a@example.com","to":"b@example.net","subject":"s","html":"x","headers":{"X-A":"1\r\nBcc: x@evil.test"}}`, 422, "validation_error", ""},
			{"header name injection", `{"from":"a@example.com","to":"b@example.net","subject":"s","html":"x","headers":{"X-A\r\nBcc":"1"}}`, 422, "validation_error", ""},
			{"subject too long", `{"from":"a@example.com","to":"b@example.net","subject":"` + strings.Repeat("é", 10001) + `","html":"x"}`, 422, "validation_error", "at most 10000 characters"},
			{"bad tag", `{"from":"a@example.com","to":"b@example.net","subject":"s","html":"x","tags":[{"name":"a b","value":"c"}]}`, 422, "validation_error", ""},
			{"attachment without content", `{"from":"a@example.com","to":"b@example.net","subject":"s","html":"x","attachments":[{"filename":"a.txt"}]}`, 422, "invalid_attachment", ""},
			{"too far ahead", `{"from":"a@example.com","to":"b@example.net","subject":"s","html":"x","scheduled_at":"2027-06-01T00:00:00Z"}`, 422, "validation_error", ""},
			{"oversized", `{"from":"a@example.com","to":"b@example.net","subject":"s","html":"` + strings.Repeat("x", 70<<10) + `"}`, 413, "validation_error", ""},
		}
		for _, c := range cases {
			r := e.do("POST", "/emails", e.keyA, c.body)
			if c.msg != "" {
				requireError(t, r, c.status, c.errName, c.msg)
			} else {
				requireError(t, r, c.status, c.errName)
			}
		}
		too := make([]string, 51)
		for i := range too {
			too[i] = fmt.Sprintf(`"r%d@example.net"`, i)
		}
		requireError(t, e.do("POST", "/emails", e.keyA, `{"from":"a@example.com","to":[`+strings.Join(too, ",")+`],"subject":"s","html":"x"}`), 422, "validation_error")
		r := e.do("GET", "/emails", e.keyA, "")
		require.Empty(t, r.json["data"], "no bad request wrote anything")
		requireError(t, e.do("POST", "/emails", e.keyA, simpleEmail, "Idempotency-Key", strings.Repeat("k", 257)), 400, "invalid_idempotency_key")
	})
}

func TestAttachmentWireForms(t *testing.T) {
	t.Parallel()
	e := setup(t, sqlstore.SQLite)
	content := []byte("hello, attachment\x00\xff")
	ints := make([]string, len(content))
	for i, b := range content {
		ints[i] = fmt.Sprint(b)
	}
	forms := map[string]string{
		"base64":      `"` + base64.StdEncoding.EncodeToString(content) + `"`,
		"byte array":  `[` + strings.Join(ints, ",") + `]`,
		"node buffer": `{"type":"Buffer","data":[` + strings.Join(ints, ",") + `]}`,
	}
	for name, form := range forms {
		id := e.send(e.keyA, `{"from":"a@example.com","to":"b@example.net","subject":"s","html":"<img src=cid:logo>",
			"attachments":[{"content":`+form+`,"filename":"a.bin","content_id":"logo"},{"path":"https://files.example.com/x/report.pdf"}]}`)
		var stored []byte
		var filename, ctype, cid, path string
		require.NoError(t, e.db.Writer().QueryRow(`SELECT content, filename, content_type, content_id FROM email_attachments WHERE email_id = ? AND idx = 0`, id).
			Scan(&stored, &filename, &ctype, &cid), name)
		require.Equal(t, content, stored, name)
		require.Equal(t, "a.bin", filename)
		require.Equal(t, "logo", cid)
		require.NoError(t, e.db.Writer().QueryRow(`SELECT path, filename FROM email_attachments WHERE email_id = ? AND idx = 1`, id).Scan(&path, &filename))
		require.Equal(t, "https://files.example.com/x/report.pdf", path)
		require.Equal(t, "report.pdf", filename)
	}
}

func TestIdempotency(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, kind sqlstore.Dialect) {
		e := setup(t, kind)
		id1 := e.send(e.keyA, simpleEmail, "Idempotency-Key", "order-1")
		r := e.do("POST", "/emails", e.keyA, simpleEmail, "Idempotency-Key", "order-1")
		require.Equal(t, 200, r.status)
		require.Equal(t, id1, r.json["id"], "a replay answers the original response")
		requireError(t, e.do("POST", "/emails", e.keyA, strings.Replace(simpleEmail, "hi", "changed", 1), "Idempotency-Key", "order-1"),
			409, "invalid_idempotent_request")
		requireError(t, e.do("POST", "/emails/batch", e.keyA, `[`+simpleEmail+`]`, "Idempotency-Key", "order-1"),
			409, "invalid_idempotent_request", "")
		// Keys are per team.
		idB := e.send(e.keyB, strings.Replace(simpleEmail, "example.com", "example.org", 1), "Idempotency-Key", "order-1")
		require.NotEqual(t, id1, idB)

		list := e.do("GET", "/emails", e.keyA, "")
		require.Len(t, list.json["data"], 1, "the replay stored nothing")

		// After 24 h the key is free again.
		e.clock.Advance(24*time.Hour + time.Second)
		id2 := e.send(e.keyA, simpleEmail, "Idempotency-Key", "order-1")
		require.NotEqual(t, id1, id2)

		// Batch replays too.
		b1 := e.do("POST", "/emails/batch", e.keyA, `[`+simpleEmail+`,`+simpleEmail+`]`, "Idempotency-Key", "batch-1")
		b2 := e.do("POST", "/emails/batch", e.keyA, `[`+simpleEmail+`,`+simpleEmail+`]`, "Idempotency-Key", "batch-1")
		require.Equal(t, 200, b2.status)
		require.JSONEq(t, string(b1.body), string(b2.body))
	})
}

// gatedStore holds AcceptEmails until released, to make a request stay in flight.
type gatedStore struct {
	Store
	entered chan struct{}
	release chan struct{}
}

func (g *gatedStore) AcceptEmails(ctx context.Context, a *store.Accept) error {
	g.entered <- struct{}{}
	<-g.release
	return g.Store.AcceptEmails(ctx, a)
}

func TestIdempotencyConcurrent(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, kind sqlstore.Dialect) {
		var gate *gatedStore
		e := setup(t, kind, func(d *Deps) {
			gate = &gatedStore{Store: d.Store, entered: make(chan struct{}, 1), release: make(chan struct{})}
			d.Store = gate
		})
		var wg sync.WaitGroup
		var first result
		wg.Add(1)
		go func() {
			defer wg.Done()
			first = e.do("POST", "/emails", e.keyA, simpleEmail, "Idempotency-Key", "same")
		}()
		select {
		case <-gate.entered:
		case <-time.After(10 * time.Second):
			t.Fatal("first request never reached the store")
		}
		requireError(t, e.do("POST", "/emails", e.keyA, simpleEmail, "Idempotency-Key", "same"), 409, "concurrent_idempotent_requests")
		close(gate.release)
		wg.Wait()
		require.Equal(t, 200, first.status)
	})
}

func TestBatch(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, kind sqlstore.Dialect) {
		e := setup(t, kind)
		bad := `{"from":"a@example.com","to":"nope","subject":"s","html":"x"}`
		body := `[` + simpleEmail + `,` + bad + `,` + simpleEmail + `]`

		r := e.do("POST", "/emails/batch", e.keyA, body)
		requireError(t, r, 422, "validation_error", "Invalid `to` field")
		r = e.do("POST", "/emails/batch", e.keyA, body, "x-batch-validation", "strict")
		requireError(t, r, 422, "validation_error")
		require.Empty(t, e.do("GET", "/emails", e.keyA, "").json["data"], "strict: nothing stored")

		r = e.do("POST", "/emails/batch", e.keyA, body, "x-batch-validation", "permissive")
		require.Equal(t, 200, r.status, "body: %s", r.body)
		require.Len(t, r.json["data"], 2)
		errs := r.json["errors"].([]any)
		require.Len(t, errs, 1)
		require.EqualValues(t, 1, errs[0].(map[string]any)["index"])
		require.Contains(t, errs[0].(map[string]any)["message"], "Invalid `to` field")
		require.Len(t, e.do("GET", "/emails", e.keyA, "").json["data"], 2)

		r = e.do("POST", "/emails/batch", e.keyA, `[`+simpleEmail+`]`, "x-batch-validation", "permissive")
		require.Equal(t, 200, r.status)
		require.Equal(t, []any{}, r.json["errors"], "permissive always sends an errors array")

		r = e.do("POST", "/emails/batch", e.keyA, `[`+simpleEmail+`,`+simpleEmail+`]`)
		require.Equal(t, 200, r.status)
		require.NotContains(t, r.json, "errors")
		ids := r.json["data"].([]any)
		require.Len(t, ids, 2)

		items := make([]string, 101)
		for i := range items {
			items[i] = simpleEmail
		}
		requireError(t, e.do("POST", "/emails/batch", e.keyA, `[`+strings.Join(items, ",")+`]`), 422, "validation_error")
		requireError(t, e.do("POST", "/emails/batch", e.keyA, `[]`), 422, "validation_error")
		requireError(t, e.do("POST", "/emails/batch", e.keyA, `[`+simpleEmail+`]`, "x-batch-validation", "lenient"), 422, "validation_error")
		withAttachment := `{"from":"a@example.com","to":"b@example.net","subject":"s","html":"x","attachments":[{"content":"aGk=","filename":"a.txt"}]}`
		requireError(t, e.do("POST", "/emails/batch", e.keyA, `[`+withAttachment+`]`), 422, "validation_error")
	})
}

func TestScheduleRescheduleCancel(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, kind sqlstore.Dialect) {
		e := setup(t, kind)
		id := e.send(e.keyA, `{"from":"a@example.com","to":"b@example.net","subject":"s","html":"x","scheduled_at":"in 1 hour"}`)
		r := e.do("GET", "/emails/"+id, e.keyA, "")
		require.Equal(t, "scheduled", r.json["last_event"])
		require.Equal(t, "2026-11-28 13:00:00+00", r.json["scheduled_at"])

		iso := e.send(e.keyA, `{"from":"a@example.com","to":"b@example.net","subject":"s","html":"x","scheduled_at":"2026-11-29T09:30:00Z"}`)
		require.Equal(t, "2026-11-29 09:30:00+00", e.do("GET", "/emails/"+iso, e.keyA, "").json["scheduled_at"])
		now := e.send(e.keyA, `{"from":"a@example.com","to":"b@example.net","subject":"s","html":"x","scheduled_at":""}`)
		require.Equal(t, "queued", e.do("GET", "/emails/"+now, e.keyA, "").json["last_event"], `"" means now`)

		r = e.do("PATCH", "/emails/"+id, e.keyA, `{"id":"`+id+`","scheduled_at":"2026-11-30T10:00:00Z"}`)
		require.Equal(t, 200, r.status, "body: %s", r.body)
		require.Equal(t, map[string]any{"object": "email", "id": id}, r.json)
		require.Equal(t, "2026-11-30 10:00:00+00", e.do("GET", "/emails/"+id, e.keyA, "").json["scheduled_at"])
		requireError(t, e.do("PATCH", "/emails/"+id, e.keyA, `{"scheduled_at":""}`), 422, "missing_required_field")
		requireError(t, e.do("PATCH", "/emails/"+id, e.keyA, `{"scheduled_at":"whenever"}`), 422, "validation_error")
		requireError(t, e.do("PATCH", "/emails/"+id, e.keyA, `{"scheduled_at":5}`), 422, "validation_error", "`scheduled_at`")
		requireError(t, e.do("PATCH", "/emails/"+id, e.keyA, `{"scheduled_at":`), 400, "validation_error")
		requireError(t, e.do("PATCH", "/emails/"+id, e.keyB, `{"scheduled_at":"in 2 hours"}`), 404, "not_found")
		requireError(t, e.do("PATCH", "/emails/"+now, e.keyA, `{"scheduled_at":"in 2 hours"}`), 422, "validation_error")

		requireError(t, e.do("POST", "/emails/"+id+"/cancel", e.keyB, ""), 404, "not_found")
		r = e.do("POST", "/emails/"+id+"/cancel", e.keyA, "")
		require.Equal(t, 200, r.status)
		require.Equal(t, map[string]any{"object": "email", "id": id}, r.json)
		require.Equal(t, "canceled", e.do("GET", "/emails/"+id, e.keyA, "").json["last_event"])
		requireError(t, e.do("POST", "/emails/"+id+"/cancel", e.keyA, ""), 422, "validation_error")
		requireError(t, e.do("POST", "/emails/"+now+"/cancel", e.keyA, ""), 422, "validation_error")
	})
}

func TestUnavailable(t *testing.T) {
	t.Parallel()
	ready := true
	var mu sync.Mutex
	e := setup(t, sqlstore.SQLite, func(d *Deps) {
		d.Ready = func() bool { mu.Lock(); defer mu.Unlock(); return ready }
	})
	require.Equal(t, 200, e.do("GET", "/readyz", "", "").status)
	mu.Lock()
	ready = false
	mu.Unlock()
	requireError(t, e.do("GET", "/readyz", "", ""), 503, "service_unavailable")
	require.Equal(t, 200, e.do("GET", "/healthz", "", "").status, "alive while draining")

	// Once the store has closed (the last step of a shutdown), sends are
	// refused with a 503, not a 500, and nothing is half-written.
	id := e.send(e.keyA, simpleEmail)
	require.NotEmpty(t, id)
	require.NoError(t, e.db.Close())
	requireError(t, e.do("POST", "/emails", e.sendA, simpleEmail), 503, "service_unavailable")
}

// TestStorageFull: a write the database refuses for lack of space (a real
// SQLITE_FULL, from a page limit on the writing connection) is a 503
// storage_full, not a 500, and the same request succeeds once there is
// room; /readyz reports the store's write probe.
func TestStorageFull(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var probe error
	e := setup(t, sqlstore.SQLite, func(d *Deps) {
		d.Writable = func() error { mu.Lock(); defer mu.Unlock(); return probe }
	})
	ctx := context.Background()
	var pages int64
	require.NoError(t, e.db.Writer().QueryRowContext(ctx, `PRAGMA page_count`).Scan(&pages))
	_, err := e.db.Writer().ExecContext(ctx, fmt.Sprintf(`PRAGMA max_page_count = %d`, pages))
	require.NoError(t, err)
	var text strings.Builder // 144 KB that does not compress away
	for range 4000 {
		text.WriteString(uuid.NewString())
	}
	big := fmt.Sprintf(`{"from":"a@example.com","to":"b@example.net","subject":"s","text":%q}`, text.String())
	r := e.do("POST", "/emails", e.keyA, big)
	requireError(t, r, 503, "storage_full")
	require.Contains(t, r.json["message"], "disk is full")

	_, err = e.db.Writer().ExecContext(ctx, `PRAGMA max_page_count = 1073741823`)
	require.NoError(t, err)
	require.Equal(t, 200, e.do("POST", "/emails", e.keyA, big).status)

	require.Equal(t, 200, e.do("GET", "/readyz", "", "").status)
	mu.Lock()
	probe = fmt.Errorf("heartbeat: %w", store.ErrNoSpace)
	mu.Unlock()
	requireError(t, e.do("GET", "/readyz", "", ""), 503, "storage_full")
	mu.Lock()
	probe = errors.New("heartbeat: connection refused")
	mu.Unlock()
	requireError(t, e.do("GET", "/readyz", "", ""), 503, "service_unavailable")
}
