// Command dashboard measures the store queries the dashboard's pages run,
// on a team with many emails.
//
// It seeds a store (a SQLite file or a PostgreSQL URL) with -emails emails
// of one team (bench/internal/seed: spread over -days days, -domains
// sending domains, -recipients distinct recipients, -tags values of the tag
// "category", every tenth captured, one in a hundred left queued, the
// others sent and then delivered, opened, clicked or bounced), and a
// second team with a few emails that match the same filters. A store
// already seeded (the team "dashboard-bench" exists) is reused. On
// PostgreSQL it runs ANALYZE first, as autovacuum would have.
//
// It then times -requests sequential calls of each query the pages make
// (the email list: its first page, each filter, combinations, a deep page
// both ways; the email page's detail; the dev inbox) straight on the store,
// then every page rendered by the dashboard's own handler in this process
// (signed in as an admin of the team; queries and rendering, no network),
// and prints p50, p99 and max of each. -explain prints each query's plan
// first.
//
//	go run ./bench/dashboard -db /tmp/dashboard.db
//	go run ./bench/dashboard -db 'postgres://root@127.0.0.1:5432/test?sslmode=disable&search_path=dashboard_bench'
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/godwit/godwit/bench/internal/seed"
	"github.com/godwit/godwit/internal/store"
	"github.com/godwit/godwit/internal/store/sqlstore"
)

const teamName = "dashboard-bench"

