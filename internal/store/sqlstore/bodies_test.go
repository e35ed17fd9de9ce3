package sqlstore_test

import (
	"context"
	"database/sql"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/godwit/godwit/internal/godwittest"
	"github.com/godwit/godwit/internal/store"
	"github.com/godwit/godwit/internal/store/sqlstore"
)

// TestBodiesOutOfTheRow: on SQLite an accepted email's bodies are stored
// in email_bodies, not in its emails row, so that the updates of the row
// (last_event, at every outcome) do not rewrite them; the readers (the
// API's and the worker's) put them back together, on both stores, and an
// update of the row leaves them as they were. (Emails stored with their bodies in the row
// before migration 00048 read as before: TestUpgradeFromFixtures.)
func TestBodiesOutOfTheRow(t *testing.T) {
	t.Parallel()
	for _, kind := range godwittest.Kinds {
		t.Run(string(kind), func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			g := newGroupEnv(t, kind)
			big, small := g.email(), g.email()
			html := "<p>" + strings.Repeat("All the news. ", 400) + "</p>" // compressed on SQLite
			text := "hi"
			big.HTML, big.Text = &html, &text
			small.Text = nil
			require.NoError(t, g.db.AcceptEmails(ctx, &store.Accept{Emails: []*store.Email{big, small}}))

			// On SQLite the bodies are in email_bodies; PostgreSQL keeps
			// them in the row (out of line on its own) and the table empty.
			for _, e := range []*store.Email{big, small} {
				var inRow sql.NullString
				require.NoError(t, g.db.Writer().QueryRowContext(ctx, g.db.Q(`SELECT COALESCE(html_body, text_body) FROM emails WHERE id = ?`), e.ID).Scan(&inRow))
				var n int
				require.NoError(t, g.db.Writer().QueryRowContext(ctx, g.db.Q(`SELECT COUNT(*) FROM email_bodies b JOIN emails e ON e.seq = b.email_seq
					WHERE e.id = ? AND b.html_body IS NOT NULL`), e.ID).Scan(&n))
				if kind == sqlstore.SQLite {
					require.False(t, inRow.Valid, "no body in the emails row")
					require.Equal(t, 1, n, "the body is in email_bodies")
				} else {
					require.True(t, inRow.Valid, "the body is in the emails row")
					require.Zero(t, n, "email_bodies is not written")
				}
			}

			require.NoError(t, g.db.RecordDelivery(ctx, &store.DeliveryOutcome{EmailID: big.ID, TeamID: g.team, LastEvent: store.EventDelivered,
				Attempts: []*store.DeliveryAttempt{{Recipient: big.To[0], Outcome: store.OutcomeDelivered, Host: "mx", CreatedAt: t0}},
				Events:   []*store.EmailEvent{{Type: store.EventSent, CreatedAt: t0}, {Type: store.EventDelivered, CreatedAt: t0}}}))
			got, err := g.db.GetEmail(ctx, g.team, big.ID)
			require.NoError(t, err)
			require.Equal(t, store.EventDelivered, got.LastEvent)
			require.Equal(t, html, *got.HTML)
			require.Equal(t, text, *got.Text)
			both, err := g.db.GetEmailsForDelivery(ctx, []string{big.ID, small.ID})
			require.NoError(t, err)
			require.Len(t, both, 2)
			for _, e := range both {
				if e.ID == small.ID {
					require.Equal(t, *small.HTML, *e.HTML)
					require.Nil(t, e.Text)
				} else {
					require.Equal(t, html, *e.HTML)
				}
			}

			// Reverting migration 00048 puts the bodies back into their rows.
			require.NoError(t, g.db.MigrateDownTo(ctx, 47))
			for _, e := range []*store.Email{big, small} {
				var html sql.NullString
				require.NoError(t, g.db.Writer().QueryRowContext(ctx, g.db.Q(`SELECT html_body FROM emails WHERE id = ?`), e.ID).Scan(&html))
				require.True(t, html.Valid, "the body is back in the row")
			}
		})
	}
}
