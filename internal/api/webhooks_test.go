package api

import (
	"context"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/resend/resend-go/v3"
	"github.com/stretchr/testify/require"

	"github.com/godwit/godwit/internal/store"
	"github.com/godwit/godwit/internal/store/sqlstore"
)

func TestWebhooksWithGoSDK(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, kind sqlstore.Dialect) {
		e := setup(t, kind)
		ctx := context.Background()
		client := resend.NewClient(e.keyA)
		base, err := url.Parse(e.srv.URL + "/")
		require.NoError(t, err)
		client.BaseURL = base

		created, err := client.Webhooks.CreateWithContext(ctx, &resend.CreateWebhookRequest{
			Endpoint: "https://hooks.example.com/resend", Events: []string{resend.EventEmailDelivered, resend.EventEmailBounced}})
		require.NoError(t, err)
		require.Equal(t, "webhook", created.Object)
		require.True(t, strings.HasPrefix(created.SigningSecret, "whsec_"))

		got, err := client.Webhooks.GetWithContext(ctx, created.Id)
		require.NoError(t, err)
		require.Equal(t, "https://hooks.example.com/resend", got.Endpoint)
		require.Equal(t, []string{"email.delivered", "email.bounced"}, got.Events)
		require.Equal(t, "enabled", got.Status)
		require.Equal(t, created.SigningSecret, got.SigningSecret)

		disabled := "disabled"
		upd, err := client.Webhooks.UpdateWithContext(ctx, created.Id, &resend.UpdateWebhookRequest{Status: &disabled, Events: []string{"domain.created"}})
		require.NoError(t, err)
		require.Equal(t, created.Id, upd.Id)

		list, err := client.Webhooks.ListWithContext(ctx)
		require.NoError(t, err)
		require.Len(t, list.Data, 1)
		require.Equal(t, "disabled", list.Data[0].Status)
		require.Equal(t, []string{"domain.created"}, list.Data[0].Events)

		del, err := client.Webhooks.RemoveWithContext(ctx, created.Id)
		require.NoError(t, err)
		require.True(t, del.Deleted)
		_, err = client.Webhooks.GetWithContext(ctx, created.Id)
		require.Error(t, err)
	})
}

func TestWebhooksAPI(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, kind sqlstore.Dialect) {
		e := setup(t, kind)
		r := e.do("POST", "/webhooks", e.keyA, `{"endpoint":"https://hooks.example.com/a","events":["email.sent","email.sent","domain.updated"]}`)
		require.Equal(t, 201, r.status, string(r.body))
		id := r.json["id"].(string)
		secret := r.json["signing_secret"].(string)

		// The secret is stored sealed, never in the clear.
		wh, err := e.db.GetWebhook(context.Background(), e.teamA, id)
		require.NoError(t, err)
		require.NotContains(t, string(wh.Secret), strings.TrimPrefix(secret, "whsec_"))
		require.Equal(t, []string{"email.sent", "domain.updated"}, wh.Events, "duplicates dropped")

		// Rotation: a new secret; the old one is kept to sign for 24 hours.
		r = e.do("POST", "/webhooks/"+id+"/signing-secret/rotate", e.keyA, "")
		require.Equal(t, 200, r.status, string(r.body))
		rotated := r.json["signing_secret"].(string)
		require.NotEqual(t, secret, rotated)
		wh, err = e.db.GetWebhook(context.Background(), e.teamA, id)
		require.NoError(t, err)
		require.NotNil(t, wh.PreviousSecret)
		require.True(t, wh.PreviousUntil.Equal(t0.Add(24*time.Hour)))
		r = e.do("GET", "/webhooks/"+id, e.keyA, "")
		require.Equal(t, rotated, r.json["signing_secret"])

		// Validation errors, in Resend's envelope.
		for body, want := range map[string]string{
			`{"events":["email.sent"]}`:                                        "missing_required_field",
			`{"endpoint":"https://x.example.com"}`:                             "missing_required_field",
			`{"endpoint":"ftp://x.example.com","events":["email.sent"]}`:       "validation_error",
			`{"endpoint":"https://u:p@x.example.com","events":["email.sent"]}`: "validation_error",
			`{"endpoint":"/relative","events":["email.sent"]}`:                 "validation_error",
			`{"endpoint":"https://x.example.com","events":[]}`:                 "validation_error",
			`{"endpoint":"https://x.example.com","events":["email.nope"]}`:     "validation_error",
			`{"endpoint":"https://x.example.com","events":"email.sent"}`:       "validation_error",
			`{"endpoint":42,"events":["email.sent"]}`:                          "validation_error",
			`not json`: "",
		} {
			r := e.do("POST", "/webhooks", e.keyA, body)
			require.True(t, r.status == 422 || r.status == 400, "%s: %d %s", body, r.status, r.body)
			if want != "" {
				require.Equal(t, want, r.json["name"], body)
			}
		}
		requireError(t, e.do("PATCH", "/webhooks/"+id, e.keyA, `{"status":"paused"}`), 422, "validation_error")

		// Another team's webhook is unknown; a sending_access key may not manage webhooks.
		requireError(t, e.do("GET", "/webhooks/"+id, e.keyB, ""), 404, "not_found")
		requireError(t, e.do("PATCH", "/webhooks/"+id, e.keyB, `{"status":"disabled"}`), 404, "not_found")
		requireError(t, e.do("DELETE", "/webhooks/"+id, e.keyB, ""), 404, "not_found")
		requireError(t, e.do("POST", "/webhooks/"+id+"/signing-secret/rotate", e.keyB, ""), 404, "not_found")
		requireError(t, e.do("GET", "/webhooks", e.sendA, ""), 401, "restricted_api_key")
		requireError(t, e.do("GET", "/webhooks/not-a-uuid", e.keyA, ""), 422, "invalid_parameter")

		// Pagination.
		for range 2 {
			require.Equal(t, 201, e.do("POST", "/webhooks", e.keyA, `{"endpoint":"https://h.example.com","events":["email.sent"]}`).status)
		}
		r = e.do("GET", "/webhooks?limit=2", e.keyA, "")
		require.Equal(t, 200, r.status)
		require.Equal(t, true, r.json["has_more"])
		page := r.json["data"].([]any)
		last := page[1].(map[string]any)["id"].(string)
		r = e.do("GET", "/webhooks?limit=2&after="+last, e.keyA, "")
		require.Equal(t, false, r.json["has_more"])
		require.Equal(t, id, r.json["data"].([]any)[0].(map[string]any)["id"])
		require.Equal(t, store.WebhookEnabled, r.json["data"].([]any)[0].(map[string]any)["status"])
	})
}
