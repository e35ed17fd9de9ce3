package delivery

import (
	"context"
	"crypto/tls"
	"log/slog"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/godwit/godwit/internal/dnscheck"
	"github.com/godwit/godwit/internal/godwittest"
	"github.com/godwit/godwit/internal/mtasts"
	"github.com/godwit/godwit/internal/netguard"
	"github.com/godwit/godwit/internal/store"
	"github.com/godwit/godwit/internal/store/sqlstore"
)

// stsEnv is example.test with MTA-STS: a policy server on loopback HTTPS,
// four MX servers with certificates from one test CA the transport trusts
// (good: valid for its name; wrong: valid for another name; plain: no
// STARTTLS; other: valid, but not in the policy).
type stsEnv struct {
	*mxEnv
	policy                    *godwittest.PolicyServer
	good, wrong, plain, other *testMX
	wrongTLS                  *tls.Config // wrong's certificate
	tr                        *MXTransport
}

func newSTSEnv(t *testing.T) *stsEnv {
	t.Helper()
	ca := godwittest.NewCA(t)
	e := &stsEnv{mxEnv: newMXEnv(t), policy: godwittest.NewPolicyServer(t, ca, "mta-sts.example.test")}
	e.good = e.addMX(t, "mx-good.example.test", godwittest.MXOptions{TLS: ca.ServerTLS(t, "mx-good.example.test")})
	e.wrongTLS = ca.ServerTLS(t, "elsewhere.example.test")
	e.wrong = e.addMX(t, "mx-wrong.example.test", godwittest.MXOptions{TLS: e.wrongTLS})
	e.plain = e.addMX(t, "mx-plain.example.test", godwittest.MXOptions{})
	e.other = e.addMX(t, "mx-other.example.test", godwittest.MXOptions{TLS: ca.ServerTLS(t, "mx-other.example.test")})
	e.dns.SetAddr("mta-sts.example.test", "127.0.0.1")
	e.tr = e.transport(t)
	e.tr.TLSConfig = &tls.Config{RootCAs: ca.Pool()}
	e.tr.STS = &mtasts.Cache{Resolver: e.dns.Addr(), RootCAs: ca.Pool(), Port: e.policy.Port(),
		Guard: netguard.Policy{AllowPrivate: true}}
	return e
}

// publish sets example.test's policy (id changes with each call) and MX hosts.
func (e *stsEnv) publish(id, mode string, mx ...string) {
	e.dns.SetTXT("_mta-sts.example.test", "v=STSv1; id="+id)
	e.policy.Set("version: STSv1\nmode: " + mode + "\nmx: mx-good.example.test\nmx: mx-wrong.example.test\nmx: mx-plain.example.test\nmax_age: 86400\n")
	var recs []dnscheck.MX
	for i, h := range mx {
		recs = append(recs, dnscheck.MX{Host: h, Preference: uint16(10 * (i + 1))})
	}
	e.dns.SetMX("example.test", recs...)
}

