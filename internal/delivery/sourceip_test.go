package delivery

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/godwit/godwit/internal/dnscheck"
	"github.com/godwit/godwit/internal/godwittest"
	"github.com/godwit/godwit/internal/ippool"
	"github.com/godwit/godwit/internal/store"
	"github.com/godwit/godwit/internal/store/sqlstore"
	"github.com/godwit/godwit/internal/warmup"
)

// Source addresses on Linux loopback: all of 127.0.0.0/8 is local
// without configuration.
var (
	src2 = netip.MustParseAddr("127.0.0.2")
	src3 = netip.MustParseAddr("127.0.0.3")
	src4 = netip.MustParseAddr("127.0.0.4")
)

func requireLoopbackSources(t *testing.T) {
	t.Helper()
	if err := CheckBindable([]netip.Addr{src2, src3, src4}); err != nil {
		t.Skipf("this machine cannot bind 127.0.0.2-4: %v", err)
	}
}

// sources returns the senders' source addresses of the messages the MX
// kept, in order.
func sources(mx *testMX) []string {
	var out []string
	for _, m := range mx.Messages() {
		out = append(out, m.Source)
	}
	return out
}

func countOf(list []string, s string) int {
	n := 0
	for _, x := range list {
		if x == s {
			n++
		}
	}
	return n
}

// useSources makes the worker's transport bind to the pools, with a
// fresh transport (no idle connections, no cached assignments).
func (e *workerEnv) useSources(pools ippool.Pools, wu warmup.Config, db SourceStore) *Sources {
	old := e.w.Transport.(*MXTransport)
	s := &Sources{Pools: pools, Warmup: wu, Store: db, Now: e.clock.Now}
	e.w.Transport = &MXTransport{Resolver: old.Resolver, HELO: old.HELO, Timeout: old.Timeout, Guard: old.Guard,
		DialAddr: old.DialAddr, Sources: s}
	return s
}

func (e *workerEnv) send(n int) []*store.Email {
	e.t.Helper()
	var out []*store.Email
	for i := range n {
		em := e.accept(fmt.Sprintf(`{"from":"a@example.com","to":["r%d@example.test"],"subject":"s","text":"hi"}`, i))
		err := e.deliver(em, nil, 1)
		var retry *Retry
		if err != nil && !errorsAs(err, &retry) {
			require.NoError(e.t, err)
		}
		out = append(out, em)
	}
	return out
}

func errorsAs(err error, r **Retry) bool {
	x, ok := err.(*Retry)
	if ok {
		*r = x
	}
	return ok
}

// TestSourcesSpreadOverThePool: the messages of the default pool go out
// from each of its addresses in turn, with the configured EHLO name, and
// each address's connection is reused for its next message.
func TestSourcesSpreadOverThePool(t *testing.T) {
	requireLoopbackSources(t)
	// Unbound, the messages share one connection: the sessions it takes
	// (the MX offers no STARTTLS: the try with it, then plaintext).
	base := newWorkerEnv(t, sqlstore.SQLite, godwittest.MXOptions{})
	base.send(6)
	perConn := base.mx.Sessions()

	e := newWorkerEnv(t, sqlstore.SQLite, godwittest.MXOptions{})
	e.useSources(ippool.Pools{ippool.Default: {src2, src3}}, warmup.Config{}, e.db)
	e.send(6)
	got := sources(e.mx)
	require.Len(t, got, 6)
	require.Equal(t, 3, countOf(got, "127.0.0.2"), got)
	require.Equal(t, 3, countOf(got, "127.0.0.3"), got)
	for _, m := range e.mx.Messages() {
		require.Equal(t, "out.godwit.test", m.Helo)
	}
	require.Equal(t, 2*perConn, e.mx.Sessions(), "one connection per source address, reused")
}

// TestSourcesPoolPerTeamAndDomain: a team's assigned pool is used for its
// emails, its domain's pool wins over it, and unassigned they go back to
// the default pool.
func TestSourcesPoolPerTeamAndDomain(t *testing.T) {
	requireLoopbackSources(t)
	ctx := context.Background()
	e := newWorkerEnv(t, sqlstore.SQLite, godwittest.MXOptions{})
	pools := ippool.Pools{ippool.Default: {src2}, "bulk": {src3}, "tx": {src4}}

	e.useSources(pools, warmup.Config{}, e.db)
	e.send(1)
	require.NoError(t, e.db.SetIPPool(ctx, e.team.ID, "", "bulk"))
	e.useSources(pools, warmup.Config{}, e.db)
	e.send(1)
	require.NoError(t, e.db.SetIPPool(ctx, e.team.ID, e.domain.ID, "tx"))
	e.useSources(pools, warmup.Config{}, e.db)
	e.send(1)
	require.NoError(t, e.db.SetIPPool(ctx, e.team.ID, e.domain.ID, "gone"))
	e.useSources(pools, warmup.Config{}, e.db)
	e.send(1)
	require.Equal(t, []string{"127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.2"}, sources(e.mx),
		"default, the team's, the domain's, a pool no longer configured: the default")
}

