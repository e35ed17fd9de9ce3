package app_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/require"

	"github.com/godwit/godwit/internal/app"
	"github.com/godwit/godwit/internal/dnscheck"
	"github.com/godwit/godwit/internal/dnscheck/dnstest"
	"github.com/godwit/godwit/internal/godwittest"
)

var keyRE = regexp.MustCompile(`re_[A-Za-z0-9]{8}_[A-Za-z0-9_-]{43}`)

// apiCall makes an API request and decodes its JSON answer.
func apiCall(t *testing.T, method, url, key, body string) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	var out map[string]any
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	if len(raw) > 0 {
		require.NoError(t, json.Unmarshal(raw, &out), "%s", raw)
	}
	return resp.StatusCode, out
}

// scrape fetches /metrics and parses it with Prometheus's text parser.
func scrape(t *testing.T, addr string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(resp.Body)
	require.NoError(t, err)
	return fams
}

// value is the value of the family's series with exactly these labels
// (a counter's, a gauge's, or a histogram's sample count); -1 when absent.
func value(fams map[string]*dto.MetricFamily, name string, labels ...string) float64 {
	f := fams[name]
	if f == nil {
		return -1
	}
	want := map[string]string{}
	for i := 0; i+1 < len(labels); i += 2 {
		want[labels[i]] = labels[i+1]
	}
series:
	for _, m := range f.GetMetric() {
		if len(m.GetLabel()) != len(want) {
			continue
		}
		for _, l := range m.GetLabel() {
			if want[l.GetName()] != l.GetValue() {
				continue series
			}
		}
		switch {
		case m.Counter != nil:
			return m.GetCounter().GetValue()
		case m.Gauge != nil:
			return m.GetGauge().GetValue()
		case m.Histogram != nil:
			return float64(m.GetHistogram().GetSampleCount())
		}
	}
	return -1
}

