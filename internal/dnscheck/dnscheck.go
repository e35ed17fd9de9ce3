// Package dnscheck looks records up through a configured resolver and decides
// whether what is published matches what is expected, tolerantly.
//
// Lookups go straight to one DNS server (Resolver.Addr, or the first
// nameserver of /etc/resolv.conf) using github.com/miekg/dns: UDP with EDNS0,
// retried over TCP when the reply is truncated. NXDOMAIN and empty answers are
// "nothing published" (nil, nil); every other failure (SERVFAIL, REFUSED,
// timeouts, network errors, CNAME loops) is an error, so that a transient
// failure is never mistaken for a missing record.
package dnscheck

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/miekg/dns"
)

const (
	// DefaultTimeout is the per-query timeout used when Resolver.Timeout is 0.
	DefaultTimeout = 5 * time.Second

	// maxCNAMEHops bounds how many CNAMEs are followed from the queried name.
	maxCNAMEHops = 8

	// ednsUDPSize is the UDP payload size advertised with EDNS0 (the DNS flag
	// day 2020 recommendation). Larger answers come back truncated and are
	// retried over TCP.
	ednsUDPSize = 1232

	resolvConf = "/etc/resolv.conf"
)

// Resolver looks records up by asking one DNS server directly. The zero value
// asks the first nameserver of /etc/resolv.conf with a 5 s timeout and keeps
// nothing; with a Cache it keeps the answers for their TTL. A Resolver is
// safe for concurrent use.
type Resolver struct {
	Addr    string        // "host:port" of the DNS server to ask; "" means the first nameserver of /etc/resolv.conf (port 53)
	Timeout time.Duration // per query; 0 means 5 s
	// Cache, when set, answers repeated lookups for as long as their TTL
	// allows (see Cache); nil asks the server every time, as the domain
	// verifier must.
	Cache *Cache
}

// MX is one mail exchanger record.
type MX struct {
	Host       string // as published, without the trailing dot ("." stays "." for a null MX)
	Preference uint16
}

// LookupTXT returns the TXT records at name (a FQDN with or without the
// trailing dot). Each record's character-strings are joined without
// separator, as SPF and DKIM prescribe, and returned as raw bytes (no
// presentation-format escaping). NXDOMAIN or an empty answer is (nil, nil).
// SERVFAIL and other error rcodes, timeouts and network errors are errors.
// A CNAME at name is followed (up to 8 hops).
func (r *Resolver) LookupTXT(ctx context.Context, name string) ([]string, error) {
	values, _, err := r.lookupTXT(ctx, name)
	return values, err
}

// lookupTXT is LookupTXT, also saying whether the answer was NXDOMAIN.
func (r *Resolver) lookupTXT(ctx context.Context, name string) ([]string, bool, error) {
	rrs, nx, err := r.lookup(ctx, name, dns.TypeTXT)
	if err != nil {
		return nil, false, err
	}
	var out []string
	for _, rr := range rrs {
		txt, ok := rr.(*dns.TXT)
		if !ok {
			continue
		}
		var b strings.Builder
		for _, s := range txt.Txt {
			b.WriteString(unescapeTXT(s))
		}
		out = append(out, b.String())
	}
	return out, nx, nil
}

// LookupMX returns the MX records at name, sorted by preference (stable
// otherwise). Same conventions as LookupTXT.
func (r *Resolver) LookupMX(ctx context.Context, name string) ([]MX, error) {
	mxs, _, err := r.lookupMX(ctx, name)
	return mxs, err
}

