package e2e

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/godwit/godwit/internal/dnscheck"
	"github.com/godwit/godwit/internal/dnscheck/dnstest"
	"github.com/godwit/godwit/internal/godwittest"
	"github.com/godwit/godwit/internal/store/sqlstore"
)

// The scale-out test's shape: its load, limits and bounds.
const (
	scaleRateLimit  = 20               // --rate-limit: the team's requests per second, in all
	scaleMaxPerHost = 3                // --max-per-host: connections to the sink, in all (--connection-limiter)
	scaleWorkers    = 8                // --workers of each worker node
	scaleOffered    = 50               // requests per second the client offers
	scaleLoadFor    = 12 * time.Second // how long it offers them
	scaleKillAfter  = 4 * time.Second  // when, into the load, it kills a worker and an API node
	scaleRestartIn  = time.Second      // how long they stay dead
	scaleDrain      = 75 * time.Second // every 200 delivered within this of the load's end
	scaleSender     = "scale.test"     // the team's verified sending domain
	scaleRecipients = "sink.test"      // the recipients' domain: its MX is the sink
)

// scaleSingletons is the periodic work that runs on one node at a time.
var scaleSingletons = []string{"periodic sweeps", "domain verification"}

// lead is a node's taking the lead of a singleton, by its log line.
type lead struct {
	at   time.Time
	node *scaleNode
}

// scaleNode is one node of the cluster: its role, its arguments (kept to
// restart it), its process, and the processes it ran before.
type scaleNode struct {
	name    string
	args    []string
	s       *server
	metrics string     // host:port of its /metrics
	past    []*server  // earlier processes, killed
	killed  time.Time  // when the last of them was sent SIGKILL
	mu      sync.Mutex // guards s while the client reads url
}

func (n *scaleNode) url() string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.s.url
}

func (n *scaleNode) start(t *testing.T) {
	t.Helper()
	s := start(t, n.args...)
	addr := loggedAddr(t, s, "serving metrics", "addr")
	n.mu.Lock()
	n.s, n.metrics = s, addr
	n.mu.Unlock()
}

// kill SIGKILLs the node's process and waits for it to end. The time it
// records is the signal's: the process's sessions (and the locks they
// hold) end as it dies, and another node may take a lock over before this
// goroutine sees the process reaped (CI saw a leader 15 ms before that).
func (n *scaleNode) kill(t *testing.T) {
	t.Helper()
	at := time.Now()
	require.NoError(t, n.s.cmd.Process.Kill())
	<-n.s.done
	n.mu.Lock()
	n.past, n.killed = append(n.past, n.s), at
	n.mu.Unlock()
}

// processes is every process the node ran, the current one last.
func (n *scaleNode) processes() []*server { return append(slices.Clone(n.past), n.s) }

// sent is one request of the load, as the client saw it.
type sent struct {
	start, end time.Time
	status     int // 0: no answer (the node was down)
	id         string
}

// TestScaleOut runs two API nodes and two worker nodes of the real binary
// on one PostgreSQL (and Redis), delivering to a loopback MX (the sink)
// through a loopback DNS server, under a round-robin load of sends at a
// rate over the team's limit. Meanwhile it SIGKILLs a worker caught in the
// middle of a delivery (the sink holds the DATA answer until the kill)
// and an API node, and restarts them. Then every email answered 200 was
// delivered; the duplicates are no more than the emails of the jobs the
// survivors rescued (godwit_delivery_emails_rescued_total); no second of
// the clock saw more 200s than the limit, across both API nodes; the sink
// never had more than --max-per-host connections open from all workers;
// and the periodic sweeps ran on one node at a time. With Redis (rate and
// connection limits counted there) and without (in the database).
func TestScaleOut(t *testing.T) {
	for _, limiter := range []string{"redis", "database"} {
		t.Run(limiter, func(t *testing.T) {
			if limiter == "redis" {
				godwittest.RequireRedis(t)
			}
			testScaleOut(t, limiter)
		})
	}
}

