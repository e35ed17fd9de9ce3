// Package godwittest holds helpers for tests that run real components: a
// fresh SQLite or PostgreSQL store per test, a clock tests can move, and a
// fake MX that keeps what it receives.
package godwittest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/godwit/godwit/internal/store/sqlstore"
)

// PostgresURL is the server the PostgreSQL tests use.
func PostgresURL() string {
	if u := os.Getenv("GODWIT_TEST_POSTGRES_URL"); u != "" {
		return u
	}
	return "postgres://root@127.0.0.1:5432/test?sslmode=disable"
}

// InCI reports whether the tests run in CI, where every real component must be present.
func InCI() bool { return os.Getenv("CI") == "true" }

var (
	pgOnce sync.Once
	pgErr  error
)

func postgresAvailable() error {
	pgOnce.Do(func() {
		db, err := sql.Open("pgx", PostgresURL())
		if err != nil {
			pgErr = err
			return
		}
		defer db.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		pgErr = db.PingContext(ctx)
	})
	return pgErr
}

// RequirePostgres ends the test unless a PostgreSQL server answers at
// PostgresURL: it skips, except under CI=true, where it fails.
func RequirePostgres(t testing.TB) {
	t.Helper()
	if err := postgresAvailable(); err != nil {
		if InCI() {
			t.Fatalf("PostgreSQL is required in CI (GODWIT_TEST_POSTGRES_URL=%s): %v", PostgresURL(), err)
		}
		t.Skipf("PostgreSQL not available at %s (set GODWIT_TEST_POSTGRES_URL): %v", PostgresURL(), err)
	}
}

// Kinds lists the store kinds to test: SQLite always, PostgreSQL when a
// server answers. Without one the PostgreSQL cases skip, except under CI=true
// where they fail.
var Kinds = []sqlstore.Dialect{sqlstore.SQLite, sqlstore.Postgres}

// StoreURL returns a database URL for a fresh, empty database of the given
// kind, dropped when the test ends.
func StoreURL(t testing.TB, kind sqlstore.Dialect) string {
	t.Helper()
	if kind == sqlstore.SQLite {
		return t.TempDir() + "/godwit.db"
	}
	RequirePostgres(t)
	var b [6]byte
	_, _ = rand.Read(b[:])
	schema := "t_" + hex.EncodeToString(b[:])
	admin, err := sql.Open("pgx", PostgresURL())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := admin.Exec(`CREATE SCHEMA ` + schema); err != nil {
		admin.Close()
		t.Fatalf("create schema: %v", err)
	}
	t.Cleanup(func() {
		_, _ = admin.Exec(`DROP SCHEMA ` + schema + ` CASCADE`)
		admin.Close()
	})
	u, err := url.Parse(PostgresURL())
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

// NewStore opens a fresh, migrated store of the given kind, closed when the
// test ends, with a test Outbox (OutboxOf returns it).
func NewStore(t testing.TB, kind sqlstore.Dialect, clock *Clock) *sqlstore.DB {
	t.Helper()
	opts := sqlstore.Options{Outbox: NewOutbox()}
	if clock != nil {
		opts.Now = clock.Now
	}
	db, err := sqlstore.Open(context.Background(), StoreURL(t, kind), opts)
	if err != nil {
		t.Fatalf("open %s store: %v", kind, err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

// Clock is a settable clock for tests.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// NewClock returns a clock stopped at t.
func NewClock(t time.Time) *Clock { return &Clock{t: t} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Advance moves the clock forward.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}
