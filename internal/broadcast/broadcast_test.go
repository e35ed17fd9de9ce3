package broadcast_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/godwit/godwit/internal/accept"
	"github.com/godwit/godwit/internal/broadcast"
	"github.com/godwit/godwit/internal/godwittest"
	"github.com/godwit/godwit/internal/metrics"
	"github.com/godwit/godwit/internal/store"
	"github.com/godwit/godwit/internal/store/sqlstore"
)

var t0 = time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)

func setup(t *testing.T, kind sqlstore.Dialect, n int) (*sqlstore.DB, *store.Broadcast, []string) {
	t.Helper()
	ctx := context.Background()
	db, err := sqlstore.Open(ctx, godwittest.StoreURL(t, kind), sqlstore.Options{Now: func() time.Time { return t0 }, Outbox: godwittest.NewOutbox()})
	require.NoError(t, err)
	t.Cleanup(func() { _ = db.Close() })
	team := &store.Team{ID: uuid.NewString(), Name: "t", CreatedAt: t0}
	require.NoError(t, db.CreateTeam(ctx, team))
	seg := &store.Segment{ID: uuid.NewString(), TeamID: team.ID, Name: "s", CreatedAt: t0}
	require.NoError(t, db.CreateSegment(ctx, seg))
	var addrs []string
	for i := range n {
		addr := fmt.Sprintf("delivered+%d@resend.dev", i)
		addrs = append(addrs, addr)
		require.NoError(t, db.CreateContact(ctx, &store.Contact{ID: uuid.NewString(), TeamID: team.ID, Email: addr,
			SegmentIDs: []string{seg.ID}, CreatedAt: t0, UpdatedAt: t0}))
	}
	text := "Hello {{{EMAIL}}}"
	b := &store.Broadcast{ID: uuid.NewString(), TeamID: team.ID, SegmentID: seg.ID, From: "onboarding@resend.dev",
		Subject: "s", Text: &text, Status: store.BroadcastDraft, CreatedAt: t0, UpdatedAt: t0}
	require.NoError(t, db.CreateBroadcast(ctx, b))
	require.NoError(t, db.SendBroadcast(ctx, team.ID, b.ID, nil, t0))
	sort.Strings(addrs)
	return db, b, addrs
}

func recipients(t *testing.T, db *sqlstore.DB, teamID string) []string {
	t.Helper()
	list, _, err := db.ListEmails(context.Background(), teamID, store.Page{Limit: 100})
	require.NoError(t, err)
	var out []string
	for _, e := range list {
		out = append(out, e.To[0])
	}
	sort.Strings(out)
	return out
}

// TestResumeAfterCrash: a send that fails after a committed chunk (a crash)
// and runs again resumes after it: every contact gets exactly one email.
func TestResumeAfterCrash(t *testing.T) {
	for _, kind := range godwittest.Kinds {
		t.Run(string(kind), func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			db, b, addrs := setup(t, kind, 7)
			crash := errors.New("crash")
			chunks := 0
			s := &broadcast.Sender{Store: db, TestDomain: "resend.dev", ChunkSize: 3, AfterChunk: func(int64) error {
				chunks++
				if chunks == 2 {
					return crash
				}
				return nil
			}}
			require.ErrorIs(t, s.Send(ctx, b.TeamID, b.ID), crash)
			require.Len(t, recipients(t, db, b.TeamID), 6)
			got, err := db.GetBroadcast(ctx, b.TeamID, b.ID)
			require.NoError(t, err)
			require.Equal(t, store.BroadcastSending, got.Status)

			require.NoError(t, s.Send(ctx, b.TeamID, b.ID))
			require.Equal(t, addrs, recipients(t, db, b.TeamID))
			got, err = db.GetBroadcast(ctx, b.TeamID, b.ID)
			require.NoError(t, err)
			require.Equal(t, store.BroadcastSent, got.Status)

			require.NoError(t, s.Send(ctx, b.TeamID, b.ID), "a sent broadcast's job is done")
			require.Equal(t, addrs, recipients(t, db, b.TeamID))
		})
	}
}

// TestConcurrentRuns: two runs of the same job at once (a job rescued while
// its first run still works) still send each contact once.
func TestConcurrentRuns(t *testing.T) {
	for _, kind := range godwittest.Kinds {
		t.Run(string(kind), func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			db, b, addrs := setup(t, kind, 25)
			var wg sync.WaitGroup
			errs := make([]error, 2)
			for i := range 2 {
				s := &broadcast.Sender{Store: db, TestDomain: "resend.dev", ChunkSize: 4}
				wg.Go(func() { errs[i] = s.Send(ctx, b.TeamID, b.ID) })
			}
			wg.Wait()
			require.NoError(t, errors.Join(errs...))
			require.Equal(t, addrs, recipients(t, db, b.TeamID))
		})
	}
}

// TestCanceledBroadcastSendsNothing: a job that runs after a cancel ends.
func TestCanceledBroadcastSendsNothing(t *testing.T) {
	ctx := context.Background()
	db, b, _ := setup(t, sqlstore.SQLite, 3)
	require.NoError(t, db.CancelBroadcast(ctx, b.TeamID, b.ID, t0))
	s := &broadcast.Sender{Store: db}
	require.NoError(t, s.Send(ctx, b.TeamID, b.ID))
	require.Empty(t, recipients(t, db, b.TeamID))
}

// TestBroadcastEmailsCountedAndLogged: a broadcast's emails are counted
// as accepted from source broadcast, and each has its INFO line.
func TestBroadcastEmailsCountedAndLogged(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db, b, _ := setup(t, sqlstore.SQLite, 5)
	m := metrics.New(prometheus.NewRegistry())
	logs := &godwittest.LogBuffer{}
	log := slog.New(slog.NewJSONHandler(logs, nil))
	s := &broadcast.Sender{Store: db, TestDomain: "resend.dev", ChunkSize: 2, Logger: log,
		Accept: accept.New(accept.Config{Store: db, Logger: log, TestDomain: "resend.dev", Metrics: m})}
	require.NoError(t, s.Send(ctx, b.TeamID, b.ID))
	reg := m.Registry()
	fams, err := reg.Gather()
	require.NoError(t, err)
	var counted float64
	for _, f := range fams {
		if f.GetName() != "godwit_emails_accepted_total" {
			continue
		}
		for _, s := range f.GetMetric() {
			if s.GetLabel()[0].GetValue() == accept.SourceBroadcast {
				counted = s.GetCounter().GetValue()
			}
		}
	}
	require.Equal(t, 5.0, counted)
	recs := logs.Records(t, "email accepted")
	require.Len(t, recs, 5)
	for _, r := range recs {
		require.Equal(t, "broadcast", r["source"])
	}
}
