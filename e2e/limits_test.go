package e2e

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// peakRSS is the process's peak resident set (VmHWM) in bytes.
func peakRSS(t *testing.T, pid int) int64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Skipf("no /proc: %v", err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) == 3 && f[0] == "VmHWM:" {
			kb, err := strconv.ParseInt(f[1], 10, 64)
			require.NoError(t, err)
			return kb << 10
		}
	}
	t.Fatalf("no VmHWM in /proc/%d/status", pid)
	return 0
}

// TestLargeBodiesMemory sends eight emails of Resend's 40 MB at once to the
// binary with its default settings: every one is accepted (a client that
// is told 503 retries after Retry-After, as it would when the machine is
// too slow to take all eight within the admission wait), and the peak
// resident set stays within a few hundred MB because large bodies are
// admitted a few at a time (within --memory-limit).
func TestLargeBodiesMemory(t *testing.T) {
	t.Parallel()
	s := start(t, "--data-dir", t.TempDir(), "--delivery", "capture")
	waitFor(t, "a key on stdout", func() bool { return tokenRE.MatchString(s.stdout.String()) })
	key := tokenRE.FindString(s.stdout.String())
	before := peakRSS(t, s.cmd.Process.Pid)

	// An attachment whose base64 takes up nearly all of the 40 MB.
	raw := bytes.Repeat([]byte("godwit!"), 39_900_000/4*3/7)
	body := []byte(`{"from":"onboarding@resend.dev","to":"delivered@resend.dev","subject":"large","text":"see attached",` +
		`"attachments":[{"filename":"big.bin","content":"` + base64.StdEncoding.EncodeToString(raw) + `"}]}`)
	t.Logf("request body: %.1f MB", float64(len(body))/1e6)

	const n = 8
	statuses := make([]int, n)
	var wg sync.WaitGroup
	start := time.Now()
	for i := range n {
		wg.Go(func() {
			for attempt := 0; ; attempt++ {
				req, _ := http.NewRequest("POST", s.url+"/emails", bytes.NewReader(body))
				req.Header.Set("Authorization", "Bearer "+key)
				req.Header.Set("Content-Type", "application/json")
				resp, err := apiClient.Do(req)
				if err != nil {
					t.Errorf("send %d: %v", i, err)
					return
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				statuses[i] = resp.StatusCode
				if resp.StatusCode == 503 && resp.Header.Get("Retry-After") != "" && attempt < 5 {
					t.Logf("send %d: 503, retrying", i)
					time.Sleep(time.Second) // Retry-After: 1
					continue
				}
				if resp.StatusCode != 200 {
					t.Errorf("send %d: %d %s", i, resp.StatusCode, b)
				}
				return
			}
		})
	}
	wg.Wait()
	peak := peakRSS(t, s.cmd.Process.Pid)
	t.Logf("%d sends of %.0f MB in %v; peak RSS %d MB (%d MB before)", n, float64(len(body))/1e6,
		time.Since(start).Round(time.Millisecond), peak>>20, before>>20)
	require.Equal(t, []int{200, 200, 200, 200, 200, 200, 200, 200}, statuses)
	require.Less(t, peak, int64(600<<20), "peak RSS")
	s.stop(t)
}

// TestProtocolErrorsAreJSON: the answers net/http writes itself (malformed
// request, headers too large, unknown transfer encoding) come out of the
// binary in Resend's envelope.
func TestProtocolErrorsAreJSON(t *testing.T) {
	t.Parallel()
	s := start(t, "--data-dir", t.TempDir())
	addr := strings.TrimPrefix(s.url, "http://")
	for _, c := range []struct {
		raw    string
		status int
		msg    string
	}{
		{"BLAH\r\n\r\n", 400, "The HTTP request is malformed."},
		{"GET /emails HTTP/1.1\r\nHost: x\r\nX-Big: " + strings.Repeat("a", 1<<20+8192) + "\r\n\r\n", 431, "The request's header fields are too large."},
		{"POST /emails HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: compress\r\n\r\n", 501, "The request's Transfer-Encoding is not supported."},
	} {
		conn, err := net.Dial("tcp", addr)
		require.NoError(t, err)
		require.NoError(t, conn.SetDeadline(time.Now().Add(20*time.Second)))
		go func() { _, _ = io.WriteString(conn, c.raw) }() // the server may answer before reading it all
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		require.NoError(t, err, "%d", c.status)
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		conn.Close()
		require.Equal(t, c.status, resp.StatusCode, "%s", b)
		require.Equal(t, "application/json; charset=utf-8", resp.Header.Get("Content-Type"))
		var env map[string]any
		require.NoError(t, json.Unmarshal(b, &env), "%s", b)
		require.Equal(t, map[string]any{"statusCode": float64(c.status), "message": c.msg, "name": "validation_error"}, env)
	}
	s.stop(t)
}

// TestHTTP2 serves the API over TLS with a self-signed certificate: a client
// that can speak h2 negotiates it, one that offers only http/1.1 gets that.
func TestHTTP2(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	certFile, keyFile, pool := selfSigned(t, dir)
	s := start(t, "--data-dir", dir, "--tls-cert", certFile, "--tls-key", keyFile)
	waitFor(t, "a key on stdout", func() bool { return tokenRE.MatchString(s.stdout.String()) })
	key := tokenRE.FindString(s.stdout.String())
	url := strings.Replace(s.url, "http://", "https://", 1)

	send := func(tr *http.Transport) *http.Response {
		defer tr.CloseIdleConnections()
		req, _ := http.NewRequest("POST", url+"/emails", strings.NewReader(`{"from":"onboarding@resend.dev","to":"delivered@resend.dev","subject":"s","text":"x"}`))
		req.Header.Set("Authorization", "Bearer "+key)
		resp, err := (&http.Client{Transport: tr, Timeout: 10 * time.Second}).Do(req)
		require.NoError(t, err)
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		require.Equal(t, 200, resp.StatusCode, "%s", b)
		return resp
	}
	resp := send(&http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, ForceAttemptHTTP2: true})
	require.Equal(t, 2, resp.ProtoMajor)
	require.Equal(t, "h2", resp.TLS.NegotiatedProtocol)
	resp = send(&http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool},
		TLSNextProto: map[string]func(string, *tls.Conn) http.RoundTripper{}})
	require.Equal(t, 1, resp.ProtoMajor)
	s.stop(t)
}
