package ratelimit

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/godwit/godwit/internal/godwittest"
	"github.com/godwit/godwit/internal/store/sqlstore"
)

// benchLatency calls Allow b.N times, one after another as one request
// does, and reports the latency's p50 and p99 (the mean is ns/op).
func benchLatency(b *testing.B, l Limiter) {
	ctx := context.Background()
	key := "bench-" + uuid.NewString()
	if _, err := l.Allow(ctx, key, 1_000_000_000); err != nil { // warm: the script loaded, a connection open
		b.Fatal(err)
	}
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for range b.N {
		start := time.Now()
		if _, err := l.Allow(ctx, key, 1_000_000_000); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(start))
	}
	b.StopTimer()
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
}

// BenchmarkRedisAllow is the Redis limiter's cost per request on loopback:
// one EVALSHA round trip.
func BenchmarkRedisAllow(b *testing.B) {
	benchLatency(b, &Redis{Client: redisClient(b), Prefix: "bench:" + uuid.NewString() + ":", Timeout: time.Second})
}

// BenchmarkDatabaseAllow is the database limiter's cost per request on
// PostgreSQL: one upsert, for comparison.
func BenchmarkDatabaseAllow(b *testing.B) {
	db := godwittest.NewStore(b, sqlstore.Postgres, nil)
	benchLatency(b, &Database{Store: db, Timeout: time.Second})
}
