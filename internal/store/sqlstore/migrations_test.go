package sqlstore_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/godwit/godwit/internal/godwittest"
	"github.com/godwit/godwit/internal/store"
	"github.com/godwit/godwit/internal/store/sqlstore"
)

// TestMigration15DomainNames: the rebuild that lets teams share a domain
// name keeps every domain, and going back keeps one copy of each name (the
// verified one).
func TestMigration15DomainNames(t *testing.T) {
	for _, kind := range godwittest.Kinds {
		t.Run(string(kind), func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			t0 := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
			dbURL := godwittest.StoreURL(t, kind)
			db, err := sqlstore.Open(ctx, dbURL, sqlstore.Options{Now: func() time.Time { return t0 }, Outbox: godwittest.NewOutbox()})
			require.NoError(t, err)
			t.Cleanup(func() { _ = db.Close() })
			var copies []*store.Domain
			for i, status := range []string{store.DomainPending, store.DomainFailed, store.DomainVerified} {
				team := &store.Team{ID: uuid.NewString(), Name: string(rune('a' + i)), CreatedAt: t0}
				require.NoError(t, db.CreateTeam(ctx, team))
				d := &store.Domain{ID: uuid.NewString(), TeamID: team.ID, Name: "example.com", Region: "us-east-1", ReturnPath: "send",
					Status: status, TLS: "opportunistic", Sending: "enabled", Receiving: "disabled", DKIMSelector: "resend",
					DKIMKey: []byte("sealed"), RecordStatus: map[string]string{"DKIM": status}, CreatedAt: t0.Add(time.Duration(i) * time.Second), UpdatedAt: t0}
				require.NoError(t, db.CreateDomain(ctx, d))
				copies = append(copies, d)
			}

			require.NoError(t, db.MigrateDownTo(ctx, 14))
			var ids []string
			rows, err := db.Writer().QueryContext(ctx, `SELECT id FROM domains WHERE name = 'example.com'`)
			require.NoError(t, err)
			for rows.Next() {
				var id string
				require.NoError(t, rows.Scan(&id))
				ids = append(ids, id)
			}
			require.NoError(t, rows.Err())
			require.NoError(t, rows.Close())
			require.Equal(t, []string{copies[2].ID}, ids, "the verified copy is kept")

			require.NoError(t, db.Migrate(ctx))
			got, err := db.GetDomain(ctx, copies[2].TeamID, copies[2].ID)
			require.NoError(t, err)
			require.Equal(t, copies[2], got, "the rebuild keeps every column")
			copies[2].Status = store.DomainPending
			require.NoError(t, db.UpdateDomain(ctx, copies[2]))
			require.NoError(t, db.CreateDomain(ctx, copies[0]), "unverified copies of one name may exist again")
			dup := *copies[2]
			dup.ID = uuid.NewString()
			require.ErrorIs(t, db.CreateDomain(ctx, &dup), store.ErrConflict, "the team name index is back")
			copies[0].Status = store.DomainVerified
			require.NoError(t, db.UpdateDomain(ctx, copies[0]))
			copies[2].Status = store.DomainVerified
			require.ErrorIs(t, db.UpdateDomain(ctx, copies[2]), store.ErrConflict, "the verified name index is back")
		})
	}
}