func testScaleOut(t *testing.T, limiter string) {
	db := godwittest.StoreURL(t, sqlstore.Postgres) // skips without PostgreSQL, fails in CI
	dns := dnstest.NewServer(t)
	const loopback = "127.0.0.1"
	dns.SetMX(scaleRecipients, dnscheck.MX{Host: "mx." + scaleRecipients, Preference: 10})
	dns.SetAddr("mx."+scaleRecipients, loopback)

	// The sink holds the first message of the worker to be killed, once
	// armed, until that worker is dead: a delivery in flight at the kill.
	var armed atomic.Bool
	caught, release := make(chan struct{}), make(chan struct{})
	var catchOnce sync.Once
	const victimHost = "w1.scale.test"
	sink := godwittest.NewMX(t, godwittest.MXOptions{Domain: "mx." + scaleRecipients, DataDelay: 10 * time.Millisecond,
		BeforeData: func(helo string) {
			if helo != victimHost || !armed.Load() {
				return
			}
			first := false
			catchOnce.Do(func() { first = true; close(caught) })
			if first {
				select {
				case <-release:
				case <-time.After(30 * time.Second):
				}
			}
		}})
	_, mxPort, err := net.SplitHostPort(sink.Addr())
	require.NoError(t, err)

	common := []string{"--database-url", db, "--secret-key", strings.Repeat("5c", 32),
		"--rate-limit", strconv.Itoa(scaleRateLimit), "--rate-limiter", limiter,
		// The limit is to hold exactly: a limiter call that fails (times out
		// on a loaded machine) answers 429 instead of letting the request by.
		"--rate-limit-fail-open=false",
		"--dns-resolver", dns.Addr(), "--delivery", "mx", "--mx-port", mxPort, "--allow-private-networks",
		"--max-per-host", strconv.Itoa(scaleMaxPerHost), "--metrics-addr", "127.0.0.1:0"}
	if limiter == "redis" {
		common = append(common, "--redis-url", godwittest.RedisURL())
	}
	common = append(common, "--connection-limiter", limiter)
	node := func(name, role string) *scaleNode {
		return &scaleNode{name: name, args: append([]string{"--data-dir", t.TempDir(), "--role", role,
			"--hostname", name + ".scale.test", "--workers", strconv.Itoa(scaleWorkers)}, common...)}
	}
	api1, api2, w1, w2 := node("api1", "api"), node("api2", "api"), node("w1", "worker"), node("w2", "worker")
	nodes := []*scaleNode{api1, api2, w1, w2}
	api1.start(t)
	key := firstKey(t, api1.s)
	for _, n := range nodes[1:] {
		n.start(t)
	}
	verifiedDomain(t, api1.s, key, dns, scaleSender)

	// The load: scaleOffered requests a second, round robin over the API
	// nodes, from a few clients at once.
	var (
		mu   sync.Mutex
		reqs []sent
		next atomic.Int64
		wg   sync.WaitGroup
	)
	apis := []*scaleNode{api1, api2}
	tokens := make(chan int)
	loadStart := time.Now()
	go func() {
		defer close(tokens)
		tick := time.NewTicker(time.Second / scaleOffered)
		defer tick.Stop()
		for i := 0; time.Since(loadStart) < scaleLoadFor; i++ {
			<-tick.C
			tokens <- i
		}
	}()
	for range 6 {
		wg.Go(func() {
			for i := range tokens {
				n := apis[next.Add(1)%int64(len(apis))]
				r := sent{start: time.Now()}
				status, body, err := request("POST", n.url()+"/emails", key, fmt.Sprintf(
					`{"from":"App <app@%s>","to":"user%d@%s","subject":"load %d","text":"x"}`, scaleSender, i, scaleRecipients, i))
				r.end = time.Now()
				if err == nil {
					r.status = status
					if status == 200 {
						r.id, _ = body["id"].(string)
					}
				}
				mu.Lock()
				reqs = append(reqs, r)
				mu.Unlock()
			}
		})
	}

	// The kills: a worker in the middle of a delivery, and an API node.
	time.Sleep(time.Until(loadStart.Add(scaleKillAfter)))
	armed.Store(true)
	select {
	case <-caught:
	case <-time.After(15 * time.Second):
		t.Fatalf("no delivery of %s reached the sink within 15 s of arming", victimHost)
	}
	w1.kill(t)
	api1.kill(t)
	close(release) // the sink keeps the message: its sender never heard the answer
	t.Logf("killed w1 and api1 %s into the load", time.Since(loadStart).Round(time.Millisecond))
	time.Sleep(scaleRestartIn)
	w1.start(t)
	api1.start(t)
	wg.Wait()
	loadEnd := time.Now()

	mu.Lock()
	defer mu.Unlock()
	codes := map[int]int{}
	var accepted []string
	for _, r := range reqs {
		codes[r.status]++
		if r.status == 200 {
			require.NotEmpty(t, r.id)
			accepted = append(accepted, r.id)
		}
	}
	t.Logf("%s: %d requests in %s: by status %v (0: no answer)", limiter, len(reqs), loadEnd.Sub(loadStart).Round(time.Millisecond), codes)
	for code, n := range codes {
		require.True(t, code == 0 || code == 200 || code == 429, "%d answers %d: only 200 and 429 (0: no answer)", n, code)
	}
	require.Greater(t, codes[429], 0, "the load went over the limit")

	// Every 200 is delivered.
	missing := func() []string {
		seen := sink.MessageIDs()
		var out []string
		for _, id := range accepted {
			if seen["<"+id+"@"+scaleSender+">"] == 0 {
				out = append(out, id)
			}
		}
		return out
	}
	deadline := loadEnd.Add(scaleDrain)
	for m := missing(); len(m) > 0; m = missing() {
		if time.Now().After(deadline) {
			require.FailNow(t, "accepted emails not delivered", "%d of %d missing %s after the load, e.g. %s",
				len(m), len(accepted), scaleDrain, strings.Join(m[:min(3, len(m))], ", "))
		}
		time.Sleep(50 * time.Millisecond)
	}
	drained := time.Since(loadEnd)

	// Duplicates: no more than the emails of the rescued jobs.
	total, dups := 0, 0
	for _, n := range sink.MessageIDs() {
		total += n
		dups += n - 1
	}
	var rescuedJobs, rescuedEmails float64
	for _, n := range nodes {
		m := scrape(t, n.metrics)
		rescuedJobs += m[`godwit_jobs_rescued_total{kind="deliver"}`]
		rescuedEmails += m["godwit_delivery_emails_rescued_total"]
	}
	t.Logf("%s: %d accepted, all delivered %s after the load; %d messages at the sink, %d duplicates; the survivors rescued %v delivery jobs holding %v emails; at most %d connections at once",
		limiter, len(accepted), drained.Round(100*time.Millisecond), total, dups, rescuedJobs, rescuedEmails, sink.MaxOpen())
	require.GreaterOrEqual(t, rescuedJobs, 1.0, "the job caught in flight at the kill was rescued")
	require.LessOrEqual(t, float64(dups), rescuedEmails, "duplicates are bounded by the emails of the rescued jobs")

	// The rate limit held across both API nodes: a request is counted in
	// the second (of the one clock the processes share) in which a node
	// received it, between its start and its end as the client saw them.
	// Those that fit in one second add up to no more than the limit, and
	// all of them to no more than the limit times the seconds they span.
	perSecond := map[int64]int{}
	for _, r := range reqs {
		if r.status == 200 && r.start.Unix() == r.end.Unix() {
			perSecond[r.start.Unix()]++
		}
	}
	for sec, n := range perSecond {
		require.LessOrEqual(t, n, scaleRateLimit, "200s in the second %s", time.Unix(sec, 0).UTC().Format(time.TimeOnly))
	}
	seconds := loadEnd.Unix() - loadStart.Unix() + 1
	require.LessOrEqual(t, int64(len(accepted)), scaleRateLimit*seconds, "200s over %d seconds", seconds)

	// The receiving host never saw more than the configured connections.
	require.LessOrEqual(t, sink.MaxOpen(), scaleMaxPerHost, "connections open at once at the sink, from all workers")

	// The periodic work (sweeps, DNS checks of domains) ran on one node at
	// a time: a node became its leader only after the one before was killed.
	for _, work := range scaleSingletons {
		var leads []lead
		for _, n := range nodes {
			for _, p := range n.processes() {
				for _, rec := range p.stderr.Records(t, "leader: this node runs "+work) {
					at, err := time.Parse(time.RFC3339Nano, rec["time"].(string))
					require.NoError(t, err)
					leads = append(leads, lead{at, n})
				}
			}
		}
		slices.SortFunc(leads, func(a, b lead) int { return a.at.Compare(b.at) })
		require.NotEmpty(t, leads, "a node leads %s", work)
		for i := 1; i < len(leads); i++ {
			prev := leads[i-1].node
			require.True(t, !prev.killed.IsZero() && prev.killed.Before(leads[i].at),
				"%s became leader of %s at %s while %s led it (killed: %v)", leads[i].node.name, work, leads[i].at, prev.name, prev.killed)
		}
		t.Logf("%s: %s led by %d node(s) in turn", limiter, work, len(leads))
	}

	for _, n := range nodes {
		n.s.stop(t)
	}
}

// scrape reads a node's /metrics: each sample's value by its name and
// labels as written (`name{label="value"}`).
func scrape(t *testing.T, addr string) map[string]float64 {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, 200, resp.StatusCode)
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") || line == "" {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		require.Positive(t, i, "a sample line: %q", line)
		v, err := strconv.ParseFloat(line[i+1:], 64)
		require.NoError(t, err, "%q", line)
		out[line[:i]] = v
	}
	require.NoError(t, sc.Err())
	return out
}
