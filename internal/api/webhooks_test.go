package api

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/resend/resend-go/v3"
	"github.com/stretchr/testify/require"

	"github.com/godwit/godwit/internal/delivery"
	"github.com/godwit/godwit/internal/netguard"
	"github.com/godwit/godwit/internal/store"
	"github.com/godwit/godwit/internal/store/sqlstore"
	"github.com/godwit/godwit/internal/webhook"
)

func TestWebhooksWithGoSDK(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, kind sqlstore.Dialect) {
		e := setup(t, kind)
		ctx := context.Background()
		client := e.sdk(e.keyA)
		var err error

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

func TestWebhookEventsAPI(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, kind sqlstore.Dialect) {
		e := setup(t, kind)
		ctx := context.Background()
		var mu sync.Mutex
		var bodies []string
		status := 500
		rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			b, _ := io.ReadAll(r.Body)
			mu.Lock()
			defer mu.Unlock()
			bodies = append(bodies, string(b))
			w.WriteHeader(status)
		}))
		t.Cleanup(rcv.Close)

		r := e.do("POST", "/webhooks", e.keyA, `{"endpoint":"`+rcv.URL+`","events":["email.sent","email.delivered"]}`)
		require.Equal(t, 201, r.status, string(r.body))
		hookID := r.json["id"].(string)
		r = e.do("POST", "/emails", e.keyA, `{"from":"hi@example.com","to":"delivered@resend.dev","subject":"s","text":"t"}`)
		require.Equal(t, 200, r.status, string(r.body))
		w := &delivery.Worker{Store: e.db, Domains: e.handler.Domains, TestDomain: "resend.dev", Now: e.clock.Now}
		require.NoError(t, w.Deliver(ctx, delivery.Job{EmailID: r.json["id"].(string), Attempt: 1}))

		r = e.do("GET", "/webhooks/"+hookID+"/events", e.keyA, "")
		require.Equal(t, 200, r.status, string(r.body))
		list := r.json["data"].([]any)
		require.Len(t, list, 2)
		newest := list[0].(map[string]any)
		require.Equal(t, "email.delivered", newest["type"])
		require.Equal(t, "pending", newest["status"])
		msgID := newest["id"].(string)

		// Post it once (the endpoint fails), as the queue's worker would.
		d := &webhook.Dispatcher{Store: e.db, Keys: e.handler.Domains.Keys, Client: netguard.Policy{AllowPrivate: true}.HTTPClient(webhook.Timeout), Now: e.clock.Now}
		require.NoError(t, d.Deliver(ctx, msgID))
		r = e.do("GET", "/webhooks/"+hookID+"/events/"+msgID, e.keyA, "")
		require.Equal(t, 200, r.status, string(r.body))
		require.Equal(t, "webhook_event", r.json["object"])
		require.Equal(t, "attempting", r.json["status"])
		require.NotEmpty(t, r.json["next_attempt_at"])
		require.Equal(t, "email.delivered", r.json["payload"].(map[string]any)["type"])

		r = e.do("GET", "/webhooks/"+hookID+"/events/"+msgID+"/attempts", e.keyA, "")
		require.Equal(t, 200, r.status, string(r.body))
		attempt := r.json["data"].([]any)[0].(map[string]any)
		require.Equal(t, float64(500), attempt["http_status_code"])
		require.Regexp(t, `^atmpt_`, attempt["id"])

		// Replay after the endpoint is fixed.
		mu.Lock()
		status = 200
		mu.Unlock()
		r = e.do("POST", "/webhooks/"+hookID+"/events/"+msgID+"/replay", e.keyA, "")
		require.Equal(t, 200, r.status, string(r.body))
		require.Equal(t, msgID, r.json["id"])
		require.NoError(t, d.Deliver(ctx, msgID))
		r = e.do("GET", "/webhooks/"+hookID+"/events/"+msgID, e.keyA, "")
		require.Equal(t, "success", r.json["status"])
		mu.Lock()
		require.Len(t, bodies, 2)
		mu.Unlock()

		// Unknown or another team's: 404.
		requireError(t, e.do("GET", "/webhooks/"+hookID+"/events/msg_nope", e.keyA, ""), 404, "not_found")
		requireError(t, e.do("GET", "/webhooks/"+hookID+"/events/"+msgID, e.keyB, ""), 404, "not_found")
		requireError(t, e.do("POST", "/webhooks/"+hookID+"/events/"+msgID+"/replay", e.keyB, ""), 404, "not_found")
		requireError(t, e.do("GET", "/webhooks/"+hookID+"/events?after=msg_nope", e.keyA, ""), 422, "validation_error")
	})
}
