package tlsrpt_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/mail"
	"strings"
	"sync"
	"testing"
	"time"

	msgdkim "github.com/emersion/go-msgauth/dkim"
	"github.com/emersion/go-smtp"
	"github.com/stretchr/testify/require"

	"github.com/godwit/godwit/internal/delivery"
	"github.com/godwit/godwit/internal/dnscheck"
	"github.com/godwit/godwit/internal/dnscheck/dnstest"
	"github.com/godwit/godwit/internal/domains"
	"github.com/godwit/godwit/internal/godwittest"
	"github.com/godwit/godwit/internal/netguard"
	"github.com/godwit/godwit/internal/secretbox"
	"github.com/godwit/godwit/internal/store"
	"github.com/godwit/godwit/internal/store/sqlstore"
	"github.com/godwit/godwit/internal/tlsrpt"
)

var day = time.Date(2026, 12, 2, 15, 4, 5, 0, time.UTC)

func eachStore(t *testing.T, f func(t *testing.T, db *sqlstore.DB)) {
	for _, kind := range godwittest.Kinds {
		t.Run(string(kind), func(t *testing.T) {
			if kind == sqlstore.Postgres {
				godwittest.RequirePostgres(t)
			}
			f(t, godwittest.NewStore(t, kind, nil))
		})
	}
}

// record counts a day's sessions for example.test and other.test.
func record(t *testing.T, db *sqlstore.DB) {
	t.Helper()
	rec := &tlsrpt.Recorder{Store: db, Now: func() time.Time { return day }}
	sts := []string{"version: STSv1", "mode: enforce", "mx: mx.example.test", "max_age: 86400"}
	for range 3 {
		rec.Record("Example.test", "sts", sts, "MX.example.test", "success")
	}
	rec.Record("example.test", "sts", sts, "mx.example.test", "certificate-expired")
	require.NoError(t, rec.Flush(context.Background()))
	rec.Record("example.test", "sts", sts, "mx.example.test", "success")
	rec.Record("example.test", "sts", sts, "mx2.example.test", "starttls-not-supported")
	rec.Record("example.test", "tlsa", []string{"3 1 1 abcd"}, "mx3.example.test", "tlsa-invalid")
	rec.Record("other.test", "no-policy-found", nil, "mx.other.test", "success")
	require.NoError(t, rec.Flush(context.Background()))
	require.NoError(t, rec.Flush(context.Background()), "nothing pending")
}

func TestCountersAggregate(t *testing.T) {
	eachStore(t, func(t *testing.T, db *sqlstore.DB) {
		ctx := context.Background()
		record(t, db)
		got, err := db.TLSResults(ctx, "2026-12-02")
		require.NoError(t, err)
		require.Len(t, got, 5, "one row per counter, not per session")
		require.Equal(t, store.TLSResultCount{Domain: "example.test", Day: "2026-12-02", PolicyType: "sts",
			PolicyString: "version: STSv1\nmode: enforce\nmx: mx.example.test\nmax_age: 86400", MXHost: "mx.example.test",
			ResultType: "success", Sessions: 4}, got[1])
		none, err := db.TLSResults(ctx, "2026-12-01")
		require.NoError(t, err)
		require.Empty(t, none)

		// A claim whose mail cannot be enqueued is not made: the next try
		// claims (and mails) it.
		godwittest.OutboxOf(t, db).OnTLSReportMail(func(context.Context, *sql.Tx, []store.TLSReportMail) error {
			return errors.New("queue down")
		})
		mails := []store.TLSReportMail{{Domain: "example.test", Day: "2026-12-02", ReportID: "r", To: "a@b.test", Message: []byte("m")}}
		_, err = db.ClaimTLSReport(ctx, "example.test", "2026-12-02", day, mails)
		require.ErrorContains(t, err, "queue down")
		godwittest.OutboxOf(t, db).OnTLSReportMail(nil)
		ok, err := db.ClaimTLSReport(ctx, "example.test", "2026-12-02", day, mails)
		require.NoError(t, err)
		require.True(t, ok)
		ok, err = db.ClaimTLSReport(ctx, "example.test", "2026-12-02", day, nil)
		require.NoError(t, err)
		require.False(t, ok, "claimed once")

		require.NoError(t, db.PruneTLSResults(ctx, "2026-12-03"))
		got, err = db.TLSResults(ctx, "2026-12-02")
		require.NoError(t, err)
		require.Empty(t, got)
		ok, err = db.ClaimTLSReport(ctx, "example.test", "2026-12-02", day, nil)
		require.NoError(t, err)
		require.True(t, ok, "pruned claims are gone too")
	})
}

