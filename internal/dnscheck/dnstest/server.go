// Package dnstest runs a real, in-memory authoritative DNS server on loopback
// for tests (UDP and TCP on the same 127.0.0.1 port), built on
// github.com/miekg/dns.
//
// Behaviour:
//   - names are case-insensitive and the trailing dot is optional;
//   - answers are authoritative; an unknown name is NXDOMAIN, a name that
//     exists (holds records of another type, or is an ancestor of a name that
//     does) answers NOERROR with an empty answer;
//   - a CNAME at the queried name is returned and chased (up to 8 hops) as long
//     as the target is known to the server and not set to Fail; otherwise the
//     answer stops at the CNAME (the client must ask for the target itself);
//   - over UDP the reply is truncated to 512 bytes, or to the EDNS0 size the
//     query advertises, with the TC bit set, so clients must retry over TCP;
//   - records carry a TTL of 60 s, or what SetTTL last set before they
//     were (the TTL belongs to a name's records of one type); an empty answer
//     (NXDOMAIN or NODATA) carries no SOA record unless SetSOA names a zone
//     it is in;
//   - answers carry the AD (authenticated data) bit only for the names
//     SetAuthenticated marked, as a validating resolver's would for a
//     DNSSEC-signed zone (no signatures are served).
package dnstest

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/godwit/godwit/internal/dnscheck"
)

const (
	defaultTTL = 60
	maxChase   = 8
)

// Server is an in-memory DNS server on loopback. All methods are safe for
// concurrent use, also while queries are being answered.
type Server struct {
	addr    string
	udp     *dns.Server
	tcp     *dns.Server
	queries atomic.Int64

	mu    sync.Mutex
	nodes map[string]*node // by canonical name (lower-case FQDN)
	fails map[string]int   // by canonical name
	ttl   uint32
	soas  map[string]soa  // by canonical zone name
	auth  map[string]bool // names answered with the AD bit, canonical
}

// soa is what SetSOA set for a zone.
type soa struct{ ttl, minimum uint32 }

type node struct {
	txt   [][]string // per record: character-strings, raw bytes
	mx    []dnscheck.MX
	addrs []netip.Addr      // A and AAAA records
	ptr   []string          // PTR targets, canonical
	tlsa  []dns.TLSA        // TLSA records (header ignored)
	cname string            // canonical target, "" if none
	ttl   map[uint16]uint32 // per record type, as SetTTL was when they were set
}

func (n *node) empty() bool {
	return len(n.txt) == 0 && len(n.mx) == 0 && len(n.addrs) == 0 && len(n.ptr) == 0 && len(n.tlsa) == 0 && n.cname == ""
}

// NewServer starts a server on 127.0.0.1 (random port, UDP and TCP) and
// shuts it down in t.Cleanup.
func NewServer(t testing.TB) *Server {
	t.Helper()
	s := &Server{nodes: map[string]*node{}, fails: map[string]int{}, ttl: defaultTTL, soas: map[string]soa{}, auth: map[string]bool{}}

	pc, ln, err := listen()
	if err != nil {
		t.Fatalf("dnstest: %v", err)
	}
	s.addr = pc.LocalAddr().String()

	started := make(chan struct{}, 2)
	notify := func() { started <- struct{}{} }
	s.udp = &dns.Server{PacketConn: pc, Handler: s, NotifyStartedFunc: notify}
	s.tcp = &dns.Server{Listener: ln, Handler: s, NotifyStartedFunc: notify,
		ReadTimeout: 2 * time.Second, WriteTimeout: 2 * time.Second}
	errc := make(chan error, 2)
	for _, srv := range []*dns.Server{s.udp, s.tcp} {
		go func() { errc <- srv.ActivateAndServe() }()
	}
	deadline := time.After(5 * time.Second)
	for range 2 {
		select {
		case <-started:
		case err := <-errc:
			pc.Close()
			ln.Close()
			t.Fatalf("dnstest: server failed to start: %v", err)
		case <-deadline:
			pc.Close()
			ln.Close()
			t.Fatalf("dnstest: server did not start within 5s")
		}
	}

	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = s.udp.ShutdownContext(ctx)
		_ = s.tcp.ShutdownContext(ctx)
	})
	return s
}

