package reputation_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/godwit/godwit/internal/events"
	"github.com/godwit/godwit/internal/godwittest"
	"github.com/godwit/godwit/internal/reputation"
	"github.com/godwit/godwit/internal/store"
	"github.com/godwit/godwit/internal/store/sqlstore"
)

// BenchmarkCheck measures the check made after each permanent bounce or
// complaint: the email's domain, then the window's counts from the hourly
// rollup, for a domain that sent every hour of the window (SQLite).
func BenchmarkCheck(b *testing.B) {
	ctx := context.Background()
	clock := godwittest.NewClock(t0)
	db := godwittest.NewStore(b, sqlstore.SQLite, clock)
	team := &store.Team{ID: uuid.NewString(), Name: "t", CreatedAt: t0}
	if err := db.CreateTeam(ctx, team); err != nil {
		b.Fatal(err)
	}
	domainID := uuid.NewString()
	var last string
	// 48 hours of mail, 20 emails an hour: the window holds 24 or 25 of them.
	for h := 0; h < 48; h++ {
		for i := 0; i < 20; i++ {
			em := &store.Email{ID: store.NewID(), TeamID: team.ID, From: "a@example.com", To: []string{"b@example.net"}, Subject: "s",
				CreatedAt: clock.Now(), LastEvent: store.EventQueued, DomainID: domainID, DomainName: "example.com"}
			if err := db.AcceptEmails(ctx, &store.Accept{Emails: []*store.Email{em}}); err != nil {
				b.Fatal(err)
			}
			ev, err := events.Email(store.EventDelivered, em, nil, nil, clock.Now())
			if err != nil {
				b.Fatal(err)
			}
			if err := db.RecordDelivery(ctx, &store.DeliveryOutcome{EmailID: em.ID, TeamID: team.ID, LastEvent: store.EventDelivered,
				Events: []*store.EmailEvent{{Type: store.EventDelivered, Data: []byte(`{}`), CreatedAt: clock.Now()}}, TeamEvents: []*store.Event{ev}}); err != nil {
				b.Fatal(err)
			}
			last = em.ID
		}
		clock.Advance(time.Hour)
	}
	g := &reputation.Guard{Store: db, Now: clock.Now}
	out := &store.DeliveryOutcome{EmailID: last, TeamID: team.ID,
		Events: []*store.EmailEvent{{Type: store.EventComplained, Data: []byte(`{}`)}}}
	r, err := g.Window(ctx, team.ID, domainID)
	if err != nil || r.Delivered < 400 {
		b.Fatalf("window %+v, %v", r, err)
	}
	b.ResetTimer()
	for b.Loop() {
		g.Recorded(ctx, out)
	}
}
