package contactimport_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/godwit/godwit/internal/contactimport"
	"github.com/godwit/godwit/internal/godwittest"
	"github.com/godwit/godwit/internal/store"
	"github.com/godwit/godwit/internal/store/sqlstore"
)

var t0 = time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)

type env struct {
	t     *testing.T
	db    *sqlstore.DB
	clock *godwittest.Clock
	team  string
	seg   string
	topic string
}

func setup(t *testing.T, kind sqlstore.Dialect) *env {
	t.Helper()
	clock := godwittest.NewClock(t0)
	db := godwittest.NewStore(t, kind, clock)
	ctx := context.Background()
	e := &env{t: t, db: db, clock: clock, team: uuid.NewString(), seg: uuid.NewString(), topic: uuid.NewString()}
	require.NoError(t, db.CreateTeam(ctx, &store.Team{ID: e.team, Name: "t", CreatedAt: t0}))
	require.NoError(t, db.CreateSegment(ctx, &store.Segment{ID: e.seg, TeamID: e.team, Name: "imported", CreatedAt: t0}))
	require.NoError(t, db.CreateTopic(ctx, &store.Topic{ID: e.topic, TeamID: e.team, Name: "news",
		DefaultSubscription: store.SubscriptionOptOut, Visibility: store.TopicPrivate, CreatedAt: t0, UpdatedAt: t0}))
	return e
}

func (e *env) importer() *contactimport.Importer {
	return &contactimport.Importer{Store: e.db, Now: e.clock.Now}
}

func (e *env) get(id string) *store.ContactImport {
	e.t.Helper()
	ci, err := e.db.GetContactImport(context.Background(), e.team, id)
	require.NoError(e.t, err)
	return ci
}

// emails lists the team's contacts' addresses, sorted.
func (e *env) emails() []string {
	e.t.Helper()
	var out []string
	p := store.Page{Limit: 100}
	for {
		list, more, err := e.db.ListContacts(context.Background(), e.team, "", p)
		require.NoError(e.t, err)
		for _, c := range list {
			out = append(out, c.Email)
		}
		if !more {
			break
		}
		p.After = list[len(list)-1].ID
	}
	sort.Strings(out)
	return out
}

func csvOf(n int) (string, []string) {
	var b strings.Builder
	b.WriteString("email,first_name\n")
	var addrs []string
	for i := range n {
		addr := fmt.Sprintf("c%02d@example.net", i)
		addrs = append(addrs, addr)
		fmt.Fprintf(&b, "%s,N%d\n", addr, i)
	}
	return b.String(), addrs
}

