// Package deliverability says whether a sending domain meets the mailbox
// providers' bulk-sender requirements (Gmail and Yahoo since 2024,
// Microsoft since 2025): SPF and DKIM that pass and align with the From
// domain, a DMARC record, one-click unsubscribe on bulk mail, reverse DNS
// that matches the EHLO name, and TLS. Each check is pass, warn or fail,
// with what was found and how to fix it.
//
// Domain computes the checks from what the domain verifier last found in
// DNS (store.Domain.RecordStatus and RecordChecks, kept by internal/domains
// at each check): no network I/O, so GET /domains/{id} can show them on
// every request. The reverse DNS of the sending IPs the domain uses (its IP
// pool's, or --sending-ips) is looked up by the verifier too
// (LookupReverseDNS) and kept with the record checks under keys of its own
// ("PTR <ip>", "EHLO <name>"). MXTLS connects to the domain's MX hosts,
// and is run by godwit doctor only.
package deliverability

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/emersion/go-msgauth/dmarc"
	"github.com/emersion/go-smtp"

	"github.com/godwit/godwit/internal/dnscheck"
	"github.com/godwit/godwit/internal/store"
)

// Statuses of a check.
const (
	Pass = "pass"
	Warn = "warn"
	Fail = "fail"
)

// Names of the checks.
const (
	CheckSPFAlignment        = "spf_alignment"
	CheckDKIMAlignment       = "dkim_alignment"
	CheckDMARC               = "dmarc"
	CheckOneClickUnsubscribe = "one_click_unsubscribe"
	CheckMXTLS               = "mx_tls"
	CheckReverseDNS          = "reverse_dns"
)

// Check is one requirement and where the domain stands: the JSON of an
// item of GET /domains/{id}'s readiness (Godwit's own).
type Check struct {
	Check   string `json:"check"`
	Status  string `json:"status"`
	Message string `json:"message"`
	Fix     string `json:"fix,omitempty"`
}

// Server is what the checks need to know of the server.
type Server struct {
	// OneClickUnsubscribe: broadcasts carry List-Unsubscribe and
	// List-Unsubscribe-Post (RFC 8058), which needs --public-url.
	OneClickUnsubscribe bool
	// EHLO is the name the server greets with (--hostname); the reverse
	// DNS check says so when the last verification checked another.
	EHLO string
}

// Domain returns d's sending readiness from its last verification; nil
// for a domain that does not send.
func Domain(d *store.Domain, srv Server) []Check {
	if !d.Capable(store.CapabilitySending) {
		return nil
	}
	checks := []Check{spfAlignment(d), dkimAlignment(d), dmarcCheck(d), reverseDNS(d, srv)}
	if srv.OneClickUnsubscribe {
		checks = append(checks, Check{Check: CheckOneClickUnsubscribe, Status: Pass,
			Message: "Broadcasts carry List-Unsubscribe with an HTTPS link and List-Unsubscribe-Post: List-Unsubscribe=One-Click (RFC 8058)."})
	} else {
		// A warning, not a failure: it only matters to a domain that sends
		// broadcasts (marketing mail), and a transactional-only server has
		// no use for a public URL.
		checks = append(checks, Check{Check: CheckOneClickUnsubscribe, Status: Warn,
			Message: "Broadcasts would carry no List-Unsubscribe header: the server has no public URL for the unsubscribe link (Gmail and Yahoo require one-click unsubscribe of bulk senders' marketing mail).",
			Fix:     "Start the server with --public-url https://… (the address recipients reach it at), so that broadcasts get one-click unsubscribe."})
	}
	return checks
}

func verified(d *store.Domain, kind string) bool {
	return d.RecordStatus[kind] == store.DomainVerified || d.RecordStatus[kind] == store.DomainTemporaryFailure
}

func spfAlignment(d *store.Domain) Check {
	rp := d.ReturnPath + "." + d.Name
	if !verified(d, store.RecordSPFTXT) || !verified(d, store.RecordSPFMX) {
		return Check{Check: CheckSPFAlignment, Status: Fail,
			Message: fmt.Sprintf("The return path %s does not have its SPF records (MX and TXT) verified, so SPF cannot pass for the envelope sender.", rp),
			Fix:     fmt.Sprintf("Publish the SPF MX and TXT records at %s shown in the domain's records, then verify the domain.", rp)}
	}
	if rec := dmarcRecord(d); rec != nil && rec.SPFAlignment == dmarc.AlignmentStrict {
		return Check{Check: CheckSPFAlignment, Status: Warn,
			Message: fmt.Sprintf("SPF passes for %s, but the DMARC record asks for strict SPF alignment (aspf=s), which a return-path subdomain does not meet; DMARC still passes through DKIM.", rp),
			Fix:     "Remove aspf=s from the DMARC record (relaxed alignment is the default)."}
	}
	return Check{Check: CheckSPFAlignment, Status: Pass,
		Message: fmt.Sprintf("SPF passes for the envelope sender at %s, which aligns with %s (relaxed alignment).", rp, d.Name)}
}

func dkimAlignment(d *store.Domain) Check {
	if !verified(d, store.RecordDKIM) {
		return Check{Check: CheckDKIMAlignment, Status: Fail,
			Message: fmt.Sprintf("The DKIM record %s._domainkey.%s is not verified: signatures with d=%s cannot be checked.", d.DKIMSelector, d.Name, d.Name),
			Fix:     "Publish the DKIM TXT record shown in the domain's records, then verify the domain."}
	}
	return Check{Check: CheckDKIMAlignment, Status: Pass,
		Message: fmt.Sprintf("Every email is signed with d=%s, the From domain itself, and its key is published.", d.Name)}
}

