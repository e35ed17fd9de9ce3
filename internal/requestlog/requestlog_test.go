package requestlog_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/godwit/godwit/internal/godwittest"
	"github.com/godwit/godwit/internal/requestlog"
	"github.com/godwit/godwit/internal/store"
	"github.com/godwit/godwit/internal/store/sqlstore"
)

var t0 = time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)

func openStore(t *testing.T, kind sqlstore.Dialect) *sqlstore.DB {
	t.Helper()
	db, err := sqlstore.Open(context.Background(), godwittest.StoreURL(t, kind), sqlstore.Options{Now: func() time.Time { return t0 }, Outbox: godwittest.NewOutbox()})
	require.NoError(t, err)
	t.Cleanup(func() { _ = db.Close() })
	return db
}

func newLog(teamID string, at time.Time, body string) *store.RequestLog {
	return &store.RequestLog{ID: store.NewID(), TeamID: teamID, APIKeyID: "k", RequestID: "r", Method: "POST", Endpoint: "/emails",
		Status: 200, RequestBody: []byte(body), ResponseBody: []byte(`{"id":"x"}`), CreatedAt: at}
}

func count(t *testing.T, db *sqlstore.DB, teamID string) int {
	t.Helper()
	n := 0
	p := store.Page{Limit: 100}
	for {
		page, more, err := db.ListRequestLogs(context.Background(), teamID, p)
		require.NoError(t, err)
		n += len(page)
		if !more {
			return n
		}
		p.After = page[len(page)-1].ID
	}
}

// TestWriterDropsWhenFull: with its buffer full, Record returns at once and
// counts the record as dropped; Stop writes what the buffer held.
func TestWriterDropsWhenFull(t *testing.T) {
	t.Parallel()
	db := openStore(t, sqlstore.SQLite)
	w := requestlog.NewWriter(requestlog.Config{Store: db, Buffer: 2})
	// Not started: nothing drains the buffer.
	done := make(chan struct{})
	go func() {
		defer close(done)
		require.True(t, w.Record(newLog("team", t0, `{"a":1}`)))
		require.True(t, w.Record(newLog("team", t0, `{"a":2}`)))
		for range 100 {
			require.False(t, w.Record(newLog("team", t0, `{"a":3}`)))
		}
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Record blocked on a full buffer")
	}
	require.EqualValues(t, 100, w.Dropped())
	require.NoError(t, w.Start(context.Background()))
	require.NoError(t, w.Stop(context.Background()))
	require.Equal(t, 2, count(t, db, "team"))
	require.Zero(t, w.Lost())
}

// TestWriterFlushesOnStop: records waiting for their batch are written by
// Stop, in batches, on both databases; the bodies are masked on the way.
func TestWriterFlushesOnStop(t *testing.T) {
	t.Parallel()
	for _, kind := range godwittest.Kinds {
		t.Run(string(kind), func(t *testing.T) {
			t.Parallel()
			db := openStore(t, kind)
			w := requestlog.NewWriter(requestlog.Config{Store: db, BatchSize: 64, FlushInterval: time.Hour})
			require.NoError(t, w.Start(context.Background()))
			first := newLog("team", t0, `{"attachments":[{"filename":"a.txt","content":"aGVsbG8="}]}`)
			require.True(t, w.Record(first))
			for i := range 999 {
				require.True(t, w.Record(newLog("team", t0, fmt.Sprintf(`{"i":%d}`, i))))
			}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			require.NoError(t, w.Stop(ctx))
			require.Equal(t, 1000, count(t, db, "team"))
			got, err := db.GetRequestLog(context.Background(), "team", first.ID)
			require.NoError(t, err)
			require.JSONEq(t, `{"attachments":[{"filename":"a.txt","content":"[masked: 8 characters]"}]}`, string(got.RequestBody))
			require.NoError(t, w.Stop(ctx), "a second Stop is harmless")
		})
	}
}

