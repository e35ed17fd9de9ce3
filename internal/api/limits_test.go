package api

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/godwit/godwit/internal/godwittest"
	"github.com/godwit/godwit/internal/store/sqlstore"
	"github.com/godwit/godwit/internal/tracking"
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
	e.runImport(e.teamA, r.json["id"].(string))
	r = e.do("GET", "/contacts/imports/"+r.json["id"].(string), e.keyA, "")
	require.Equal(t, map[string]any{"total": 2.0, "created": 1.0, "updated": 0.0, "skipped": 0.0, "failed": 1.0}, r.json["counts"])
	requireError(t, e.do("GET", "/contacts/many@example.net", e.keyA, ""), 404, "not_found")
	r = e.do("GET", "/contacts/hundred@example.net", e.keyA, "")
	require.Equal(t, 200, r.status)
	require.Len(t, r.json["properties"], 100)
	require.Equal(t, "v", r.json["properties"].(map[string]any)["p99"])
}

// TestPublicPages: the tracking, unsubscribe, share and download routes may not be framed and
// carry a restrictive Content-Security-Policy, and the debug access log
// shows their paths without the tokens.
func TestPublicPages(t *testing.T) {
	t.Parallel()
	signer, err := tracking.NewSigner(bytes.Repeat([]byte{5}, 32))
	require.NoError(t, err)
	logs := &godwittest.LogBuffer{}
	logger := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	e := setup(t, sqlstore.SQLite, func(d *Deps) { d.Tracking = signer; d.Logger = logger })
	emailID := e.send(e.keyA, simpleEmail)
	contactID := e.newContact(e.keyA, `{"email":"reader@example.net"}`)
	tokens := map[string]string{
		"open":  signer.OpenToken(tracking.Open{EmailID: emailID}),
		"click": signer.ClickToken(tracking.Click{EmailID: emailID, URL: "https://example.com/page"}),
		"unsub": signer.UnsubscribeToken(tracking.Unsubscribe{ContactID: contactID, TeamID: e.teamA}),
		"share": signer.ShareToken(tracking.Share{EmailID: emailID, TeamID: e.teamA, Expires: t0.Add(time.Hour)}),
		"file":  signer.DownloadToken(tracking.Download{EmailID: emailID, TeamID: e.teamA, Expires: t0.Add(time.Hour)}),
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
		{"GET", "/share/" + tokens["share"], 200, true},
		{"GET", "/download/" + tokens["file"], 404, true}, // the email has no attachment
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
	waitUntil(t, "eight access log lines for the public routes", func() bool {
		logged = logged[:0]
		for _, line := range strings.Split(logs.String(), "\n") {
			var rec map[string]any
			if json.Unmarshal([]byte(line), &rec) == nil && rec["msg"] == "request" {
				if p, _ := rec["path"].(string); strings.Contains(p, "/t/") || strings.Contains(p, "/unsubscribe/") ||
					strings.Contains(p, "/share/") || strings.Contains(p, "/download/") {
					logged = append(logged, p)
				}
			}
		}
		return len(logged) == 8
	})
	require.Equal(t, []string{"/t/o/REDACTED", "/t/c/REDACTED", "/unsubscribe/REDACTED", "/unsubscribe/REDACTED",
		"/unsubscribe/REDACTED", "/share/REDACTED", "/download/REDACTED", "/t/c/REDACTED"}, logged)
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

// rawRequest writes a request's head and then body (which may be only the
// start of what Content-Length announces) on a new connection, and returns
// the connection for reading the answer.
func (e *testEnv) rawRequest(t *testing.T, head string, body []byte) (net.Conn, *bufio.Reader) {
	t.Helper()
	c, err := net.Dial("tcp", e.srv.Listener.Addr().String())
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	require.NoError(t, c.SetDeadline(time.Now().Add(20*time.Second)))
	_, err = c.Write([]byte(head + "\r\n"))
	require.NoError(t, err)
	if len(body) > 0 {
		_, err = c.Write(body)
		require.NoError(t, err)
	}
	return c, bufio.NewReader(c)
}

// readRawResponse reads one answer; Connection: close is kept in its header
// (http.ReadResponse moves it to resp.Close).
func readRawResponse(t *testing.T, br *bufio.Reader) result {
	t.Helper()
	resp, err := http.ReadResponse(br, nil)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	r := result{status: resp.StatusCode, header: resp.Header, body: b}
	if resp.Close {
		r.header.Set("Connection", "close")
	}
	require.True(t, strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json"), "JSON: %q", b)
	require.NoError(t, json.Unmarshal(b, &r.json), "%s", b)
	return r
}

// TestBodyLimits: every route has a body limit; a Content-Length over it is
// a 413 answered before any of the body is sent, and a chunked body over it
// is cut off at the limit.
func TestBodyLimits(t *testing.T) {
	t.Parallel()
	e := setup(t, sqlstore.SQLite)
	const emailLimit = 160 << 20
	for _, c := range []struct {
		method, path string
		limit        int64
		message      string
	}{
		{"POST", "/emails", emailLimit, "160 MB"},
		{"POST", "/emails/batch", emailLimit, "160 MB"},
		{"POST", "/templates", emailLimit, "160 MB"},
		{"PATCH", "/broadcasts/" + uuid.NewString(), emailLimit, "160 MB"},
		{"POST", "/contacts/imports", 51 << 20, "The CSV file is larger than the 50 MB limit."},
		{"POST", "/domains", 1 << 20, "1 MB"},
		{"POST", "/api-keys", 1 << 20, "1 MB"},
		{"POST", "/webhooks", 1 << 20, "1 MB"},
		{"PATCH", "/contacts/a@example.net", 1 << 20, "1 MB"},
		{"POST", "/suppressions/batch/add", 1 << 20, "1 MB"},
		{"GET", "/emails", 1 << 20, "1 MB"},
		{"POST", "/unsubscribe/token", 1 << 20, "1 MB"},
	} {
		// Only the head is sent: the answer cannot have waited for the body.
		head := fmt.Sprintf("%s %s HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n",
			c.method, c.path, e.keyA, c.limit+1)
		_, br := e.rawRequest(t, head, nil)
		r := readRawResponse(t, br)
		requireError(t, r, 413, "validation_error", c.message)
		require.Equal(t, "close", r.header.Get("Connection"), "%s %s", c.method, c.path)
	}
	// A body at the limit is read (and refused for what it holds).
	r := e.do("POST", "/domains", e.keyA, `{"name":"`+strings.Repeat("a", 1<<20-11)+`"}`)
	require.Equal(t, 422, r.status, "body: %s", r.body)

	// A chunked body is read up to the limit, and no further.
	for _, path := range []string{"/domains", "/emails"} {
		e := setup(t, sqlstore.SQLite, func(d *Deps) { d.MaxBodyBytes = 3 << 20 })
		src := &countingReader{}
		req, err := http.NewRequest("POST", e.srv.URL+path, src)
		require.NoError(t, err)
		req.Header.Set("Authorization", "Bearer "+e.keyA)
		resp, err := e.srv.Client().Do(req)
		require.NoError(t, err, path)
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		require.Equal(t, 413, resp.StatusCode, "%s: %s", path, body)
		require.Less(t, src.n.Load(), int64(3<<20+8<<20), "%s: the client sent at most the limit and what buffers hold", path)
	}
}

// countingReader is an endless body that counts what was taken from it.
type countingReader struct{ n atomic.Int64 }

func (c *countingReader) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = ' '
	}
	c.n.Add(int64(len(p)))
	return len(p), nil
}

// TestBodyAdmission: large bodies are admitted within the memory budget; one
// that cannot be admitted in time is a 503 with Retry-After, and is admitted
// once the budget has room.
func TestBodyAdmission(t *testing.T) {
	t.Parallel()
	e := setup(t, sqlstore.SQLite, func(d *Deps) {
		d.Bodies = BodyLimits{Memory: 5 << 20, AdmissionWait: 300 * time.Millisecond}
	})
	email := func(size int) []byte {
		b := []byte(`{"from":"onboarding@example.com","to":"delivered@example.net","subject":"big","html":"`)
		b = append(b, bytes.Repeat([]byte("x"), size-len(b)-2)...)
		return append(b, `"}`...)
	}
	head := func(n int) string {
		return fmt.Sprintf("POST /emails HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n", e.keyA, n)
	}
	// A holds 3 MiB of the 5 while its body is still on the way.
	bodyA := email(3 << 20)
	connA, brA := e.rawRequest(t, head(len(bodyA)), bodyA[:1000])
	waitUntil(t, "A admitted", func() bool { return !e.handler.admission.TryAcquire(3<<20) || release(e.handler, 3<<20) })

	// B (3 MiB) does not fit beside A.
	bodyB := email(3 << 20)
	start := time.Now()
	_, brB := e.rawRequest(t, head(len(bodyB)), nil)
	r := readRawResponse(t, brB)
	requireError(t, r, 503, "service_unavailable", "too many large requests")
	require.Equal(t, "1", r.header.Get("Retry-After"))
	require.GreaterOrEqual(t, time.Since(start), 300*time.Millisecond, "B waited for admission")

	// A small body is not counted.
	require.Equal(t, 200, e.do("POST", "/emails", e.keyA, simpleEmail).status)

	// A finishes, and B then fits.
	_, err := connA.Write(bodyA[1000:])
	require.NoError(t, err)
	require.Equal(t, 200, readRawResponse(t, brA).status)
	require.Equal(t, 200, e.do("POST", "/emails", e.keyA, string(bodyB)).status)

	// Eight at once all go through, a few at a time, given time to wait.
	e = setup(t, sqlstore.SQLite, func(d *Deps) { d.Bodies = BodyLimits{Memory: 5 << 20} })
	var wg sync.WaitGroup
	statuses := make([]int, 8)
	for i := range statuses {
		wg.Go(func() {
			req, _ := http.NewRequest("POST", e.srv.URL+"/emails", bytes.NewReader(email(2<<20)))
			req.Header.Set("Authorization", "Bearer "+e.keyA)
			resp, err := e.srv.Client().Do(req)
			if err == nil {
				statuses[i] = resp.StatusCode
				resp.Body.Close()
			}
		})
	}
	wg.Wait()
	require.Equal(t, []int{200, 200, 200, 200, 200, 200, 200, 200}, statuses)
}

func release(h *Handler, n int64) bool { h.admission.Release(n); return false }

// TestSlowBody: a body that trickles in is cut off with a 408 once it falls
// behind the minimum rate after the grace period; one that keeps the rate
// is read whole even though it takes longer than the grace period.
func TestSlowBody(t *testing.T) {
	t.Parallel()
	e := setup(t, sqlstore.SQLite, func(d *Deps) {
		d.Bodies = BodyLimits{Grace: 300 * time.Millisecond, MinRate: 64 << 10}
	})
	head := func(n int) string {
		return fmt.Sprintf("POST /emails HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n", e.keyA, n)
	}
	start := time.Now()
	conn, br := e.rawRequest(t, head(100_000), []byte(`{"from":`))
	stop := make(chan struct{})
	defer close(stop)
	go func() { // ten bytes every 50 ms, until the server hangs up
		for {
			select {
			case <-stop:
				return
			case <-time.After(50 * time.Millisecond):
				if _, err := conn.Write([]byte("          ")); err != nil {
					return
				}
			}
		}
	}()
	r := readRawResponse(t, br)
	requireError(t, r, 408, "request_timeout", "too slowly")
	require.Equal(t, "close", r.header.Get("Connection"))
	require.Less(t, time.Since(start), 5*time.Second)
	// Closed: a clean EOF, or a reset when the writer above was still
	// sending as the server hung up.
	_, err := br.ReadByte()
	require.True(t, errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET), "the connection is closed: %v", err)

	// 200 KiB over about 1.6 s: slower than the grace period, faster than the rate.
	e = setup(t, sqlstore.SQLite, func(d *Deps) {
		d.Bodies = BodyLimits{Grace: time.Second, MinRate: 64 << 10}
	})
	body := []byte(`{"from":"onboarding@example.com","to":"delivered@example.net","subject":"steady","html":"`)
	body = append(body, bytes.Repeat([]byte("x"), 200<<10-len(body)-2)...)
	body = append(body, `"}`...)
	conn, br = e.rawRequest(t, head(len(body)), nil)
	for chunk := range slices.Chunk(body, 25<<10) {
		_, err := conn.Write(chunk)
		require.NoError(t, err)
		time.Sleep(200 * time.Millisecond) // the pace of the body is what is tested
	}
	r = readRawResponse(t, br)
	require.Equal(t, 200, r.status, "body: %s", r.body)
}

