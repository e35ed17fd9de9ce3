package e2e

import (
	"context"
	"errors"
	"net/url"
	"testing"
	"time"

	"github.com/resend/resend-go/v3"
	"github.com/stretchr/testify/require"

	"github.com/godwit/godwit/internal/dnscheck"
)

// goSDK returns the official Go client for key, pointed at the server.
func goSDK(t *testing.T, s *server, key string) *resend.Client {
	t.Helper()
	c := resend.NewClient(key)
	base, err := url.Parse(s.url + "/")
	require.NoError(t, err)
	c.BaseURL = base
	return c
}

// requireRateLimitError checks that err is the SDK's 429, with the
// server's headers in it.
func requireRateLimitError(t *testing.T, err error) {
	t.Helper()
	require.True(t, errors.Is(err, resend.ErrRateLimit), "got %v", err)
	var rl *resend.RateLimitError
	require.True(t, errors.As(err, &rl))
	require.Equal(t, "2", rl.Limit)
	require.Equal(t, "0", rl.Remaining)
	require.Equal(t, "1", rl.RetryAfter)
}

// testGoSDK drives the binary with the official Go SDK, as a team of its
// own: a domain added, published and verified, another updated and
// removed; an email sent (and replayed with its idempotency key), a batch,
// each got and listed, and all of them delivered to the MX, signed.
func (e *mxEnv) testGoSDK(t *testing.T) {
	t.Parallel()
	client := goSDK(t, e.s, e.teamKey(t, "sdk"))
	ctx := context.Background()

	created, err := client.Domains.Create(&resend.CreateDomainRequest{Name: "sdk.test"})
	require.NoError(t, err)
	require.Equal(t, "sdk.test", created.Name)
	require.Equal(t, "not_started", created.Status)
	require.NotEmpty(t, created.Records)
	for _, r := range created.Records {
		fqdn := r.Name + ".sdk.test"
		switch r.Type {
		case "TXT":
			e.dns.SetTXT(fqdn, r.Value)
		case "MX":
			prio, err := r.Priority.Int64()
			require.NoError(t, err)
			e.dns.SetMX(fqdn, dnscheck.MX{Host: r.Value + ".", Preference: uint16(prio)})
		}
	}
	ok, err := client.Domains.Verify(created.Id)
	require.NoError(t, err)
	require.True(t, ok)
	waitWithin(t, 20*time.Second, "sdk.test to be verified", func() bool {
		d, err := client.Domains.Get(created.Id)
		return err == nil && d.Status == "verified"
	})

	spare, err := client.Domains.Create(&resend.CreateDomainRequest{Name: "spare.sdk.test"})
	require.NoError(t, err)
	updated, err := client.Domains.Update(spare.Id, &resend.UpdateDomainRequest{ClickTracking: true})
	require.NoError(t, err)
	require.Equal(t, spare.Id, updated.Id)
	status, body, err := request("GET", e.s.url+"/domains/"+spare.Id, client.ApiKey, "")
	require.NoError(t, err)
	require.Equal(t, 200, status)
	require.Equal(t, true, body["click_tracking"])
	require.Equal(t, false, body["open_tracking"])
	domains, err := client.Domains.List()
	require.NoError(t, err)
	require.Len(t, domains.Data, 2, "the team's own domains only")
	removed, err := client.Domains.Remove(spare.Id)
	require.NoError(t, err)
	require.True(t, removed)
	domains, err = client.Domains.List()
	require.NoError(t, err)
	require.Len(t, domains.Data, 1)
	require.Equal(t, created.Id, domains.Data[0].Id)
	_, err = client.Domains.Get(spare.Id)
	require.ErrorContains(t, err, "Domain not found")

	req := &resend.SendEmailRequest{From: "SDK <app@sdk.test>", To: []string{"sdk-1@dest.test"}, Subject: "From the Go SDK",
		Html: "<p>Hello, <b>SDK</b></p>", ReplyTo: "help@sdk.test",
		Tags: []resend.Tag{{Name: "kind", Value: "e2e"}}, Headers: map[string]string{"X-Entity-Ref-ID": "sdk-1"}}
	sent, err := client.Emails.SendWithOptions(ctx, req, &resend.SendEmailOptions{IdempotencyKey: "sdk-send-1"})
	require.NoError(t, err)
	replay, err := client.Emails.SendWithOptions(ctx, req, &resend.SendEmailOptions{IdempotencyKey: "sdk-send-1"})
	require.NoError(t, err)
	require.Equal(t, sent.Id, replay.Id, "the retry gets the first email")
	got, err := client.Emails.Get(sent.Id)
	require.NoError(t, err)
	require.Equal(t, "email", got.Object)
	require.Equal(t, "SDK <app@sdk.test>", got.From)
	require.Equal(t, []string{"sdk-1@dest.test"}, got.To)
	require.Equal(t, []string{"help@sdk.test"}, got.ReplyTo)
	require.Equal(t, "From the Go SDK", got.Subject)

	batch, err := client.Batch.SendWithContext(ctx, []*resend.SendEmailRequest{
		{From: "app@sdk.test", To: []string{"sdk-2@dest.test"}, Subject: "Batch 1", Text: "one"},
		{From: "app@sdk.test", To: []string{"sdk-3@other.test"}, Subject: "Batch 2", Text: "two"},
	})
	require.NoError(t, err)
	require.Len(t, batch.Data, 2)
	require.Empty(t, batch.Errors)

	list, err := client.Emails.List()
	require.NoError(t, err)
	require.Equal(t, "list", list.Object)
	require.False(t, list.HasMore)
	var listed []string
	for _, em := range list.Data {
		listed = append(listed, em.Id)
	}
	require.Len(t, listed, 3, "the team's own emails only")
	require.Equal(t, sent.Id, listed[2], "newest first")
	require.ElementsMatch(t, []string{batch.Data[0].Id, batch.Data[1].Id}, listed[:2])
	limit := 1
	page, err := client.Emails.ListWithOptions(ctx, &resend.ListOptions{Limit: &limit, After: &listed[0]})
	require.NoError(t, err)
	require.True(t, page.HasMore)
	require.Equal(t, listed[1], page.Data[0].Id)

	for id, rcpt := range map[string]string{sent.Id: "sdk-1@dest.test", batch.Data[0].Id: "sdk-2@dest.test", batch.Data[1].Id: "sdk-3@other.test"} {
		m := e.received(t, id, "sdk.test", rcpt)
		require.Len(t, m, 1)
		verifyDKIM(t, e.dns, m[0].Data, "sdk.test")
		waitWithin(t, 20*time.Second, "the SDK to see "+id+" delivered", func() bool {
			got, err := client.Emails.Get(id)
			return err == nil && got.LastEvent == "delivered"
		})
	}
	p := parseMail(t, e.received(t, sent.Id, "sdk.test", "sdk-1@dest.test")[0].Data)
	require.Equal(t, "sdk-1", p.Header.Get("X-Entity-Ref-ID"), "the SDK's headers reach the recipient")

	// Another team's email is not found through this team's key.
	other := e.send(t, map[string]any{"from": "onboarding@resend.dev", "to": "delivered@resend.dev", "subject": "s", "text": "x"})
	_, err = client.Emails.Get(other)
	require.ErrorContains(t, err, "Email not found")
}