// TestImport: Create stores the import queued and nothing else; Run moves
// it to in_progress, writes its contacts batch by batch with the counts
// growing, and completes it; a second run changes nothing.
func TestImport(t *testing.T) {
	t.Parallel()
	for _, kind := range godwittest.Kinds {
		t.Run(string(kind), func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			e := setup(t, kind)
			require.NoError(t, e.db.CreateContact(ctx, &store.Contact{ID: uuid.NewString(), TeamID: e.team, Email: "Old@example.net",
				Properties: map[string]any{"plan": "free", "keep": "yes"}, CreatedAt: t0, UpdatedAt: t0}))
			csv := "Email,First Name,plan,seats\n" +
				"new@example.net,Ann,pro,3\n" +
				"old@example.net,Olga,gold,\n" +
				"not-an-address,X,,\n" +
				"\n" +
				"NEW@example.net,Annie,,\n" +
				"n@example.net,,,many\n" +
				"later@example.net,,,\n"
			require.NoError(t, e.db.CreateContactProperty(ctx, &store.ContactProperty{ID: uuid.NewString(), TeamID: e.team,
				Key: "seats", Type: store.PropertyNumber, CreatedAt: t0}))
			im := e.importer()
			logs := &godwittest.LogBuffer{}
			im.Logger = slog.New(slog.NewJSONHandler(logs, nil))
			ci, err := im.Create(ctx, contactimport.Request{TeamID: e.team, CSV: []byte(csv), OnConflict: "upsert",
				Segments: []string{e.seg}, Topics: []store.TopicSubscription{{TopicID: e.topic, Subscription: store.SubscriptionOptIn}}})
			require.NoError(t, err)
			got := e.get(ci.ID)
			require.Equal(t, store.ImportQueued, got.Status)
			require.Nil(t, got.CompletedAt)
			require.Equal(t, []string{"Old@example.net"}, e.emails(), "nothing imported before the job runs")

			var seen []store.ContactImport
			im.BatchSize = 3
			im.AfterBatch = func(int) error {
				seen = append(seen, *e.get(ci.ID))
				e.clock.Advance(time.Second)
				return nil
			}
			require.NoError(t, im.Run(ctx, e.team, ci.ID))
			require.Len(t, seen, 3)
			require.Equal(t, store.ImportInProgress, seen[0].Status)
			require.Equal(t, 3, seen[0].RowOffset)
			require.Equal(t, store.ContactImportCounts{Total: 3, Created: 1, Updated: 1, Failed: 1}, seen[0].Counts)
			require.Equal(t, store.ImportInProgress, seen[1].Status)
			require.Equal(t, store.ImportCompleted, seen[2].Status)

			got = e.get(ci.ID)
			done := t0.Add(2 * time.Second)
			require.Equal(t, store.ImportCompleted, got.Status)
			require.Equal(t, &done, got.CompletedAt)
			require.Equal(t, store.ContactImportCounts{Total: 6, Created: 2, Updated: 2, Failed: 2}, got.Counts,
				"a blank line is no row; a number property that is not one fails its row")
			require.Equal(t, []string{"Old@example.net", "later@example.net", "new@example.net"}, e.emails())
			for msg, attr := range map[string]string{"contact import queued": "bytes", "contact import started": "row_offset",
				"contact import completed": "rows"} {
				recs := logs.Records(t, msg)
				require.Len(t, recs, 1, msg)
				require.Equal(t, "INFO", recs[0]["level"], msg)
				require.Equal(t, ci.ID, recs[0]["import_id"], msg)
				require.Contains(t, recs[0], attr, msg)
			}
			require.EqualValues(t, 6, logs.Records(t, "contact import completed")[0]["rows"], "the CSV records read (a blank line is none)")
			c, err := e.db.GetContact(ctx, e.team, "new@example.net")
			require.NoError(t, err)
			require.Equal(t, "Annie", *c.FirstName, "a second row of an address updates the contact")
			require.Equal(t, map[string]any{"plan": "pro", "seats": 3.0}, c.Properties)
			require.Equal(t, []string{e.seg}, c.SegmentIDs)
			c, err = e.db.GetContact(ctx, e.team, "old@example.net")
			require.NoError(t, err)
			require.Equal(t, "Olga", *c.FirstName)
			require.Equal(t, map[string]any{"plan": "gold", "keep": "yes"}, c.Properties, "properties are merged")
			require.Equal(t, []string{e.seg}, c.SegmentIDs)
			topics, _, err := e.db.ListContactTopics(ctx, e.team, c.ID, store.Page{})
			require.NoError(t, err)
			require.Equal(t, store.SubscriptionOptIn, topics[0].Subscription)
			_, err = e.db.GetContactImportSource(ctx, e.team, ci.ID)
			require.ErrorIs(t, err, store.ErrNotFound, "the source goes when the import ends")

			require.NoError(t, e.importer().Run(ctx, e.team, ci.ID), "a completed import's job is done")
			require.Equal(t, got, e.get(ci.ID))
			require.NoError(t, e.importer().Run(ctx, e.team, uuid.NewString()), "so is a missing one's")
		})
	}
}

