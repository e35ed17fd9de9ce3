package sqlstore_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/godwit/godwit/internal/godwittest"
	"github.com/godwit/godwit/internal/store"
	"github.com/godwit/godwit/internal/store/sqlstore"
)

// TestHandoffIsWhatIsRead: after an accept commits, the outbox is handed
// the emails to deliver at once (sqlstore.EmailHandoff) exactly as
// GetEmailsForDelivery reads them back, so a worker that starts them from
// the handoff sends what it would have read; each once, and none of an
// accept that did not commit. Scheduled emails and those whose read would
// differ (attachments, a template reference, a list string that is not
// valid UTF-8) are not handed over.
func TestHandoffIsWhatIsRead(t *testing.T) {
	t.Parallel()
	for _, kind := range godwittest.Kinds {
		t.Run(string(kind), func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			g := newGroupEnv(t, kind)
			var mu sync.Mutex
			handed := map[string]*store.Email{}
			times := map[string]int{}
			godwittest.OutboxOf(t, g.db).OnHandoff(func(emails []*store.Email) {
				mu.Lock()
				defer mu.Unlock()
				for _, e := range emails {
					handed[e.ID] = e
					times[e.ID]++
				}
			})

			full := g.email()
			full.CreatedAt = t0.Add(123456789 * time.Nanosecond).In(time.FixedZone("x", 3600)) // below a microsecond, not UTC
			text := "plain"
			full.Text = &text
			full.Cc, full.Bcc, full.ReplyTo = []string{"c@example.net"}, []string{"d@example.net"}, []string{"r@example.com"}
			full.Headers = []store.Header{{Name: "X-Entity-Ref-ID", Value: "é-1"}}
			full.Tags = []store.Tag{{Name: "category", Value: "welcome"}}
			full.TopicID, full.DomainName = "topic-1", "example.com"
			empty := g.email() // empty lists, no text
			empty.Cc, empty.Bcc, empty.ReplyTo, empty.Headers, empty.Tags = []string{}, []string{}, []string{}, []store.Header{}, []store.Tag{}
			at := t0.Add(time.Hour)
			scheduled := g.email()
			scheduled.ScheduledAt, scheduled.LastEvent = &at, store.EventScheduled
			attached := g.email()
			attached.Attachments = []store.Attachment{{Filename: "a.txt", ContentType: "text/plain", Content: []byte("a")}}
			templated := g.email()
			templated.Template = &store.TemplateRef{ID: "tpl", Variables: []byte(`{ "a": "<b>" }`)}
			badUTF8 := g.email()
			badUTF8.Headers = []store.Header{{Name: "X-Raw", Value: "a\xffb"}}
			require.NoError(t, g.db.AcceptEmails(ctx, &store.Accept{Emails: []*store.Email{full, empty, scheduled, attached, templated, badUTF8}}))

			refused := g.email()
			g.enq.fail[refused.ID] = true
			require.Error(t, g.db.AcceptEmails(ctx, &store.Accept{Emails: []*store.Email{refused}}))

			mu.Lock()
			defer mu.Unlock()
			require.ElementsMatch(t, []string{full.ID, empty.ID}, keys(handed), "the emails handed over")
			read, err := g.db.GetEmailsForDelivery(ctx, []string{full.ID, empty.ID})
			require.NoError(t, err)
			require.Len(t, read, 2)
			for _, e := range read {
				require.Equal(t, e, handed[e.ID], "handed over as read back")
				require.Equal(t, 1, times[e.ID], "handed over once")
			}
			require.NotSame(t, full, handed[full.ID], "a copy, not the caller's email")
		})
	}
}

func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

var _ sqlstore.EmailHandoff = (*godwittest.Outbox)(nil)
