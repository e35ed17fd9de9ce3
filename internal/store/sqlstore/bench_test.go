package sqlstore_test

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/godwit/godwit/internal/godwittest"
	"github.com/godwit/godwit/internal/store"
)

// BenchmarkAcceptEmails measures group commit: parallel callers each commit
// one 10 KB email and wait for it to be durable.
func BenchmarkAcceptEmails(b *testing.B) {
	for _, kind := range godwittest.Kinds {
		b.Run(string(kind), func(b *testing.B) {
			db := godwittest.NewStore(b, kind, nil)
			ctx := context.Background()
			team := &store.Team{ID: uuid.NewString(), Name: "bench", CreatedAt: time.Now()}
			if err := db.CreateTeam(ctx, team); err != nil {
				b.Fatal(err)
			}
			html := strings.Repeat("<p>hello world, this is a benchmark email body.</p>\n", 200)
			var failed atomic.Int64
			b.SetParallelism(8) // 16 callers on 2 cores, like the load tool's default
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					id, _ := uuid.NewV7()
					e := &store.Email{ID: id.String(), TeamID: team.ID, From: "a@example.com", To: []string{"b@example.net"},
						Subject: "s", HTML: &html, LastEvent: store.EventQueued, CreatedAt: time.Now()}
					if err := db.AcceptEmails(ctx, &store.Accept{Emails: []*store.Email{e}}); err != nil {
						failed.Add(1)
					}
				}
			})
			if n := failed.Load(); n > 0 {
				b.Fatalf("%d accepts failed", n)
			}
		})
	}
}