func TestMTASTSEnforce(t *testing.T) {
	e := newSTSEnv(t)
	for _, c := range []struct {
		mx, why string
		srv     func() *testMX
	}{
		{"mx-plain.example.test", "mta-sts enforce: STARTTLS not offered (mx-plain.example.test); not delivered", func() *testMX { return e.plain }},
		{"mx-wrong.example.test", "mta-sts enforce: certificate invalid: x509: certificate is valid for elsewhere.example.test, not mx-wrong.example.test", func() *testMX { return e.wrong }},
		{"mx-other.example.test", "mta-sts enforce: MX host mx-other.example.test does not match the domain's MTA-STS policy; not delivered", func() *testMX { return e.other }},
	} {
		e.publish("1", "enforce", c.mx)
		res := deliver(t, e.tr, "example.test", testMsg("bob@example.test"))
		require.Equal(t, Deferred, res[0].Outcome, c.mx)
		require.Contains(t, res[0].Message, c.why)
		require.Equal(t, "mta-sts enforce", res[0].TLSPolicy)
		require.Empty(t, res[0].TLSVersion)
		require.Empty(t, c.srv().Messages(), "nothing sent to %s", c.mx)
	}
	require.NotContains(t, e.dialed(), "mx-other.example.test", "a host outside the policy is not even dialed")

	// The bad hosts first: skipped for the good one, over verified TLS.
	e.publish("1", "enforce", "mx-plain.example.test", "mx-wrong.example.test", "mx-other.example.test", "mx-good.example.test")
	res := deliver(t, e.tr, "example.test", testMsg("bob@example.test"))
	require.Equal(t, Delivered, res[0].Outcome, res[0].Message)
	require.Equal(t, "mx-good.example.test", res[0].Host)
	require.Equal(t, "mta-sts enforce", res[0].TLSPolicy)
	require.Equal(t, "TLS 1.3", res[0].TLSVersion)
	require.True(t, strings.HasPrefix(res[0].TLSCipher, "TLS_"), res[0].TLSCipher)
	require.Len(t, e.good.Messages(), 1)
	require.True(t, e.good.Messages()[0].TLS)
	require.Empty(t, e.plain.Messages())
	require.Empty(t, e.wrong.Messages())
	require.Empty(t, e.other.Messages())
	require.Equal(t, 1, e.policy.Fetches(), "one fetch for id 1")
}

func TestMTASTSTesting(t *testing.T) {
	e := newSTSEnv(t)
	e.publish("1", "testing", "mx-wrong.example.test")
	res := deliver(t, e.tr, "example.test", testMsg("bob@example.test"))
	require.Equal(t, Delivered, res[0].Outcome, res[0].Message)
	require.Len(t, e.wrong.Messages(), 1, "testing delivers anyway")
	require.True(t, strings.HasPrefix(res[0].TLSPolicy, "mta-sts testing: certificate invalid: x509: certificate is valid for elsewhere.example.test"), res[0].TLSPolicy)

	e.publish("2", "testing", "mx-plain.example.test")
	res = deliver(t, e.tr, "example.test", testMsg("bob@example.test"))
	require.Equal(t, Delivered, res[0].Outcome, res[0].Message)
	require.Equal(t, "mta-sts testing: STARTTLS not offered", res[0].TLSPolicy)
	require.Empty(t, res[0].TLSVersion, "plaintext")
	require.Len(t, e.plain.Messages(), 1)

	e.publish("3", "testing", "mx-other.example.test")
	res = deliver(t, e.tr, "example.test", testMsg("bob@example.test"))
	require.Equal(t, Delivered, res[0].Outcome, res[0].Message)
	require.Equal(t, "mta-sts testing: MX host mx-other.example.test does not match the policy", res[0].TLSPolicy)
	require.Equal(t, "TLS 1.3", res[0].TLSVersion)

	e.publish("4", "testing", "mx-good.example.test")
	res = deliver(t, e.tr, "example.test", testMsg("bob@example.test"))
	require.Equal(t, Delivered, res[0].Outcome, res[0].Message)
	require.Equal(t, "mta-sts testing", res[0].TLSPolicy, "nothing would have failed")
}

func TestMTASTSNoPolicy(t *testing.T) {
	e := newSTSEnv(t)
	e.dns.SetMX("example.test", dnscheck.MX{Host: "mx-wrong.example.test", Preference: 10})
	res := deliver(t, e.tr, "example.test", testMsg("bob@example.test"))
	require.Equal(t, Delivered, res[0].Outcome, res[0].Message)
	require.Equal(t, "opportunistic", res[0].TLSPolicy)
	require.Zero(t, e.policy.Fetches(), "no TXT record: no fetch")

	e.dns.SetMX("example.test", dnscheck.MX{Host: "mx-good.example.test", Preference: 10})
	res = deliver(t, e.tr, "example.test", testMsg("bob@example.test"))
	require.Equal(t, "opportunistic", res[0].TLSPolicy)
	require.Equal(t, "TLS 1.3", res[0].TLSVersion)

	// mode none is no policy.
	e.dns.SetTXT("_mta-sts.example.test", "v=STSv1; id=1")
	e.policy.Set("version: STSv1\nmode: none\nmax_age: 86400\n")
	res = deliver(t, e.tr, "example.test", testMsg("bob@example.test"))
	require.Equal(t, "opportunistic", res[0].TLSPolicy)
	require.Equal(t, 1, e.policy.Fetches())

	m := testMsg("bob@example.test")
	m.RequireTLS = true
	res = deliver(t, e.tr, "example.test", m)
	require.Equal(t, Delivered, res[0].Outcome, res[0].Message)
	require.Equal(t, "require-tls", res[0].TLSPolicy)

	e.dns.Fail("example.test", 2)
	res = deliver(t, e.tr, "example.test", testMsg("bob@example.test"))
	require.Equal(t, Deferred, res[0].Outcome)
	require.Equal(t, "none", res[0].TLSPolicy, "no connection was made under any policy")
}

