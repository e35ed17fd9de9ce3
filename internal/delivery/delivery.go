// Package delivery hands a message to the recipient domain's mail servers (or
// to a relay) over SMTP.
//
// MXTransport resolves the recipient domain's MX records (falling back to the
// domain's own A/AAAA records when there are none, RFC 5321 §5.1; a null MX
// "." means the domain accepts no mail, RFC 7505), tries the hosts in
// preference order and speaks SMTP to them with github.com/emersion/go-smtp.
// RelayTransport sends everything through one authenticated relay.
//
// Every outcome is reported per recipient: Delivered, Deferred (4xx replies,
// timeouts, connection failures: retry later) or Bounced (5xx: permanent).
//
// MX delivery obeys the address guard (internal/netguard): MXTransport.Guard
// is checked at connect time on the address actually dialed, so an MX host
// (or, without MX, the domain itself) that resolves to a loopback, private,
// link-local or other non-public address is never connected to, whatever
// DNS answered when the host was looked up. A host refused this way is
// skipped like an unreachable one; when every host was refused, the
// recipients bounce with 550 5.4.4 (unable to route), and are not added to
// the suppression list: the address is fine, the server's policy is not.
// The relay (RelayTransport) is the operator's own choice and is not guarded.
//
// Result.Message is shown to tenants (the attempts log, events and
// webhooks): it holds the receiving server's own reply when there is one,
// and otherwise a generic sentence that never names an IP address, the DNS
// server asked, or a local address. The underlying error goes to the
// transport's Logger, with the email's id.
package delivery

import (
	"bytes"
	"cmp"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/emersion/go-smtp"
	"github.com/miekg/dns"

	"github.com/godwit/godwit/internal/destination"
	"github.com/godwit/godwit/internal/dnscheck"
	"github.com/godwit/godwit/internal/netguard"
)

// DefaultTimeout is the per connection/command phase timeout used when a
// transport's Timeout is 0.
const DefaultTimeout = 60 * time.Second

// dnsTimeout bounds each A/AAAA query.
const dnsTimeout = 5 * time.Second

// Message is one message to hand over.
type Message struct {
	From       string   // envelope sender (return path), e.g. "bounces+token@send.example.com"
	Recipients []string // envelope recipients, all in one domain for MX delivery
	Data       []byte   // the signed RFC 5322 message, CRLF line endings
	RequireTLS bool     // the sending domain's tls is "enforced": never deliver without STARTTLS
	EmailID    string   // the email's id, for the server log only
	// TeamID and DomainID (the sending domain's id) choose the sending IP
	// pool (see sourceip.go).
	TeamID, DomainID string
}

// Outcome is what became of one recipient.
type Outcome string

const (
	Delivered Outcome = "delivered" // the server accepted the message for the recipient
	Deferred  Outcome = "deferred"  // temporary failure: retry later
	Bounced   Outcome = "bounced"   // permanent failure: do not retry
)

// Result is the outcome per recipient.
type Result struct {
	Recipient string
	Host      string  // the MX host that answered (or relay)
	Code      int     // SMTP reply code (250, 450, 550, …); 0 when no reply (connection failure)
	Enhanced  string  // enhanced status code "5.1.1" when given
	Message   string  // the server's reply text, for the attempts log
	Outcome   Outcome // Delivered, Deferred or Bounced
	// TLSVersion and TLSCipher are what the connection negotiated ("" for
	// plaintext or no connection); TLSPolicy is the transport security
	// policy applied, with why it was not met (see security.go).
	TLSVersion string
	TLSCipher  string
	TLSPolicy  string
	// SourceIP is the local address the connection was bound to ("" when
	// none: see sourceip.go), for the server log.
	SourceIP string

	simulated bool   // a test-domain recipient: nothing was sent
	expired   bool   // deferred past the maximum queue age
	refused   bool   // every host was refused by the address guard: bounced, not suppressed
	reason    string // a Failed result's reason code for email.failed ("": Message)
	// retryAfter, when not 0, is when to try again: the destination is
	// paused for that long (adaptive throttling).
	retryAfter time.Duration
	// held: deferred by Godwit itself, not by the receiver (the warm-up
	// cap, or a sending domain paused by the reputation guard): it never
	// expires into a bounce.
	held bool
}