func TestBuildReport(t *testing.T) {
	counts := []store.TLSResultCount{
		{Domain: "example.test", PolicyType: "sts", PolicyString: "version: STSv1\nmode: enforce", MXHost: "mx.example.test", ResultType: "success", Sessions: 5},
		{Domain: "example.test", PolicyType: "sts", PolicyString: "version: STSv1\nmode: enforce", MXHost: "mx.example.test", ResultType: "certificate-expired", Sessions: 2},
		{Domain: "example.test", PolicyType: "no-policy-found", MXHost: "mx9.example.test", ResultType: "success", Sessions: 1},
		{Domain: "other.test", PolicyType: "no-policy-found", MXHost: "mx.other.test", ResultType: "success", Sessions: 7},
	}
	r, ok := tlsrpt.Build("Godwit Org", "mailto:postmaster@out.test", "rid-1", "example.test", day, counts)
	require.True(t, ok)
	gz, err := r.Gzip()
	require.NoError(t, err)
	zr, err := gzip.NewReader(bytes.NewReader(gz))
	require.NoError(t, err)
	js, err := io.ReadAll(zr)
	require.NoError(t, err)
	require.JSONEq(t, `{
		"organization-name": "Godwit Org",
		"date-range": {"start-datetime": "2026-12-02T00:00:00Z", "end-datetime": "2026-12-02T23:59:59Z"},
		"contact-info": "mailto:postmaster@out.test",
		"report-id": "rid-1",
		"policies": [
			{"policy": {"policy-type": "sts", "policy-string": ["version: STSv1", "mode: enforce"], "policy-domain": "example.test", "mx-host": ["mx.example.test"]},
			 "summary": {"total-successful-session-count": 5, "total-failure-session-count": 2},
			 "failure-details": [{"result-type": "certificate-expired", "receiving-mx-hostname": "mx.example.test", "failed-session-count": 2}]},
			{"policy": {"policy-type": "no-policy-found", "policy-domain": "example.test", "mx-host": ["mx9.example.test"]},
			 "summary": {"total-successful-session-count": 1, "total-failure-session-count": 0}}
		]}`, string(js))
	_, ok = tlsrpt.Build("o", "c", "r", "nothing.test", day, counts)
	require.False(t, ok)
}

// endpoint is an https: rua on loopback keeping every post.
type endpoint struct {
	mu    sync.Mutex
	posts []post
}

type post struct {
	contentType string
	report      map[string]any
}

func (e *endpoint) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	zr, err := gzip.NewReader(r.Body)
	if err != nil {
		http.Error(w, err.Error(), 400)
		return
	}
	var rep map[string]any
	if err := json.NewDecoder(zr).Decode(&rep); err != nil {
		http.Error(w, err.Error(), 400)
		return
	}
	e.mu.Lock()
	e.posts = append(e.posts, post{r.Header.Get("Content-Type"), rep})
	e.mu.Unlock()
}

func (e *endpoint) count() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.posts)
}

// signingDomain adds godwit.test, verified, with RSA and Ed25519 keys
// published in dns: the reporting domain of tls-reports@out.godwit.test.
func signingDomain(t *testing.T, db *sqlstore.DB, dns *dnstest.Server) domains.Settings {
	t.Helper()
	ctx := context.Background()
	box, err := secretbox.New(bytes.Repeat([]byte{7}, 32))
	require.NoError(t, err)
	settings := domains.Settings{Keys: box, MXHost: "bounces.godwit.test", SPF: "v=spf1 ~all", DKIMSelector: "resend", Ed25519: true}
	team := &store.Team{ID: store.NewID(), Name: "ops", CreatedAt: day}
	require.NoError(t, db.CreateTeam(ctx, team))
	d := settings.New(team.ID, "godwit.test", day)
	d.Status, d.RecordStatus = store.DomainVerified, map[string]string{}
	d.DKIMKey, d.DKIMEd25519Key, err = settings.NewKeys(d.ID)
	require.NoError(t, err)
	require.NoError(t, db.CreateDomain(ctx, d))
	recs, err := settings.Records(d)
	require.NoError(t, err)
	for _, r := range recs {
		if r.Type == "TXT" {
			dns.SetTXT(r.FQDN(d.Name), r.Value)
		}
	}
	return settings
}

