package mailauth

import (
	"context"
	"errors"
	"net"
	"net/netip"

	"github.com/miekg/dns"

	"github.com/godwit/godwit/internal/dnscheck"
)

// resolver adapts dnscheck.Resolver to what the SPF, DKIM and DMARC
// libraries expect of net.Resolver: an empty answer (NXDOMAIN or NODATA) is
// a *net.DNSError with IsNotFound, any failure a *net.DNSError with
// IsTemporary (the libraries test the concrete type, unwrapped). It
// implements spf.DNSResolver; lookupTXT serves dkim and dmarc, whose lookup
// functions take no context (they use ctx).
type resolver struct {
	r   dnscheck.Resolver
	ctx context.Context
}

func notFound(name string) error {
	return &net.DNSError{Err: "no such host", Name: name, IsNotFound: true}
}

// temporary describes a failed lookup in a few words, without the
// resolver's address (reasons are stored and shown to the team).
func temporary(name string, err error) error {
	msg := "lookup failed"
	var rc *dnscheck.RcodeError
	switch {
	case errors.As(err, &rc):
		msg = rc.Error()
	case errors.Is(err, context.DeadlineExceeded):
		msg = "no answer in time"
	case errors.Is(err, context.Canceled):
		msg = "cancelled"
	}
	return &net.DNSError{
		Err:         msg,
		Name:        name,
		IsTemporary: true,
		IsTimeout:   errors.Is(err, context.DeadlineExceeded),
	}
}

// validName reports whether name can be asked at all; one that cannot
// (a macro expanded to garbage, a d= with spaces) is "not found".
func validName(name string) bool {
	if name == "" || len(name) > 253 {
		return false
	}
	_, ok := dns.IsDomainName(dns.Fqdn(name))
	return ok
}

func (r *resolver) LookupTXT(ctx context.Context, name string) ([]string, error) {
	if !validName(name) {
		return nil, notFound(name)
	}
	txts, err := r.r.LookupTXT(ctx, name)
	if err != nil {
		return nil, temporary(name, err)
	}
	if len(txts) == 0 {
		return nil, notFound(name)
	}
	return txts, nil
}

// lookupTXT is LookupTXT with the Check's context, for dkim and dmarc.
func (r *resolver) lookupTXT(name string) ([]string, error) {
	return r.LookupTXT(r.ctx, name)
}

// LookupMX leaves out null MX records ("."): they name no host.
func (r *resolver) LookupMX(ctx context.Context, name string) ([]*net.MX, error) {
	if !validName(name) {
		return nil, notFound(name)
	}
	mxs, err := r.r.LookupMX(ctx, name)
	if err != nil {
		return nil, temporary(name, err)
	}
	var out []*net.MX
	for _, mx := range mxs {
		if mx.Host == "." || mx.Host == "" {
			continue
		}
		out = append(out, &net.MX{Host: mx.Host, Pref: mx.Preference})
	}
	if len(out) == 0 {
		return nil, notFound(name)
	}
	return out, nil
}

func (r *resolver) LookupIPAddr(ctx context.Context, host string) ([]net.IPAddr, error) {
	if !validName(host) {
		return nil, notFound(host)
	}
	addrs, err := r.r.LookupIP(ctx, host)
	if err != nil {
		return nil, temporary(host, err)
	}
	if len(addrs) == 0 {
		return nil, notFound(host)
	}
	out := make([]net.IPAddr, len(addrs))
	for i, a := range addrs {
		out[i] = net.IPAddr{IP: net.IP(a.AsSlice())}
	}
	return out, nil
}

func (r *resolver) LookupAddr(ctx context.Context, addr string) ([]string, error) {
	ip, err := netip.ParseAddr(addr)
	if err != nil {
		return nil, notFound(addr)
	}
	names, err := r.r.LookupPTR(ctx, ip)
	if err != nil {
		return nil, temporary(addr, err)
	}
	if len(names) == 0 {
		return nil, notFound(addr)
	}
	return names, nil
}
