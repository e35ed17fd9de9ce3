package fetch

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/godwit/godwit/internal/netguard"
)

// private is a Fetcher that may reach the loopback test servers.
func private(f Fetcher) *Fetcher {
	f.Client = netguard.Policy{AllowPrivate: true}.HTTPClient(5 * time.Second)
	return &f
}

func serve(t *testing.T, h http.HandlerFunc) *httptest.Server {
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

func TestFetchSuccess(t *testing.T) {
	body := bytes.Repeat([]byte("%PDF-1.7 godwit "), 1000)
	var gotUA, gotMethod atomic.Value
	srv := serve(t, func(w http.ResponseWriter, r *http.Request) {
		gotUA.Store(r.UserAgent())
		gotMethod.Store(r.Method)
		w.Header().Set("Content-Type", "application/pdf")
		w.Write(body)
	})

	data, ct, err := private(Fetcher{}).Fetch(context.Background(), srv.URL+"/invoice.pdf?sig=abc")
	require.NoError(t, err)
	require.Equal(t, body, data)
	require.Equal(t, "application/pdf", ct)
	require.Equal(t, DefaultUserAgent, gotUA.Load())
	require.Equal(t, http.MethodGet, gotMethod.Load())

	_, _, err = private(Fetcher{UserAgent: "test-agent/1"}).Fetch(context.Background(), srv.URL)
	require.NoError(t, err)
	require.Equal(t, "test-agent/1", gotUA.Load())
}

func TestFetchNoContentType(t *testing.T) {
	srv := serve(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header()["Content-Type"] = nil // stop net/http from sniffing one
		fmt.Fprint(w, "x")
	})
	data, ct, err := private(Fetcher{}).Fetch(context.Background(), srv.URL)
	require.NoError(t, err)
	require.Equal(t, "x", string(data))
	require.Equal(t, "", ct)
}

func TestFetchEmptyBody(t *testing.T) {
	srv := serve(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
	})
	data, ct, err := private(Fetcher{}).Fetch(context.Background(), srv.URL)
	require.NoError(t, err)
	require.Empty(t, data)
	require.Equal(t, "text/plain", ct)
}

func TestFetchFollowsRedirect(t *testing.T) {
	srv := serve(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/old" {
			http.Redirect(w, r, "/new", http.StatusMovedPermanently)
			return
		}
		w.Header().Set("Content-Type", "image/png")
		fmt.Fprint(w, "png")
	})
	data, ct, err := private(Fetcher{}).Fetch(context.Background(), srv.URL+"/old")
	require.NoError(t, err)
	require.Equal(t, "png", string(data))
	require.Equal(t, "image/png", ct)
}

func TestFetchSizeLimit(t *testing.T) {
	const limit = 1000
	srv := serve(t, func(w http.ResponseWriter, r *http.Request) {
		n, _ := strconv.Atoi(r.URL.Query().Get("n"))
		if r.URL.Query().Has("chunked") {
			// Several flushed writes and no Content-Length: chunked.
			for n > 0 {
				k := min(n, 100)
				w.Write(bytes.Repeat([]byte("a"), k))
				w.(http.Flusher).Flush()
				n -= k
			}
			return
		}
		w.Header().Set("Content-Length", strconv.Itoa(n))
		w.Write(bytes.Repeat([]byte("a"), n))
	})

	tests := []struct {
		query   string
		tooBig  bool
		chunked bool
	}{
		{"n=0", false, false},
		{"n=999", false, false},
		{"n=1000", false, false},
		{"n=1001", true, false},
		{"n=100000", true, false},
		{"n=1000&chunked", false, true},
		{"n=1001&chunked", true, true},
		{"n=100000&chunked", true, true},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			data, _, err := private(Fetcher{MaxBytes: limit}).Fetch(context.Background(), srv.URL+"/?"+tt.query)
			if !tt.tooBig {
				require.NoError(t, err)
				n, _ := strconv.Atoi(strings.Split(strings.TrimPrefix(tt.query, "n="), "&")[0])
				require.Len(t, data, n)
				return
			}
			require.Error(t, err)
			require.Nil(t, data)
			require.True(t, Permanent(err))
			require.EqualError(t, err, "fetch "+srv.URL+"/: the body is larger than 1000 bytes")
		})
	}
}

// TestFetchSizeLimitEarly shows a too-large Content-Length is refused before
// the body is read: the server announces a huge body and sends almost none.
func TestFetchSizeLimitEarly(t *testing.T) {
	srv := serve(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "50000000")
		w.Write([]byte("a"))
		w.(http.Flusher).Flush()
		<-r.Context().Done() // the rest never comes
	})
	start := time.Now()
	_, _, err := private(Fetcher{MaxBytes: 1000, Timeout: 10 * time.Second}).Fetch(context.Background(), srv.URL)
	require.Error(t, err)
	require.True(t, Permanent(err))
	require.Contains(t, err.Error(), "larger than 1000 bytes")
	require.Less(t, time.Since(start), 5*time.Second)
}