// lookupMX is LookupMX, also saying whether the answer was NXDOMAIN.
func (r *Resolver) lookupMX(ctx context.Context, name string) ([]MX, bool, error) {
	rrs, nx, err := r.lookup(ctx, name, dns.TypeMX)
	if err != nil {
		return nil, false, err
	}
	var out []MX
	for _, rr := range rrs {
		mx, ok := rr.(*dns.MX)
		if !ok {
			continue
		}
		host := mx.Mx
		if host != "." {
			host = strings.TrimSuffix(host, ".")
		}
		out = append(out, MX{Host: host, Preference: mx.Preference})
	}
	slices.SortStableFunc(out, func(a, b MX) int { return cmp.Compare(a.Preference, b.Preference) })
	return out, nx, nil
}

// LookupIP returns the addresses of name: its A records, then its AAAA
// records. Same conventions as LookupTXT.
func (r *Resolver) LookupIP(ctx context.Context, name string) ([]netip.Addr, error) {
	var out []netip.Addr
	for _, qtype := range []uint16{dns.TypeA, dns.TypeAAAA} {
		rrs, _, err := r.lookup(ctx, name, qtype)
		if err != nil {
			return nil, err
		}
		for _, rr := range rrs {
			var ip net.IP
			switch rr := rr.(type) {
			case *dns.A:
				ip = rr.A
			case *dns.AAAA:
				ip = rr.AAAA
			}
			if a, ok := netip.AddrFromSlice(ip); ok {
				out = append(out, a.Unmap())
			}
		}
	}
	return out, nil
}

// LookupPTR returns the names the PTR records of addr (reverse DNS, at its
// in-addr.arpa or ip6.arpa name) point to, without the trailing dot. Same
// conventions as LookupTXT.
func (r *Resolver) LookupPTR(ctx context.Context, addr netip.Addr) ([]string, error) {
	rev, err := dns.ReverseAddr(addr.Unmap().String())
	if err != nil {
		return nil, fmt.Errorf("dnscheck: PTR lookup of %s: %w", addr, err)
	}
	rrs, _, err := r.lookup(ctx, rev, dns.TypePTR)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, rr := range rrs {
		if p, ok := rr.(*dns.PTR); ok {
			out = append(out, strings.TrimSuffix(p.Ptr, "."))
		}
	}
	return out, nil
}

// lookup returns the records of type qtype at name, following CNAMEs both
// inside one answer (as recursive resolvers return them) and by re-querying
// the target when the answer stops at a CNAME. nx reports an NXDOMAIN
// answer (rrs is then nil).
func (r *Resolver) lookup(ctx context.Context, name string, qtype uint16) (rrs []dns.RR, nx bool, err error) {
	typ := dns.TypeToString[qtype]
	name = strings.TrimSpace(name)
	if name == "" {
		return nil, false, fmt.Errorf("dnscheck: %s lookup: empty name", typ)
	}
	fqdn := dns.Fqdn(name)
	if _, ok := dns.IsDomainName(fqdn); !ok {
		return nil, false, fmt.Errorf("dnscheck: %s lookup: invalid name %q", typ, name)
	}
	if r.Cache == nil {
		rrs, nx, _, err = r.ask(ctx, fqdn, qtype)
		return rrs, nx, err
	}
	key := newCacheKey(fqdn, qtype)
	if rrs, nx, ok := r.Cache.get(key); ok {
		return rrs, nx, nil
	}
	rrs, nx, ttl, err := r.ask(ctx, fqdn, qtype)
	if err != nil {
		return nil, false, err
	}
	r.Cache.put(key, rrs, nx, ttl)
	return rrs, nx, nil
}

