package delivery

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/godwit/godwit/internal/ippool"
	"github.com/godwit/godwit/internal/warmup"
)

// Sending IPs, pools and warm-up (docs/delivery.md has the operator's
// view). With Sources set, every outbound connection of an MXTransport is
// bound to a source address (net.Dialer.LocalAddr) of the pool of the
// email's domain, else of its team, else of the default pool: an IPv4
// address for an MX host's IPv4 addresses, an IPv6 one for IPv6. The EHLO
// name stays the configured one (--hostname): each address needs a PTR
// record naming it, which godwit doctor checks.
//
// The addresses of a pool take turns (round robin per pool and address
// family). Idle connections are reused per (destination, MX host, source
// address), so a connection opened from one address never carries
// another's message.
//
// An address that warms up (warmup.Config) sends at most its cap of the UTC
// day to each destination; the message is counted in the store before the
// connection (SourceStore.TakeWarmup, atomic across nodes and kept across
// restarts) and uncounted when nothing was delivered. When every address
// of the pool of the right family is at its cap, the recipients are
// deferred without connecting, with the reason as the attempt's message,
// held (they never expire into a bounce while held) and retried when the
// next day begins.

// SourceStore is what choosing source addresses needs of the store.
type SourceStore interface {
	// IPPoolFor returns the pool assigned to the team's domain, or else
	// to the team, or "" (the default pool).
	IPPoolFor(ctx context.Context, teamID, domainID string) (string, error)
	TakeWarmup(ctx context.Context, ip, destination, day string, limit int) (bool, error)
	ReturnWarmup(ctx context.Context, ip, destination, day string) error
}

// Sources chooses the source address of each outbound SMTP connection.
type Sources struct {
	// Pools are the pools by name (ippool.Parse); the default pool is
	// used for an email whose assigned pool is not configured.
	Pools ippool.Pools
	// Warmup caps the addresses that warm up (the zero value: none).
	Warmup warmup.Config
	// Store holds the pool assignments and the warm-up counts.
	Store SourceStore
	// Now is the clock of the warm-up's days (nil: time.Now).
	Now    func() time.Time
	Logger *slog.Logger
	// Sent is told of each message delivered from a warming-up address
	// (godwit_warmup_sent_total); Capped of each message held because
	// every address was at its cap (godwit_warmup_capped_total). Either
	// may be nil.
	Sent   func(ip, destination string)
	Capped func(pool, destination string)

	mu    sync.Mutex
	next  map[string]int          // round robin, by pool and family
	cache map[string]cachedPoolOf // pool of "team\x00domain"
	// full remembers the (IP, destination, day) found at their cap, until
	// when they are asked again: a held queue does not cost a write per
	// address and message.
	full map[string]time.Time
}

// fullRecheck is how long an address found at its cap for a destination
// is skipped before the store is asked again (a message uncounted, here
// or on another node, frees a place meanwhile).
const fullRecheck = 30 * time.Second

// poolCacheTTL is how long an assignment read from the store is used
// before it is read again: a change reaches every node within it.
const poolCacheTTL = 30 * time.Second

type cachedPoolOf struct {
	pool string
	at   time.Time
}

// source is the address chosen for one attempt to one MX host.
type source struct {
	ip   netip.Addr // the zero Addr: not bound
	pool string
	// dest and day, when dest is not "", say where the message was counted
	// against ip's warm-up cap.
	dest, day string
}

// variant is the connection pool key's part for the source address.
func (s source) variant() string {
	if !s.ip.IsValid() {
		return ""
	}
	return "|from=" + s.ip.String()
}

func (s *Sources) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

func (s *Sources) logger() *slog.Logger {
	if s.Logger != nil {
		return s.Logger
	}
	return slog.New(slog.DiscardHandler)
}

