package queue_test

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/godwit/godwit/internal/accept"
	"github.com/godwit/godwit/internal/automation"
	"github.com/godwit/godwit/internal/delivery"
	"github.com/godwit/godwit/internal/emailtemplate"
	"github.com/godwit/godwit/internal/godwittest"
	"github.com/godwit/godwit/internal/queue"
	"github.com/godwit/godwit/internal/store"
	"github.com/godwit/godwit/internal/store/sqlstore"
)

// BenchmarkAutomationRuns: contacts (10,000 by default: -benchtime=1x)
// (GODWIT_BENCH_CONTACTS overrides)
// enter a three-step automation (trigger → send_email → add_to_segment)
// at once, on the real queue with the real accept path; it reports the
// time until every run completed, the runs and step jobs per second, and
// the peak Go heap. Deliveries of the emails run meanwhile (to the test
// domain, simulated), as on a real node.
//
//	go test ./internal/queue/ -run '^$' -bench AutomationRuns -benchtime=1x
func BenchmarkAutomationRuns(b *testing.B) {
	for _, kind := range godwittest.Kinds {
		b.Run(string(kind), func(b *testing.B) {
			n := 10_000
			if v, err := strconv.Atoi(os.Getenv("GODWIT_BENCH_CONTACTS")); err == nil && v > 0 {
				n = v
			}
			for range b.N {
				benchAutomationRuns(b, kind, n)
			}
		})
	}
}

func benchAutomationRuns(b *testing.B, kind sqlstore.Dialect, contacts int) {
	b.StopTimer()
	ctx := context.Background()
	dsn := godwittest.StoreURL(b, kind)
	out := queue.NewOutbox()
	db, err := sqlstore.Open(ctx, dsn, sqlstore.Options{Outbox: out})
	if err != nil {
		b.Fatal(err)
	}
	acc := accept.New(accept.Config{Store: db, TestDomain: "resend.dev"})
	eng := automation.New(automation.Config{Store: db, Accept: acc})
	w := &delivery.Worker{Store: db, TestDomain: "resend.dev"}
	cfg := queue.Config{Outbox: out, Workers: 50, Automations: eng, PollInterval: 20 * time.Millisecond}
	if kind == sqlstore.Postgres {
		cfg.PostgresDSN = dsn
	}
	q, err := queue.Open(ctx, db, w, cfg)
	if err != nil {
		b.Fatal(err)
	}
	if err := q.Start(ctx); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_ = q.Stop(sctx)
		_ = db.Close()
	})
	now := time.Now().UTC()
	team := &store.Team{ID: uuid.NewString(), Name: "bench", CreatedAt: now}
	must(b, db.CreateTeam(ctx, team))
	tpl := &store.Template{ID: uuid.NewString(), TeamID: team.ID, Name: "t", Status: store.TemplateDraft, CreatedAt: now, UpdatedAt: now,
		Content: store.TemplateContent{VersionID: uuid.NewString(), From: "Acme <onboarding@resend.dev>", Subject: "Welcome",
			HTML: "<p>Hi {{{FIRST_NAME}}}</p>", Variables: []store.TemplateVariable{{ID: uuid.NewString(), Key: "FIRST_NAME", Type: "string", FallbackValue: "friend"}}}}
	emailtemplate.Publish(tpl, now)
	must(b, db.CreateTemplate(ctx, tpl))
	seg := &store.Segment{ID: uuid.NewString(), TeamID: team.ID, Name: "welcomed", CreatedAt: now}
	must(b, db.CreateSegment(ctx, seg))
	g, err := automation.Parse([]byte(`[{"key":"t","type":"trigger","config":{"event_name":"signup"}},
		{"key":"s","type":"send_email","config":{"template":{"id":"`+tpl.ID+`"}}},
		{"key":"g","type":"add_to_segment","config":{"segment_id":"`+seg.ID+`"}}]`),
		[]byte(`[{"from":"t","to":"s"},{"from":"s","to":"g"}]`))
	must(b, err)
	a := &store.Automation{ID: uuid.NewString(), TeamID: team.ID, Name: "bench", Status: store.AutomationEnabled, Version: 1,
		TriggerEvent: "signup", Graph: g.Encode(), CreatedAt: now, UpdatedAt: now}
	must(b, db.CreateAutomation(ctx, a))
	cs := make([]*store.Contact, contacts)
	for i := range cs {
		cs[i] = &store.Contact{ID: uuid.NewString(), TeamID: team.ID, Email: fmt.Sprintf("delivered+%d@resend.dev", i), CreatedAt: now, UpdatedAt: now}
		must(b, db.CreateContact(ctx, cs[i]))
	}

	var peak atomic.Uint64
	stop := make(chan struct{})
	go func() {
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			if ms.HeapAlloc > peak.Load() {
				peak.Store(ms.HeapAlloc)
			}
			select {
			case <-stop:
				return
			case <-time.After(50 * time.Millisecond):
			}
		}
	}()
	b.StartTimer()
	start := time.Now()
	// The events arrive from 8 clients at once, as API requests would.
	next := atomic.Int64{}
	done := make(chan error, 8)
	for range 8 {
		go func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= contacts {
					done <- nil
					return
				}
				if _, err := eng.SendEvent(ctx, team.ID, cs[i], "signup", map[string]any{}); err != nil {
					done <- err
					return
				}
			}
		}()
	}
	for range 8 {
		must(b, <-done)
	}
	sent := time.Since(start)
	deadline := time.Now().Add(30 * time.Minute)
	for {
		runs, _, err := db.ListAutomationRuns(ctx, team.ID, a.ID, []string{store.RunRunning}, store.Page{Limit: 1})
		must(b, err)
		if len(runs) == 0 {
			break
		}
		if time.Now().After(deadline) {
			b.Fatal("runs still running after 30 minutes")
		}
		time.Sleep(100 * time.Millisecond)
	}
	elapsed := time.Since(start)
	b.StopTimer()
	close(stop)
	failed, _, err := db.ListAutomationRuns(ctx, team.ID, a.ID, []string{store.RunFailed}, store.Page{Limit: 1})
	must(b, err)
	if len(failed) > 0 {
		r, _ := db.GetAutomationRun(ctx, team.ID, a.ID, failed[0].ID)
		b.Fatalf("a run failed: %+v", r.Steps[1])
	}
	emails, err := countEmails(ctx, db, team.ID)
	must(b, err)
	if emails != contacts {
		b.Fatalf("%d emails accepted for %d runs", emails, contacts)
	}
	b.ReportMetric(elapsed.Seconds(), "s/all-runs")
	b.ReportMetric(sent.Seconds(), "s/events")
	b.ReportMetric(float64(contacts)/elapsed.Seconds(), "runs/s")
	b.ReportMetric(float64(3*contacts)/elapsed.Seconds(), "steps/s")
	b.ReportMetric(float64(peak.Load())/(1<<20), "peak-heap-MiB")
}

func countEmails(ctx context.Context, db *sqlstore.DB, teamID string) (int, error) {
	n := 0
	p := store.Page{Limit: 100}
	for {
		list, more, err := db.ListEmails(ctx, teamID, p)
		if err != nil {
			return 0, err
		}
		n += len(list)
		if !more {
			return n, nil
		}
		p.After = list[len(list)-1].ID
	}
}

func must(b *testing.B, err error) {
	b.Helper()
	if err != nil {
		b.Fatal(err)
	}
}
