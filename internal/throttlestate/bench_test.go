package throttlestate_test

import (
	"context"
	"testing"
	"time"

	"github.com/godwit/godwit/internal/store"
)

// BenchmarkStore is one throttling reply written to the shared state (a
// round trip, paid once per reply) and BenchmarkLoad one read (paid at
// most once a second per destination and node).
func BenchmarkStore(b *testing.B) {
	for name, open := range backends() {
		b.Run(name, func(b *testing.B) {
			state := open(b)
			ctx := context.Background()
			now := time.Now()
			b.ResetTimer()
			for i := range b.N {
				if _, err := state.StoreDestinationThrottle(ctx, "gmail", store.DestinationThrottle{Level: 1, Pauses: 1, Until: now,
					Reason: "bench"}, now.Add(time.Duration(i)*time.Millisecond)); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkLoad(b *testing.B) {
	for name, open := range backends() {
		b.Run(name, func(b *testing.B) {
			state := open(b)
			ctx := context.Background()
			if _, err := state.StoreDestinationThrottle(ctx, "gmail", store.DestinationThrottle{Level: 1}, time.Now()); err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			for range b.N {
				if _, _, err := state.LoadDestinationThrottle(ctx, "gmail"); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
