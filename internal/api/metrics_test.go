package api

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"

	"github.com/godwit/godwit/internal/godwittest"
	"github.com/godwit/godwit/internal/metrics"
	"github.com/godwit/godwit/internal/store/sqlstore"
)

// TestMetricsByRoutePattern: requests are counted by the mux's pattern,
// never the raw path (no ids in labels), and unmatched paths by one label.
func TestMetricsByRoutePattern(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	m := metrics.New(reg)
	e := setup(t, sqlstore.SQLite, func(d *Deps) { d.Metrics = m })
	require.Equal(t, 404, e.do("GET", "/emails/0196f8b0-0000-7000-8000-000000000001", e.keyA, "").status)
	require.Equal(t, 404, e.do("GET", "/emails/0196f8b0-0000-7000-8000-000000000002", e.keyA, "").status)
	require.Equal(t, 404, e.do("GET", "/no/such/thing", e.keyA, "").status)
	require.Equal(t, 200, e.do("GET", "/healthz", "", "").status)

	err := testutil.GatherAndCompare(reg, strings.NewReader(`
# HELP godwit_http_requests_total API requests, by route pattern and status code.
# TYPE godwit_http_requests_total counter
godwit_http_requests_total{code="200",route="GET /healthz"} 1
godwit_http_requests_total{code="404",route="GET /emails/{id}"} 2
godwit_http_requests_total{code="404",route="unmatched"} 1
`), "godwit_http_requests_total")
	require.NoError(t, err)
}

// BenchmarkServeHTTPMetrics is the API's outer layer on a cheap route,
// without and with metrics: what counting costs a request.
func BenchmarkServeHTTPMetrics(b *testing.B) {
	db := godwittest.NewStore(b, sqlstore.SQLite, nil)
	for _, tc := range []struct {
		name string
		m    *metrics.Metrics
	}{{"off", nil}, {"on", metrics.New(prometheus.NewRegistry())}} {
		b.Run(tc.name, func(b *testing.B) {
			h := New(Deps{Store: db, Metrics: tc.m})
			req := httptest.NewRequest(http.MethodGet, "/healthz", nil)
			b.ReportAllocs()
			for b.Loop() {
				h.ServeHTTP(httptest.NewRecorder(), req)
			}
		})
	}
}