// TestMetricsAndLogsOfAWorkload runs a known workload through a whole
// server: emails accepted over the API and SMTP, delivered to a fake MX
// that accepts some recipients, defers one and refuses another, then a
// send to the refused (now suppressed) address and one whose attachment
// cannot be fetched (failed); a webhook whose endpoint answers 500; a
// domain verified; a failed SMTP login. It scrapes /metrics over loopback
// and checks the counts, and checks the INFO line of each state change.
func TestMetricsAndLogsOfAWorkload(t *testing.T) {
	t.Parallel()
	dns := dnstest.NewServer(t)
	mx := godwittest.NewMX(t, godwittest.MXOptions{Rcpt: func(rcpt string, _ int) error {
		switch {
		case strings.HasPrefix(rcpt, "unknown"):
			return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "User unknown"}
		case strings.HasPrefix(rcpt, "later"):
			return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "Try again later"}
		}
		return nil
	}})
	dns.SetMX("dest.test", dnscheck.MX{Host: "mx.dest.test", Preference: 10})
	dns.SetAddr("mx.dest.test", "127.0.0.1")
	_, mxPort, err := net.SplitHostPort(mx.Addr())
	require.NoError(t, err)
	hooks := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusInternalServerError)
	}))
	t.Cleanup(hooks.Close)
	files := httptest.NewServer(http.NotFoundHandler())
	t.Cleanup(files.Close)

	cfg := serveConfig(t.TempDir())
	cfg.DebugAddr = ""
	cfg.MXAddr = ""
	cfg.MetricsAddr = "127.0.0.1:0"
	cfg.Delivery = "mx"
	cfg.DNSResolver = dns.Addr()
	fmt.Sscan(mxPort, &cfg.MXPort)
	cfg.AllowPrivateNetworks = true
	cfg.RateLimit = 1000

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s := &served{logs: &godwittest.LogBuffer{}, done: make(chan error, 1)}
	stdout := &godwittest.LogBuffer{}
	log := slog.New(slog.NewJSONHandler(s.logs, nil))
	go func() { s.done <- app.Serve(ctx, cfg, log, stdout) }()
	httpAddr := s.addr(t, httpServing, "addr")
	metricsAddr := s.addr(t, "serving metrics", "addr")
	smtpAddr := s.addr(t, "serving SMTP submission", "smtp_addr")
	waitReady(t, httpAddr)
	key := keyRE.FindString(stdout.String())
	require.NotEmpty(t, key)
	api := "http://" + httpAddr

	// A verified sending domain.
	status, body := apiCall(t, "POST", api+"/domains", key, `{"name":"send.test"}`)
	require.Equal(t, 201, status, "%v", body)
	domainID := body["id"].(string)
	for _, rec := range body["records"].([]any) {
		r := rec.(map[string]any)
		fqdn := r["name"].(string) + ".send.test"
		switch r["type"] {
		case "TXT":
			dns.SetTXT(fqdn, r["value"].(string))
		case "MX":
			dns.SetMX(fqdn, dnscheck.MX{Host: r["value"].(string) + ".", Preference: uint16(r["priority"].(float64))})
		}
	}
	status, _ = apiCall(t, "POST", api+"/domains/"+domainID+"/verify", key, "")
	require.Equal(t, 200, status)
	require.Eventually(t, func() bool {
		_, body := apiCall(t, "GET", api+"/domains/"+domainID, key, "")
		return body["status"] == "verified"
	}, bound, 10*time.Millisecond, "the domain is verified")

	status, body = apiCall(t, "POST", api+"/webhooks", key, `{"endpoint":"`+hooks.URL+`/hook","events":["email.bounced"]}`)
	require.Equal(t, 201, status, "%v", body)

	send := func(to string, extra string) string {
		t.Helper()
		status, body := apiCall(t, "POST", api+"/emails", key,
			`{"from":"App <app@send.test>","to":"`+to+`","subject":"s","text":"x"`+extra+`}`)
		require.Equal(t, 200, status, "%v", body)
		return body["id"].(string)
	}
	// Over the API: three delivered, one bounced, one deferred.
	var apiIDs []string
	for _, to := range []string{"a@dest.test", "b@dest.test", "c@dest.test", "unknown@dest.test", "later@dest.test"} {
		apiIDs = append(apiIDs, send(to, ""))
	}
	// Over SMTP: two delivered; and one failed login.
	c, err := smtp.Dial(smtpAddr)
	require.NoError(t, err)
	require.NoError(t, c.Auth(sasl.NewPlainClient("", "resend", key)))
	for i := range 2 {
		msg := fmt.Sprintf("From: App <app@send.test>\r\nTo: smtp%d@dest.test\r\nSubject: s\r\n\r\nx\r\n", i)
		require.NoError(t, c.SendMail("app@send.test", []string{fmt.Sprintf("smtp%d@dest.test", i)}, strings.NewReader(msg)))
	}
	require.NoError(t, c.Quit())
	c, err = smtp.Dial(smtpAddr)
	require.NoError(t, err)
	require.Error(t, c.Auth(sasl.NewPlainClient("", "resend", "re_wrong_key_123456789")))
	c.Close()

	// The bounce suppressed unknown@: a second send is suppressed.
	require.Eventually(t, func() bool { return len(s.logs.Records(t, "email bounced")) == 1 }, bound, 10*time.Millisecond)
	suppressedID := send("unknown@dest.test", "")
	failedID := send("d@dest.test", `,"attachments":[{"filename":"a.pdf","path":"`+files.URL+`/missing.pdf"}]`)

	var fams map[string]*dto.MetricFamily
	require.Eventually(t, func() bool {
		fams = scrape(t, metricsAddr)
		return value(fams, "godwit_delivery_outcomes_total", "outcome", "delivered", "reply", "2xx") == 5 &&
			value(fams, "godwit_delivery_outcomes_total", "outcome", "suppressed", "reply", "none") == 1 &&
			value(fams, "godwit_delivery_outcomes_total", "outcome", "failed", "reply", "none") == 1 &&
			value(fams, "godwit_webhook_deliveries_total", "result", "http_error") >= 1
	}, bound, 20*time.Millisecond, "the workload's outcomes are counted")

	require.Equal(t, 7.0, value(fams, "godwit_emails_accepted_total", "source", "api"))
	require.Equal(t, 2.0, value(fams, "godwit_emails_accepted_total", "source", "smtp"))
	require.Equal(t, 0.0, value(fams, "godwit_emails_accepted_total", "source", "broadcast"))
	require.Equal(t, 1.0, value(fams, "godwit_delivery_outcomes_total", "outcome", "bounced", "reply", "5xx"))
	require.GreaterOrEqual(t, value(fams, "godwit_delivery_outcomes_total", "outcome", "deferred", "reply", "4xx"), 1.0)
	require.Equal(t, 0.0, value(fams, "godwit_delivery_attempts_in_flight"))
	require.Equal(t, 7.0, value(fams, "godwit_http_requests_total", "route", "POST /emails", "code", "200"))
	require.Equal(t, 7.0, value(fams, "godwit_http_request_duration_seconds", "route", "POST /emails"))
	require.Equal(t, 1.0, value(fams, "godwit_http_requests_total", "route", "POST /domains", "code", "201"))
	require.Equal(t, 2.0, value(fams, "godwit_smtp_sessions_total"))
	require.Equal(t, 0.0, value(fams, "godwit_request_logs_dropped_total"))
	require.Equal(t, 0.0, value(fams, "godwit_request_logs_lost_total"))
	require.Equal(t, 1.0, value(fams, "godwit_smtp_refusals_total", "reason", "auth_failed"))
	require.GreaterOrEqual(t, value(fams, "godwit_domain_verifications_total", "result", "verified"), 1.0)
	require.GreaterOrEqual(t, value(fams, "godwit_store_commit_duration_seconds", "kind", "accept"), 1.0)
	require.GreaterOrEqual(t, value(fams, "godwit_store_commit_batch_emails"), 1.0)
	require.GreaterOrEqual(t, value(fams, "godwit_store_commit_batch_requests", "kind", "outcomes"), 1.0)
	// The deferred email's retry waits a minute: its job is scheduled, not due.
	require.GreaterOrEqual(t, value(fams, "godwit_queue_jobs", "queue", "deliver", "state", "available"), 0.0)
	require.GreaterOrEqual(t, value(fams, "godwit_queue_oldest_due_seconds", "queue", "deliver"), 0.0)
	for _, f := range fams {
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				require.NotContains(t, l.GetValue(), "@", "%s has an address in a label", f.GetName())
				require.NotContains(t, l.GetValue(), apiIDs[0], "%s has an email id in a label", f.GetName())
			}
		}
	}

	// One INFO line per state change.
	accepted := s.logs.Records(t, "email accepted")
	require.Len(t, accepted, 9)
	sources := map[any]int{}
	for _, r := range accepted {
		require.Equal(t, "INFO", r["level"])
		require.NotEmpty(t, r["email_id"])
		sources[r["source"]]++
	}
	require.Equal(t, map[any]int{"api": 7, "smtp": 2}, sources)
	delivered := s.logs.Records(t, "email delivered")
	require.Len(t, delivered, 5)
	require.Equal(t, "mx.dest.test", delivered[0]["host"])
	require.EqualValues(t, 250, delivered[0]["code"])
	require.Equal(t, "dest.test", delivered[0]["recipient_domain"])
	deferred := s.logs.Records(t, "email deferred")
	require.NotEmpty(t, deferred)
	require.Equal(t, apiIDs[4], deferred[0]["email_id"])
	require.Contains(t, deferred[0]["reply"], "Try again later")
	require.NotEmpty(t, deferred[0]["next_attempt"])
	bounced := s.logs.Records(t, "email bounced")
	require.Equal(t, apiIDs[3], bounced[0]["email_id"])
	require.EqualValues(t, 550, bounced[0]["code"])
	suppressed := s.logs.Records(t, "email suppressed")
	require.Len(t, suppressed, 1)
	require.Equal(t, suppressedID, suppressed[0]["email_id"])
	failed := s.logs.Records(t, "email failed")
	require.Len(t, failed, 1)
	require.Equal(t, failedID, failed[0]["email_id"])
	hookFails := s.logs.Records(t, "webhook delivery failed")
	require.NotEmpty(t, hookFails)
	require.Equal(t, "HTTP 500", hookFails[0]["result"])
	require.NotEmpty(t, hookFails[0]["next_attempt"])
	changed := s.logs.Records(t, "domain status changed")
	require.NotEmpty(t, changed)
	require.Equal(t, "send.test", changed[len(changed)-1]["domain"])
	require.Equal(t, "verified", changed[len(changed)-1]["to"])
	// No address of a recipient in any line of the story.
	for _, msg := range []string{"email accepted", "email delivered", "email deferred", "email bounced", "email suppressed", "email failed"} {
		for _, r := range s.logs.Records(t, msg) {
			for k, v := range r {
				if s, ok := v.(string); ok {
					require.NotContains(t, s, "@dest.test", "%s: %s", msg, k)
				}
			}
		}
	}

	cancel()
	require.NoError(t, s.wait(t))
	requireClosed(t, metricsAddr, "the metrics endpoint")
}
