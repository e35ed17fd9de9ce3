package api

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/godwit/godwit/internal/delivery"
	"github.com/godwit/godwit/internal/store"
	"github.com/godwit/godwit/internal/store/sqlstore"
)

func TestEmailDeliveryReportAndCapturedMessage(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, kind sqlstore.Dialect) {
		e := setup(t, kind)
		r := e.do("POST", "/emails", e.keyA, `{"from":"Acme <hi@example.com>","to":["delivered@resend.dev","bounced@resend.dev","x@example.net"],"subject":"s","html":"<p>hi</p>"}`)
		require.Equal(t, 200, r.status, string(r.body))
		id := r.json["id"].(string)

		// Before the worker ran: queued, no attempts yet, but the event says why.
		r = e.do("GET", "/emails/"+id+"/delivery", e.keyA, "")
		require.Equal(t, 200, r.status, string(r.body))
		require.Equal(t, "queued", r.json["last_event"])
		require.Empty(t, r.json["attempts"])
		require.Len(t, r.json["events"], 1)

		w := &delivery.Worker{Store: e.db, Domains: e.handler.Domains, TestDomain: "resend.dev", Now: e.clock.Now}
		require.NoError(t, w.Deliver(context.Background(), delivery.Job{EmailID: id, Attempt: 1}))

		r = e.do("GET", "/emails/"+id+"/delivery", e.keyA, "")
		require.Equal(t, 200, r.status, string(r.body))
		require.Equal(t, "email_delivery", r.json["object"])
		require.Equal(t, "bounced", r.json["last_event"])
		attempts := r.json["attempts"].([]any)
		require.Len(t, attempts, 3)
		byRcpt := map[string]map[string]any{}
		for _, a := range attempts {
			m := a.(map[string]any)
			byRcpt[m["recipient"].(string)] = m
		}
		require.Equal(t, "delivered", byRcpt["delivered@resend.dev"]["outcome"])
		require.Equal(t, "bounced", byRcpt["bounced@resend.dev"]["outcome"])
		require.Equal(t, float64(550), byRcpt["bounced@resend.dev"]["smtp_code"])
		require.Equal(t, "5.1.1", byRcpt["bounced@resend.dev"]["enhanced_status"])
		require.Equal(t, "capture", byRcpt["x@example.net"]["host"])
		require.Equal(t, "", byRcpt["x@example.net"]["tls_policy"], "no connection: no transport security")

		// An attempt over TLS shows its version, cipher and policy.
		require.NoError(t, e.db.RecordDelivery(context.Background(), &store.DeliveryOutcome{EmailID: id, TeamID: e.teamA,
			Attempts: []*store.DeliveryAttempt{{Recipient: "x@example.net", Outcome: store.OutcomeDeferred, Host: "mx.example.net",
				Response: "mta-sts enforce: certificate invalid: x509: certificate has expired", TLSVersion: "TLS 1.2",
				TLSCipher: "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", TLSPolicy: "mta-sts enforce", CreatedAt: e.clock.Now()}}}))
		r = e.do("GET", "/emails/"+id+"/delivery", e.keyA, "")
		require.Equal(t, 200, r.status, string(r.body))
		last := r.json["attempts"].([]any)[3].(map[string]any)
		require.Equal(t, "TLS 1.2", last["tls_version"])
		require.Equal(t, "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", last["tls_cipher"])
		require.Equal(t, "mta-sts enforce", last["tls_policy"])
		var types []string
		for _, ev := range r.json["events"].([]any) {
			types = append(types, ev.(map[string]any)["type"].(string))
		}
		require.Equal(t, []string{"queued", "sent", "delivered", "bounced"}, types)

		// The captured message (only the recipients that went "out").
		req, err := http.NewRequest("GET", e.srv.URL+"/emails/"+id+"/captured", nil)
		require.NoError(t, err)
		req.Header.Set("Authorization", "Bearer "+e.keyA)
		resp, err := e.srv.Client().Do(req)
		require.NoError(t, err)
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		require.Equal(t, 200, resp.StatusCode, string(body))
		require.Equal(t, "message/rfc822", resp.Header.Get("Content-Type"))
		require.True(t, strings.HasPrefix(string(body), "DKIM-Signature:"), "signed")
		require.Contains(t, string(body), "Message-ID: <"+id+"@example.com>")

		// Another team sees neither.
		requireError(t, e.do("GET", "/emails/"+id+"/delivery", e.keyB, ""), 404, "not_found")
		requireError(t, e.do("GET", "/emails/"+id+"/captured", e.keyB, ""), 404, "not_found")
		// A sending_access key may not read them.
		requireError(t, e.do("GET", "/emails/"+id+"/delivery", e.sendA, ""), 401, "restricted_api_key")
	})
}

