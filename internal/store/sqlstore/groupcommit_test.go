package sqlstore_test

import (
	"context"
	"database/sql"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/godwit/godwit/internal/godwittest"
	"github.com/godwit/godwit/internal/store"
	"github.com/godwit/godwit/internal/store/sqlstore"
)

var errInjected = errors.New("injected enqueue failure")

// enqueueCall is one call of the enqueuer: the transaction and the emails.
type enqueueCall struct {
	tx  *sql.Tx
	ids []string
}

// scriptedEnqueuer is the job queue's insert with two faults on command: it
// fails for the emails in fail, and it holds the transaction of an email in
// hold until that email's channel closes (which keeps a committer busy, so
// that the requests handed over meanwhile gather into one group).
type scriptedEnqueuer struct {
	mu      sync.Mutex
	fail    map[string]bool
	hold    map[string]chan struct{}
	entered chan string
	calls   []enqueueCall
}

func newScriptedEnqueuer() *scriptedEnqueuer {
	return &scriptedEnqueuer{fail: map[string]bool{}, hold: map[string]chan struct{}{}, entered: make(chan string, 16)}
}

func (s *scriptedEnqueuer) enqueue(_ context.Context, tx *sql.Tx, emails []*store.Email) error {
	s.mu.Lock()
	c := enqueueCall{tx: tx}
	var wait chan struct{}
	failed := false
	for _, e := range emails {
		c.ids = append(c.ids, e.ID)
		if ch, ok := s.hold[e.ID]; ok {
			wait = ch
			s.entered <- e.ID
		}
		failed = failed || s.fail[e.ID]
	}
	s.calls = append(s.calls, c)
	s.mu.Unlock()
	if wait != nil {
		<-wait
	}
	if failed {
		return errInjected
	}
	return nil
}

// txOf returns the transactions in which id was enqueued, in order, with the
// emails each of them enqueued.
func (s *scriptedEnqueuer) txOf(id string) [][]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	byTx := map[*sql.Tx][]string{}
	var order []*sql.Tx
	for _, c := range s.calls {
		if _, ok := byTx[c.tx]; !ok {
			order = append(order, c.tx)
		}
		byTx[c.tx] = append(byTx[c.tx], c.ids...)
	}
	var out [][]string
	for _, tx := range order {
		if slices.Contains(byTx[tx], id) {
			out = append(out, byTx[tx])
		}
	}
	return out
}

type groupEnv struct {
	t          *testing.T
	db         *sqlstore.DB
	enq        *scriptedEnqueuer
	committers int
	team       string

	commitsMu sync.Mutex
	commits   []sqlstore.CommitStats // as ObserveCommit saw them
}

// observed returns the commits of kind seen so far.
func (g *groupEnv) observed(kind string) []sqlstore.CommitStats {
	g.commitsMu.Lock()
	defer g.commitsMu.Unlock()
	var out []sqlstore.CommitStats
	for _, c := range g.commits {
		if c.Kind == kind {
			out = append(out, c)
		}
	}
	return out
}

func newGroupEnv(t *testing.T, kind sqlstore.Dialect) *groupEnv {
	committers := 4 // PostgreSQL's default
	if kind == sqlstore.SQLite {
		committers = 1
	}
	out := godwittest.NewOutbox()
	enq := newScriptedEnqueuer()
	out.OnDeliver(enq.enqueue)
	g := &groupEnv{t: t, enq: enq, committers: committers}
	db, err := sqlstore.Open(context.Background(), godwittest.StoreURL(t, kind),
		sqlstore.Options{Committers: committers, Now: func() time.Time { return t0 }, Outbox: out, ObserveCommit: func(c sqlstore.CommitStats) {
			g.commitsMu.Lock()
			g.commits = append(g.commits, c)
			g.commitsMu.Unlock()
		}})
	require.NoError(t, err)
	t.Cleanup(func() { _ = db.Close() })
	team := &store.Team{ID: uuid.NewString(), Name: "a", CreatedAt: t0}
	require.NoError(t, db.CreateTeam(context.Background(), team))
	g.db, g.team = db, team.ID
	return g
}

var t0 = time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)

func (g *groupEnv) email() *store.Email {
	html := "<p>hi</p>"
	return &store.Email{ID: uuid.NewString(), TeamID: g.team, From: "a@example.com", To: []string{"b@example.net"},
		Subject: "s", HTML: &html, LastEvent: store.EventQueued, CreatedAt: t0}
}

