// Package netguard keeps the server's outbound connections (attachments
// fetched by `path`, webhooks, and MX delivery, whose dialer uses Control)
// away from loopback, private, link-local and other non-public addresses.
//
// The check runs at connect time on the resolved IP address, as a
// net.Dialer.Control function: a host name that resolves to a public address
// when it is validated and to 127.0.0.1 when it is dialed (DNS rebinding) is
// still refused, and so is every redirect target, because redirects dial
// through the same dialer. Nothing is checked on host names or URLs.
//
// Invariants:
//
//   - A connection from a Policy with AllowPrivate false reaches only an
//     address for which Public reports true. Anything Public cannot classify
//     (an unparsable dial address, an invalid IP) is refused.
//   - HTTPClient never uses a proxy (a proxy would dial on our behalf and
//     bypass the check), follows at most MaxRedirects redirects and only to
//     http or https URLs.
//
// AllowPrivate (the --allow-private-networks flag) turns the address check
// off, for operators whose attachments or webhooks live on their own network.
package netguard

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"syscall"
	"time"
)

// DefaultTimeout is used by Dialer and HTTPClient when the timeout given is
// not positive.
const DefaultTimeout = 30 * time.Second

// MaxRedirects is how many redirects HTTPClient follows for one request.
const MaxRedirects = 5

// Errors HTTPClient returns (wrapped in a *url.Error) from a redirect it
// refuses to follow.
var (
	ErrTooManyRedirects = fmt.Errorf("netguard: stopped after %d redirects", MaxRedirects)
	ErrRedirectScheme   = errors.New("netguard: refusing to follow a redirect to a non-http(s) URL")
)

// RefusedError is the error of a connection refused because its address is
// not public. Dial errors wrap it: use errors.As.
type RefusedError struct {
	Addr netip.Addr
}

func (e *RefusedError) Error() string {
	return "netguard: refusing to connect to non-public address " + e.Addr.String()
}

// Policy says which addresses outbound connections may reach. The zero
// Policy allows public addresses only.
type Policy struct {
	// AllowPrivate disables the check: every address may be dialed.
	AllowPrivate bool
}

// Control is a net.Dialer.Control function: it refuses (with a
// *RefusedError) a connection to an address that is not Public, unless
// p.AllowPrivate is set. address is the resolved "ip:port" being dialed.
func (p Policy) Control(network, address string, _ syscall.RawConn) error {
	if p.AllowPrivate {
		return nil
	}
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		// The dialer hands us a literal IP and port; anything else is
		// unexpected, so fail closed.
		return fmt.Errorf("netguard: refusing to connect to unparsable address %q (%s)", address, network)
	}
	if !Public(ap.Addr()) {
		return &RefusedError{Addr: ap.Addr().WithZone("")}
	}
	return nil
}

// Dialer returns a dialer that applies p at connect time. A timeout of 0 or
// less means DefaultTimeout.
func (p Policy) Dialer(timeout time.Duration) *net.Dialer {
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	return &net.Dialer{
		Timeout:   timeout,
		KeepAlive: 30 * time.Second,
		Control:   p.Control,
	}
}

// HTTPClient returns an HTTP client that dials through p.Dialer(timeout) and
// never through a proxy. timeout (0 or less means DefaultTimeout) bounds the
// whole request, body included, as well as each of its phases: connect, TLS
// handshake (at most 10 s), waiting for the response headers.
//
// Redirects are followed up to MaxRedirects times, only to http and https
// URLs (ErrTooManyRedirects, ErrRedirectScheme otherwise); each target is
// dialed through the same dialer, so it is checked like the first.
func (p Policy) HTTPClient(timeout time.Duration) *http.Client {
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	tr := &http.Transport{
		Proxy:                  nil,
		DialContext:            p.Dialer(timeout).DialContext,
		ForceAttemptHTTP2:      true,
		TLSHandshakeTimeout:    min(timeout, 10*time.Second),
		ResponseHeaderTimeout:  timeout,
		ExpectContinueTimeout:  time.Second,
		IdleConnTimeout:        90 * time.Second,
		MaxIdleConns:           64,
		MaxIdleConnsPerHost:    4,
		MaxResponseHeaderBytes: 64 << 10,
	}
	return &http.Client{
		Transport:     tr,
		Timeout:       timeout,
		CheckRedirect: checkRedirect,
	}
}

