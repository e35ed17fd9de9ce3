package api

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/godwit/godwit/internal/store"
	"github.com/godwit/godwit/internal/store/sqlstore"
)

// metricsFixture is team A's mail over two UTC days, and one email of team B:
//
//	e1 example.com       2026-11-28 12:00Z  sent, delivered, opened twice, clicked
//	e2 news.example.com  2026-11-29 01:00Z  sent, bounced (Permanent); 20:00 on the 28th in New York
//	e3 example.com       2026-11-28 13:00Z  broadcast "Launch": sent, delivered, complained
type metricsFixture struct {
	e                       *testEnv
	e1, e2, e3, eB          string
	domain2, domainB, bcast string
}

func newMetricsFixture(t *testing.T, kind sqlstore.Dialect) *metricsFixture {
	t.Helper()
	ctx := context.Background()
	e := setup(t, kind)
	f := &metricsFixture{e: e}
	f.domain2 = e.verifiedDomain(e.teamA, "news.example.com")
	f.domainB = e.verifiedDomain(e.teamB, "b.example")
	f.e1 = e.send(e.keyA, simpleEmail)
	f.eB = e.send(e.keyB, `{"from":"b@example.org","to":"x@example.net","subject":"b","text":"b"}`)
	f.bcast = store.NewID()
	require.NoError(t, e.db.CreateBroadcast(ctx, &store.Broadcast{ID: f.bcast, TeamID: e.teamA, Name: "Launch", SegmentID: store.NewID(),
		From: "a@example.com", Subject: "launch", Status: "draft", CreatedAt: t0, UpdatedAt: t0}))
	e3 := &store.Email{ID: store.NewID(), TeamID: e.teamA, From: "a@example.com", To: []string{"c@example.net"}, Subject: "launch",
		LastEvent: store.EventQueued, CreatedAt: t0.Add(time.Hour), BroadcastID: f.bcast, DomainID: e.domainA, DomainName: "example.com"}
	require.NoError(t, e.db.AcceptEmails(ctx, &store.Accept{Emails: []*store.Email{e3}}))
	f.e3 = e3.ID
	e.clock.Advance(13 * time.Hour)
	f.e2 = e.send(e.keyA, `{"from":"a@news.example.com","to":"d@example.net","subject":"n","text":"n"}`)

	record := func(id, team string, evs ...*store.EmailEvent) {
		require.NoError(t, e.db.RecordDelivery(ctx, &store.DeliveryOutcome{EmailID: id, TeamID: team, Events: evs}))
	}
	ev := func(typ string, at time.Time, data string) *store.EmailEvent {
		var raw json.RawMessage
		if data != "" {
			raw = json.RawMessage(data)
		}
		return &store.EmailEvent{Type: typ, CreatedAt: at, Data: raw}
	}
	record(f.e1, e.teamA, ev(store.EventSent, t0.Add(time.Minute), ""), ev(store.EventDelivered, t0.Add(2*time.Minute), ""))
	record(f.e1, e.teamA, ev("opened", t0.Add(10*time.Minute), ""))
	record(f.e1, e.teamA, ev("opened", t0.Add(20*time.Minute), ""), ev("clicked", t0.Add(30*time.Minute), ""))
	record(f.e2, e.teamA, ev(store.EventSent, t0.Add(13*time.Hour+time.Minute), ""),
		ev(store.EventBounced, t0.Add(13*time.Hour+2*time.Minute), `{"bounce":{"type":"Permanent"}}`))
	record(f.e3, e.teamA, ev(store.EventSent, t0.Add(61*time.Minute), ""), ev(store.EventDelivered, t0.Add(62*time.Minute), ""),
		ev(store.EventComplained, t0.Add(65*time.Minute), ""))
	record(f.eB, e.teamB, ev(store.EventSent, t0.Add(time.Minute), ""))
	e.clock.Advance(2 * 24 * time.Hour) // now: 2026-12-01 01:00Z
	return f
}

