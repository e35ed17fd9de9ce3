package doctor

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"github.com/godwit/godwit/internal/dnscheck"
	"github.com/godwit/godwit/internal/domains"
)

// Resolver is what the DNS checks ask (dnscheck.Resolver).
type Resolver interface {
	LookupIP(ctx context.Context, name string) ([]netip.Addr, error)
	LookupPTR(ctx context.Context, addr netip.Addr) ([]string, error)
	LookupMX(ctx context.Context, name string) ([]dnscheck.MX, error)
}

// Hostname checks that name, which this server uses as what (e.g. "the
// EHLO name"), is a fully qualified domain name with A or AAAA records,
// and returns its addresses. source says where name came from (e.g. "this
// machine's name"), setting which flag sets it, for the fix.
func Hostname(ctx context.Context, r Resolver, check, what, name, source, setting string) (Result, []netip.Addr) {
	setFix := fmt.Sprintf("set %s to this server's fully qualified name (e.g. %s mail.example.com) and publish its A/AAAA record", setting, setting)
	if why := notFQDN(name); why != "" {
		return fail(check, setFix, "%s %q (%s) cannot be used: %s", what, name, source, why), nil
	}
	ips, err := r.LookupIP(ctx, name)
	if err != nil {
		return fail(check, "check that --dns-resolver (default: the system's) answers, then run godwit doctor again",
			"%s %s: the address lookup failed: %v", what, name, err), nil
	}
	if len(ips) == 0 {
		return fail(check, fmt.Sprintf("publish an A (and AAAA, for IPv6) record for %s pointing at this server's public address", name),
			"%s %s has no A or AAAA record", what, name), nil
	}
	return pass(check, "%s %s resolves to %s", what, name, joinAddrs(ips)), ips
}

// ReverseDNS checks each sending address: its PTR record names ehlo, and
// ehlo resolves back to it (forward-confirmed reverse DNS), as receiving
// servers require of a sender. One result per address.
func ReverseDNS(ctx context.Context, r Resolver, ehlo string, ips []netip.Addr) []Result {
	const check = "reverse-dns"
	if len(ips) == 0 {
		return []Result{warn(check, "give --sending-ips (the public addresses this server sends from), or fix the EHLO name's A/AAAA record",
			"no sending address to check: no --sending-ips, and the EHLO name %s has no address", ehlo)}
	}
	if why := notFQDN(ehlo); why != "" {
		return []Result{fail(check, "set --hostname to the name the PTR records of the sending addresses give (see the hostname line)",
			"the PTR of %s cannot match the EHLO name %q: %s", joinAddrs(ips), ehlo, why)}
	}
	forward, forwardErr := r.LookupIP(ctx, ehlo)
	var out []Result
	for _, ip := range ips {
		providerFix := fmt.Sprintf("ask your hosting provider to set the PTR (reverse DNS) of %s to %s", ip, ehlo)
		names, err := r.LookupPTR(ctx, ip)
		switch {
		case err != nil:
			out = append(out, fail(check, "check that --dns-resolver (default: the system's) answers, then run godwit doctor again",
				"%s: the PTR lookup failed: %v", ip, err))
			continue
		case len(names) == 0:
			out = append(out, fail(check, providerFix, "%s has no PTR record: receivers reject or junk mail from it", ip))
			continue
		case !slices.ContainsFunc(names, func(n string) bool { return strings.EqualFold(strings.TrimSuffix(n, "."), ehlo) }):
			fix := providerFix
			if len(names) == 1 {
				fix += fmt.Sprintf("\n(or, if %s resolves to %s, make it the EHLO name with --hostname %s)", names[0], ip, names[0])
			}
			out = append(out, fail(check, fix, "the PTR of %s is %s, not the EHLO name %s", ip, strings.Join(names, ", "), ehlo))
			continue
		}
		switch {
		case forwardErr != nil:
			out = append(out, fail(check, "check that --dns-resolver answers, then run godwit doctor again",
				"the PTR of %s is %s, but its address lookup failed: %v", ip, ehlo, forwardErr))
		case !slices.Contains(forward, ip.Unmap()):
			out = append(out, fail(check, fmt.Sprintf("publish an A/AAAA record %s → %s (forward-confirmed reverse DNS)", ehlo, ip),
				"the PTR of %s is %s, but %s does not resolve back to it (it resolves to %s)", ip, ehlo, ehlo, orNone(joinAddrs(forward))))
		default:
			out = append(out, pass(check, "%s ↔ %s (PTR and A/AAAA agree)", ip, ehlo))
		}
	}
	return out
}

