package delivery

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/stretchr/testify/require"

	"github.com/godwit/godwit/internal/dnscheck"
	"github.com/godwit/godwit/internal/godwittest"
)

// leafOf returns the certificate a server configuration presents.
func leafOf(t *testing.T, cfg *tls.Config) *x509.Certificate {
	t.Helper()
	c, err := x509.ParseCertificate(cfg.Certificates[0].Certificate[0])
	require.NoError(t, err)
	return c
}

// caCert returns the test CA's certificate.
func caCert(t *testing.T, ca *godwittest.CA) *x509.Certificate {
	t.Helper()
	b, _ := pem.Decode(ca.PEM())
	c, err := x509.ParseCertificate(b.Bytes)
	require.NoError(t, err)
	return c
}

// tlsaFor is the TLSA record of cert with the parameters given.
func tlsaFor(t *testing.T, usage, selector, matching uint8, cert *x509.Certificate) dns.TLSA {
	t.Helper()
	data, err := dns.CertificateToDANE(selector, matching, cert)
	require.NoError(t, err)
	return dns.TLSA{Usage: usage, Selector: selector, MatchingType: matching, Certificate: strings.ToUpper(data)}
}

// daneEnv is stsEnv with DANE on, every MX answer for example.test
// authenticated, and the DANE lookups counted.
type daneEnv struct {
	*stsEnv
	ca      *godwittest.CA
	mu      sync.Mutex
	lookups map[string]int
}

func newDANEEnv(t *testing.T) *daneEnv {
	e := &daneEnv{stsEnv: newSTSEnv(t), lookups: map[string]int{}}
	e.tr.DANE = true
	e.tr.DANELookup = func(result string) {
		e.mu.Lock()
		e.lookups[result]++
		e.mu.Unlock()
	}
	e.dns.SetAuthenticated("example.test", true)
	return e
}

// tlsa publishes host's TLSA records, authenticated or not.
func (e *daneEnv) tlsa(host string, authenticated bool, recs ...dns.TLSA) {
	e.dns.SetTLSA("_25._tcp."+host, recs...)
	e.dns.SetAuthenticated("_25._tcp."+host, authenticated)
}

func (e *daneEnv) counted(result string) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.lookups[result]
}

