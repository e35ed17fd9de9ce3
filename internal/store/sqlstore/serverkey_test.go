package sqlstore_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/godwit/godwit/internal/godwittest"
	"github.com/godwit/godwit/internal/store"
	"github.com/godwit/godwit/internal/store/sqlstore"
)

// The server key's check value is stored once: the first writer wins, on
// PostgreSQL too when nodes race, and every later writer reads the first
// value back. AnySealedSecret finds a webhook's secret, else a domain's
// DKIM key.
func TestServerKeyCheck(t *testing.T) {
	for _, kind := range godwittest.Kinds {
		t.Run(string(kind), func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			db, err := sqlstore.Open(ctx, godwittest.StoreURL(t, kind), sqlstore.Options{Outbox: godwittest.NewOutbox()})
			require.NoError(t, err)
			t.Cleanup(func() { _ = db.Close() })

			_, err = db.ServerKeyCheck(ctx)
			require.ErrorIs(t, err, store.ErrNotFound)

			// Racing first starts: exactly one value is stored and every
			// writer is told which.
			var wg sync.WaitGroup
			got := make([]string, 8)
			for i := range got {
				wg.Go(func() {
					v, err := db.SetServerKeyCheck(ctx, fmt.Sprintf("mac-%d", i), time.Now())
					require.NoError(t, err)
					got[i] = v
				})
			}
			wg.Wait()
			for _, v := range got {
				require.Equal(t, got[0], v)
			}
			stored, err := db.ServerKeyCheck(ctx)
			require.NoError(t, err)
			require.Equal(t, got[0], stored)
			v, err := db.SetServerKeyCheck(ctx, "another", time.Now())
			require.NoError(t, err)
			require.Equal(t, stored, v, "a stored value is never replaced")

			_, err = db.AnySealedSecret(ctx)
			require.ErrorIs(t, err, store.ErrNotFound)
			team := &store.Team{ID: uuid.NewString(), Name: "t-" + uuid.NewString(), CreatedAt: time.Now()}
			require.NoError(t, db.CreateTeam(ctx, team))
			d := &store.Domain{ID: uuid.NewString(), TeamID: team.ID, Name: "example.com", Region: "us-east-1", ReturnPath: "send",
				Status: store.DomainNotStarted, TLS: "opportunistic", Sending: "enabled", Receiving: "disabled", DKIMSelector: "resend",
				DKIMKey: []byte("sealed dkim"), RecordStatus: map[string]string{}, CreatedAt: time.Now(), UpdatedAt: time.Now()}
			require.NoError(t, db.CreateDomain(ctx, d))
			s, err := db.AnySealedSecret(ctx)
			require.NoError(t, err)
			require.Equal(t, sqlstore.SealedSecret{Kind: "domain", ID: d.ID, Sealed: []byte("sealed dkim")}, s)
			w := &store.Webhook{ID: uuid.NewString(), TeamID: team.ID, Endpoint: "https://hooks.example.com/", Events: []string{"email.sent"},
				Status: store.WebhookEnabled, Secret: []byte("sealed secret"), CreatedAt: time.Now(), UpdatedAt: time.Now()}
			require.NoError(t, db.CreateWebhook(ctx, w))
			s, err = db.AnySealedSecret(ctx)
			require.NoError(t, err)
			require.Equal(t, sqlstore.SealedSecret{Kind: "webhook", ID: w.ID, Sealed: []byte("sealed secret")}, s)
		})
	}
}
