// Command metrics measures GET /emails/metrics on a team with many emails.
//
// It seeds a store (a SQLite file or a PostgreSQL URL) with -emails emails
// of one team spread over the last -days days on -domains domains (every
// tenth email from one of -broadcasts broadcasts), through the store's own
// AcceptEmails and RecordDelivery, so that the hourly rollup is built by
// the code that maintains it in production: each email is sent and
// delivered or bounced, a third are opened and a tenth clicked. A store
// already seeded (the team "metrics-bench" exists) is reused. It then serves
// the API on loopback and times -requests sequential requests of
// -query (default: the last 30 days, daily, by domain) and prints the
// percentiles.
//
//	go run ./bench/metrics -db /tmp/metrics.db
//	go run ./bench/metrics -db 'postgres://root@127.0.0.1:5432/test?sslmode=disable&search_path=metrics_bench'
package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"runtime/pprof"
	"slices"
	"sync"
	"time"

	"github.com/godwit/godwit/internal/api"
	"github.com/godwit/godwit/internal/auth"
	"github.com/godwit/godwit/internal/store"
	"github.com/godwit/godwit/internal/store/sqlstore"
)

// discard is an outbox that enqueues nothing: the seeded emails are never
// delivered.
type discard struct{}

func (discard) DeliverEmails(context.Context, *sql.Tx, []*store.Email) error { return nil }
func (discard) RetryDeliveries(context.Context, *sql.Tx, []sqlstore.DeliveryRetry) error {
	return nil
}
func (discard) PostWebhookMessages(context.Context, *sql.Tx, []sqlstore.WebhookPost) error {
	return nil
}
func (discard) RunBroadcast(context.Context, *sql.Tx, string, string, *time.Time) error { return nil }
func (discard) RunContactImport(context.Context, *sql.Tx, string, string) error         { return nil }

const teamName = "metrics-bench"

