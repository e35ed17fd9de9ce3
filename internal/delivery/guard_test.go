package delivery

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/stretchr/testify/require"

	"github.com/godwit/godwit/internal/dnscheck"
	"github.com/godwit/godwit/internal/dnscheck/dnstest"
	"github.com/godwit/godwit/internal/godwittest"
	"github.com/godwit/godwit/internal/netguard"
	"github.com/godwit/godwit/internal/store"
	"github.com/godwit/godwit/internal/store/sqlstore"
)

// guardEnv is a loopback DNS server and SMTP server, and an MXTransport that
// resolves MX hosts through the DNS server (no DialAddr) and connects to the
// SMTP server's port: what the real server does, on loopback.
type guardEnv struct {
	dns  *dnstest.Server
	mx   *testMX
	addr string // the SMTP server's "127.0.0.1:port"
	port int
	log  *godwittest.LogBuffer
}

func newGuardEnv(t *testing.T) *guardEnv {
	t.Helper()
	e := &guardEnv{dns: dnstest.NewServer(t), mx: startMX(t, godwittest.MXOptions{}), log: &godwittest.LogBuffer{}}
	e.addr = e.mx.Addr()
	_, port, err := net.SplitHostPort(e.addr)
	require.NoError(t, err)
	e.port, err = strconv.Atoi(port)
	require.NoError(t, err)
	return e
}

func (e *guardEnv) transport(guard netguard.Policy) *MXTransport {
	return &MXTransport{Resolver: e.dns.Addr(), Port: e.port, HELO: "out.godwit.test", Timeout: 2 * time.Second,
		Guard: guard, Logger: slog.New(slog.NewTextHandler(e.log, nil))}
}

func (e *guardEnv) sessions() int {
	return e.mx.Sessions()
}

var allowPrivate = netguard.Policy{AllowPrivate: true}

func TestGuardRefusesLoopbackMX(t *testing.T) {
	e := newGuardEnv(t)
	e.dns.SetMX("example.test", dnscheck.MX{Host: "mx.example.test", Preference: 10})
	e.dns.SetAddr("mx.example.test", "127.0.0.1")

	m := testMsg("bob@example.test", "carol@example.test")
	m.EmailID = "email-1"
	res := deliver(t, e.transport(netguard.Policy{}), "example.test", m)
	for _, r := range res {
		require.Equal(t, Bounced, r.Outcome, r.Message)
		require.Equal(t, 550, r.Code)
		require.Equal(t, "5.4.4", r.Enhanced)
		require.Equal(t, "refused: the MX host resolves to a non-public address", r.Message)
		require.Equal(t, "mx.example.test", r.Host)
		require.True(t, r.refused)
	}
	require.Zero(t, e.sessions(), "nothing connected to the refused address")
	require.Contains(t, e.log.String(), "email_id=email-1")
	require.Contains(t, e.log.String(), e.addr, "the server log names the refused address")

	// The operator allows private networks: delivered.
	res = deliver(t, e.transport(allowPrivate), "example.test", testMsg("bob@example.test"))
	require.Equal(t, Delivered, res[0].Outcome, res[0].Message)
	require.Len(t, e.mx.Messages(), 1)
}

func TestGuardRefusesImplicitMX(t *testing.T) {
	e := newGuardEnv(t)
	// No MX: the domain's own A (and AAAA) records are its mail server.
	e.dns.SetAddr("nomx.example.test", "127.0.0.1")
	e.dns.SetAddr("v6.example.test", "::1")
	e.dns.SetAddr("private.example.test", "10.1.2.3", "fd00::25", "169.254.169.254")

	for _, domain := range []string{"nomx.example.test", "v6.example.test", "private.example.test"} {
		res := deliver(t, e.transport(netguard.Policy{}), domain, testMsg("bob@"+domain))
		require.Equal(t, Bounced, res[0].Outcome, domain)
		require.Equal(t, 550, res[0].Code)
		require.Equal(t, "5.4.4", res[0].Enhanced)
		require.Equal(t, "refused: the domain has no MX and its address is non-public", res[0].Message)
		require.Equal(t, domain, res[0].Host)
	}
	require.Zero(t, e.sessions())

	res := deliver(t, e.transport(allowPrivate), "nomx.example.test", testMsg("bob@nomx.example.test"))
	require.Equal(t, Delivered, res[0].Outcome, res[0].Message)
	require.Len(t, e.mx.Messages(), 1)
}