// TestFetchSizeLimitCompressed: a gzip body is counted after decompression.
func TestFetchSizeLimitCompressed(t *testing.T) {
	srv := serve(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Encoding", "gzip")
		w.Write(gzipped(t, bytes.Repeat([]byte("a"), 100000)))
	})
	_, _, err := private(Fetcher{MaxBytes: 1000}).Fetch(context.Background(), srv.URL)
	require.Error(t, err)
	require.True(t, Permanent(err))
	require.Contains(t, err.Error(), "larger than 1000 bytes")
}

func TestFetchTimeout(t *testing.T) {
	for _, stage := range []string{"headers", "body"} {
		t.Run(stage, func(t *testing.T) {
			srv := serve(t, func(w http.ResponseWriter, r *http.Request) {
				if stage == "body" {
					w.Header().Set("Content-Length", "10")
					w.Write([]byte("abc"))
					w.(http.Flusher).Flush()
				}
				select {
				case <-r.Context().Done():
				case <-time.After(10 * time.Second): // bound the handler
				}
			})
			start := time.Now()
			_, _, err := private(Fetcher{Timeout: 200 * time.Millisecond}).Fetch(context.Background(), srv.URL+"/slow?token=s3cret")
			require.Error(t, err)
			require.Less(t, time.Since(start), 5*time.Second)
			require.False(t, Permanent(err), "a timeout is temporary")
			require.EqualError(t, err, "fetch "+srv.URL+"/slow: timed out after 200ms")
		})
	}
}

func TestFetchStatus(t *testing.T) {
	srv := serve(t, func(w http.ResponseWriter, r *http.Request) {
		code, _ := strconv.Atoi(strings.TrimPrefix(r.URL.Path, "/"))
		if code == http.StatusFound {
			w.WriteHeader(code) // a redirect without Location is not followed
			return
		}
		http.Error(w, "nope", code)
	})
	tests := []struct {
		code      int
		permanent bool
	}{
		{204, true},
		{206, true},
		{302, true},
		{304, true},
		{400, true},
		{401, true},
		{403, true},
		{404, true},
		{410, true},
		{408, false},
		{429, false},
		{500, false},
		{502, false},
		{503, false},
		{504, false},
	}
	for _, tt := range tests {
		t.Run(strconv.Itoa(tt.code), func(t *testing.T) {
			data, _, err := private(Fetcher{}).Fetch(context.Background(), srv.URL+"/"+strconv.Itoa(tt.code)+"?key=s3cret")
			require.Nil(t, data)
			var fe *Error
			require.ErrorAs(t, err, &fe)
			require.Equal(t, tt.code, fe.StatusCode)
			require.Equal(t, tt.permanent, Permanent(err))
			require.Equal(t, fmt.Sprintf("fetch %s/%d: HTTP status %d %s", srv.URL, tt.code, tt.code, http.StatusText(tt.code)), err.Error())
		})
	}
}

func TestFetchRefusesPrivate(t *testing.T) {
	var hits atomic.Int32
	srv := serve(t, func(w http.ResponseWriter, r *http.Request) { hits.Add(1) })
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())

	for name, f := range map[string]*Fetcher{
		"zero Fetcher":  {},
		"Policy Client": {Client: netguard.Policy{}.HTTPClient(time.Second)},
	} {
		for _, u := range []string{srv.URL + "/a?token=s3cret", "http://localhost:" + port + "/a"} {
			t.Run(name+" "+u, func(t *testing.T) {
				_, _, err := f.Fetch(context.Background(), u)
				var re *netguard.RefusedError
				require.ErrorAs(t, err, &re)
				require.True(t, Permanent(err))
				require.Contains(t, err.Error(), "refusing to connect to non-public address")
				require.NotContains(t, err.Error(), "s3cret")
			})
		}
	}
	require.Zero(t, hits.Load())
}

func TestFetchRedirectRefused(t *testing.T) {
	srv := serve(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/loop":
			http.Redirect(w, r, "/loop?secret=s3cret", http.StatusFound)
		case "/ftp":
			http.Redirect(w, r, "ftp://example.com/f?secret=s3cret", http.StatusFound)
		}
	})
	for _, p := range []string{"/loop", "/ftp"} {
		_, _, err := private(Fetcher{}).Fetch(context.Background(), srv.URL+p)
		require.Error(t, err, p)
		require.True(t, Permanent(err), p)
		require.NotContains(t, err.Error(), "s3cret", p)
		require.True(t, errors.Is(err, netguard.ErrTooManyRedirects) || errors.Is(err, netguard.ErrRedirectScheme), "%s: %v", p, err)
	}
}