// ask is lookup without the cache, also returning how long the answer may
// be kept (Cache's rules; 0 without a Cache).
func (r *Resolver) ask(ctx context.Context, fqdn string, qtype uint16) (rrs []dns.RR, nx bool, ttl time.Duration, err error) {
	typ := dns.TypeToString[qtype]
	server, err := r.server()
	if err != nil {
		return nil, false, 0, fmt.Errorf("dnscheck: %s lookup of %s: %w", typ, fqdn, err)
	}

	// minTTL is the smallest TTL of the records the answer is made of (the
	// CNAMEs followed and the records found).
	target, hops, minTTL := fqdn, 0, ^uint32(0)
	negative := func(resp *dns.Msg) time.Duration {
		if r.Cache == nil {
			return 0
		}
		return min(r.Cache.negativeTTL(resp), time.Duration(minTTL)*time.Second)
	}
	for {
		resp, err := r.query(ctx, server, target, qtype)
		if err != nil {
			return nil, false, 0, fmt.Errorf("dnscheck: %s lookup of %s via %s: %w", typ, target, server, err)
		}
		switch resp.Rcode {
		case dns.RcodeSuccess:
		case dns.RcodeNameError:
			// NXDOMAIN (possibly at the end of a CNAME chain): nothing there.
			return nil, true, negative(resp), nil
		default:
			return nil, false, 0, fmt.Errorf("dnscheck: %s lookup of %s via %s: %w",
				typ, target, server, &RcodeError{Rcode: resp.Rcode})
		}

		// Walk the CNAME chain inside this answer.
		followed := false
		for {
			var found []dns.RR
			var cname *dns.CNAME
			for _, rr := range resp.Answer {
				h := rr.Header()
				if h.Class != dns.ClassINET || !strings.EqualFold(h.Name, target) {
					continue
				}
				switch {
				case h.Rrtype == qtype:
					found = append(found, rr)
				case h.Rrtype == dns.TypeCNAME && cname == nil:
					cname = rr.(*dns.CNAME)
				}
			}
			if len(found) > 0 {
				for _, rr := range found {
					minTTL = min(minTTL, rr.Header().Ttl)
				}
				if r.Cache != nil {
					ttl = r.Cache.positiveTTL(minTTL)
				}
				return found, false, ttl, nil
			}
			if cname == nil {
				break
			}
			minTTL = min(minTTL, cname.Hdr.Ttl)
			hops++
			if hops > maxCNAMEHops {
				return nil, false, 0, fmt.Errorf("dnscheck: %s lookup of %s: more than %d CNAMEs (loop?)", typ, fqdn, maxCNAMEHops)
			}
			target = dns.Fqdn(cname.Target)
			followed = true
		}
		if !followed {
			// NOERROR without records of that type: the name exists, nothing
			// of this type is published (NODATA).
			return nil, false, negative(resp), nil
		}
		// The answer ended at a CNAME target it did not resolve: ask for the
		// target itself.
	}
}

// query asks server for (name, qtype): UDP with EDNS0, TCP when truncated,
// and once more without EDNS0 if the server answers FORMERR to EDNS.
func (r *Resolver) query(ctx context.Context, server, name string, qtype uint16) (*dns.Msg, error) {
	m := new(dns.Msg)
	m.SetQuestion(name, qtype)
	m.RecursionDesired = true
	m.SetEdns0(ednsUDPSize, false)
	resp, err := r.roundTrip(ctx, server, m)
	if err != nil {
		return nil, err
	}
	if resp.Rcode == dns.RcodeFormatError && resp.IsEdns0() == nil {
		plain := new(dns.Msg)
		plain.SetQuestion(name, qtype)
		plain.RecursionDesired = true
		if resp, err = r.roundTrip(ctx, server, plain); err != nil {
			return nil, err
		}
	}
	return resp, nil
}

// roundTrip sends m over UDP and repeats it over TCP if the reply is
// truncated.
func (r *Resolver) roundTrip(ctx context.Context, server string, m *dns.Msg) (*dns.Msg, error) {
	resp, err := r.exchange(ctx, "udp", server, m)
	if err != nil {
		return nil, err
	}
	if resp.Truncated {
		if resp, err = r.exchange(ctx, "tcp", server, m); err != nil {
			return nil, fmt.Errorf("TCP retry after truncated UDP reply: %w", err)
		}
	}
	return resp, nil
}