// listen binds UDP and TCP on the same loopback port.
func listen() (net.PacketConn, net.Listener, error) {
	var lastErr error
	for range 20 {
		pc, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			return nil, nil, err
		}
		ln, err := net.Listen("tcp", pc.LocalAddr().String())
		if err == nil {
			return pc, ln, nil
		}
		pc.Close()
		lastErr = err
	}
	return nil, nil, fmt.Errorf("binding UDP and TCP on one loopback port: %w", lastErr)
}

// Addr returns "127.0.0.1:port", for dnscheck.Resolver.Addr.
func (s *Server) Addr() string { return s.addr }

// Queries returns how many queries the server has answered (UDP and TCP).
func (s *Server) Queries() int { return int(s.queries.Load()) }

// SetTTL sets the TTL, in seconds, of the records set from now on (60 by
// default); the records already set keep theirs.
func (s *Server) SetTTL(seconds uint32) {
	s.mu.Lock()
	s.ttl = seconds
	s.mu.Unlock()
}

// SetSOA makes the empty answers (NXDOMAIN and NODATA) for names in zone
// (the zone itself and every name under it) carry the zone's SOA record in
// their authority section, with the given TTL and minimum field (RFC 2308:
// resolvers keep the empty answer for the smaller of the two).
func (s *Server) SetSOA(zone string, ttl, minimum uint32) {
	s.mu.Lock()
	s.soas[canonical(zone)] = soa{ttl: ttl, minimum: minimum}
	s.mu.Unlock()
}

// SetTXT replaces the TXT records at name: each value is one record. Values
// longer than 255 bytes are split into 255-byte character-strings, as real
// zones do. No values removes the TXT records.
func (s *Server) SetTXT(name string, values ...string) {
	recs := make([][]string, 0, len(values))
	for _, v := range values {
		var strs []string
		for len(v) > 255 {
			strs = append(strs, v[:255])
			v = v[255:]
		}
		strs = append(strs, v)
		recs = append(recs, strs)
	}
	s.setTXT(name, recs)
}

// SetTXTStrings replaces the TXT records at name, giving each record's exact
// character-strings (raw bytes, at most 255 each; longer ones panic). No
// records removes the TXT records.
func (s *Server) SetTXTStrings(name string, strs ...[]string) {
	recs := make([][]string, 0, len(strs))
	for _, r := range strs {
		for _, str := range r {
			if len(str) > 255 {
				panic(fmt.Sprintf("dnstest: character-string of %d bytes (max 255) for %s", len(str), name))
			}
		}
		if len(r) == 0 {
			r = []string{""}
		}
		recs = append(recs, append([]string(nil), r...))
	}
	s.setTXT(name, recs)
}

func (s *Server) setTXT(name string, recs [][]string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := s.nodeLocked(name)
	n.txt = recs
	n.ttl[dns.TypeTXT] = s.ttl
	s.pruneLocked(name)
}

// SetMX replaces the MX records at name (hosts with or without the trailing
// dot). No records removes the MX records.
func (s *Server) SetMX(name string, mx ...dnscheck.MX) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := s.nodeLocked(name)
	n.mx = append([]dnscheck.MX(nil), mx...)
	n.ttl[dns.TypeMX] = s.ttl
	s.pruneLocked(name)
}

// SetAddr replaces the A and AAAA records at name: IPv4 addresses are
// answered to A queries, IPv6 ones to AAAA. No addresses removes them. It
// panics on an address that does not parse (a test's own mistake).
func (s *Server) SetAddr(name string, ips ...string) {
	addrs := make([]netip.Addr, len(ips))
	for i, ip := range ips {
		addrs[i] = netip.MustParseAddr(ip)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	n := s.nodeLocked(name)
	n.addrs = addrs
	n.ttl[dns.TypeA], n.ttl[dns.TypeAAAA] = s.ttl, s.ttl
	s.pruneLocked(name)
}

// SetTLSA replaces the TLSA records at name (e.g. "_25._tcp.mx.example.test")
// with recs (usage, selector, matching type and certificate data; the
// header is the server's). No records removes them.
func (s *Server) SetTLSA(name string, recs ...dns.TLSA) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := s.nodeLocked(name)
	n.tlsa = append([]dns.TLSA(nil), recs...)
	n.ttl[dns.TypeTLSA] = s.ttl
	s.pruneLocked(name)
}