func main() {
	dsn := flag.String("db", "", "SQLite file or PostgreSQL URL (required)")
	emails := flag.Int("emails", 1_000_000, "emails to seed")
	days := flag.Int("days", 30, "days the emails are spread over, ending now")
	domains := flag.Int("domains", 5, "sending domains")
	broadcasts := flag.Int("broadcasts", 3, "broadcasts (every tenth email is from one)")
	workers := flag.Int("workers", 8, "concurrent seeding writers")
	requests := flag.Int("requests", 1000, "requests to time")
	query := flag.String("query", "", "query string (default: the last 30 days, daily, by period and domain)")
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile of the timed requests to this file")
	flag.Parse()
	if *dsn == "" {
		flag.Usage()
		os.Exit(2)
	}
	ctx := context.Background()
	db, err := sqlstore.Open(ctx, *dsn, sqlstore.Options{Outbox: discard{}})
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()

	team, err := db.GetTeamByName(ctx, teamName)
	if err != nil {
		team = &store.Team{ID: store.NewID(), Name: teamName, CreatedAt: time.Now()}
		if err := db.CreateTeam(ctx, team); err != nil {
			log.Fatal(err)
		}
		start := time.Now()
		if err := seed(ctx, db, team.ID, *emails, *days, *domains, *broadcasts, *workers); err != nil {
			log.Fatal(err)
		}
		log.Printf("seeded %d emails in %s", *emails, time.Since(start).Round(time.Second))
	} else {
		log.Printf("reusing the seeded team %s", team.ID)
	}
	if err := db.SetTeamRateLimit(ctx, team.ID, 1_000_000); err != nil {
		log.Fatal(err)
	}
	token, prefix, hash, err := auth.NewToken()
	if err != nil {
		log.Fatal(err)
	}
	if err := db.CreateAPIKey(ctx, &store.APIKey{ID: store.NewID(), TeamID: team.ID, Name: "bench", Prefix: prefix, Hash: hash,
		Permission: store.PermissionFullAccess, CreatedAt: time.Now()}); err != nil {
		log.Fatal(err)
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	srv := &http.Server{Handler: api.New(api.Deps{Store: db, DefaultRateLimit: 1_000_000}), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()

	q := *query
	if q == "" {
		now := time.Now().UTC()
		q = fmt.Sprintf("start_date=%s&end_date=%s&granularity=daily&dimensions=period,domain",
			now.AddDate(0, 0, -30).Format(time.DateOnly), now.Format(time.RFC3339))
	}
	url := "http://" + ln.Addr().String() + "/emails/metrics?" + q
	client := &http.Client{Timeout: 10 * time.Second}
	get := func() (time.Duration, []byte) {
		req, _ := http.NewRequest("GET", url, nil)
		req.Header.Set("Authorization", "Bearer "+token)
		t := time.Now()
		resp, err := client.Do(req)
		if err != nil {
			log.Fatal(err)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		d := time.Since(t)
		if err != nil || resp.StatusCode != 200 {
			log.Fatalf("GET %s: %d %v %s", url, resp.StatusCode, err, body)
		}
		return d, body
	}
	_, body := get() // warm up, and show what is measured
	var shape struct {
		Totals map[string]float64 `json:"totals"`
		Data   []json.RawMessage  `json:"data"`
	}
	if err := json.Unmarshal(body, &shape); err != nil {
		log.Fatal(err)
	}
	log.Printf("GET /emails/metrics?%s: %d rows, %d bytes, received %.0f", q, len(shape.Data), len(body), shape.Totals["received"])
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err != nil {
			log.Fatal(err)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			log.Fatal(err)
		}
		defer pprof.StopCPUProfile()
	}
	lat := make([]time.Duration, *requests)
	for i := range lat {
		lat[i], _ = get()
	}
	slices.Sort(lat)
	pct := func(p float64) time.Duration { return lat[min(len(lat)-1, int(float64(len(lat))*p))] }
	fmt.Printf("requests %d  p50 %s  p90 %s  p99 %s  max %s\n", len(lat),
		pct(0.50).Round(10*time.Microsecond), pct(0.90).Round(10*time.Microsecond), pct(0.99).Round(10*time.Microsecond), lat[len(lat)-1].Round(10*time.Microsecond))
}

// seed writes n emails with their outcomes through the store's write paths.
func seed(ctx context.Context, db *sqlstore.DB, teamID string, n, days, nDomains, nBroadcasts, workers int) error {
	domainIDs := make([]string, nDomains)
	for i := range domainIDs {
		domainIDs[i] = store.NewID()
	}
	broadcastIDs := make([]string, nBroadcasts)
	for i := range broadcastIDs {
		broadcastIDs[i] = store.NewID()
		if err := db.CreateBroadcast(ctx, &store.Broadcast{ID: broadcastIDs[i], TeamID: teamID, Name: fmt.Sprintf("Broadcast %d", i),
			SegmentID: store.NewID(), From: "news@d0.bench.example", Subject: "news", Status: "sent", CreatedAt: time.Now(), UpdatedAt: time.Now()}); err != nil {
			return err
		}
	}
	end := time.Now().UTC()
	step := time.Duration(days) * 24 * time.Hour / time.Duration(max(n, 1))
	text := "bench"
	const perAccept = 100
	jobs := make(chan int)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var firstErr error
	done := 0
	fail := func(err error) {
		mu.Lock()
		if firstErr == nil {
			firstErr = err
		}
		mu.Unlock()
	}
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for first := range jobs {
				mu.Lock()
				failed := firstErr != nil
				mu.Unlock()
				if failed {
					continue // drain the jobs
				}
				var batch []*store.Email
				for i := first; i < min(first+perAccept, n); i++ {
					d := i % nDomains
					e := &store.Email{ID: store.NewID(), TeamID: teamID, From: fmt.Sprintf("a@d%d.bench.example", d),
						To: []string{"r@example.net"}, Subject: "bench", Text: &text, LastEvent: store.EventQueued,
						CreatedAt: end.Add(-time.Duration(n-i) * step), DomainID: domainIDs[d], DomainName: fmt.Sprintf("d%d.bench.example", d)}
					if i%10 == 0 {
						e.BroadcastID = broadcastIDs[i/10%nBroadcasts]
					}
					batch = append(batch, e)
				}
				if err := db.AcceptEmails(ctx, &store.Accept{Emails: batch}); err != nil {
					fail(err)
					continue
				}
				for j, e := range batch {
					at := e.CreatedAt.Add(time.Second)
					evs := []*store.EmailEvent{{Type: store.EventSent, CreatedAt: at}}
					if (first+j)%50 == 0 {
						evs = append(evs, &store.EmailEvent{Type: store.EventBounced, CreatedAt: at.Add(time.Second),
							Data: json.RawMessage(`{"bounce":{"type":"Permanent"}}`)})
					} else {
						evs = append(evs, &store.EmailEvent{Type: store.EventDelivered, CreatedAt: at.Add(time.Second)})
						if (first+j)%3 == 0 {
							evs = append(evs, &store.EmailEvent{Type: "opened", CreatedAt: at.Add(time.Minute)})
						}
						if (first+j)%10 == 0 {
							evs = append(evs, &store.EmailEvent{Type: "clicked", CreatedAt: at.Add(2 * time.Minute)})
						}
					}
					if err := db.RecordDelivery(ctx, &store.DeliveryOutcome{EmailID: e.ID, TeamID: teamID, Events: evs}); err != nil {
						fail(err)
						break
					}
				}
				mu.Lock()
				done += len(batch)
				if done%100_000 < len(batch) {
					log.Printf("seeded %d emails", done)
				}
				mu.Unlock()
			}
		}()
	}
	go func() {
		defer close(jobs)
		for first := 0; first < n; first += perAccept {
			jobs <- first
		}
	}()
	wg.Wait()
	return firstErr
}
