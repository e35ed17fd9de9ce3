package sqlstore_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/godwit/godwit/internal/godwittest"
	"github.com/godwit/godwit/internal/store"
	"github.com/godwit/godwit/internal/store/sqlstore"
)

// previousReleaseFile pins the previous release (its commit and last
// migration) for this test and for e2e/upgrade_test.go.
const previousReleaseFile = "../../../e2e/testdata/previous-release"

// previousMigration returns the last migration of the pinned previous
// release.
func previousMigration(t *testing.T) int64 {
	t.Helper()
	f, err := os.Open(previousReleaseFile)
	require.NoError(t, err)
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "migration "); ok {
			n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			require.NoError(t, err, "%s: migration %q", previousReleaseFile, v)
			return n
		}
	}
	require.NoError(t, sc.Err())
	t.Fatalf("%s has no migration line", previousReleaseFile)
	return 0
}

// TestUpgradeFromPreviousSchema: a database at the previous release's
// schema, holding rows as that release wrote them (testdata/upgrade/NNNNN,
// one directory per schema that was once the previous release's), is
// migrated by the current store, which then reads every object back as it
// was, lists the scheduled email as scheduled and cancels it, and accepts
// new writes. It needs no git history: the binary-level test
// (e2e/TestUpgradeFromPreviousRelease) builds the old release itself.
func TestUpgradeFromPreviousSchema(t *testing.T) {
	prev := previousMigration(t)
	dirs, err := os.ReadDir("testdata/upgrade")
	require.NoError(t, err)
	var versions []int64
	for _, d := range dirs {
		v, err := strconv.ParseInt(d.Name(), 10, 64)
		require.NoError(t, err, "testdata/upgrade/%s: directories are named by schema version", d.Name())
		versions = append(versions, v)
	}
	require.Contains(t, versions, prev, "testdata/upgrade/%05d: the previous release's schema (%s) needs its fixtures; see docs/operations.md, \"How upgrades are tested\"",
		prev, previousReleaseFile)

	for _, v := range versions {
		for _, kind := range godwittest.Kinds {
			t.Run(fmt.Sprintf("%05d/%s", v, kind), func(t *testing.T) {
				t.Parallel()
				testUpgradeFrom(t, kind, v)
			})
		}
	}
}