func TestEventFeed(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, kind sqlstore.Dialect) {
		e := setup(t, kind)
		r := e.do("POST", "/emails", e.keyA, `{"from":"Acme <hi@example.com>","to":["delivered@resend.dev","bounced@resend.dev"],
			"subject":"s","text":"t","tags":[{"name":"category","value":"welcome"}]}`)
		require.Equal(t, 200, r.status, string(r.body))
		id := r.json["id"].(string)
		r = e.do("POST", "/emails", e.keyA, `{"from":"hi@example.com","to":"delivered@resend.dev","subject":"later","text":"t",
			"scheduled_at":"2026-11-29T12:00:00Z"}`)
		require.Equal(t, 200, r.status, string(r.body))
		scheduledID := r.json["id"].(string)

		w := &delivery.Worker{Store: e.db, Domains: e.handler.Domains, TestDomain: "resend.dev", Now: e.clock.Now}
		require.NoError(t, w.Deliver(context.Background(), delivery.Job{EmailID: id, Attempt: 1}))

		r = e.do("GET", "/feed", e.keyA, "")
		require.Equal(t, 200, r.status, string(r.body))
		require.Equal(t, false, r.json["has_more"])
		var types []string
		items := r.json["data"].([]any)
		for _, it := range items {
			types = append(types, it.(map[string]any)["type"].(string))
		}
		require.Equal(t, []string{"email.scheduled", "email.sent", "email.delivered", "email.bounced"}, types)
		sched := items[0].(map[string]any)
		require.Equal(t, "event", sched["object"])
		require.Equal(t, scheduledID, sched["data"].(map[string]any)["email_id"])
		bounced := items[3].(map[string]any)
		data := bounced["data"].(map[string]any)
		require.Equal(t, id, data["email_id"])
		require.Equal(t, []any{"bounced@resend.dev"}, data["to"])
		require.Equal(t, map[string]any{"category": "welcome"}, data["tags"])
		require.Equal(t, "<"+id+"@example.com>", data["message_id"])
		require.Equal(t, "Permanent", data["bounce"].(map[string]any)["type"])
		require.Regexp(t, `^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$`, bounced["created_at"])

		// A cursor: the events after one; limit and has_more.
		cursor := items[1].(map[string]any)["id"].(string)
		r = e.do("GET", "/feed?limit=1&after="+cursor, e.keyA, "")
		require.Equal(t, 200, r.status, string(r.body))
		require.Equal(t, true, r.json["has_more"])
		require.Equal(t, "email.delivered", r.json["data"].([]any)[0].(map[string]any)["type"])

		// Another team has its own (empty) feed, and cannot use this team's cursor.
		r = e.do("GET", "/feed", e.keyB, "")
		require.Equal(t, 200, r.status)
		for _, it := range r.json["data"].([]any) {
			require.NotContains(t, it.(map[string]any)["type"], "email.")
		}
		requireError(t, e.do("GET", "/feed?after="+cursor, e.keyB, ""), 422, "validation_error")
		requireError(t, e.do("GET", "/feed?limit=0", e.keyA, ""), 422, "validation_error")
		requireError(t, e.do("GET", "/feed", e.sendA, ""), 401, "restricted_api_key")
	})
}
