// Package emailmetrics is GET /emails/metrics apart from HTTP: the query
// (Parse, fuzzed), the store filter it needs, and the response built from
// the store's hourly counts (Render).
//
// Counts come from the store's hourly rollup (store.EmailMetrics), so a
// period is made of whole UTC hours: for a timezone whose offset is whole
// hours (every zone but a few, at every date) the periods are exact; for a
// zone with a half- or quarter-hour offset (Asia/Kolkata, Australia/Adelaide,
// Asia/Kathmandu) each UTC hour counts in the local period where it starts,
// so events of the hour's last 30 or 45 minutes may land in the previous
// local hour or day. The range is rounded the same way: every hour that
// starts before end_date and ends after start_date is counted. With
// `email_id` the counts come from those emails' own events and are exact.
package emailmetrics

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	_ "time/tzdata" // IANA zones without depending on the host's zoneinfo

	"github.com/google/uuid"

	"github.com/godwit/godwit/internal/store"
)

// Metrics are every metric, in Resend's order (the default selection).
var Metrics = []string{"received", "delivered", "complained", "suppressed", "bounced", "bounced_transient",
	"bounced_permanent", "bounced_undetermined", "opened", "clicked", "unsubscribed", "delivery_delayed", "failed",
	"sent", "unique_opened", "unique_clicked", "delivery_rate", "open_rate", "click_rate", "bounce_rate",
	"complaint_rate", "unsubscribe_rate"}

// Dimensions, granularities and limits of the reference.
var (
	Dimensions    = []string{"period", "domain", "email", "broadcast"}
	Granularities = []string{"hourly", "daily", "weekly", "monthly"}
)

const (
	// MaxPeriods is the most periods a request may produce (with `period`).
	MaxPeriods = 10000
	// MaxIDs is the most ids one filter takes.
	MaxIDs = 100
	// DefaultSpan is how far before end_date start_date defaults to.
	DefaultSpan = 6 * 24 * time.Hour
)

// Query is a parsed request.
type Query struct {
	Start, End   time.Time
	Location     *time.Location
	Granularity  string
	Metrics      []string
	Dimensions   []string
	DomainIDs    []string
	EmailIDs     []string
	BroadcastIDs []string
}

// Error is a query Parse refuses: the client's mistake, with the message
// to show it. The API writes it as Resend's 422 (validation_error, or
// invalid_parameter for an id that is not a UUID).
type Error struct {
	// BadID is set when a filter's id is not a UUID.
	BadID   bool
	Message string
}

func (e *Error) Error() string { return e.Message }

func invalid(format string, args ...any) *Error { return &Error{Message: fmt.Sprintf(format, args...)} }