func main() {
	dsn := flag.String("db", "", "SQLite file or PostgreSQL URL (required)")
	emails := flag.Int("emails", 1_000_000, "emails to seed")
	days := flag.Int("days", 30, "days the emails are spread over, ending now")
	domains := flag.Int("domains", 5, "sending domains")
	recipients := flag.Int("recipients", 10_000, "distinct recipients")
	tags := flag.Int("tags", 20, "values of the tag category")
	workers := flag.Int("workers", 8, "concurrent seeding writers")
	requests := flag.Int("requests", 200, "calls to time per query")
	limit := flag.Int("limit", 50, "page size")
	explain := flag.Bool("explain", false, "print each query's plan")
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

	o := seed.Options{Emails: *emails, Days: *days, Domains: *domains, Recipients: *recipients, Tags: *tags,
		CaptureEvery: 10, QueuedEvery: 100, Workers: *workers}
	team, created, err := seed.Team(ctx, db, teamName, o)
	if err != nil {
		log.Fatal(err)
	}
	if created {
		// Another team's emails, which no query may return.
		o.Emails = 1000
		if _, _, err := seed.Team(ctx, db, teamName+"-other", o); err != nil {
			log.Fatal(err)
		}
	}
	if db.Dialect() == sqlstore.Postgres {
		if _, err := db.Writer().ExecContext(ctx, "ANALYZE"); err != nil {
			log.Fatal(err)
		}
	}

	s := sample(ctx, db, team.ID)
	now := time.Now().UTC()
	day := func(daysAgo int) (time.Time, time.Time) {
		from := now.Add(-time.Duration(daysAgo) * 24 * time.Hour)
		return from, from.Add(24 * time.Hour)
	}
	lastDay, _ := day(1)
	oldFrom, oldUntil := day(*days * 2 / 3)
	category := &store.Tag{Name: "category", Value: "c3"}
	page := store.Page{Limit: *limit}
	searches := []struct {
		name string
		f    store.EmailFilter
		p    store.Page
	}{
		{"list: first page", store.EmailFilter{}, page},
		{"list: deep page (after the middle email)", store.EmailFilter{}, store.Page{Limit: *limit, After: s.middle}},
		{"list: deep page (before the middle email)", store.EmailFilter{}, store.Page{Limit: *limit, Before: s.middle}},
		{"status delivered", store.EmailFilter{Status: store.EventDelivered}, page},
		{"status bounced (2%)", store.EmailFilter{Status: store.EventBounced}, page},
		{"status queued (1%)", store.EmailFilter{Status: store.EventQueued}, page},
		{"status complained (none)", store.EmailFilter{Status: store.EventComplained}, page},
		{"domain", store.EmailFilter{DomainID: s.domain}, page},
		{"tag category=c3", store.EmailFilter{Tag: category}, page},
		{"recipient (exact)", store.EmailFilter{Recipient: "User42@Example.net"}, page},
		{"recipient (none)", store.EmailFilter{Recipient: "nobody@example.net"}, page},
		{"time: last 24 hours", store.EmailFilter{Since: lastDay}, page},
		{"time: one day, 2/3 back", store.EmailFilter{Since: oldFrom, Until: oldUntil}, page},
		{"status bounced + domain", store.EmailFilter{Status: store.EventBounced, DomainID: s.domain}, page},
		{"status bounced + day 2/3 back", store.EmailFilter{Status: store.EventBounced, Since: oldFrom, Until: oldUntil}, page},
		{"recipient + status delivered", store.EmailFilter{Recipient: "user42@example.net", Status: store.EventDelivered}, page},
		{"tag + domain + day 2/3 back", store.EmailFilter{Tag: category, DomainID: s.domain, Since: oldFrom, Until: oldUntil}, page},
		{"recipient + tag", store.EmailFilter{Recipient: "user43@example.net", Tag: category}, page},
		{"tag: deep page (after the middle email)", store.EmailFilter{Tag: category}, store.Page{Limit: *limit, After: s.middle}},
	}

	var results []result
	measure := func(name string, queriesPer int, call func(i int) (int, error)) {
		lat := make([]time.Duration, *requests)
		rows := 0
		for i := range lat {
			start := time.Now()
			n, err := call(i)
			lat[i] = time.Since(start)
			if err != nil {
				log.Fatalf("%s: %v", name, err)
			}
			rows = n
		}
		slices.Sort(lat)
		pct := func(p float64) time.Duration { return lat[min(len(lat)-1, int(float64(len(lat))*p))] }
		results = append(results, result{name, rows, pct(0.50), pct(0.99), lat[len(lat)-1], queriesPer})
	}

	for _, q := range searches {
		if *explain {
			plan, err := db.ExplainSearchEmails(ctx, team.ID, q.f, q.p)
			if err != nil {
				log.Fatal(err)
			}
			fmt.Printf("-- %s\n%s\n", q.name, plan)
		}
		measure("search: "+q.name, 1, func(int) (int, error) {
			list, _, err := db.SearchEmails(ctx, team.ID, q.f, q.p)
			return len(list), err
		})
	}
	measure("ListEmails: first page (the API's list, for comparison)", 1, func(int) (int, error) {
		list, _, err := db.ListEmails(ctx, team.ID, page)
		return len(list), err
	})
	measure("email page: GetEmailDetail", 5, func(i int) (int, error) {
		d, err := db.GetEmailDetail(ctx, team.ID, s.emails[i%len(s.emails)])
		if err != nil {
			return 0, err
		}
		return 1 + len(d.Events) + len(d.Attempts), nil
	})
	measure("email page: GetEmail + events + attempts + attachments", 8, func(i int) (int, error) {
		id := s.emails[i%len(s.emails)]
		if _, err := db.GetEmail(ctx, team.ID, id); err != nil {
			return 0, err
		}
		evs, err := db.ListEmailEvents(ctx, team.ID, id)
		if err != nil {
			return 0, err
		}
		atts, err := db.ListDeliveryAttempts(ctx, team.ID, id)
		if err != nil {
			return 0, err
		}
		_, err = db.ListEmailAttachments(ctx, team.ID, id)
		return 1 + len(evs) + len(atts), err
	})
	measure("email page: raw MIME (GetCapturedMessage)", 1, func(i int) (int, error) {
		m, err := db.GetCapturedMessage(ctx, team.ID, s.captured[i%len(s.captured)])
		if len(m) == 0 {
			return 0, err
		}
		return 1, err
	})
	if *explain {
		plan, err := db.ExplainCapturedMessages(ctx, team.ID, page)
		if err != nil {
			log.Fatal(err)
		}
		fmt.Printf("-- dev inbox\n%s\n", plan)
	}
	measure("dev inbox: first page", 1, func(int) (int, error) {
		list, _, err := db.ListCapturedMessages(ctx, team.ID, page)
		return len(list), err
	})
	measure("dev inbox: deep page (after the middle captured message)", 1, func(int) (int, error) {
		list, _, err := db.ListCapturedMessages(ctx, team.ID, store.Page{Limit: *limit, After: s.captured[len(s.captured)/2]})
		return len(list), err
	})

	pageRows, err := timePages(ctx, db, team.ID, s, *requests)
	if err != nil {
		log.Fatal(err)
	}
	results = append(results, pageRows...)

	fmt.Printf("%s, %d emails in the team, %d calls each, page size %d\n", db.Dialect(), s.total, *requests, *limit)
	fmt.Printf("%-62s %5s %8s %10s %10s %10s\n", "query", "rows", "queries", "p50", "p99", "max")
	for _, r := range results {
		rows, queries := strconv.Itoa(r.rows), strconv.Itoa(r.queriesPer)
		if r.queriesPer == 0 { // a page: rendered, its queries not counted here
			rows, queries = "-", "-"
		}
		fmt.Printf("%-62s %5s %8s %10s %10s %10s\n", r.name, rows, queries, r.p50.Round(time.Microsecond),
			r.p99.Round(time.Microsecond), r.worst.Round(time.Microsecond))
	}
}