// Locally generated permanent failures (no server was asked).
const (
	nullMXCode     = 556 // RFC 7505 §4.2
	nullMXEnhanced = "5.1.10"
	noHostCode     = 550
	noHostEnhanced = "5.1.2" // bad destination system address (RFC 3463)
	// Every MX host (or the domain's own address) is non-public: 5.4.4,
	// "unable to route" (RFC 3463), as Godwit will not route there.
	refusedCode     = 550
	refusedEnhanced = "5.4.4"
)

// Tenant-visible messages that replace errors whose text would reveal the
// DNS server's address or the addresses a name resolved to.
const (
	msgMXLookupFailed   = "MX lookup failed: temporary DNS error"
	msgAddrLookupFailed = "address lookup for %s failed: temporary DNS error"
	msgRefusedMX        = "refused: the MX host resolves to a non-public address"
	msgRefusedImplicit  = "refused: the domain has no MX and its address is non-public"
)

// MXTransport delivers to the recipient domain's own mail servers.
type MXTransport struct {
	Resolver  string        // "host:port" of the DNS server; "" = the system's
	Port      int           // remote SMTP port; 0 means 25 (tests use another)
	HELO      string        // EHLO name (--hostname)
	Timeout   time.Duration // per connection/command phase; 0 means 60 s
	TLSConfig *tls.Config   // for STARTTLS; nil = opportunistic TLS without certificate verification (verified against RootCAs when a policy requires it)
	// RootCAs verifies MX certificates when a policy requires it (MTA-STS
	// enforce, require-tls) and TLSConfig is nil; nil is the system's
	// roots (--outbound-tls-ca-file adds to them).
	RootCAs  *x509.CertPool
	DialAddr func(host string) string // optional: maps an MX host name to "ip:port" for tests; default resolves A/AAAA via Resolver. Guard applies to it too.
	// MaxPerHost limits the connections open at once to one destination
	// (idle ones kept for reuse included): an MX host of no known provider,
	// and at most this for a provider's destination; 0 means
	// DefaultMaxPerHost.
	MaxPerHost int
	// Destinations overrides the limits per destination (provider, or
	// "other"): --destination-limits. See destination.go.
	Destinations destination.Config
	// Throttle configures adaptive throttling (see throttle.go).
	Throttle Throttle
	// Slots counts them across the processes that share it (nil: in this
	// process only): MaxPerHost is then their total.
	Slots Slots
	// Guard is checked at connect time on every address dialed. The zero
	// Policy connects to public addresses only; AllowPrivate
	// (--allow-private-networks) connects anywhere.
	Guard netguard.Policy
	// Logger receives the detail of failures whose tenant-visible message is
	// generic (DNS and connection errors); nil discards it.
	Logger *slog.Logger
	// STS looks up the recipient domain's MTA-STS policy (RFC 8461, see
	// security.go); nil applies none.
	STS STSPolicies
	// DANE applies MX hosts' DNSSEC-authenticated TLSA records (RFC 7672,
	// see dane.go); DANELookup, when set, is called with each TLSA lookup's
	// result (for a metric).
	DANE       bool
	DANELookup func(result string)
	// TLSSession, when set, hears of every TLS session opened or failed,
	// for TLS reporting (RFC 8460, see tlsreport.go).
	TLSSession func(TLSSession)
	// Sources binds each connection to a source address of the email's
	// IP pool, within its warm-up caps (see sourceip.go); nil binds none.
	Sources *Sources

	poolOnce  sync.Once
	pool      *pool
	throttler *throttler
}

func (t *MXTransport) conns() *pool {
	t.poolOnce.Do(func() {
		t.throttler = newThrottler(t.Throttle, t.Logger)
		t.pool = &pool{slots: t.Slots, limitFor: func(dest string) int {
			return t.throttler.connections(dest, t.limits(dest).Connections)
		}}
	})
	return t.pool
}

// errNoStartTLS is what go-smtp's NewClientStartTLS returns (as a plain
// error) when the server does not advertise STARTTLS.
const errNoStartTLSText = "doesn't support STARTTLS"

