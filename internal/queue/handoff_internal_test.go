package queue

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
	"github.com/stretchr/testify/require"

	"github.com/godwit/godwit/internal/delivery"
	"github.com/godwit/godwit/internal/godwittest"
	"github.com/godwit/godwit/internal/store"
	"github.com/godwit/godwit/internal/store/sqlstore"
)

var t0 = time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)

func handed(id string, bodyLen int) *store.Email {
	html := strings.Repeat("x", bodyLen)
	return &store.Email{ID: id, TeamID: "t", From: "a@example.com", To: []string{"b@example.net"}, Subject: "s", HTML: &html}
}

// The handoff gives each email once, keeps emails at least handoffMaxAge
// and at most twice that, and keeps no more than handoffMaxBytes.
func TestHandoffKeepsWithinBounds(t *testing.T) {
	clock := godwittest.NewClock(t0)
	h := newHandoff(clock.Now)
	h.put([]*store.Email{handed("a", 10), handed("b", 10)})
	got, rest := h.take([]string{"a", "c"})
	require.Len(t, got, 1)
	require.Equal(t, "a", got[0].ID)
	require.Equal(t, []string{"c"}, rest)
	got, rest = h.take([]string{"a"})
	require.Empty(t, got, "taken once")
	require.Equal(t, []string{"a"}, rest)

	clock.Advance(handoffMaxAge) // b moves to the older generation
	h.put([]*store.Email{handed("d", 10)})
	clock.Advance(handoffMaxAge - time.Millisecond)
	got, _ = h.take([]string{"b"})
	require.Len(t, got, 1, "kept for handoffMaxAge at least")
	clock.Advance(time.Millisecond)
	h.put(nil)
	require.Contains(t, h.prev, "d", "d, kept for handoffMaxAge, is kept on")
	clock.Advance(handoffMaxAge)
	h.put(nil)
	require.Empty(t, h.prev, "d is dropped at twice handoffMaxAge")
	require.Empty(t, h.cur)
	require.Zero(t, h.bytes, "nothing kept")
	h.put([]*store.Email{handed("e", 10)})
	clock.Advance(3 * handoffMaxAge) // idle: the next put or take drops all
	got, _ = h.take([]string{"e"})
	require.Empty(t, got)
	require.Zero(t, h.bytes)

	// The budget: emails past it are not kept; taking makes room.
	big := handoffMaxBytes / 4
	h.put([]*store.Email{handed("1", big), handed("2", big), handed("3", big), handed("4", big), handed("5", big)})
	require.Len(t, h.cur, 3, "the fourth did not fit (each counts a little more than its body)")
	require.LessOrEqual(t, h.bytes, handoffMaxBytes)
	h.take([]string{"1"})
	h.put([]*store.Email{handed("6", big)})
	got, _ = h.take([]string{"2", "3", "6"})
	require.Len(t, got, 3)
	require.Zero(t, h.bytes)
}

// readCounter counts the emails the delivery worker reads from the store.
type readCounter struct {
	delivery.Store
	ids []string
}

func (r *readCounter) GetEmailsForDelivery(ctx context.Context, ids []string) ([]*store.Email, error) {
	r.ids = append(r.ids, ids...)
	return r.Store.GetEmailsForDelivery(ctx, ids)
}

// acceptThree accepts three emails to the test recipient, together, on a
// new SQLite store.
func acceptThree(t *testing.T) (db *sqlstore.DB, team *store.Team, ems []*store.Email, ids []string) {
	t.Helper()
	db = godwittest.NewStore(t, sqlstore.SQLite, nil)
	team = &store.Team{ID: uuid.NewString(), Name: "t", CreatedAt: t0}
	require.NoError(t, db.CreateTeam(context.Background(), team))
	for range 3 {
		text := "hi"
		e := &store.Email{ID: uuid.NewString(), TeamID: team.ID, From: "onboarding@resend.dev", To: []string{"delivered@resend.dev"},
			Subject: "s", Text: &text, LastEvent: store.EventQueued, CreatedAt: t0}
		ems, ids = append(ems, e), append(ids, e.ID)
	}
	require.NoError(t, db.AcceptEmails(context.Background(), &store.Accept{Emails: ems}))
	return db, team, ems, ids
}