func TestDANE(t *testing.T) {
	ca := godwittest.NewCA(t)
	e := newDANEEnv(t)
	e.ca = ca
	// A server with a self-signed certificate for no name of ours, and one
	// that sends its CA (the trust anchor) in its chain.
	selfCA := godwittest.NewCA(t)
	eeTLS := selfCA.ServerTLS(t, "unrelated.invalid")
	ee := e.addMX(t, "mx-ee.example.test", godwittest.MXOptions{TLS: eeTLS})
	taTLS := ca.ServerTLS(t, "mx-ta.example.test")
	taTLS.Certificates[0].Certificate = append(taTLS.Certificates[0].Certificate, caCert(t, ca).Raw)
	ta := e.addMX(t, "mx-ta.example.test", godwittest.MXOptions{TLS: taTLS})
	misnamedTLS := ca.ServerTLS(t, "elsewhere.example.test")
	misnamedTLS.Certificates[0].Certificate = append(misnamedTLS.Certificates[0].Certificate, caCert(t, ca).Raw)
	misnamed := e.addMX(t, "mx-misnamed.example.test", godwittest.MXOptions{TLS: misnamedTLS})
	other := leafOf(t, ca.ServerTLS(t, "x.example.test"))

	only := func(host string) { e.dns.SetMX("example.test", dnscheck.MX{Host: host, Preference: 10}) }
	send := func() Result {
		t.Helper()
		return deliver(t, e.tr, "example.test", testMsg("bob@example.test"))[0]
	}

	t.Run("DANE-EE matches the leaf whatever its name", func(t *testing.T) {
		only("mx-ee.example.test")
		for _, rec := range []dns.TLSA{tlsaFor(t, 3, 1, 1, leafOf(t, eeTLS)), tlsaFor(t, 3, 0, 2, leafOf(t, eeTLS)), tlsaFor(t, 3, 0, 0, leafOf(t, eeTLS))} {
			e.tlsa("mx-ee.example.test", true, tlsaFor(t, 3, 1, 1, other), rec)
			res := send()
			require.Equal(t, Delivered, res.Outcome, res.Message)
			require.Equal(t, "dane", res.TLSPolicy)
			require.Equal(t, "TLS 1.3", res.TLSVersion)
		}
		require.Len(t, ee.Messages(), 3)
		require.True(t, ee.Messages()[0].TLS)
	})

	t.Run("no match defers, never plaintext", func(t *testing.T) {
		only("mx-ee.example.test")
		before := len(ee.Messages())
		e.tlsa("mx-ee.example.test", true, tlsaFor(t, 3, 1, 1, other))
		res := send()
		require.Equal(t, Deferred, res.Outcome)
		require.Equal(t, "dane", res.TLSPolicy)
		require.Contains(t, res.Message, "dane: certificate invalid: no certificate matches the TLSA records of _25._tcp.mx-ee.example.test (mx-ee.example.test); not delivered")
		require.Len(t, ee.Messages(), before)

		only("mx-plain.example.test")
		e.tlsa("mx-plain.example.test", true, tlsaFor(t, 3, 1, 1, other))
		res = send()
		require.Equal(t, Deferred, res.Outcome)
		require.Contains(t, res.Message, "dane: STARTTLS not offered (mx-plain.example.test); not delivered")
		require.Empty(t, e.plain.Messages())
	})

	t.Run("DANE-TA verifies the chain and the name", func(t *testing.T) {
		only("mx-ta.example.test")
		e.tlsa("mx-ta.example.test", true, tlsaFor(t, 2, 0, 1, caCert(t, ca)))
		res := send()
		require.Equal(t, Delivered, res.Outcome, res.Message)
		require.Equal(t, "dane", res.TLSPolicy)
		require.Len(t, ta.Messages(), 1)

		e.tlsa("mx-ta.example.test", true, tlsaFor(t, 2, 1, 2, caCert(t, ca)))
		res = send()
		require.Equal(t, Delivered, res.Outcome, res.Message)

		only("mx-misnamed.example.test")
		e.tlsa("mx-misnamed.example.test", true, tlsaFor(t, 2, 0, 1, caCert(t, ca)))
		res = send()
		require.Equal(t, Deferred, res.Outcome)
		require.Contains(t, res.Message, "trust anchor: x509: certificate is valid for elsewhere.example.test, not mx-misnamed.example.test")
		require.Empty(t, misnamed.Messages())
	})

	t.Run("unauthenticated or unusable records are ignored", func(t *testing.T) {
		only("mx-ee.example.test")
		before := len(ee.Messages())
		e.tlsa("mx-ee.example.test", false, tlsaFor(t, 3, 1, 1, other))
		res := send()
		require.Equal(t, Delivered, res.Outcome, res.Message)
		require.Equal(t, "opportunistic", res.TLSPolicy)

		e.tlsa("mx-ee.example.test", true, tlsaFor(t, 1, 1, 1, other), tlsaFor(t, 0, 0, 1, other), dns.TLSA{Usage: 3, Selector: 7, MatchingType: 1, Certificate: "00"})
		res = send()
		require.Equal(t, Delivered, res.Outcome, res.Message)
		require.Equal(t, "opportunistic", res.TLSPolicy, "PKIX-TA/PKIX-EE are unusable for SMTP (RFC 7672 §3.1.3)")

		e.dns.SetAuthenticated("example.test", false)
		e.tlsa("mx-ee.example.test", true, tlsaFor(t, 3, 1, 1, other))
		res = send()
		require.Equal(t, Delivered, res.Outcome, res.Message)
		require.Equal(t, "opportunistic", res.TLSPolicy, "an unauthenticated MX answer: no DANE")
		require.Len(t, ee.Messages(), before+3)
		e.dns.SetAuthenticated("example.test", true)
	})

	t.Run("a failed TLSA lookup defers", func(t *testing.T) {
		only("mx-ee.example.test")
		e.dns.Fail("_25._tcp.mx-ee.example.test", dns.RcodeServerFailure)
		defer e.dns.Fail("_25._tcp.mx-ee.example.test", dns.RcodeSuccess)
		res := send()
		require.Equal(t, Deferred, res.Outcome)
		require.Equal(t, "dane", res.TLSPolicy)
		require.Contains(t, res.Message, "dane: the TLSA lookup for mx-ee.example.test failed")
	})

	t.Run("DANE wins over MTA-STS", func(t *testing.T) {
		// The policy names mx-good, mx-wrong and mx-plain: mx-ta is outside
		// it, and mx-wrong's certificate is for another name.
		e.publish("1", "enforce", "mx-ta.example.test")
		e.tlsa("mx-ta.example.test", true, tlsaFor(t, 2, 0, 1, caCert(t, ca)))
		res := send()
		require.Equal(t, Delivered, res.Outcome, res.Message)
		require.Equal(t, "dane", res.TLSPolicy)

		e.publish("1", "enforce", "mx-wrong.example.test")
		e.tlsa("mx-wrong.example.test", true, tlsaFor(t, 3, 1, 1, leafOf(t, e.wrongTLS)))
		res = send()
		require.Equal(t, Delivered, res.Outcome, res.Message)
		require.Equal(t, "dane", res.TLSPolicy)
		require.Len(t, e.wrong.Messages(), 1)

		e.tlsa("mx-wrong.example.test", true) // no records: MTA-STS applies again
		res = send()
		require.Equal(t, Deferred, res.Outcome)
		require.Equal(t, "mta-sts enforce", res.TLSPolicy)
	})

	require.Positive(t, e.counted(daneSecure))
	require.Positive(t, e.counted(daneInsecure))
	require.Positive(t, e.counted(daneUnusable))
	require.Positive(t, e.counted(daneError))
	require.Positive(t, e.counted(daneNone))
}

