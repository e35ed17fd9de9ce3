package queue_test

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/godwit/godwit/internal/broadcast"
	"github.com/godwit/godwit/internal/godwittest"
	"github.com/godwit/godwit/internal/queue"
	"github.com/godwit/godwit/internal/store"
	"github.com/godwit/godwit/internal/store/sqlstore"
	"github.com/godwit/godwit/internal/tracking"
)

// TestBroadcastIsSentToSubscribedContacts sends a broadcast through the
// queue: every subscribed contact of the segment gets exactly one
// delivered email, rendered for it, with the broadcast's id; unsubscribed
// contacts, contacts opted out of the topic, non-members and (from the
// test sender) addresses outside resend.dev get none.
func TestBroadcastIsSentToSubscribedContacts(t *testing.T) {
	for _, kind := range godwittest.Kinds {
		t.Run(string(kind), func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			signer, err := tracking.NewSigner([]byte(strings.Repeat("k", 32)))
			require.NoError(t, err)
			e := startWith(t, kind, func(c *queue.Config, db *sqlstore.DB) {
				c.Broadcasts = &broadcast.Sender{Store: db, Signer: signer, PublicURL: "https://mail.example.test",
					TestDomain: "resend.dev", ChunkSize: 3}
			})
			team := e.team.ID
			seg := &store.Segment{ID: uuid.NewString(), TeamID: team, Name: "s", CreatedAt: t0}
			require.NoError(t, e.db.CreateSegment(ctx, seg))
			topic := &store.Topic{ID: uuid.NewString(), TeamID: team, Name: "news", DefaultSubscription: store.SubscriptionOptIn,
				Visibility: store.TopicPublic, CreatedAt: t0, UpdatedAt: t0}
			require.NoError(t, e.db.CreateTopic(ctx, topic))
			name := func(s string) *string { return &s }
			want := map[string]string{} // address → greeting
			add := func(addr string, first *string, unsub, inSeg, optOut bool, props map[string]any) {
				c := &store.Contact{ID: uuid.NewString(), TeamID: team, Email: addr, FirstName: first, Unsubscribed: unsub,
					Properties: props, CreatedAt: t0, UpdatedAt: t0}
				if inSeg {
					c.SegmentIDs = []string{seg.ID}
				}
				if optOut {
					c.Topics = []store.TopicSubscription{{TopicID: topic.ID, Subscription: store.SubscriptionOptOut}}
				}
				require.NoError(t, e.db.CreateContact(ctx, c))
			}
			for i := range 7 {
				addr := fmt.Sprintf("delivered+%d@resend.dev", i)
				add(addr, name(fmt.Sprintf("N%d", i)), false, true, false, map[string]any{"plan": "pro"})
				want[addr] = fmt.Sprintf("Hi N%d (pro)", i)
			}
			add("delivered+nameless@resend.dev", nil, false, true, false, nil)
			want["delivered+nameless@resend.dev"] = "Hi friend (free)"
			add("delivered+unsub@resend.dev", name("U"), true, true, false, nil)
			add("delivered+optout@resend.dev", name("O"), false, true, true, nil)
			add("delivered+outside@resend.dev", name("X"), false, false, false, nil)
			add("someone@example.com", name("E"), false, true, false, nil)
			require.NoError(t, e.db.CreateContactProperty(ctx, &store.ContactProperty{ID: uuid.NewString(), TeamID: team,
				Key: "plan", Type: store.PropertyString, FallbackValue: "free", CreatedAt: t0, UpdatedAt: t0}))

			html := `<p>Hi {{{FIRST_NAME|friend}}} ({{{plan}}})</p><a href="{{{RESEND_UNSUBSCRIBE_URL}}}">unsubscribe</a>`
			b := &store.Broadcast{ID: uuid.NewString(), TeamID: team, Name: "n", SegmentID: seg.ID, From: "Acme <onboarding@resend.dev>",
				Subject: "News for {{{FIRST_NAME|you}}}", HTML: &html, TopicID: topic.ID, Status: store.BroadcastDraft,
				CreatedAt: t0, UpdatedAt: t0}
			require.NoError(t, e.db.CreateBroadcast(ctx, b))
			require.NoError(t, e.db.SendBroadcast(ctx, team, b.ID, nil, t0))

			deadline := time.Now().Add(15 * time.Second)
			for {
				got, err := e.db.GetBroadcast(ctx, team, b.ID)
				require.NoError(t, err)
				if got.Status == store.BroadcastSent {
					require.NotNil(t, got.SentAt)
					break
				}
				require.True(t, time.Now().Before(deadline), "broadcast still %s", got.Status)
				time.Sleep(20 * time.Millisecond)
			}
			list, _, err := e.db.ListEmails(ctx, team, store.Page{Limit: 100})
			require.NoError(t, err)
			var got []string
			for _, item := range list {
				em, err := e.db.GetEmail(ctx, team, item.ID)
				require.NoError(t, err)
				require.Equal(t, b.ID, em.BroadcastID)
				require.Equal(t, topic.ID, em.TopicID)
				require.Len(t, em.To, 1)
				addr := em.To[0]
				got = append(got, addr)
				require.Contains(t, *em.HTML, want[addr], addr)
				require.Contains(t, *em.HTML, `href="https://mail.example.test/unsubscribe/`)
				require.Len(t, em.Headers, 2)
				require.Equal(t, "List-Unsubscribe", em.Headers[0].Name)
				require.True(t, strings.HasPrefix(em.Headers[0].Value, "<https://mail.example.test/unsubscribe/"))
				require.Equal(t, "List-Unsubscribe=One-Click", em.Headers[1].Value)
				e.waitFor(em, store.EventDelivered, 10*time.Second)
			}
			var wantAddrs []string
			for a := range want {
				wantAddrs = append(wantAddrs, a)
			}
			sort.Strings(got)
			sort.Strings(wantAddrs)
			require.Equal(t, wantAddrs, got)
		})
	}
}
