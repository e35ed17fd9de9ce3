package emailmetrics

import (
	"encoding/json"
	"errors"
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/godwit/godwit/internal/store"
)

var now = time.Date(2026, 12, 1, 1, 0, 0, 0, time.UTC)

func mustParse(t *testing.T, query string) *Query {
	t.Helper()
	v, err := url.ParseQuery(query)
	require.NoError(t, err)
	q, err := Parse(v, now)
	require.NoError(t, err)
	return q
}

func TestPeriods(t *testing.T) {
	for _, tc := range []struct {
		name, query string
		want        []string
	}{
		{"hourly over the end of DST: the repeated hour is two periods",
			"start_date=2026-11-01T04:00:00Z&end_date=2026-11-01T08:00:00Z&granularity=hourly&timezone=America/New_York",
			[]string{"2026-11-01T00:00:00-04:00", "2026-11-01T01:00:00-04:00", "2026-11-01T01:00:00-05:00", "2026-11-01T02:00:00-05:00"}},
		{"daily over the start of DST (a 23-hour day)",
			"start_date=2026-03-07&end_date=2026-03-10&timezone=America/New_York",
			[]string{"2026-03-07", "2026-03-08", "2026-03-09"}},
		{"a date in the zone is its local midnight", "start_date=2026-11-28&end_date=2026-11-28T00:00:01&timezone=Asia/Tokyo", []string{"2026-11-28"}},
		{"weekly starts on Monday", "start_date=2026-11-29&end_date=2026-12-01&granularity=weekly", []string{"2026-11-23", "2026-11-30"}},
		{"monthly over a year end", "start_date=2025-11-15&end_date=2026-01-02&granularity=monthly", []string{"2025-11-01", "2025-12-01", "2026-01-01"}},
		{"an empty range is one period", "start_date=2026-11-28T10:00:00Z&end_date=2026-11-28T10:00:00Z", []string{"2026-11-28"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			q := mustParse(t, tc.query)
			var got []string
			for _, p := range q.periods() {
				got = append(got, q.label(p))
			}
			require.Equal(t, tc.want, got)
		})
	}
}

func TestFilterBuckets(t *testing.T) {
	for _, tc := range []struct {
		name, query   string
		bucket, shift time.Duration
	}{
		{"daily in UTC", "dimensions=period", 24 * time.Hour, 0},
		{"daily in New York, no DST change in range", "dimensions=period&timezone=America/New_York&start_date=2026-11-10&end_date=2026-11-20",
			24 * time.Hour, 19 * time.Hour},
		{"daily over a DST change: hours", "dimensions=period&timezone=America/New_York&start_date=2026-10-20&end_date=2026-11-20", 0, 0},
		{"weekly in UTC: Monday boundaries", "dimensions=period&granularity=weekly", 7 * 24 * time.Hour, 3 * 24 * time.Hour},
		{"monthly: days", "dimensions=period&granularity=monthly", 24 * time.Hour, 0},
		{"hourly: hours", "dimensions=period&granularity=hourly", 0, 0},
		{"a half-hour zone: hours", "dimensions=period&timezone=Asia/Kolkata", 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := mustParse(t, tc.query).Filter("team")
			require.True(t, f.ByHour)
			require.Equal(t, tc.bucket, f.Bucket)
			require.Equal(t, tc.shift, f.Shift)
		})
	}
}

func TestRenderBucketsHoursInTheZone(t *testing.T) {
	q := mustParse(t, "start_date=2026-11-28&end_date=2026-11-30&dimensions=period&metrics=received&timezone=America/New_York")
	rows := []*store.EmailMetricsRow{
		{Hour: time.Date(2026, 11, 29, 4, 0, 0, 0, time.UTC), EmailCounts: store.EmailCounts{Received: 2}}, // 23:00 on the 28th
		{Hour: time.Date(2026, 11, 29, 5, 0, 0, 0, time.UTC), EmailCounts: store.EmailCounts{Received: 3}}, // midnight on the 29th
	}
	body, err := q.Render(rows)
	require.NoError(t, err)
	require.JSONEq(t, `{"object":"metrics","start_date":"2026-11-28T05:00:00.000Z","end_date":"2026-11-30T05:00:00.000Z",
		"metrics":["received"],"dimensions":["period"],"granularity":"daily","totals":{"received":5},
		"data":[{"period":"2026-11-28","received":2},{"period":"2026-11-29","received":3}]}`, string(body))
}