// TestWriterWritesWhileRunning: a record reaches the database within its
// flush interval, without a Stop.
func TestWriterWritesWhileRunning(t *testing.T) {
	t.Parallel()
	db := openStore(t, sqlstore.SQLite)
	w := requestlog.NewWriter(requestlog.Config{Store: db, FlushInterval: 10 * time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	require.NoError(t, w.Start(ctx))
	t.Cleanup(func() { _ = w.Stop(context.Background()) })
	for range 3 {
		require.True(t, w.Record(newLog("team", t0, `{}`)))
	}
	require.Eventually(t, func() bool { return count(t, db, "team") == 3 }, 10*time.Second, 5*time.Millisecond)
}

// TestWriterDatabaseFailure: a batch the database refuses is counted as
// lost and logged; the writer goes on.
func TestWriterDatabaseFailure(t *testing.T) {
	t.Parallel()
	db := openStore(t, sqlstore.SQLite)
	logs := &godwittest.LogBuffer{}
	w := requestlog.NewWriter(requestlog.Config{Store: db, Logger: slog.New(slog.NewTextHandler(logs, nil)), FlushInterval: time.Millisecond})
	require.NoError(t, w.Start(context.Background()))
	require.NoError(t, db.Close())
	require.True(t, w.Record(newLog("team", t0, `{}`)))
	require.Eventually(t, func() bool { return w.Lost() == 1 }, 10*time.Second, 5*time.Millisecond)
	require.NoError(t, w.Stop(context.Background()))
	require.Contains(t, logs.String(), "writing request logs failed")
}

// TestSweep: logs past the retention go, oldest first, in chunks; younger
// ones stay. The Sweeper runs a sweep as it starts.
func TestSweep(t *testing.T) {
	t.Parallel()
	for _, kind := range godwittest.Kinds {
		t.Run(string(kind), func(t *testing.T) {
			t.Parallel()
			db := openStore(t, kind)
			ctx := context.Background()
			var logs []*store.RequestLog
			for i := range 12_000 { // more than one chunk
				logs = append(logs, newLog("team", t0.Add(-40*24*time.Hour+time.Duration(i)*time.Millisecond), `{}`))
			}
			logs = append(logs, newLog("team", t0.Add(-29*24*time.Hour), `{}`), newLog("other", t0, `{}`))
			for chunk := range slicesChunk(logs, 1000) {
				require.NoError(t, db.AddRequestLogs(ctx, chunk))
			}
			n, err := requestlog.Sweep(ctx, db, t0.Add(-30*24*time.Hour))
			require.NoError(t, err)
			require.EqualValues(t, 12_000, n)
			require.Equal(t, 1, count(t, db, "team"))
			require.Equal(t, 1, count(t, db, "other"))

			// The background loop: a 1-day retention removes the 29-day-old log.
			sctx, cancel := context.WithCancel(ctx)
			done := make(chan struct{})
			go func() {
				defer close(done)
				requestlog.Sweeper(sctx, db, 24*time.Hour, time.Hour, func() time.Time { return t0 }, slog.New(slog.DiscardHandler))
			}()
			require.Eventually(t, func() bool { return count(t, db, "team") == 0 }, 10*time.Second, 5*time.Millisecond)
			require.Equal(t, 1, count(t, db, "other"), "within the retention")
			cancel()
			<-done
		})
	}
}

func slicesChunk[T any](s []T, n int) func(func([]T) bool) {
	return func(yield func([]T) bool) {
		for len(s) > 0 {
			k := min(n, len(s))
			if !yield(s[:k]) {
				return
			}
			s = s[k:]
		}
	}
}

// TestBody: what is stored (Body) and then shown (Readable) of a body.
// A body with nothing to mask is kept as it came; one with attachments or
// secrets is re-encoded with them masked.
func TestBody(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ in, want string }{
		{``, ``},
		{`not json`, ``},
		{`"a string"`, ``},
		{`42`, ``},
		{`{"a":1} {"b":2}`, ``},
		{`{"a":`, ``},
		{` {"b":1,"a":"<p>x</p>"} `, `{"b":1,"a":"<p>x</p>"}`},
		{`{"b": 1, "a": "\u003cp\u003e"}`, `{"b": 1, "a": "\u003cp\u003e"}`},
		{`{"n":12345678901234567890}`, `{"n":12345678901234567890}`},
		{`{"attachments":[{"filename":"a.pdf","content":"JVBERi0="},{"path":"https://x/y"},{"content":[1,2,3]},{"content":null},{"content":5},"odd"]}`,
			`{"attachments":[{"content":"[masked: 8 characters]","filename":"a.pdf"},{"path":"https://x/y"},{"content":"[masked: 3 bytes]"},{"content":null},{"content":"[masked]"},"odd"]}`},
		{`[{"to":"a@example.net","attachments":[{"content":"aGk="}]}]`, `[{"attachments":[{"content":"[masked: 4 characters]"}],"to":"a@example.net"}]`},
		{`{"content":"kept outside attachments","attachments":"odd"}`, `{"attachments":"odd","content":"kept outside attachments"}`},
		{`{"id":"k","token":"re_secret"}`, `{"id":"k","token":"[masked]"}`},
		{`{"object":"webhook","signing_secret":"whsec_x","nested":{"token":"t"}}`, `{"nested":{"token":"[masked]"},"object":"webhook","signing_secret":"[masked]"}`},
		{`{"html":"<p>say \"token\"</p>", "n":1}`, `{"html":"<p>say \"token\"</p>", "n":1}`},
		{`{"token":"re_x",`, ``},
	} {
		got := requestlog.Readable(requestlog.Body([]byte(tc.in)))
		if tc.want == "" {
			require.Nil(t, got, "%s", tc.in)
			continue
		}
		require.Equal(t, tc.want, string(got), "%s", tc.in)
	}
	big := `{"text":"` + strings.Repeat("x", requestlog.MaxStoredBody) + `"}`
	require.Nil(t, requestlog.Body([]byte(big)), "over the stored cap")
	// A body large only because of its attachments is stored, masked.
	withFile := `{"subject":"s","attachments":[{"filename":"f","content":"` + strings.Repeat("A", 500_000) + `"}]}`
	require.JSONEq(t, `{"subject":"s","attachments":[{"filename":"f","content":"[masked: 500000 characters]"}]}`,
		string(requestlog.Body([]byte(withFile))))
}

// FuzzBody: whatever a client sends, Body does not panic and stores nil or
// at most the cap, with no API key after a "token" key; what it stores is
// shown (Readable) as nil or valid JSON; Body is stable on its own output.
func FuzzBody(f *testing.F) {
	for _, s := range []string{`{}`, `[]`, `{"attachments":[{"content":"aGk="}]}`, `[{"attachments":[{"content":[1,2]}]}]`,
		`{"token":"re_x","a":{"signing_secret":"s"}}`, `{"a":"\u003c"}`, `{"a":1e400}`, `{"a":"\ud800"}`, `nul`, `{"a":[[[[]]]]}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		got := requestlog.Body(raw)
		if got == nil {
			return
		}
		if len(got) > requestlog.MaxStoredBody {
			t.Fatalf("Body(%q) = %d bytes, over the cap", raw, len(got))
		}
		if shown := requestlog.Readable(got); shown != nil {
			if !json.Valid(shown) {
				t.Fatalf("Readable(Body(%q)) = %q", raw, shown)
			}
			if bytes.Contains(shown, []byte(`"token":"re_`)) {
				t.Fatalf("Body(%q) = %q: a token kept", raw, shown)
			}
		}
		if again := requestlog.Body(got); !bytes.Equal(again, got) {
			t.Fatalf("Body is not stable: %q then %q", got, again)
		}
	})
}

// BenchmarkBody: what the writer does to each logged body, for the body of
// a 10 KB POST /emails with nothing to mask (stored as it came) and one
// with an attachment (decoded, masked, re-encoded).
//
//	go test ./internal/requestlog/ -run XXX -bench Body -benchmem
func BenchmarkBody(b *testing.B) {
	html, err := json.Marshal(strings.Repeat(`<p class="x">lorem ipsum dolor sit amet</p>`, 230))
	require.NoError(b, err)
	plain := []byte(`{"from":"Acme <onboarding@example.com>","to":["a@example.net"],"subject":"hello","html":` + string(html) + `}`)
	withFile := []byte(`{"from":"Acme <onboarding@example.com>","to":["a@example.net"],"subject":"hello","html":` + string(html) +
		`,"attachments":[{"filename":"a.txt","content":"aGVsbG8="}]}`)
	for _, bc := range []struct {
		name string
		raw  []byte
	}{{"plain", plain}, {"attachment", withFile}} {
		b.Run(bc.name, func(b *testing.B) {
			b.SetBytes(int64(len(bc.raw)))
			b.ReportAllocs()
			for b.Loop() {
				if requestlog.Body(bc.raw) == nil {
					b.Fatal("not stored")
				}
			}
		})
	}
}
