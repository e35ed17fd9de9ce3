package api

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/godwit/godwit/internal/requestlog"
	"github.com/godwit/godwit/internal/store"
	"github.com/godwit/godwit/internal/store/sqlstore"
)

// BenchmarkRequestLog is what recording costs a request: the same
// authenticated request (a batch refused by validation: its body is read,
// nothing is written) served without a request log ("off") and through the
// middleware into a sink that keeps nothing ("middleware": the cost on the
// request's own goroutine) and through the middleware and a running writer
// over SQLite ("on": that plus the writer's masking and inserts, which run
// on another goroutine but share the cores). dropped/op counts records the
// writer's full buffer turned away.
//
//	go test ./internal/api/ -run XXX -bench RequestLog -benchmem
func BenchmarkRequestLog(b *testing.B) {
	body := `[{"from":"Acme <onboarding@example.com>","to":"not-an-address","subject":"hello","html":"` +
		strings.Repeat("<p>lorem ipsum dolor sit amet</p>", 60) + `"}]`
	for _, mode := range []string{"off", "middleware", "on"} {
		b.Run(mode, func(b *testing.B) {
			var w *requestlog.Writer
			opts := []envOption{func(d *Deps) { d.DefaultRateLimit = 1 << 30; d.KeyCacheTTL = time.Hour }}
			switch mode {
			case "middleware":
				opts = append(opts, func(d *Deps) { d.RequestLog = discardLog{} })
			case "on":
				opts = append(opts, withRequestLog(b, &w))
			}
			e := setup(b, sqlstore.SQLite, opts...)
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				req := httptest.NewRequest(http.MethodPost, "/emails/batch", strings.NewReader(body))
				req.Header.Set("Authorization", "Bearer "+e.keyA)
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("User-Agent", "resend-node:6.38.0")
				rec := httptest.NewRecorder()
				e.handler.ServeHTTP(rec, req)
				if rec.Code != http.StatusUnprocessableEntity {
					b.Fatalf("status %d: %s", rec.Code, rec.Body)
				}
			}
			b.StopTimer()
			if w != nil {
				require.NoError(b, w.Stop(context.Background()))
				b.ReportMetric(float64(w.Dropped())/float64(b.N), "dropped/op")
			}
		})
	}
}

// discardLog takes records and keeps none.
type discardLog struct{}

func (discardLog) Record(*store.RequestLog) bool { return true }
