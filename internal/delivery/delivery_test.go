package delivery

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
	"github.com/stretchr/testify/require"

	"github.com/godwit/godwit/internal/dnscheck"
	"github.com/godwit/godwit/internal/dnscheck/dnstest"
	"github.com/godwit/godwit/internal/godwittest"
	"github.com/godwit/godwit/internal/netguard"
)

var testData = []byte("From: a@send.example.com\r\nTo: b@example.test\r\nSubject: hi\r\n\r\nHello\r\n.leading dot\r\n")

func testMsg(rcpts ...string) *Message {
	return &Message{From: "bounces+tok@send.example.com", Recipients: rcpts, Data: testData}
}

// mxEnv is a DNS server publishing MX records and a transport dialing the
// given MX host names at test addresses.
type mxEnv struct {
	dns   *dnstest.Server
	hosts map[string]string
	mu    sync.Mutex
	dials []string
}

func newMXEnv(t *testing.T) *mxEnv {
	return &mxEnv{dns: dnstest.NewServer(t), hosts: map[string]string{}}
}

func (e *mxEnv) transport(t *testing.T) *MXTransport {
	return &MXTransport{
		Resolver: e.dns.Addr(),
		HELO:     "out.godwit.test",
		Timeout:  2 * time.Second,
		Guard:    netguard.Policy{AllowPrivate: true}, // the test MX servers are on loopback
		DialAddr: func(host string) string {
			e.mu.Lock()
			defer e.mu.Unlock()
			e.dials = append(e.dials, host)
			return e.hosts[host]
		},
	}
}

func (e *mxEnv) dialed() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]string(nil), e.dials...)
}

// addMX starts a fake MX that the transport reaches under the name host.
func (e *mxEnv) addMX(t *testing.T, host string, o godwittest.MXOptions) *testMX {
	t.Helper()
	b := startMX(t, o)
	e.setHost(host, b.Addr())
	return b
}

// setHost makes the transport dial addr for host.
func (e *mxEnv) setHost(host, addr string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.hosts[host] = addr
}

// oneMX starts a fake MX published as example.test's only MX,
// mx.example.test.
func (e *mxEnv) oneMX(t *testing.T, o godwittest.MXOptions) *testMX {
	t.Helper()
	b := e.addMX(t, "mx.example.test", o)
	e.dns.SetMX("example.test", dnscheck.MX{Host: "mx.example.test", Preference: 10})
	return b
}

func deliver(t *testing.T, tr *MXTransport, domain string, m *Message) []Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return deliverCtx(ctx, t, tr, domain, m)
}

// deliverCtx delivers m and checks that there is one result per recipient,
// in order.
func deliverCtx(ctx context.Context, t *testing.T, tr *MXTransport, domain string, m *Message) []Result {
	t.Helper()
	res := tr.DeliverDomain(ctx, domain, m)
	require.Len(t, res, len(m.Recipients))
	for i, r := range res {
		require.Equal(t, m.Recipients[i], r.Recipient)
	}
	return res
}

// A single MX: what the transport reports for each recipient and what the MX
// received.
func TestDeliverOneMX(t *testing.T) {
	for _, tc := range []struct {
		name   string
		faults map[string]fault
		rcpts  []string
		check  func(t *testing.T, res []Result, b *testMX)
	}{
		{"exact bytes", nil, []string{"bob@example.test"}, func(t *testing.T, res []Result, b *testMX) {
			require.Equal(t, Delivered, res[0].Outcome, res[0].Message)
			require.Equal(t, 250, res[0].Code)
			require.Equal(t, "mx.example.test", res[0].Host)

			msgs := b.Messages()
			require.Len(t, msgs, 1)
			require.Equal(t, testData, msgs[0].Data)
			require.Equal(t, "bounces+tok@send.example.com", msgs[0].From)
			require.Equal(t, []string{"bob@example.test"}, msgs[0].Rcpts)
			require.Equal(t, "out.godwit.test", msgs[0].Helo)
			require.False(t, msgs[0].TLS)
		}},
		{"one recipient bounced", map[string]fault{"nobody@example.test": reject}, []string{"nobody@example.test", "bob@example.test"}, func(t *testing.T, res []Result, b *testMX) {
			require.Equal(t, Bounced, res[0].Outcome)
			require.Equal(t, 550, res[0].Code)
			require.Equal(t, "5.1.1", res[0].Enhanced)
			require.Equal(t, "No such user here", res[0].Message)
			require.Equal(t, Delivered, res[1].Outcome, res[1].Message)

			msgs := b.Messages()
			require.Len(t, msgs, 1)
			require.Equal(t, []string{"bob@example.test"}, msgs[0].Rcpts)
		}},
		{"connection dropped", map[string]fault{"drop@example.test": dropAfterRcpt}, []string{"bob@example.test", "drop@example.test"}, func(t *testing.T, res []Result, b *testMX) {
			for _, r := range res {
				require.Equal(t, Deferred, r.Outcome)
				require.Equal(t, 0, r.Code)
				require.NotEmpty(t, r.Message)
			}
			require.Empty(t, b.Messages())
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newMXEnv(t)
			b := e.oneMX(t, godwittest.MXOptions{})
			for rcpt, f := range tc.faults {
				b.setFault(rcpt, f)
			}
			tc.check(t, deliver(t, e.transport(t), "example.test", testMsg(tc.rcpts...)), b)
		})
	}
}