func TestVerifyDANE(t *testing.T) {
	ca := godwittest.NewCA(t)
	leaf := leafOf(t, ca.ServerTLS(t, "mx.example.test"))
	root := caCert(t, ca)
	now := time.Now()
	recs := func(r ...dns.TLSA) []*dns.TLSA {
		out := make([]*dns.TLSA, len(r))
		for i := range r {
			out[i] = &r[i]
		}
		return out
	}
	require.NoError(t, verifyDANE(recs(tlsaFor(t, 3, 1, 1, leaf)), "mx.example.test", []*x509.Certificate{leaf}, now))
	require.NoError(t, verifyDANE(recs(tlsaFor(t, 3, 1, 1, leaf)), "mx.example.test", []*x509.Certificate{leaf}, now.Add(48*time.Hour)),
		"DANE-EE: no expiry check")
	require.NoError(t, verifyDANE(recs(tlsaFor(t, 2, 1, 1, root)), "mx.example.test", []*x509.Certificate{leaf, root}, now))
	require.Error(t, verifyDANE(recs(tlsaFor(t, 2, 1, 1, root)), "mx.example.test", []*x509.Certificate{leaf, root}, now.Add(48*time.Hour)),
		"DANE-TA: the chain's validity is checked")
	require.Error(t, verifyDANE(recs(tlsaFor(t, 2, 1, 1, root)), "mx.example.test", []*x509.Certificate{leaf}, now),
		"DANE-TA: the anchor must be in the chain")
	require.Error(t, verifyDANE(recs(tlsaFor(t, 3, 1, 1, root)), "mx.example.test", []*x509.Certificate{leaf, root}, now),
		"DANE-EE matches the leaf only")
	require.Error(t, verifyDANE(recs(tlsaFor(t, 3, 1, 1, leaf)), "mx.example.test", nil, now))
}