// An MX host on a non-public address is skipped for the next one, and its
// refusal stands only when no other host gave an outcome.
func TestGuardSkipsRefusedHost(t *testing.T) {
	e := newGuardEnv(t)
	e.dns.SetAddr("private.example.test", "192.168.1.25")
	e.dns.SetTXT("bare.example.test", "v=spf1 -all") // exists, without address records

	// A refused host, then one with no address: deferred (the DNS may change).
	e.dns.SetMX("example.test",
		dnscheck.MX{Host: "private.example.test", Preference: 10},
		dnscheck.MX{Host: "bare.example.test", Preference: 20})
	res := deliver(t, e.transport(netguard.Policy{}), "example.test", testMsg("bob@example.test"))
	require.Equal(t, Deferred, res[0].Outcome)
	require.Equal(t, "bare.example.test", res[0].Host)

	// The other way round: the deferral stands, not the refusal.
	e.dns.SetMX("example.test",
		dnscheck.MX{Host: "bare.example.test", Preference: 10},
		dnscheck.MX{Host: "private.example.test", Preference: 20})
	res = deliver(t, e.transport(netguard.Policy{}), "example.test", testMsg("bob@example.test"))
	require.Equal(t, Deferred, res[0].Outcome)
	require.Equal(t, "bare.example.test", res[0].Host)

	// Every host refused: bounced.
	e.dns.SetAddr("private2.example.test", "100.64.0.1")
	e.dns.SetMX("example.test",
		dnscheck.MX{Host: "private.example.test", Preference: 10},
		dnscheck.MX{Host: "private2.example.test", Preference: 20})
	res = deliver(t, e.transport(netguard.Policy{}), "example.test", testMsg("bob@example.test"))
	require.Equal(t, Bounced, res[0].Outcome)
	require.Equal(t, "5.4.4", res[0].Enhanced)
	require.Equal(t, "private2.example.test", res[0].Host)
}

// The guard applies to the address actually dialed, also when a DialAddr
// override names a host that the dialer resolves itself (as a name
// rebinding to loopback would).
func TestGuardAppliesToDialAddr(t *testing.T) {
	e := newGuardEnv(t)
	e.dns.SetMX("example.test", dnscheck.MX{Host: "mx.example.test", Preference: 10})
	tr := e.transport(netguard.Policy{})
	tr.DialAddr = func(string) string { return net.JoinHostPort("localhost", strconv.Itoa(e.port)) }
	res := deliver(t, tr, "example.test", testMsg("bob@example.test"))
	require.Equal(t, Bounced, res[0].Outcome, res[0].Message)
	require.Equal(t, "5.4.4", res[0].Enhanced)
	require.Zero(t, e.sessions())

	tr.Guard = allowPrivate
	res = deliver(t, tr, "example.test", testMsg("bob@example.test"))
	require.Equal(t, Delivered, res[0].Outcome, res[0].Message)
}

// Result.Message is shown to tenants: it never names the DNS server asked
// or an address a name resolved to. The server log has the detail.
func TestGuardTenantMessagesHideAddresses(t *testing.T) {
	e := newGuardEnv(t)
	b := e.mx
	b.setFault("drop@example.test", dropAfterRcpt)
	closed := closedAddr(t)
	_, closedPort, err := net.SplitHostPort(closed)
	require.NoError(t, err)
	_, resolverPort, err := net.SplitHostPort(e.dns.Addr())
	require.NoError(t, err)

	e.dns.SetMX("servfail.test", dnscheck.MX{Host: "mx.servfail.test", Preference: 10})
	e.dns.Fail("servfail.test", dns.RcodeServerFailure)
	e.dns.SetMX("addrfail.test", dnscheck.MX{Host: "mx.addrfail.test", Preference: 10})
	e.dns.Fail("mx.addrfail.test", dns.RcodeServerFailure)
	e.dns.SetMX("example.test", dnscheck.MX{Host: "mx.example.test", Preference: 10})
	e.dns.SetAddr("mx.example.test", "127.0.0.1")

	type tc struct {
		name, domain, rcpt string
		guard              netguard.Policy
		port               int
		resolver           string
		want               string
	}
	cp, err := strconv.Atoi(closedPort)
	require.NoError(t, err)
	cases := []tc{
		{"MX lookup SERVFAIL", "servfail.test", "a@servfail.test", allowPrivate, e.port, e.dns.Addr(), "MX lookup failed: temporary DNS error"},
		{"no DNS server", "example.test", "a@example.test", allowPrivate, e.port, closed, "MX lookup failed: temporary DNS error"},
		{"address lookup SERVFAIL", "addrfail.test", "a@addrfail.test", allowPrivate, e.port, e.dns.Addr(), "address lookup for mx.addrfail.test failed: temporary DNS error"},
		{"connection refused", "example.test", "a@example.test", allowPrivate, cp, e.dns.Addr(), "connect: dial tcp: connect: connection refused"},
		{"connection dropped", "example.test", "drop@example.test", allowPrivate, e.port, e.dns.Addr(), ""},
		{"guard", "example.test", "a@example.test", netguard.Policy{}, e.port, e.dns.Addr(), "refused: the MX host resolves to a non-public address"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tr := e.transport(c.guard)
			tr.Port, tr.Resolver = c.port, c.resolver
			before := len(e.log.String())
			m := testMsg(c.rcpt)
			m.EmailID = "email-" + strings.ReplaceAll(c.name, " ", "-")
			r := deliver(t, tr, c.domain, m)[0]
			require.NotEqual(t, Delivered, r.Outcome)
			require.NotEmpty(t, r.Message)
			require.Contains(t, r.Message, c.want)
			for _, leak := range []string{"127.0.0.1", "::1", e.dns.Addr(), closed, ":" + resolverPort, ":" + closedPort, ":" + strconv.Itoa(e.port)} {
				require.NotContains(t, r.Message, leak)
			}
			logged := e.log.String()[before:]
			require.Contains(t, logged, "email_id="+m.EmailID, "the detail is logged with the email id")
			if c.name != "connection dropped" { // that error (EOF) names no address
				require.Contains(t, logged, "127.0.0.1", "the log keeps the address")
			}
		})
	}
}

