package dashboard

import (
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/godwit/godwit/internal/dashboard/chart"
	"github.com/godwit/godwit/internal/emailmetrics"
	"github.com/godwit/godwit/internal/store"
)

// metricGroup is one line chart of the metrics page: metrics drawn
// together.
type metricGroup struct {
	ID, Title string
	Metrics   []string
}

// metricGroups are the metrics page's line charts; metricsShown are their
// metrics, in the tables' order.
var (
	metricGroups = []metricGroup{
		{"delivery", "Delivery", []string{"sent", "delivered", "bounced", "complained"}},
		{"engagement", "Engagement", []string{"opened", "clicked"}},
	}
	metricsShown = []string{"sent", "delivered", "bounced", "complained", "opened", "clicked"}
)

// metricValue is one of metricsShown in c.
func metricValue(c *store.EmailCounts, metric string) int64 {
	switch metric {
	case "sent":
		return c.Sent
	case "delivered":
		return c.Delivered
	case "bounced":
		return c.Bounced
	case "complained":
		return c.Complained
	case "opened":
		return c.Opened
	case "clicked":
		return c.Clicked
	}
	return 0
}

// metricsRange is the page's choice of span and granularity.
type metricsRange struct {
	Days        int    // 7 or 30
	Granularity string // daily or hourly
}

// parseMetricsRange reads ?days=7|30&granularity=daily|hourly (7 and daily
// by default).
func parseMetricsRange(q url.Values) (metricsRange, error) {
	r := metricsRange{Days: 7, Granularity: "daily"}
	switch d := q.Get("days"); d {
	case "", "7":
	case "30":
		r.Days = 30
	default:
		return r, errors.New("Choose the last 7 or 30 days.")
	}
	switch g := q.Get("granularity"); g {
	case "", "daily":
	case "hourly":
		r.Granularity = "hourly"
	default:
		return r, errors.New("Choose daily or hourly.")
	}
	return r, nil
}

// query is the GET /emails/metrics query of the range ending at now, with
// dimension: daily starts at midnight (UTC) days-1 days ago, hourly at the
// hour days×24 hours ago.
func (m metricsRange) query(now time.Time, dimension string) (*emailmetrics.Query, error) {
	now = now.UTC()
	start := now.Truncate(time.Hour).Add(-time.Duration(m.Days*24-1) * time.Hour)
	if m.Granularity == "daily" {
		y, mo, d := now.Date()
		start = time.Date(y, mo, d-m.Days+1, 0, 0, 0, 0, time.UTC)
	}
	v := url.Values{"start_date": {start.Format(time.RFC3339)}, "end_date": {now.Format(time.RFC3339)},
		"granularity": {m.Granularity}, "dimensions": {dimension}}
	for _, metric := range metricsShown {
		v.Add("metrics", metric)
	}
	return emailmetrics.Parse(v, now)
}

// metricsTable is the figures of a chart, under it.
type metricsTable struct {
	Caption string
	Head    string // the first column's name
	Columns []string
	Open    bool // shown, not folded (hourly tables are long)
	Rows    []metricsTableRow
}

type metricsTableRow struct {
	Label  string
	Values []int64
}

type metricsChart struct {
	Title string
	SVG   template.HTML
	Table metricsTable
}

type metricsData struct {
	Range  metricsRange
	Totals []metricsTotal
	Charts []metricsChart
	Domain metricsChart
	// Ranges are the page's links to the other ranges.
	Ranges []metricsLink
}

type metricsTotal struct {
	Metric string
	Value  int64
}

type metricsLink struct {
	Label   string
	URL     string
	Current bool
}

