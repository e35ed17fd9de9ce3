package metrics

import (
	"encoding/json"
	"net/http"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"
)

func TestNilMetricsCountNothing(t *testing.T) {
	t.Parallel()
	var m *Metrics
	m.Accepted(SourceAPI, 1)
	m.Delivery("delivered", 250)
	m.AttemptStarted()()
	m.Webhook(WebhookSuccess)
	m.SMTPSession()
	m.SMTPRefused(SMTPAuthFailed)
	m.HTTPRequest("POST /emails", 200, time.Millisecond)
	m.Commit(CommitAccept, time.Millisecond, 1, 1, false)
	m.DomainCheck("verified")
	m.JobsRescued("deliver", 1, 1)
	m.RegisterQueue(func() (QueueStats, error) { return QueueStats{}, nil })
	m.RegisterRequestLog(nil, nil)
}

func TestCounts(t *testing.T) {
	t.Parallel()
	m := New(prometheus.NewRegistry())
	m.Accepted(SourceAPI, 3)
	m.Accepted(SourceSMTP, 1)
	require.Equal(t, 3.0, testutil.ToFloat64(m.accepted[SourceAPI]))
	require.Equal(t, 1.0, testutil.ToFloat64(m.accepted[SourceSMTP]))

	for _, code := range []int{250, 250, 451, 550, 0} {
		m.Delivery("delivered", code)
	}
	m.Delivery("no such outcome", 250) // not counted: bounded labels
	require.Equal(t, 2.0, testutil.ToFloat64(m.outcomesVec.WithLabelValues("delivered", Reply2xx)))
	require.Equal(t, 1.0, testutil.ToFloat64(m.outcomesVec.WithLabelValues("delivered", Reply4xx)))
	require.Equal(t, 1.0, testutil.ToFloat64(m.outcomesVec.WithLabelValues("delivered", Reply5xx)))
	require.Equal(t, 1.0, testutil.ToFloat64(m.outcomesVec.WithLabelValues("delivered", ReplyNone)))
	require.Equal(t, 24, testutil.CollectAndCount(m.outcomesVec))

	m.JobsRescued("deliver", 2, 7)
	m.JobsRescued("webhook", 1, 0)
	m.JobsRescued("broadcast", 0, 0) // nothing released: nothing counted
	require.Equal(t, 2.0, testutil.ToFloat64(m.jobsRescued.WithLabelValues("deliver")))
	require.Equal(t, 1.0, testutil.ToFloat64(m.jobsRescued.WithLabelValues("webhook")))
	require.Equal(t, 0.0, testutil.ToFloat64(m.jobsRescued.WithLabelValues("broadcast")))
	require.Equal(t, 7.0, testutil.ToFloat64(m.emailsRescued))

	done := m.AttemptStarted()
	require.Equal(t, 1.0, testutil.ToFloat64(m.inFlight))
	done()
	require.Equal(t, 0.0, testutil.ToFloat64(m.inFlight))

	for _, code := range []int{200, 200, 404, 200} {
		m.HTTPRequest("GET /emails/{id}", code, time.Millisecond)
	}
	m.HTTPRequest("", 404, time.Millisecond)
	require.Equal(t, 3.0, testutil.ToFloat64(m.httpRequests.WithLabelValues("GET /emails/{id}", "200")))
	require.Equal(t, 1.0, testutil.ToFloat64(m.httpRequests.WithLabelValues("GET /emails/{id}", "404")))
	require.Equal(t, 1.0, testutil.ToFloat64(m.httpRequests.WithLabelValues(Unmatched, "404")))

	m.Bounce("Permanent", "NoEmail", true)
	m.Bounce("Transient", "ContentRejected", false)
	m.Bounce("Transient", "ContentRejected", false)
	require.Equal(t, 1.0, testutil.ToFloat64(m.bounces.WithLabelValues("Permanent", "NoEmail", "true")))
	require.Equal(t, 2.0, testutil.ToFloat64(m.bounces.WithLabelValues("Transient", "ContentRejected", "false")))

	require.Equal(t, WebhookSuccess, WebhookResult(204))
	require.Equal(t, WebhookHTTPError, WebhookResult(500))
	require.Equal(t, WebhookNoResponse, WebhookResult(0))
}

