package api

import (
	"context"
	"errors"
	"net/url"
	"testing"

	"github.com/godwit/godwit/internal/store/sqlstore"
	"github.com/resend/resend-go/v3"
	"github.com/stretchr/testify/require"
)

// TestGoSDK drives the server with the official Go SDK, as users do.
func TestGoSDK(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, kind sqlstore.Dialect) {
		e := setup(t, kind)
		client := resend.NewClient(e.keyA)
		base, err := url.Parse(e.srv.URL + "/")
		require.NoError(t, err)
		client.BaseURL = base
		ctx := context.Background()

		sent, err := client.Emails.SendWithOptions(ctx, &resend.SendEmailRequest{
			From: "Acme <onboarding@example.com>", To: []string{"delivered@example.net"}, Subject: "hello",
			Html: "<strong>it works</strong>", ReplyTo: "reply@example.com",
			Tags:        []resend.Tag{{Name: "category", Value: "confirm_email"}},
			Headers:     map[string]string{"X-Entity-Ref-ID": "42"},
			Attachments: []*resend.Attachment{{Content: []byte("report"), Filename: "r.txt"}},
		}, &resend.SendEmailOptions{IdempotencyKey: "sdk-1"})
		require.NoError(t, err)
		require.NotEmpty(t, sent.Id)

		got, err := client.Emails.Get(sent.Id)
		require.NoError(t, err)
		require.Equal(t, sent.Id, got.Id)
		require.Equal(t, "hello", got.Subject)
		require.Equal(t, []string{"reply@example.com"}, got.ReplyTo)
		require.Equal(t, "queued", got.LastEvent)

		batch, err := client.Batch.SendWithOptions(ctx, []*resend.SendEmailRequest{
			{From: "a@example.com", To: []string{"b@example.net"}, Subject: "1", Text: "one"},
			{From: "a@example.com", To: []string{"nope"}, Subject: "2", Text: "two"},
		}, &resend.BatchSendEmailOptions{BatchValidation: resend.BatchValidationPermissive})
		require.NoError(t, err)
		require.Len(t, batch.Data, 1)
		require.Len(t, batch.Errors, 1)
		require.Equal(t, 1, batch.Errors[0].Index)

		_, err = client.Batch.Send([]*resend.SendEmailRequest{{From: "a@example.com", To: []string{"nope"}, Subject: "x", Text: "x"}})
		require.ErrorContains(t, err, "Invalid `to` field")

		scheduled, err := client.Emails.Send(&resend.SendEmailRequest{From: "a@example.com", To: []string{"b@example.net"},
			Subject: "later", Text: "x", ScheduledAt: "in 1 min"})
		require.NoError(t, err)
		upd, err := client.Emails.Update(&resend.UpdateEmailRequest{Id: scheduled.Id, ScheduledAt: "2026-11-29T10:00:00Z"})
		require.NoError(t, err)
		require.Equal(t, scheduled.Id, upd.Id)
		require.Equal(t, "email", upd.Object)
		canceled, err := client.Emails.Cancel(scheduled.Id)
		require.NoError(t, err)
		require.Equal(t, scheduled.Id, canceled.Id)
		got, err = client.Emails.Get(scheduled.Id)
		require.NoError(t, err)
		require.Equal(t, "canceled", got.LastEvent)

		list, err := client.Emails.List()
		require.NoError(t, err)
		require.Equal(t, "list", list.Object)
		require.Len(t, list.Data, 3)
		limit := 1
		page, err := client.Emails.ListWithOptions(ctx, &resend.ListOptions{Limit: &limit, After: &list.Data[0].Id})
		require.NoError(t, err)
		require.True(t, page.HasMore)
		require.Equal(t, list.Data[1].Id, page.Data[0].Id)

		_, err = client.Emails.Get("00000000-0000-4000-8000-000000000000")
		require.ErrorContains(t, err, "Email not found")

		// The SDK's RateLimitError on a 429.
		limited := setup(t, kind, func(d *Deps) { d.DefaultRateLimit = 1 })
		lc := resend.NewClient(limited.keyA)
		lc.BaseURL, _ = url.Parse(limited.srv.URL + "/")
		_, err = lc.Emails.List()
		require.NoError(t, err)
		_, err = lc.Emails.List()
		require.True(t, errors.Is(err, resend.ErrRateLimit), "got %v", err)
		var rl *resend.RateLimitError
		require.True(t, errors.As(err, &rl))
		require.Equal(t, "1", rl.Limit)
		require.Equal(t, "0", rl.Remaining)
		require.Equal(t, "1", rl.RetryAfter)
	})
}
