package delivery

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/emersion/go-smtp"
	"github.com/miekg/dns"

	"github.com/godwit/godwit/internal/mtasts"
)

// Transport security of MX delivery.
//
// Each delivery to a domain runs under one policy, recorded on every
// attempt (Result.TLSPolicy) with the TLS version and cipher suite the
// connection negotiated:
//
//   - "dane": the MX host has usable DNSSEC-authenticated TLSA records
//     (RFC 7672, see dane.go): STARTTLS with a certificate chain that
//     matches them, for that host, whatever the domain's MTA-STS policy.
//   - "mta-sts enforce": the domain publishes an MTA-STS policy (RFC 8461)
//     in mode enforce. Only MX hosts its mx patterns match are used, over
//     STARTTLS with a certificate valid for the MX host's name (verified
//     against MXTransport.TLSConfig's RootCAs, or the system roots). A host
//     that does not match, offers no STARTTLS or presents a bad certificate
//     is a deferral whose reason says so; there is no plaintext fallback.
//   - "require-tls": the sending domain enforces TLS (Message.RequireTLS):
//     STARTTLS with a verified certificate on any MX host.
//   - "mta-sts testing": mode testing. The connection is first tried as
//     under enforce; what would have failed is recorded after the policy
//     name ("mta-sts testing: certificate invalid: ...") and the message is
//     delivered as under "opportunistic".
//   - "opportunistic": no policy (or mode none): STARTTLS when offered,
//     plaintext otherwise (RFC 7435).
//   - "none": no connection was made under any policy (the MX lookup
//     failed, or the domain has a null MX).
//
// dane wins over enforce, which wins over require-tls, which wins over
// testing.

// STSPolicies looks a domain's MTA-STS policy up: nil when there is none
// to apply (mtasts.Cache implements it). The error only explains a nil
// policy, for the log.
type STSPolicies interface {
	Lookup(ctx context.Context, domain string) (*mtasts.Policy, error)
}

// Policy names recorded on attempts.
const (
	policyNone          = "none"
	policyOpportunistic = "opportunistic"
	policyRequireTLS    = "require-tls"
	policyEnforce       = "mta-sts enforce"
	policyTesting       = "mta-sts testing"
)

// security is the policy one domain's delivery runs under.
type security struct {
	domain     string // the recipient domain (for TLS reporting)
	requireTLS bool
	sts        *mtasts.Policy // mode enforce or testing; nil otherwise
	dane       []*dns.TLSA    // the host's usable TLSA records; nil when DANE does not apply
}

// security decides the policy for mail to domain.
func (t *MXTransport) security(ctx context.Context, domain string, m *Message) security {
	sec := security{domain: strings.ToLower(domain), requireTLS: m.RequireTLS}
	if t.STS == nil {
		return sec
	}
	p, err := t.STS.Lookup(ctx, domain)
	if err != nil && t.Logger != nil {
		t.Logger.Warn("delivery: no MTA-STS policy applied", "email_id", m.EmailID, "domain", domain, "err", err)
	}
	if p == nil {
		t.reportSTSError(sec.domain, err)
	}
	if p != nil && (p.Mode == mtasts.Enforce || p.Mode == mtasts.Testing) {
		sec.sts = p
	}
	return sec
}

func (s security) enforce() bool { return s.sts != nil && s.sts.Mode == mtasts.Enforce }
func (s security) testing() bool { return s.sts != nil && s.sts.Mode == mtasts.Testing }

func (s security) name() string {
	switch {
	case s.dane != nil:
		return policyDANE
	case s.enforce():
		return policyEnforce
	case s.requireTLS:
		return policyRequireTLS
	case s.testing():
		return policyTesting
	default:
		return policyOpportunistic
	}
}

// verify reports whether only a verified TLS connection may carry mail.
func (s security) verify() bool { return s.dane != nil || s.enforce() || s.requireTLS }

// variant keeps pooled connections apart by the policy they were opened
// under: one opened opportunistically never carries enforced mail.
func (s security) variant() string {
	switch s.name() {
	case policyDANE:
		return "dane " + tlsaKey(s.dane) // verified against these records only
	case policyEnforce:
		return "sts"
	case policyRequireTLS:
		return "tls"
	case policyTesting:
		return "sts-testing"
	default:
		return ""
	}
}

// checkHost applies the policy's mx patterns to an MX host. Under enforce
// a host that does not match is skipped (skip, with the deferral's
// reason); under testing it is used, with a note for the attempt.
func (s security) checkHost(host string) (note string, skip bool) {
	if s.dane != nil || s.sts == nil || s.sts.Match(host) { // DANE wins over MTA-STS (RFC 8461 §2)
		return "", false
	}
	if s.enforce() {
		return fmt.Sprintf("mta-sts enforce: MX host %s does not match the domain's MTA-STS policy; not delivered", host), true
	}
	if s.testing() && !s.requireTLS {
		return fmt.Sprintf("MX host %s does not match the policy", host), false
	}
	return "", false
}

