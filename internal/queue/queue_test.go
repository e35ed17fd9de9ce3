package queue_test

import (
	"bytes"
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/godwit/godwit/internal/domains"
	"github.com/godwit/godwit/internal/events"
	"github.com/godwit/godwit/internal/secretbox"

	"github.com/godwit/godwit/internal/delivery"
	"github.com/godwit/godwit/internal/godwittest"
	"github.com/godwit/godwit/internal/queue"
	"github.com/godwit/godwit/internal/store"
	"github.com/godwit/godwit/internal/store/sqlstore"
)

// t0 is the test clock's start: the real time, because River's job rescuer
// judges a running job stuck by the real clock (time.Now) against the
// attempted_at it wrote with the test clock. A fixed date in the past made
// every running job look stuck, and rescued jobs ran twice under load.
var t0 = time.Now().UTC().Truncate(time.Second)

// riverClock gives River the test's clock.
type riverClock struct{ c *godwittest.Clock }

func (r riverClock) Now() time.Time { return r.c.Now() }
func (r riverClock) NowOrNil() *time.Time {
	t := r.c.Now()
	return &t
}

type env struct {
	t     *testing.T
	clock *godwittest.Clock
	db    *sqlstore.DB
	team  *store.Team
	// settings are the worker's domain settings (startRelaying).
	settings domains.Settings
}

// start opens a store and a running queue whose worker delivers to the
// test domain's simulated recipients (nothing leaves the machine), after
// configure (if given) has set up the rest of the worker.
func start(t *testing.T, kind sqlstore.Dialect, configure ...func(*delivery.Worker)) *env {
	t.Helper()
	return startWith(t, kind, nil, configure...)
}

// startWith is start with a hook that completes the queue's config.
func startWith(t *testing.T, kind sqlstore.Dialect, qconf func(*queue.Config, *sqlstore.DB), configure ...func(*delivery.Worker)) *env {
	t.Helper()
	ctx := context.Background()
	clock := godwittest.NewClock(t0)
	dsn := godwittest.StoreURL(t, kind)
	out := queue.NewOutbox()
	db, err := sqlstore.Open(ctx, dsn, sqlstore.Options{Now: clock.Now, Outbox: out})
	require.NoError(t, err)
	w := &delivery.Worker{Store: db, TestDomain: "resend.dev", Now: clock.Now}
	for _, c := range configure {
		c(w)
	}
	cfg := queue.Config{Outbox: out, Workers: 10, Time: riverClock{clock}, PollInterval: 20 * time.Millisecond}
	if kind == sqlstore.Postgres {
		cfg.PostgresDSN = dsn
	}
	if qconf != nil {
		qconf(&cfg, db)
	}
	q, err := queue.Open(ctx, db, w, cfg)
	require.NoError(t, err)
	require.NoError(t, q.Start(ctx))
	t.Cleanup(func() {
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		require.NoError(t, q.Stop(sctx))
		require.NoError(t, db.Close())
	})
	team := &store.Team{ID: uuid.NewString(), Name: "t", CreatedAt: t0}
	require.NoError(t, db.CreateTeam(ctx, team))
	return &env{t: t, clock: clock, db: db, team: team}
}

// startRelaying is start with a worker that signs with the domains'
// keys (verifiedDomain) and relays every message to mx.
func startRelaying(t *testing.T, kind sqlstore.Dialect, mx *godwittest.MX) *env {
	t.Helper()
	box, err := secretbox.New(bytes.Repeat([]byte{3}, 32))
	require.NoError(t, err)
	settings := domains.Settings{Keys: box, MXHost: "mx.godwit.test", SPF: "v=spf1 ~all"}
	e := start(t, kind, func(w *delivery.Worker) {
		w.Domains = settings
		w.Transport = &delivery.RelayTransport{URL: "smtp://" + mx.Addr(), Timeout: 5 * time.Second}
	})
	e.settings = settings
	return e
}

// verifiedDomain creates a verified sending domain of team, with DKIM keys.
func (e *env) verifiedDomain(team *store.Team, name string) *store.Domain {
	e.t.Helper()
	d := &store.Domain{ID: uuid.NewString(), TeamID: team.ID, Name: name, Region: "us-east-1", ReturnPath: "send",
		Status: store.DomainVerified, TLS: "opportunistic", Sending: "enabled", Receiving: "disabled", DKIMSelector: "resend",
		RecordStatus: map[string]string{}, CreatedAt: t0, UpdatedAt: t0}
	var err error
	d.DKIMKey, d.DKIMEd25519Key, err = e.settings.NewKeys(d.ID)
	require.NoError(e.t, err)
	require.NoError(e.t, e.db.CreateDomain(context.Background(), d))
	return d
}

func (e *env) accept(to string, at *time.Time) *store.Email {
	e.t.Helper()
	text := "hi"
	em := &store.Email{ID: uuid.NewString(), TeamID: e.team.ID, From: "onboarding@resend.dev", To: []string{to},
		Subject: "s", Text: &text, CreatedAt: e.clock.Now(), LastEvent: store.EventQueued, ScheduledAt: at}
	if at != nil {
		em.LastEvent = store.EventScheduled
	}
	require.NoError(e.t, e.db.AcceptEmails(context.Background(), &store.Accept{Emails: []*store.Email{em}}))
	return em
}