func TestFetchBadURL(t *testing.T) {
	tests := []struct {
		url string
		msg string
	}{
		{"ftp://example.com/file.pdf", `fetch ftp://example.com/file.pdf: unsupported scheme "ftp": only http and https`},
		{"file:///etc/passwd", `fetch file:///etc/passwd: unsupported scheme "file": only http and https`},
		{"gopher://example.com/", `fetch gopher://example.com/: unsupported scheme "gopher": only http and https`},
		{"javascript:alert(1)", `fetch javascript:alert(1): unsupported scheme "javascript": only http and https`},
		{"/relative/path", "fetch: not an absolute URL"},
		{"", "fetch: not an absolute URL"},
		{"example.com/file", "fetch: not an absolute URL"},
		{"http://user:s3cret@example.com/file?x=1", "fetch http://example.com/file: URLs with a user name or password are not fetched"},
		{"https://user@example.com/", "fetch https://example.com/: URLs with a user name or password are not fetched"},
		{"https://:s3cret@example.com/", "fetch https://example.com/: URLs with a user name or password are not fetched"},
		{"http:///path", "fetch http:///path: the URL has no host"},
		{"http://:80/path", "fetch http://:80/path: the URL has no host"},
		{"http:opaque", "fetch http:opaque: the URL has no host"},
		{"http://exa mple.com/?k=s3cret", `fetch: invalid URL: invalid character " " in host name`},
		{"http://example.com/%zz?k=s3cret", `fetch: invalid URL: invalid URL escape "%zz"`},
		{"http://[::1/?k=s3cret", `fetch: invalid URL: missing ']' in host`},
	}
	var hits atomic.Int32
	client := &http.Client{Transport: roundTripFunc(func(*http.Request) (*http.Response, error) {
		hits.Add(1)
		return nil, errors.New("must not be called")
	})}
	for _, tt := range tests {
		t.Run(tt.url, func(t *testing.T) {
			_, _, err := (&Fetcher{Client: client}).Fetch(context.Background(), tt.url)
			require.EqualError(t, err, tt.msg)
			require.True(t, Permanent(err))
			require.NotContains(t, err.Error(), "s3cret")
		})
	}
	require.Zero(t, hits.Load())
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestFetchConnectionErrors(t *testing.T) {
	// A port nobody listens on: connection refused, temporary.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	ln.Close()
	_, _, err = private(Fetcher{}).Fetch(context.Background(), "http://"+addr+"/f?token=s3cret")
	require.Error(t, err)
	require.False(t, Permanent(err))
	require.NotContains(t, err.Error(), "s3cret")
	require.True(t, strings.HasPrefix(err.Error(), "fetch http://"+addr+"/f: "), err.Error())

	// The connection drops in the middle of the body: temporary.
	srv := serve(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "100")
		w.Write([]byte("short"))
		w.(http.Flusher).Flush()
		c, _, err := w.(http.Hijacker).Hijack()
		if err == nil {
			c.Close()
		}
	})
	_, _, err = private(Fetcher{}).Fetch(context.Background(), srv.URL+"/f?token=s3cret")
	require.Error(t, err)
	require.False(t, Permanent(err))
	require.Contains(t, err.Error(), "reading the body")
	require.NotContains(t, err.Error(), "s3cret")
}

func TestFetchCanceled(t *testing.T) {
	srv := serve(t, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(10 * time.Second):
		}
	})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, _, err := private(Fetcher{}).Fetch(ctx, srv.URL)
	require.Error(t, err)
	require.False(t, Permanent(err))
	require.ErrorIs(t, err, context.Canceled)
}

func TestPermanent(t *testing.T) {
	require.False(t, Permanent(nil))
	require.False(t, Permanent(errors.New("something")))
	require.False(t, Permanent(context.DeadlineExceeded))
	require.True(t, Permanent(fmt.Errorf("wrapped: %w", &netguard.RefusedError{})))
	require.True(t, Permanent(fmt.Errorf("wrapped: %w", &Error{permanent: true})))
	require.False(t, Permanent(&Error{}))
}

func TestErrorUnwrap(t *testing.T) {
	inner := io.ErrUnexpectedEOF
	err := &Error{URL: "https://example.com/a", Msg: "reading the body: unexpected EOF", Err: inner}
	require.ErrorIs(t, err, io.ErrUnexpectedEOF)
	require.Equal(t, "fetch https://example.com/a: reading the body: unexpected EOF", err.Error())
}

func gzipped(t *testing.T, b []byte) []byte {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	_, err := zw.Write(b)
	require.NoError(t, err)
	require.NoError(t, zw.Close())
	return buf.Bytes()
}