// Deliver resolves the MX records of the recipients' domain (falling back to
// the domain's A/AAAA as RFC 5321 §5.1 says; a null MX "." means the domain
// accepts no mail → Bounced for all), tries hosts in preference order (equal
// preferences in random order), skipping hosts whose addresses Guard refuses
// (all refused: Bounced 550 5.4.4), and on each: EHLO, STARTTLS when offered
// (required when RequireTLS: a host without it is skipped and, if none offers
// it, the result is Deferred with a clear message), MAIL FROM, RCPT TO each
// recipient (a 5xx on one recipient bounces only that one), DATA for the
// accepted ones. A 4xx or connection failure on one host moves on to the next
// host (for the recipients still undecided); the last host's outcome stands.
//
// The returned slice has one Result per m.Recipients, in the same order.
func (t *MXTransport) DeliverDomain(ctx context.Context, domain string, m *Message) []Result {
	st := newState(m, t.Logger)
	domain = strings.TrimSuffix(strings.TrimSpace(domain), ".")
	policy := policyNone // until the domain's is known (security.go)
	defer func() { st.fillPolicy(policy) }()

	res := &dnscheck.Resolver{Addr: t.Resolver, Timeout: dnsTimeout}
	mxs, mxSecure, err := t.lookupMX(ctx, res, domain)
	if err != nil {
		st.logger.Warn("delivery: MX lookup failed", "email_id", m.EmailID, "domain", domain, "err", err)
		st.setAll("", 0, "", msgMXLookupFailed, Deferred)
		return st.results
	}
	var hosts []string
	implicit := false
	switch {
	case len(mxs) == 0:
		hosts, implicit = []string{domain}, true
	default:
		hosts = orderMX(mxs)
		if len(hosts) == 0 { // only "." records: null MX
			st.setAll("", nullMXCode, nullMXEnhanced,
				fmt.Sprintf("domain %s does not accept mail (null MX)", domain), Bounced)
			return st.results
		}
	}

	sec := t.security(ctx, domain, m)
	policy = sec.name()
	for _, host := range hosts {
		todo := st.todo()
		if len(todo) == 0 {
			break
		}
		if err := ctx.Err(); err != nil {
			st.set(todo, host, 0, "", err.Error(), Deferred)
			break
		}
		hsec := sec
		if dh := t.tlsaFor(ctx, host, mxSecure); dh.failed != nil {
			st.logger.Warn("delivery: DANE: TLSA lookup failed after an authenticated MX answer", "email_id", m.EmailID, "host", host, "err", dh.failed)
			st.set(todo, host, 0, "", fmt.Sprintf("dane: the TLSA lookup for %s failed; not delivered", host), Deferred)
			st.stamp(todo, "", "", policyDANE)
			t.reportTLSALookup(hsec, host)
			continue
		} else if dh.records != nil {
			hsec.dane = dh.records
		}
		hostNote, skip := hsec.checkHost(host)
		if skip {
			t.report(hsec, host, ResultValidationFailure)
			st.set(todo, host, 0, "", hostNote, Deferred)
			st.stamp(todo, "", "", hsec.name())
			continue
		}
		addrs, err := t.addrs(ctx, host)
		switch {
		case err != nil:
			st.logger.Warn("delivery: address lookup failed", "email_id", m.EmailID, "host", host, "err", err)
			st.set(todo, host, 0, "", fmt.Sprintf(msgAddrLookupFailed, host), Deferred)
			continue
		case len(addrs) == 0 && implicit:
			st.set(todo, host, noHostCode, noHostEnhanced,
				fmt.Sprintf("domain %s has no MX and no address records", domain), Bounced)
			continue
		case len(addrs) == 0:
			st.set(todo, host, 0, "", fmt.Sprintf("MX host %s has no address records", host), Deferred)
			continue
		}
		refused := msgRefusedMX
		if implicit {
			refused = msgRefusedImplicit
		}
		t.tryHost(ctx, host, addrs, refused, m, hsec, hostNote, st, todo)
	}
	return st.results
}

// Deliver sends m to each recipient domain's MX hosts (see DeliverDomain),
// the domains side by side.
func (t *MXTransport) Deliver(ctx context.Context, m *Message) []Result {
	byDomain := map[string][]int{}
	var order []string
	for i, r := range m.Recipients {
		d := domainOf(r)
		if _, ok := byDomain[d]; !ok {
			order = append(order, d)
		}
		byDomain[d] = append(byDomain[d], i)
	}
	results := make([]Result, len(m.Recipients))
	var wg sync.WaitGroup
	for _, d := range order {
		idx := byDomain[d]
		sub := *m
		sub.Recipients = make([]string, len(idx))
		for j, i := range idx {
			sub.Recipients[j] = m.Recipients[i]
		}
		wg.Go(func() {
			for j, r := range t.DeliverDomain(ctx, d, &sub) {
				results[idx[j]] = r
			}
		})
	}
	wg.Wait()
	return results
}