func (g *groupEnv) idem(key, response string) *store.Idempotency {
	return &store.Idempotency{TeamID: g.team, Key: key, Endpoint: "/emails", RequestHash: []byte{1}, Response: []byte(response), CreatedAt: t0}
}

// holdCommitters makes every accept committer take a request that holds
// it (the outbox blocks its enqueue) and returns, per committer, the
// channel that lets it go and the held request's result.
func (g *groupEnv) holdCommitters() (holders []chan struct{}, holderErrs []chan error) {
	t := g.t
	for range g.committers {
		e := g.email()
		ch := make(chan struct{})
		g.enq.mu.Lock()
		g.enq.hold[e.ID] = ch
		g.enq.mu.Unlock()
		done := make(chan error, 1)
		go func() { done <- g.db.AcceptEmails(context.Background(), &store.Accept{Emails: []*store.Email{e}}) }()
		select {
		case id := <-g.enq.entered:
			require.Equal(t, e.ID, id)
		case <-time.After(10 * time.Second):
			t.Fatal("a committer never took the holding request")
		}
		holders, holderErrs = append(holders, ch), append(holderErrs, done)
	}
	return holders, holderErrs
}

// commitAsGroup hands reqs to the committers, in order, while every
// committer is held, then frees one committer, which takes them as one
// group. It returns each request's error.
func (g *groupEnv) commitAsGroup(reqs []*store.Accept) []error {
	t := g.t
	ctx := context.Background()
	holders, holderErrs := g.holdCommitters()
	errs := make([]error, len(reqs))
	var wg sync.WaitGroup
	for i, a := range reqs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = g.db.AcceptEmails(ctx, a)
		}()
		deadline := time.Now().Add(10 * time.Second)
		for sqlstore.PendingAccepts(g.db) < i+1 { // one at a time, so the group keeps reqs' order
			if time.Now().After(deadline) {
				t.Fatalf("request %d never reached the committers' queue", i)
			}
			time.Sleep(time.Millisecond)
		}
	}
	close(holders[0])
	require.NoError(t, <-holderErrs[0])
	wg.Wait()
	for i := 1; i < len(holders); i++ {
		close(holders[i])
		require.NoError(t, <-holderErrs[i])
	}
	return errs
}

func (g *groupEnv) requireStored(e *store.Email) {
	g.t.Helper()
	got, err := g.db.GetEmail(context.Background(), g.team, e.ID)
	require.NoError(g.t, err)
	require.Equal(g.t, e.ID, got.ID)
	evs, err := g.db.ListEmailEvents(context.Background(), g.team, e.ID)
	require.NoError(g.t, err)
	require.Len(g.t, evs, 1, "an accepted email has its first event")
}

func (g *groupEnv) requireAbsent(e *store.Email) {
	g.t.Helper()
	_, err := g.db.GetEmail(context.Background(), g.team, e.ID)
	require.ErrorIs(g.t, err, store.ErrNotFound)
	_, err = g.db.ListEmailEvents(context.Background(), g.team, e.ID)
	require.ErrorIs(g.t, err, store.ErrNotFound)
}