// Only the first run of a job made at accept takes its emails from the
// handoff: a later run of it (after an error or a crash, when some of them
// may have been attempted), a retry's job and a scheduled job read the
// store, and leave what the handoff holds.
func TestOnlyAFirstRunOfAnAcceptJobTakes(t *testing.T) {
	ctx := context.Background()
	db, _, ems, ids := acceptThree(t)
	reads := &readCounter{Store: db}
	q := &Queue{handoff: newHandoff(time.Now), log: slog.New(slog.DiscardHandler)}
	dw := &deliverWorker{w: &delivery.Worker{Store: reads, TestDomain: "resend.dev"}, q: q}
	at := t0
	for _, c := range []struct {
		name string
		args DeliverArgs
		run  int
		at   *time.Time
	}{
		{"a later run", DeliverArgs{EmailIDs: ids, Accepted: true}, 2, nil},
		{"a retry's job", DeliverArgs{EmailIDs: ids}, 1, nil},
		{"a scheduled job", DeliverArgs{EmailIDs: ids, At: at.UnixMicro()}, 1, &at},
	} {
		q.handoff.put(ems)
		reads.ids = nil
		job := &river.Job[DeliverArgs]{JobRow: &rivertype.JobRow{ID: 1, Attempt: c.run}, Args: c.args}
		dw.readTogether(ctx, job, c.at, ids)
		if c.at == nil {
			require.ElementsMatch(t, ids, reads.ids, "%s reads its emails", c.name)
		}
		got, _ := q.handoff.take(ids)
		require.Len(t, got, len(ids), "%s leaves the handoff as it was", c.name)
	}

	// The first run of an accept's job takes them, and reads none.
	q.handoff.put(ems[:2])
	reads.ids = nil
	job := &river.Job[DeliverArgs]{JobRow: &rivertype.JobRow{ID: 1, Attempt: 1}, Args: DeliverArgs{EmailIDs: ids, Accepted: true}}
	b := dw.readTogether(ctx, job, nil, ids)
	require.NotNil(t, b)
	require.Equal(t, []string{ids[2]}, reads.ids, "only the email the handoff did not have is read")
	got, _ := q.handoff.take(ids)
	require.Empty(t, got, "taken")
}

// failingBatchRead fails every read of several emails together.
type failingBatchRead struct{ delivery.Store }

func (failingBatchRead) GetEmailsForDelivery(context.Context, []string) ([]*store.Email, error) {
	return nil, errors.New("injected: batch read failed")
}

// When reading a job's emails together fails, the job says so (WARN) and
// each delivery reads its own email: the emails are delivered all the same.
func TestJobReadsEachEmailWhenTheBatchReadFails(t *testing.T) {
	ctx := context.Background()
	db, team, ems, ids := acceptThree(t)
	var logs strings.Builder
	q := &Queue{handoff: newHandoff(time.Now), log: slog.New(slog.NewTextHandler(&logs, nil)), slots: make(chan struct{}, 10)}
	dw := &deliverWorker{w: &delivery.Worker{Store: failingBatchRead{db}, TestDomain: "resend.dev"}, q: q}
	q.handoff.put(ems[:1]) // one from the handoff, two to read: the read fails
	job := &river.Job[DeliverArgs]{JobRow: &rivertype.JobRow{ID: 7, Attempt: 1}, Args: DeliverArgs{EmailIDs: ids, Accepted: true}}
	require.NoError(t, dw.Work(ctx, job))
	require.Contains(t, logs.String(), "reading its emails together failed")
	for _, id := range ids {
		got, err := db.GetEmail(ctx, team.ID, id)
		require.NoError(t, err)
		require.Equal(t, store.EventDelivered, got.LastEvent, "email %s", id)
	}
}