// SetAuthenticated makes the answers to queries for name carry the AD bit
// (on) or not (off, the default), whatever their records.
func (s *Server) SetAuthenticated(name string, on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if on {
		s.auth[canonical(name)] = true
	} else {
		delete(s.auth, canonical(name))
	}
}

// SetPTR replaces the PTR records of the address ip (at its in-addr.arpa
// or ip6.arpa name) with names. No names removes them. It panics on an
// address that does not parse (a test's own mistake).
func (s *Server) SetPTR(ip string, names ...string) {
	rev, err := dns.ReverseAddr(netip.MustParseAddr(ip).String())
	if err != nil {
		panic(fmt.Sprintf("dnstest: reverse name of %s: %v", ip, err))
	}
	ptr := make([]string, len(names))
	for i, n := range names {
		ptr[i] = canonical(n)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	n := s.nodeLocked(rev)
	n.ptr = ptr
	n.ttl[dns.TypePTR] = s.ttl
	s.pruneLocked(rev)
}

// SetCNAME makes name an alias of target ("" removes the alias). While a
// CNAME is set, queries for other types at name get the CNAME (and the
// chased target records) instead of name's own records.
func (s *Server) SetCNAME(name, target string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := s.nodeLocked(name)
	n.cname = ""
	n.ttl[dns.TypeCNAME] = s.ttl
	if strings.TrimSpace(target) != "" {
		n.cname = canonical(target)
	}
	s.pruneLocked(name)
}

// Delete removes every record at name (and any Fail set for it).
func (s *Server) Delete(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.nodes, canonical(name))
	delete(s.fails, canonical(name))
}

// Fail makes the server answer every query for name with rcode (for example
// dns.RcodeServerFailure or dns.RcodeRefused). dns.RcodeSuccess (0) clears it.
func (s *Server) Fail(name string, rcode int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if rcode == dns.RcodeSuccess {
		delete(s.fails, canonical(name))
		return
	}
	s.fails[canonical(name)] = rcode
}

func (s *Server) nodeLocked(name string) *node {
	key := canonical(name)
	n := s.nodes[key]
	if n == nil {
		n = &node{ttl: map[uint16]uint32{}}
		s.nodes[key] = n
	}
	return n
}

func (s *Server) pruneLocked(name string) {
	key := canonical(name)
	if n := s.nodes[key]; n != nil && n.empty() {
		delete(s.nodes, key)
	}
}

// existsLocked reports whether key is a name in the tree: it holds records
// or has descendants that do (empty non-terminal).
func (s *Server) existsLocked(key string) bool {
	if _, ok := s.nodes[key]; ok {
		return true
	}
	suffix := "." + key
	if key == "." {
		suffix = "."
	}
	for k := range s.nodes {
		if strings.HasSuffix(k, suffix) {
			return true
		}
	}
	return false
}

func canonical(name string) string {
	return strings.ToLower(dns.Fqdn(strings.TrimSpace(name)))
}

// ServeDNS implements dns.Handler.
func (s *Server) ServeDNS(w dns.ResponseWriter, req *dns.Msg) {
	s.queries.Add(1)
	m := s.answer(req)
	if len(req.Question) == 1 {
		s.mu.Lock()
		m.AuthenticatedData = s.auth[canonical(req.Question[0].Name)]
		s.mu.Unlock()
	}

	size := dns.MaxMsgSize
	if _, udp := w.RemoteAddr().(*net.UDPAddr); udp {
		size = dns.MinMsgSize
		if opt := req.IsEdns0(); opt != nil {
			size = int(opt.UDPSize())
		}
	}
	m.Truncate(size)
	_ = w.WriteMsg(m)
}