// FuzzVerifyDANE: any TLSA record against any certificate chain is an
// answer, never a panic, and a record that does not match is refused.
func FuzzVerifyDANE(f *testing.F) {
	f.Add(uint8(3), uint8(1), uint8(1), "00ff", []byte{0x30, 0x03, 0x02, 0x01, 0x01}, "mx.example.test")
	f.Add(uint8(2), uint8(0), uint8(2), "", []byte{}, "")
	f.Add(uint8(9), uint8(9), uint8(9), "zz", []byte("not DER"), "a..b")
	f.Fuzz(func(t *testing.T, usage, selector, matching uint8, data string, der []byte, host string) {
		rec := &dns.TLSA{Usage: usage, Selector: selector, MatchingType: matching, Certificate: data}
		var chain []*x509.Certificate
		if c, err := x509.ParseCertificate(der); err == nil {
			chain = append(chain, c)
		}
		_ = usableTLSA([]*dns.TLSA{rec})
		if err := verifyDANE([]*dns.TLSA{rec}, host, chain, time.Now()); err == nil && len(chain) == 0 {
			t.Fatal("verified without a certificate")
		}
	})
}

// TestTLSSessionsReported: every TLS session opened or refused is handed
// to TLSSession with its policy and RFC 8460 result type.
func TestTLSSessionsReported(t *testing.T) {
	ca := godwittest.NewCA(t)
	e := newDANEEnv(t)
	var mu sync.Mutex
	var got []TLSSession
	e.tr.TLSSession = func(s TLSSession) {
		mu.Lock()
		got = append(got, s)
		mu.Unlock()
	}
	last := func() TLSSession {
		mu.Lock()
		defer mu.Unlock()
		require.NotEmpty(t, got)
		return got[len(got)-1]
	}
	send := func() Result { return deliver(t, e.tr, "example.test", testMsg("bob@example.test"))[0] }

	e.publish("1", "enforce", "mx-good.example.test")
	require.Equal(t, Delivered, send().Outcome)
	s := last()
	require.Equal(t, "example.test", s.Domain)
	require.Equal(t, "sts", s.PolicyType)
	require.Equal(t, []string{"version: STSv1", "mode: enforce", "mx: mx-good.example.test", "mx: mx-wrong.example.test", "mx: mx-plain.example.test", "max_age: 86400"}, s.PolicyString)
	require.Equal(t, "mx-good.example.test", s.MXHost)
	require.Equal(t, ResultSuccess, s.ResultType)

	for host, want := range map[string]string{"mx-wrong.example.test": ResultHostMismatch, "mx-plain.example.test": ResultStartTLSNotSupported,
		"mx-other.example.test": ResultValidationFailure} {
		e.publish("1", "enforce", host)
		require.Equal(t, Deferred, send().Outcome)
		require.Equal(t, want, last().ResultType, host)
		require.Equal(t, host, last().MXHost)
	}

	e.publish("1", "enforce", "mx-good.example.test")
	e.tlsa("mx-good.example.test", true, tlsaFor(t, 3, 1, 1, leafOf(t, ca.ServerTLS(t, "x.test"))))
	require.Equal(t, Deferred, send().Outcome)
	require.Equal(t, "tlsa", last().PolicyType)
	require.Equal(t, ResultTLSAInvalid, last().ResultType)
	require.Len(t, last().PolicyString, 1)

	// No policy: opportunistic, in plaintext at a host without STARTTLS.
	e.dns.SetMX("plain.test", dnscheck.MX{Host: "mx-plain.example.test", Preference: 10})
	res := deliver(t, e.tr, "plain.test", testMsg("bob@plain.test"))[0]
	require.Equal(t, Delivered, res.Outcome, res.Message)
	require.Equal(t, TLSSession{Domain: "plain.test", PolicyType: "no-policy-found", MXHost: "mx-plain.example.test",
		ResultType: ResultStartTLSNotSupported}, last())
}