// TestSourcesFamily: an IPv4 MX gets an IPv4 source; a pool without an
// address of the MX's family defers with the reason, unbound.
func TestSourcesFamily(t *testing.T) {
	requireLoopbackSources(t)
	e := newWorkerEnv(t, sqlstore.SQLite, godwittest.MXOptions{})
	e.useSources(ippool.Pools{ippool.Default: {netip.MustParseAddr("::1")}}, warmup.Config{}, e.db)
	em := e.send(1)[0]
	require.Zero(t, e.mx.Count())
	attempts, err := e.db.ListDeliveryAttempts(context.Background(), e.team.ID, em.ID)
	require.NoError(t, err)
	require.Len(t, attempts, 1)
	require.Equal(t, store.OutcomeDeferred, attempts[0].Outcome)
	require.Contains(t, attempts[0].Response, "has no IPv4 address")

	e.useSources(ippool.Pools{ippool.Default: {netip.MustParseAddr("::1"), src3}}, warmup.Config{}, e.db)
	e.send(1)
	require.Equal(t, []string{"127.0.0.3"}, sources(e.mx))
}

// TestWarmupCapHolds: a warming-up address sends at most its day's cap to
// a provider; the next message stays queued with the reason in its
// attempts and the queue view, is not bounced when the queue age passes,
// and goes out the next day, when the cap has risen.
func TestWarmupCapHolds(t *testing.T) {
	requireLoopbackSources(t)
	for _, kind := range godwittest.Kinds {
		t.Run(string(kind), func(t *testing.T) {
			ctx := context.Background()
			e := newWorkerEnv(t, kind, godwittest.MXOptions{})
			e.dns.SetMX("example.test", dnscheck.MX{Host: "gmail-smtp-in.l.google.com", Preference: 10})
			e.w.MaxQueueAge = time.Minute
			wu, err := warmup.New("gmail:start=3/double=1/ceiling=1000", map[netip.Addr]time.Time{src2: e.clock.Now()})
			require.NoError(t, err)
			var capped []string
			s := e.useSources(ippool.Pools{ippool.Default: {src2}}, wu, e.db)
			s.Capped = func(pool, dest string) { capped = append(capped, pool+"/"+dest) }

			ems := e.send(4)
			require.Equal(t, []string{"127.0.0.2", "127.0.0.2", "127.0.0.2"}, sources(e.mx), "day 1: a cap of 3")
			held := ems[3]
			require.Equal(t, store.EventDeliveryDelayed, e.lastEvent(held))
			require.Equal(t, []string{"default/gmail"}, capped)
			attempts, err := e.db.ListDeliveryAttempts(ctx, e.team.ID, held.ID)
			require.NoError(t, err)
			require.Len(t, attempts, 1)
			require.Contains(t, attempts[0].Response, "held: every IP of the pool default is at its warm-up cap for gmail today")
			waiting, _, err := e.db.ListWaitingEmails(ctx, e.team.ID, "", store.Page{Limit: 10})
			require.NoError(t, err)
			require.Len(t, waiting, 1)
			require.Contains(t, waiting[0].Reason(), "warm-up cap for gmail")
			next := waiting[0].NextAttempt()
			require.Equal(t, warmup.NextDay(e.clock.Now()), next.UTC(), "retried when the next day begins")

			// Past the queue's maximum age the same day: still held, not bounced.
			e.clock.Advance(2 * time.Minute)
			require.Error(t, e.deliver(held, nil, 2))
			require.Equal(t, store.EventDeliveryDelayed, e.lastEvent(held))
			require.Equal(t, 3, e.mx.Count())

			// The next day: the cap is 6.
			e.clock.Advance(24 * time.Hour)
			require.NoError(t, e.deliver(held, nil, 3))
			require.Equal(t, store.EventDelivered, e.lastEvent(held))
			e.send(6)
			require.Equal(t, 3+6, e.mx.Count(), "day 2: a cap of 6, the held one included")
		})
	}
}

// TestWarmupCapAcrossRestart: the day's count is the store's, so a new
// transport (a restarted worker) on a reopened store, or a second node,
// sends no more than the cap.
func TestWarmupCapAcrossRestart(t *testing.T) {
	requireLoopbackSources(t)
	for _, kind := range godwittest.Kinds {
		t.Run(string(kind), func(t *testing.T) {
			ctx := context.Background()
			url := godwittest.StoreURL(t, kind)
			open := func() *sqlstore.DB {
				db, err := sqlstore.Open(ctx, url, sqlstore.Options{Outbox: godwittest.NewOutbox()})
				require.NoError(t, err)
				t.Cleanup(func() { _ = db.Close() })
				return db
			}
			clock := godwittest.NewClock(w0)
			env := newMXEnv(t)
			mx := env.addMX(t, "mx.example.test", godwittest.MXOptions{})
			env.dns.SetMX("example.test", dnscheck.MX{Host: "mx.example.test", Preference: 10})
			wu, err := warmup.New("other:start=2/double=1/ceiling=100", map[netip.Addr]time.Time{src2: w0, src3: w0})
			require.NoError(t, err)
			node := func(db *sqlstore.DB) *MXTransport {
				tr := env.transport(t)
				tr.Sources = &Sources{Pools: ippool.Pools{ippool.Default: {src2, src3}}, Warmup: wu, Store: db, Now: clock.Now}
				return tr
			}
			deliver := func(tr *MXTransport, n int) (delivered, held int) {
				for i := range n {
					res := tr.Deliver(ctx, testMsg(fmt.Sprintf("r%d@example.test", i)))
					require.Len(t, res, 1)
					switch {
					case res[0].Outcome == Delivered:
						delivered++
					case res[0].held && strings.Contains(res[0].Message, "warm-up cap for other"):
						held++
					default:
						t.Fatalf("unexpected result %+v", res[0])
					}
				}
				return delivered, held
			}

			db := open()
			d, h := deliver(node(db), 3)
			require.Equal(t, 3, d, "2 from each address a day")
			require.Zero(t, h)
			require.NoError(t, db.Close())

			// Restarted, and a second node beside it.
			db1, db2 := open(), open()
			a, b := node(db1), node(db2)
			d1, h1 := deliver(a, 1)
			d2, h2 := deliver(b, 2)
			require.Equal(t, 1, d1+d2, "the fourth message, then the cap")
			require.Equal(t, 2, h1+h2)
			got := sources(mx)
			require.Len(t, got, 4)
			require.Equal(t, 2, countOf(got, "127.0.0.2"), got)
			require.Equal(t, 2, countOf(got, "127.0.0.3"), got)

			clock.Advance(24 * time.Hour)
			d, h = deliver(a, 10)
			require.Equal(t, 8, d, "day 2: 4 from each address")
			require.Equal(t, 2, h)
		})
	}
}

// TestWarmupSchedule: the default ramp starts at 50 and ends in 4 to 6
// weeks; the cap rises every day.
func TestWarmupSchedule(t *testing.T) {
	s := warmup.DefaultSchedule
	c1, ok := s.Cap(1)
	require.True(t, ok)
	require.Equal(t, 50, c1)
	prev := c1
	for d := 2; d < s.Days(); d++ {
		c, ok := s.Cap(d)
		require.True(t, ok)
		require.Greater(t, c, prev, "day %d", d)
		prev = c
	}
	require.GreaterOrEqual(t, s.Days(), 28)
	require.LessOrEqual(t, s.Days(), 42)
	_, ok = s.Cap(s.Days())
	require.False(t, ok, "warm-up over: no cap")
}

// TestWarmupUncountsWhatWasNotDelivered: a message deferred by the
// receiver gives its place back; one delivered keeps it.
func TestWarmupUncountsWhatWasNotDelivered(t *testing.T) {
	requireLoopbackSources(t)
	ctx := context.Background()
	db := godwittest.NewStore(t, sqlstore.SQLite, nil)
	env := newMXEnv(t)
	mx := env.addMX(t, "mx.example.test", godwittest.MXOptions{})
	mx.setFault("busy@example.test", tempFail)
	env.dns.SetMX("example.test", dnscheck.MX{Host: "mx.example.test", Preference: 10})
	wu, err := warmup.New("", map[netip.Addr]time.Time{src2: w0})
	require.NoError(t, err)
	clock := godwittest.NewClock(w0)
	var sent []string
	tr := env.transport(t)
	tr.Sources = &Sources{Pools: ippool.Pools{ippool.Default: {src2}}, Warmup: wu, Store: db, Now: clock.Now,
		Sent: func(ip, dest string) { sent = append(sent, ip+"/"+dest) }}
	res := tr.Deliver(ctx, testMsg("busy@example.test"))
	require.Equal(t, Deferred, res[0].Outcome)
	require.False(t, res[0].held)
	require.Equal(t, "127.0.0.2", res[0].SourceIP)
	res = tr.Deliver(ctx, testMsg("ok@example.test"))
	require.Equal(t, Delivered, res[0].Outcome)
	require.Equal(t, "127.0.0.2", res[0].SourceIP, "for the log line of the outcome")
	counts, err := db.WarmupCounts(ctx, warmup.DayKey(w0))
	require.NoError(t, err)
	require.Equal(t, []*store.WarmupCount{{IP: "127.0.0.2", Destination: "other", Day: "2026-11-28", Sent: 1}}, counts)
	require.Equal(t, []string{"127.0.0.2/other"}, sent)
}
