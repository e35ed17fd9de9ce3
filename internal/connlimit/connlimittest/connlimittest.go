// Package connlimittest gives tests the shared connection limiters on
// their real backends: Redis (godwittest.RedisURL) and the database
// (SQLite and PostgreSQL, godwittest.Kinds).
package connlimittest

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"

	"github.com/godwit/godwit/internal/connlimit"
	"github.com/godwit/godwit/internal/godwittest"
	"github.com/godwit/godwit/internal/store/sqlstore"
)

// Backend is one place to keep leases: Node returns the limiter of one
// more node sharing it (its own client or connection pool, as a separate
// process would have).
type Backend struct {
	Name string
	Node func(t testing.TB, opts connlimit.Options) *connlimit.Limiter
}

// Backends returns every backend: Redis (skipped without it, failed in
// CI, by godwittest.RequireRedis when a node is asked for) and the database
// of each of godwittest.Kinds. Each call to Backends makes fresh ones: a
// new key prefix, new databases.
func Backends(t testing.TB) []Backend {
	t.Helper()
	prefix := "test:" + uuid.NewString() + ":"
	out := []Backend{{Name: "redis", Node: func(t testing.TB, opts connlimit.Options) *connlimit.Limiter {
		t.Helper()
		godwittest.RequireRedis(t)
		o, err := redis.ParseURL(godwittest.RedisURL())
		if err != nil {
			t.Fatal(err)
		}
		c := redis.NewClient(o)
		t.Cleanup(func() { c.Close() })
		return connlimit.NewRedis(c, prefix, opts)
	}}}
	for _, kind := range godwittest.Kinds {
		var url string
		out = append(out, Backend{Name: string(kind), Node: func(t testing.TB, opts connlimit.Options) *connlimit.Limiter {
			t.Helper()
			if url == "" {
				url = godwittest.StoreURL(t, kind)
			}
			db, err := sqlstore.Open(context.Background(), url, sqlstore.Options{})
			if err != nil {
				t.Fatalf("open %s: %v", kind, err)
			}
			t.Cleanup(func() { _ = db.Close() })
			return connlimit.NewDatabase(db, opts)
		}})
	}
	return out
}

// DownRedis returns a limiter on a Redis address nobody listens on.
func DownRedis(t testing.TB, opts connlimit.Options) *connlimit.Limiter {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: godwittest.UnusedAddr(t), MaxRetries: -1, DialTimeout: 200 * time.Millisecond})
	t.Cleanup(func() { c.Close() })
	return connlimit.NewRedis(c, "", opts)
}