// TestWorkerRecordsTransportSecurity: the worker stores each attempt's
// TLS version, cipher and policy (both stores) and logs them.
func TestWorkerRecordsTransportSecurity(t *testing.T) {
	eachStore(t, func(t *testing.T, kind sqlstore.Dialect) {
		ca := godwittest.NewCA(t)
		e := newWorkerEnv(t, kind, godwittest.MXOptions{TLS: ca.ServerTLS(t, "mx.example.test")})
		policy := godwittest.NewPolicyServer(t, ca, "mta-sts.example.test")
		e.dns.SetAddr("mta-sts.example.test", "127.0.0.1")
		tr := e.w.Transport.(*MXTransport)
		tr.TLSConfig = &tls.Config{RootCAs: ca.Pool()}
		tr.STS = &mtasts.Cache{Resolver: e.dns.Addr(), RootCAs: ca.Pool(), Port: policy.Port(),
			Guard: netguard.Policy{AllowPrivate: true}}
		var logs godwittest.LogBuffer
		e.w.Logger = slog.New(slog.NewJSONHandler(&logs, nil))

		// enforce, and the MX is not in the policy: deferred, nothing sent.
		e.dns.SetTXT("_mta-sts.example.test", "v=STSv1; id=1")
		policy.Set("version: STSv1\nmode: enforce\nmx: *.elsewhere.test\nmax_age: 86400\n")
		em := e.accept(`{"from":"hello@example.com","to":"a@example.test","subject":"s","text":"t"}`)
		var retry *Retry
		require.ErrorAs(t, e.deliver(em, nil, 1), &retry)
		require.Empty(t, e.mx.Messages())

		// The policy now lists it: delivered over verified TLS.
		e.dns.SetTXT("_mta-sts.example.test", "v=STSv1; id=2")
		policy.Set("version: STSv1\nmode: enforce\nmx: *.example.test\nmax_age: 86400\n")
		require.NoError(t, e.deliver(em, nil, 2))
		require.Len(t, e.mx.Messages(), 1)
		require.True(t, e.mx.Messages()[0].TLS)

		attempts, err := e.db.ListDeliveryAttempts(context.Background(), e.team.ID, em.ID)
		require.NoError(t, err)
		require.Len(t, attempts, 2)
		require.Equal(t, store.OutcomeDeferred, attempts[0].Outcome)
		require.Contains(t, attempts[0].Response, "does not match the domain's MTA-STS policy")
		require.Equal(t, "mta-sts enforce", attempts[0].TLSPolicy)
		require.Empty(t, attempts[0].TLSVersion)
		require.Equal(t, store.OutcomeDelivered, attempts[1].Outcome)
		require.Equal(t, "mta-sts enforce", attempts[1].TLSPolicy)
		require.Equal(t, "TLS 1.3", attempts[1].TLSVersion)
		require.NotEmpty(t, attempts[1].TLSCipher)

		recs := logs.Records(t, "email delivered")
		require.Len(t, recs, 1)
		require.Equal(t, "mta-sts enforce", recs[0]["tls_policy"])
		require.Equal(t, "TLS 1.3", recs[0]["tls_version"])
		require.Equal(t, attempts[1].TLSCipher, recs[0]["tls_cipher"])
		recs = logs.Records(t, "email deferred")
		require.Len(t, recs, 1)
		require.Equal(t, "mta-sts enforce", recs[0]["tls_policy"])
	})
}
