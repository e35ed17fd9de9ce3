package queue

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/godwit/godwit/internal/delivery"
	"github.com/godwit/godwit/internal/godwittest"
	"github.com/godwit/godwit/internal/store"
	"github.com/godwit/godwit/internal/store/sqlstore"
)

// TestQuietLoggerDemotesInfo: River's INFO lines are DEBUG in Godwit's
// log; its warnings and errors are kept.
func TestQuietLoggerDemotesInfo(t *testing.T) {
	t.Parallel()
	for _, level := range []slog.Level{slog.LevelDebug, slog.LevelInfo} {
		buf := &godwittest.LogBuffer{}
		log := quietLogger(slog.New(slog.NewJSONHandler(buf, &slog.HandlerOptions{Level: level})))
		log.Info("River client started", "client_id", "x")
		log.With("component", "producer").Warn("river trouble")
		log.Error("river failure")
		started := buf.Records(t, "River client started")
		if level == slog.LevelInfo {
			require.Empty(t, started, "an INFO line of River's at --log-level info")
		} else {
			require.Len(t, started, 1)
			require.Equal(t, "DEBUG", started[0]["level"])
		}
		warn := buf.Records(t, "river trouble")
		require.Len(t, warn, 1)
		require.Equal(t, "WARN", warn[0]["level"])
		require.Equal(t, "producer", warn[0]["component"])
		require.Len(t, buf.Records(t, "river failure"), 1)
	}
}

// TestStats: on both databases, the jobs waiting in each queue and how
// long the oldest has been due, as the metrics read them at scrape time.
func TestStats(t *testing.T) {
	for _, kind := range godwittest.Kinds {
		t.Run(string(kind), func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			dsn := godwittest.StoreURL(t, kind)
			out := NewOutbox()
			db, err := sqlstore.Open(ctx, dsn, sqlstore.Options{Outbox: out})
			require.NoError(t, err)
			t.Cleanup(func() { _ = db.Close() })
			// An insert-only queue (an API node): its jobs stay available.
			q, err := Open(ctx, db, &delivery.Worker{Store: db}, Config{Outbox: out, PostgresDSN: dsn})
			require.NoError(t, err)
			t.Cleanup(func() { _ = q.Stop(context.Background()) })

			s, err := q.Stats(ctx)
			require.NoError(t, err)
			require.Equal(t, 0, s.Jobs["deliver"]["available"])
			require.Equal(t, time.Duration(0), s.OldestDue["deliver"])
			require.Len(t, s.OldestDue, 4)

			team := &store.Team{ID: uuid.NewString(), Name: "t", CreatedAt: time.Now()}
			require.NoError(t, db.CreateTeam(ctx, team))
			text := "hi"
			for range 2 { // two commits: two jobs
				require.NoError(t, db.AcceptEmails(ctx, &store.Accept{Emails: []*store.Email{{ID: uuid.NewString(), TeamID: team.ID,
					From: "onboarding@resend.dev", To: []string{"delivered@resend.dev"}, Subject: "s", Text: &text,
					CreatedAt: time.Now(), LastEvent: store.EventQueued}}}))
			}
			s, err = q.Stats(ctx)
			require.NoError(t, err)
			require.Equal(t, 2, s.Jobs["deliver"]["available"])
			require.Equal(t, 0, s.Jobs["deliver"]["running"])
			require.GreaterOrEqual(t, s.OldestDue["deliver"], time.Duration(0))
			require.Less(t, s.OldestDue["deliver"], time.Minute)
		})
	}
}