// verifyDKIM checks msg's signatures against the keys in dns and returns
// the signing domains.
func verifyDKIM(t *testing.T, dns *dnstest.Server, msg []byte) []string {
	t.Helper()
	res := &dnscheck.Resolver{Addr: dns.Addr(), Timeout: 2 * time.Second}
	vs, err := msgdkim.VerifyWithOptions(bytes.NewReader(msg), &msgdkim.VerifyOptions{
		LookupTXT: func(name string) ([]string, error) { return res.LookupTXT(context.Background(), name) },
	})
	require.NoError(t, err)
	var out []string
	for _, v := range vs {
		require.NoError(t, v.Err, "signature by %s", v.Domain)
		out = append(out, v.Domain)
	}
	return out
}

func TestReporterSendsOncePerDay(t *testing.T) {
	eachStore(t, func(t *testing.T, db *sqlstore.DB) {
		ctx := context.Background()
		record(t, db)
		ep := &endpoint{}
		srv := httptest.NewTLSServer(ep)
		t.Cleanup(srv.Close)
		dns := dnstest.NewServer(t)
		sink := godwittest.NewMX(t, godwittest.MXOptions{Domain: "mx.reports.test"})
		dns.SetMX("reports.test", dnscheck.MX{Host: "mx.reports.test", Preference: 10})
		dns.SetAddr("mx.reports.test", "127.0.0.1")
		dns.SetTXT("_smtp._tls.example.test", "v=TLSRPTv1; rua="+srv.URL+"/tlsrpt,mailto:tls@reports.test")
		// other.test publishes no record: no report.
		settings := signingDomain(t, db, dns)
		var mails []store.TLSReportMail
		godwittest.OutboxOf(t, db).OnTLSReportMail(func(_ context.Context, tx *sql.Tx, m []store.TLSReportMail) error {
			require.NotNil(t, tx, "enqueued in the claim's transaction")
			mails = append(mails, m...)
			return nil
		})

		client := netguard.Policy{AllowPrivate: true}.HTTPClient(10 * time.Second) // the endpoint is on loopback
		client.Transport.(*http.Transport).TLSClientConfig = srv.Client().Transport.(*http.Transport).TLSClientConfig
		var sent []string
		count := func(scheme, result string) { sent = append(sent, scheme+" "+result) }
		rep := &tlsrpt.Reporter{Store: db, DNS: &dnscheck.Resolver{Addr: dns.Addr()}, HTTP: client,
			Org: "out.godwit.test", Contact: "mailto:postmaster@out.godwit.test", From: "tls-reports@out.godwit.test",
			Now: func() time.Time { return day.Add(24 * time.Hour) }, Sent: count}
		require.NoError(t, rep.SendDay(ctx, day))
		require.NoError(t, rep.SendDay(ctx, day), "a second run (a restart, another node) sends nothing")
		require.Equal(t, []string{"https sent"}, sent)
		require.Len(t, mails, 1, "one mail job, enqueued once")
		require.Equal(t, "tls@reports.test", mails[0].To)
		require.Equal(t, "example.test", mails[0].Domain)

		// The job's work: signed by the reporting domain and sent.
		mailer := &tlsrpt.Mailer{Store: db, Keys: settings, From: "tls-reports@out.godwit.test", Sent: count,
			Transport: &delivery.MXTransport{Resolver: dns.Addr(), HELO: "out.godwit.test", Timeout: 5 * time.Second,
				Guard: netguard.Policy{AllowPrivate: true}, DialAddr: func(string) string { return sink.Addr() }}}
		require.NoError(t, mailer.Send(ctx, mails[0], 1, false))
		require.Equal(t, []string{"https sent", "mailto sent"}, sent)

		require.Equal(t, 1, ep.count())
		p := ep.posts[0]
		require.Equal(t, "application/tlsrpt+gzip", p.contentType)
		require.Equal(t, "out.godwit.test", p.report["organization-name"])
		require.Equal(t, "2026-12-02T00:00:00Z_example.test_out.godwit.test", p.report["report-id"])
		pols := p.report["policies"].([]any)
		require.Len(t, pols, 2, "sts and tlsa")

		msgs := sink.Messages()
		require.Len(t, msgs, 1)
		require.Equal(t, "tls-reports@out.godwit.test", msgs[0].From)
		require.Equal(t, []string{"tls@reports.test"}, msgs[0].Rcpts)
		require.Equal(t, []string{"godwit.test", "godwit.test"}, verifyDKIM(t, dns, msgs[0].Data), "RSA and Ed25519, by the reporting domain")
		m, err := mail.ReadMessage(bytes.NewReader(msgs[0].Data))
		require.NoError(t, err)
		require.Equal(t, "example.test", m.Header.Get("TLS-Report-Domain"))
		require.Equal(t, "out.godwit.test", m.Header.Get("TLS-Report-Submitter"))
		require.True(t, strings.HasPrefix(m.Header.Get("Subject"), "Report Domain: example.test Submitter: out.godwit.test Report-ID: <"))
		mt, params, err := mime.ParseMediaType(m.Header.Get("Content-Type"))
		require.NoError(t, err)
		require.Equal(t, "multipart/report", mt)
		require.Equal(t, "tlsrpt", params["report-type"])
		mr := multipart.NewReader(m.Body, params["boundary"])
		_, err = mr.NextPart()
		require.NoError(t, err)
		att, err := mr.NextPart()
		require.NoError(t, err)
		require.Equal(t, "application/tlsrpt+gzip", att.Header.Get("Content-Type"))
		require.Contains(t, att.Header.Get("Content-Disposition"), `filename="out.godwit.test!example.test!1796169600!1796255999.json.gz"`)
		gz, err := io.ReadAll(base64.NewDecoder(base64.StdEncoding, att))
		require.NoError(t, err)
		zr, err := gzip.NewReader(bytes.NewReader(gz))
		require.NoError(t, err)
		var got map[string]any
		require.NoError(t, json.NewDecoder(zr).Decode(&got))
		require.Equal(t, p.report, got, "the same report by mail and by https")
	})
}