// An MX that does not answer: the transport's timeout or the caller's
// context ends the attempt, well before the MX would answer, and the
// recipient is deferred.
func TestDeliverSlowMX(t *testing.T) {
	for _, tc := range []struct {
		name       string
		timeout    time.Duration // the transport's
		ctxTimeout time.Duration // the caller's
		check      func(t *testing.T, r Result)
	}{
		{"transport timeout", 300 * time.Millisecond, 10 * time.Second, func(t *testing.T, r Result) {
			require.Equal(t, 0, r.Code)
			require.Contains(t, r.Message, "timeout")
		}},
		{"context cancelled", 5 * time.Second, 300 * time.Millisecond, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newMXEnv(t)
			b := e.oneMX(t, godwittest.MXOptions{})
			b.setFault("bob@example.test", slow)
			tr := e.transport(t)
			tr.Timeout = tc.timeout

			ctx, cancel := context.WithTimeout(context.Background(), tc.ctxTimeout)
			defer cancel()
			start := time.Now()
			res := deliverCtx(ctx, t, tr, "example.test", testMsg("bob@example.test"))
			require.Less(t, time.Since(start), 2*time.Second)
			require.Equal(t, Deferred, res[0].Outcome)
			if tc.check != nil {
				tc.check(t, res[0])
			}
		})
	}
}

func TestDeliverTempFailThenSuccess(t *testing.T) {
	e := newMXEnv(t)
	b := e.oneMX(t, godwittest.MXOptions{})
	b.setFault("bob@example.test", tempFailOnce)
	tr := e.transport(t)

	res := deliver(t, tr, "example.test", testMsg("bob@example.test"))
	require.Equal(t, Result{Recipient: "bob@example.test", Host: "mx.example.test", Code: 450,
		Enhanced: "4.2.0", Message: "Mailbox busy, try later", Outcome: Deferred, TLSPolicy: "opportunistic"}, res[0])
	require.Empty(t, b.Messages())

	res = deliver(t, tr, "example.test", testMsg("bob@example.test"))
	require.Equal(t, Delivered, res[0].Outcome, res[0].Message)
	require.Len(t, b.Messages(), 1)
}

func TestDeliverMXPreferenceAndFallback(t *testing.T) {
	e := newMXEnv(t)
	e.setHost("mx1.example.test", closedAddr(t)) // refuses connections
	b2 := e.addMX(t, "mx2.example.test", godwittest.MXOptions{})
	b3 := e.addMX(t, "mx3.example.test", godwittest.MXOptions{})
	// Published out of order: preference decides.
	e.dns.SetMX("example.test",
		dnscheck.MX{Host: "mx3.example.test", Preference: 30},
		dnscheck.MX{Host: "mx1.example.test", Preference: 10},
		dnscheck.MX{Host: "mx2.example.test", Preference: 20})

	res := deliver(t, e.transport(t), "example.test", testMsg("bob@example.test"))
	require.Equal(t, Delivered, res[0].Outcome, res[0].Message)
	require.Equal(t, "mx2.example.test", res[0].Host)
	require.Equal(t, []string{"mx1.example.test", "mx2.example.test"}, e.dialed())
	require.Len(t, b2.Messages(), 1)
	require.Empty(t, b3.Messages())
}