func orNone(s string) string {
	if s == "" {
		return "nothing"
	}
	return s
}

// RecordChecker looks one expected record up (dnscheck.Resolver), as the
// domain verifier does.
type RecordChecker interface {
	CheckAnswer(ctx context.Context, e dnscheck.Expected) (dnscheck.Status, dnscheck.Answer, error)
}

// Domain checks the records a domain must publish (domains.Settings.Records)
// with the verifier's own comparison: PASS when every required one is
// published, FAIL naming each missing or different one with the value
// expected. status is the domain's status in Godwit, shown alongside.
func Domain(ctx context.Context, c RecordChecker, name, status string, recs []domains.Record) Result {
	const check = "domain"
	var verified, problems, fixes []string
	worst := Pass
	raise := func(s Status) {
		if s == Fail || worst == Pass {
			worst = s
		}
	}
	for _, rec := range recs {
		fqdn := rec.FQDN(name)
		st, ans, err := c.CheckAnswer(ctx, dnscheck.Expected{Type: rec.Type, Name: fqdn, Value: rec.Value, Priority: uint16(rec.Priority)})
		label := rec.Kind
		if rec.Optional {
			label += " (optional)"
		}
		want := rec.Value
		if rec.Type == "MX" {
			want = fmt.Sprintf("%d %s", rec.Priority, rec.Value)
		}
		publish := fmt.Sprintf("publish %s %s %s", rec.Type, fqdn, quoteTXT(rec.Type, want))
		switch {
		case err != nil:
			raise(Warn)
			problems = append(problems, fmt.Sprintf("%s %s at %s: lookup failed (%s)", label, rec.Type, fqdn, ans.Error))
		case st == dnscheck.Verified:
			verified = append(verified, rec.Kind)
		case st == dnscheck.Missing:
			if rec.Optional {
				raise(Warn)
			} else {
				raise(Fail)
			}
			problems = append(problems, fmt.Sprintf("%s %s at %s is missing", label, rec.Type, fqdn))
			fixes = append(fixes, publish)
		default:
			if rec.Optional {
				raise(Warn)
			} else {
				raise(Fail)
			}
			problems = append(problems, fmt.Sprintf("%s %s at %s is wrong (found %s)", label, rec.Type, fqdn, found(ans)))
			fixes = append(fixes, publish+" (replacing the one found)")
		}
	}
	suffix := ""
	if status != "" {
		suffix = " (Godwit: " + status + ")"
	}
	if worst == Pass {
		return pass(check, "%s: %s verified%s", name, strings.Join(verified, ", "), suffix)
	}
	if worst == Warn && len(fixes) == 0 {
		fixes = append(fixes, "run godwit doctor again once the DNS server answers")
	}
	return Result{Status: worst, Check: check, Found: name + ": " + strings.Join(problems, "; ") + suffix, Fix: strings.Join(fixes, "\n")}
}

// quoteTXT quotes a TXT value as a zone file shows it.
func quoteTXT(typ, v string) string {
	if typ == "TXT" {
		return `"` + v + `"`
	}
	return v
}

// found shows what DNS answered, shortly.
func found(a dnscheck.Answer) string {
	if len(a.Values) == 0 {
		return "nothing"
	}
	vs := make([]string, len(a.Values))
	for i, v := range a.Values {
		vs[i] = `"` + dnscheck.Printable(v, 80) + `"`
	}
	s := strings.Join(vs, ", ")
	if a.Omitted > 0 {
		s += fmt.Sprintf(" and %d more", a.Omitted)
	}
	return s
}