// exchange performs one query over network, bounded by the per-query timeout
// and by ctx (a cancelled ctx aborts a pending read at once).
func (r *Resolver) exchange(parent context.Context, network, server string, m *dns.Msg) (*dns.Msg, error) {
	if err := parent.Err(); err != nil {
		return nil, err
	}
	timeout := r.timeout()
	ctx, cancel := context.WithTimeout(parent, timeout)
	defer cancel()

	c := &dns.Client{Net: network, Timeout: timeout, UDPSize: ednsUDPSize}
	co, err := c.DialContext(ctx, server)
	if err != nil {
		return nil, ctxErr(parent, ctx, timeout, err)
	}
	defer co.Close()
	stop := context.AfterFunc(ctx, func() { _ = co.Close() })
	defer stop()

	resp, _, err := c.ExchangeWithConnContext(ctx, m, co)
	if err != nil {
		return nil, ctxErr(parent, ctx, timeout, err)
	}
	if len(resp.Question) > 0 && len(m.Question) > 0 &&
		(!strings.EqualFold(resp.Question[0].Name, m.Question[0].Name) || resp.Question[0].Qtype != m.Question[0].Qtype) {
		return nil, fmt.Errorf("reply is for %s %s, not the question asked",
			resp.Question[0].Name, dns.TypeToString[resp.Question[0].Qtype])
	}
	return resp, nil
}

// ctxErr prefers the context's reason over the raw network error it caused.
func ctxErr(parent, ctx context.Context, timeout time.Duration, err error) error {
	if perr := parent.Err(); perr != nil {
		return perr
	}
	var nerr net.Error
	if ctx.Err() != nil || (errors.As(err, &nerr) && nerr.Timeout()) {
		return fmt.Errorf("no reply within %v: %w", timeout, context.DeadlineExceeded)
	}
	return err
}

func (r *Resolver) timeout() time.Duration {
	if r.Timeout > 0 {
		return r.Timeout
	}
	return DefaultTimeout
}

// server returns the "host:port" to query.
func (r *Resolver) server() (string, error) {
	addr := strings.TrimSpace(r.Addr)
	if addr == "" {
		return defaultServer(resolvConf)
	}
	if _, _, err := net.SplitHostPort(addr); err != nil {
		// A bare host or IP: assume port 53.
		return net.JoinHostPort(strings.Trim(addr, "[]"), "53"), nil
	}
	return addr, nil
}

// defaultServer returns the first nameserver of the resolv.conf at path, on
// port 53.
func defaultServer(path string) (string, error) {
	cfg, err := dns.ClientConfigFromFile(path)
	if err != nil {
		return "", fmt.Errorf("reading %s: %w", path, err)
	}
	if len(cfg.Servers) == 0 {
		return "", errors.New("no nameserver in " + path)
	}
	return net.JoinHostPort(cfg.Servers[0], "53"), nil
}

// RcodeError is a DNS server's answer other than NOERROR and NXDOMAIN
// (SERVFAIL, REFUSED, …): the lookup failed, it says nothing of the records.
type RcodeError struct {
	Rcode int
}

func (e *RcodeError) Error() string { return "server answered " + rcodeString(e.Rcode) }

func rcodeString(rcode int) string {
	if s, ok := dns.RcodeToString[rcode]; ok {
		return s
	}
	return "rcode " + strconv.Itoa(rcode)
}

// unescapeTXT turns a character-string as miekg/dns presents it (\" \\ and
// \DDD escapes) back into its raw bytes.
func unescapeTXT(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' || i+1 == len(s) {
			b = append(b, c)
			continue
		}
		if i+3 < len(s) && isDigit(s[i+1]) && isDigit(s[i+2]) && isDigit(s[i+3]) {
			n := int(s[i+1]-'0')*100 + int(s[i+2]-'0')*10 + int(s[i+3]-'0')
			if n <= 255 {
				b = append(b, byte(n))
				i += 3
				continue
			}
		}
		b = append(b, s[i+1])
		i++
	}
	return string(b)
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }
