package delivery

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
	"github.com/stretchr/testify/require"

	"github.com/godwit/godwit/internal/destination"
	"github.com/godwit/godwit/internal/dnscheck"
	"github.com/godwit/godwit/internal/dnscheck/dnstest"
	"github.com/godwit/godwit/internal/godwittest"
	"github.com/godwit/godwit/internal/netguard"
	"github.com/godwit/godwit/internal/store"
)

func TestThrottledReplies(t *testing.T) {
	for _, tc := range []struct {
		code      int
		enh, text string
		want      bool
	}{
		{421, "4.7.0", "Try again later, closing connection.", true},
		{421, "", "Service not available", true},
		{451, "4.7.1", "Unusual rate of unsolicited mail", true},
		{450, "4.2.1", "The user you are trying to contact is receiving mail at a rate that prevents additional messages", true},
		{450, "", "Requested action aborted: too many messages, try again later", true},
		{451, "", "Sending rate exceeded for this sender", true},
		{450, "", "Connection throttled", true},
		{452, "4.5.3", "Too many recipients", false},
		{451, "4.3.0", "Local problem", false},
		{451, "4.3.0", "Try again later", false},
		{450, "4.2.0", "Greylisted, please try again later", false},
		{450, "4.2.0", "Mailbox busy", false},
		{451, "", "Temporary failure; moderated list, separate approval", false},
		{550, "5.7.1", "rate limited", false}, // permanent: a bounce, not a pause
		{0, "", "connect: connection refused", false},
	} {
		require.Equal(t, tc.want, throttled(tc.code, tc.enh, tc.text), "%d %s %s", tc.code, tc.enh, tc.text)
	}
}

// providerEnv publishes MX hosts on the loopback DNS server at their own
// 127.0.0.x addresses, all on one port, and delivers to them by resolving
// their names (no DialAddr).
type providerEnv struct {
	dns  *dnstest.Server
	port int
	log  *godwittest.LogBuffer
}

func newProviderEnv(t *testing.T) *providerEnv {
	return &providerEnv{dns: dnstest.NewServer(t), log: &godwittest.LogBuffer{}}
}

// addMX starts a fake MX for host at ip (on the environment's port) and
// publishes domain's MX record naming it.
func (e *providerEnv) addMX(t *testing.T, domain, host, ip string, o godwittest.MXOptions) *godwittest.MX {
	t.Helper()
	o.Addr = net.JoinHostPort(ip, "0")
	if e.port != 0 {
		o.Addr = net.JoinHostPort(ip, strconv.Itoa(e.port))
	}
	mx := godwittest.NewMX(t, o)
	if e.port == 0 {
		_, p, err := net.SplitHostPort(mx.Addr())
		require.NoError(t, err)
		e.port, err = strconv.Atoi(p)
		require.NoError(t, err)
	}
	e.dns.SetAddr(host, ip)
	e.dns.SetMX(domain, dnscheck.MX{Host: host, Preference: 10})
	return mx
}

func (e *providerEnv) transport(t *testing.T, limits string, th Throttle) *MXTransport {
	t.Helper()
	c, err := destination.Parse(limits)
	require.NoError(t, err)
	return &MXTransport{Resolver: e.dns.Addr(), Port: e.port, HELO: "out.godwit.test", Timeout: 2 * time.Second,
		Guard: netguard.Policy{AllowPrivate: true}, Destinations: c, Throttle: th,
		Logger: slog.New(slog.NewJSONHandler(e.log, nil))}
}

// inFlight counts the messages an MX (or several) is taking at once.
type inFlight struct {
	mu       sync.Mutex
	now, max int
}

// data is an MXOptions.Data that takes 150 ms over each message.
func (f *inFlight) data([]string, []byte) error {
	f.mu.Lock()
	f.now++
	f.max = max(f.max, f.now)
	f.mu.Unlock()
	time.Sleep(150 * time.Millisecond)
	f.mu.Lock()
	f.now--
	f.mu.Unlock()
	return nil
}

func (f *inFlight) most() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.max
}

// The MX hosts of one provider share its connections; two hosts of no
// provider have one budget each.
func TestProviderMXHostsShareOneBudget(t *testing.T) {
	e := newProviderEnv(t)
	var google, other inFlight
	g1 := e.addMX(t, "a.test", "mx1.google.com", "127.0.0.2", godwittest.MXOptions{Data: google.data})
	g2 := e.addMX(t, "b.test", "alt2.aspmx.l.google.com", "127.0.0.3", godwittest.MXOptions{Data: google.data})
	o1 := e.addMX(t, "c.test", "mx1.example.net", "127.0.0.4", godwittest.MXOptions{Data: other.data})
	o2 := e.addMX(t, "d.test", "mx2.example.net", "127.0.0.5", godwittest.MXOptions{Data: other.data})
	tr := e.transport(t, "gmail:connections=2,other:connections=2", Throttle{})

	var wg sync.WaitGroup
	for _, domain := range []string{"a.test", "b.test", "c.test", "d.test"} {
		for i := range 5 {
			wg.Go(func() {
				res := deliver(t, tr, domain, testMsg(fmt.Sprintf("r%d@%s", i, domain)))
				require.Equal(t, Delivered, res[0].Outcome, res[0].Message)
			})
		}
	}
	wg.Wait()
	for _, mx := range []*godwittest.MX{g1, g2, o1, o2} {
		require.Equal(t, 5, mx.Count())
		require.LessOrEqual(t, mx.MaxOpen(), 2)
	}
	// Gmail's two hosts never took more than 2 messages together; the two
	// other hosts took more than 2 at once (2 each).
	require.Equal(t, 2, google.most())
	require.Greater(t, other.most(), 2)
}

// A connection carries a destination's messages per connection, then a
// new one is opened; a rate spaces the messages out.
func TestDestinationMessagesPerConnectionAndRate(t *testing.T) {
	e := newProviderEnv(t)
	mx := e.addMX(t, "a.test", "mx1.google.com", "127.0.0.2", godwittest.MXOptions{})
	tr := e.transport(t, "gmail:messages=2/rate=20", Throttle{})
	start := time.Now()
	for i := range 5 {
		res := deliver(t, tr, "a.test", testMsg(fmt.Sprintf("r%d@a.test", i)))
		require.Equal(t, Delivered, res[0].Outcome, res[0].Message)
	}
	require.GreaterOrEqual(t, time.Since(start), 4*50*time.Millisecond, "5 messages at 20/s")
	require.Equal(t, 5, mx.Count())
	// 2 + 2 + 1 messages per connection; each connection is 2 sessions (a
	// STARTTLS probe the MX does not answer, then plain SMTP).
	require.Equal(t, 6, mx.Sessions())
}

// A destination that answers 421 is paused (nothing connects meanwhile,
// the attempts say why), then resumes with nothing lost; a second 421
// before it recovered pauses it twice as long; deliveries then recover
// its concurrency step by step.
func TestThrottle421PausesAndResumes(t *testing.T) {
	e := newProviderEnv(t)
	var calls atomic.Int32
	mx := e.addMX(t, "a.test", "mx1.google.com", "127.0.0.2", godwittest.MXOptions{
		Data: func([]string, []byte) error {
			switch calls.Add(1) {
			case 4, 6: // after 3 messages, and again just after the first pause
				return &smtp.SMTPError{Code: 421, EnhancedCode: smtp.EnhancedCode{4, 7, 0}, Message: "Try again later, closing connection."}
			}
			return nil
		}})
	var mu sync.Mutex
	var paused []bool
	tr := e.transport(t, "", Throttle{BasePause: time.Second, RecoverAfter: 3, Paused: func(dest string, p bool) {
		require.Equal(t, "gmail", dest)
		mu.Lock()
		paused = append(paused, p)
		mu.Unlock()
	}})
	const first = "destination gmail paused for 1s after 421 4.7.0 Try again later, closing connection. from mx1.google.com"
	const second = "destination gmail paused for 2s after 421 4.7.0 Try again later, closing connection. from mx1.google.com"

	pending := []string{}
	for i := range 8 {
		pending = append(pending, fmt.Sprintf("r%d@a.test", i))
	}
	var reasons []string
	deadline := time.Now().Add(20 * time.Second)
	for len(pending) > 0 {
		require.True(t, time.Now().Before(deadline), "still pending: %v", pending)
		res := deliver(t, tr, "a.test", testMsg(pending[0]))[0]
		if res.Outcome == Delivered {
			pending = pending[1:]
			continue
		}
		require.Equal(t, Deferred, res.Outcome, res.Message)
		require.Equal(t, 421, res.Code)
		require.Positive(t, res.retryAfter)
		reasons = append(reasons, res.Message)
		if len(reasons) == 1 {
			require.Equal(t, 10, tr.throttler.connections("gmail", 20), "one level down: 20/2")
			// During the pause, another message is deferred without a
			// connection, with the same reason.
			sessions := mx.Sessions()
			during := deliver(t, tr, "a.test", testMsg("during@a.test"))[0]
			require.Equal(t, Deferred, during.Outcome)
			require.Equal(t, first, during.Message)
			require.Positive(t, during.retryAfter)
			require.LessOrEqual(t, during.retryAfter, time.Second)
			require.Equal(t, sessions, mx.Sessions(), "no connection while paused")
			pending = append(pending, "during@a.test")
		}
		if len(reasons) == 2 {
			require.Equal(t, 5, tr.throttler.connections("gmail", 20), "two levels down: 20/4")
		}
		time.Sleep(res.retryAfter) // the worker's retry, as the Result asks
	}
	require.Equal(t, []string{first, second}, reasons)

	got := map[string]int{}
	for _, m := range mx.Messages() {
		for _, r := range m.Rcpts {
			got[r]++
		}
	}
	require.Len(t, got, 9, "every recipient delivered once: %v", got)
	for r, n := range got {
		require.Equal(t, 1, n, r)
	}
	// Recovery step by step: 5 deliveries since the second pause, at 3 per
	// level, took one level back; the 6th takes the last.
	require.Equal(t, 10, tr.throttler.connections("gmail", 20))
	require.Equal(t, Delivered, deliver(t, tr, "a.test", testMsg("last@a.test"))[0].Outcome)
	require.Equal(t, 20, tr.throttler.connections("gmail", 20))
	mu.Lock()
	require.Equal(t, []bool{true, false, true, false}, paused)
	mu.Unlock()
	recs := e.log.Records(t, "delivery: destination paused")
	require.Len(t, recs, 2)
	require.Equal(t, "gmail", recs[0]["destination"])
	require.Equal(t, "mx1.google.com", recs[0]["host"])
	require.Len(t, e.log.Records(t, "delivery: destination resumed"), 2)
}

// The worker records the pause's reason in the email's attempts, retries
// when the pause ends, and delivers everything once the destination takes
// mail again: on both stores.
func TestWorkerThrottledDestination(t *testing.T) {
	for _, kind := range godwittest.Kinds {
		t.Run(string(kind), func(t *testing.T) {
			e := newWorkerEnv(t, kind, godwittest.MXOptions{})
			e.dns.SetMX("example.test", dnscheck.MX{Host: "mx1.google.com", Preference: 10})
			tr := e.w.Transport.(*MXTransport)
			tr.Throttle = Throttle{Now: e.clock.Now}
			e.mx.setDataReply("bob@example.test", &smtp.SMTPError{Code: 421, EnhancedCode: smtp.EnhancedCode{4, 7, 28},
				Message: "Our system has detected an unusual rate of unsolicited mail. Try again later."})
			const reason = "destination gmail paused for 30s after 421 4.7.28 Our system has detected an unusual rate of unsolicited mail. Try again later. from mx1.google.com"

			bob := e.accept(`{"from":"a@example.com","to":"bob@example.test","subject":"s","text":"hi"}`)
			var retry *Retry
			require.ErrorAs(t, e.deliver(bob, nil, 1), &retry)
			require.Equal(t, 30*time.Second, retry.After)
			// Another email to the paused destination: deferred without a
			// connection, retried when the pause ends.
			sessions := e.mx.Sessions()
			e.clock.Advance(10 * time.Second)
			carol := e.accept(`{"from":"a@example.com","to":"carol@example.test","subject":"s","text":"hi"}`)
			require.ErrorAs(t, e.deliver(carol, nil, 1), &retry)
			require.Equal(t, 20*time.Second, retry.After)
			require.Equal(t, sessions, e.mx.Sessions())

			for _, em := range []*store.Email{bob, carol} {
				atts, err := e.db.ListDeliveryAttempts(context.Background(), e.team.ID, em.ID)
				require.NoError(t, err)
				require.Len(t, atts, 1)
				require.Equal(t, store.OutcomeDeferred, atts[0].Outcome)
				require.Equal(t, reason, atts[0].Response)
			}
			// The queue view (GET /queue, the dashboard, godwit queue) says why.
			waiting, _, err := e.db.ListWaitingEmails(context.Background(), e.team.ID, "", store.Page{Limit: 10})
			require.NoError(t, err)
			require.Len(t, waiting, 2)
			for _, w := range waiting {
				require.True(t, strings.HasPrefix(w.Reason(), "deferred: mx1.google.com: ") && strings.Contains(w.Reason(), reason), w.Reason())
			}

			// The pause ends and the destination takes mail again.
			e.mx.setDataReply("bob@example.test", nil)
			e.clock.Advance(21 * time.Second)
			for _, em := range []*store.Email{bob, carol} {
				require.NoError(t, e.deliver(em, nil, 2))
				require.Contains(t, e.events(em), store.EventDelivered)
			}
			require.Equal(t, 2, e.mx.Count())
		})
	}
}

// The pause doubles with each throttling reply up to MaxPause, a reply
// during a pause changes nothing, and a destination recovered to full
// speed starts over at BasePause.
func TestThrottlePauseGrowsAndResets(t *testing.T) {
	clock := godwittest.NewClock(w0)
	th := newThrottler(Throttle{Now: clock.Now, RecoverAfter: 1}, nil)
	var pauses []time.Duration
	for range 9 {
		th.hit("gmail", "mx1.google.com", 421, "4.7.0", "Try again later")
		left, reason := th.pausedFor("gmail")
		require.Contains(t, reason, "destination gmail paused for "+left.String()+" after 421 4.7.0 Try again later from mx1.google.com")
		th.hit("gmail", "mx2.google.com", 421, "4.7.0", "Try again later") // during the pause: ignored
		again, _ := th.pausedFor("gmail")
		require.Equal(t, left, again)
		pauses = append(pauses, left)
		clock.Advance(left)
	}
	require.Equal(t, []time.Duration{30 * time.Second, time.Minute, 2 * time.Minute, 4 * time.Minute, 8 * time.Minute,
		16 * time.Minute, 30 * time.Minute, 30 * time.Minute, 30 * time.Minute}, pauses)
	require.Equal(t, 1, th.connections("gmail", 20), "halved down to one connection")
	for range maxThrottleLevel {
		th.ok("gmail")
	}
	require.Equal(t, 20, th.connections("gmail", 20))
	th.hit("gmail", "mx1.google.com", 421, "4.7.0", "Try again later")
	left, _ := th.pausedFor("gmail")
	require.Equal(t, 30*time.Second, left, "starts over")
	require.Equal(t, 10, th.connections("gmail", 20))
	left, _ = th.pausedFor("yahoo")
	require.Zero(t, left, "other destinations go on")
}

// A pause that ends without a message going ahead, followed by another
// throttling reply (a message under way all along), is reported paused
// once: the gauge counts destinations, not pauses.
func TestThrottlePausedReportedOnce(t *testing.T) {
	clock := godwittest.NewClock(w0)
	var reports []bool
	th := newThrottler(Throttle{Now: clock.Now, Paused: func(_ string, p bool) { reports = append(reports, p) }}, nil)
	th.hit("gmail", "mx1.google.com", 421, "", "Try again later")
	clock.Advance(time.Minute)
	th.hit("gmail", "mx1.google.com", 421, "", "Try again later")
	clock.Advance(2 * time.Minute)
	left, _ := th.pausedFor("gmail")
	require.Zero(t, left)
	require.Equal(t, []bool{true, false}, reports)
}
