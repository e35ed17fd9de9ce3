package app_test

import (
	"context"
	"crypto/rand"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/godwit/godwit/internal/app"
	"github.com/godwit/godwit/internal/dkim"
	"github.com/godwit/godwit/internal/godwittest"
	"github.com/godwit/godwit/internal/secretbox"
	"github.com/godwit/godwit/internal/store"
	"github.com/godwit/godwit/internal/store/sqlstore"
	"github.com/godwit/godwit/internal/webhook"
)

const mismatch = "is not the one this database's secrets were sealed with: copy the first node's secret.key here or pass the same --secret-key"

func newKey(t *testing.T) []byte {
	k := make([]byte, 32)
	_, err := rand.Read(k)
	require.NoError(t, err)
	return k
}

// The first start stores the key's check value and every later start must
// match it; a database that already holds sealed secrets but no check value
// (made before there was one) adopts a key only if it opens one of them.
func TestCheckServerKey(t *testing.T) {
	ctx := context.Background()
	for _, kind := range godwittest.Kinds {
		t.Run(string(kind), func(t *testing.T) {
			open := func(t *testing.T) *sqlstore.DB {
				db, err := sqlstore.Open(ctx, godwittest.StoreURL(t, kind), sqlstore.Options{Outbox: godwittest.NewOutbox()})
				require.NoError(t, err)
				t.Cleanup(func() { _ = db.Close() })
				return db
			}
			a, b := newKey(t), newKey(t)
			check := func(t *testing.T, db *sqlstore.DB, key []byte) string {
				mac, err := db.ServerKeyCheck(ctx)
				if err != nil {
					return ""
				}
				want, err := app.KeyCheckValue(key)
				require.NoError(t, err)
				require.Equal(t, want, mac)
				return mac
			}

			t.Run("empty database adopts the first key", func(t *testing.T) {
				db := open(t)
				require.NoError(t, app.CheckServerKey(ctx, db, a, "/data/secret.key"))
				require.NotEmpty(t, check(t, db, a))
				err := app.CheckServerKey(ctx, db, b, "/other/secret.key")
				require.ErrorContains(t, err, "this node's secret key (/other/secret.key) "+mismatch)
				require.NoError(t, app.CheckServerKey(ctx, db, a, "--secret-key"))
			})

			for _, secret := range []string{"webhook", "domain"} {
				t.Run("upgrade with a sealed "+secret, func(t *testing.T) {
					db := open(t)
					box, err := secretbox.New(a)
					require.NoError(t, err)
					team := &store.Team{ID: uuid.NewString(), Name: "default", CreatedAt: time.Now()}
					require.NoError(t, db.CreateTeam(ctx, team))
					id := uuid.NewString()
					if secret == "webhook" {
						sealed, err := box.Seal([]byte("whsec_abc"), webhook.SecretAD(id))
						require.NoError(t, err)
						require.NoError(t, db.CreateWebhook(ctx, &store.Webhook{ID: id, TeamID: team.ID, Endpoint: "https://hooks.example.com/",
							Events: []string{"email.sent"}, Status: store.WebhookEnabled, Secret: sealed, CreatedAt: time.Now(), UpdatedAt: time.Now()}))
					} else {
						key, err := dkim.GenerateEd25519()
						require.NoError(t, err)
						der, err := dkim.MarshalPrivateKey(key)
						require.NoError(t, err)
						sealed, err := box.Seal(der, []byte(id)) // as internal/domains seals a DKIM key
						require.NoError(t, err)
						require.NoError(t, db.CreateDomain(ctx, &store.Domain{ID: id, TeamID: team.ID, Name: "example.com", Region: "us-east-1",
							ReturnPath: "send", Status: store.DomainNotStarted, TLS: "opportunistic", Sending: "enabled", Receiving: "disabled",
							DKIMSelector: "resend", DKIMKey: sealed, RecordStatus: map[string]string{}, CreatedAt: time.Now(), UpdatedAt: time.Now()}))
					}
					err = app.CheckServerKey(ctx, db, b, "--secret-key")
					require.ErrorContains(t, err, "this node's secret key (--secret-key) "+mismatch)
					_, err = db.ServerKeyCheck(ctx)
					require.ErrorIs(t, err, store.ErrNotFound, "a refused key is not adopted")

					require.NoError(t, app.CheckServerKey(ctx, db, a, "--secret-key"), "the key that opens the secrets is adopted")
					require.NotEmpty(t, check(t, db, a))
					require.ErrorContains(t, app.CheckServerKey(ctx, db, b, "--secret-key"), mismatch)
				})
			}
		})
	}
}