// tlsFailure is the tenant-visible deferral reason when a host could not
// be used because of TLS under enforce or require-tls (ok false: err is no
// TLS failure, or the policy does not require TLS).
func (s security) tlsFailure(host string, err error) (string, bool) {
	if !s.verify() {
		return "", false
	}
	why, ok := tlsProblem(err)
	if !ok {
		return "", false
	}
	if s.dane != nil {
		return fmt.Sprintf("dane: %s (%s); not delivered", why, host), true
	}
	if s.enforce() {
		return fmt.Sprintf("mta-sts enforce: %s (%s); not delivered", why, host), true
	}
	if errors.Is(err, errTLSRequired) {
		return fmt.Sprintf("TLS is enforced for this message but %s does not offer STARTTLS; not delivered", host), true
	}
	return "", false // require-tls and a bad certificate: Classify's text stands
}

// tlsProblem says what went wrong with TLS in err, if that is what went
// wrong: STARTTLS not offered, a certificate that does not verify, a
// failed handshake. A server reply, a connection failure or a timeout is
// not a TLS problem (ok false).
func tlsProblem(err error) (why string, ok bool) {
	if errors.Is(err, errTLSRequired) {
		return "STARTTLS not offered", true
	}
	var de *errDANE
	if errors.As(err, &de) {
		return "certificate invalid: " + de.Error(), true
	}
	var cv *tls.CertificateVerificationError
	if errors.As(err, &cv) {
		return "certificate invalid: " + TenantText(cv.Err), true
	}
	var he x509.HostnameError
	var ua x509.UnknownAuthorityError
	var ci x509.CertificateInvalidError
	if errors.As(err, &he) || errors.As(err, &ua) || errors.As(err, &ci) {
		return "certificate invalid: " + TenantText(err), true
	}
	var se *smtp.SMTPError
	var ne net.Error
	if errors.As(err, &se) || isDialError(err) || (errors.As(err, &ne) && ne.Timeout()) {
		return "", false
	}
	return "TLS handshake failed: " + TenantText(err), true
}

// openSecure opens a session to addr under sec. Under testing (without
// require-tls) a connection that would fail enforce's TLS checks is opened
// again as under opportunistic, the failure kept in its policy.
func (t *MXTransport) openSecure(ctx context.Context, host, addr string, sec security) (*smtpSession, error) {
	name := sec.name()
	if name == policyDANE {
		s, err := t.openWith(ctx, addr, daneTLSConfig(sec.dane, host, time.Now), true)
		t.reportOpen(sec, host, s, err)
		if err == nil {
			s.policy = name
		}
		return s, err
	}
	if name != policyTesting {
		s, err := t.open(ctx, host, addr, sec.verify())
		t.reportOpen(sec, host, s, err)
		if err == nil {
			s.policy = name
		}
		return s, err
	}
	s, err := t.open(ctx, host, addr, true)
	t.reportOpen(sec, host, s, err)
	if err == nil {
		s.policy = name
		return s, nil
	}
	why, ok := tlsProblem(err)
	if !ok {
		return nil, err
	}
	s, err = t.open(ctx, host, addr, false)
	if err != nil {
		return nil, err
	}
	s.policy = withNote(name, why)
	return s, nil
}

// reportOpen reports the session open gave (s, err) for TLS reporting: a
// failure that is no TLS problem (a refused connection, an SMTP error
// reply) is no TLS session.
func (t *MXTransport) reportOpen(sec security, host string, s *smtpSession, err error) {
	if t.TLSSession == nil {
		return
	}
	if err == nil {
		t.report(sec, host, sessionResult(s))
		return
	}
	if _, ok := tlsProblem(err); ok {
		t.report(sec, host, resultType(err))
	}
}

// withNote appends a note on how the policy was not met to a policy label.
func withNote(label, note string) string {
	switch {
	case note == "":
		return label
	case strings.Contains(label, ": "):
		return label + "; " + note
	default:
		return label + ": " + note
	}
}

// stamp records the session's TLS details on the recipients idx.
func (s *smtpSession) stamp(st *state, idx []int, hostNote string) {
	st.stamp(idx, s.tlsVersion, s.tlsCipher, withNote(s.policy, hostNote))
}

// stamp sets the TLS details of the recipients idx.
func (st *state) stamp(idx []int, version, cipher, policy string) {
	for _, i := range idx {
		r := &st.results[i]
		r.TLSVersion, r.TLSCipher, r.TLSPolicy = version, cipher, policy
	}
}

// fillPolicy gives the results that have no policy yet (decided before
// any host was tried) the domain's.
func (st *state) fillPolicy(name string) {
	for i := range st.results {
		if st.results[i].TLSPolicy == "" {
			st.results[i].TLSPolicy = name
		}
	}
}
