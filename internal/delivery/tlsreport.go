package delivery

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"strings"

	"github.com/miekg/dns"

	"github.com/godwit/godwit/internal/mtasts"
)

// TLS reporting (RFC 8460): MXTransport.TLSSession, when set, hears of
// every TLS session the transport opens or fails to open, with the policy
// it ran under and its result, for the daily aggregate reports
// (internal/tlsrpt). A pooled connection reused is no new session.

// TLSSession is one session for TLS reporting.
type TLSSession struct {
	Domain       string   // the recipient (policy) domain
	PolicyType   string   // "sts", "tlsa" or "no-policy-found"
	PolicyString []string // the policy applied (nil for no-policy-found)
	MXHost       string   // "" for a failure before any host (a policy fetch)
	ResultType   string   // "success" or an RFC 8460 §4.3 failure type
}

// RFC 8460 result types Godwit reports.
const (
	ResultSuccess              = "success"
	ResultStartTLSNotSupported = "starttls-not-supported"
	ResultHostMismatch         = "certificate-host-mismatch"
	ResultCertExpired          = "certificate-expired"
	ResultCertNotTrusted       = "certificate-not-trusted"
	ResultValidationFailure    = "validation-failure"
	ResultTLSAInvalid          = "tlsa-invalid"
	ResultDNSSECInvalid        = "dnssec-invalid"
	ResultSTSFetchError        = "sts-policy-fetch-error"
	ResultSTSPolicyInvalid     = "sts-policy-invalid"
	ResultSTSWebPKIInvalid     = "sts-webpki-invalid"
)

// report hands one session to TLSSession.
func (t *MXTransport) report(sec security, host, result string) {
	if t.TLSSession == nil || sec.domain == "" {
		return
	}
	s := TLSSession{Domain: sec.domain, PolicyType: "no-policy-found", MXHost: strings.TrimSuffix(host, "."), ResultType: result}
	switch {
	case sec.dane != nil:
		s.PolicyType = "tlsa"
		for _, r := range sec.dane {
			s.PolicyString = append(s.PolicyString, fmt.Sprintf("%d %d %d %s", r.Usage, r.Selector, r.MatchingType, strings.ToLower(r.Certificate)))
		}
	case sec.sts != nil:
		s.PolicyType = "sts"
		s.PolicyString = stsPolicyString(sec.sts)
	}
	t.TLSSession(s)
}

// reportTLSALookup reports a host whose TLSA lookup failed.
func (t *MXTransport) reportTLSALookup(sec security, host string) {
	sec.dane = []*dns.TLSA{}
	t.report(sec, host, ResultDNSSECInvalid)
}

// reportSTSError reports a domain whose MTA-STS policy could not be had.
func (t *MXTransport) reportSTSError(domain string, err error) {
	if t.TLSSession == nil || err == nil {
		return
	}
	result := ResultSTSFetchError
	var cv *tls.CertificateVerificationError
	var he x509.HostnameError
	var ua x509.UnknownAuthorityError
	var ci x509.CertificateInvalidError
	switch {
	case errors.Is(err, mtasts.ErrSyntax) || errors.Is(err, mtasts.ErrVersion):
		result = ResultSTSPolicyInvalid
	case errors.As(err, &cv) || errors.As(err, &he) || errors.As(err, &ua) || errors.As(err, &ci):
		result = ResultSTSWebPKIInvalid
	case strings.Contains(err.Error(), "TXT lookup"):
		return // no DNS answer: nothing is known of a policy
	}
	t.TLSSession(TLSSession{Domain: domain, PolicyType: "sts", ResultType: result})
}

// stsPolicyString is an MTA-STS policy as its lines (RFC 8460 §4.4).
func stsPolicyString(p *mtasts.Policy) []string {
	out := []string{"version: STSv1", "mode: " + string(p.Mode)}
	for _, mx := range p.MX {
		out = append(out, "mx: "+mx)
	}
	return append(out, fmt.Sprintf("max_age: %d", int64(p.MaxAge.Seconds())))
}

// resultType is the RFC 8460 failure type of a failed TLS session.
func resultType(err error) string {
	var de *errDANE
	var he x509.HostnameError
	var ua x509.UnknownAuthorityError
	var ci x509.CertificateInvalidError
	switch {
	case errors.Is(err, errTLSRequired):
		return ResultStartTLSNotSupported
	case errors.As(err, &de):
		return ResultTLSAInvalid
	case errors.As(err, &he):
		return ResultHostMismatch
	case errors.As(err, &ci) && ci.Reason == x509.Expired:
		return ResultCertExpired
	case errors.As(err, &ua):
		return ResultCertNotTrusted
	default:
		return ResultValidationFailure
	}
}

// sessionResult is the result of a session opened without error: success
// over TLS, starttls-not-supported in plaintext.
func sessionResult(s *smtpSession) string {
	if s.tlsVersion == "" {
		return ResultStartTLSNotSupported
	}
	return ResultSuccess
}
