package httplisten

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/godwit/godwit/internal/godwittest"
)

// serve runs an http.Server as the API's is run, on wrap(a loopback
// listener); handlers answer the protocol and whether they saw TLS.
func serve(t *testing.T, wrap func(net.Listener) net.Listener) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			_ = json.NewEncoder(w).Encode(map[string]any{"proto": r.Proto, "tls": r.TLS != nil})
		}),
		ReadHeaderTimeout: 10 * time.Second,
		MaxHeaderBytes:    4 << 10,
	}
	wrapped := wrap(ln)
	done := make(chan struct{})
	go func() { defer close(done); _ = srv.Serve(wrapped) }()
	t.Cleanup(func() { _ = srv.Close(); <-done })
	return ln.Addr().String()
}

// protocolError sends raw bytes and expects net/http's own refusal in
// Resend's envelope.
func protocolError(t *testing.T, c net.Conn, raw string, status int, msg string) {
	t.Helper()
	require.NoError(t, c.SetDeadline(time.Now().Add(10*time.Second)))
	_, err := io.WriteString(c, raw)
	require.NoError(t, err)
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Equal(t, status, resp.StatusCode, "%s", b)
	require.Equal(t, "application/json; charset=utf-8", resp.Header.Get("Content-Type"))
	require.True(t, resp.Close, "the connection is closed")
	var env map[string]any
	require.NoError(t, json.Unmarshal(b, &env), "%s", b)
	require.Equal(t, map[string]any{"statusCode": float64(status), "name": "validation_error", "message": msg}, env)
}

var protocolCases = []struct {
	name, raw string
	status    int
	msg       string
}{
	{"malformed", "NOT HTTP AT ALL\r\n\r\n", 400, "The HTTP request is malformed."},
	{"no host", "GET /x HTTP/1.1\r\n\r\n", 400, "The HTTP request is malformed: missing required Host header."},
	{"headers too large", "GET /x HTTP/1.1\r\nHost: x\r\nX-Big: " + strings.Repeat("a", 8<<10) + "\r\n\r\n", 431,
		"The request's header fields are too large."},
	{"transfer-encoding", "POST /x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n", 501,
		"The request's Transfer-Encoding is not supported."},
	{"version", "GET /x HTTP/2.0\r\nHost: x\r\n\r\n", 505, "HTTP Version Not Supported: unsupported protocol version."},
}

func TestPlainProtocolErrors(t *testing.T) {
	t.Parallel()
	addr := serve(t, Plain)
	for _, c := range protocolCases {
		t.Run(c.name, func(t *testing.T) {
			conn, err := net.Dial("tcp", addr)
			require.NoError(t, err)
			defer conn.Close()
			protocolError(t, conn, c.raw, c.status, c.msg)
		})
	}
	// A well-formed request is untouched.
	resp, err := http.Get("http://" + addr + "/")
	require.NoError(t, err)
	defer resp.Body.Close()
	var got map[string]any
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&got))
	require.Equal(t, map[string]any{"proto": "HTTP/1.1", "tls": false}, got)
}

func testCert(t *testing.T) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "httplisten test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, IsCA: true, BasicConstraintsValid: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &priv.PublicKey, priv)
	require.NoError(t, err)
	leaf, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: priv, Leaf: leaf}, pool
}

// TestTLS: h2 and http/1.1 are offered by ALPN and served (the latter with
// Request.TLS set), protocol errors over TLS are JSON, plain HTTP on the
// TLS port gets a JSON 400, and an ACME TLS-ALPN-01 handshake (acme-tls/1)
// still completes with the config's certificate for it.
func TestTLS(t *testing.T) {
	t.Parallel()
	cert, pool := testCert(t)
	var sawACME atomic.Bool
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, NextProtos: []string{acmeALPN},
		GetCertificate: func(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
			if len(hello.SupportedProtos) == 1 && hello.SupportedProtos[0] == acmeALPN {
				sawACME.Store(true) // autocert answers the challenge here
			}
			return &cert, nil
		}}
	addr := serve(t, func(ln net.Listener) net.Listener { return TLS(ln, cfg, nil) })
	require.Equal(t, []string{acmeALPN}, cfg.NextProtos, "the caller's config is not changed")

	get := func(h2 bool) map[string]any {
		tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, ForceAttemptHTTP2: h2}
		if !h2 {
			tr.TLSNextProto = map[string]func(string, *tls.Conn) http.RoundTripper{}
		}
		defer tr.CloseIdleConnections()
		resp, err := (&http.Client{Transport: tr, Timeout: 10 * time.Second}).Get("https://" + addr + "/")
		require.NoError(t, err)
		defer resp.Body.Close()
		require.NotNil(t, resp.TLS)
		var got map[string]any
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&got))
		return got
	}
	require.Equal(t, map[string]any{"proto": "HTTP/2.0", "tls": true}, get(true), "an h2 client negotiates h2")
	require.Equal(t, map[string]any{"proto": "HTTP/1.1", "tls": true}, get(false))

	for _, c := range protocolCases {
		t.Run(c.name, func(t *testing.T) {
			conn, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: pool, NextProtos: []string{"http/1.1"}})
			require.NoError(t, err)
			defer conn.Close()
			require.Equal(t, "http/1.1", conn.ConnectionState().NegotiatedProtocol)
			protocolError(t, conn, c.raw, c.status, c.msg)
		})
	}

	conn, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	protocolError(t, conn, "GET / HTTP/1.1\r\nHost: x\r\n\r\n", 400,
		"The HTTP request is malformed: Client sent an HTTP request to an HTTPS server.")
	conn.Close()

	tc, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true, NextProtos: []string{acmeALPN}})
	require.NoError(t, err)
	require.Equal(t, acmeALPN, tc.ConnectionState().NegotiatedProtocol)
	require.True(t, sawACME.Load())
	_ = tc.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, err = tc.Read(make([]byte, 1))
	require.ErrorIs(t, err, io.EOF, "the challenge connection is closed after the handshake")
	tc.Close()
}

// TestHandshakePanicClosesOneConnection: a panic while handshaking (here in
// GetCertificate, which sees the client's hello) closes that connection and
// is logged; the listener goes on serving.
func TestHandshakePanicClosesOneConnection(t *testing.T) {
	t.Parallel()
	cert, pool := testCert(t)
	var logs godwittest.LogBuffer
	cfg := &tls.Config{MinVersion: tls.VersionTLS12,
		GetCertificate: func(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
			if hello.ServerName == "boom.test" {
				panic("injected")
			}
			return &cert, nil
		}}
	addr := serve(t, func(ln net.Listener) net.Listener {
		return TLS(ln, cfg, slog.New(slog.NewJSONHandler(&logs, nil)))
	})
	_, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: pool, ServerName: "boom.test"})
	require.Error(t, err)
	var recs []map[string]any
	require.Eventually(t, func() bool {
		recs = logs.Records(t, "TLS handshake panicked; the connection is closed")
		return len(recs) == 1
	}, 5*time.Second, 5*time.Millisecond, "the panic is logged")
	require.Equal(t, "injected", recs[0]["panic"])

	c, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"})
	require.NoError(t, err, "the listener still serves")
	_ = c.Close()
}