// result is the timing of one query or page.
type result struct {
	name       string
	rows       int
	p50, p99   time.Duration
	worst      time.Duration
	queriesPer int
}

// samples are ids the queries start from.
type samples struct {
	total    int
	middle   string   // the email in the middle of the list
	domain   string   // a sending domain of the team
	emails   []string // emails spread over the team's, for the email page
	captured []string // captured messages' email ids, newest first
}

func sample(ctx context.Context, db *sqlstore.DB, teamID string) samples {
	var s samples
	w := db.Writer()
	must := func(err error) {
		if err != nil {
			log.Fatal(err)
		}
	}
	q := func(query string) string {
		if db.Dialect() == sqlstore.Postgres {
			n := 0
			var b strings.Builder
			for _, c := range query {
				if c == '?' {
					n++
					fmt.Fprintf(&b, "$%d", n)
					continue
				}
				b.WriteRune(c)
			}
			return b.String()
		}
		return query
	}
	must(w.QueryRowContext(ctx, q(`SELECT COUNT(*) FROM emails WHERE team_id = ?`), teamID).Scan(&s.total))
	must(w.QueryRowContext(ctx, q(`SELECT id FROM emails WHERE team_id = ? ORDER BY seq DESC LIMIT 1 OFFSET ?`),
		teamID, s.total/2).Scan(&s.middle))
	must(w.QueryRowContext(ctx, q(`SELECT domain_id FROM emails WHERE team_id = ? AND domain_id IS NOT NULL LIMIT 1`), teamID).Scan(&s.domain))
	rows, err := w.QueryContext(ctx, q(`SELECT id FROM emails WHERE team_id = ? AND seq % 997 = 0`), teamID)
	must(err)
	for rows.Next() {
		var id string
		must(rows.Scan(&id))
		s.emails = append(s.emails, id)
	}
	must(rows.Err())
	rows.Close()
	rows, err = w.QueryContext(ctx, q(`SELECT email_id FROM captured_messages WHERE team_id = ? ORDER BY created_at DESC, email_id DESC`), teamID)
	must(err)
	for rows.Next() {
		var id string
		must(rows.Scan(&id))
		s.captured = append(s.captured, id)
	}
	must(rows.Err())
	rows.Close()
	if len(s.emails) == 0 || len(s.captured) == 0 {
		log.Fatal("the seeded team has too few emails to sample")
	}
	return s
}
