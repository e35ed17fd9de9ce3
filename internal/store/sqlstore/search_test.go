package sqlstore_test

import (
	"context"
	"regexp"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/godwit/godwit/internal/godwittest"
	"github.com/godwit/godwit/internal/store"
	"github.com/godwit/godwit/internal/store/sqlstore"
	"github.com/godwit/godwit/internal/store/storetest"
)

// TestSearchPlans holds every filter of SearchEmails, and the dev inbox's
// list, to an index read in page order: the plan neither scans the team's
// emails nor sorts them.
func TestSearchPlans(t *testing.T) {
	for _, kind := range godwittest.Kinds {
		t.Run(string(kind), func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			db, err := sqlstore.Open(ctx, godwittest.StoreURL(t, kind), sqlstore.Options{Outbox: godwittest.NewOutbox()})
			require.NoError(t, err)
			t.Cleanup(func() { _ = db.Close() })
			team, ids := storetest.SearchFixture(t, db)
			since, until := time.Now().Add(-time.Hour), time.Now()
			tag := &store.Tag{Name: "cat", Value: "news"}
			for _, tc := range []struct {
				name   string
				filter store.EmailFilter
				page   store.Page
				index  string
			}{
				{"none", store.EmailFilter{}, store.Page{}, "emails_team_seq"},
				{"deep page", store.EmailFilter{}, store.Page{After: ids[2]}, "emails_team_seq"},
				{"page before", store.EmailFilter{}, store.Page{Before: ids[2]}, "emails_team_seq"},
				{"time range", store.EmailFilter{Since: since, Until: until}, store.Page{}, "emails_team_seq"},
				{"delivered", store.EmailFilter{Status: store.EventDelivered}, store.Page{}, "emails_team_seq"},
				{"delivered and time", store.EmailFilter{Status: store.EventDelivered, Since: since}, store.Page{After: ids[2]}, "emails_team_seq"},
				{"bounced", store.EmailFilter{Status: store.EventBounced}, store.Page{}, "emails_team_status"},
				{"opened and since", store.EmailFilter{Status: "opened", Since: since}, store.Page{}, "emails_team_status"},
				{"scheduled and range", store.EmailFilter{Status: store.EventScheduled, Since: since, Until: until}, store.Page{}, "emails_team_status"},
				{"failed and cursor", store.EmailFilter{Status: store.EventFailed}, store.Page{After: ids[2]}, "emails_team_status"},
				{"bounced and domain", store.EmailFilter{Status: store.EventBounced, DomainID: "d"}, store.Page{}, "emails_team_status"},
				{"queued", store.EmailFilter{Status: store.EventQueued}, store.Page{}, "emails_waiting"},
				{"sent and domain", store.EmailFilter{Status: store.EventSent, DomainID: "d"}, store.Page{Before: ids[2]}, "emails_waiting"},
				{"domain", store.EmailFilter{DomainID: "d"}, store.Page{}, "emails_team_domain"},
				{"domain and time", store.EmailFilter{DomainID: "d", Until: until}, store.Page{Before: ids[2]}, "emails_team_domain"},
				{"domain and delivered", store.EmailFilter{DomainID: "d", Status: store.EventDelivered}, store.Page{}, "emails_team_domain"},
				{"recipient", store.EmailFilter{Recipient: "a@example.com"}, store.Page{}, "email_search_terms"},
				{"tag", store.EmailFilter{Tag: tag}, store.Page{After: ids[2]}, "email_search_terms"},
				{"recipient, tag, status, domain, time", store.EmailFilter{Recipient: "a@example.com", Tag: tag, Status: store.EventDelivered,
					DomainID: "d", Since: since, Until: until}, store.Page{After: ids[2]}, "email_search_terms"},
			} {
				t.Run(tc.name, func(t *testing.T) {
					plan, err := db.ExplainSearchForced(ctx, team, tc.filter, tc.page)
					require.NoError(t, err)
					t.Logf("%s", plan)
					checkPlan(t, kind, plan, tc.index)
				})
			}
			t.Run("captured", func(t *testing.T) {
				plan, err := db.ExplainCapturedForced(ctx, team, store.Page{})
				require.NoError(t, err)
				t.Logf("%s", plan)
				checkPlan(t, kind, plan, "captured_messages_team")
			})
		})
	}
}

// checkPlan fails unless plan reads index (by name, or the primary key of
// email_search_terms) and neither scans a table nor sorts.
func checkPlan(t *testing.T, kind sqlstore.Dialect, plan, index string) {
	t.Helper()
	switch kind {
	case sqlstore.SQLite:
		if index == "email_search_terms" {
			require.Regexp(t, `SEARCH t USING PRIMARY KEY \(team_id=\? AND term=\?`, plan)
			require.Contains(t, plan, "SEARCH e USING INTEGER PRIMARY KEY (rowid=?)", "the term's emails by primary key")
		} else {
			require.Regexp(t, `USING (COVERING )?INDEX `+index+` \(team_id=\?`, plan)
		}
		require.NotRegexp(t, `(?m)^SCAN `, plan, "no full scan")
		require.NotContains(t, plan, "TEMP B-TREE", "no sort")
	default:
		if index == "email_search_terms" {
			index = "email_search_terms_pkey"
			require.Regexp(t, `Index Scan using emails_pkey on emails e`, plan, "the term's emails by primary key")
		}
		require.Regexp(t, `Index (Only )?Scan( Backward)? using `+regexp.QuoteMeta(index), plan)
		require.NotContains(t, plan, "Seq Scan", "no full scan")
		require.NotRegexp(t, `(?m)^\s*(->\s*)?Sort`, plan, "no sort")
	}
}

// TestMigration24Backfill: the search terms of emails accepted before
// migration 00024 are built by the migration, the same as AcceptEmails
// writes them (recipients of to, cc and bcc by their address in ASCII
// lower case, tags), so searches find old emails as they find new ones.
func TestMigration24Backfill(t *testing.T) {
	for _, kind := range godwittest.Kinds {
		t.Run(string(kind), func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			db, err := sqlstore.Open(ctx, godwittest.StoreURL(t, kind), sqlstore.Options{Outbox: godwittest.NewOutbox()})
			require.NoError(t, err)
			t.Cleanup(func() { _ = db.Close() })
			team, _ := storetest.SearchFixture(t, db)
			terms := func() []string {
				rows, err := db.Writer().QueryContext(ctx, `SELECT team_id || ' ' || term || ' ' || CAST(email_seq AS TEXT)
					FROM email_search_terms ORDER BY team_id, term, email_seq`)
				require.NoError(t, err)
				defer rows.Close()
				var out []string
				for rows.Next() {
					var s string
					require.NoError(t, rows.Scan(&s))
					out = append(out, s)
				}
				require.NoError(t, rows.Err())
				return out
			}
			written := terms()
			require.Len(t, written, 16, "7 emails: 9 distinct recipients' rows and 7 tags' rows")

			require.NoError(t, db.MigrateDownTo(ctx, 23))
			require.NoError(t, db.Migrate(ctx))
			require.Equal(t, written, terms(), "the backfill writes what accept wrote")
			got, _, err := db.SearchEmails(ctx, team, store.EmailFilter{Recipient: "ALICE@example.com"}, store.Page{})
			require.NoError(t, err)
			require.Len(t, got, 4)
		})
	}
}