// TestMailerOutcomes: a 4xx is deferred (an error, not permanent), a 5xx
// is permanent, a 4xx on the last try is given up; each is counted; without
// a domain holding the sender's domain the report goes unsigned.
func TestMailerOutcomes(t *testing.T) {
	eachStore(t, func(t *testing.T, db *sqlstore.DB) {
		ctx := context.Background()
		dns := dnstest.NewServer(t)
		var reply error
		sink := godwittest.NewMX(t, godwittest.MXOptions{Rcpt: func(string, int) error { return reply }})
		var sent []string
		mailer := &tlsrpt.Mailer{Store: db, From: "tls-reports@out.godwit.test",
			Sent: func(scheme, result string) { sent = append(sent, scheme+" "+result) },
			Transport: &delivery.MXTransport{Resolver: dns.Addr(), HELO: "out.godwit.test", Timeout: 5 * time.Second,
				Guard: netguard.Policy{AllowPrivate: true}, DialAddr: func(string) string { return sink.Addr() }}}
		dns.SetMX("reports.test", dnscheck.MX{Host: "mx.reports.test", Preference: 10})
		dns.SetAddr("mx.reports.test", "127.0.0.1")
		m := store.TLSReportMail{Domain: "example.test", Day: "2026-12-02", ReportID: "r1", To: "tls@reports.test",
			Message: []byte("From: <tls-reports@out.godwit.test>\r\nTo: <tls@reports.test>\r\nSubject: r\r\n\r\nreport\r\n")}

		reply = &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "try later"}
		err := mailer.Send(ctx, m, 1, false)
		require.Error(t, err)
		require.False(t, errors.As(err, new(*tlsrpt.PermanentError)), "a 4xx is retried: %v", err)
		require.Error(t, mailer.Send(ctx, m, 30, true))
		reply = &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no such user"}
		err = mailer.Send(ctx, m, 1, false)
		require.True(t, errors.As(err, new(*tlsrpt.PermanentError)), "a 5xx is not retried: %v", err)
		reply = nil
		require.NoError(t, mailer.Send(ctx, m, 2, false))
		require.Equal(t, []string{"mailto deferred", "mailto failed", "mailto failed", "mailto sent"}, sent)
		msgs := sink.Messages()
		require.Len(t, msgs, 1)
		require.Empty(t, verifyDKIM(t, dns, msgs[0].Data), "no domain holds out.godwit.test or godwit.test: unsigned")
	})
}