// metrics calls GET /emails/metrics and checks the 200.
func (f *metricsFixture) metrics(t *testing.T, key, query string) map[string]any {
	t.Helper()
	r := f.e.do("GET", "/emails/metrics?"+query, key, "")
	require.Equal(t, 200, r.status, "body: %s", r.body)
	require.Equal(t, "metrics", r.json["object"])
	return r.json
}

// rows are the data rows, each with only the given fields (numbers as float64).
func rows(t *testing.T, body map[string]any, fields ...string) []map[string]any {
	t.Helper()
	data, ok := body["data"].([]any)
	require.True(t, ok, "data: %v", body["data"])
	out := []map[string]any{}
	for _, d := range data {
		row := d.(map[string]any)
		pick := map[string]any{}
		for _, f := range fields {
			pick[f] = row[f]
		}
		out = append(out, pick)
	}
	return out
}

const fixtureRange = "start_date=2026-11-28&end_date=2026-11-30"

func TestEmailMetrics(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind sqlstore.Dialect) {
		f := newMetricsFixture(t, kind)
		e := f.e
		for _, tc := range []struct {
			name  string
			query string
			check func(t *testing.T, body map[string]any)
		}{
			{"defaults: every metric, totals only, the last six days", "", func(t *testing.T, body map[string]any) {
				require.Len(t, body["metrics"], 22)
				require.Equal(t, []any{}, body["dimensions"])
				require.Equal(t, "daily", body["granularity"])
				require.Equal(t, "2026-11-25T01:00:00.000Z", body["start_date"])
				require.Equal(t, "2026-12-01T01:00:00.000Z", body["end_date"])
				require.NotContains(t, body, "data")
				require.EqualValues(t, 3, body["totals"].(map[string]any)["received"])
			}},
			{"every count and rate", fixtureRange, func(t *testing.T, body map[string]any) {
				require.Equal(t, map[string]any{"received": 3.0, "sent": 3.0, "delivered": 2.0, "delivery_delayed": 0.0, "failed": 0.0,
					"suppressed": 0.0, "bounced": 1.0, "bounced_transient": 0.0, "bounced_permanent": 1.0, "bounced_undetermined": 0.0,
					"complained": 1.0, "opened": 2.0, "clicked": 1.0, "unique_opened": 1.0, "unique_clicked": 1.0, "unsubscribed": 0.0,
					"delivery_rate": 66.67, "bounce_rate": 33.33, "open_rate": 50.0, "click_rate": 50.0, "complaint_rate": 50.0,
					"unsubscribe_rate": 0.0}, body["totals"])
			}},
			{"chosen metrics, in the order asked", fixtureRange + "&metrics=sent,open_rate&metrics=received", func(t *testing.T, body map[string]any) {
				require.Equal(t, []any{"sent", "open_rate", "received"}, body["metrics"])
				require.Equal(t, map[string]any{"sent": 3.0, "open_rate": 50.0, "received": 3.0}, body["totals"])
			}},
			{"an end in the future is now", "start_date=2026-11-28&end_date=2030-01-01", func(t *testing.T, body map[string]any) {
				require.Equal(t, "2026-12-01T01:00:00.000Z", body["end_date"])
			}},
			{"daily, UTC: every day, empty ones too", fixtureRange + "&dimensions=period&metrics=received,bounced", func(t *testing.T, body map[string]any) {
				require.Equal(t, []map[string]any{{"period": "2026-11-28", "received": 2.0, "bounced": 0.0},
					{"period": "2026-11-29", "received": 1.0, "bounced": 1.0}}, rows(t, body, "period", "received", "bounced"))
			}},
			{"daily, New York: 01:00Z on the 29th is the evening of the 28th", fixtureRange + "&dimensions=period&metrics=received&timezone=America/New_York",
				func(t *testing.T, body map[string]any) {
					require.Equal(t, "2026-11-28T05:00:00.000Z", body["start_date"])
					require.Equal(t, []map[string]any{{"period": "2026-11-28", "received": 3.0}, {"period": "2026-11-29", "received": 0.0}},
						rows(t, body, "period", "received"))
				}},
			{"hourly", "start_date=2026-11-28T12:00:00Z&end_date=2026-11-28T15:00:00Z&dimensions=period&granularity=hourly&metrics=received,opened",
				func(t *testing.T, body map[string]any) {
					require.Equal(t, []map[string]any{{"period": "2026-11-28T12:00:00Z", "received": 1.0, "opened": 2.0},
						{"period": "2026-11-28T13:00:00Z", "received": 1.0, "opened": 0.0},
						{"period": "2026-11-28T14:00:00Z", "received": 0.0, "opened": 0.0}}, rows(t, body, "period", "received", "opened"))
				}},
			{"hourly, a half-hour zone: periods on the local hour", "start_date=2026-11-28T12:00:00Z&end_date=2026-11-28T14:00:00Z&dimensions=period&granularity=hourly&metrics=received&timezone=Asia/Kolkata",
				func(t *testing.T, body map[string]any) {
					require.Equal(t, []map[string]any{{"period": "2026-11-28T17:00:00+05:30", "received": 1.0},
						{"period": "2026-11-28T18:00:00+05:30", "received": 1.0}, {"period": "2026-11-28T19:00:00+05:30", "received": 0.0}},
						rows(t, body, "period", "received"))
				}},
			{"weekly, from Monday", "start_date=2026-11-20&end_date=2026-12-01&dimensions=period&granularity=weekly&metrics=received",
				func(t *testing.T, body map[string]any) {
					require.Equal(t, []map[string]any{{"period": "2026-11-16", "received": 0.0}, {"period": "2026-11-23", "received": 3.0},
						{"period": "2026-11-30", "received": 0.0}}, rows(t, body, "period", "received"))
				}},
			{"monthly", "start_date=2026-10-15&end_date=2026-11-30&dimensions=period&granularity=monthly&metrics=received",
				func(t *testing.T, body map[string]any) {
					require.Equal(t, []map[string]any{{"period": "2026-10-01", "received": 0.0}, {"period": "2026-11-01", "received": 3.0}},
						rows(t, body, "period", "received"))
				}},
			{"domain", fixtureRange + "&dimensions=domain&metrics=received,delivered", func(t *testing.T, body map[string]any) {
				require.Equal(t, []map[string]any{
					{"domain_id": e.domainA, "domain_name": "example.com", "received": 2.0, "delivered": 2.0},
					{"domain_id": f.domain2, "domain_name": "news.example.com", "received": 1.0, "delivered": 0.0},
				}, rows(t, body, "domain_id", "domain_name", "received", "delivered"))
			}},
			{"period and domain: rows with mail only", fixtureRange + "&dimensions=period,domain&metrics=received", func(t *testing.T, body map[string]any) {
				require.Equal(t, []map[string]any{
					{"period": "2026-11-28", "domain_name": "example.com", "received": 2.0},
					{"period": "2026-11-29", "domain_name": "news.example.com", "received": 1.0},
				}, rows(t, body, "period", "domain_name", "received"))
			}},
			{"broadcast: broadcasts' mail only", fixtureRange + "&dimensions=broadcast&metrics=received,complained", func(t *testing.T, body map[string]any) {
				require.Equal(t, []map[string]any{{"broadcast_id": f.bcast, "broadcast_name": "Launch", "received": 1.0, "complained": 1.0}},
					rows(t, body, "broadcast_id", "broadcast_name", "received", "complained"))
				require.EqualValues(t, 3, body["totals"].(map[string]any)["received"])
			}},
			{"email, comma-separated ids", fixtureRange + "&dimensions=email&metrics=received,opened,unique_opened&email_id=" + f.e1 + "," + f.e2,
				func(t *testing.T, body map[string]any) {
					want := []map[string]any{{"email_id": f.e1, "received": 1.0, "opened": 2.0, "unique_opened": 1.0},
						{"email_id": f.e2, "received": 1.0, "opened": 0.0, "unique_opened": 0.0}}
					if f.e2 < f.e1 {
						want[0], want[1] = want[1], want[0]
					}
					require.Equal(t, want, rows(t, body, "email_id", "received", "opened", "unique_opened"))
				}},
			{"email and period, repeated ids", fixtureRange + "&dimensions=period,email&metrics=received&email_id=" + f.e1 + "&email_id=" + strings.ToUpper(f.e2),
				func(t *testing.T, body map[string]any) {
					require.Equal(t, []map[string]any{{"period": "2026-11-28", "email_id": f.e1, "received": 1.0},
						{"period": "2026-11-29", "email_id": f.e2, "received": 1.0}}, rows(t, body, "period", "email_id", "received"))
				}},
			{"email filter without the dimension", fixtureRange + "&metrics=received,sent&email_id=" + f.e3, func(t *testing.T, body map[string]any) {
				require.Equal(t, map[string]any{"received": 1.0, "sent": 1.0}, body["totals"])
			}},
			{"domain filter, one", fixtureRange + "&metrics=received&domain_id=" + f.domain2, func(t *testing.T, body map[string]any) {
				require.Equal(t, map[string]any{"received": 1.0}, body["totals"])
			}},
			{"domain filter, comma and repeated", fixtureRange + "&metrics=received&domain_id=" + e.domainA + "," + f.domainB + "&domain_id=" + f.domain2,
				func(t *testing.T, body map[string]any) {
					require.Equal(t, map[string]any{"received": 3.0}, body["totals"])
				}},
			{"broadcast filter", fixtureRange + "&metrics=received&broadcast_id=" + f.bcast, func(t *testing.T, body map[string]any) {
				require.Equal(t, map[string]any{"received": 1.0}, body["totals"])
			}},
			{"another team's domain matches nothing", fixtureRange + "&metrics=received&dimensions=domain&domain_id=" + f.domainB,
				func(t *testing.T, body map[string]any) {
					require.Equal(t, map[string]any{"received": 0.0}, body["totals"])
					require.Equal(t, []any{}, body["data"])
				}},
			{"another team's email matches nothing", fixtureRange + "&metrics=received&dimensions=email&email_id=" + f.eB,
				func(t *testing.T, body map[string]any) {
					require.Equal(t, map[string]any{"received": 0.0}, body["totals"])
					require.Equal(t, []any{}, body["data"])
				}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				tc.check(t, f.metrics(t, e.keyA, tc.query))
			})
		}

		t.Run("each team counts its own", func(t *testing.T) {
			body := f.metrics(t, e.keyB, fixtureRange+"&metrics=received,sent")
			require.Equal(t, map[string]any{"received": 1.0, "sent": 1.0}, body["totals"])
		})
		t.Run("the path is not an email id", func(t *testing.T) {
			r := e.do("GET", "/emails/"+f.e1, e.keyA, "")
			require.Equal(t, 200, r.status, "body: %s", r.body)
			require.Equal(t, "email", r.json["object"])
			requireError(t, e.do("GET", "/emails/metricz", e.keyA, ""), 422, "invalid_parameter")
			requireError(t, e.do("POST", "/emails/metrics", e.keyA, "{}"), 405, "method_not_allowed")
			requireError(t, e.do("GET", "/emails/metrics", e.sendA, ""), 401, "restricted_api_key")
		})
	})
}

