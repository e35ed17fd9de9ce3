package doctor

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/textproto"
	"net/url"
	"strconv"
	"syscall"
	"time"
)

// relayFix is the way out when this server cannot reach receivers itself.
const relayFix = "or send through a relay (smarthost) that can: --delivery relay --relay-url smtp://user:pass@smtp.example.net:587"

// Probe says where OutboundSMTP connects: Addr ("host:port") when set,
// else the first MX host of Domain on Port.
type Probe struct {
	Domain  string
	Addr    string
	Port    int
	Timeout time.Duration
}

// OutboundSMTP checks that this machine can open an SMTP connection to
// another domain's MX and is greeted: most clouds block outbound port 25
// by default, and then no email leaves.
func OutboundSMTP(ctx context.Context, r Resolver, p Probe) Result {
	const check = "outbound-25"
	addr := p.Addr
	if addr == "" {
		mxs, err := r.LookupMX(ctx, p.Domain)
		if err != nil || len(mxs) == 0 || mxs[0].Host == "." {
			why := "it has none"
			if err != nil {
				why = err.Error()
			}
			return fail(check, "check that --dns-resolver (default: the system's) answers, or give --probe-domain/--probe-addr",
				"cannot find the MX of the probe domain %s: %s (delivery needs exactly this lookup)", p.Domain, why)
		}
		host := mxs[0].Host
		ips, err := r.LookupIP(ctx, host)
		if err != nil || len(ips) == 0 {
			why := "it has no address"
			if err != nil {
				why = err.Error()
			}
			return fail(check, "check that --dns-resolver (default: the system's) answers, or give --probe-addr",
				"cannot find the address of %s, the MX of %s: %s", host, p.Domain, why)
		}
		addr = net.JoinHostPort(preferV4(ips).String(), strconv.Itoa(p.Port))
		name := fmt.Sprintf("%s (%s, MX of %s)", addr, host, p.Domain)
		return greet(ctx, check, addr, name, p.Timeout, nil, blockedFix(p.Port))
	}
	return greet(ctx, check, addr, addr, p.Timeout, nil, blockedFix(portNumber(addr, p.Port)))
}

func blockedFix(port int) string {
	return fmt.Sprintf("most cloud providers block outbound port %d by default: ask yours to open it for this server\n%s", port, relayFix)
}

func preferV4(ips []netip.Addr) netip.Addr {
	for _, ip := range ips {
		if ip.Is4() {
			return ip
		}
	}
	return ips[0]
}

// Relay checks that the smarthost of --delivery relay answers with an SMTP
// greeting (over TLS for smtps://). It does not log in.
func Relay(ctx context.Context, relayURL string, timeout time.Duration) Result {
	const check = "relay"
	u, err := url.Parse(relayURL)
	if err != nil || u.Hostname() == "" {
		return fail(check, "give --relay-url smtp://user:pass@host:587 or smtps://user:pass@host:465", "--relay-url does not parse")
	}
	port := u.Port()
	var tlsCfg *tls.Config
	switch u.Scheme {
	case "smtps":
		if port == "" {
			port = "465"
		}
		tlsCfg = &tls.Config{ServerName: u.Hostname(), MinVersion: tls.VersionTLS12}
	default:
		if port == "" {
			port = "587"
		}
	}
	addr := net.JoinHostPort(u.Hostname(), port)
	fix := fmt.Sprintf("check the host and port of --relay-url, and that this server's firewall lets it reach %s", addr)
	return greet(ctx, check, addr, u.Scheme+"://"+addr, timeout, tlsCfg, fix)
}

// greet connects to addr (shown as name), reads the SMTP greeting within
// timeout, and says QUIT.
func greet(ctx context.Context, check, addr, name string, timeout time.Duration, tlsCfg *tls.Config, fix string) Result {
	start := time.Now()
	d := net.Dialer{Timeout: timeout}
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return fail(check, fix, "no connection to %s: %s", name, dialError(err, timeout))
	}
	defer conn.Close()
	_ = conn.SetDeadline(start.Add(timeout))
	if tlsCfg != nil {
		tc := tls.Client(conn, tlsCfg)
		if err := tc.HandshakeContext(ctx); err != nil {
			return fail(check, fix, "connected to %s, but the TLS handshake failed: %v", name, err)
		}
		conn = tc
	}
	tp := textproto.NewReader(bufio.NewReader(conn))
	code, msg, err := tp.ReadResponse(0)
	var nerr net.Error
	switch {
	case errors.As(err, &nerr) && nerr.Timeout():
		return fail(check, fix, "connected to %s, but no SMTP greeting within %s (something between holds port %s open without answering)",
			name, timeout, portOf(addr))
	case code == 0 && err != nil:
		return fail(check, fix, "connected to %s, but no SMTP greeting: %v", name, err)
	}
	_, _ = conn.Write([]byte("QUIT\r\n"))
	greeting := fmt.Sprintf("%d %s", code, msg)
	if code != 220 {
		return warn(check, "the receiver refuses this server: check the listed address against blocklists (e.g. https://mxtoolbox.com/blacklists.aspx)",
			"%s answered %q instead of 220", name, greeting)
	}
	return pass(check, "%s greeted in %s: %q", name, time.Since(start).Round(time.Millisecond), greeting)
}

// portNumber is the port of addr, or def.
func portNumber(addr string, def int) int {
	if n, err := strconv.Atoi(portOf(addr)); err == nil {
		return n
	}
	return def
}

func portOf(addr string) string {
	_, p, _ := net.SplitHostPort(addr)
	return p
}

// dialError says shortly why a connection failed.
func dialError(err error, timeout time.Duration) string {
	var nerr net.Error
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.As(err, &nerr) && nerr.Timeout(), errors.Is(err, context.DeadlineExceeded):
		return fmt.Sprintf("timed out after %s (the port looks blocked)", timeout)
	case errors.Is(err, syscall.ENETUNREACH), errors.Is(err, syscall.EHOSTUNREACH):
		return "network unreachable"
	}
	return err.Error()
}