// TestSkip: without on_conflict upsert an existing contact, or a second
// row of an address, is skipped and unchanged.
func TestSkip(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := setup(t, sqlstore.SQLite)
	require.NoError(t, e.db.CreateContact(ctx, &store.Contact{ID: uuid.NewString(), TeamID: e.team, Email: "old@example.net",
		CreatedAt: t0, UpdatedAt: t0}))
	ci, err := e.importer().Create(ctx, contactimport.Request{TeamID: e.team,
		CSV: []byte("email,first_name\nold@example.net,Olga\nnew@example.net,Ann\nnew@example.net,Annie\n")})
	require.NoError(t, err)
	require.NoError(t, e.importer().Run(ctx, e.team, ci.ID))
	require.Equal(t, store.ContactImportCounts{Total: 3, Created: 1, Skipped: 2}, e.get(ci.ID).Counts)
	c, err := e.db.GetContact(ctx, e.team, "old@example.net")
	require.NoError(t, err)
	require.Nil(t, c.FirstName)
	c, err = e.db.GetContact(ctx, e.team, "new@example.net")
	require.NoError(t, err)
	require.Equal(t, "Ann", *c.FirstName)
}

// TestResumeAfterCrash: a run that stops after some committed batches (a
// crash) leaves the import in_progress with their rows counted; the job
// run again continues after them, and every row is imported once.
func TestResumeAfterCrash(t *testing.T) {
	t.Parallel()
	for _, kind := range godwittest.Kinds {
		t.Run(string(kind), func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			e := setup(t, kind)
			csv, addrs := csvOf(10)
			im := e.importer()
			ci, err := im.Create(ctx, contactimport.Request{TeamID: e.team, CSV: []byte(csv), Segments: []string{e.seg}})
			require.NoError(t, err)
			crash := errors.New("crash")
			batches := 0
			im.BatchSize = 3
			im.AfterBatch = func(int) error {
				if batches++; batches == 2 {
					return crash
				}
				return nil
			}
			require.ErrorIs(t, im.Run(ctx, e.team, ci.ID), crash)
			got := e.get(ci.ID)
			require.Equal(t, store.ImportInProgress, got.Status)
			require.Equal(t, 6, got.RowOffset)
			require.Equal(t, store.ContactImportCounts{Total: 6, Created: 6}, got.Counts)
			require.Equal(t, addrs[:6], e.emails())

			rerun := e.importer()
			rerun.BatchSize = 4
			require.NoError(t, rerun.Run(ctx, e.team, ci.ID))
			got = e.get(ci.ID)
			require.Equal(t, store.ImportCompleted, got.Status)
			require.Equal(t, 10, got.RowOffset)
			require.Equal(t, store.ContactImportCounts{Total: 10, Created: 10}, got.Counts, "no row twice")
			require.Equal(t, addrs, e.emails())
			members, _, err := e.db.ListContacts(ctx, e.team, e.seg, store.Page{Limit: 100})
			require.NoError(t, err)
			require.Len(t, members, 10)
		})
	}
}

// TestConcurrentRuns: two runs of one job at once (a job rescued while its
// first run still works) import every row once between them.
func TestConcurrentRuns(t *testing.T) {
	t.Parallel()
	for _, kind := range godwittest.Kinds {
		t.Run(string(kind), func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			e := setup(t, kind)
			csv, addrs := csvOf(40)
			ci, err := e.importer().Create(ctx, contactimport.Request{TeamID: e.team, CSV: []byte(csv), OnConflict: "upsert"})
			require.NoError(t, err)
			var wg sync.WaitGroup
			errs := make([]error, 2)
			for i := range 2 {
				im := e.importer()
				im.BatchSize = 3
				wg.Go(func() { errs[i] = im.Run(ctx, e.team, ci.ID) })
			}
			wg.Wait()
			require.NoError(t, errors.Join(errs...))
			got := e.get(ci.ID)
			require.Equal(t, store.ImportCompleted, got.Status)
			require.Equal(t, store.ContactImportCounts{Total: 40, Created: 40}, got.Counts)
			require.Equal(t, addrs, e.emails())
		})
	}
}