func (e *env) last(em *store.Email) string {
	got, err := e.db.GetEmail(context.Background(), em.TeamID, em.ID)
	require.NoError(e.t, err)
	return got.LastEvent
}

// waitFor polls until the email's last event is want.
func (e *env) waitFor(em *store.Email, want string, within time.Duration) {
	e.t.Helper()
	deadline := time.Now().Add(within)
	for e.last(em) != want {
		if time.Now().After(deadline) {
			e.t.Fatalf("email %s: last_event %q after %s, want %q", em.ID, e.last(em), within, want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestAcceptedEmailsAreDelivered(t *testing.T) {
	for _, kind := range godwittest.Kinds {
		t.Run(string(kind), func(t *testing.T) {
			t.Parallel()
			e := start(t, kind)
			var ems []*store.Email
			for i := range 30 {
				to := fmt.Sprintf("delivered+%d@resend.dev", i)
				if i%3 == 0 {
					to = "bounced@resend.dev"
				}
				ems = append(ems, e.accept(to, nil))
			}
			for i, em := range ems {
				want := store.EventDelivered
				if i%3 == 0 {
					want = store.EventBounced
				}
				e.waitFor(em, want, 10*time.Second)
			}
		})
	}
}

func TestScheduledRescheduledCanceled(t *testing.T) {
	for _, kind := range godwittest.Kinds {
		t.Run(string(kind), func(t *testing.T) {
			t.Parallel()
			e := start(t, kind)
			ctx := context.Background()
			in1h, in2h := t0.Add(time.Hour), t0.Add(2*time.Hour)
			moved := e.accept("delivered@resend.dev", &in1h)
			canceled := e.accept("delivered@resend.dev", &in1h)
			onTime := e.accept("delivered@resend.dev", &in1h)
			require.NoError(t, e.db.RescheduleEmail(ctx, e.team.ID, moved.ID, in2h))
			require.NoError(t, e.db.CancelEmail(ctx, e.team.ID, canceled.ID, t0))

			// An hour later the email still on time goes; the moved one waits.
			e.clock.Advance(time.Hour)
			e.waitFor(onTime, store.EventDelivered, 15*time.Second)
			require.Equal(t, store.EventScheduled, e.last(moved))
			require.Equal(t, store.EventCanceled, e.last(canceled))

			e.clock.Advance(time.Hour)
			e.waitFor(moved, store.EventDelivered, 15*time.Second)
			require.Equal(t, store.EventCanceled, e.last(canceled))
		})
	}
}

// TestDeferredEmailIsRetried: a 450 commits the outcome with the email's
// retry job; when the clock reaches it, the email is delivered.
func TestDeferredEmailIsRetried(t *testing.T) {
	for _, kind := range godwittest.Kinds {
		t.Run(string(kind), func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			// The relay answers 450 to the first RCPT for each address and 250 afterwards.
			mx := godwittest.NewMX(t, godwittest.MXOptions{Domain: "relay.test", Rcpt: func(_ string, attempt int) error {
				if attempt == 1 {
					return &smtp.SMTPError{Code: 450, EnhancedCode: smtp.EnhancedCode{4, 2, 0}, Message: "try later"}
				}
				return nil
			}})

			e := startRelaying(t, kind, mx)
			e.verifiedDomain(e.team, "example.com")
			db, clock, team := e.db, e.clock, e.team
			text := "hi"
			em := &store.Email{ID: uuid.NewString(), TeamID: team.ID, From: "a@example.com", To: []string{"x@dest.test"},
				Subject: "s", Text: &text, CreatedAt: t0, LastEvent: store.EventQueued}
			require.NoError(t, db.AcceptEmails(ctx, &store.Accept{Emails: []*store.Email{em}}))
			e.waitFor(em, store.EventDeliveryDelayed, 10*time.Second)
			clock.Advance(delivery.Backoff(1))
			e.waitFor(em, store.EventDelivered, 15*time.Second)
			var received []string
			for _, m := range mx.Messages() {
				received = append(received, m.Rcpts...)
			}
			require.Equal(t, []string{"x@dest.test"}, received)
		})
	}
}

// An accepted email reaches a worker of the node that committed it without
// waiting for a poll: on SQLite the store wakes the workers after the
// commit (wake.go), on PostgreSQL River listens. The poll interval here is
// an hour, so only the wake-up can deliver the emails in time.
func TestCommittedEmailsWakeTheWorkers(t *testing.T) {
	for _, kind := range godwittest.Kinds {
		t.Run(string(kind), func(t *testing.T) {
			e := startWith(t, kind, func(c *queue.Config, _ *sqlstore.DB) { c.PollInterval = time.Hour })
			for i := range 3 {
				// River throttles its insert notifications by its clock, which
				// is the test's: stopped unless advanced.
				e.clock.Advance(time.Second)
				em := e.accept(fmt.Sprintf("delivered+%d@resend.dev", i), nil)
				e.waitFor(em, store.EventDelivered, 10*time.Second)
			}
		})
	}
}

// The emails of one job are read together with their domains and
// suppressions (delivery.ReadBatch): each team's suppression list applies to
// its own emails only, every email is signed by its domain, and an email
// the batch did not find is still delivered by its own read.
func TestJobReadsItsEmailsTogether(t *testing.T) {
	for _, kind := range godwittest.Kinds {
		t.Run(string(kind), func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			mx := godwittest.NewMX(t, godwittest.MXOptions{Domain: "relay.test"})
			e := startRelaying(t, kind, mx)
			other := &store.Team{ID: uuid.NewString(), Name: "other", CreatedAt: t0}
			require.NoError(t, e.db.CreateTeam(ctx, other))
			domainOf := map[*store.Team]*store.Domain{}
			for team, name := range map[*store.Team]string{e.team: "example.com", other: "example.org"} {
				domainOf[team] = e.verifiedDomain(team, name)
			}
			require.NoError(t, e.db.AddSuppressions(ctx, e.team.ID, []*store.Suppression{{ID: uuid.NewString(), TeamID: e.team.ID,
				Email: "gone@dest.test", Origin: "manual", CreatedAt: t0}}, events.SuppressionAddedEvent))
			text := "hi"
			mail := func(team *store.Team, to string) *store.Email {
				from := "a@example.com"
				if team == other {
					from = "a@example.org"
				}
				return &store.Email{ID: uuid.NewString(), TeamID: team.ID, From: from, To: []string{to},
					Subject: "s", Text: &text, CreatedAt: t0, LastEvent: store.EventQueued,
					DomainID: domainOf[team].ID, DomainName: domainOf[team].Name}
			}
			ems := []*store.Email{mail(e.team, "x0@dest.test"), mail(e.team, "Gone@dest.test"), mail(e.team, "x1@dest.test"),
				mail(other, "gone@dest.test"), mail(e.team, "delivered@resend.dev")}
			// One accept: the emails share one delivery job.
			require.NoError(t, e.db.AcceptEmails(ctx, &store.Accept{Emails: ems}))
			want := []string{store.EventDelivered, store.EventSuppressed, store.EventDelivered, store.EventDelivered, store.EventDelivered}
			for i, em := range ems {
				e.waitFor(em, want[i], 10*time.Second)
			}
			var received []string
			for _, m := range mx.Messages() {
				received = append(received, m.Rcpts...)
				domain := "d=example.com;"
				if m.Rcpts[0] == "gone@dest.test" {
					domain = "d=example.org;"
				}
				require.Contains(t, string(m.Data), domain, "signed by the sending domain")
			}
			require.ElementsMatch(t, []string{"x0@dest.test", "x1@dest.test", "gone@dest.test"}, received)
		})
	}
}

// emailReads counts the emails the delivery worker reads from the store.
type emailReads struct {
	delivery.Store
	mu  sync.Mutex
	ids map[string]int
}

func (r *emailReads) count(ids ...string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, id := range ids {
		r.ids[id]++
	}
}

func (r *emailReads) of(id string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.ids[id]
}

func (r *emailReads) GetEmailsForDelivery(ctx context.Context, ids []string) ([]*store.Email, error) {
	r.count(ids...)
	return r.Store.GetEmailsForDelivery(ctx, ids)
}

func (r *emailReads) GetEmailForDelivery(ctx context.Context, id string) (*store.Email, error) {
	r.count(id)
	return r.Store.GetEmailForDelivery(ctx, id)
}

// TestAcceptedEmailsAreNotReadBack: the node that commits an accept hands
// its emails to its own workers (handoff.go), which deliver them without
// reading them back from the store; an email the store does not hand over
// (one with an attachment) is read.
func TestAcceptedEmailsAreNotReadBack(t *testing.T) {
	for _, kind := range godwittest.Kinds {
		t.Run(string(kind), func(t *testing.T) {
			t.Parallel()
			reads := &emailReads{ids: map[string]int{}}
			e := start(t, kind, func(w *delivery.Worker) {
				reads.Store = w.Store
				w.Store = reads
			})
			text := "hi"
			var ems []*store.Email
			for range 4 {
				ems = append(ems, &store.Email{ID: uuid.NewString(), TeamID: e.team.ID, From: "onboarding@resend.dev",
					To: []string{"delivered@resend.dev"}, Subject: "s", Text: &text, CreatedAt: t0, LastEvent: store.EventQueued})
			}
			ems[3].Attachments = []store.Attachment{{Filename: "a.txt", ContentType: "text/plain", Content: []byte("a")}}
			require.NoError(t, e.db.AcceptEmails(context.Background(), &store.Accept{Emails: ems}))
			for _, em := range ems {
				e.waitFor(em, store.EventDelivered, 10*time.Second)
			}
			for _, em := range ems[:3] {
				require.Zero(t, reads.of(em.ID), "delivered without reading it back")
			}
			require.Equal(t, 1, reads.of(ems[3].ID), "the email with an attachment is read")
		})
	}
}
