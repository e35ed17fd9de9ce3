package delivery

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
	"github.com/miekg/dns"
	"github.com/stretchr/testify/require"

	"github.com/godwit/godwit/internal/dnscheck/dnstest"
	"github.com/godwit/godwit/internal/godwittest"
)

// fault is what the test MX does when a recipient is given.
type fault int

const (
	accept        fault = iota
	tempFailOnce        // 450 4.2.0 on the first delivery, 250 afterwards
	tempFail            // 451 4.3.0 always
	reject              // 550 5.1.1
	dropAfterRcpt       // close the connection instead of answering
	slow                // do not answer until released
)

// testMX is a fake MX (godwittest.MX) with per-recipient faults that a
// test may change while it runs.
type testMX struct {
	*godwittest.MX
	mu      sync.Mutex
	faults  map[string]fault
	replies map[string]*smtp.SMTPError // RCPT replies set by setReply
	dataFor map[string]*smtp.SMTPError // DATA replies set by setDataReply
	release chan struct{}
}

// startMX starts a fake MX on loopback; o.Rcpt is replaced by the faults.
func startMX(t *testing.T, o godwittest.MXOptions) *testMX {
	t.Helper()
	m := &testMX{faults: map[string]fault{}, replies: map[string]*smtp.SMTPError{}, dataFor: map[string]*smtp.SMTPError{},
		release: make(chan struct{})}
	t.Cleanup(func() { close(m.release) })
	o.Rcpt = m.rcpt
	o.Data = m.data
	m.MX = godwittest.NewMX(t, o)
	return m
}

func (m *testMX) setFault(rcpt string, f fault) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.faults[rcpt] = f
}

// setReply makes the MX refuse rcpt at RCPT TO with reply.
func (m *testMX) setReply(rcpt string, reply *smtp.SMTPError) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.replies[rcpt] = reply
}

// setDataReply makes the MX accept rcpt at RCPT TO and refuse the
// message at DATA with reply.
func (m *testMX) setDataReply(rcpt string, reply *smtp.SMTPError) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.dataFor[rcpt] = reply
}

// data answers DATA: the reply set for one of the recipients, if any.
func (m *testMX) data(rcpts []string, _ []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, r := range rcpts {
		if reply := m.dataFor[r]; reply != nil {
			return reply
		}
	}
	return nil
}

// rcpt answers RCPT TO as the recipient's fault (or reply) says.
func (m *testMX) rcpt(to string, attempt int) error {
	m.mu.Lock()
	f := m.faults[to]
	reply := m.replies[to]
	m.mu.Unlock()
	if reply != nil {
		return reply
	}
	switch f {
	case tempFailOnce:
		if attempt == 1 {
			return &smtp.SMTPError{Code: 450, EnhancedCode: smtp.EnhancedCode{4, 2, 0}, Message: "Mailbox busy, try later"}
		}
	case tempFail:
		return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "Local problem"}
	case reject:
		return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "No such user here"}
	case dropAfterRcpt:
		return godwittest.ErrDropConnection
	case slow:
		select {
		case <-m.release:
		case <-time.After(5 * time.Second):
		}
	}
	return nil
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