func TestDeliverTempFailMovesToNextHost(t *testing.T) {
	e := newMXEnv(t)
	b1 := e.addMX(t, "mx1.example.test", godwittest.MXOptions{})
	b2 := e.addMX(t, "mx2.example.test", godwittest.MXOptions{})
	b1.setFault("bob@example.test", tempFail)
	e.dns.SetMX("example.test",
		dnscheck.MX{Host: "mx1.example.test", Preference: 10},
		dnscheck.MX{Host: "mx2.example.test", Preference: 20})

	res := deliver(t, e.transport(t), "example.test", testMsg("bob@example.test"))
	require.Equal(t, Delivered, res[0].Outcome, res[0].Message)
	require.Equal(t, "mx2.example.test", res[0].Host)
	require.Len(t, b2.Messages(), 1)

	// When every host fails temporarily, the last host's answer stands.
	b2.setFault("bob@example.test", tempFail)
	res = deliver(t, e.transport(t), "example.test", testMsg("bob@example.test"))
	require.Equal(t, Deferred, res[0].Outcome)
	require.Equal(t, "mx2.example.test", res[0].Host)
	require.Equal(t, 451, res[0].Code)
	require.Equal(t, "4.3.0", res[0].Enhanced)
}

func TestDeliverEqualPreferenceTriesAll(t *testing.T) {
	e := newMXEnv(t)
	e.setHost("a.example.test", closedAddr(t))
	e.setHost("b.example.test", closedAddr(t))
	e.dns.SetMX("example.test",
		dnscheck.MX{Host: "a.example.test", Preference: 10},
		dnscheck.MX{Host: "b.example.test", Preference: 10})
	res := deliver(t, e.transport(t), "example.test", testMsg("bob@example.test"))
	require.Equal(t, Deferred, res[0].Outcome)
	require.Equal(t, 0, res[0].Code)
	require.ElementsMatch(t, []string{"a.example.test", "b.example.test"}, e.dialed())
}

// viaAddress starts a fake MX and a transport that finds it the way a real
// one would: dnsSrv answers everything but A queries, which are answered
// from a, and the transport dials the MX's port on the address it resolved.
func viaAddress(t *testing.T, dnsSrv *dnstest.Server, a map[string]string) (*testMX, *MXTransport) {
	t.Helper()
	b := startMX(t, godwittest.MXOptions{})
	_, port, err := net.SplitHostPort(b.Addr())
	require.NoError(t, err)
	p, err := strconv.Atoi(port)
	require.NoError(t, err)
	return b, &MXTransport{Resolver: startAddrDNS(t, dnsSrv, a), Port: p, HELO: "out.godwit.test",
		Timeout: 2 * time.Second, Guard: netguard.Policy{AllowPrivate: true}}
}

func TestDeliverImplicitMX(t *testing.T) {
	b, tr := viaAddress(t, dnstest.NewServer(t), map[string]string{"nomx.example.test": "127.0.0.1"})

	res := deliver(t, tr, "nomx.example.test", testMsg("bob@nomx.example.test"))
	require.Equal(t, Delivered, res[0].Outcome, res[0].Message)
	require.Equal(t, "nomx.example.test", res[0].Host)
	require.Len(t, b.Messages(), 1)

	// Neither MX nor address records: not a mail domain.
	res = deliver(t, tr, "nothing.example.test", testMsg("bob@nothing.example.test"))
	require.Equal(t, Bounced, res[0].Outcome)
	require.Equal(t, "5.1.2", res[0].Enhanced)
}

func TestDeliverMXHostResolvedViaA(t *testing.T) {
	dnsSrv := dnstest.NewServer(t)
	dnsSrv.SetMX("example.test", dnscheck.MX{Host: "mx.example.test", Preference: 5})
	_, tr := viaAddress(t, dnsSrv, map[string]string{"mx.example.test": "127.0.0.1"})

	res := deliver(t, tr, "example.test", testMsg("bob@example.test"))
	require.Equal(t, Delivered, res[0].Outcome, res[0].Message)
	require.Equal(t, "mx.example.test", res[0].Host)
}

func TestDeliverNullMX(t *testing.T) {
	e := newMXEnv(t)
	e.dns.SetMX("example.test", dnscheck.MX{Host: ".", Preference: 0})
	res := deliver(t, e.transport(t), "example.test", testMsg("a@example.test", "b@example.test"))
	for _, r := range res {
		require.Equal(t, Bounced, r.Outcome)
		require.Equal(t, 556, r.Code)
		require.Equal(t, "5.1.10", r.Enhanced)
		require.Contains(t, r.Message, "null MX")
	}
	require.Empty(t, e.dialed())
}

func TestDeliverDNSFailureDeferred(t *testing.T) {
	e := newMXEnv(t)
	e.dns.Fail("example.test", 2) // SERVFAIL
	res := deliver(t, e.transport(t), "example.test", testMsg("bob@example.test"))
	require.Equal(t, Deferred, res[0].Outcome)
	require.Contains(t, res[0].Message, "MX lookup failed")
}