// poolOf returns the name and addresses of the pool of m's domain or team.
func (s *Sources) poolOf(ctx context.Context, m *Message) (string, []netip.Addr, error) {
	name := ""
	if s.Store != nil && m.TeamID != "" {
		key := m.TeamID + "\x00" + m.DomainID
		now := time.Now()
		s.mu.Lock()
		c, ok := s.cache[key]
		s.mu.Unlock()
		if ok && now.Sub(c.at) < poolCacheTTL {
			name = c.pool
		} else {
			p, err := s.Store.IPPoolFor(ctx, m.TeamID, m.DomainID)
			if err != nil {
				return "", nil, err
			}
			name = p
			s.mu.Lock()
			if s.cache == nil {
				s.cache = map[string]cachedPoolOf{}
			}
			s.cache[key] = cachedPoolOf{pool: p, at: now}
			s.mu.Unlock()
		}
	}
	if name == "" {
		name = ippool.Default
	}
	ips, ok := s.Pools[name]
	if !ok && name != ippool.Default {
		s.logger().Warn("delivery: the assigned IP pool is not configured (--ip-pool): sending from the default pool",
			"email_id", m.EmailID, "team_id", m.TeamID, "pool", name)
		name = ippool.Default
		ips = s.Pools[name]
	}
	return name, ips, nil
}

// pick chooses the source address for m's recipients todo at host of dest
// among addrs ("ip:port"), and returns the addresses of its family. When
// it cannot (every address at its warm-up cap, none of the right family,
// the store failing), the recipients are deferred with the reason and ok
// is false.
func (s *Sources) pick(ctx context.Context, dest, host string, addrs []string, m *Message, st *state, todo []int) (source, []string, bool) {
	pool, ips, err := s.poolOf(ctx, m)
	if err != nil {
		s.logger().Warn("delivery: could not read the IP pool assignment", "email_id", m.EmailID, "err", err)
		st.set(todo, host, 0, "", "internal error: could not read the sending IP pool; retried later", Deferred)
		return source{}, nil, false
	}
	if len(ips) == 0 {
		return source{}, addrs, true // no pool: not bound
	}
	now := s.now()
	group := warmup.Group(dest)
	day := warmup.DayKey(now)
	capped := false
	var families []bool // is4, in the order of addrs
	for _, a := range addrs {
		is4 := addrIs4(a)
		if len(families) == 0 || (len(families) == 1 && families[0] != is4) {
			families = append(families, is4)
		}
	}
	for _, is4 := range families {
		var cands []netip.Addr
		for _, ip := range ips {
			if ip.Is4() == is4 {
				cands = append(cands, ip)
			}
		}
		if len(cands) == 0 {
			continue
		}
		key := fmt.Sprintf("%s|%t", pool, is4)
		s.mu.Lock()
		if s.next == nil {
			s.next = map[string]int{}
		}
		first := s.next[key]
		s.next[key] = (first + 1) % len(cands)
		s.mu.Unlock()
		for i := range cands {
			ip := cands[(first+i)%len(cands)]
			limit, limited := s.Warmup.Cap(ip, group, now)
			if !limited {
				return source{ip: ip, pool: pool}, sameFamily(addrs, is4), true
			}
			if s.Store == nil {
				continue
			}
			fullKey := ip.String() + "|" + group + "|" + day
			s.mu.Lock()
			skip := time.Now().Before(s.full[fullKey])
			s.mu.Unlock()
			if skip {
				capped = true
				continue
			}
			ok, err := s.Store.TakeWarmup(ctx, ip.String(), group, day, limit)
			if err != nil {
				s.logger().Warn("delivery: could not count the warm-up", "email_id", m.EmailID, "ip", ip, "err", err)
				st.set(todo, host, 0, "", "internal error: could not count the sending IP's warm-up; retried later", Deferred)
				return source{}, nil, false
			}
			if ok {
				return source{ip: ip, pool: pool, dest: group, day: day}, sameFamily(addrs, is4), true
			}
			capped = true
			s.mu.Lock()
			if s.full == nil {
				s.full = map[string]time.Time{}
			}
			for k, until := range s.full { // the old days' and lapsed entries
				if time.Now().After(until) {
					delete(s.full, k)
				}
			}
			s.full[fullKey] = time.Now().Add(fullRecheck)
			s.mu.Unlock()
		}
	}
	if !capped {
		fam := "IPv6"
		if len(families) == 1 && families[0] {
			fam = "IPv4"
		}
		s.logger().Warn("delivery: the IP pool has no address of the MX host's family", "email_id", m.EmailID,
			"pool", pool, "host", host, "family", fam)
		st.set(todo, host, 0, "", fmt.Sprintf("the sending IP pool %s has no %s address, and the MX host %s has only %s addresses",
			pool, fam, host, fam), Deferred)
		return source{}, nil, false
	}
	next := warmup.NextDay(now)
	reason := fmt.Sprintf("held: every IP of the pool %s is at its warm-up cap for %s today; retried at %s",
		pool, group, next.Format(time.RFC3339))
	s.logger().Info("delivery: held by the warm-up cap", "email_id", m.EmailID, "pool", pool, "destination", group,
		"host", host, "retry_at", next)
	if s.Capped != nil {
		s.Capped(pool, group)
	}
	st.set(todo, host, 0, "", reason, Deferred)
	for _, i := range todo {
		st.results[i].retryAfter = max(next.Sub(now), time.Second)
		st.results[i].held = true
	}
	return source{}, nil, false
}