// TestFailed: an import whose segment is deleted before its job runs
// fails, with its reason, after the batches committed before; Run
// reports no error (the job is done).
func TestFailed(t *testing.T) {
	t.Parallel()
	for _, kind := range godwittest.Kinds {
		t.Run(string(kind), func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			e := setup(t, kind)
			csv, addrs := csvOf(5)
			im := e.importer()
			ci, err := im.Create(ctx, contactimport.Request{TeamID: e.team, CSV: []byte(csv), Segments: []string{e.seg}})
			require.NoError(t, err)
			im.BatchSize = 2
			im.AfterBatch = func(int) error { return e.db.DeleteSegment(ctx, e.team, e.seg) }
			require.NoError(t, im.Run(ctx, e.team, ci.ID))
			got := e.get(ci.ID)
			require.Equal(t, store.ImportFailed, got.Status)
			require.Equal(t, "a segment or topic of the import was deleted", got.Reason)
			require.NotNil(t, got.CompletedAt)
			require.Equal(t, store.ContactImportCounts{Total: 2, Created: 2}, got.Counts, "the batch committed before stays")
			require.Equal(t, addrs[:2], e.emails())
			_, err = e.db.GetContactImportSource(ctx, e.team, ci.ID)
			require.ErrorIs(t, err, store.ErrNotFound)
			require.NoError(t, e.importer().Run(ctx, e.team, ci.ID), "a failed import's job is done")
			require.Equal(t, got, e.get(ci.ID))

			// The queue's last word on a job it gives up on.
			ci, err = e.importer().Create(ctx, contactimport.Request{TeamID: e.team, CSV: []byte(csv)})
			require.NoError(t, err)
			require.NoError(t, e.importer().Fail(ctx, e.team, ci.ID, "internal error"))
			require.Equal(t, store.ImportFailed, e.get(ci.ID).Status)
			require.NoError(t, e.importer().Fail(ctx, e.team, ci.ID, "again"), "an ended import stays as it is")
			require.Equal(t, "internal error", e.get(ci.ID).Reason)
		})
	}
}

// TestCreateRefuses: a request the importer refuses is a typed error and
// stores nothing.
func TestCreateRefuses(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := setup(t, sqlstore.SQLite)
	for name, c := range map[string]struct {
		req  contactimport.Request
		code contactimport.Code
	}{
		"too large":     {contactimport.Request{CSV: make([]byte, contactimport.MaxBytes+1)}, contactimport.CodeTooLarge},
		"malformed":     {contactimport.Request{CSV: []byte("email\n\"a@example.net\n")}, contactimport.CodeInvalid},
		"on_conflict":   {contactimport.Request{CSV: []byte("email\n"), OnConflict: "replace"}, contactimport.CodeInvalid},
		"column_map":    {contactimport.Request{CSV: []byte("email\n"), ColumnMap: `{"email":"E"}`}, contactimport.CodeInvalid},
		"segment":       {contactimport.Request{CSV: []byte("email\n"), Segments: []string{uuid.NewString()}}, contactimport.CodeSegmentNotFound},
		"another topic": {contactimport.Request{CSV: []byte("email\n"), Topics: []store.TopicSubscription{{TopicID: uuid.NewString()}}}, contactimport.CodeTopicNotFound},
	} {
		c.req.TeamID = e.team
		_, err := e.importer().Create(ctx, c.req)
		var ie *contactimport.Error
		require.ErrorAs(t, err, &ie, name)
		require.Equal(t, c.code, ie.Code, name)
	}
	list, _, err := e.db.ListContactImports(ctx, e.team, "", store.Page{})
	require.NoError(t, err)
	require.Empty(t, list)
}