// FuzzParse holds Parse to its promises on any query string: a refusal is
// a 4xx in Resend's envelope, and an accepted query renders valid JSON
// with at most MaxPeriods periods, in order.
func FuzzParse(f *testing.F) {
	for _, seed := range []string{
		"",
		"start_date=2026-07-01&end_date=2026-07-08&metrics=sent,delivered,open_rate&dimensions=period,domain",
		"granularity=hourly&dimensions=period&timezone=Asia/Kolkata&start_date=2026-11-28T12:30:00%2B05:30",
		"dimensions=email&email_id=0192f0a4-6f3e-7c1a-9c7e-6f3e7c1a9c7e,0192F0A4-6F3E-7C1A-9C7E-6F3E7C1A9C7E",
		"dimensions=broadcast&broadcast_id=0192f0a4-6f3e-7c1a-9c7e-6f3e7c1a9c7e&metrics=bounce_rate&metrics=sent",
		"granularity=monthly&dimensions=period&start_date=1970-01-01",
		"granularity=weekly&dimensions=period&timezone=Australia/Lord_Howe&start_date=2026-01-01&end_date=2026-12-31",
		"timezone=Local", "timezone=../../etc/passwd", "metrics=,,,", "end_date=2026-11-30T24:00:00Z",
		"domain_id=x", "start_date=9999-12-31&end_date=9999-12-31T23:59:59Z",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		v, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		q, err := Parse(v, now)
		if err != nil {
			// Every refusal is the client's (the API writes it as a 422).
			var bad *Error
			require.True(t, errors.As(err, &bad), "%v", err)
			require.NotEmpty(t, bad.Message)
			return
		}
		require.False(t, q.Start.After(q.End))
		require.False(t, q.End.After(now))
		if q.has("period") {
			ps := q.periods()
			require.LessOrEqual(t, len(ps), MaxPeriods)
			for i := 1; i < len(ps); i++ {
				require.True(t, ps[i].After(ps[i-1]))
			}
		}
		body, err := q.Render([]*store.EmailMetricsRow{{Hour: q.Start.Truncate(time.Hour), DomainID: "d", BroadcastID: "b", EmailID: "e",
			EmailCounts: store.EmailCounts{Sent: 1, Delivered: 1}}})
		require.NoError(t, err)
		require.True(t, json.Valid(body), "%s", body)
	})
}

// Table has the figures Render writes: every period, in order, and the
// domains by name, without the rows of no domain.
func TestTable(t *testing.T) {
	q := mustParse(t, "start_date=2026-11-29&end_date=2026-12-01T00:30:00Z&dimensions=period&metrics=sent")
	h := time.Date(2026, 11, 30, 5, 0, 0, 0, time.UTC)
	rows := []*store.EmailMetricsRow{{Hour: h, EmailCounts: store.EmailCounts{Sent: 2}}, {Hour: h.Add(time.Hour), EmailCounts: store.EmailCounts{Sent: 3}}}
	tab := q.Table(rows)
	require.Equal(t, int64(5), tab.Totals.Sent)
	require.Len(t, tab.Rows, 3)
	require.Equal(t, []string{"2026-11-29", "2026-11-30", "2026-12-01"}, []string{tab.Rows[0].Label, tab.Rows[1].Label, tab.Rows[2].Label})
	require.Equal(t, []int64{0, 5, 0}, []int64{tab.Rows[0].Sent, tab.Rows[1].Sent, tab.Rows[2].Sent})
	require.Equal(t, time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC), tab.Rows[1].Period)
	body, err := q.Render(rows)
	require.NoError(t, err)
	var out struct {
		Data []map[string]any
	}
	require.NoError(t, json.Unmarshal(body, &out))
	require.Len(t, out.Data, 3)
	require.Equal(t, "2026-11-30", out.Data[1]["period"])
	require.EqualValues(t, 5, out.Data[1]["sent"])

	q = mustParse(t, "dimensions=domain&metrics=sent")
	tab = q.Table([]*store.EmailMetricsRow{{DomainID: "b", DomainName: "b.test", EmailCounts: store.EmailCounts{Sent: 1}},
		{DomainID: "a", DomainName: "a.test", EmailCounts: store.EmailCounts{Sent: 4}}, {EmailCounts: store.EmailCounts{Sent: 7}}})
	require.Equal(t, int64(12), tab.Totals.Sent, "the test sender's emails count in the totals")
	require.Len(t, tab.Rows, 2)
	require.Equal(t, "a.test", tab.Rows[0].DomainName)
	require.Equal(t, int64(4), tab.Rows[0].Sent)
	require.True(t, tab.Rows[0].Period.IsZero())
}