func (s *Server) answer(req *dns.Msg) *dns.Msg {
	m := new(dns.Msg)
	m.SetReply(req)
	m.Authoritative = true
	if opt := req.IsEdns0(); opt != nil {
		m.SetEdns0(4096, false)
	}
	if len(req.Question) != 1 {
		m.Rcode = dns.RcodeFormatError
		return m
	}
	q := req.Question[0]
	if q.Qclass != dns.ClassINET && q.Qclass != dns.ClassANY {
		m.Rcode = dns.RcodeRefused
		return m
	}

	s.mu.Lock()
	defer s.mu.Unlock()

	key := canonical(q.Name)
	if rcode, ok := s.fails[key]; ok {
		m.Rcode = rcode
		return m
	}
	if !s.existsLocked(key) {
		m.Rcode = dns.RcodeNameError
		s.soaLocked(m, key)
		return m
	}

	owner := q.Name // first owner keeps the query's spelling
	for hop := 0; ; hop++ {
		n := s.nodes[key]
		if n == nil {
			s.soaLocked(m, key)
			return m // exists only as an empty non-terminal: NODATA
		}
		if n.cname != "" && q.Qtype != dns.TypeCNAME {
			m.Answer = append(m.Answer, &dns.CNAME{Hdr: n.hdr(owner, dns.TypeCNAME), Target: n.cname})
			next := n.cname
			_, failing := s.fails[next]
			if hop+1 >= maxChase || failing || !s.existsLocked(next) {
				return m // leave the rest to the client
			}
			key, owner = next, next
			continue
		}
		switch q.Qtype {
		case dns.TypeTXT:
			for _, strs := range n.txt {
				txt := make([]string, len(strs))
				for i, str := range strs {
					txt[i] = escape(str)
				}
				m.Answer = append(m.Answer, &dns.TXT{Hdr: n.hdr(owner, dns.TypeTXT), Txt: txt})
			}
		case dns.TypeMX:
			for _, mx := range n.mx {
				m.Answer = append(m.Answer, &dns.MX{Hdr: n.hdr(owner, dns.TypeMX),
					Preference: mx.Preference, Mx: dns.Fqdn(mx.Host)})
			}
		case dns.TypeA, dns.TypeAAAA:
			for _, a := range n.addrs {
				switch {
				case a.Is4() && q.Qtype == dns.TypeA:
					m.Answer = append(m.Answer, &dns.A{Hdr: n.hdr(owner, dns.TypeA), A: a.AsSlice()})
				case !a.Is4() && q.Qtype == dns.TypeAAAA:
					m.Answer = append(m.Answer, &dns.AAAA{Hdr: n.hdr(owner, dns.TypeAAAA), AAAA: a.AsSlice()})
				}
			}
		case dns.TypeTLSA:
			for _, t := range n.tlsa {
				t.Hdr = n.hdr(owner, dns.TypeTLSA)
				m.Answer = append(m.Answer, &t)
			}
		case dns.TypePTR:
			for _, p := range n.ptr {
				m.Answer = append(m.Answer, &dns.PTR{Hdr: n.hdr(owner, dns.TypePTR), Ptr: p})
			}
		case dns.TypeCNAME:
			if n.cname != "" {
				m.Answer = append(m.Answer, &dns.CNAME{Hdr: n.hdr(owner, dns.TypeCNAME), Target: n.cname})
			}
		}
		if len(m.Answer) == 0 {
			s.soaLocked(m, key) // NODATA
		}
		return m
	}
}

// soaLocked puts the SOA of the zone SetSOA named that key is in (the
// closest one) in m's authority section, if there is one.
func (s *Server) soaLocked(m *dns.Msg, key string) {
	for name := key; ; {
		if z, ok := s.soas[name]; ok {
			m.Ns = append(m.Ns, &dns.SOA{Hdr: dns.RR_Header{Name: name, Rrtype: dns.TypeSOA, Class: dns.ClassINET, Ttl: z.ttl},
				Ns: "ns." + name, Mbox: "hostmaster." + name, Serial: 1, Refresh: 3600, Retry: 600, Expire: 86400, Minttl: z.minimum})
			return
		}
		i := strings.IndexByte(name, '.')
		if i < 0 || name == "." {
			return
		}
		name = name[i+1:]
		if name == "" {
			name = "."
		}
	}
}

func (n *node) hdr(name string, rrtype uint16) dns.RR_Header {
	return dns.RR_Header{Name: name, Rrtype: rrtype, Class: dns.ClassINET, Ttl: n.ttl[rrtype]}
}

// escape turns raw bytes into the presentation form miekg/dns packs TXT
// character-strings from: \ and " backslash-escaped, other unprintable bytes
// as \DDD.
func escape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\\' || c == '"':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c < ' ' || c > '~':
			fmt.Fprintf(&b, "\\%03d", c)
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}
