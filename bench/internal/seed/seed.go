// Package seed fills a store with many emails of one team for the bench
// tools that measure reads (bench/metrics, bench/dashboard). The emails go
// through the store's own write paths, AcceptEmails and RecordDelivery, so
// that every table and rollup those maintain is built by the code that
// maintains it in production.
package seed

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"log"
	"sync"
	"time"

	"github.com/godwit/godwit/internal/store"
	"github.com/godwit/godwit/internal/store/sqlstore"
)

// Discard is an outbox that enqueues nothing: the seeded emails are never
// delivered.
type Discard struct{}

// DeliverEmails implements sqlstore.Outbox.
func (Discard) DeliverEmails(context.Context, *sql.Tx, []*store.Email) error { return nil }

// RetryDeliveries implements sqlstore.Outbox.
func (Discard) RetryDeliveries(context.Context, *sql.Tx, []sqlstore.DeliveryRetry) error {
	return nil
}

// PostWebhookMessages implements sqlstore.Outbox.
func (Discard) PostWebhookMessages(context.Context, *sql.Tx, []sqlstore.WebhookPost) error {
	return nil
}

// RunBroadcast implements sqlstore.Outbox.
func (Discard) RunBroadcast(context.Context, *sql.Tx, string, string, *time.Time) error { return nil }

// RunContactImport implements sqlstore.Outbox.
func (Discard) RunContactImport(context.Context, *sql.Tx, string, string) error { return nil }

// RunAutomationSteps implements sqlstore.Outbox.
func (Discard) RunAutomationSteps(context.Context, *sql.Tx, []store.StepJob) error { return nil }

// MailTLSReports implements sqlstore.Outbox.
func (Discard) MailTLSReports(context.Context, *sql.Tx, []store.TLSReportMail) error { return nil }

// Options shape the seeded emails.
type Options struct {
	Emails     int // how many
	Days       int // spread evenly over the last Days days, ending now
	Domains    int // sending domains, in turn
	Broadcasts int // every tenth email is from one of them, in turn
	// Recipients is how many distinct addresses the emails go to, in
	// turn: user<i % Recipients>@example.net (0 or 1: all to user0).
	Recipients int
	// Tags is how many values the tag "category" takes, in turn
	// (c<i % Tags>); 0: no tags.
	Tags int
	// CaptureEvery keeps a captured message for every CaptureEvery-th
	// email (0: none), as the capture transport does.
	CaptureEvery int
	// QueuedEvery leaves every QueuedEvery-th email (i%QueuedEvery ==
	// QueuedEvery-1) queued, never attempted (0: none).
	QueuedEvery int
	Workers     int // concurrent writers
}

// Result names what was seeded.
type Result struct {
	DomainIDs    []string
	BroadcastIDs []string
}

// Email i's outcome: every email is sent; one in fifty then bounces, the
// others are delivered, a third of those opened and a tenth clicked
// (the last event is the latest of these).
func outcome(i int, at time.Time) (evs []*store.EmailEvent, last string) {
	evs = []*store.EmailEvent{{Type: store.EventSent, CreatedAt: at}}
	if i%50 == 0 {
		return append(evs, &store.EmailEvent{Type: store.EventBounced, CreatedAt: at.Add(time.Second),
			Data: json.RawMessage(`{"bounce":{"type":"Permanent"}}`)}), store.EventBounced
	}
	evs = append(evs, &store.EmailEvent{Type: store.EventDelivered, CreatedAt: at.Add(time.Second)})
	last = store.EventDelivered
	if i%3 == 0 {
		evs = append(evs, &store.EmailEvent{Type: "opened", CreatedAt: at.Add(time.Minute)})
		last = "opened"
	}
	if i%10 == 0 {
		evs = append(evs, &store.EmailEvent{Type: "clicked", CreatedAt: at.Add(2 * time.Minute)})
		last = "clicked"
	}
	return evs, last
}

