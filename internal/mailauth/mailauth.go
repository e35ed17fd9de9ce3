// Package mailauth authenticates one message received by the MX: SPF for the
// envelope sender (RFC 7208), every DKIM signature (RFC 6376), DMARC for the
// RFC 5322 From domain (RFC 7489), and whether ARC headers are present. It
// returns the verdicts, details to store, and the value of an
// Authentication-Results header field (RFC 8601).
//
// Design:
//
//   - One call, Checker.Check, after DATA, with the raw message as received,
//     the connecting IP, the HELO name and the MAIL FROM address. It never
//     fails: every problem becomes a verdict (temperror for DNS failures and
//     timeouts, permerror for records or messages that cannot be
//     interpreted), and a panic in any step is recovered into a temperror.
//   - All DNS goes through internal/dnscheck.Resolver, to the configured
//     resolver (--dns-resolver) or the system one. An empty answer (NXDOMAIN
//     or NODATA) is "not found"; any other failure (SERVFAIL, timeout) is
//     temporary. With Checker.Cache, answers are kept for their TTL (empty
//     ones for at most a minute, failures not at all: dnscheck.Cache), so a
//     sender's SPF and DMARC records and DKIM keys are asked once per TTL,
//     not once per message; without it nothing is kept.
//   - SPF (blitiri.com.ar/go/spf) checks the MAIL FROM domain; for the null
//     sender (bounces) it checks postmaster@HELO (RFC 7208 §2.4). A MAIL FROM
//     or HELO that is not a domain name (an address literal, one label) is
//     "none" (RFC 7208 §4.3).
//   - DKIM (github.com/emersion/go-msgauth/dkim) verifies at most
//     MaxSignatures signatures (default 5), the first ones in header order;
//     Details says how many there were. The overall DKIM verdict is pass if
//     any verified signature passes, else temperror, fail, permerror in that
//     order of precedence, and none without signatures.
//   - DMARC (github.com/emersion/go-msgauth/dmarc) looks the record up at the
//     From domain, then at its organizational domain (public suffix list, no
//     tree walk). SPF aligns on the MAIL FROM domain (HELO for the null
//     sender), DKIM on each passing signature's d=, relaxed or strict per
//     aspf/adkim. pass if either aligned identifier passes; temperror if
//     neither does and an aligned one could not be checked; fail otherwise.
//     A message without a From field, with several From fields, or with From
//     addresses in different domains, is dmarc=permerror: DMARC cannot name
//     one author domain (RFC 7489 §6.6.1); the MX may refuse such a message
//     as not RFC 5322-conformant. pct= is reported, not applied.
//   - ARC: no ARC verifier is used (go-msgauth has none). With ARC-Seal,
//     ARC-Message-Signature or ARC-Authentication-Results fields, ARC is
//     "present" and Details gives the cv= of the newest ARC-Seal as the
//     sender claimed it, unverified; the Authentication-Results value then
//     says nothing of ARC. Without ARC fields, ARC is "none" (arc=none).
//   - Time: each DNS query is bounded by Timeout (default 5 s), the whole
//     Check by four times that (20 s by default) and by ctx. SPF, DKIM and
//     the DMARC record lookup run concurrently.
package mailauth

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/emersion/go-msgauth/authres"

	"github.com/godwit/godwit/internal/dnscheck"
	"github.com/godwit/godwit/internal/panics"
)

const (
	// DefaultTimeout bounds one DNS query when Checker.Timeout is 0.
	DefaultTimeout = 5 * time.Second

	// DefaultMaxSignatures is how many DKIM signatures are verified per
	// message when Checker.MaxSignatures is 0.
	DefaultMaxSignatures = 5

	// checkTimeouts is how many per-query timeouts one Check may last.
	checkTimeouts = 4
)

// Verdicts, as they appear in Result and in Authentication-Results.
const (
	Pass      = "pass"
	Fail      = "fail"
	SoftFail  = "softfail"
	Neutral   = "neutral"
	None      = "none"
	TempError = "temperror"
	PermError = "permerror"
	// Present is Result.ARC when the message carries ARC fields: they were
	// not validated.
	Present = "present"
)

// Checker authenticates received messages. Its zero value asks the system
// resolver. A Checker is safe for concurrent use.
type Checker struct {
	Resolver      string        // "host:port" of the DNS server (--dns-resolver); "" = first nameserver of /etc/resolv.conf
	Timeout       time.Duration // per DNS query; 0 = 5 s. A whole Check lasts at most 4 times this
	AuthServID    string        // this server's name, first in Authentication-Results; "" = "localhost"
	MaxSignatures int           // DKIM signatures verified per message; 0 = 5
	// Cache keeps the DNS answers between checks for their TTL (SPF TXT, A,
	// AAAA and MX, DKIM key TXT, DMARC TXT); nil asks every time. It must
	// serve this Resolver only.
	Cache *dnscheck.Cache
}

