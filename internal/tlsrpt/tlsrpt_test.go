package tlsrpt_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/base64"
	"encoding/json"
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

	"github.com/stretchr/testify/require"

	"github.com/godwit/godwit/internal/delivery"
	"github.com/godwit/godwit/internal/dnscheck"
	"github.com/godwit/godwit/internal/dnscheck/dnstest"
	"github.com/godwit/godwit/internal/godwittest"
	"github.com/godwit/godwit/internal/netguard"
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

		ok, err := db.ClaimTLSReport(ctx, "example.test", "2026-12-02", day)
		require.NoError(t, err)
		require.True(t, ok)
		ok, err = db.ClaimTLSReport(ctx, "example.test", "2026-12-02", day)
		require.NoError(t, err)
		require.False(t, ok, "claimed once")

		require.NoError(t, db.PruneTLSResults(ctx, "2026-12-03"))
		got, err = db.TLSResults(ctx, "2026-12-02")
		require.NoError(t, err)
		require.Empty(t, got)
		ok, err = db.ClaimTLSReport(ctx, "example.test", "2026-12-02", day)
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

		client := netguard.Policy{AllowPrivate: true}.HTTPClient(10 * time.Second) // the endpoint is on loopback
		client.Transport.(*http.Transport).TLSClientConfig = srv.Client().Transport.(*http.Transport).TLSClientConfig
		var sent []string
		rep := &tlsrpt.Reporter{Store: db, DNS: &dnscheck.Resolver{Addr: dns.Addr()}, HTTP: client,
			Mail: &delivery.MXTransport{Resolver: dns.Addr(), HELO: "out.godwit.test", Timeout: 5 * time.Second,
				Guard: netguard.Policy{AllowPrivate: true}, DialAddr: func(string) string { return sink.Addr() }},
			Org: "out.godwit.test", Contact: "mailto:postmaster@out.godwit.test", From: "tls-reports@out.godwit.test",
			Now:  func() time.Time { return day.Add(24 * time.Hour) },
			Sent: func(scheme, result string) { sent = append(sent, scheme+" "+result) }}
		require.NoError(t, rep.SendDay(ctx, day))
		require.NoError(t, rep.SendDay(ctx, day), "a second run (a restart, another node) sends nothing")
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