func TestDeliverRequireTLS(t *testing.T) {
	pki := newPKI(t, "mx-tls.example.test")
	e := newMXEnv(t)
	plain := e.addMX(t, "mx-plain.example.test", godwittest.MXOptions{})
	secure := e.addMX(t, "mx-tls.example.test", godwittest.MXOptions{TLS: pki.server})

	tr := e.transport(t)
	tr.TLSConfig = pki.client
	m := testMsg("bob@example.test")
	m.RequireTLS = true

	// Only a host without STARTTLS: deferred, nothing sent.
	e.dns.SetMX("example.test", dnscheck.MX{Host: "mx-plain.example.test", Preference: 10})
	res := deliver(t, tr, "example.test", m)
	require.Equal(t, Deferred, res[0].Outcome)
	require.Equal(t, 0, res[0].Code)
	require.Contains(t, res[0].Message, "does not offer STARTTLS")
	require.Empty(t, plain.Messages())

	// The host without STARTTLS is skipped for the one with it.
	e.dns.SetMX("example.test",
		dnscheck.MX{Host: "mx-plain.example.test", Preference: 10},
		dnscheck.MX{Host: "mx-tls.example.test", Preference: 20})
	res = deliver(t, tr, "example.test", m)
	require.Equal(t, Delivered, res[0].Outcome, res[0].Message)
	require.Equal(t, "mx-tls.example.test", res[0].Host)
	require.Empty(t, plain.Messages())
	msgs := secure.Messages()
	require.Len(t, msgs, 1)
	require.True(t, msgs[0].TLS)
	require.Equal(t, testData, msgs[0].Data)
	require.Equal(t, "out.godwit.test", msgs[0].Helo)
}

func TestDeliverOpportunisticTLS(t *testing.T) {
	pki := newPKI(t, "mx-tls.example.test")
	e := newMXEnv(t)
	secure := e.addMX(t, "mx-tls.example.test", godwittest.MXOptions{TLS: pki.server})
	e.dns.SetMX("example.test", dnscheck.MX{Host: "mx-tls.example.test", Preference: 10})

	// No TLSConfig: STARTTLS is used without verifying the certificate.
	tr := e.transport(t)
	res := deliver(t, tr, "example.test", testMsg("bob@example.test"))
	require.Equal(t, Delivered, res[0].Outcome, res[0].Message)
	require.True(t, secure.Messages()[0].TLS)

	// RequireTLS without trusting the test CA: the certificate is checked.
	m := testMsg("bob@example.test")
	m.RequireTLS = true
	res = deliver(t, tr, "example.test", m)
	require.Equal(t, Deferred, res[0].Outcome)
	require.Contains(t, res[0].Message, "certificate")
	require.Len(t, secure.Messages(), 1)
}

// relayPKI is a test PKI for relay.example.test and a client configuration
// that trusts it and expects that name.
func relayPKI(t *testing.T) (*testPKI, *tls.Config) {
	t.Helper()
	pki := newPKI(t, "relay.example.test")
	cfg := pki.client.Clone()
	cfg.ServerName = "relay.example.test"
	return pki, cfg
}

// relay is a RelayTransport to addr, logging in as godwit with password.
func relay(scheme, password, addr string, cfg *tls.Config) *RelayTransport {
	return &RelayTransport{URL: fmt.Sprintf("%s://godwit:%s@%s", scheme, password, addr), HELO: "out.godwit.test",
		Timeout: 2 * time.Second, TLSConfig: cfg}
}

func TestRelayStartTLS(t *testing.T) {
	pki, cfg := relayPKI(t)
	b := startMX(t, godwittest.MXOptions{User: "godwit", Password: "s3cret", TLS: pki.server})

	tr := relay("smtp", "s3cret", b.Addr(), cfg)
	res := tr.Deliver(context.Background(), testMsg("a@one.test", "b@two.test"))
	for _, r := range res {
		require.Equal(t, Delivered, r.Outcome, r.Message)
		require.Equal(t, "127.0.0.1", r.Host)
	}
	msgs := b.Messages()
	require.Len(t, msgs, 1)
	require.True(t, msgs[0].TLS)
	require.Equal(t, "godwit", msgs[0].User)
	require.Equal(t, []string{"a@one.test", "b@two.test"}, msgs[0].Rcpts)
	require.Equal(t, testData, msgs[0].Data)

	// The next message reuses the connection: no new session.
	before := b.Sessions()
	res = tr.Deliver(context.Background(), testMsg("c@three.test"))
	require.Equal(t, Delivered, res[0].Outcome, res[0].Message)
	require.Equal(t, before, b.Sessions())
	require.Len(t, b.Messages(), 2)

	// Wrong password: deferred (a configuration problem, not the recipients').
	res = relay("smtp", "wrong", b.Addr(), cfg).Deliver(context.Background(), testMsg("a@one.test"))
	require.Equal(t, Deferred, res[0].Outcome)
	require.Equal(t, 535, res[0].Code)
	require.Contains(t, res[0].Message, "authentication failed")
	require.NotContains(t, res[0].Message, "wrong")
	require.Len(t, b.Messages(), 2)
}

