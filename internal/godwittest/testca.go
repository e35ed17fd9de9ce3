package godwittest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// CA is a certificate authority for tests: it issues server certificates
// for any names, which clients trusting Pool accept.
type CA struct {
	cert   *x509.Certificate
	key    *ecdsa.PrivateKey
	pool   *x509.CertPool
	serial atomic.Int64
}

// NewCA creates a CA valid for an hour around now.
func NewCA(t testing.TB) *CA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatalf("test CA: %v", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "godwit test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatalf("test CA: %v", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatalf("test CA: %v", err)
	}
	ca := &CA{cert: cert, key: key, pool: x509.NewCertPool()}
	ca.pool.AddCert(cert)
	ca.serial.Store(1)
	return ca
}

// PEM is the CA's certificate in PEM, for a file a process under test
// trusts (--outbound-tls-ca-file).
func (ca *CA) PEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.cert.Raw})
}

// Pool holds the CA's certificate, for a client's RootCAs.
func (ca *CA) Pool() *x509.CertPool { return ca.pool }

// ServerTLS returns a server configuration presenting a certificate the CA
// issued for names (DNS names only).
func (ca *CA) ServerTLS(t testing.TB, names ...string) *tls.Config {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatalf("test CA: %v", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(ca.serial.Add(1)), Subject: pkix.Name{CommonName: names[0]},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		DNSNames: names, KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatalf("test CA: %v", err)
	}
	return &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}}
}

// PolicyServer serves MTA-STS policies (RFC 8461) over HTTPS on loopback,
// at /.well-known/mta-sts.txt, for whatever mta-sts.<domain> name the
// client asks (its certificate is the CA's for the names given).
type PolicyServer struct {
	srv     *httptest.Server
	mu      sync.Mutex
	body    string
	status  int
	fetches int
}

// NewPolicyServer starts a policy server with a certificate from ca for
// names ("mta-sts.example.test"), answering 404 until Set.
func NewPolicyServer(t testing.TB, ca *CA, names ...string) *PolicyServer {
	t.Helper()
	p := &PolicyServer{status: http.StatusNotFound}
	p.srv = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.mu.Lock()
		p.fetches++
		body, status := p.body, p.status
		p.mu.Unlock()
		if r.URL.Path != "/.well-known/mta-sts.txt" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
	}))
	p.srv.TLS = ca.ServerTLS(t, names...)
	p.srv.StartTLS()
	t.Cleanup(p.srv.Close)
	return p
}

// Set makes the server answer 200 with policy.
func (p *PolicyServer) Set(policy string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.body, p.status = policy, http.StatusOK
}

// Fail makes the server answer status with an empty body.
func (p *PolicyServer) Fail(status int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.body, p.status = "", status
}

// Fetches is how many requests the server answered.
func (p *PolicyServer) Fetches() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.fetches
}

// Port is the server's TCP port on 127.0.0.1.
func (p *PolicyServer) Port() int {
	_, port, err := net.SplitHostPort(p.srv.Listener.Addr().String())
	if err != nil {
		panic(fmt.Sprintf("policy server address: %v", err))
	}
	n, _ := strconv.Atoi(port)
	return n
}
