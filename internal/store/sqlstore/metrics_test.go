package sqlstore_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/godwit/godwit/internal/godwittest"
	"github.com/godwit/godwit/internal/store"
	"github.com/godwit/godwit/internal/store/sqlstore"
)

// TestMigration20Backfill: the rollup that migration 00020 builds from the
// events already stored equals the one the store keeps as it writes them.
func TestMigration20Backfill(t *testing.T) {
	for _, kind := range godwittest.Kinds {
		t.Run(string(kind), func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			t0 := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
			db, err := sqlstore.Open(ctx, godwittest.StoreURL(t, kind), sqlstore.Options{Now: func() time.Time { return t0 }, Outbox: godwittest.NewOutbox()})
			require.NoError(t, err)
			t.Cleanup(func() { _ = db.Close() })
			team := &store.Team{ID: store.NewID(), Name: "a", CreatedAt: t0}
			require.NoError(t, db.CreateTeam(ctx, team))
			domain, broadcast := store.NewID(), store.NewID()
			for i := range 12 {
				text := "x"
				e := &store.Email{ID: store.NewID(), TeamID: team.ID, From: "a@example.com", To: []string{"b@example.net"}, Subject: "s",
					Text: &text, LastEvent: store.EventQueued, CreatedAt: t0.Add(time.Duration(i) * 17 * time.Minute)}
				switch i % 3 {
				case 0:
					e.DomainID, e.DomainName = domain, "example.com"
				case 1:
					e.DomainID, e.DomainName, e.BroadcastID = domain, "example.com", broadcast
				}
				require.NoError(t, db.AcceptEmails(ctx, &store.Accept{Emails: []*store.Email{e}}))
				at := e.CreatedAt.Add(time.Duration(i) * 11 * time.Minute)
				bounce := []string{`{"bounce":{"type":"Permanent"}}`, `{"bounce":{"type":"Transient"}}`, `{"to":["b@example.net"]}`}[i%3]
				require.NoError(t, db.RecordDelivery(ctx, &store.DeliveryOutcome{EmailID: e.ID, TeamID: team.ID, Events: []*store.EmailEvent{
					{Type: store.EventSent, CreatedAt: at}, {Type: store.EventBounced, CreatedAt: at, Data: json.RawMessage(bounce)},
					{Type: "opened", CreatedAt: at.Add(time.Hour)}, {Type: "opened", CreatedAt: at.Add(2 * time.Hour)},
					{Type: "clicked", CreatedAt: at.Add(3 * time.Hour)}, {Type: store.EventComplained, CreatedAt: at.Add(time.Minute)}}}))
			}
			f := store.EmailMetricsFilter{TeamID: team.ID, From: t0.Add(-time.Hour), To: t0.Add(48 * time.Hour), ByHour: true, ByDomain: true, ByBroadcast: true}
			read := func() map[string]store.EmailCounts {
				rows, err := db.EmailMetrics(ctx, f)
				require.NoError(t, err)
				out := map[string]store.EmailCounts{}
				for _, r := range rows {
					out[r.Hour.String()+"/"+r.DomainID+"/"+r.BroadcastID+"/"+r.DomainName] = r.EmailCounts
				}
				return out
			}
			kept := read()
			require.NotEmpty(t, kept)
			require.NoError(t, db.MigrateDownTo(ctx, 19))
			_, err = db.EmailMetrics(ctx, f)
			require.Error(t, err, "the rollup is gone")
			require.NoError(t, db.Migrate(ctx))
			require.Equal(t, kept, read())
		})
	}
}