// metrics is the metrics page: the counts of the last 7 or 30 days, daily
// or hourly, over time (a line chart per group of metrics) and by sending
// domain (bars), each with a table of the same figures. The figures are
// GET /emails/metrics' (emailmetrics and the store's hourly rollup): two
// store queries.
func (h *Handler) metrics(w http.ResponseWriter, r *http.Request, s *request) error {
	rng, err := parseMetricsRange(r.URL.Query())
	if err != nil {
		return &httpError{status: http.StatusBadRequest, msg: err.Error()}
	}
	now := time.Now
	if h.cfg.Now != nil {
		now = h.cfg.Now
	}
	at := now()
	overTime, err := h.metricsTable(r, s, rng, at, "period")
	if err != nil {
		return err
	}
	byDomain, err := h.metricsTable(r, s, rng, at, "domain")
	if err != nil {
		return err
	}
	data := metricsData{Range: rng}
	for _, m := range metricsShown {
		data.Totals = append(data.Totals, metricsTotal{Metric: m, Value: metricValue(&overTime.Totals, m)})
	}
	labels := make([]string, len(overTime.Rows))
	for i, row := range overTime.Rows {
		labels[i] = periodLabel(row.Period, rng.Granularity)
	}
	for _, g := range metricGroups {
		c := chart.Line{ID: "chart-" + g.ID, Title: g.Title + ", " + rangeLabel(rng), Labels: labels}
		t := metricsTable{Caption: g.Title + " by " + map[string]string{"daily": "day", "hourly": "hour"}[rng.Granularity] + " (UTC)",
			Head: "Period", Columns: g.Metrics, Open: rng.Granularity == "daily"}
		for _, m := range g.Metrics {
			values := make([]float64, len(overTime.Rows))
			for i := range overTime.Rows {
				values[i] = float64(metricValue(&overTime.Rows[i].EmailCounts, m))
			}
			c.Series = append(c.Series, chart.Series{Name: m, Values: values})
		}
		for i, row := range overTime.Rows {
			tr := metricsTableRow{Label: labels[i]}
			for _, m := range g.Metrics {
				tr.Values = append(tr.Values, metricValue(&row.EmailCounts, m))
			}
			t.Rows = append(t.Rows, tr)
		}
		data.Charts = append(data.Charts, metricsChart{Title: g.Title, SVG: c.SVG(), Table: t})
	}
	bars := chart.Bars{ID: "chart-domains", Title: "Sent by domain, " + rangeLabel(rng)}
	dt := metricsTable{Caption: "By sending domain", Head: "Domain", Columns: metricsShown, Open: true}
	for _, row := range byDomain.Rows {
		bars.Labels = append(bars.Labels, row.DomainName)
		bars.Values = append(bars.Values, float64(row.Sent))
		tr := metricsTableRow{Label: row.DomainName}
		for _, m := range metricsShown {
			tr.Values = append(tr.Values, metricValue(&row.EmailCounts, m))
		}
		dt.Rows = append(dt.Rows, tr)
	}
	data.Domain = metricsChart{Title: "By domain", SVG: bars.SVG(), Table: dt}
	for _, days := range []int{7, 30} {
		for _, g := range []string{"daily", "hourly"} {
			o := metricsRange{Days: days, Granularity: g}
			data.Ranges = append(data.Ranges, metricsLink{Label: rangeLabel(o), Current: o == rng,
				URL: Prefix + "metrics?days=" + strconv.Itoa(days) + "&granularity=" + g})
		}
	}
	return h.render(w, r, s, http.StatusOK, "metrics", "Metrics", "Metrics", data)
}

// metricsTable reads the team's counts of rng grouped by dimension.
func (h *Handler) metricsTable(r *http.Request, s *request, rng metricsRange, now time.Time, dimension string) (*emailmetrics.Table, error) {
	q, err := rng.query(now, dimension)
	if err != nil {
		return nil, fmt.Errorf("metrics query: %w", err)
	}
	rows, err := h.cfg.Store.EmailMetrics(r.Context(), q.Filter(s.user.TeamID))
	if err != nil {
		return nil, fmt.Errorf("email metrics: %w", err)
	}
	return q.Table(rows), nil
}

func rangeLabel(r metricsRange) string {
	return "last " + strconv.Itoa(r.Days) + " days, " + r.Granularity
}

// periodLabel names a period on the chart and in the table.
func periodLabel(t time.Time, granularity string) string {
	if granularity == "hourly" {
		return t.UTC().Format("Jan 2 15:00")
	}
	return t.UTC().Format("Jan 2")
}
