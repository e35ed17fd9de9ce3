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
	"time"

	"github.com/godwit/godwit/bench/internal/seed"
	"github.com/godwit/godwit/internal/api"
	"github.com/godwit/godwit/internal/auth"
	"github.com/godwit/godwit/internal/store"
	"github.com/godwit/godwit/internal/store/sqlstore"
)

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
	db, err := sqlstore.Open(ctx, *dsn, sqlstore.Options{Outbox: seed.Discard{}})
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()

	team, _, err := seed.Team(ctx, db, teamName, seed.Options{Emails: *emails, Days: *days, Domains: *domains,
		Broadcasts: *broadcasts, Workers: *workers})
	if err != nil {
		log.Fatal(err)
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
