package sqlstore_test

import (
	"context"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/godwit/godwit/internal/events"
	"github.com/godwit/godwit/internal/godwittest"
	"github.com/godwit/godwit/internal/store"
	"github.com/godwit/godwit/internal/store/sqlstore"
)

// TestSuppressionsDirectInsert runs the statement delivery uses to suppress a
// hard bounce, straight on the table, and reads the row back through the
// store: the column names and the (team_id, email) conflict target are a
// contract between the two.
func TestSuppressionsDirectInsert(t *testing.T) {
	t.Parallel()
	for _, kind := range godwittest.Kinds {
		t.Run(string(kind), func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			db := godwittest.NewStore(t, kind, nil)
			team := &store.Team{ID: uuid.NewString(), Name: "a"}
			require.NoError(t, db.CreateTeam(ctx, team))
			manual := &store.Suppression{Email: "kept@example.net", Origin: store.SuppressionManual}
			require.NoError(t, db.AddSuppressions(ctx, team.ID, []*store.Suppression{manual}, events.SuppressionAddedEvent))

			insert := `INSERT INTO suppressions (id, team_id, email, origin, source_id, created_at) VALUES (?, ?, ?, ?, ?, ?)
				ON CONFLICT (team_id, email) DO NOTHING`
			if db.Dialect() == sqlstore.Postgres {
				insert = `INSERT INTO suppressions (id, team_id, email, origin, source_id, created_at) VALUES ($1, $2, $3, $4, $5, $6)
				ON CONFLICT (team_id, email) DO NOTHING`
			}
			bounceID, emailID := uuid.NewString(), uuid.NewString()
			for _, addr := range []string{"bounced@example.net", "kept@example.net", "bounced@example.net"} {
				_, err := db.Writer().ExecContext(ctx, insert, uuid.NewString(), team.ID, addr, store.SuppressionBounce, emailID, int64(1_800_000_000_000_000))
				require.NoError(t, err)
			}
			_, err := db.Writer().ExecContext(ctx, insert, bounceID, team.ID, "other@example.net", store.SuppressionBounce, emailID, int64(1))
			require.NoError(t, err)

			got, err := db.GetSuppression(ctx, team.ID, "bounced@example.net")
			require.NoError(t, err)
			require.Equal(t, store.SuppressionBounce, got.Origin)
			require.Equal(t, emailID, got.SourceID)
			require.Equal(t, int64(1_800_000_000_000_000), got.CreatedAt.UnixMicro())
			kept, err := db.GetSuppression(ctx, team.ID, "kept@example.net")
			require.NoError(t, err)
			require.Equal(t, manual.ID, kept.ID, "an existing suppression is left alone")
			require.Equal(t, store.SuppressionManual, kept.Origin)
			among, err := db.SuppressedAmong(ctx, team.ID, []string{"bounced@example.net", "other@example.net", "new@example.net"})
			require.NoError(t, err)
			require.Equal(t, map[string]bool{"bounced@example.net": true, "other@example.net": true}, among)
			page, _, err := db.ListSuppressions(ctx, team.ID, store.SuppressionBounce, store.Page{Limit: 10})
			require.NoError(t, err)
			require.Len(t, page, 2)
			require.Equal(t, bounceID, page[0].ID, "rows inserted directly are listed in insertion order too")
		})
	}
}