// TestGroupCommitRetriesAlone: when a group's transaction fails, each of its
// requests is retried in a transaction of its own, so the failing one fails
// alone and its neighbours (and their idempotency records) commit.
func TestGroupCommitRetriesAlone(t *testing.T) {
	t.Parallel()
	for _, kind := range godwittest.Kinds {
		t.Run(string(kind), func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			g := newGroupEnv(t, kind)

			// A key already held by a committed request.
			held := g.email()
			require.NoError(t, g.db.AcceptEmails(ctx, &store.Accept{Emails: []*store.Email{held},
				Idempotency: g.idem("held", "first"), IdempotencyTTL: time.Hour}))

			bad := g.email()
			g.enq.fail[bad.ID] = true
			before, after := g.email(), g.email()
			pair := []*store.Email{g.email(), g.email()}
			dup := g.email() // reuses the held key
			// The failing request comes last, so that the group's transaction
			// has written (and must roll back) all its neighbours first.
			reqs := []*store.Accept{
				{Emails: []*store.Email{before}},
				{Emails: pair, Idempotency: g.idem("fresh", "pair"), IdempotencyTTL: time.Hour},
				{Emails: []*store.Email{dup}, Idempotency: g.idem("held", "second"), IdempotencyTTL: time.Hour},
				{Emails: []*store.Email{after}},
				{Emails: []*store.Email{bad}},
			}
			errs := g.commitAsGroup(reqs)

			require.NoError(t, errs[0])
			require.NoError(t, errs[1])
			require.ErrorIs(t, errs[2], store.ErrIdempotencyKeyTaken, "a held key is still refused after the retry")
			require.NoError(t, errs[3])
			require.ErrorIs(t, errs[4], errInjected, "the failing request gets its own error")

			// The group was tried whole first, then the failing request alone.
			txs := g.enq.txOf(bad.ID)
			require.Len(t, txs, 2, "the failing request was tried in the group and then alone")
			require.Equal(t, []string{before.ID, pair[0].ID, pair[1].ID, after.ID, bad.ID}, txs[0],
				"first attempt: one transaction for the group (without the refused request's job)")
			require.Equal(t, []string{bad.ID}, txs[1], "second attempt: the failing request alone")
			require.Len(t, g.enq.txOf(before.ID), 2, "a neighbour is retried in its own transaction")
			require.Equal(t, []string{before.ID}, g.enq.txOf(before.ID)[1])

			// ObserveCommit saw the group's failed transaction, then each
			// request's own.
			var group, alone []sqlstore.CommitStats
			for _, c := range g.observed("accept") {
				switch c.Requests {
				case len(reqs):
					group = append(group, c)
				case 1:
					alone = append(alone, c)
				}
			}
			require.Len(t, group, 1)
			require.True(t, group[0].Failed)
			require.Equal(t, 6, group[0].Emails)
			require.Positive(t, group[0].Duration)
			failedAlone := 0
			for _, c := range alone {
				if c.Failed {
					failedAlone++
				}
			}
			require.Equal(t, 1, failedAlone, "only the failing request fails alone")

			for _, e := range []*store.Email{before, pair[0], pair[1], after, held} {
				g.requireStored(e)
			}
			g.requireAbsent(bad)
			g.requireAbsent(dup)
			rec, err := g.db.GetIdempotency(ctx, g.team, "fresh")
			require.NoError(t, err, "a neighbour's idempotency claim, rolled back with the group, is made again in its retry")
			require.Equal(t, "pair", string(rec.Response))
			rec, err = g.db.GetIdempotency(ctx, g.team, "held")
			require.NoError(t, err)
			require.Equal(t, "first", string(rec.Response), "the refused request did not replace the held record")
			list, _, err := g.db.ListEmails(ctx, g.team, store.Page{Limit: 100})
			require.NoError(t, err)
			require.Len(t, list, 5+g.committers, "the five accepted here and the holders' emails")

			// A request that fails alone (a group of one) is not retried.
			lone := g.email()
			g.enq.mu.Lock()
			g.enq.fail[lone.ID] = true
			g.enq.mu.Unlock()
			require.ErrorIs(t, g.db.AcceptEmails(ctx, &store.Accept{Emails: []*store.Email{lone},
				Idempotency: g.idem("lone", "x"), IdempotencyTTL: time.Hour}), errInjected)
			require.Len(t, g.enq.txOf(lone.ID), 1)
			g.requireAbsent(lone)
			_, err = g.db.GetIdempotency(ctx, g.team, "lone")
			require.ErrorIs(t, err, store.ErrNotFound, "a failed request keeps no idempotency record")
		})
	}
}

// TestGroupCommitHeldKeyInGroup: in a group whose transaction succeeds, a
// request whose idempotency key is held is refused and writes nothing, while
// the rest of the group commits in the one transaction.
func TestGroupCommitHeldKeyInGroup(t *testing.T) {
	t.Parallel()
	for _, kind := range godwittest.Kinds {
		t.Run(string(kind), func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			g := newGroupEnv(t, kind)
			require.NoError(t, g.db.AcceptEmails(ctx, &store.Accept{Emails: []*store.Email{g.email()},
				Idempotency: g.idem("held", "first"), IdempotencyTTL: time.Hour}))

			a, b, dup := g.email(), g.email(), g.email()
			errs := g.commitAsGroup([]*store.Accept{
				{Emails: []*store.Email{a}},
				{Emails: []*store.Email{dup}, Idempotency: g.idem("held", "second"), IdempotencyTTL: time.Hour},
				{Emails: []*store.Email{b}},
			})
			require.NoError(t, errs[0])
			require.ErrorIs(t, errs[1], store.ErrIdempotencyKeyTaken)
			require.NoError(t, errs[2])
			txs := g.enq.txOf(a.ID)
			require.Len(t, txs, 1, "no retry after a successful group")
			require.ElementsMatch(t, []string{a.ID, b.ID}, txs[0], "one transaction, without the refused request's job")
			g.requireStored(a)
			g.requireStored(b)
			g.requireAbsent(dup)
		})
	}
}
