package connlimit_test

import (
	"context"
	"testing"
	"time"

	"github.com/godwit/godwit/internal/connlimit"
	"github.com/godwit/godwit/internal/connlimit/connlimittest"
)

// BenchmarkAcquireRelease: what a new connection costs in the limiter (one
// TryAcquire and one Release), on each backend.
func BenchmarkAcquireRelease(b *testing.B) {
	for _, be := range connlimittest.Backends(b) {
		b.Run(be.Name, func(b *testing.B) {
			l := be.Node(b, connlimit.Options{Timeout: 5 * time.Second})
			ctx := context.Background()
			b.ResetTimer()
			for b.Loop() {
				lease, ok, err := l.TryAcquire(ctx, "mx.example.test", 1)
				if err != nil || !ok {
					b.Fatal(ok, err)
				}
				l.Release("mx.example.test", lease)
			}
		})
	}
}