func TestTenantText(t *testing.T) {
	v4 := &net.TCPAddr{IP: net.ParseIP("10.0.0.5"), Port: 25}
	local := &net.TCPAddr{IP: net.ParseIP("192.168.1.2"), Port: 40123}
	tests := []struct {
		name string
		err  error
		want string
	}{
		{"dial refused", &dialError{&net.OpError{Op: "dial", Net: "tcp", Addr: v4, Err: errors.New("connect: connection refused")}},
			"connect: dial tcp: connect: connection refused"},
		{"read reset", fmt.Errorf("smtp: %w", &net.OpError{Op: "read", Net: "tcp", Source: local, Addr: v4, Err: errors.New("read: connection reset by peer")}),
			"smtp: read tcp: read: connection reset by peer"},
		{"dns", &net.OpError{Op: "dial", Net: "tcp", Err: &net.DNSError{Err: "no such host", Name: "mx.example.test", Server: "10.0.0.53:53"}},
			"dial tcp: lookup mx.example.test: no such host"},
		{"guard", &dialError{&net.OpError{Op: "dial", Net: "tcp", Addr: v4, Err: &netguard.RefusedError{Addr: netip.MustParseAddr("10.0.0.5")}}},
			"connect: dial tcp: netguard: refusing to connect to a non-public address"},
		{"text with addresses", errors.New("x509: certificate is valid for 10.0.0.5, fd00::1, not mx.example.test; peer [fd00::1]:25 (10.0.0.5:25)"),
			"x509: certificate is valid for <address>, <address>, not mx.example.test; peer <address> (<address>)"},
		{"version numbers stay", errors.New("smtp: 5.4.4 unable to route"), "smtp: 5.4.4 unable to route"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, TenantText(tc.err))
		})
	}
}

// The worker records a refused MX as a bounce with the generic reason,
// and does not suppress the address: its mailbox was never asked.
func TestWorkerGuardRefusal(t *testing.T) {
	e := newWorkerEnv(t, sqlstore.SQLite, godwittest.MXOptions{})
	e.w.Transport.(*MXTransport).Guard = netguard.Policy{}
	em := e.accept(`{"from":"hello@example.com","to":"a@example.test","subject":"s","text":"t"}`)
	require.NoError(t, e.deliver(em, nil, 1))
	require.Equal(t, store.EventBounced, e.lastEvent(em))
	require.Empty(t, e.mx.Messages())

	bounce := e.event(em, store.EventBounced)["bounce"].(map[string]any)
	require.Equal(t, "Permanent", bounce["type"])
	require.Equal(t, []any{"smtp; 550 5.4.4 refused: the MX host resolves to a non-public address"}, bounce["diagnosticCode"])
	require.NotContains(t, fmt.Sprint(bounce), "127.0.0.1")

	attempts, err := e.db.ListDeliveryAttempts(context.Background(), e.team.ID, em.ID)
	require.NoError(t, err)
	require.Len(t, attempts, 1)
	require.Equal(t, store.OutcomeBounced, attempts[0].Outcome)
	require.Equal(t, "refused: the MX host resolves to a non-public address", attempts[0].Response)

	suppressed, err := e.db.SuppressedAmong(context.Background(), e.team.ID, []string{"a@example.test"})
	require.NoError(t, err)
	require.False(t, suppressed["a@example.test"], "a guard refusal does not suppress the address")

	// With private networks allowed, the next email to the address goes out.
	e.w.Transport.(*MXTransport).Guard = allowPrivate
	em2 := e.accept(`{"from":"hello@example.com","to":"a@example.test","subject":"s","text":"t"}`)
	require.NoError(t, e.deliver(em2, nil, 1))
	require.Equal(t, store.EventDelivered, e.lastEvent(em2))
}