// TestAddressLimits: reply_to holds at most 50 addresses, and addresses keep
// to the RFCs' lengths (local part 64 octets, label 63, domain 253).
func TestAddressLimits(t *testing.T) {
	t.Parallel()
	e := setup(t, sqlstore.SQLite)
	addrs := func(n int) string {
		a := make([]string, n)
		for i := range a {
			a[i] = fmt.Sprintf(`"r%d@example.net"`, i)
		}
		return "[" + strings.Join(a, ",") + "]"
	}
	email := func(extra string) string {
		return `{"from":"onboarding@example.com","to":"delivered@example.net","subject":"s","text":"t",` + extra + `}`
	}
	e.send(e.keyA, email(`"reply_to":`+addrs(50)))
	requireError(t, e.do("POST", "/emails", e.keyA, email(`"reply_to":`+addrs(51))), 422, "validation_error",
		"`reply_to`", "maximum is 50")
	requireError(t, e.do("POST", "/emails", e.keyA, email(`"reply_to":"`+strings.Repeat("l", 65)+`@example.net"`)), 422,
		"validation_error", "`reply_to`", "local part", "64 octets")
	requireError(t, e.do("POST", "/emails", e.keyA, email(`"cc":["ok@example.net","c@`+strings.Repeat("d", 64)+`.example.net"]`)), 422,
		"validation_error", "`cc`", "label", "63 octets")
	r := e.do("POST", "/emails/batch", e.keyA, "["+email(`"reply_to":`+addrs(51))+"]")
	requireError(t, r, 422, "validation_error", "`reply_to`", "maximum is 50")
}
