package delivery

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"hash/fnv"
	"strconv"
	"strings"
	"time"

	"github.com/miekg/dns"

	"github.com/godwit/godwit/internal/dnscheck"
)

// DANE for SMTP (RFC 7672).
//
// With MXTransport.DANE on, the recipient domain's MX records are looked up
// with the AD bit asked for. When that answer is authenticated, each MX
// host's TLSA records (_25._tcp.<host>) are looked up the same way, and:
//
//   - an authenticated answer with usable records (usage DANE-TA(2) or
//     DANE-EE(3), selector 0 or 1, matching type 0, 1 or 2) puts the host
//     under policy "dane": STARTTLS is required and the server's
//     certificate chain must match one record (DANE-EE: the leaf, with no
//     name or expiry check, RFC 7672 §3.1.1; DANE-TA: a certificate of the
//     chain the leaf verifies up to, for the MX host's name, §3.1.2).
//     Anything else defers the host's recipients, never in plaintext. DANE
//     takes precedence over MTA-STS for that host (RFC 8461 §2);
//   - a TLSA lookup that fails (SERVFAIL, timeout) after an authenticated
//     MX answer defers the host (RFC 7672 §2.2: it may be an attack);
//   - no records (authenticated denial), only unusable ones (PKIX-TA(0),
//     PKIX-EE(1), unknown parameters), or an answer without the AD bit:
//     DANE does not apply and the domain's other policy (MTA-STS,
//     require-tls, opportunistic) stands.
//
// Godwit validates no signature itself: the AD bit of --dns-resolver is
// trusted, so it must be a validating resolver on a trusted path.

// DANE lookup results counted by MXTransport.DANELookup.
const (
	daneSecure    = "secure"   // usable TLSA records: the host is under "dane"
	daneNone      = "none"     // authenticated: no TLSA records
	daneUnusable  = "unusable" // authenticated: only records RFC 7672 says not to use
	daneInsecure  = "insecure" // the MX or TLSA answer was not authenticated
	daneError     = "error"    // the TLSA lookup failed after an authenticated MX answer
	policyDANE    = "dane"
	daneTimeLimit = 10 * time.Second
)

// daneHost is what DANE says about one MX host.
type daneHost struct {
	records []*dns.TLSA // usable records; nil when DANE does not apply
	failed  error       // the TLSA lookup failed: defer the host
}

// lookupMX returns domain's MX records and whether the answer was
// authenticated (only asked with DANE on).
func (t *MXTransport) lookupMX(ctx context.Context, res *dnscheck.Resolver, domain string) ([]dnscheck.MX, bool, error) {
	if !t.DANE {
		mxs, err := res.LookupMX(ctx, domain)
		return mxs, false, err
	}
	return res.LookupMXAuthenticated(ctx, domain)
}

// tlsaFor looks host's TLSA records up when the MX answer was authenticated.
func (t *MXTransport) tlsaFor(ctx context.Context, host string, mxSecure bool) daneHost {
	if !t.DANE {
		return daneHost{}
	}
	if !mxSecure {
		t.countDANE(daneInsecure)
		return daneHost{}
	}
	ctx, cancel := context.WithTimeout(ctx, daneTimeLimit)
	defer cancel()
	res := &dnscheck.Resolver{Addr: t.Resolver, Timeout: dnsTimeout}
	name := "_25._tcp." + strings.TrimSuffix(host, ".")
	recs, ad, err := res.LookupTLSA(ctx, name)
	switch {
	case err != nil:
		t.countDANE(daneError)
		return daneHost{failed: err}
	case !ad:
		t.countDANE(daneInsecure)
		return daneHost{}
	}
	usable := usableTLSA(recs)
	switch {
	case len(usable) > 0:
		t.countDANE(daneSecure)
		return daneHost{records: usable}
	case len(recs) > 0:
		t.countDANE(daneUnusable)
	default:
		t.countDANE(daneNone)
	}
	return daneHost{}
}

func (t *MXTransport) countDANE(result string) {
	if t.DANELookup != nil {
		t.DANELookup(result)
	}
}

// usableTLSA keeps the records RFC 7672 lets an SMTP client use.
func usableTLSA(recs []*dns.TLSA) []*dns.TLSA {
	var out []*dns.TLSA
	for _, r := range recs {
		if (r.Usage == 2 || r.Usage == 3) && r.Selector <= 1 && r.MatchingType <= 2 && r.Certificate != "" {
			out = append(out, r)
		}
	}
	return out
}

// tlsaKey identifies a set of TLSA records: a pooled connection verified
// against one set is not reused under another.
func tlsaKey(recs []*dns.TLSA) string {
	h := fnv.New64a()
	for _, r := range recs {
		fmt.Fprintf(h, "%d %d %d %s\n", r.Usage, r.Selector, r.MatchingType, strings.ToLower(r.Certificate))
	}
	return strconv.FormatUint(h.Sum64(), 36)
}

// errDANE is a certificate chain that matches none of the TLSA records.
type errDANE struct{ host, detail string }

func (e *errDANE) Error() string {
	return fmt.Sprintf("no certificate matches the TLSA records of _25._tcp.%s%s", e.host, e.detail)
}

// tlsaMatches reports whether cert matches rec (its selector and matching
// type; the data compared without regard to case).
func tlsaMatches(rec *dns.TLSA, cert *x509.Certificate) bool {
	want, err := dns.CertificateToDANE(rec.Selector, rec.MatchingType, cert)
	return err == nil && strings.EqualFold(want, rec.Certificate)
}

// verifyDANE checks a server's certificate chain (leaf first) against
// usable TLSA records for host, at now.
func verifyDANE(recs []*dns.TLSA, host string, chain []*x509.Certificate, now time.Time) error {
	if len(chain) == 0 {
		return &errDANE{host: host, detail: ": the server sent no certificate"}
	}
	leaf := chain[0]
	var taErr error
	for _, rec := range recs {
		switch rec.Usage {
		case 3: // DANE-EE: the leaf itself; no name or validity check
			if tlsaMatches(rec, leaf) {
				return nil
			}
		case 2: // DANE-TA: a trust anchor the server sends in its chain
			for i, ta := range chain {
				if i == 0 && len(chain) > 1 {
					continue // the anchor is above the leaf
				}
				if !tlsaMatches(rec, ta) {
					continue
				}
				roots := x509.NewCertPool()
				roots.AddCert(ta)
				inter := x509.NewCertPool()
				for _, c := range chain[1:] {
					inter.AddCert(c)
				}
				_, err := leaf.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, DNSName: strings.TrimSuffix(host, "."),
					CurrentTime: now, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}})
				if err == nil {
					return nil
				}
				taErr = err
			}
		}
	}
	if taErr != nil {
		return &errDANE{host: host, detail: " (trust anchor: " + TenantText(taErr) + ")"}
	}
	return &errDANE{host: host}
}

// daneTLSConfig is the STARTTLS configuration under "dane": the chain is
// checked against recs instead of the WebPKI roots.
func daneTLSConfig(recs []*dns.TLSA, host string, now func() time.Time) *tls.Config {
	return &tls.Config{
		ServerName:         strings.TrimSuffix(host, "."),
		InsecureSkipVerify: true, // verified by VerifyConnection against the TLSA records
		MinVersion:         tls.VersionTLS12,
		VerifyConnection: func(cs tls.ConnectionState) error {
			return verifyDANE(recs, host, cs.PeerCertificates, now())
		},
	}
}
