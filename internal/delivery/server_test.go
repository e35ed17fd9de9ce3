package delivery

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io"
	"math/big"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
	"github.com/miekg/dns"
	"github.com/stretchr/testify/require"

	"github.com/godwit/godwit/internal/dnscheck/dnstest"
)

// fault is what the test backend does when a recipient is given.
type fault int

const (
	accept        fault = iota
	tempFailOnce        // 450 4.2.0 on the first delivery, 250 afterwards
	tempFail            // 451 4.3.0 always
	reject              // 550 5.1.1
	dropAfterRcpt       // close the connection instead of answering
	slow                // do not answer until released
)

type received struct {
	From string
	To   []string
	Data []byte
	TLS  bool
	Helo string
	User string
}

// backend is a go-smtp backend storing what it accepts, with per-recipient
// fault injection and optional AUTH PLAIN.
type backend struct {
	mu      sync.Mutex
	faults  map[string]fault
	seen    map[string]int
	msgs    []received
	conns   int
	user    string
	pass    string
	release chan struct{}
}

func newBackend(t *testing.T) *backend {
	b := &backend{faults: map[string]fault{}, seen: map[string]int{}, release: make(chan struct{})}
	t.Cleanup(func() { close(b.release) })
	return b
}

func (b *backend) setFault(rcpt string, f fault) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.faults[rcpt] = f
}

func (b *backend) messages() []received {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]received(nil), b.msgs...)
}

func (b *backend) NewSession(c *smtp.Conn) (smtp.Session, error) {
	b.mu.Lock()
	b.conns++
	b.mu.Unlock()
	return &session{b: b, c: c}, nil
}

type session struct {
	b      *backend
	c      *smtp.Conn
	from   string
	to     []string
	authed string
}

func (s *session) AuthMechanisms() []string {
	if s.b.user == "" {
		return nil
	}
	return []string{sasl.Plain}
}

func (s *session) Auth(mech string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(identity, username, password string) error {
		if username != s.b.user || password != s.b.pass {
			return smtp.ErrAuthFailed
		}
		s.authed = username
		return nil
	}), nil
}

func (s *session) Mail(from string, _ *smtp.MailOptions) error {
	if s.b.user != "" && s.authed == "" {
		return smtp.ErrAuthRequired
	}
	s.from = from
	return nil
}

func (s *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.b.mu.Lock()
	f := s.b.faults[to]
	s.b.seen[to]++
	n := s.b.seen[to]
	s.b.mu.Unlock()
	switch f {
	case tempFailOnce:
		if n == 1 {
			return &smtp.SMTPError{Code: 450, EnhancedCode: smtp.EnhancedCode{4, 2, 0}, Message: "Mailbox busy, try later"}
		}
	case tempFail:
		return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "Local problem"}
	case reject:
		return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "No such user here"}
	case dropAfterRcpt:
		s.c.Conn().Close()
		return errors.New("dropped")
	case slow:
		select {
		case <-s.b.release:
		case <-time.After(5 * time.Second):
		}
	}
	s.to = append(s.to, to)
	return nil
}

func (s *session) Data(r io.Reader) error {
	data, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	_, isTLS := s.c.TLSConnectionState()
	s.b.mu.Lock()
	defer s.b.mu.Unlock()
	s.b.msgs = append(s.b.msgs, received{From: s.from, To: append([]string(nil), s.to...), Data: data,
		TLS: isTLS, Helo: s.c.Hostname(), User: s.authed})
	return nil
}

func (s *session) Reset()        { s.from, s.to = "", nil }
func (s *session) Logout() error { return nil }

// serverOpts select how a test SMTP server listens.
type serverOpts struct {
	tls         *tls.Config // advertise STARTTLS (or serve implicit TLS) with this config
	implicitTLS bool
	insecureOK  bool // allow AUTH without TLS
}

// startSMTP runs a go-smtp server for b on a random 127.0.0.1 port and
// returns its address.
func startSMTP(t *testing.T, b *backend, o serverOpts) string {
	t.Helper()
	srv := smtp.NewServer(b)
	srv.Domain = "mx.test"
	srv.ReadTimeout = 5 * time.Second
	srv.WriteTimeout = 5 * time.Second
	srv.AllowInsecureAuth = o.insecureOK
	var ln net.Listener
	var err error
	if o.implicitTLS {
		ln, err = tls.Listen("tcp", "127.0.0.1:0", o.tls)
	} else {
		srv.TLSConfig = o.tls
		ln, err = net.Listen("tcp", "127.0.0.1:0")
	}
	require.NoError(t, err)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(ln)
	}()
	t.Cleanup(func() {
		_ = srv.Close()
		// go-smtp's Close closes only the listeners Serve has registered:
		// a test that ends before Serve ran would leave it accepting.
		_ = ln.Close()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Error("smtp server did not stop")
		}
	})
	return ln.Addr().String()
}

// closedAddr returns a loopback address nobody listens on.
func closedAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	return addr
}

// testPKI is a CA and a server certificate it signed.
type testPKI struct {
	server *tls.Config // for the SMTP servers
	client *tls.Config // trusts the CA only
}

func newPKI(t *testing.T, names ...string) *testPKI {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "godwit test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	require.NoError(t, err)
	ca, err := x509.ParseCertificate(caDER)
	require.NoError(t, err)

	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: names[0]},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		DNSNames: names, IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	require.NoError(t, err)
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	return &testPKI{
		server: &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}},
		client: &tls.Config{RootCAs: pool},
	}
}

// addrDNS is a loopback DNS server answering A queries from a map and
// forwarding everything else to a dnstest server (which has no A records).
type addrDNS struct {
	upstream string
	a        map[string]string // canonical FQDN → IPv4
}

func startAddrDNS(t *testing.T, upstream *dnstest.Server, a map[string]string) string {
	t.Helper()
	h := &addrDNS{upstream: upstream.Addr(), a: map[string]string{}}
	for k, v := range a {
		h.a[strings.ToLower(dns.Fqdn(k))] = v
	}
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	require.NoError(t, err)
	started := make(chan struct{})
	srv := &dns.Server{PacketConn: pc, Handler: h, NotifyStartedFunc: func() { close(started) }}
	go func() { _ = srv.ActivateAndServe() }()
	select {
	case <-started:
	case <-time.After(5 * time.Second):
		t.Fatal("dns server did not start")
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = srv.ShutdownContext(ctx)
	})
	return pc.LocalAddr().String()
}

func (h *addrDNS) ServeDNS(w dns.ResponseWriter, req *dns.Msg) {
	q := req.Question[0]
	if q.Qtype == dns.TypeA || q.Qtype == dns.TypeAAAA {
		if ip, ok := h.a[strings.ToLower(q.Name)]; ok {
			m := new(dns.Msg)
			m.SetReply(req)
			m.Authoritative = true
			if q.Qtype == dns.TypeA {
				m.Answer = append(m.Answer, &dns.A{
					Hdr: dns.RR_Header{Name: q.Name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 60},
					A:   net.ParseIP(ip)})
			}
			_ = w.WriteMsg(m)
			return
		}
	}
	c := &dns.Client{Net: "tcp", Timeout: 2 * time.Second}
	resp, _, err := c.Exchange(req, h.upstream)
	if err != nil {
		m := new(dns.Msg)
		m.SetRcode(req, dns.RcodeServerFailure)
		_ = w.WriteMsg(m)
		return
	}
	_ = w.WriteMsg(resp)
}