// tryHost delivers to one MX host, trying its addresses in order until one
// accepts a connection. Connections are reused across messages and limited
// per host (MaxPerHost). When Guard refuses every address, the recipients
// get refusedMsg as a provisional bounce that any other host's outcome
// replaces (state.refuse).
func (t *MXTransport) tryHost(ctx context.Context, host string, addrs []string, refusedMsg string, m *Message,
	sec security, hostNote string, st *state, todo []int) {
	dest, ok := t.beforeSend(ctx, host, st, todo)
	if !ok {
		return
	}
	defer t.afterSend(dest, host, st, todo)
	var src source
	if t.Sources != nil {
		var ok bool
		if src, addrs, ok = t.Sources.pick(ctx, dest, host, addrs, m, st, todo); !ok {
			return
		}
		defer t.Sources.done(src, host, st, todo)
		ctx = withSource(ctx, src.ip)
	}
	// Connections are pooled per destination (the provider), reused for the
	// same MX host under the same transport security policy, from the same
	// source address.
	variant := host
	if v := sec.variant(); v != "" {
		variant += "|" + v
	}
	variant += src.variant()
	sl, err := t.conns().acquire(ctx, dest, variant)
	if err != nil {
		st.set(todo, host, 0, "", slotError(err), Deferred)
		return
	}
	var keep *smtpSession
	defer func() { t.conns().release(sl, t.spent(dest, keep)) }()
	if idle := sl.idle; idle != nil && idle.reuse() {
		ok := idle.run(ctx, func(c *smtp.Client) bool { return transact(c, host, m, st, todo) })
		idle.stamp(st, todo, hostNote)
		if ok {
			keep = idle
		} else {
			idle.close()
		}
		return
	}
	var lastErr error
	for _, addr := range addrs {
		s, err := t.openSecure(ctx, host, addr, sec)
		if err != nil {
			var re *netguard.RefusedError
			if errors.As(err, &re) {
				st.logger.Warn("delivery: MX address refused: not public (see --allow-private-networks)",
					"email_id", m.EmailID, "host", host, "addr", addr)
				continue
			}
			lastErr = err
			var se *smtp.SMTPError
			if errors.As(err, &se) || errors.Is(err, errTLSRequired) {
				break // the host answered: its answer stands
			}
			continue
		}
		ok := s.run(ctx, func(c *smtp.Client) bool { return transact(c, host, m, st, todo) })
		s.stamp(st, todo, hostNote)
		if ok {
			keep = s
		} else {
			s.close()
		}
		return
	}
	if lastErr == nil { // every address was refused by the guard
		st.refuse(todo, host, refusedMsg)
		st.stamp(todo, "", "", withNote(sec.name(), hostNote))
		return
	}
	code, enh, msg, out := Classify(lastErr)
	st.logErr(host, lastErr)
	if tlsMsg, ok := sec.tlsFailure(host, lastErr); ok {
		msg, out = tlsMsg, Deferred
	}
	st.set(todo, host, code, enh, msg, out)
	st.stamp(todo, "", "", withNote(sec.name(), hostNote))
}

var errTLSRequired = errors.New("delivery: STARTTLS required but not offered")

// open connects to addr and gets to the point where MAIL FROM can be sent:
// EHLO, STARTTLS when offered (falling back to a plaintext connection when
// STARTTLS is not offered or fails and TLS is not required), EHLO again.
func (t *MXTransport) open(ctx context.Context, host, addr string, requireTLS bool) (*smtpSession, error) {
	return t.openWith(ctx, addr, tlsConfigFor(t.TLSConfig, t.RootCAs, host, requireTLS), requireTLS)
}

// openWith is open with the STARTTLS configuration given.
func (t *MXTransport) openWith(ctx context.Context, addr string, cfg *tls.Config, requireTLS bool) (*smtpSession, error) {
	s, err := dialClient(ctx, addr, t.HELO, t.timeout(), t.Guard.Control, cfg, true)
	if err == nil {
		return s, nil
	}
	noTLS := strings.Contains(err.Error(), errNoStartTLSText)
	if requireTLS {
		if noTLS {
			return nil, errTLSRequired
		}
		return nil, err
	}
	// Opportunistic TLS: retry in plaintext when the server does not offer
	// STARTTLS or the TLS handshake failed, but not after an SMTP error reply
	// or a timeout (the plaintext attempt would meet the same).
	var se *smtp.SMTPError
	var ne net.Error
	if !noTLS && (errors.As(err, &se) || (errors.As(err, &ne) && ne.Timeout()) || isDialError(err) || ctx.Err() != nil) {
		return nil, err
	}
	return dialClient(ctx, addr, t.HELO, t.timeout(), t.Guard.Control, nil, false)
}

