package dnscheck

import (
	"context"
	"fmt"
	"strings"

	"github.com/miekg/dns"
)

// Authenticated lookups for DANE (RFC 7672): Godwit validates no DNSSEC
// signature itself; it trusts the AD (authenticated data) bit of the
// answers of --dns-resolver, which must then be a validating resolver on
// a trusted path (loopback, as RFC 7672 §1.3 and RFC 6698 §4.1 advise).
// Queries set the AD bit (RFC 6840 §5.7) and DO in EDNS0 so that a
// validating resolver reports what it validated. They are never cached.

// LookupMXAuthenticated is LookupMX, also saying whether every answer it
// was made of (CNAMEs followed included) carried the AD bit. An empty
// answer (NXDOMAIN or NODATA) is authenticated when its reply was.
func (r *Resolver) LookupMXAuthenticated(ctx context.Context, name string) ([]MX, bool, error) {
	rrs, ad, err := r.lookupAuthenticated(ctx, name, dns.TypeMX)
	if err != nil {
		return nil, false, err
	}
	var out []MX
	for _, rr := range rrs {
		mx := rr.(*dns.MX)
		host := mx.Mx
		if host != "." {
			host = strings.TrimSuffix(host, ".")
		}
		out = append(out, MX{Host: host, Preference: mx.Preference})
	}
	return out, ad, nil
}

// LookupTLSA returns the TLSA records at name (e.g. _25._tcp.mx.example.com)
// and whether the answer was authenticated (AD bit). NXDOMAIN or NODATA is
// (nil, ad, nil); other failures are errors.
func (r *Resolver) LookupTLSA(ctx context.Context, name string) ([]*dns.TLSA, bool, error) {
	rrs, ad, err := r.lookupAuthenticated(ctx, name, dns.TypeTLSA)
	if err != nil {
		return nil, false, err
	}
	out := make([]*dns.TLSA, 0, len(rrs))
	for _, rr := range rrs {
		out = append(out, rr.(*dns.TLSA))
	}
	return out, ad, nil
}

// lookupAuthenticated returns the records of qtype at name, following
// CNAMEs (up to maxCNAMEHops), and whether every reply had the AD bit.
func (r *Resolver) lookupAuthenticated(ctx context.Context, name string, qtype uint16) ([]dns.RR, bool, error) {
	typ := dns.TypeToString[qtype]
	fqdn := dns.Fqdn(strings.TrimSpace(name))
	if _, ok := dns.IsDomainName(fqdn); !ok || fqdn == "." {
		return nil, false, fmt.Errorf("dnscheck: %s lookup: invalid name %q", typ, name)
	}
	server, err := r.server()
	if err != nil {
		return nil, false, fmt.Errorf("dnscheck: %s lookup of %s: %w", typ, fqdn, err)
	}
	ad := true
	target := fqdn
	for hops := 0; ; hops++ {
		if hops > maxCNAMEHops {
			return nil, false, fmt.Errorf("dnscheck: %s lookup of %s: more than %d CNAMEs (loop?)", typ, fqdn, maxCNAMEHops)
		}
		m := new(dns.Msg)
		m.SetQuestion(target, qtype)
		m.RecursionDesired = true
		m.AuthenticatedData = true
		m.SetEdns0(ednsUDPSize, true)
		resp, err := r.roundTrip(ctx, server, m)
		if err != nil {
			return nil, false, fmt.Errorf("dnscheck: %s lookup of %s via %s: %w", typ, target, server, err)
		}
		ad = ad && resp.AuthenticatedData
		switch resp.Rcode {
		case dns.RcodeSuccess:
		case dns.RcodeNameError:
			return nil, ad, nil
		default:
			return nil, false, fmt.Errorf("dnscheck: %s lookup of %s via %s: %w", typ, target, server, &RcodeError{Rcode: resp.Rcode})
		}
		// Follow the CNAME chain inside this reply.
		var next string
		for {
			var found []dns.RR
			var cname string
			for _, rr := range resp.Answer {
				h := rr.Header()
				if h.Class != dns.ClassINET || !strings.EqualFold(h.Name, target) {
					continue
				}
				switch {
				case h.Rrtype == qtype:
					found = append(found, rr)
				case h.Rrtype == dns.TypeCNAME && cname == "":
					cname = dns.Fqdn(rr.(*dns.CNAME).Target)
				}
			}
			if len(found) > 0 {
				return found, ad, nil
			}
			if cname == "" {
				break
			}
			hops++
			if hops > maxCNAMEHops {
				return nil, false, fmt.Errorf("dnscheck: %s lookup of %s: more than %d CNAMEs (loop?)", typ, fqdn, maxCNAMEHops)
			}
			target, next = cname, cname
		}
		if next == "" {
			return nil, ad, nil // NODATA
		}
	}
}