func TestQueueCollector(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	m := New(reg)
	m.RegisterQueue(func() (QueueStats, error) {
		return QueueStats{Jobs: map[string]map[string]int{"deliver": {"available": 4, "running": 2}},
			OldestDue: map[string]time.Duration{"deliver": 1500 * time.Millisecond}}, nil
	})
	err := testutil.GatherAndCompare(reg, strings.NewReader(`
# HELP godwit_queue_jobs Jobs in the durable queue, by queue (deliver, webhook, broadcast, contact_import) and state (available: due and waiting for a worker; running).
# TYPE godwit_queue_jobs gauge
godwit_queue_jobs{queue="deliver",state="available"} 4
godwit_queue_jobs{queue="deliver",state="running"} 2
# HELP godwit_queue_oldest_due_seconds How long the oldest due job of a queue has waited for a worker (0 when none waits).
# TYPE godwit_queue_oldest_due_seconds gauge
godwit_queue_oldest_due_seconds{queue="deliver"} 1.5
`), "godwit_queue_jobs", "godwit_queue_oldest_due_seconds")
	require.NoError(t, err)
}

// TestHTTPRequestAllocatesNothing: once a route has answered a status,
// counting another request allocates nothing.
func TestHTTPRequestAllocatesNothing(t *testing.T) {
	m := New(prometheus.NewRegistry())
	m.HTTPRequest("POST /emails", http.StatusOK, time.Millisecond)
	m.Accepted(SourceAPI, 1)
	allocs := testing.AllocsPerRun(1000, func() {
		m.HTTPRequest("POST /emails", http.StatusOK, time.Millisecond)
		m.Accepted(SourceAPI, 1)
		m.Delivery("delivered", 250)
	})
	require.Zero(t, allocs)
}

func BenchmarkHTTPRequest(b *testing.B) {
	m := New(prometheus.NewRegistry())
	routes := []string{"POST /emails", "GET /emails/{id}", "POST /emails/batch", "GET /domains"}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			m.HTTPRequest(routes[i%len(routes)], http.StatusOK, time.Millisecond)
			i++
		}
	})
}

// TestDocsNameEveryMetric: docs/operations.md lists every metric Godwit
// registers, and the Grafana dashboard uses only metrics that exist.
func TestDocsNameEveryMetric(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	m := New(reg)
	m.RegisterQueue(func() (QueueStats, error) {
		return QueueStats{Jobs: map[string]map[string]int{"deliver": {"available": 0}}, OldestDue: map[string]time.Duration{"deliver": 0}}, nil
	})
	m.RegisterRequestLog(func() uint64 { return 0 }, func() uint64 { return 0 })
	m.RegisterCache("mx_dns", func() uint64 { return 3 }, func() uint64 { return 1 })
	m.RegisterCache("mx_domains", func() uint64 { return 0 }, func() uint64 { return 0 })
	m.SMTPRefused(SMTPAuthFailed)
	m.DomainCheck("verified")
	m.DomainClaim("completed")
	m.Bounce("Permanent", "NoEmail", true)
	m.AutomationStep("delay", "waiting")
	m.HTTPRequest("GET /x", 200, 0)
	m.RegisterConnectionLeases(func() int { return 0 })
	m.DestinationPaused("gmail", true)
	m.WarmupSent("192.0.2.1", "gmail")
	m.WarmupCapped("default", "gmail")
	fams, err := reg.Gather()
	require.NoError(t, err)
	ours := map[string]bool{}
	for _, f := range fams {
		if strings.HasPrefix(f.GetName(), Namespace+"_") {
			ours[f.GetName()] = true
		}
	}
	require.Len(t, ours, 36)

	doc, err := os.ReadFile("../../docs/operations.md")
	require.NoError(t, err)
	for name := range ours {
		require.Contains(t, string(doc), "`"+name+"`", "docs/operations.md does not list %s", name)
	}
	dash, err := os.ReadFile("../../docs/grafana-dashboard.json")
	require.NoError(t, err)
	require.True(t, json.Valid(dash))
	used := regexp.MustCompile(`godwit_[a-z_]+`).FindAllString(string(dash), -1)
	require.NotEmpty(t, used)
	for _, name := range used {
		base := name
		for _, suffix := range []string{"_bucket", "_sum", "_count"} {
			if b, ok := strings.CutSuffix(name, suffix); ok && ours[b] {
				base = b
			}
		}
		require.True(t, ours[base], "the dashboard uses %s, which is not a metric", name)
	}
}

// TestHTTPRequestConcurrent: routes and codes seen for the first time by
// several goroutines at once are each counted exactly (run with -race).
func TestHTTPRequestConcurrent(t *testing.T) {
	t.Parallel()
	m := New(prometheus.NewRegistry())
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 200 {
				m.HTTPRequest("GET /r"+strconv.Itoa(i%5), 200+(i+g)%3, time.Millisecond)
			}
		})
	}
	wg.Wait()
	var total float64
	for r := range 5 {
		for c := range 3 {
			total += testutil.ToFloat64(m.httpRequests.WithLabelValues("GET /r"+strconv.Itoa(r), strconv.Itoa(200+c)))
		}
	}
	require.Equal(t, 8*200.0, total)
	require.Equal(t, 15, testutil.CollectAndCount(m.httpRequests))
}