func (t *MXTransport) timeout() time.Duration {
	if t.Timeout > 0 {
		return t.Timeout
	}
	return DefaultTimeout
}

func (t *MXTransport) port() int {
	if t.Port > 0 {
		return t.Port
	}
	return 25
}

// addrs returns the "ip:port" addresses to try for an MX host.
func (t *MXTransport) addrs(ctx context.Context, host string) ([]string, error) {
	if t.DialAddr != nil {
		if a := t.DialAddr(host); a != "" {
			return []string{a}, nil
		}
		return nil, nil
	}
	ips, err := lookupIPs(ctx, t.Resolver, host)
	if err != nil {
		return nil, err
	}
	out := make([]string, 0, len(ips))
	for _, ip := range ips {
		out = append(out, net.JoinHostPort(ip, fmt.Sprint(t.port())))
	}
	return out, nil
}

// orderMX returns the MX hosts by preference, equal preferences shuffled,
// without null MX entries.
func orderMX(mxs []dnscheck.MX) []string {
	mxs = slices.Clone(mxs)
	rand.Shuffle(len(mxs), func(i, j int) { mxs[i], mxs[j] = mxs[j], mxs[i] })
	slices.SortStableFunc(mxs, func(a, b dnscheck.MX) int { return cmp.Compare(a.Preference, b.Preference) })
	var hosts []string
	for _, mx := range mxs {
		if mx.Host == "." || mx.Host == "" {
			continue
		}
		hosts = append(hosts, mx.Host)
	}
	return hosts
}

// tlsConfigFor returns the STARTTLS configuration for host.
func tlsConfigFor(base *tls.Config, roots *x509.CertPool, host string, requireTLS bool) *tls.Config {
	var cfg *tls.Config
	if base != nil {
		cfg = base.Clone()
	} else {
		cfg = &tls.Config{RootCAs: roots}
		// Opportunistic TLS (RFC 7435): encrypt even when the certificate
		// cannot be verified, as plaintext would be the alternative.
		cfg.InsecureSkipVerify = !requireTLS
	}
	if cfg.ServerName == "" {
		cfg.ServerName = host
	}
	return cfg
}

// dialClient connects to addr and returns a smtpSession that has said EHLO as
// helo. control (nil: none) is the dialer's Control, called with the
// resolved address before connecting (netguard.Policy.Control). With
// startTLS, STARTTLS is issued first (failing when not offered) and EHLO
// repeated over TLS. The connection is closed if ctx ends before dialClient
// returns; afterwards it belongs to the caller.
func dialClient(ctx context.Context, addr, helo string, timeout time.Duration, control func(network, address string, c syscall.RawConn) error, tlsCfg *tls.Config, startTLS bool) (*smtpSession, error) {
	if helo == "" {
		helo = "localhost"
	}
	d := net.Dialer{Timeout: timeout, Control: control, LocalAddr: localAddr(ctx)}
	raw, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, &dialError{err}
	}
	watch := context.AfterFunc(ctx, func() { raw.Close() })
	fail := func(err error) (*smtpSession, error) {
		watch()
		raw.Close()
		return nil, err
	}
	conn := &clientConn{Conn: raw, timeout: timeout, helo: helo}

	var c *smtp.Client
	if startTLS {
		conn.quitOnClose = true
		c, err = smtp.NewClientStartTLS(conn, tlsCfg)
		conn.quitOnClose = false
		if err != nil {
			return fail(err)
		}
	} else {
		if tlsCfg != nil { // implicit TLS
			conn.helo = ""
			c = smtp.NewClient(tls.Client(conn, tlsCfg))
		} else {
			c = smtp.NewClient(conn)
		}
	}
	conn.helo = ""
	c.CommandTimeout = timeout
	c.SubmissionTimeout = timeout
	if err := c.Hello(helo); err != nil {
		return fail(err)
	}
	if !watch() {
		return fail(ctx.Err())
	}
	cs, isTLS := c.TLSConnectionState()
	s := &smtpSession{c: c, raw: raw, tls: isTLS}
	if isTLS {
		s.tlsVersion, s.tlsCipher = tls.VersionName(cs.Version), tls.CipherSuiteName(cs.CipherSuite)
	}
	return s, nil
}

type dialError struct{ err error }

func (e *dialError) Error() string { return "connect: " + e.err.Error() }
func (e *dialError) Unwrap() error { return e.err }

func isDialError(err error) bool {
	var de *dialError
	return errors.As(err, &de)
}

