package mailauth

import (
	"bytes"
	"context"
	"errors"
	"net"
	"strings"

	"blitiri.com.ar/go/spf"
	"github.com/emersion/go-msgauth/dkim"
	"github.com/emersion/go-msgauth/dmarc"
)

// maxReason bounds a reason kept in Details.
const maxReason = 200

func reason(err error) string {
	if err == nil {
		return ""
	}
	s := err.Error()
	if len(s) > maxReason {
		s = s[:maxReason]
	}
	return s
}

func spfIdentity(mailFrom string) string {
	if trimAddr(mailFrom) == "" {
		return "helo"
	}
	return "mailfrom"
}

// checkSPF checks the MAIL FROM domain, or postmaster@HELO for the null
// sender.
func checkSPF(ctx context.Context, r *resolver, ip net.IP, helo, mailFrom string) SPFDetails {
	d := SPFDetails{Identity: spfIdentity(mailFrom)}
	if ip != nil {
		d.IP = ip.String()
	}
	var sender string
	if d.Identity == "helo" {
		d.Domain = normalizeDomain(helo)
		sender = "postmaster@" + d.Domain
	} else {
		addr := trimAddr(mailFrom)
		at := strings.LastIndexByte(addr, '@')
		if at < 0 {
			d.Result, d.Reason = None, "MAIL FROM has no domain"
			return d
		}
		d.Domain = normalizeDomain(addr[at+1:])
		sender = addr[:at] + "@" + d.Domain
	}
	if !validDomain(d.Domain) {
		// RFC 7208 §4.3: a malformed or single-label domain (or an address
		// literal HELO) is "none".
		d.Result, d.Reason = None, "not a domain name that SPF can check"
		return d
	}
	if ip.To16() == nil {
		d.Result, d.Reason = PermError, "no valid client IP"
		return d
	}
	heloName := strings.TrimSpace(helo)
	if d.Identity == "helo" {
		heloName = d.Domain
	}
	res, err := spf.CheckHostWithSender(ip, heloName, sender, spf.WithContext(ctx), spf.WithResolver(r))
	d.Result = string(res)
	switch res {
	case spf.Pass, spf.Fail, spf.SoftFail, spf.Neutral, spf.None, spf.TempError, spf.PermError:
	default:
		d.Result = PermError
	}
	d.Reason = reason(err)
	return d
}

// checkDKIM verifies the first max signatures.
func checkDKIM(raw []byte, fields []field, r *resolver, limit int) DKIMDetails {
	d := DKIMDetails{Signatures: []DKIMSignature{}}
	var sigs []map[string]string
	for _, f := range fields {
		if strings.EqualFold(f.name, "DKIM-Signature") {
			sigs = append(sigs, tagList(f.value))
		}
	}
	d.Count = len(sigs)
	if d.Count == 0 {
		d.Result = None
		return d
	}
	verifs, err := dkim.VerifyWithOptions(bytes.NewReader(raw), &dkim.VerifyOptions{
		LookupTXT:        r.lookupTXT,
		MaxVerifications: limit,
	})
	if errors.Is(err, dkim.ErrTooManySignatures) {
		d.Truncated, err = true, nil
	}
	if err != nil && len(verifs) == 0 {
		d.Result, d.Reason = PermError, reason(err)
		return d
	}
	if err != nil {
		d.Reason = reason(err)
	}
	for i, v := range verifs {
		if v == nil {
			continue
		}
		s := DKIMSignature{Domain: v.Domain, Result: dkimResult(v.Err), Reason: reason(v.Err)}
		if i < len(sigs) {
			s.Selector = sigs[i]["s"]
			s.Algorithm = sigs[i]["a"]
			if s.Domain == "" {
				s.Domain = sigs[i]["d"]
			}
		}
		s.Identifier = v.Identifier
		d.Signatures = append(d.Signatures, s)
	}
	d.Verified = len(d.Signatures)
	d.Result = dkimOverall(d.Signatures)
	return d
}

func dkimResult(err error) string {
	switch {
	case err == nil:
		return Pass
	case dkim.IsTempFail(err):
		return TempError
	case dkim.IsPermFail(err):
		return PermError
	default:
		return Fail
	}
}

// dkimOverall: pass, else temperror, fail, permerror, in that precedence.
func dkimOverall(sigs []DKIMSignature) string {
	if len(sigs) == 0 {
		return PermError
	}
	for _, want := range []string{Pass, TempError, Fail} {
		for _, s := range sigs {
			if s.Result == want {
				return want
			}
		}
	}
	return PermError
}

// dmarcLookup is the DMARC record found for the author domain.
type dmarcLookup struct {
	result string // "" when a record was found; else none temperror permerror
	reason string
	record *dmarc.Record
	domain string // where the record was found
}

// lookupDMARC looks for the record at the author domain, then at its
// organizational domain.
func lookupDMARC(r *resolver, from string) dmarcLookup {
	opts := &dmarc.LookupOptions{LookupTXT: r.lookupTXT}
	domains := []string{from}
	if org := orgDomain(from); org != from {
		domains = append(domains, org)
	}
	for _, domain := range domains {
		rec, err := dmarc.LookupWithOptions(domain, opts)
		switch {
		case err == nil:
			return dmarcLookup{record: rec, domain: domain}
		case errors.Is(err, dmarc.ErrNoPolicy):
			continue
		case dmarc.IsTempFail(err):
			return dmarcLookup{result: TempError, reason: reason(err), domain: domain}
		default:
			return dmarcLookup{result: PermError, reason: reason(err), domain: domain}
		}
	}
	return dmarcLookup{result: None, reason: "no DMARC record"}
}

// evaluateDMARC decides DMARC from the record and the SPF and DKIM results.
func evaluateDMARC(a author, rec dmarcLookup, spfD SPFDetails, dkimD DKIMDetails) DMARCDetails {
	d := DMARCDetails{FromDomain: a.domain}
	if a.err != "" {
		d.Result, d.Reason = PermError, a.err
		return d
	}
	d.OrgDomain = orgDomain(a.domain)
	d.SPFDomain = spfD.Domain
	d.RecordDomain = rec.domain
	if rec.record == nil {
		d.Result, d.Reason = rec.result, rec.reason
		if d.Result == "" {
			d.Result = PermError
		}
		return d
	}
	r := rec.record
	d.Policy = string(r.Policy)
	if rec.domain != a.domain && r.SubdomainPolicy != "" {
		d.Policy, d.SubdomainPolicy = string(r.SubdomainPolicy), true
	}
	d.ADKIM, d.ASPF = string(r.DKIMAlignment), string(r.SPFAlignment)
	d.Percent = r.Percent
	strictSPF := r.SPFAlignment == dmarc.AlignmentStrict
	strictDKIM := r.DKIMAlignment == dmarc.AlignmentStrict

	temp := false
	if aligned(spfD.Domain, a.domain, strictSPF) {
		switch spfD.Result {
		case Pass:
			d.SPFAligned = true
		case TempError:
			temp = true
		}
	}
	for _, s := range dkimD.Signatures {
		if !aligned(s.Domain, a.domain, strictDKIM) {
			continue
		}
		switch s.Result {
		case Pass:
			if !d.DKIMAligned {
				d.DKIMAligned, d.DKIMDomain = true, s.Domain
			}
		case TempError:
			temp = true
		}
	}
	switch {
	case d.SPFAligned || d.DKIMAligned:
		d.Result = Pass
	case temp:
		d.Result, d.Reason = TempError, "an aligned identifier could not be checked"
	default:
		d.Result, d.Reason = Fail, "no aligned identifier passed"
	}
	return d
}