func TestRelayRequiresStartTLS(t *testing.T) {
	b := startMX(t, godwittest.MXOptions{User: "godwit", Password: "s3cret", AllowInsecureAuth: true})
	tr := &RelayTransport{URL: "smtp://godwit:s3cret@" + b.Addr(), Timeout: 2 * time.Second}
	res := tr.Deliver(context.Background(), testMsg("a@one.test"))
	require.Equal(t, Deferred, res[0].Outcome)
	require.Contains(t, res[0].Message, "does not offer STARTTLS")
	require.Empty(t, b.Messages())
}

func TestRelayImplicitTLS(t *testing.T) {
	pki, cfg := relayPKI(t)
	b := startMX(t, godwittest.MXOptions{User: "godwit", Password: "s3cret", TLS: pki.server, ImplicitTLS: true})
	b.setFault("x@two.test", reject)

	res := relay("smtps", "s3cret", b.Addr(), cfg).Deliver(context.Background(), testMsg("a@one.test", "x@two.test"))
	require.Equal(t, Delivered, res[0].Outcome, res[0].Message)
	require.Equal(t, Bounced, res[1].Outcome)
	require.Equal(t, "5.1.1", res[1].Enhanced)
	msgs := b.Messages()
	require.Len(t, msgs, 1)
	require.True(t, msgs[0].TLS)
	require.Equal(t, "godwit", msgs[0].User)
	require.Equal(t, "out.godwit.test", msgs[0].Helo)
}

type timeoutErr struct{}

func (timeoutErr) Error() string   { return "i/o timeout" }
func (timeoutErr) Timeout() bool   { return true }
func (timeoutErr) Temporary() bool { return true }

func TestClassify(t *testing.T) {
	tests := []struct {
		name     string
		err      error
		code     int
		enhanced string
		msg      string
		outcome  Outcome
	}{
		{"nil", nil, 0, "", "", Delivered},
		{"4xx", &smtp.SMTPError{Code: 450, EnhancedCode: smtp.EnhancedCode{4, 2, 0}, Message: "busy"}, 450, "4.2.0", "busy", Deferred},
		{"5xx", &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no such user"}, 550, "5.1.1", "no such user", Bounced},
		{"5xx without enhanced", &smtp.SMTPError{Code: 554, Message: "go away"}, 554, "", "go away", Bounced},
		{"wrapped 5xx", fmt.Errorf("rcpt: %w", &smtp.SMTPError{Code: 552, EnhancedCode: smtp.EnhancedCode{5, 3, 4}, Message: "too big"}), 552, "5.3.4", "too big", Bounced},
		{"no enhanced marker", &smtp.SMTPError{Code: 421, EnhancedCode: smtp.NoEnhancedCode, Message: "closing"}, 421, "", "closing", Deferred},
		{"unexpected 3xx", &smtp.SMTPError{Code: 354, Message: "odd"}, 354, "", "odd", Deferred},
		{"timeout", &net.OpError{Op: "read", Net: "tcp", Err: timeoutErr{}}, 0, "", "timeout: read tcp: i/o timeout", Deferred},
		{"refused", &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connection refused")}, 0, "", "dial tcp: connection refused", Deferred},
		{"deadline", os.ErrDeadlineExceeded, 0, "", "timeout: i/o timeout", Deferred},
		{"context", context.Canceled, 0, "", "context canceled", Deferred},
		{"other", errors.New("smtp: server doesn't support STARTTLS"), 0, "", "smtp: server doesn't support STARTTLS", Deferred},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, enh, msg, out := Classify(tc.err)
			require.Equal(t, tc.code, code)
			require.Equal(t, tc.enhanced, enh)
			require.Equal(t, tc.msg, msg)
			require.Equal(t, tc.outcome, out)
		})
	}
}

func TestSplitEnhanced(t *testing.T) {
	for _, tc := range []struct{ in, enhanced, msg string }{
		{"2.0.0 OK: queued", "2.0.0", "OK: queued"},
		{"OK queued as 123", "", "OK queued as 123"},
	} {
		t.Run(tc.in, func(t *testing.T) {
			e, m := splitEnhanced(tc.in)
			require.Equal(t, tc.enhanced, e)
			require.Equal(t, tc.msg, m)
		})
	}
}