// clientConn bounds every deadline go-smtp sets to the transport's timeout
// (go-smtp's own defaults apply to the greeting and first EHLO of
// NewClientStartTLS, before the client's timeouts can be set), and puts the
// configured EHLO name in the EHLO go-smtp sends before STARTTLS (which
// NewClientStartTLS always sends as "localhost").
type clientConn struct {
	net.Conn
	timeout time.Duration
	helo    string // replacement name while the pre-STARTTLS EHLO may still be sent; "" after
	// quitOnClose, while go-smtp negotiates STARTTLS, makes Close say QUIT
	// first when STARTTLS was not sent (the server does not offer it), so
	// that the server counts the connection closed before the plaintext
	// retry opens another: a receiving host limiting connections per
	// client sees no more than one at a time.
	quitOnClose bool
}

var startTLSCmd = []byte("STARTTLS\r\n")

func (c *clientConn) Close() error {
	if c.quitOnClose {
		c.quitOnClose = false
		_ = c.Conn.SetDeadline(time.Now().Add(quitWithin))
		if _, err := c.Conn.Write([]byte("QUIT\r\n")); err == nil {
			var reply [512]byte
			_, _ = c.Conn.Read(reply[:]) // 221, or anything: the server heard
		}
	}
	return c.Conn.Close()
}

var (
	ehloLocalhost = []byte("EHLO localhost\r\n")
	heloLocalhost = []byte("HELO localhost\r\n")
)

func (c *clientConn) Write(b []byte) (int, error) {
	if bytes.Equal(b, startTLSCmd) {
		c.quitOnClose = false // what follows is TLS
	}
	if c.helo != "" && c.helo != "localhost" {
		var verb string
		switch {
		case bytes.Equal(b, ehloLocalhost):
			verb = "EHLO"
		case bytes.Equal(b, heloLocalhost):
			verb = "HELO"
		}
		if verb != "" {
			if _, err := c.Conn.Write([]byte(verb + " " + c.helo + "\r\n")); err != nil {
				return 0, err
			}
			return len(b), nil
		}
	}
	return c.Conn.Write(b)
}

func (c *clientConn) bound(t time.Time) time.Time {
	limit := time.Now().Add(c.timeout)
	if t.IsZero() || t.After(limit) {
		return limit
	}
	return t
}

func (c *clientConn) SetDeadline(t time.Time) error      { return c.Conn.SetDeadline(c.bound(t)) }
func (c *clientConn) SetReadDeadline(t time.Time) error  { return c.Conn.SetReadDeadline(c.bound(t)) }
func (c *clientConn) SetWriteDeadline(t time.Time) error { return c.Conn.SetWriteDeadline(c.bound(t)) }

// transact runs MAIL FROM, RCPT TO and DATA for the recipients todo on an
// open client and records their results. It reports whether the connection
// is still in a state to carry another message.
func transact(c *smtp.Client, host string, m *Message, st *state, todo []int) bool {
	if err := c.Mail(m.From, &smtp.MailOptions{Size: int64(len(m.Data))}); err != nil {
		st.setErr(todo, host, err)
		return isReply(err)
	}
	var accepted []int
	for _, i := range todo {
		err := c.Rcpt(m.Recipients[i], nil)
		if err == nil {
			accepted = append(accepted, i)
			continue
		}
		if !isReply(err) {
			// The connection is gone: nothing on it counts.
			st.setErr(todo, host, err)
			return false
		}
		st.setErr([]int{i}, host, err)
	}
	if len(accepted) == 0 {
		return true // the next transaction starts with RSET
	}
	w, err := c.Data()
	if err != nil {
		st.setErr(accepted, host, err)
		return isReply(err)
	}
	if _, err := w.Write(m.Data); err != nil {
		st.setErr(accepted, host, err)
		return false
	}
	resp, err := w.CloseWithResponse()
	if err != nil {
		st.setErr(accepted, host, err)
		return isReply(err)
	}
	enh, text := splitEnhanced(resp.StatusText)
	st.set(accepted, host, 250, enh, text, Delivered)
	return true
}

// isReply reports whether err is the server's answer (the smtpSession goes on)
// rather than a broken connection. A 421 means the server is closing it.
func isReply(err error) bool {
	var se *smtp.SMTPError
	return errors.As(err, &se) && se.Code != 421
}

// splitEnhanced splits "2.0.0 OK: queued" into "2.0.0" and "OK: queued".
func splitEnhanced(s string) (string, string) {
	code, rest, ok := strings.Cut(s, " ")
	if ok && isEnhanced(code) {
		return code, rest
	}
	return "", s
}

