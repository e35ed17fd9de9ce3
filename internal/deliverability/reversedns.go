package deliverability

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/godwit/godwit/internal/dnscheck"
	"github.com/godwit/godwit/internal/store"
)

// Keys of the reverse DNS answers among a domain's record checks: "PTR
// <ip>" holds the names the PTR records of one sending IP give, "EHLO
// <name>" the addresses (A and AAAA) of the EHLO name they were compared
// with.
const (
	ptrKeyPrefix  = "PTR "
	ehloKeyPrefix = "EHLO "
)

// maxPTRNames bounds the PTR names kept per address.
const maxPTRNames = 10

// PTRResolver looks up what the reverse DNS check needs
// (dnscheck.Resolver). A name that does not exist is no error: no names or
// addresses.
type PTRResolver interface {
	LookupIP(ctx context.Context, name string) ([]netip.Addr, error)
	LookupPTR(ctx context.Context, addr netip.Addr) ([]string, error)
}

// LookupReverseDNS looks up the PTR of each of ips and the addresses of
// ehlo, and returns the answers as record checks for the domain's
// RecordChecks (the verifier stores them; Domain reads them). With no ips,
// the EHLO name's own addresses are checked (the server sends from them
// when no --sending-ips are given).
func LookupReverseDNS(ctx context.Context, r PTRResolver, ehlo string, ips []netip.Addr, now time.Time) map[string]store.RecordCheck {
	ehlo = strings.ToLower(strings.TrimSuffix(ehlo, "."))
	out := make(map[string]store.RecordCheck, len(ips)+1)
	fwd, err := r.LookupIP(ctx, ehlo)
	c := store.RecordCheck{CheckedAt: now}
	if err != nil {
		c.Error = dnscheck.FailureText(err)
	}
	for _, ip := range fwd {
		c.Answer = append(c.Answer, ip.Unmap().String())
	}
	out[ehloKeyPrefix+ehlo] = c
	if len(ips) == 0 {
		ips = fwd
	}
	for _, ip := range ips {
		ip = ip.Unmap()
		names, err := r.LookupPTR(ctx, ip)
		c := store.RecordCheck{CheckedAt: now}
		if err != nil {
			c.Error = dnscheck.FailureText(err)
		}
		for i, n := range names { // untrusted: bounded and printable
			if i == maxPTRNames {
				c.Omitted = len(names) - i
				break
			}
			c.Answer = append(c.Answer, dnscheck.Printable(n, dnscheck.MaxAnswerBytes))
		}
		out[ptrKeyPrefix+ip.String()] = c
	}
	return out
}

// reverseDNS is the reverse DNS check from the answers the last
// verification stored: every sending IP's PTR names the EHLO name, and the
// EHLO name resolves back to the IP (forward-confirmed reverse DNS).
func reverseDNS(d *store.Domain, srv Server) Check {
	var ehlo string
	var fwd store.RecordCheck
	var ips []netip.Addr
	for k, c := range d.RecordChecks {
		if name, ok := strings.CutPrefix(k, ehloKeyPrefix); ok {
			ehlo, fwd = name, c
		}
		if s, ok := strings.CutPrefix(k, ptrKeyPrefix); ok {
			if ip, err := netip.ParseAddr(s); err == nil {
				ips = append(ips, ip)
			}
		}
	}
	slices.SortFunc(ips, netip.Addr.Compare)
	verify := "Verify the domain again (POST /domains/{id}/verify): the check looks the sending IPs' reverse DNS up."
	switch {
	case ehlo == "":
		return Check{Check: CheckReverseDNS, Status: Warn, Message: "The reverse DNS of the sending IPs has not been looked up yet.", Fix: verify}
	case srv.EHLO != "" && !strings.EqualFold(strings.TrimSuffix(srv.EHLO, "."), ehlo):
		return Check{Check: CheckReverseDNS, Status: Warn,
			Message: fmt.Sprintf("The last verification compared the sending IPs' reverse DNS with %s, but the server now greets as %s.", ehlo, srv.EHLO),
			Fix:     verify}
	case len(ips) == 0:
		return Check{Check: CheckReverseDNS, Status: Warn,
			Message: fmt.Sprintf("No sending IP to check: no --sending-ips, and the EHLO name %s has no address.", ehlo),
			Fix:     "Give --sending-ips (the public addresses this server sends from), or publish the EHLO name's A/AAAA record, then verify the domain again."}
	}
	status := Pass
	var problems, fixes, good []string
	worse := func(s string) {
		if s == Fail || status == Pass {
			status = s
		}
	}
	for _, ip := range ips {
		ptr := d.RecordChecks[ptrKeyPrefix+ip.String()]
		switch {
		case ptr.Error != "":
			worse(Warn)
			problems = append(problems, fmt.Sprintf("the PTR lookup of %s failed (%s)", ip, ptr.Error))
			continue
		case len(ptr.Answer) == 0:
			worse(Fail)
			problems = append(problems, fmt.Sprintf("%s has no PTR record", ip))
			fixes = append(fixes, fmt.Sprintf("ask the hosting provider to set the PTR of %s to %s", ip, ehlo))
			continue
		case !slices.ContainsFunc(ptr.Answer, func(n string) bool { return strings.EqualFold(strings.TrimSuffix(n, "."), ehlo) }):
			worse(Fail)
			problems = append(problems, fmt.Sprintf("the PTR of %s is %s, not the EHLO name %s", ip, strings.Join(ptr.Answer, ", "), ehlo))
			fixes = append(fixes, fmt.Sprintf("ask the hosting provider to set the PTR of %s to %s", ip, ehlo))
			continue
		}
		switch {
		case fwd.Error != "":
			worse(Warn)
			problems = append(problems, fmt.Sprintf("the PTR of %s is %s, but the address lookup of %s failed (%s)", ip, ehlo, ehlo, fwd.Error))
		case !slices.Contains(fwd.Answer, ip.String()):
			worse(Fail)
			found := strings.Join(fwd.Answer, ", ")
			if found == "" {
				found = "nothing"
			}
			problems = append(problems, fmt.Sprintf("the PTR of %s is %s, but %s does not resolve back to it (it resolves to %s)", ip, ehlo, ehlo, found))
			fixes = append(fixes, fmt.Sprintf("publish an A/AAAA record %s → %s", ehlo, ip))
		default:
			good = append(good, ip.String())
		}
	}
	if status == Pass {
		return Check{Check: CheckReverseDNS, Status: Pass,
			Message: fmt.Sprintf("The PTR of every sending IP of the domain (%s) is the EHLO name %s, which resolves back to it (forward-confirmed reverse DNS).",
				strings.Join(good, ", "), ehlo)}
	}
	msg := strings.ToUpper(problems[0][:1]) + problems[0][1:]
	if len(problems) > 1 {
		msg += "; " + strings.Join(problems[1:], "; ")
	}
	msg += ". Gmail and Yahoo require forward-confirmed reverse DNS of bulk senders' IPs."
	fix := verify
	if len(fixes) > 0 {
		fix = strings.ToUpper(fixes[0][:1]) + strings.Join(append([]string{fixes[0][1:]}, fixes[1:]...), "; ") + ", then verify the domain again."
	}
	return Check{Check: CheckReverseDNS, Status: status, Message: msg, Fix: fix}
}