// Seed writes o.Emails emails of the team with their outcomes, logging its
// progress every 100,000.
func Seed(ctx context.Context, db *sqlstore.DB, teamID string, o Options) (*Result, error) {
	res := &Result{}
	for range o.Domains {
		res.DomainIDs = append(res.DomainIDs, store.NewID())
	}
	for i := range o.Broadcasts {
		id := store.NewID()
		res.BroadcastIDs = append(res.BroadcastIDs, id)
		if err := db.CreateBroadcast(ctx, &store.Broadcast{ID: id, TeamID: teamID, Name: fmt.Sprintf("Broadcast %d", i),
			SegmentID: store.NewID(), From: "news@d0.bench.example", Subject: "news", Status: "sent", CreatedAt: time.Now(), UpdatedAt: time.Now()}); err != nil {
			return nil, fmt.Errorf("seed: broadcast: %w", err)
		}
	}
	n := o.Emails
	end := time.Now().UTC()
	step := time.Duration(o.Days) * 24 * time.Hour / time.Duration(max(n, 1))
	text := "bench"
	captured := []byte("From: a@d0.bench.example\r\nTo: user@example.net\r\nSubject: bench\r\n\r\nbench\r\n")
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
	for range max(o.Workers, 1) {
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
					e := &store.Email{ID: store.NewID(), TeamID: teamID,
						To: []string{fmt.Sprintf("user%d@example.net", i%max(o.Recipients, 1))}, Subject: fmt.Sprintf("bench %d", i),
						Text: &text, LastEvent: store.EventQueued, CreatedAt: end.Add(-time.Duration(n-i) * step)}
					if o.Domains > 0 {
						d := i % o.Domains
						e.From, e.DomainID, e.DomainName = fmt.Sprintf("a@d%d.bench.example", d), res.DomainIDs[d], fmt.Sprintf("d%d.bench.example", d)
					} else {
						e.From = "onboarding@resend.dev"
					}
					if o.Tags > 0 {
						e.Tags = []store.Tag{{Name: "category", Value: fmt.Sprintf("c%d", i%o.Tags)}}
					}
					if o.Broadcasts > 0 && i%10 == 0 {
						e.BroadcastID = res.BroadcastIDs[i/10%o.Broadcasts]
					}
					batch = append(batch, e)
				}
				if err := db.AcceptEmails(ctx, &store.Accept{Emails: batch}); err != nil {
					fail(fmt.Errorf("seed: accept: %w", err))
					continue
				}
				for j, e := range batch {
					if q := o.QueuedEvery; q > 0 && (first+j)%q == q-1 {
						continue
					}
					evs, last := outcome(first+j, e.CreatedAt.Add(time.Second))
					out := &store.DeliveryOutcome{EmailID: e.ID, TeamID: teamID, Events: evs, LastEvent: last}
					if o.CaptureEvery > 0 && (first+j)%o.CaptureEvery == 0 {
						out.Captured = captured
					}
					if err := db.RecordDelivery(ctx, out); err != nil {
						fail(fmt.Errorf("seed: record delivery: %w", err))
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
	return res, firstErr
}

// Team returns the team named name, first creating it and seeding it with
// o when it does not exist yet (a store seeded once is reused by later
// runs); created says which.
func Team(ctx context.Context, db *sqlstore.DB, name string, o Options) (team *store.Team, created bool, err error) {
	if team, err := db.GetTeamByName(ctx, name); err == nil {
		log.Printf("reusing the seeded team %s", team.ID)
		return team, false, nil
	}
	team = &store.Team{ID: store.NewID(), Name: name, CreatedAt: time.Now()}
	if err := db.CreateTeam(ctx, team); err != nil {
		return nil, false, fmt.Errorf("create team %s: %w", name, err)
	}
	start := time.Now()
	if _, err := Seed(ctx, db, team.ID, o); err != nil {
		return nil, false, err
	}
	log.Printf("seeded %d emails in %s", o.Emails, time.Since(start).Round(time.Second))
	return team, true, nil
}