func isEnhanced(s string) bool {
	parts := strings.Split(s, ".")
	if len(parts) != 3 || (parts[0] != "2" && parts[0] != "4" && parts[0] != "5") {
		return false
	}
	for _, p := range parts[1:] {
		if p == "" || len(p) > 3 || strings.Trim(p, "0123456789") != "" {
			return false
		}
	}
	return true
}

// Classify turns an error from github.com/emersion/go-smtp into
// Code/Enhanced/Message/Outcome: an *smtp.SMTPError keeps its reply code,
// enhanced code and text, and is Deferred when temporary (4xx), Bounced when
// permanent (5xx); everything else (network errors, timeouts, context
// cancellation, protocol errors) is Deferred with code 0 and a message
// without network addresses (see TenantText). A nil error is Delivered.
func Classify(err error) (code int, enhanced, msg string, outcome Outcome) {
	if err == nil {
		return 0, "", "", Delivered
	}
	var se *smtp.SMTPError
	if errors.As(err, &se) {
		if se.EnhancedCode != smtp.EnhancedCodeNotSet && se.EnhancedCode != smtp.NoEnhancedCode {
			enhanced = fmt.Sprintf("%d.%d.%d", se.EnhancedCode[0], se.EnhancedCode[1], se.EnhancedCode[2])
		}
		switch {
		case se.Temporary():
			outcome = Deferred
		case se.Code/100 == 5:
			outcome = Bounced
		default:
			outcome = Deferred // an unexpected reply is no proof of a permanent failure
		}
		return se.Code, enhanced, se.Message, outcome
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return 0, "", "timeout: " + TenantText(err), Deferred
	}
	return 0, "", TenantText(err), Deferred
}

// TenantText is err's text as tenants may see it (attempts, events): the
// addresses in the network and DNS errors it wraps (the IP dialed, the
// local address, the DNS server asked) are left out, and any IP address
// left in the text after that is replaced by "<address>". What went wrong
// ("connection refused", "i/o timeout", a certificate problem) is kept.
func TenantText(err error) string {
	if err == nil {
		return ""
	}
	s := err.Error()
	// Outermost first: each replacement keeps the text of the errors inside.
	var oe *net.OpError
	if errors.As(err, &oe) && (oe.Source != nil || oe.Addr != nil) {
		c := *oe
		c.Source, c.Addr = nil, nil
		s = strings.ReplaceAll(s, oe.Error(), c.Error())
	}
	var de *net.DNSError
	if errors.As(err, &de) && de.Server != "" {
		c := *de
		c.Server = ""
		s = strings.ReplaceAll(s, de.Error(), c.Error())
	}
	var re *netguard.RefusedError
	if errors.As(err, &re) {
		s = strings.ReplaceAll(s, re.Error(), "netguard: refusing to connect to a non-public address")
	}
	return scrubAddrs(s)
}

// scrubAddrs replaces every word of s that is an IP address, with or
// without a port ("10.0.0.5:25", "[fd00::1]:25", "a->b"), by "<address>".
func scrubAddrs(s string) string {
	words := strings.Fields(s)
	changed := false
	for i, w := range words {
		core := strings.TrimRight(strings.TrimLeft(w, "(\"'"), ",;:)\"'.")
		parts := strings.Split(core, "->")
		hit := false
		for j, p := range parts {
			if isAddr(p) {
				parts[j] = "<address>"
				hit = true
			}
		}
		if hit {
			words[i] = strings.Replace(w, core, strings.Join(parts, "->"), 1)
			changed = true
		}
	}
	if !changed {
		return s
	}
	return strings.Join(words, " ")
}

func isAddr(s string) bool {
	if _, err := netip.ParseAddr(strings.Trim(s, "[]")); err == nil {
		return true
	}
	_, err := netip.ParseAddrPort(s)
	return err == nil
}

// state collects per-recipient results; decided ones are not retried.
type state struct {
	results []Result
	final   []bool
	soft    []bool // results[i] is a guard refusal that any later outcome replaces
	emailID string
	logger  *slog.Logger
}

func newState(m *Message, logger *slog.Logger) *state {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	st := &state{results: make([]Result, len(m.Recipients)), final: make([]bool, len(m.Recipients)),
		soft: make([]bool, len(m.Recipients)), emailID: m.EmailID, logger: logger}
	for i, r := range m.Recipients {
		st.results[i].Recipient = r
	}
	return st
}

