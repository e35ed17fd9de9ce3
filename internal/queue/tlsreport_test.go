package queue_test

import (
	"bytes"
	"context"
	"sync/atomic"
	"testing"
	"time"

	msgdkim "github.com/emersion/go-msgauth/dkim"
	"github.com/emersion/go-smtp"
	"github.com/riverqueue/river/rivertype"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/godwit/godwit/internal/delivery"
	"github.com/godwit/godwit/internal/dnscheck"
	"github.com/godwit/godwit/internal/dnscheck/dnstest"
	"github.com/godwit/godwit/internal/domains"
	"github.com/godwit/godwit/internal/godwittest"
	"github.com/godwit/godwit/internal/netguard"
	"github.com/godwit/godwit/internal/queue"
	"github.com/godwit/godwit/internal/secretbox"
	"github.com/godwit/godwit/internal/store"
	"github.com/godwit/godwit/internal/store/sqlstore"
	"github.com/godwit/godwit/internal/tlsrpt"
)

// TestTLSReportMailRetried: a claimed TLS report's mail is a queue job,
// committed with the claim. The receiving MX answers the first try 451;
// the job is retried a minute later (on the queue's clock) and the MX
// keeps the report, DKIM-signed by the reporting domain (godwit.test, a
// parent of the sender's out.godwit.test), as go-msgauth verifies against
// the loopback DNS server.
func TestTLSReportMailRetried(t *testing.T) {
	for _, kind := range godwittest.Kinds {
		t.Run(string(kind), func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			dns := dnstest.NewServer(t)
			var rcpts atomic.Int32
			sink := godwittest.NewMX(t, godwittest.MXOptions{Rcpt: func(_ string, attempt int) error {
				rcpts.Add(1)
				if attempt == 1 {
					return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 7, 0}, Message: "try again later"}
				}
				return nil
			}})
			dns.SetMX("reports.test", dnscheck.MX{Host: "mx.reports.test", Preference: 10})
			dns.SetAddr("mx.reports.test", "127.0.0.1")
			box, err := secretbox.New(bytes.Repeat([]byte{7}, 32))
			require.NoError(t, err)
			settings := domains.Settings{Keys: box, MXHost: "bounces.godwit.test", SPF: "v=spf1 ~all", DKIMSelector: "resend"}
			e := startWith(t, kind, func(c *queue.Config, db *sqlstore.DB) {
				c.TLSReports = &tlsrpt.Mailer{Store: db, Keys: settings, From: "tls-reports@out.godwit.test",
					Transport: &delivery.MXTransport{Resolver: dns.Addr(), HELO: "out.godwit.test", Timeout: 5 * time.Second,
						Guard: netguard.Policy{AllowPrivate: true}, DialAddr: func(string) string { return sink.Addr() },
						Throttle: delivery.Throttle{Now: c.Time.(riverClock).c.Now}}} // its pause after the 451 ends on the queue's clock
			})
			d := settings.New(e.team.ID, "godwit.test", t0)
			d.Status, d.RecordStatus = store.DomainVerified, map[string]string{}
			d.DKIMKey, d.DKIMEd25519Key, err = settings.NewKeys(d.ID)
			require.NoError(t, err)
			require.NoError(t, e.db.CreateDomain(ctx, d))
			recs, err := settings.Records(d)
			require.NoError(t, err)
			for _, r := range recs {
				if r.Type == "TXT" {
					dns.SetTXT(r.FQDN(d.Name), r.Value)
				}
			}

			msg := "From: <tls-reports@out.godwit.test>\r\nTo: <tls@reports.test>\r\nSubject: Report Domain: example.test\r\n" +
				"TLS-Report-Domain: example.test\r\n\r\nthe report\r\n"
			claimed, err := e.db.ClaimTLSReport(ctx, "example.test", "2026-12-02", t0, []store.TLSReportMail{{Domain: "example.test",
				Day: "2026-12-02", ReportID: "r1", To: "tls@reports.test", Message: []byte(msg)}})
			require.NoError(t, err)
			require.True(t, claimed)

			// The first try is refused for now: the job waits a minute.
			var retry *rivertype.JobRow
			require.Eventually(t, func() bool {
				jobs := riverJobsOf(t, e.db, "tls_report_mail", rivertype.JobStateRetryable)
				if len(jobs) == 1 {
					retry = jobs[0]
				}
				return retry != nil
			}, 10*time.Second, 10*time.Millisecond)
			require.Equal(t, int32(1), rcpts.Load())
			require.Empty(t, sink.Messages())
			require.True(t, retry.ScheduledAt.Equal(t0.Add(time.Minute)), "retried at %s, want %s", retry.ScheduledAt, t0.Add(time.Minute))

			e.clock.Advance(time.Minute)
			if !assert.Eventually(t, func() bool { return len(sink.Messages()) == 1 }, 15*time.Second, 10*time.Millisecond) {
				for _, j := range riverJobsOf(t, e.db, "tls_report_mail") {
					t.Logf("job state %s attempt %d scheduled %s errors %v", j.State, j.Attempt, j.ScheduledAt, j.Errors)
				}
				t.Fatalf("rcpts %d", rcpts.Load())
			}
			got := sink.Messages()[0]
			require.Equal(t, "tls-reports@out.godwit.test", got.From)
			require.Equal(t, []string{"tls@reports.test"}, got.Rcpts)
			res := &dnscheck.Resolver{Addr: dns.Addr(), Timeout: 2 * time.Second}
			vs, err := msgdkim.VerifyWithOptions(bytes.NewReader(got.Data), &msgdkim.VerifyOptions{
				LookupTXT: func(name string) ([]string, error) { return res.LookupTXT(context.Background(), name) },
			})
			require.NoError(t, err)
			require.Len(t, vs, 1)
			require.NoError(t, vs[0].Err)
			require.Equal(t, "godwit.test", vs[0].Domain)
			require.Eventually(t, func() bool {
				return len(riverJobsOf(t, e.db, "tls_report_mail", rivertype.JobStateCompleted)) == 1
			}, 10*time.Second, 10*time.Millisecond)
		})
	}
}