// Parse reads the query string of a request made at now. Lists may be
// comma-separated, repeated, or both; unknown parameters are ignored.
func Parse(v url.Values, now time.Time) (*Query, error) {
	q := &Query{Location: time.UTC, Granularity: "daily"}
	if tz := v.Get("timezone"); tz != "" {
		loc, err := loadLocation(tz)
		if err != nil {
			return nil, invalid("The `timezone` must be an IANA time zone name such as `America/New_York`; got %s.", quote(tz))
		}
		q.Location = loc
	}
	if g := v.Get("granularity"); g != "" {
		if !slices.Contains(Granularities, g) {
			return nil, invalid("The `granularity` must be one of %s; got %s.", strings.Join(Granularities, ", "), quote(g))
		}
		q.Granularity = g
	}
	var err error
	if q.Metrics, err = enumList(v, "metrics", Metrics); err != nil {
		return nil, err
	}
	if len(q.Metrics) == 0 {
		q.Metrics = slices.Clone(Metrics)
	}
	if q.Dimensions, err = enumList(v, "dimensions", Dimensions); err != nil {
		return nil, err
	}
	if q.DomainIDs, err = idList(v, "domain_id"); err != nil {
		return nil, err
	}
	if q.EmailIDs, err = idList(v, "email_id"); err != nil {
		return nil, err
	}
	if q.BroadcastIDs, err = idList(v, "broadcast_id"); err != nil {
		return nil, err
	}
	switch {
	case q.has("email") && q.has("broadcast"):
		return nil, invalid("The `email` dimension cannot be combined with the `broadcast` dimension.")
	case len(q.EmailIDs) > 0 && q.has("broadcast"):
		return nil, invalid("The `email_id` filter cannot be combined with the `broadcast` dimension.")
	case len(q.EmailIDs) > 0 && len(q.BroadcastIDs) > 0:
		return nil, invalid("The `email_id` filter cannot be combined with the `broadcast_id` filter.")
	case q.has("email") && len(q.BroadcastIDs) > 0:
		return nil, invalid("The `email` dimension cannot be combined with the `broadcast_id` filter.")
	case q.has("email") && len(q.EmailIDs) == 0:
		return nil, invalid("The `email` dimension needs the `email_id` filter: name up to %d emails.", MaxIDs)
	}

	now = now.UTC()
	q.End = now
	if s := v.Get("end_date"); s != "" {
		if q.End, err = parseDate(s, q.Location); err != nil {
			return nil, invalid("The `end_date` must be an ISO 8601 date (`2026-07-01`) or datetime (`2026-07-01T00:00:00Z`); got %s.", quote(s))
		}
		if q.End.After(now) {
			q.End = now
		}
	}
	q.Start = q.End.Add(-DefaultSpan)
	if s := v.Get("start_date"); s != "" {
		if q.Start, err = parseDate(s, q.Location); err != nil {
			return nil, invalid("The `start_date` must be an ISO 8601 date (`2026-07-01`) or datetime (`2026-07-01T00:00:00Z`); got %s.", quote(s))
		}
	}
	if q.Start.After(q.End) {
		return nil, invalid("The `start_date` must be on or before `end_date`.")
	}
	if q.has("period") {
		if n := q.periodCount(); n > MaxPeriods {
			return nil, invalid("The date range produces %d %s periods; at most %d are allowed. Choose a shorter range or a coarser `granularity`.",
				n, q.Granularity, MaxPeriods)
		}
	}
	return q, nil
}

func (q *Query) has(dimension string) bool { return slices.Contains(q.Dimensions, dimension) }

// Filter is the store filter of q for a team. When the zone keeps one
// offset over the whole range, the store sums the hours of each local day
// (or Monday-based week) itself, so a 30-day range is 30 rows a domain
// rather than 720; otherwise it returns hours and Render folds them.
func (q *Query) Filter(teamID string) store.EmailMetricsFilter {
	f := store.EmailMetricsFilter{TeamID: teamID, From: q.Start, To: q.End,
		DomainIDs: q.DomainIDs, BroadcastIDs: q.BroadcastIDs, EmailIDs: q.EmailIDs,
		ByHour: q.has("period"), ByDomain: q.has("domain"), ByBroadcast: q.has("broadcast")}
	_, offset := q.Start.In(q.Location).Zone()
	if _, until := q.Start.In(q.Location).ZoneBounds(); (until.IsZero() || !until.Before(q.End)) && offset%3600 == 0 {
		const day = 24 * time.Hour
		switch q.Granularity {
		case "daily", "monthly": // months are folded from days
			f.Bucket = day
			f.Shift = positiveMod(time.Duration(offset)*time.Second, day)
		case "weekly": // local Monday 1970-01-05 00:00 is a boundary
			f.Bucket = 7 * day
			f.Shift = positiveMod(time.Duration(offset)*time.Second-4*day, 7*day)
		}
	}
	return f
}

func positiveMod(d, m time.Duration) time.Duration { return (d%m + m) % m }

// loadLocation loads an IANA zone by name. "Local" (the server's zone) is
// not one.
func loadLocation(name string) (*time.Location, error) {
	if len(name) > 64 || name == "Local" {
		return nil, fmt.Errorf("not a zone name")
	}
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("/_+-", r)) {
			return nil, fmt.Errorf("not a zone name")
		}
	}
	return time.LoadLocation(name)
}