func checkRedirect(req *http.Request, via []*http.Request) error {
	if len(via) > MaxRedirects {
		return ErrTooManyRedirects
	}
	if s := req.URL.Scheme; s != "http" && s != "https" {
		return ErrRedirectScheme
	}
	return nil
}

// v4Refused are the IPv4 ranges Public refuses: IANA's special-purpose
// registry entries that are not globally reachable, plus multicast and the
// deprecated 6to4 relay anycast prefix.
var v4Refused = prefixes(
	"0.0.0.0/8",          // "this network", includes the unspecified address
	"10.0.0.0/8",         // private
	"100.64.0.0/10",      // carrier-grade NAT
	"127.0.0.0/8",        // loopback
	"169.254.0.0/16",     // link-local, includes cloud metadata 169.254.169.254
	"172.16.0.0/12",      // private
	"192.0.0.0/24",       // IETF protocol assignments
	"192.0.2.0/24",       // documentation (TEST-NET-1)
	"192.88.99.0/24",     // 6to4 relay anycast (deprecated)
	"192.168.0.0/16",     // private
	"198.18.0.0/15",      // benchmarking
	"198.51.100.0/24",    // documentation (TEST-NET-2)
	"203.0.113.0/24",     // documentation (TEST-NET-3)
	"224.0.0.0/4",        // multicast
	"240.0.0.0/4",        // reserved, includes 255.255.255.255 broadcast
	"255.255.255.255/32", // limited broadcast (inside 240/4; listed for the reader)
)

// v6Global is the only IPv6 space Public accepts (global unicast, RFC 4291);
// this refuses ::/128, ::1, fc00::/7, fe80::/10, fec0::/10, ff00::/8 and
// the other unassigned or special blocks outside it.
var v6Global = netip.MustParsePrefix("2000::/3")

// v6Refused are the ranges inside 2000::/3 that Public refuses.
var v6Refused = prefixes(
	// IETF protocol assignments: Teredo 2001::/32 (embeds an obfuscated
	// IPv4 address), benchmarking 2001:2::/48, ORCHID, AMT, AS112. None is
	// an ordinary web host.
	"2001::/23",
	"2001:db8::/32", // documentation
	// 6to4 (deprecated by RFC 7526) is refused whole rather than by the IPv4
	// address it embeds: no legitimate host needs it, and a 6to4 relay
	// decides where the packets really go.
	"2002::/16",
	"3fff::/20", // documentation (RFC 9637)
)

// nat64 is the well-known NAT64 prefix (RFC 6052): its last 32 bits are an
// IPv4 address, which decides. The local-use NAT64 prefix 64:ff9b:1::/48 is
// outside 2000::/3, so refused.
var nat64 = netip.MustParsePrefix("64:ff9b::/96")

func prefixes(ss ...string) []netip.Prefix {
	out := make([]netip.Prefix, len(ss))
	for i, s := range ss {
		out[i] = netip.MustParsePrefix(s)
	}
	return out
}

// Public reports whether ip is a globally reachable unicast address, one an
// outbound fetch or webhook may connect to. It is false for the invalid
// Addr, unspecified, loopback, private (RFC 1918, fc00::/7), link-local,
// multicast, carrier-grade NAT, benchmarking, reserved, broadcast and
// documentation addresses, and for IPv6 addresses embedding an IPv4 address
// that is not public (IPv4-mapped, NAT64 64:ff9b::/96). All of 6to4
// 2002::/16 and Teredo 2001::/32 is refused. A zone is ignored.
func Public(ip netip.Addr) bool {
	ip = ip.WithZone("").Unmap()
	switch {
	case !ip.IsValid():
		return false
	case ip.Is4():
		return !inAny(v4Refused, ip)
	case nat64.Contains(ip):
		b := ip.As16()
		return Public(netip.AddrFrom4([4]byte(b[12:])))
	case !v6Global.Contains(ip):
		return false
	default:
		return !inAny(v6Refused, ip)
	}
}

func inAny(ps []netip.Prefix, ip netip.Addr) bool {
	for _, p := range ps {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}
