package api

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/godwit/godwit/internal/store/sqlstore"
	"github.com/godwit/godwit/internal/tracking"
	"github.com/stretchr/testify/require"
)

// TestContactImportTooManyProperties: a row with values for more than 100
// properties fails (counts.failed) instead of losing the columns after the
// 100th; a row with 100 is imported whole.
func TestContactImportTooManyProperties(t *testing.T) {
	t.Parallel()
	e := setup(t, sqlstore.SQLite)
	header := []string{"email"}
	full, hundred := []string{"many@example.net"}, []string{"hundred@example.net"}
	for i := range 101 {
		header = append(header, fmt.Sprintf("p%d", i))
		full = append(full, "v")
		if i < 100 {
			hundred = append(hundred, "v")
		} else {
			hundred = append(hundred, "")
		}
	}
	csv := strings.Join(header, ",") + "\n" + strings.Join(full, ",") + "\n" + strings.Join(hundred, ",") + "\n"
	r := e.importCSV(e.keyA, csv)
	require.Equal(t, 201, r.status, "body: %s", r.body)
	r = e.do("GET", "/contacts/imports/"+r.json["id"].(string), e.keyA, "")
	require.Equal(t, map[string]any{"total": 2.0, "created": 1.0, "updated": 0.0, "skipped": 0.0, "failed": 1.0}, r.json["counts"])
	requireError(t, e.do("GET", "/contacts/many@example.net", e.keyA, ""), 404, "not_found")
	r = e.do("GET", "/contacts/hundred@example.net", e.keyA, "")
	require.Equal(t, 200, r.status)
	require.Len(t, r.json["properties"], 100)
	require.Equal(t, "v", r.json["properties"].(map[string]any)["p99"])
}

// lockedBuffer is a log destination the server's goroutines and the test
// share.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestPublicPages: the tracking and unsubscribe routes may not be framed and
// carry a restrictive Content-Security-Policy, and the debug access log
// shows their paths without the tokens.
func TestPublicPages(t *testing.T) {
	t.Parallel()
	signer, err := tracking.NewSigner(bytes.Repeat([]byte{5}, 32))
	require.NoError(t, err)
	logs := &lockedBuffer{}
	logger := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	e := setup(t, sqlstore.SQLite, func(d *Deps) { d.Tracking = signer; d.Logger = logger })
	emailID := e.send(e.keyA, simpleEmail)
	contactID := e.newContact(e.keyA, `{"email":"reader@example.net"}`)
	tokens := map[string]string{
		"open":  signer.OpenToken(tracking.Open{EmailID: emailID}),
		"click": signer.ClickToken(tracking.Click{EmailID: emailID, URL: "https://example.com/page"}),
		"unsub": signer.UnsubscribeToken(tracking.Unsubscribe{ContactID: contactID, TeamID: e.teamA}),
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for _, c := range []struct {
		method, path string
		status       int
		page         bool // a route of the public pages (the last is no route)
	}{
		{"GET", "/t/o/" + tokens["open"], 200, true},
		{"GET", "/t/c/" + tokens["click"], 302, true},
		{"GET", "/unsubscribe/" + tokens["unsub"], 200, true},
		{"POST", "/unsubscribe/" + tokens["unsub"], 200, true},
		{"GET", "/unsubscribe/not-a-token", 404, true},
		{"GET", "//t/c/" + tokens["click"] + "/extra", 404, false},
	} {
		req, err := http.NewRequest(c.method, e.srv.URL+c.path, nil)
		require.NoError(t, err)
		resp, err := client.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, c.status, resp.StatusCode, c.path)
		if !c.page {
			continue
		}
		require.Equal(t, "DENY", resp.Header.Get("X-Frame-Options"), c.path)
		csp := resp.Header.Get("Content-Security-Policy")
		require.Contains(t, csp, "frame-ancestors 'none'", c.path)
		require.Contains(t, csp, "default-src 'none'", c.path)
		require.NotContains(t, csp, "script-src", c.path)
	}
	// The API's own answers are not pages.
	require.Empty(t, e.do("GET", "/emails/"+emailID, e.keyA, "").header.Get("X-Frame-Options"))

	var logged []string
	waitUntil(t, "six access log lines for the public routes", func() bool {
		logged = logged[:0]
		for _, line := range strings.Split(logs.String(), "\n") {
			var rec map[string]any
			if json.Unmarshal([]byte(line), &rec) == nil && rec["msg"] == "request" {
				if p, _ := rec["path"].(string); strings.Contains(p, "/t/") || strings.Contains(p, "/unsubscribe/") {
					logged = append(logged, p)
				}
			}
		}
		return len(logged) == 6
	})
	require.Equal(t, []string{"/t/o/REDACTED", "/t/c/REDACTED", "/unsubscribe/REDACTED", "/unsubscribe/REDACTED",
		"/unsubscribe/REDACTED", "/t/c/REDACTED"}, logged)
	for name, tok := range tokens {
		require.NotContains(t, logs.String(), tok, "the %s token is not logged", name)
	}
}

// waitUntil polls cond until it holds, for at most 10 s.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