// dmarcRecord is the DMARC record the domain's last check found at
// _dmarc.<name>; nil when there is none (or none that parses).
func dmarcRecord(d *store.Domain) *dmarc.Record {
	c, ok := d.RecordChecks[store.RecordDMARC]
	if !ok {
		return nil
	}
	for _, v := range c.Answer {
		if rec, err := ParseDMARC(v); err == nil {
			return rec
		}
	}
	return nil
}

// ParseDMARC parses a TXT value as a DMARC record (RFC 7489 §6.3).
func ParseDMARC(txt string) (*dmarc.Record, error) {
	if !strings.HasPrefix(strings.TrimSpace(txt), "v=DMARC1") {
		return nil, fmt.Errorf("not a DMARC record")
	}
	return dmarc.Parse(txt)
}

func dmarcCheck(d *store.Domain) Check {
	name := "_dmarc." + d.Name
	c, checked := d.RecordChecks[store.RecordDMARC]
	if !checked {
		return Check{Check: CheckDMARC, Status: Warn, Message: "The domain's DMARC record has not been looked up yet.",
			Fix: "Verify the domain (POST /domains/{id}/verify): the check looks it up."}
	}
	rec := dmarcRecord(d)
	if rec == nil {
		msg := fmt.Sprintf("No DMARC record at %s.", name)
		if c.Error != "" && c.Error != dnscheck.NXDomain {
			msg = fmt.Sprintf("The DMARC lookup at %s failed (%s).", name, c.Error)
		}
		fix := fmt.Sprintf("Publish a DMARC TXT record at %s, e.g. the suggested \"v=DMARC1; p=none; rua=mailto:dmarc@%s;\": Gmail and Yahoo require one of bulk senders.", name, d.Name)
		if strings.Count(d.Name, ".") > 1 {
			// A subdomain is covered by its organizational domain's record.
			return Check{Check: CheckDMARC, Status: Warn, Message: msg + " The organizational domain's record applies to a subdomain, if it has one.", Fix: fix}
		}
		return Check{Check: CheckDMARC, Status: Fail, Message: msg, Fix: fix}
	}
	switch rec.Policy {
	case dmarc.PolicyNone:
		return Check{Check: CheckDMARC, Status: Warn,
			Message: fmt.Sprintf("DMARC at %s has p=none: it meets the bulk-sender rule, but only monitors; spoofed mail is still delivered.", name),
			Fix:     "Once the aggregate reports show only your own mail, move to p=quarantine, then p=reject."}
	default:
		msg := fmt.Sprintf("DMARC at %s has p=%s.", name, rec.Policy)
		if rec.Percent != nil && *rec.Percent < 100 {
			return Check{Check: CheckDMARC, Status: Warn, Message: msg + " It applies to " + strconv.Itoa(*rec.Percent) + "% of failing mail.",
				Fix: "Raise pct to 100 (or remove it) once the reports are clean."}
		}
		return Check{Check: CheckDMARC, Status: Pass, Message: msg}
	}
}

// MXTLS connects to the domain's MX hosts (their addresses looked up
// through r, on port: 25 in production) and reports whether each offers
// STARTTLS, so that mail to the domain (replies, bounces) travels
// encrypted.
func MXTLS(ctx context.Context, r *dnscheck.Resolver, domain string, port int, timeout time.Duration, helo string) Check {
	mxs, err := r.LookupMX(ctx, domain)
	if err != nil {
		return Check{Check: CheckMXTLS, Status: Warn, Message: fmt.Sprintf("The MX lookup of %s failed: %v.", domain, err),
			Fix: "Check the domain's DNS, then run godwit doctor again."}
	}
	if len(mxs) == 0 {
		return Check{Check: CheckMXTLS, Status: Warn, Message: fmt.Sprintf("%s publishes no MX record: replies and bounces to it cannot be received.", domain),
			Fix: "Publish an MX record for the domain's mailboxes (if it has any)."}
	}
	var without []string
	for _, mx := range mxs {
		host := strings.TrimSuffix(mx.Host, ".")
		ok, err := hostOffersSTARTTLS(ctx, r, host, port, helo, timeout)
		switch {
		case err != nil:
			without = append(without, host+" (no answer)")
		case !ok:
			without = append(without, host)
		}
	}
	if len(without) > 0 {
		return Check{Check: CheckMXTLS, Status: Warn,
			Message: fmt.Sprintf("MX hosts of %s without STARTTLS: %s.", domain, strings.Join(without, ", ")),
			Fix:     "Enable STARTTLS (with a certificate for the host name) on every MX host of the domain."}
	}
	return Check{Check: CheckMXTLS, Status: Pass, Message: fmt.Sprintf("Every MX host of %s offers STARTTLS.", domain)}
}

// hostOffersSTARTTLS asks the host's first address that answers.
func hostOffersSTARTTLS(ctx context.Context, r *dnscheck.Resolver, host string, port int, helo string, timeout time.Duration) (bool, error) {
	ips, err := r.LookupIP(ctx, host)
	if err != nil {
		return false, err
	}
	if len(ips) == 0 {
		return false, fmt.Errorf("%s has no address", host)
	}
	var last error
	for _, ip := range ips {
		ok, err := offersSTARTTLS(ctx, net.JoinHostPort(ip.String(), strconv.Itoa(port)), helo, timeout)
		if err == nil {
			return ok, nil
		}
		last = err
	}
	return false, last
}

func offersSTARTTLS(ctx context.Context, addr, helo string, timeout time.Duration) (bool, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	conn, err := (&net.Dialer{}).DialContext(ctx, "tcp", addr)
	if err != nil {
		return false, err
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	c := smtp.NewClient(conn)
	defer c.Close()
	if err := c.Hello(helo); err != nil {
		return false, err
	}
	ok, _ := c.Extension("STARTTLS")
	_ = c.Quit()
	return ok, nil
}