// Result is the authentication of one message.
type Result struct {
	SPF    string // pass fail softfail neutral none temperror permerror (RFC 7208 §2.6)
	DKIM   string // pass if any signature passes; else temperror, fail, permerror; none without signatures
	DMARC  string // pass fail none temperror permerror
	ARC    string // "present" (not validated) or "none"
	Policy string // the DMARC policy for a failing message (p=, or sp= for a subdomain): none quarantine reject; "" without a record

	// Details is the JSON encoding of a Details, for storing.
	Details json.RawMessage
	// Header is the value of an Authentication-Results field (without the
	// field name, unfolded): "authserv-id; spf=… smtp.mailfrom=…; dkim=…
	// header.d=… header.s=…; dmarc=… header.from=…".
	Header string
}

// Details says what each check looked at, for storing and display. Reasons
// are diagnostic text, not a stable interface.
type Details struct {
	SPF   SPFDetails   `json:"spf"`
	DKIM  DKIMDetails  `json:"dkim"`
	DMARC DMARCDetails `json:"dmarc"`
	ARC   ARCDetails   `json:"arc"`
}

// SPFDetails is the SPF check.
type SPFDetails struct {
	Result   string `json:"result"`
	Identity string `json:"identity"`         // "mailfrom", or "helo" for the null sender
	Domain   string `json:"domain,omitempty"` // the domain checked
	IP       string `json:"ip,omitempty"`
	Reason   string `json:"reason,omitempty"`
}

// DKIMDetails lists the DKIM signatures verified.
type DKIMDetails struct {
	Result     string          `json:"result"`
	Count      int             `json:"count"`               // DKIM-Signature fields in the message
	Verified   int             `json:"verified"`            // how many of them were verified (at most MaxSignatures)
	Signatures []DKIMSignature `json:"signatures"`          // the verified ones, in header order
	Reason     string          `json:"reason,omitempty"`    // why the message could not be read, if so
	Truncated  bool            `json:"truncated,omitempty"` // more signatures than MaxSignatures: the rest were ignored
}

// DKIMSignature is one verified signature.
type DKIMSignature struct {
	Domain     string `json:"domain"`               // d=
	Selector   string `json:"selector"`             // s=
	Algorithm  string `json:"algorithm,omitempty"`  // a=
	Identifier string `json:"identifier,omitempty"` // i=
	Result     string `json:"result"`               // pass fail temperror permerror
	Reason     string `json:"reason,omitempty"`
}

// DMARCDetails is the DMARC evaluation.
type DMARCDetails struct {
	Result          string `json:"result"`
	FromDomain      string `json:"from_domain,omitempty"`   // the RFC 5322.From domain
	OrgDomain       string `json:"org_domain,omitempty"`    // its organizational domain
	RecordDomain    string `json:"record_domain,omitempty"` // where the record was found (From or organizational domain)
	Policy          string `json:"policy,omitempty"`        // the policy that applies (p=, or sp= for a subdomain)
	SubdomainPolicy bool   `json:"subdomain_policy,omitempty"`
	ADKIM           string `json:"adkim,omitempty"` // r or s
	ASPF            string `json:"aspf,omitempty"`  // r or s
	Percent         *int   `json:"pct,omitempty"`
	SPFDomain       string `json:"spf_domain,omitempty"`
	SPFAligned      bool   `json:"spf_aligned"`           // SPF passed for an aligned domain
	DKIMAligned     bool   `json:"dkim_aligned"`          // a signature passed for an aligned d=
	DKIMDomain      string `json:"dkim_domain,omitempty"` // that signature's d=
	Reason          string `json:"reason,omitempty"`
}

// ARCDetails says whether the message carries ARC fields. Nothing in it is
// validated.
type ARCDetails struct {
	Result         string `json:"result"`                    // present or none
	Sets           int    `json:"sets"`                      // ARC-Seal fields
	NewestInstance int    `json:"newest_instance,omitempty"` // highest i= among the ARC-Seals
	NewestCV       string `json:"newest_cv,omitempty"`       // that seal's cv=, as claimed (not verified)
	Validated      bool   `json:"validated"`                 // always false: no ARC verifier
}