func (st *state) todo() []int {
	var out []int
	for i, f := range st.final {
		if !f {
			out = append(out, i)
		}
	}
	return out
}

func (st *state) set(idx []int, host string, code int, enh, msg string, out Outcome) {
	for _, i := range idx {
		r := &st.results[i]
		*r = Result{Recipient: r.Recipient, Host: host, Code: code, Enhanced: enh, Message: msg, Outcome: out}
		st.final[i] = out != Deferred
		st.soft[i] = false
	}
}

// refuse records that the guard refused every address of host, for the
// recipients that have no other outcome yet: a bounce that stands only if no
// later host gives another outcome. The recipients stay undecided (todo) so
// that the next host is tried.
func (st *state) refuse(idx []int, host, msg string) {
	for _, i := range idx {
		r := &st.results[i]
		if r.Outcome != "" && !st.soft[i] {
			continue // a real outcome (e.g. deferred by an earlier host) stands
		}
		*r = Result{Recipient: r.Recipient, Host: host, Code: refusedCode, Enhanced: refusedEnhanced,
			Message: msg, Outcome: Bounced, refused: true}
		st.soft[i] = true
	}
}

// logErr logs the detail of a failure that is not the server's reply (the
// tenant sees only Classify's message).
func (st *state) logErr(host string, err error) {
	var se *smtp.SMTPError
	if err == nil || errors.As(err, &se) {
		return
	}
	st.logger.Warn("delivery: connection failed", "email_id", st.emailID, "host", host, "err", err)
}

func (st *state) setAll(host string, code int, enh, msg string, out Outcome) {
	st.set(st.todo(), host, code, enh, msg, out)
}

func (st *state) setErr(idx []int, host string, err error) {
	st.logErr(host, err)
	code, enh, msg, out := Classify(err)
	st.set(idx, host, code, enh, msg, out)
}

// lookupIPs returns the IPv4 then IPv6 addresses of host, asking resolver
// ("host:port") directly, or the system resolver when it is "". No such name
// or no address records is (nil, nil).
func lookupIPs(ctx context.Context, resolver, host string) ([]string, error) {
	if ip := net.ParseIP(strings.Trim(host, "[]")); ip != nil {
		return []string{ip.String()}, nil
	}
	if resolver == "" {
		addrs, err := net.DefaultResolver.LookupIPAddr(ctx, host)
		var de *net.DNSError
		if errors.As(err, &de) && de.IsNotFound {
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
		var v4, v6 []string
		for _, a := range addrs {
			if a.IP.To4() != nil {
				v4 = append(v4, a.IP.String())
			} else {
				v6 = append(v6, a.IP.String())
			}
		}
		return append(v4, v6...), nil
	}
	var out []string
	for _, qtype := range []uint16{dns.TypeA, dns.TypeAAAA} {
		ips, err := queryIPs(ctx, resolver, host, qtype)
		if err != nil {
			return nil, err
		}
		out = append(out, ips...)
	}
	return out, nil
}

func queryIPs(ctx context.Context, resolver, host string, qtype uint16) ([]string, error) {
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(host), qtype)
	m.SetEdns0(1232, false)
	ctx, cancel := context.WithTimeout(ctx, dnsTimeout)
	defer cancel()
	c := &dns.Client{Net: "udp", Timeout: dnsTimeout, UDPSize: 1232}
	resp, _, err := c.ExchangeContext(ctx, m, resolver)
	if err == nil && resp.Truncated {
		c.Net = "tcp"
		resp, _, err = c.ExchangeContext(ctx, m, resolver)
	}
	if err != nil {
		return nil, fmt.Errorf("%s lookup of %s via %s: %w", dns.TypeToString[qtype], host, resolver, err)
	}
	switch resp.Rcode {
	case dns.RcodeSuccess:
	case dns.RcodeNameError:
		return nil, nil
	default:
		return nil, fmt.Errorf("%s lookup of %s via %s: server answered %s",
			dns.TypeToString[qtype], host, resolver, dns.RcodeToString[resp.Rcode])
	}
	// Addresses anywhere in the answer: the owner may be a CNAME target.
	var out []string
	for _, rr := range resp.Answer {
		switch rr := rr.(type) {
		case *dns.A:
			if qtype == dns.TypeA {
				out = append(out, rr.A.String())
			}
		case *dns.AAAA:
			if qtype == dns.TypeAAAA {
				out = append(out, rr.AAAA.String())
			}
		}
	}
	return out, nil
}
