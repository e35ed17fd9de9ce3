package api

import (
	"context"
	"testing"

	"github.com/resend/resend-go/v3"
	"github.com/stretchr/testify/require"

	"github.com/godwit/godwit/internal/delivery"
	"github.com/godwit/godwit/internal/store/sqlstore"
)

// TestGetEmailBounce: GET /emails/{id} of a bounced email carries the
// bounce object of its bounced event ({message, type, subType,
// diagnosticCode}, held to Resend's schema by the OpenAPI check); an email
// that did not bounce has none.
func TestGetEmailBounce(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, kind sqlstore.Dialect) {
		e := setup(t, kind)
		send := func(to string) string {
			r := e.do("POST", "/emails", e.keyA, `{"from":"Acme <hi@example.com>","to":`+to+`,"subject":"s","text":"t"}`)
			require.Equal(t, 200, r.status, string(r.body))
			return r.json["id"].(string)
		}
		bounced := send(`["delivered@resend.dev","bounced@resend.dev"]`)
		delivered := send(`"delivered@resend.dev"`)
		w := &delivery.Worker{Store: e.db, Domains: e.handler.Domains, TestDomain: "resend.dev", Now: e.clock.Now}

		// Not delivered yet: no bounce.
		r := e.do("GET", "/emails/"+bounced, e.keyA, "")
		require.Equal(t, 200, r.status, string(r.body))
		require.NotContains(t, r.json, "bounce")

		for _, id := range []string{bounced, delivered} {
			require.NoError(t, w.Deliver(context.Background(), delivery.Job{EmailID: id, Attempt: 1}))
		}
		r = e.do("GET", "/emails/"+bounced, e.keyA, "")
		require.Equal(t, 200, r.status, string(r.body))
		require.Equal(t, "bounced", r.json["last_event"])
		require.Equal(t, map[string]any{
			"message":        "The recipient's mail server permanently rejected the email: the address does not exist or does not accept mail.",
			"type":           "Permanent",
			"subType":        "NoEmail",
			"diagnosticCode": []any{"smtp; 550 5.1.1 Unknown User (test address)"},
		}, r.json["bounce"])

		r = e.do("GET", "/emails/"+delivered, e.keyA, "")
		require.Equal(t, 200, r.status, string(r.body))
		require.Equal(t, "delivered", r.json["last_event"])
		require.NotContains(t, r.json, "bounce")

		// The list leaves it out, as Resend's does.
		r = e.do("GET", "/emails", e.keyA, "")
		require.Equal(t, 200, r.status, string(r.body))
		for _, it := range r.json["data"].([]any) {
			require.NotContains(t, it.(map[string]any), "bounce")
		}
	})
}

// TestGoSDKGetBouncedEmail: resend-go (v3.1.1) has no bounce field; the
// extra object does not break its decoding of a bounced email.
func TestGoSDKGetBouncedEmail(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, kind sqlstore.Dialect) {
		e, client := setupSDK(t, kind)
		sent, err := client.Emails.Send(&resend.SendEmailRequest{From: "hi@example.com", To: []string{"bounced@resend.dev"},
			Subject: "s", Text: "t"})
		require.NoError(t, err)
		w := &delivery.Worker{Store: e.db, Domains: e.handler.Domains, TestDomain: "resend.dev", Now: e.clock.Now}
		require.NoError(t, w.Deliver(context.Background(), delivery.Job{EmailID: sent.Id, Attempt: 1}))
		got, err := client.Emails.Get(sent.Id)
		require.NoError(t, err)
		require.Equal(t, "bounced", got.LastEvent)
		require.Equal(t, []string{"bounced@resend.dev"}, got.To)
	})
}