// parseDate reads an ISO 8601 date (midnight in loc) or datetime (in loc
// when it has no offset).
func parseDate(s string, loc *time.Location) (time.Time, error) {
	for _, layout := range []string{time.DateOnly, "2006-01-02T15:04:05Z07:00", "2006-01-02T15:04Z07:00", "2006-01-02T15:04:05", "2006-01-02T15:04"} {
		if t, err := time.ParseInLocation(layout, s, loc); err == nil {
			if t.Year() < 1970 {
				break
			}
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("not an ISO 8601 date")
}

// values are the items of a list parameter, comma-separated or repeated.
func values(v url.Values, name string) []string {
	var out []string
	for _, raw := range v[name] {
		for _, item := range strings.Split(raw, ",") {
			if item = strings.TrimSpace(item); item != "" && !slices.Contains(out, item) {
				out = append(out, item)
			}
		}
	}
	return out
}

func enumList(v url.Values, name string, allowed []string) ([]string, error) {
	items := values(v, name)
	for _, it := range items {
		if !slices.Contains(allowed, it) {
			return nil, invalid("The `%s` must be a list of %s; got %s.", name, strings.Join(allowed, ", "), quote(it))
		}
	}
	return items, nil
}

func idList(v url.Values, name string) ([]string, error) {
	items := values(v, name)
	if len(items) > MaxIDs {
		return nil, invalid("The `%s` filter takes at most %d IDs; got %d.", name, MaxIDs, len(items))
	}
	out := items[:0]
	for _, it := range items {
		if _, err := uuid.Parse(it); err != nil || len(it) != 36 {
			return nil, &Error{BadID: true, Message: fmt.Sprintf("The `%s` must be a valid UUID.", name)}
		}
		if id := strings.ToLower(it); !slices.Contains(out, id) {
			out = append(out, id)
		}
	}
	return out, nil
}

// quote renders caller input in a message: quoted, and cut if long.
func quote(s string) string {
	if len(s) > 64 {
		s = s[:64] + "…"
	}
	return strconv.Quote(s)
}

// periodStart is the start of the period holding t, in q's zone.
func (q *Query) periodStart(t time.Time) time.Time {
	l := t.In(q.Location)
	y, m, d := l.Date()
	switch q.Granularity {
	case "hourly": // by offset, not by wall clock: a repeated hour at the end of DST is two periods
		return t.Add(-time.Duration(l.Minute())*time.Minute - time.Duration(l.Second())*time.Second - time.Duration(l.Nanosecond()))
	case "weekly": // weeks start on Monday (ISO 8601)
		back := (int(l.Weekday()) + 6) % 7
		return time.Date(y, m, d-back, 0, 0, 0, 0, q.Location)
	case "monthly":
		return time.Date(y, m, 1, 0, 0, 0, 0, q.Location)
	default:
		return time.Date(y, m, d, 0, 0, 0, 0, q.Location)
	}
}

// nextPeriod is the start of the period after the one starting at p.
func (q *Query) nextPeriod(p time.Time) time.Time {
	l := p.In(q.Location)
	y, m, d := l.Date()
	switch q.Granularity {
	case "hourly":
		return p.Add(time.Hour)
	case "weekly":
		return time.Date(y, m, d+7, 0, 0, 0, 0, q.Location)
	case "monthly":
		return time.Date(y, m+1, 1, 0, 0, 0, 0, q.Location)
	default:
		return time.Date(y, m, d+1, 0, 0, 0, 0, q.Location)
	}
}

// periodCount is how many periods [Start, End) touches (at least one),
// computed without walking an absurd range.
func (q *Query) periodCount() int {
	span := q.End.Sub(q.Start)
	per := map[string]time.Duration{"hourly": time.Hour, "daily": 23 * time.Hour, "weekly": 7*24*time.Hour - time.Hour, "monthly": 28 * 24 * time.Hour}[q.Granularity]
	if est := span/per + 2; est > MaxPeriods+2 {
		return int(min(est, math.MaxInt32))
	}
	return len(q.periods())
}

// periods are the starts of the periods of [Start, End), at least one.
func (q *Query) periods() []time.Time {
	p := q.periodStart(q.Start)
	out := []time.Time{p}
	for p = q.nextPeriod(p); p.Before(q.End); p = q.nextPeriod(p) {
		out = append(out, p)
	}
	return out
}

func (q *Query) label(p time.Time) string {
	if q.Granularity == "hourly" {
		return p.In(q.Location).Format(time.RFC3339)
	}
	return p.In(q.Location).Format(time.DateOnly)
}

type group struct {
	period                     int
	domainID, domainName       string
	broadcastID, broadcastName string
	emailID                    string
}

// Table is a query's figures apart from JSON: the totals and, when the
// query has dimensions, one row per group in the response's order.
type Table struct {
	Totals store.EmailCounts
	Rows   []TableRow
}

// TableRow is one group of a Table: its period (when the query has the
// period dimension), domain, broadcast or email, and its counts.
type TableRow struct {
	Period                     time.Time // the period's start, in the query's zone
	Label                      string    // the period as the response writes it
	DomainID, DomainName       string
	BroadcastID, BroadcastName string
	EmailID                    string
	store.EmailCounts
}

// Table groups the store's rows as the query asks: what Render writes,
// for a caller that draws the figures rather than sending them.
func (q *Query) Table(rows []*store.EmailMetricsRow) *Table {
	var totals store.EmailCounts
	var periods []time.Time
	index := map[int64]int{}
	if q.has("period") {
		periods = q.periods()
		for i, p := range periods {
			index[p.Unix()] = i
		}
	}
	groups := map[group]*store.EmailCounts{}
	var order []group
	add := func(g group, c *store.EmailCounts) {
		sum, ok := groups[g]
		if !ok {
			sum = &store.EmailCounts{}
			groups[g] = sum
			order = append(order, g)
		}
		sum.Add(c)
	}
	if q.has("period") && len(q.Dimensions) == 1 {
		for i := range periods { // every period has a row, even an empty one
			add(group{period: i}, &store.EmailCounts{})
		}
	}
	for _, r := range rows {
		totals.Add(&r.EmailCounts)
		if len(q.Dimensions) == 0 {
			continue
		}
		var g group
		if q.has("period") {
			i, ok := index[q.periodStart(r.Hour).Unix()]
			if !ok { // an hour that starts before the first local period (half-hour zones)
				i = 0
				if r.Hour.After(periods[len(periods)-1]) {
					i = len(periods) - 1
				}
			}
			g.period = i
		}
		if q.has("domain") {
			if r.DomainID == "" {
				continue // the test sender has no domain of the team: in totals only
			}
			g.domainID, g.domainName = r.DomainID, r.DomainName
		}
		if q.has("broadcast") {
			if r.BroadcastID == "" {
				continue // not sent by a broadcast: in totals only
			}
			g.broadcastID, g.broadcastName = r.BroadcastID, r.BroadcastName
		}
		if q.has("email") {
			g.emailID = r.EmailID
		}
		add(g, &r.EmailCounts)
	}
	slices.SortStableFunc(order, func(a, b group) int {
		if a.period != b.period {
			return a.period - b.period
		}
		for _, p := range [][2]string{{a.domainName, b.domainName}, {a.domainID, b.domainID}, {a.broadcastName, b.broadcastName},
			{a.broadcastID, b.broadcastID}, {a.emailID, b.emailID}} {
			if c := strings.Compare(p[0], p[1]); c != 0 {
				return c
			}
		}
		return 0
	})

	t := &Table{Totals: totals}
	if len(q.Dimensions) > 0 {
		t.Rows = make([]TableRow, 0, len(order))
		for _, g := range order {
			r := TableRow{DomainID: g.domainID, DomainName: g.domainName, BroadcastID: g.broadcastID,
				BroadcastName: g.broadcastName, EmailID: g.emailID, EmailCounts: *groups[g]}
			if q.has("period") {
				r.Period, r.Label = periods[g.period].In(q.Location), q.label(periods[g.period])
			}
			t.Rows = append(t.Rows, r)
		}
	}
	return t
}

// Render builds the response body from the store's rows.
func (q *Query) Render(rows []*store.EmailMetricsRow) ([]byte, error) {
	t := q.Table(rows)
	var b bytes.Buffer
	b.WriteString(`{"object":"metrics","start_date":`)
	writeString(&b, q.Start.UTC().Format("2006-01-02T15:04:05.000Z"))
	b.WriteString(`,"end_date":`)
	writeString(&b, q.End.UTC().Format("2006-01-02T15:04:05.000Z"))
	b.WriteString(`,"metrics":`)
	writeList(&b, q.Metrics)
	b.WriteString(`,"dimensions":`)
	writeList(&b, q.Dimensions)
	b.WriteString(`,"granularity":`)
	writeString(&b, q.Granularity)
	b.WriteString(`,"totals":{`)
	q.writeMetrics(&b, &t.Totals, false)
	b.WriteByte('}')
	if len(q.Dimensions) > 0 {
		b.WriteString(`,"data":[`)
		for i := range t.Rows {
			g := &t.Rows[i]
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteByte('{')
			more := false
			field := func(name, value string) {
				if more {
					b.WriteByte(',')
				}
				writeString(&b, name)
				b.WriteByte(':')
				writeString(&b, value)
				more = true
			}
			if q.has("period") {
				field("period", g.Label)
			}
			if q.has("domain") {
				field("domain_id", g.DomainID)
				field("domain_name", g.DomainName)
			}
			if q.has("broadcast") {
				field("broadcast_id", g.BroadcastID)
				field("broadcast_name", g.BroadcastName)
			}
			if q.has("email") {
				field("email_id", g.EmailID)
			}
			q.writeMetrics(&b, &g.EmailCounts, more)
			b.WriteByte('}')
		}
		b.WriteByte(']')
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// writeMetrics writes the requested metrics of c as JSON members.
func (q *Query) writeMetrics(b *bytes.Buffer, c *store.EmailCounts, comma bool) {
	for _, m := range q.Metrics {
		if comma {
			b.WriteByte(',')
		}
		comma = true
		writeString(b, m)
		b.WriteByte(':')
		if v, ok := count(c, m); ok {
			b.WriteString(strconv.FormatInt(v, 10))
		} else {
			b.WriteString(strconv.FormatFloat(rate(c, m), 'f', -1, 64))
		}
	}
}

// count is a counting metric's value; ok is false for a rate.
func count(c *store.EmailCounts, metric string) (int64, bool) {
	switch metric {
	case "received":
		return c.Received, true
	case "sent":
		return c.Sent, true
	case "delivered":
		return c.Delivered, true
	case "delivery_delayed":
		return c.DeliveryDelayed, true
	case "failed":
		return c.Failed, true
	case "suppressed":
		return c.Suppressed, true
	case "bounced":
		return c.Bounced, true
	case "bounced_transient":
		return c.BouncedTransient, true
	case "bounced_permanent":
		return c.BouncedPermanent, true
	case "bounced_undetermined":
		return c.BouncedUndetermined, true
	case "complained":
		return c.Complained, true
	case "opened":
		return c.Opened, true
	case "clicked":
		return c.Clicked, true
	case "unique_opened":
		return c.UniqueOpened, true
	case "unique_clicked":
		return c.UniqueClicked, true
	case "unsubscribed":
		return 0, true // Godwit records no per-email unsubscribe
	}
	return 0, false
}

// rate is a rate metric as a percentage with two decimals: delivery and
// bounce rates of the emails sent, the others of the emails delivered; 0
// when nothing was sent or delivered.
func rate(c *store.EmailCounts, metric string) float64 {
	var part, whole int64
	switch metric {
	case "delivery_rate":
		part, whole = c.Delivered, c.Sent
	case "bounce_rate":
		part, whole = c.Bounced, c.Sent
	case "open_rate":
		part, whole = c.UniqueOpened, c.Delivered
	case "click_rate":
		part, whole = c.UniqueClicked, c.Delivered
	case "complaint_rate":
		part, whole = c.Complained, c.Delivered
	case "unsubscribe_rate":
		part, whole = 0, c.Delivered
	}
	if whole == 0 {
		return 0
	}
	return math.Round(float64(part)*10000/float64(whole)) / 100
}

func writeString(b *bytes.Buffer, s string) {
	raw, _ := json.Marshal(s) // a string always marshals
	b.Write(raw)
}

func writeList(b *bytes.Buffer, items []string) {
	b.WriteByte('[')
	for i, s := range items {
		if i > 0 {
			b.WriteByte(',')
		}
		writeString(b, s)
	}
	b.WriteByte(']')
}