// done ends the use of src for the recipients todo at host: their results
// name the source address, and a message counted against the warm-up cap
// and delivered to nobody is uncounted.
func (s *Sources) done(src source, host string, st *state, todo []int) {
	delivered := false
	for _, i := range todo {
		r := &st.results[i]
		if r.Host != host {
			continue
		}
		if src.ip.IsValid() {
			r.SourceIP = src.ip.String()
		}
		if r.Outcome == Delivered {
			delivered = true
		}
	}
	if src.dest == "" {
		return
	}
	if delivered {
		if s.Sent != nil {
			s.Sent(src.ip.String(), src.dest)
		}
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.Store.ReturnWarmup(ctx, src.ip.String(), src.dest, src.day); err != nil {
		s.logger().Warn("delivery: could not uncount a warm-up message", "ip", src.ip, "err", err)
	}
}

func addrIs4(hostport string) bool {
	h, _, err := net.SplitHostPort(hostport)
	if err != nil {
		h = hostport
	}
	ip, err := netip.ParseAddr(h)
	return err == nil && ip.Unmap().Is4()
}

func sameFamily(addrs []string, is4 bool) []string {
	var out []string
	for _, a := range addrs {
		if addrIs4(a) == is4 {
			out = append(out, a)
		}
	}
	return out
}

// sourceKey carries the source address of a connection in its dial's
// context, from tryHost to dialClient, through the transport security
// code in between.
type sourceKey struct{}

func withSource(ctx context.Context, ip netip.Addr) context.Context {
	if !ip.IsValid() {
		return ctx
	}
	return context.WithValue(ctx, sourceKey{}, ip)
}

// localAddr is the address to bind a connection dialled with ctx to, nil
// for none.
func localAddr(ctx context.Context) net.Addr {
	ip, ok := ctx.Value(sourceKey{}).(netip.Addr)
	if !ok || !ip.IsValid() {
		return nil
	}
	return &net.TCPAddr{IP: ip.AsSlice()}
}

// CheckBindable reports an error naming the first address of ips this
// machine cannot send from (not assigned to one of its interfaces): a
// pool of such addresses would defer every message.
func CheckBindable(ips []netip.Addr) error {
	for _, ip := range ips {
		ln, err := net.Listen("tcp", net.JoinHostPort(ip.String(), "0"))
		if err != nil {
			return fmt.Errorf("sending IP %s cannot be bound on this machine (is it assigned to an interface?): %w", ip, err)
		}
		ln.Close()
	}
	return nil
}