// Check authenticates the message raw (header and body as received), sent
// from ip, after HELO helo and MAIL FROM mailFrom ("" or "<>" for the null
// sender). It never fails and never blocks longer than the Checker's bound.
func (c *Checker) Check(ctx context.Context, raw []byte, ip net.IP, helo, mailFrom string) Result {
	ctx, cancel := context.WithTimeout(ctx, checkTimeouts*c.timeout())
	defer cancel()
	r := &resolver{r: dnscheck.Resolver{Addr: c.Resolver, Timeout: c.timeout(), Cache: c.Cache}, ctx: ctx}

	fields := headerFields(raw)
	author := fromDomain(fields)

	var (
		d   Details
		rec dmarcLookup
		wg  sync.WaitGroup
	)
	wg.Go(func() {
		if err := panics.Catch(func() error { d.SPF = checkSPF(ctx, r, ip, helo, mailFrom); return nil }); err != nil {
			d.SPF = SPFDetails{Result: TempError, Identity: spfIdentity(mailFrom), Reason: err.Error()}
		}
	})
	if author.err == "" {
		wg.Go(func() {
			if err := panics.Catch(func() error { rec = lookupDMARC(r, author.domain); return nil }); err != nil {
				rec = dmarcLookup{result: TempError, reason: err.Error()}
			}
		})
	}
	if err := panics.Catch(func() error { d.DKIM = checkDKIM(raw, fields, r, c.maxSignatures()); return nil }); err != nil {
		d.DKIM = DKIMDetails{Result: TempError, Reason: err.Error(), Signatures: []DKIMSignature{}}
	}
	wg.Wait()

	d.DMARC = evaluateDMARC(author, rec, d.SPF, d.DKIM)
	d.ARC = arcDetails(fields)

	res := Result{
		SPF:    d.SPF.Result,
		DKIM:   d.DKIM.Result,
		DMARC:  d.DMARC.Result,
		ARC:    d.ARC.Result,
		Policy: d.DMARC.Policy,
		Header: c.header(d, mailFrom, helo),
	}
	var err error
	if res.Details, err = json.Marshal(d); err != nil {
		// Only strings, ints and bools: cannot happen.
		res.Details = json.RawMessage(fmt.Sprintf(`{"error":%q}`, err.Error()))
	}
	return res
}

func (c *Checker) timeout() time.Duration {
	if c.Timeout > 0 {
		return c.Timeout
	}
	return DefaultTimeout
}

func (c *Checker) maxSignatures() int {
	if c.MaxSignatures > 0 {
		return c.MaxSignatures
	}
	return DefaultMaxSignatures
}

// header builds the Authentication-Results value.
func (c *Checker) header(d Details, mailFrom, helo string) string {
	var results []authres.Result

	spfRes := &authres.SPFResult{Value: authres.ResultValue(d.SPF.Result)}
	if d.SPF.Identity == "helo" {
		spfRes.Helo = safePvalue(helo)
	} else {
		addr := trimAddr(mailFrom)
		spfRes.From = safePvalue(addr)
		if spfRes.From == "" {
			spfRes.From = safePvalue(d.SPF.Domain)
		}
	}
	results = append(results, spfRes)

	if len(d.DKIM.Signatures) == 0 {
		results = append(results, &authres.GenericResult{Method: "dkim", Value: authres.ResultValue(d.DKIM.Result)})
	}
	for _, s := range d.DKIM.Signatures {
		results = append(results, &authres.GenericResult{
			Method: "dkim",
			Value:  authres.ResultValue(s.Result),
			Params: map[string]string{"header.d": safePvalue(s.Domain), "header.s": safePvalue(s.Selector)},
		})
	}

	results = append(results, &authres.DMARCResult{
		Value: authres.ResultValue(d.DMARC.Result),
		From:  safePvalue(d.DMARC.FromDomain),
	})

	if d.ARC.Result == None {
		results = append(results, &authres.GenericResult{Method: "arc", Value: authres.ResultNone})
	}

	id := safeToken(c.AuthServID)
	if id == "" {
		id = "localhost"
	}
	s := authres.Format(id, results)
	// Format leaves a space after a result without parameters.
	return strings.ReplaceAll(strings.TrimRight(s, " "), " ;", ";")
}

// safePvalue returns s if it can stand as a parameter value of
// Authentication-Results without quoting trouble or header injection
// (printable ASCII without space, ";", quotes, backslash or parentheses),
// and "" otherwise (the parameter is then left out).
func safePvalue(s string) string {
	if s == "" || len(s) > 320 {
		return ""
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f {
			return ""
		}
		switch c {
		case ';', '"', '\\', '(', ')':
			return ""
		}
	}
	return s
}

// safeToken returns s if it is a plain host name-like token, else "".
func safeToken(s string) string {
	s = strings.TrimSpace(s)
	if s == "" || len(s) > 255 {
		return ""
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '-' || c == '_') {
			return ""
		}
	}
	return s
}
