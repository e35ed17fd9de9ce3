package app

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/godwit/godwit/internal/godwittest"
	"github.com/godwit/godwit/internal/store"
	"github.com/godwit/godwit/internal/store/sqlstore"
)

func TestQueueCommand(t *testing.T) {
	t.Parallel()
	for _, kind := range godwittest.Kinds {
		t.Run(string(kind), func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			url := godwittest.StoreURL(t, kind)
			db, err := sqlstore.Open(ctx, url, sqlstore.Options{Outbox: godwittest.NewOutbox()})
			require.NoError(t, err)
			t.Cleanup(func() { _ = db.Close() })
			t0 := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
			var teams []*store.Team
			for _, name := range []string{"acme", "other"} {
				tm := &store.Team{ID: uuid.NewString(), Name: name, CreatedAt: t0}
				require.NoError(t, db.CreateTeam(ctx, tm))
				teams = append(teams, tm)
			}
			email := func(team, to string) *store.Email {
				return &store.Email{ID: store.NewID(), TeamID: team, From: "a@example.com", To: []string{to}, Subject: "s",
					LastEvent: store.EventQueued, CreatedAt: t0}
			}
			queued, deferred, theirs := email(teams[0].ID, "q@example.net"), email(teams[0].ID, "d@example.net"), email(teams[1].ID, "t@example.net")
			require.NoError(t, db.AcceptEmails(ctx, &store.Accept{Emails: []*store.Email{queued, deferred}}))
			require.NoError(t, db.AcceptEmails(ctx, &store.Accept{Emails: []*store.Email{theirs}}))
			retry := t0.Add(time.Hour)
			require.NoError(t, db.RecordDelivery(ctx, &store.DeliveryOutcome{EmailID: deferred.ID, TeamID: teams[0].ID,
				LastEvent: store.EventDeliveryDelayed, RetryAt: &retry,
				Attempts: []*store.DeliveryAttempt{{Recipient: "d@example.net", Outcome: store.OutcomeDeferred, Host: "mx.example.net",
					Code: 421, Response: "busy\r\n\x1b[31mnow", CreatedAt: t0}}}))

			run := func(args ...string) (string, string, int) {
				var out, errb bytes.Buffer
				code := Main(ctx, append([]string{"queue", "--database-url", url}, args...), &out, &errb, func(string) string { return "" })
				return out.String(), errb.String(), code
			}
			for _, tc := range []struct {
				name  string
				args  []string
				code  int
				check func(t *testing.T, out, errOut string)
			}{
				{name: "table of every team", check: func(t *testing.T, out, _ string) {
					lines := strings.Split(strings.TrimSpace(out), "\n")
					require.Len(t, lines, 4, out)
					require.Contains(t, lines[0], "NEXT ATTEMPT")
					require.Contains(t, lines[1], queued.ID)
					require.Contains(t, lines[1], "waiting for a worker")
					require.Contains(t, lines[2], deferred.ID)
					require.Contains(t, lines[2], "deferred: mx.example.net: 421 busy   [31mnow (for d@example.net)", "control characters are blanked")
					require.Contains(t, lines[2], "2026-11-28T13:00:00Z")
					require.Contains(t, lines[3], theirs.ID)
				}},
				{name: "one team", args: []string{"--team", "other"}, check: func(t *testing.T, out, _ string) {
					require.Contains(t, out, theirs.ID)
					require.NotContains(t, out, queued.ID)
				}},
				{name: "json page", args: []string{"--json", "--limit", "1", "--team", "acme"}, check: func(t *testing.T, out, _ string) {
					var got struct {
						Data    []queueEntry `json:"data"`
						HasMore bool         `json:"has_more"`
					}
					require.NoError(t, json.Unmarshal([]byte(out), &got), out)
					require.True(t, got.HasMore)
					require.Len(t, got.Data, 1)
					require.Equal(t, queued.ID, got.Data[0].ID)
					require.Equal(t, "queued", got.Data[0].Status)
					require.Equal(t, []string{"q@example.net"}, got.Data[0].To)
				}},
				{name: "after", args: []string{"--json", "--after", deferred.ID}, check: func(t *testing.T, out, _ string) {
					require.Contains(t, out, theirs.ID)
					require.NotContains(t, out, queued.ID)
				}},
				{name: "empty", args: []string{"--after", theirs.ID}, check: func(t *testing.T, out, _ string) {
					require.Contains(t, out, "nothing is waiting")
				}},
				{name: "unknown team", args: []string{"--team", "nope"}, code: 1, check: func(t *testing.T, _, errOut string) {
					require.Contains(t, errOut, `no team "nope"`)
				}},
				{name: "unknown cursor", args: []string{"--after", uuid.NewString()}, code: 1, check: func(t *testing.T, _, errOut string) {
					require.Contains(t, errOut, "--after")
				}},
				{name: "bad limit", args: []string{"--limit", "0"}, code: 1},
				{name: "one status", args: []string{"--status", "delivery_delayed"}, check: func(t *testing.T, out, _ string) {
					require.Contains(t, out, deferred.ID)
					require.NotContains(t, out, queued.ID)
				}},
				{name: "bad status", args: []string{"--status", "delivered"}, code: 1},
			} {
				t.Run(tc.name, func(t *testing.T) {
					out, errOut, code := run(tc.args...)
					require.Equal(t, tc.code, code, "stdout: %s\nstderr: %s", out, errOut)
					if tc.check != nil {
						tc.check(t, out, errOut)
					}
				})
			}
		})
	}
}

// TestMigrateCommand: migrate says what it applied, then that the database
// is up to date; --status lists every migration, applied or pending; backup
// refuses PostgreSQL with where to look instead. Both databases.
func TestMigrateCommand(t *testing.T) {
	t.Parallel()
	for _, kind := range godwittest.Kinds {
		t.Run(string(kind), func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			url := godwittest.StoreURL(t, kind)
			run := func(args ...string) (string, string, int) {
				var out, errb bytes.Buffer
				code := Main(ctx, append(args, "--database-url", url), &out, &errb, func(string) string { return "" })
				return out.String(), errb.String(), code
			}
			out, errOut, code := run("migrate", "--status")
			if kind == sqlstore.SQLite {
				require.Equal(t, 1, code)
				require.Contains(t, errOut, "no database at", "--status makes no database")
			} else {
				require.Zero(t, code, errOut)
				require.Regexp(t, `(?m)^00001_foundation\s+pending\s+-$`, out, "an empty schema: every migration pending")
				require.Regexp(t, `0 applied, \d+ pending`, out)
			}
			out, errOut, code = run("migrate")
			require.Zero(t, code, errOut)
			require.Regexp(t, `^applied 00001…\d{5} \(`+string(kind)+`\)\n$`, out)
			out, errOut, code = run("migrate")
			require.Zero(t, code, errOut)
			require.Regexp(t, `^the database is up to date at \d{5} \(`+string(kind)+`\)\n$`, out)

			out, errOut, code = run("migrate", "--status")
			require.Zero(t, code, errOut)
			require.Regexp(t, `(?m)^00001_foundation\s+applied\s+\d{4}-\d\d-\d\dT`, out)
			require.NotRegexp(t, `pending\s+-`, out)
			require.Regexp(t, `\d+ applied, none pending: the database \(`+string(kind)+`\) is up to date at \d{5}\n$`, out)

			if kind == sqlstore.Postgres {
				_, errOut, code = run("backup", "--to", t.TempDir()+"/b.db")
				require.Equal(t, 1, code)
				require.Contains(t, errOut, "pg_dump")
			}
		})
	}
}