func testUpgradeFrom(t *testing.T, kind sqlstore.Dialect, version int64) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	url := godwittest.StoreURL(t, kind)
	fixture, err := os.ReadFile(filepath.Join("testdata/upgrade", fmt.Sprintf("%05d", version), string(kind)+".sql"))
	require.NoError(t, err)

	// The old schema, and the rows the old release wrote.
	old, err := sqlstore.Open(ctx, url, sqlstore.Options{NoMigrate: true, Outbox: godwittest.NewOutbox()})
	require.NoError(t, err)
	require.NoError(t, old.MigrateUpTo(ctx, version))
	st, err := old.MigrationStatus(ctx)
	require.NoError(t, err)
	for _, m := range st {
		require.Equal(t, m.Version <= version, m.Applied, "%s at schema %d", m.Name, version)
	}
	_, err = old.Writer().ExecContext(ctx, string(fixture))
	require.NoError(t, err, "the fixture fits schema %d", version)
	require.NoError(t, old.Close())

	// The current store opens it, applying what is pending.
	db, err := sqlstore.Open(ctx, url, sqlstore.Options{Outbox: godwittest.NewOutbox()})
	require.NoError(t, err)
	t.Cleanup(func() { _ = db.Close() })
	st, err = db.MigrationStatus(ctx)
	require.NoError(t, err)
	for _, m := range st {
		require.True(t, m.Applied, "%s applied on open", m.Name)
	}

	want := newUpgradeData()
	team := want.Team.ID
	gotTeam, err := db.GetTeam(ctx, team)
	require.NoError(t, err)
	require.Equal(t, want.Team, gotTeam)

	key, err := db.APIKeyByPrefix(ctx, want.Key.Prefix)
	require.NoError(t, err)
	require.Equal(t, want.Key, key, "the key authenticates as before: same hash, permission and domain")

	domain, err := db.GetDomain(ctx, team, want.Domain.ID)
	require.NoError(t, err)
	require.Equal(t, want.Domain, domain)
	held, err := db.HeldDomain(ctx, want.Domain.Name)
	require.NoError(t, err)
	require.Equal(t, want.Domain.ID, held.ID, "the verified domain still holds its name")
	events, err := db.ListEvents(ctx, team, "", 10)
	require.NoError(t, err)
	require.Equal(t, []*store.Event{want.DomainEvt, want.SupprEvt}, events)

	for _, e := range []*store.Email{want.Delivered, want.Scheduled, want.Large} {
		got, err := db.GetEmail(ctx, team, e.ID)
		require.NoError(t, err)
		require.Equal(t, e, got, "email %s", e.Subject)
	}
	evs, err := db.ListEmailEvents(ctx, team, want.Delivered.ID)
	require.NoError(t, err)
	require.Equal(t, want.Events, evs)
	attempts, err := db.ListDeliveryAttempts(ctx, team, want.Delivered.ID)
	require.NoError(t, err)
	require.Equal(t, []*store.DeliveryAttempt{want.Attempt}, attempts)
	found, _, err := db.SearchEmails(ctx, team, store.EmailFilter{Recipient: "ann@example.com"}, store.Page{})
	require.NoError(t, err)
	require.Equal(t, []string{want.Large.ID, want.Delivered.ID}, emailIDs(found), "the search terms still find the emails")
	found, _, err = db.SearchEmails(ctx, team, store.EmailFilter{Tag: &store.Tag{Name: "category", Value: "order"}}, store.Page{})
	require.NoError(t, err)
	require.Equal(t, []string{want.Delivered.ID}, emailIDs(found))
	metrics, err := db.EmailMetrics(ctx, store.EmailMetricsFilter{TeamID: team, From: want.Team.CreatedAt, To: want.Team.CreatedAt.Add(time.Hour)})
	require.NoError(t, err)
	require.Len(t, metrics, 1)
	require.Equal(t, int64(3), metrics[0].Received)
	require.Equal(t, int64(1), metrics[0].Delivered)

	webhook, err := db.GetWebhook(ctx, team, want.Webhook.ID)
	require.NoError(t, err)
	require.Equal(t, want.Webhook, webhook)
	segment, err := db.GetSegment(ctx, team, want.Segment.ID)
	require.NoError(t, err)
	require.Equal(t, want.Segment, segment)
	topic, err := db.GetTopic(ctx, team, want.Topic.ID)
	require.NoError(t, err)
	require.Equal(t, want.Topic, topic)
	prop, err := db.GetContactProperty(ctx, team, want.Property.ID)
	require.NoError(t, err)
	require.Equal(t, want.Property, prop)
	contact, err := db.GetContact(ctx, team, "ann@example.com")
	require.NoError(t, err)
	require.Equal(t, want.Contact, contact)
	subs, _, err := db.ListContactTopics(ctx, team, want.Contact.ID, store.Page{})
	require.NoError(t, err)
	require.Len(t, subs, 1)
	require.Equal(t, want.Topic, subs[0].Topic)
	require.Equal(t, store.SubscriptionOptOut, subs[0].Subscription)
	members, _, err := db.ListContacts(ctx, team, want.Segment.ID, store.Page{})
	require.NoError(t, err)
	require.Len(t, members, 1)
	require.Equal(t, want.Contact.ID, members[0].ID)
	tmpl, err := db.GetTemplate(ctx, team, "welcome")
	require.NoError(t, err)
	require.Equal(t, want.Template, tmpl)
	bc, err := db.GetBroadcast(ctx, team, want.Broadcast.ID)
	require.NoError(t, err)
	require.Equal(t, want.Broadcast, bc)
	supp, err := db.GetSuppression(ctx, team, want.Suppressed.Email)
	require.NoError(t, err)
	require.Equal(t, want.Suppressed, supp)
	user, err := db.GetUser(ctx, team, want.User.ID)
	require.NoError(t, err)
	require.Equal(t, want.User, user)

	// The scheduled email is still waiting, and can be cancelled.
	waiting, _, err := db.ListWaitingEmails(ctx, team, store.EventScheduled, store.Page{})
	require.NoError(t, err)
	require.Len(t, waiting, 1)
	require.Equal(t, want.Scheduled.ID, waiting[0].ID)
	require.Equal(t, want.Scheduled.ScheduledAt, waiting[0].ScheduledAt)
	now := time.Now().UTC().Truncate(time.Microsecond)
	require.NoError(t, db.CancelEmail(ctx, team, want.Scheduled.ID, now))
	got, err := db.GetEmail(ctx, team, want.Scheduled.ID)
	require.NoError(t, err)
	require.Equal(t, store.EventCanceled, got.LastEvent)

	// New rows go in after the old ones.
	fresh := &store.Email{ID: store.NewID(), TeamID: team, From: "onboarding@resend.dev", To: []string{"ann@example.com"},
		Subject: "after the upgrade", Text: ptr("new"), LastEvent: store.EventQueued, CreatedAt: now}
	require.NoError(t, db.AcceptEmails(ctx, &store.Accept{Emails: []*store.Email{fresh}}))
	list, _, err := db.ListEmails(ctx, team, store.Page{Limit: 10})
	require.NoError(t, err)
	require.Equal(t, []string{fresh.ID, want.Large.ID, want.Scheduled.ID, want.Delivered.ID}, emailIDs(list), "newest first")
	found, _, err = db.SearchEmails(ctx, team, store.EmailFilter{Recipient: "ann@example.com"}, store.Page{})
	require.NoError(t, err)
	require.Equal(t, []string{fresh.ID, want.Large.ID, want.Delivered.ID}, emailIDs(found))
	bob := &store.Contact{ID: store.NewID(), TeamID: team, Email: "bob@example.net", Properties: map[string]any{},
		SegmentIDs: []string{want.Segment.ID}, CreatedAt: now, UpdatedAt: now}
	require.NoError(t, db.CreateContact(ctx, bob))
	members, _, err = db.ListContacts(ctx, team, want.Segment.ID, store.Page{})
	require.NoError(t, err)
	require.Len(t, members, 2)
	require.Equal(t, bob.ID, members[0].ID, "newest first")
	require.NoError(t, db.CreateWebhook(ctx, &store.Webhook{ID: store.NewID(), TeamID: team, Endpoint: "https://hooks.acme.test/2",
		Events: []string{"email.sent"}, Status: store.WebhookEnabled, Secret: []byte("s"), CreatedAt: now, UpdatedAt: now}))
	hooks, _, err := db.ListWebhooks(ctx, team, store.Page{})
	require.NoError(t, err)
	require.Len(t, hooks, 2)
	dup := *want.Key
	dup.ID = store.NewID()
	require.ErrorIs(t, db.CreateAPIKey(ctx, &dup), store.ErrConflict, "key prefixes stay unique")
}

func emailIDs(list []*store.Email) []string {
	ids := make([]string, len(list))
	for i, e := range list {
		ids[i] = e.ID
	}
	return ids
}
