package broadcast_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/godwit/godwit/internal/broadcast"
	"github.com/godwit/godwit/internal/godwittest"
	"github.com/godwit/godwit/internal/store"
	"github.com/godwit/godwit/internal/store/sqlstore"
	"github.com/godwit/godwit/internal/tracking"
)

func ptr(s string) *string { return &s }

// team is a team with one segment, to which contacts and a broadcast are added.
type team struct {
	t   *testing.T
	db  *sqlstore.DB
	id  string
	seg string
}

func newTeam(t *testing.T, kind sqlstore.Dialect) *team {
	t.Helper()
	db := godwittest.NewStore(t, kind, godwittest.NewClock(t0))
	tm := &team{t: t, db: db, id: uuid.NewString(), seg: uuid.NewString()}
	ctx := context.Background()
	require.NoError(t, db.CreateTeam(ctx, &store.Team{ID: tm.id, Name: "t", CreatedAt: t0}))
	require.NoError(t, db.CreateSegment(ctx, &store.Segment{ID: tm.seg, TeamID: tm.id, Name: "s", CreatedAt: t0}))
	tm.domain("example.com", store.DomainVerified)
	return tm
}

// domain stores a sending domain of the team with the given status (the
// broadcasts' sender passes the gate as it is sent).
func (tm *team) domain(name, status string) *store.Domain {
	tm.t.Helper()
	d := &store.Domain{ID: uuid.NewString(), TeamID: tm.id, Name: name, Region: "us-east-1", ReturnPath: "send",
		Status: status, TLS: "opportunistic", Sending: "enabled", Receiving: "disabled", DKIMSelector: "resend",
		DKIMKey: []byte("sealed"), RecordStatus: map[string]string{}, CreatedAt: t0, UpdatedAt: t0}
	require.NoError(tm.t, tm.db.CreateDomain(context.Background(), d))
	return d
}

func (tm *team) contact(c *store.Contact) *store.Contact {
	tm.t.Helper()
	c.ID, c.TeamID, c.SegmentIDs, c.CreatedAt, c.UpdatedAt = uuid.NewString(), tm.id, []string{tm.seg}, t0, t0
	require.NoError(tm.t, tm.db.CreateContact(context.Background(), c))
	return c
}

func (tm *team) topic(def string) string {
	tm.t.Helper()
	id := uuid.NewString()
	require.NoError(tm.t, tm.db.CreateTopic(context.Background(), &store.Topic{ID: id, TeamID: tm.id, Name: "news-" + id[:8],
		DefaultSubscription: def, Visibility: "public", CreatedAt: t0, UpdatedAt: t0}))
	return id
}

// send creates b as a draft of the team, sends it and runs s on it.
func (tm *team) send(s *broadcast.Sender, b *store.Broadcast) error {
	tm.t.Helper()
	ctx := context.Background()
	b.ID, b.TeamID, b.SegmentID, b.Status, b.CreatedAt, b.UpdatedAt = uuid.NewString(), tm.id, tm.seg, store.BroadcastDraft, t0, t0
	require.NoError(tm.t, tm.db.CreateBroadcast(ctx, b))
	require.NoError(tm.t, tm.db.SendBroadcast(ctx, tm.id, b.ID, nil, t0))
	return s.Send(ctx, tm.id, b.ID)
}

// emails returns the team's emails (with their bodies) by recipient.
func (tm *team) emails() map[string]*store.Email { return tm.emailsOf("") }

// emailsOf returns the emails of one broadcast ("": all) by recipient.
func (tm *team) emailsOf(broadcastID string) map[string]*store.Email {
	tm.t.Helper()
	ctx := context.Background()
	list, _, err := tm.db.ListEmails(ctx, tm.id, store.Page{Limit: 100})
	require.NoError(tm.t, err)
	out := map[string]*store.Email{}
	for _, e := range list {
		full, err := tm.db.GetEmail(ctx, tm.id, e.ID)
		require.NoError(tm.t, err)
		if broadcastID != "" && full.BroadcastID != broadcastID {
			continue
		}
		_, dup := out[full.To[0]]
		require.False(tm.t, dup, "two emails to %s", full.To[0])
		out[full.To[0]] = full
	}
	return out
}

func (tm *team) status(id string) string {
	tm.t.Helper()
	b, err := tm.db.GetBroadcast(context.Background(), tm.id, id)
	require.NoError(tm.t, err)
	return b.Status
}