// The OpenAPI wrapper knows the route, so the answers above were checked.
func TestEmailMetricsShapeIsChecked(t *testing.T) {
	t.Parallel()
	req := httptest.NewRequest("GET", "/emails/metrics?dimensions=period", nil)
	h := http.Header{"Content-Type": []string{"application/json"}}
	require.NoError(t, checkOpenAPI(req, 200, h, []byte(`{"object":"metrics","totals":{"sent":1},"data":[{"period":"2026-11-28","sent":1}]}`)))
	require.Error(t, checkOpenAPI(req, 200, h, []byte(`{"object":"metrics","totals":{"sent":"1"}}`)))
	require.Error(t, checkOpenAPI(req, 200, h, []byte(`{"object":"metrics","granularity":"yearly"}`)))
}

func TestEmailMetricsRefusals(t *testing.T) {
	t.Parallel()
	e := setup(t, sqlstore.SQLite)
	id := store.NewID()
	many := make([]string, 101)
	for i := range many {
		many[i] = store.NewID()
	}
	for _, tc := range []struct {
		name, query, errName, message string
	}{
		{"unknown timezone", "timezone=Mars/Olympus_Mons", "validation_error", "`timezone`"},
		{"the server's zone", "timezone=Local", "validation_error", "`timezone`"},
		{"a path as a zone", "timezone=../../etc/passwd", "validation_error", "`timezone`"},
		{"granularity", "granularity=yearly", "validation_error", "`granularity` must be one of hourly, daily, weekly, monthly"},
		{"metric", "metrics=sent,revenue", "validation_error", `"revenue"`},
		{"dimension", "dimensions=period&dimensions=country", "validation_error", `"country"`},
		{"email with broadcast", "dimensions=email,broadcast&email_id=" + id, "validation_error", "`email` dimension cannot be combined with the `broadcast` dimension"},
		{"email_id with the broadcast dimension", "dimensions=broadcast&email_id=" + id, "validation_error", "`email_id` filter cannot be combined with the `broadcast` dimension"},
		{"email_id with broadcast_id", "email_id=" + id + "&broadcast_id=" + id, "validation_error", "`email_id` filter cannot be combined with the `broadcast_id` filter"},
		{"the email dimension with broadcast_id", "dimensions=email&broadcast_id=" + id, "validation_error", "`email` dimension cannot be combined with the `broadcast_id` filter"},
		{"the email dimension without email_id", "dimensions=email", "validation_error", "needs the `email_id` filter"},
		{"start_date", "start_date=yesterday", "validation_error", "`start_date` must be an ISO 8601 date"},
		{"end_date", "end_date=2026-13-01", "validation_error", "`end_date` must be an ISO 8601 date"},
		{"start after end", "start_date=2026-11-20&end_date=2026-11-10", "validation_error", "`start_date` must be on or before `end_date`"},
		{"too many periods", "start_date=2025-01-01&end_date=2026-11-01&granularity=hourly&dimensions=period", "validation_error", "at most 10000"},
		{"domain_id not a UUID", "domain_id=example.com", "invalid_parameter", "The `domain_id` must be a valid UUID."},
		{"email_id not a UUID", "email_id=" + id + ",x", "invalid_parameter", "The `email_id` must be a valid UUID."},
		{"broadcast_id not a UUID", "broadcast_id=1", "invalid_parameter", "The `broadcast_id` must be a valid UUID."},
		{"101 ids", "domain_id=" + strings.Join(many, ","), "validation_error", "at most 100 IDs"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			requireError(t, e.do("GET", "/emails/metrics?"+tc.query, e.keyA, ""), 422, tc.errName, tc.message)
		})
	}
	t.Run("the period limit applies only with period", func(t *testing.T) {
		r := e.do("GET", "/emails/metrics?start_date=2025-01-01&end_date=2026-11-01&granularity=hourly", e.keyA, "")
		require.Equal(t, 200, r.status, "body: %s", r.body)
	})
	t.Run("100 ids are allowed", func(t *testing.T) {
		q := url.Values{"domain_id": many[:100]}
		r := e.do("GET", "/emails/metrics?"+q.Encode(), e.keyA, "")
		require.Equal(t, 200, r.status, "body: %s", r.body)
		require.Equal(t, fmt.Sprint(0), fmt.Sprint(r.json["totals"].(map[string]any)["sent"]))
	})
}