// TestRenderedForEachContact: each subscribed contact gets the broadcast
// rendered with its own names, email and properties (else the properties'
// fallbacks, else the inline ones), HTML-escaped in the html only, with the
// preview text and its own signed one-click unsubscribe link.
func TestRenderedForEachContact(t *testing.T) {
	for _, kind := range godwittest.Kinds {
		t.Run(string(kind), func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			tm := newTeam(t, kind)
			for _, p := range []*store.ContactProperty{
				{Key: "plan", Type: store.PropertyString, FallbackValue: "free"},
				{Key: "seats", Type: store.PropertyNumber, FallbackValue: 1.0},
				{Key: "region", Type: store.PropertyString}, // no fallback
			} {
				p.ID, p.TeamID, p.CreatedAt, p.UpdatedAt = uuid.NewString(), tm.id, t0, t0
				require.NoError(t, tm.db.CreateContactProperty(ctx, p))
			}
			ada := tm.contact(&store.Contact{Email: "ada@example.net", FirstName: ptr("Ada"), LastName: ptr("<Lovelace>"),
				Properties: map[string]any{"plan": "gold", "seats": 2.5, "region": "eu"}})
			bob := tm.contact(&store.Contact{Email: "bob@example.net", FirstName: ptr("")})
			tm.contact(&store.Contact{Email: "gone@example.net", Unsubscribed: true})

			signer, err := tracking.NewSigner(bytes.Repeat([]byte{9}, 32))
			require.NoError(t, err)
			s := &broadcast.Sender{Store: tm.db, Signer: signer, PublicURL: "https://mail.example.com/", TestDomain: "resend.dev"}
			b := &store.Broadcast{From: "Acme <news@example.com>", ReplyTo: []string{"help@example.com"},
				Subject:     "Hi {{{FIRST_NAME|friend}}}",
				PreviewText: "News & <more>",
				HTML: ptr(`<p>{{{FIRST_NAME|friend}}} {{{LAST_NAME|}}}: {{{plan}}}, {{{seats}}} seats, {{{region|nowhere}}}</p>` +
					`<a href="{{{RESEND_UNSUBSCRIBE_URL}}}">unsubscribe</a>`),
				Text: ptr(`{{{EMAIL}}} {{{LAST_NAME|-}}} {{{plan}}} {{{seats}}} {{{region|nowhere}}} {{{unknown}}}`)}
			require.True(t, broadcast.UsesUnsubscribe(b))
			require.NoError(t, tm.send(s, b))
			require.Equal(t, store.BroadcastSent, tm.status(b.ID))

			got := tm.emails()
			require.Len(t, got, 2, "the unsubscribed contact gets nothing")
			a, o := got["ada@example.net"], got["bob@example.net"]
			require.NotNil(t, a)
			require.NotNil(t, o)

			require.Equal(t, "Hi Ada", a.Subject)
			require.Equal(t, "Hi friend", o.Subject, "an empty first name takes the inline fallback")
			const preview = `<div style="display:none;max-height:0;overflow:hidden">News &amp; &lt;more&gt;</div>`
			aURL := s.UnsubscribeURL(tm.id, ada.ID)
			require.Equal(t, preview+`<p>Ada &lt;Lovelace&gt;: gold, 2.5 seats, eu</p><a href="`+aURL+`">unsubscribe</a>`, *a.HTML)
			require.Equal(t, preview+`<p>friend : free, 1 seats, nowhere</p><a href="`+s.UnsubscribeURL(tm.id, bob.ID)+`">unsubscribe</a>`, *o.HTML)
			require.Equal(t, `ada@example.net <Lovelace> gold 2.5 eu {{{unknown}}}`, *a.Text, "the text is not escaped")
			require.Equal(t, `bob@example.net - free 1 nowhere {{{unknown}}}`, *o.Text)

			// The link is the contact's own, signed, under the public URL.
			require.True(t, strings.HasPrefix(aURL, "https://mail.example.com"+broadcast.UnsubscribePath), aURL)
			u, err := signer.ParseUnsubscribe(strings.TrimPrefix(aURL, "https://mail.example.com"+broadcast.UnsubscribePath))
			require.NoError(t, err)
			require.Equal(t, ada.ID, u.ContactID)
			require.Equal(t, tm.id, u.TeamID)
			require.Equal(t, []store.Header{{Name: "List-Unsubscribe", Value: "<" + aURL + ">"},
				{Name: "List-Unsubscribe-Post", Value: "List-Unsubscribe=One-Click"}}, a.Headers)

			for _, e := range []*store.Email{a, o} {
				require.Equal(t, "Acme <news@example.com>", e.From)
				require.Equal(t, []string{"help@example.com"}, e.ReplyTo)
				require.Equal(t, b.ID, e.BroadcastID)
				require.Equal(t, store.EventQueued, e.LastEvent)
			}
		})
	}
}

// TestWithoutSigner: without a signer or a public URL there is no link:
// the merge tag stays as written and no List-Unsubscribe header is set.
func TestWithoutSigner(t *testing.T) {
	tm := newTeam(t, sqlstore.SQLite)
	tm.contact(&store.Contact{Email: "a@example.net"})
	signer, err := tracking.NewSigner(bytes.Repeat([]byte{9}, 32))
	require.NoError(t, err)
	for _, s := range []*broadcast.Sender{{Store: tm.db}, {Store: tm.db, Signer: signer}, {Store: tm.db, PublicURL: "https://m.example.com"}} {
		require.Empty(t, s.UnsubscribeURL(tm.id, uuid.NewString()))
	}
	require.NoError(t, tm.send(&broadcast.Sender{Store: tm.db}, &store.Broadcast{From: "news@example.com", Subject: "s",
		Text: ptr("bye: {{{RESEND_UNSUBSCRIBE_URL}}}")}))
	e := tm.emails()["a@example.net"]
	require.NotNil(t, e)
	require.Equal(t, "bye: {{{RESEND_UNSUBSCRIBE_URL}}}", *e.Text)
	require.Nil(t, e.HTML)
	require.Empty(t, e.Headers)
}

func TestUsesUnsubscribe(t *testing.T) {
	for _, tc := range []struct {
		html, text *string
		want       bool
	}{
		{nil, nil, false},
		{ptr("<p>hi {{{FIRST_NAME}}}</p>"), ptr("hi"), false},
		{ptr(`<a href="{{{RESEND_UNSUBSCRIBE_URL}}}">x</a>`), nil, true},
		{nil, ptr("stop: {{{ RESEND_UNSUBSCRIBE_URL }}}"), true},
		{ptr("{{{RESEND_UNSUBSCRIBE_URL|#}}}"), nil, true},
		{ptr("{{RESEND_UNSUBSCRIBE_URL}}"), nil, false}, // two braces: not a merge tag
	} {
		got := broadcast.UsesUnsubscribe(&store.Broadcast{HTML: tc.html, Text: tc.text})
		require.Equal(t, tc.want, got, "html %v text %v", tc.html, tc.text)
	}
}

// TestTopic: a broadcast with a topic reaches the contacts whose choice, or
// else the topic's default, is opt_in; a topic deleted since reaches no one.
func TestTopic(t *testing.T) {
	for _, kind := range godwittest.Kinds {
		t.Run(string(kind), func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			tm := newTeam(t, kind)
			optIn, optOut := tm.topic(store.SubscriptionOptIn), tm.topic(store.SubscriptionOptOut)
			tm.contact(&store.Contact{Email: "default@example.net"})
			tm.contact(&store.Contact{Email: "in@example.net", Topics: []store.TopicSubscription{
				{TopicID: optIn, Subscription: store.SubscriptionOptIn}, {TopicID: optOut, Subscription: store.SubscriptionOptIn}}})
			tm.contact(&store.Contact{Email: "out@example.net", Topics: []store.TopicSubscription{
				{TopicID: optIn, Subscription: store.SubscriptionOptOut}, {TopicID: optOut, Subscription: store.SubscriptionOptOut}}})
			s := &broadcast.Sender{Store: tm.db}

			b := &store.Broadcast{From: "news@example.com", Subject: "s", Text: ptr("t"), TopicID: optIn}
			require.NoError(t, tm.send(s, b))
			require.ElementsMatch(t, []string{"default@example.net", "in@example.net"}, keys(tm.emailsOf(b.ID)))

			b = &store.Broadcast{From: "news@example.com", Subject: "s2", Text: ptr("t"), TopicID: optOut}
			require.NoError(t, tm.send(s, b))
			second := tm.emailsOf(b.ID)
			require.Equal(t, []string{"in@example.net"}, keys(second), "only the contact that opted in")
			require.Equal(t, optOut, second["in@example.net"].TopicID, "the email carries the topic for delivery")

			gone := tm.topic(store.SubscriptionOptIn)
			require.NoError(t, tm.db.DeleteTopic(ctx, tm.id, gone))
			b = &store.Broadcast{From: "news@example.com", Subject: "s3", Text: ptr("t"), TopicID: gone}
			require.NoError(t, tm.send(s, b))
			require.Empty(t, tm.emailsOf(b.ID), "a deleted topic reaches no one")
			require.Equal(t, store.BroadcastSent, tm.status(b.ID), "and the broadcast is done")
		})
	}
}

func keys(m map[string]*store.Email) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// TestTestSender: from the test domain (in any form of the From), only the
// contacts at the test domain are sent to, like API sends.
func TestTestSender(t *testing.T) {
	tm := newTeam(t, sqlstore.SQLite)
	for _, a := range []string{"delivered@resend.dev", "Bounced@RESEND.dev", "someone@example.net"} {
		tm.contact(&store.Contact{Email: a})
	}
	s := &broadcast.Sender{Store: tm.db, TestDomain: "Resend.dev"}
	b := &store.Broadcast{From: "Acme <onboarding@Resend.Dev>", Subject: "s", Text: ptr("t")}
	require.NoError(t, tm.send(s, b))
	require.ElementsMatch(t, []string{"delivered@resend.dev", "Bounced@RESEND.dev"}, keys(tm.emailsOf(b.ID)))

	// From another domain, everyone.
	b = &store.Broadcast{From: "news@example.com", Subject: "s", Text: ptr("t")}
	require.NoError(t, tm.send(s, b))
	require.Len(t, tm.emailsOf(b.ID), 3)
}

// failingStore is the real store with one read made to fail.
type failingStore struct {
	store.Store
	failRecipients, failProperties bool
}

var errRead = errors.New("injected: read failed")

func (f *failingStore) BroadcastRecipients(ctx context.Context, teamID, segmentID string, after int64, limit int) ([]store.Recipient, error) {
	if f.failRecipients {
		return nil, errRead
	}
	return f.Store.BroadcastRecipients(ctx, teamID, segmentID, after, limit)
}

func (f *failingStore) ContactPropertiesByKey(ctx context.Context, teamID string, keys []string) ([]*store.ContactProperty, error) {
	if f.failProperties {
		return nil, errRead
	}
	return f.Store.ContactPropertiesByKey(ctx, teamID, keys)
}

// TestStoreErrors: a read that fails ends the run with the error (the queue
// retries the job), having sent nothing; a run afterwards sends once. An
// unknown broadcast's job is done.
func TestStoreErrors(t *testing.T) {
	tm := newTeam(t, sqlstore.SQLite)
	tm.contact(&store.Contact{Email: "a@example.net"})
	fs := &failingStore{Store: tm.db, failProperties: true}
	b := &store.Broadcast{From: "news@example.com", Subject: "{{{plan|x}}}", Text: ptr("t")}
	require.ErrorIs(t, tm.send(&broadcast.Sender{Store: fs}, b), errRead)
	fs.failProperties, fs.failRecipients = false, true
	require.ErrorIs(t, (&broadcast.Sender{Store: fs}).Send(context.Background(), tm.id, b.ID), errRead)
	require.Empty(t, tm.emails())
	require.Equal(t, store.BroadcastQueued, tm.status(b.ID))

	fs.failRecipients = false
	require.NoError(t, (&broadcast.Sender{Store: fs}).Send(context.Background(), tm.id, b.ID))
	require.Len(t, tm.emails(), 1)
	require.Equal(t, "x", tm.emails()["a@example.net"].Subject)

	require.NoError(t, (&broadcast.Sender{Store: tm.db}).Send(context.Background(), tm.id, uuid.NewString()))
}

// TestUnbuildableContactSkipped: a contact whose values make an email the
// message builder cannot write (here a first name that is one word too long
// for a header line) is skipped with a warning; the others are sent, and
// every email accepted builds.
func TestUnbuildableContactSkipped(t *testing.T) {
	tm := newTeam(t, sqlstore.SQLite)
	long := tm.contact(&store.Contact{Email: "long@example.net", FirstName: ptr(strings.Repeat("x", 1200))})
	tm.contact(&store.Contact{Email: "fine@example.net", FirstName: ptr("Ada")})
	var logs godwittest.LogBuffer
	s := &broadcast.Sender{Store: tm.db, Logger: slog.New(slog.NewJSONHandler(&logs, nil))}
	b := &store.Broadcast{From: "news@example.com", Subject: "Hi {{{FIRST_NAME}}}", Text: ptr("t")}
	require.NoError(t, tm.send(s, b))
	got := tm.emailsOf(b.ID)
	require.Equal(t, []string{"fine@example.net"}, keys(got))
	require.Equal(t, "Hi Ada", got["fine@example.net"].Subject)
	recs := logs.Records(t, "broadcast: contact skipped: its email cannot be built")
	require.Len(t, recs, 1)
	require.Equal(t, long.ID, recs[0]["contact_id"])
	require.Equal(t, store.BroadcastSent, tm.status(b.ID))
}
