package api

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-msgauth/dkim"
	godwitdkim "github.com/godwit/godwit/internal/dkim"
	"github.com/godwit/godwit/internal/dnscheck"
	"github.com/godwit/godwit/internal/dnscheck/dnstest"
	"github.com/godwit/godwit/internal/domains"
	"github.com/godwit/godwit/internal/store"
	"github.com/godwit/godwit/internal/store/sqlstore"
	"github.com/resend/resend-go/v3"
	"github.com/stretchr/testify/require"
)

func TestDomains(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, kind sqlstore.Dialect) {
		e := setup(t, kind)
		r := e.do("POST", "/domains", e.keyA, `{"name":"Shop.Example.NET","region":"eu-west-1"}`)
		require.Equal(t, 201, r.status, "body: %s", r.body)
		id := r.json["id"].(string)
		require.Equal(t, "shop.example.net", r.json["name"])
		require.Equal(t, "not_started", r.json["status"])
		require.Equal(t, "eu-west-1", r.json["region"])
		require.Equal(t, "2026-11-28 12:00:00+00", r.json["created_at"])
		require.Equal(t, map[string]any{"sending": "enabled", "receiving": "disabled"}, r.json["capabilities"])
		records := r.json["records"].([]any)
		require.Len(t, records, 4)
		dkimRec := records[0].(map[string]any)
		require.Equal(t, "DKIM", dkimRec["record"])
		require.Equal(t, "resend._domainkey", dkimRec["name"])
		require.Equal(t, "TXT", dkimRec["type"])
		require.Equal(t, "Auto", dkimRec["ttl"])
		require.Equal(t, "not_started", dkimRec["status"])
		require.True(t, strings.HasPrefix(dkimRec["value"].(string), "p=MIIB"), dkimRec["value"])
		mx := records[1].(map[string]any)
		require.Equal(t, map[string]any{"record": "SPF", "name": "send", "type": "MX", "ttl": "Auto", "status": "not_started",
			"value": "bounces.godwit.test", "priority": float64(10)}, mx)
		spf := records[2].(map[string]any)
		require.Equal(t, "v=spf1 include:spf.godwit.test ~all", spf["value"])
		dmarc := records[3].(map[string]any)
		require.Equal(t, "_dmarc", dmarc["name"])
		require.Equal(t, "v=DMARC1; p=none; rua=mailto:dmarc@shop.example.net;", dmarc["value"])
		require.Equal(t, true, dmarc["optional"])

		// One copy of a name per team (TestDomainNameSquatting: across teams).
		requireError(t, e.do("POST", "/domains", e.keyA, `{"name":"SHOP.example.net"}`), 403, "validation_error",
			"The `shop.example.net` domain has been registered already.")

		for _, bad := range []string{`""`, `"example"`, `"192.0.2.1"`, `"example.com."`, `"-bad.example"`, `"ex ample.com"`, `"a..b.com"`, `5`} {
			r := e.do("POST", "/domains", e.keyA, `{"name":`+bad+`}`)
			require.True(t, r.status == 422, "%s: %d %s", bad, r.status, r.body)
		}
		requireError(t, e.do("POST", "/domains", e.keyA, `{}`), 422, "missing_required_field", "Missing `name` field.")
		requireError(t, e.do("POST", "/domains", e.keyA, `{"name":"x.example","region":"mars-1"}`), 422, "validation_error", "region")
		requireError(t, e.do("POST", "/domains", e.keyA, `{"name":"x.example","tls":"sometimes"}`), 422, "validation_error", "tls")
		requireError(t, e.do("POST", "/domains", e.keyA, `{"name":"x.example","capabilities":{"sending":"disabled"}}`), 422, "validation_error", "capabilities")
		requireError(t, e.do("POST", "/domains", e.keyA, `{"name":"x.example","custom_return_path":"a.b"}`), 422, "validation_error", "custom_return_path")
		r = e.do("POST", "/domains", e.keyA, `{"name":"bücher.example","custom_return_path":"bounce"}`)
		require.Equal(t, 201, r.status, "body: %s", r.body)
		require.Equal(t, "xn--bcher-kva.example", r.json["name"], "IDN names are stored as punycode")
		require.Equal(t, "bounce", r.json["records"].([]any)[1].(map[string]any)["name"])
		e.clock.Advance(1)

		r = e.do("GET", "/domains/"+id, e.keyA, "")
		require.Equal(t, 200, r.status)
		require.Equal(t, "domain", r.json["object"])
		require.Equal(t, dkimRec["value"], r.json["records"].([]any)[0].(map[string]any)["value"], "the same key every time")
		requireError(t, e.do("GET", "/domains/"+id, e.keyB, ""), 404, "not_found", "Domain not found")

		r = e.do("GET", "/domains", e.keyA, "")
		require.Len(t, r.json["data"], 3) // with the setup's example.com
		require.NotContains(t, r.json["data"].([]any)[0].(map[string]any), "records")
		require.Len(t, e.do("GET", "/domains", e.keyB, "").json["data"], 1, "only team B's own domain")
		r = e.do("GET", "/domains?limit=1", e.keyA, "")
		require.Len(t, r.json["data"], 1)
		require.Equal(t, true, r.json["has_more"])

		r = e.do("PATCH", "/domains/"+id, e.keyA, `{"open_tracking":true,"click_tracking":true,"tls":"enforced"}`)
		require.Equal(t, 200, r.status, "body: %s", r.body)
		require.Equal(t, map[string]any{"object": "domain", "id": id}, r.json)
		got := e.do("GET", "/domains/"+id, e.keyA, "")
		require.Equal(t, true, got.json["open_tracking"])
		requireError(t, e.do("PATCH", "/domains/"+id, e.keyA, `{"tls":"never"}`), 422, "validation_error")
		requireError(t, e.do("PATCH", "/domains/"+id, e.keyB, `{"tls":"enforced"}`), 404, "not_found")

		r = e.do("POST", "/domains/"+id+"/verify", e.keyA, "")
		require.Equal(t, 200, r.status)
		require.Equal(t, map[string]any{"object": "domain", "id": id}, r.json)
		got = e.do("GET", "/domains/"+id, e.keyA, "")
		require.Equal(t, "pending", got.json["status"])
		require.Equal(t, "pending", got.json["records"].([]any)[0].(map[string]any)["status"])
		requireError(t, e.do("POST", "/domains/"+id+"/verify", e.keyB, ""), 404, "not_found")

		requireError(t, e.do("DELETE", "/domains/"+id, e.keyB, ""), 404, "not_found")
		r = e.do("DELETE", "/domains/"+id, e.keyA, "")
		require.Equal(t, map[string]any{"object": "domain", "id": id, "deleted": true}, r.json)
		requireError(t, e.do("GET", "/domains/"+id, e.keyA, ""), 404, "not_found")
		requireError(t, e.do("GET", "/domains", e.sendA, ""), 401, "restricted_api_key")

		// Each change left its event for the webhooks, with Resend's payload.
		events, err := e.db.ListEvents(context.Background(), e.teamA, "", 100)
		require.NoError(t, err)
		var types []string
		for _, ev := range events {
			types = append(types, ev.Type)
		}
		require.Equal(t, []string{"domain.created", "domain.created", "domain.updated", "domain.updated", "domain.deleted"}, types)
		var payload struct {
			Type      string `json:"type"`
			CreatedAt string `json:"created_at"`
			Data      struct {
				ID, Name, Status string
				Records          []map[string]any
			} `json:"data"`
		}
		require.NoError(t, json.Unmarshal(events[0].Data, &payload))
		require.Equal(t, "domain.created", payload.Type)
		require.Equal(t, "2026-11-28T12:00:00.000Z", payload.CreatedAt)
		require.Equal(t, "shop.example.net", payload.Data.Name)
		require.Len(t, payload.Data.Records, 4)
		require.Contains(t, string(events[3].Data), `"status":"pending"`, "the verify request's update")
	})
}

// TestDomainDKIMKeyVerifies: the record the API shows verifies a signature
// made with the key the store holds.
func TestDomainDKIMKeyVerifies(t *testing.T) {
	t.Parallel()
	e := setup(t, sqlstore.SQLite)
	r := e.do("POST", "/domains", e.keyA, `{"name":"signed.example"}`)
	require.Equal(t, 201, r.status, "body: %s", r.body)
	id := r.json["id"].(string)
	record := r.json["records"].([]any)[0].(map[string]any)["value"].(string)

	d, err := e.db.GetDomain(context.Background(), e.teamA, id)
	require.NoError(t, err)
	require.NotContains(t, string(d.DKIMKey), "PRIVATE", "the key is stored sealed")
	key, err := e.handler.Domains.PrivateKey(id, d.DKIMKey)
	require.NoError(t, err)
	msg := "From: a@signed.example\r\nTo: b@example.net\r\nSubject: hi\r\nDate: Sat, 28 Nov 2026 12:00:00 +0000\r\nMessage-ID: <1@signed.example>\r\n\r\nhello\r\n"
	signed, err := godwitdkim.Sign([]byte(msg), "signed.example", "resend", key)
	require.NoError(t, err)
	verifications, err := dkim.VerifyWithOptions(bytes.NewReader(signed), &dkim.VerifyOptions{
		LookupTXT: func(domain string) ([]string, error) {
			require.Equal(t, "resend._domainkey.signed.example", domain)
			return []string{record}, nil
		},
	})
	require.NoError(t, err)
	require.Len(t, verifications, 1)
	require.NoError(t, verifications[0].Err)
	_, err = e.handler.Domains.PrivateKey("another-domain", d.DKIMKey)
	require.Error(t, err, "a sealed key only opens for its own domain")
}

func TestGoSDKDomains(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, kind sqlstore.Dialect) {
		e := setup(t, kind)
		client := resend.NewClient(e.keyA)
		client.BaseURL, _ = url.Parse(e.srv.URL + "/")
		created, err := client.Domains.Create(&resend.CreateDomainRequest{Name: "sdk.example", Region: "us-east-1"})
		require.NoError(t, err)
		require.Equal(t, "sdk.example", created.Name)
		require.Len(t, created.Records, 4)
		require.Equal(t, "Auto", created.Records[0].Ttl)
		got, err := client.Domains.Get(created.Id)
		require.NoError(t, err)
		require.Equal(t, "not_started", got.Status)
		list, err := client.Domains.List()
		require.NoError(t, err)
		require.Len(t, list.Data, 2) // with the setup's example.com
		_, err = client.Domains.Update(created.Id, &resend.UpdateDomainRequest{OpenTracking: true, Tls: "enforced"})
		require.NoError(t, err)
		ok, err := client.Domains.Verify(created.Id)
		require.NoError(t, err)
		require.True(t, ok)
		ok, err = client.Domains.Remove(created.Id)
		require.NoError(t, err)
		require.True(t, ok)
		_, err = client.Domains.Get(created.Id)
		require.ErrorContains(t, err, "Domain not found")
	})
}

func TestSendingGate(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, kind sqlstore.Dialect) {
		e := setup(t, kind)
		body := func(from, to string) string {
			return `{"from":"` + from + `","to":"` + to + `","subject":"s","text":"x"}`
		}
		e.send(e.keyA, body("Acme <news@Example.COM>", "someone@example.net")) // verified: any recipient

		// Unknown, another team's, and not yet verified domains are refused with Resend's message.
		requireError(t, e.do("POST", "/emails", e.keyA, body("a@unknown.example", "b@example.net")), 403, "validation_error",
			"The `unknown.example` domain is not verified. Please, add and verify your domain.")
		requireError(t, e.do("POST", "/emails", e.keyA, body("a@example.org", "b@example.net")), 403, "validation_error", "`example.org`")
		r := e.do("POST", "/domains", e.keyA, `{"name":"pending.example"}`)
		require.Equal(t, 201, r.status)
		pendingID := r.json["id"].(string)
		requireError(t, e.do("POST", "/emails", e.keyA, body("a@pending.example", "b@example.net")), 403, "validation_error", "not verified")

		// The test sender reaches only the test recipients.
		e.send(e.keyA, body("Acme <onboarding@resend.dev>", "delivered+run1@resend.dev"))
		e.send(e.keyB, body("onboarding@resend.dev", "bounced@resend.dev"))
		requireError(t, e.do("POST", "/emails", e.keyA, body("onboarding@resend.dev", "someone@example.net")), 403, "validation_error", "test addresses")
		requireError(t, e.do("POST", "/emails", e.keyA, `{"from":"onboarding@resend.dev","to":"delivered@resend.dev","bcc":"x@example.net","subject":"s","text":"x"}`), 403, "validation_error")
		requireError(t, e.do("POST", "/emails", e.keyA, body("other@resend.dev", "delivered@resend.dev")), 403, "validation_error")

		// Batches: strict refuses the whole batch, permissive reports the item.
		batch := `[` + body("a@example.com", "b@example.net") + `,` + body("a@unknown.example", "b@example.net") + `]`
		requireError(t, e.do("POST", "/emails/batch", e.keyA, batch), 403, "validation_error")
		r = e.do("POST", "/emails/batch", e.keyA, batch, "x-batch-validation", "permissive")
		require.Equal(t, 200, r.status)
		require.Len(t, r.json["data"], 1)
		require.Len(t, r.json["errors"], 1)

		// A key restricted to a domain sends only from it.
		r = e.do("POST", "/api-keys", e.keyA, `{"name":"only-example","permission":"sending_access","domain_id":"`+e.domainA+`"}`)
		require.Equal(t, 201, r.status, "body: %s", r.body)
		restricted := r.json["token"].(string)
		e.send(restricted, body("a@example.com", "b@example.net"))
		e.verifiedDomain(e.teamA, "second.example")
		e.send(e.keyA, body("a@second.example", "b@example.net"))
		requireError(t, e.do("POST", "/emails", restricted, body("a@second.example", "b@example.net")), 403, "validation_error", "restricted")
		requireError(t, e.do("POST", "/api-keys", e.keyB, `{"name":"x","permission":"sending_access","domain_id":"`+e.domainA+`"}`), 404, "not_found",
			"Domain not found")
		requireError(t, e.do("POST", "/api-keys", e.keyA, `{"name":"x","permission":"sending_access","domain_id":"`+pendingID+`x"}`), 404, "not_found")
	})
}

// TestDomainNameSquatting: a team that adds a name and never verifies it
// does not keep other teams from it. The first copy verified wins the name;
// every other team's copy fails with a reason and a domain.updated event,
// and the name can no longer be added or verified elsewhere until the
// winner deletes it.
func TestDomainNameSquatting(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, kind sqlstore.Dialect) {
		e := setup(t, kind)
		keyC := e.newKey(e.newTeam("c"), store.PermissionFullAccess)

		// setup verified example.com for team A: nobody else may add it.
		requireError(t, e.do("POST", "/domains", e.keyB, `{"name":"example.com"}`), 403, "validation_error",
			"The `example.com` domain has been registered already.")

		// B adds shared.example first and never verifies it; A adds it too.
		r := e.do("POST", "/domains", e.keyB, `{"name":"shared.example"}`)
		require.Equal(t, 201, r.status, "body: %s", r.body)
		squatted := r.json["id"].(string)
		r = e.do("POST", "/domains", e.keyA, `{"name":"shared.example"}`)
		require.Equal(t, 201, r.status, "an unverified copy elsewhere does not block the name: %s", r.body)
		mine := r.json["id"].(string)
		requireError(t, e.do("POST", "/domains", e.keyA, `{"name":"shared.example"}`), 403, "validation_error", "registered already")
		require.Equal(t, 200, e.do("POST", "/domains/"+squatted+"/verify", e.keyB, "").status)

		// A publishes its records and asks; the verifier finds them first.
		server := dnstest.NewServer(t)
		for _, rec := range e.do("GET", "/domains/"+mine, e.keyA, "").json["records"].([]any) {
			rec := rec.(map[string]any)
			name := rec["name"].(string) + ".shared.example"
			if rec["type"] == "MX" {
				server.SetMX(name, dnscheck.MX{Host: rec["value"].(string) + ".", Preference: 10})
			} else {
				server.SetTXT(name, rec["value"].(string))
			}
		}
		require.Equal(t, 200, e.do("POST", "/domains/"+mine+"/verify", e.keyA, "").status)
		var logs bytes.Buffer
		v := &domains.Verifier{Store: e.db, Settings: e.handler.Domains, DNS: &dnscheck.Resolver{Addr: server.Addr(), Timeout: time.Second},
			Now: e.clock.Now, Logger: slog.New(slog.NewTextHandler(&logs, nil))}
		_, err := v.RunOnce(context.Background())
		require.NoError(t, err)
		require.Equal(t, "verified", e.do("GET", "/domains/"+mine, e.keyA, "").json["status"])
		require.NotContains(t, e.do("GET", "/domains/"+mine, e.keyA, "").json, "failure_reason")

		// B's copy failed, and says why, in GET, the list and its webhook event.
		got := e.do("GET", "/domains/"+squatted, e.keyB, "")
		require.Equal(t, "failed", got.json["status"])
		reason := "Another team verified the `shared.example` domain first."
		require.Equal(t, reason, got.json["failure_reason"])
		require.Equal(t, "failed", got.json["records"].([]any)[0].(map[string]any)["status"])
		var listed map[string]any
		for _, d := range e.do("GET", "/domains", e.keyB, "").json["data"].([]any) {
			if d.(map[string]any)["id"] == squatted {
				listed = d.(map[string]any)
			}
		}
		require.Equal(t, reason, listed["failure_reason"])
		events, err := e.db.ListEvents(context.Background(), e.teamB, "", 100)
		require.NoError(t, err)
		last := events[len(events)-1]
		require.Equal(t, "domain.updated", last.Type)
		require.Contains(t, string(last.Data), `"status":"failed"`)
		require.Contains(t, string(last.Data), `"failure_reason":`)
		require.Contains(t, logs.String(), "domain failed: another team verified it first")
		require.Contains(t, logs.String(), "domain_id="+squatted)

		// The verified name is A's: B cannot verify its copy, C cannot add it.
		requireError(t, e.do("POST", "/domains/"+squatted+"/verify", e.keyB, ""), 403, "validation_error",
			"The `shared.example` domain has been registered already.")
		require.Equal(t, "failed", e.do("GET", "/domains/"+squatted, e.keyB, "").json["status"])
		requireError(t, e.do("POST", "/domains", keyC, `{"name":"shared.example"}`), 403, "validation_error", "registered already")

		// Once A deletes it, B may try again.
		require.Equal(t, 200, e.do("DELETE", "/domains/"+mine, e.keyA, "").status)
		require.Equal(t, 200, e.do("POST", "/domains/"+squatted+"/verify", e.keyB, "").status)
		got = e.do("GET", "/domains/"+squatted, e.keyB, "")
		require.Equal(t, "pending", got.json["status"])
		require.NotContains(t, got.json, "failure_reason")
		require.Equal(t, 201, e.do("POST", "/domains", keyC, `{"name":"shared.example"}`).status)
	})
}

// TestDomainCapabilities: a receiving domain publishes its MX record (at
// the domain itself, pointing at --mx-host, labelled Receiving as Resend's
// is); capabilities change with PATCH, and a domain being verified checks
// the records of a capability just enabled at once.
func TestDomainCapabilities(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, kind sqlstore.Dialect) {
		e := setup(t, kind)
		r := e.do("POST", "/domains", e.keyA, `{"name":"in.example.net","capabilities":{"sending":"disabled","receiving":"enabled"}}`)
		require.Equal(t, 201, r.status, "body: %s", r.body)
		require.Equal(t, map[string]any{"sending": "disabled", "receiving": "enabled"}, r.json["capabilities"])
		require.Equal(t, []any{map[string]any{"record": "Receiving", "name": "in.example.net", "type": "MX", "ttl": "Auto",
			"status": "not_started", "value": "bounces.godwit.test", "priority": float64(10)}}, r.json["records"])
		id := r.json["id"].(string)

		// Sending enabled too, before verification: the sending records join, not started.
		r = e.do("PATCH", "/domains/"+id, e.keyA, `{"capabilities":{"sending":"enabled"}}`)
		require.Equal(t, 200, r.status, "body: %s", r.body)
		got := e.do("GET", "/domains/"+id, e.keyA, "")
		require.Equal(t, map[string]any{"sending": "enabled", "receiving": "enabled"}, got.json["capabilities"])
		var kinds []string
		for _, rec := range got.json["records"].([]any) {
			rec := rec.(map[string]any)
			kinds = append(kinds, rec["record"].(string))
			require.Equal(t, "not_started", rec["status"], rec["record"])
		}
		require.Equal(t, []string{"DKIM", "SPF", "SPF", "DMARC", "Receiving"}, kinds)

		requireError(t, e.do("PATCH", "/domains/"+id, e.keyA, `{"capabilities":{"sending":"disabled","receiving":"disabled"}}`),
			422, "validation_error", "At least one of `sending` and `receiving` must be enabled.")
		requireError(t, e.do("PATCH", "/domains/"+id, e.keyA, `{"capabilities":{"receiving":"maybe"}}`), 422, "validation_error", "capabilities")
		got = e.do("GET", "/domains/"+id, e.keyA, "")
		require.Equal(t, map[string]any{"sending": "enabled", "receiving": "enabled"}, got.json["capabilities"], "a refused PATCH changes nothing")

		// The setup's verified example.com starts receiving: it keeps sending,
		// and its MX record is pending, due now.
		list := e.do("GET", "/domains", e.keyA, "").json["data"].([]any)
		var verified string
		for _, d := range list {
			if d := d.(map[string]any); d["name"] == "example.com" {
				verified = d["id"].(string)
			}
		}
		require.NotEmpty(t, verified)
		r = e.do("PATCH", "/domains/"+verified, e.keyA, `{"capabilities":{"receiving":"enabled"}}`)
		require.Equal(t, 200, r.status, "body: %s", r.body)
		got = e.do("GET", "/domains/"+verified, e.keyA, "")
		recs := got.json["records"].([]any)
		last := recs[len(recs)-1].(map[string]any)
		require.Equal(t, "Receiving", last["record"])
		require.Equal(t, "pending", last["status"])
		send := e.do("POST", "/emails", e.keyA, `{"from":"a@example.com","to":"b@example.org","subject":"s","text":"t"}`)
		require.Equal(t, 200, send.status, "sending goes on: %s", send.body)
	})
}

// TestDomainSendingPause: a domain the reputation guard paused shows
// sending_pause on GET /domains/{id} and in the list, keeps Resend's
// status and capabilities, keeps the pause across a PATCH, and still
// accepts emails (they are held by delivery, not refused).
func TestDomainSendingPause(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, kind sqlstore.Dialect) {
		e := setup(t, kind)
		ctx := context.Background()
		r := e.do("GET", "/domains/"+e.domainA, e.keyA, "")
		require.Equal(t, 200, r.status)
		require.NotContains(t, r.json, "sending_pause", "absent while sending")

		at := t0.Add(90 * time.Minute)
		_, paused, err := e.db.PauseDomainSending(ctx, e.teamA, e.domainA,
			store.SendingPause{Reason: "complaint rate 0.41% over 24h ≥ 0.3%", At: at}, nil)
		require.NoError(t, err)
		require.True(t, paused)
		_, paused, err = e.db.PauseDomainSending(ctx, e.teamB, e.domainA, store.SendingPause{Reason: "x", At: at}, nil)
		require.ErrorIs(t, err, store.ErrNotFound, "another team's domain")
		require.False(t, paused)

		want := map[string]any{"reason": "complaint rate 0.41% over 24h ≥ 0.3%", "paused_at": "2026-11-28T13:30:00.000Z"}
		r = e.do("GET", "/domains/"+e.domainA, e.keyA, "")
		require.Equal(t, 200, r.status)
		require.Equal(t, want, r.json["sending_pause"])
		require.Equal(t, "verified", r.json["status"])
		require.Equal(t, map[string]any{"sending": "enabled", "receiving": "disabled"}, r.json["capabilities"])
		for _, d := range e.do("GET", "/domains", e.keyA, "").json["data"].([]any) {
			if d := d.(map[string]any); d["id"] == e.domainA {
				require.Equal(t, want, d["sending_pause"])
			}
		}

		require.Equal(t, 200, e.do("PATCH", "/domains/"+e.domainA, e.keyA, `{"open_tracking":true}`).status)
		r = e.do("GET", "/domains/"+e.domainA, e.keyA, "")
		require.Equal(t, want, r.json["sending_pause"], "a PATCH keeps the pause")
		require.Equal(t, true, r.json["open_tracking"])

		send := e.do("POST", "/emails", e.keyA, `{"from":"a@example.com","to":"b@example.org","subject":"s","text":"t"}`)
		require.Equal(t, 200, send.status, "accepted while paused: %s", send.body)
	})
}

// TestDomainReadiness: GET /domains/{id} carries the bulk-sender readiness
// computed from the last verification's answers (no DNS lookup on GET);
// the list does not.
func TestDomainReadiness(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, kind sqlstore.Dialect) {
		e := setup(t, kind)
		ctx := context.Background()
		d, err := e.db.GetDomain(ctx, e.teamA, e.domainA)
		require.NoError(t, err)
		d.RecordStatus = map[string]string{store.RecordDKIM: store.DomainVerified, store.RecordSPFMX: store.DomainVerified,
			store.RecordSPFTXT: store.DomainVerified, store.RecordDMARC: store.DomainPending}
		d.RecordChecks = map[string]store.RecordCheck{store.RecordDMARC: {Answer: []string{"v=DMARC1; p=none; rua=mailto:d@example.com"}, CheckedAt: t0},
			// The reverse DNS of the sending IP, as the verifier keeps it
			// (deliverability.LookupReverseDNS): a provider's PTR.
			"EHLO mail.godwit.test": {Answer: []string{"192.0.2.1"}, CheckedAt: t0},
			"PTR 192.0.2.1":         {Answer: []string{"vps-1.provider.test"}, CheckedAt: t0}}
		require.NoError(t, e.db.UpdateDomain(ctx, d))

		r := e.do("GET", "/domains/"+e.domainA, e.keyA, "")
		require.Equal(t, 200, r.status)
		got := map[string]map[string]any{}
		for _, c := range r.json["readiness"].([]any) {
			c := c.(map[string]any)
			got[c["check"].(string)] = c
		}
		require.Equal(t, "pass", got["spf_alignment"]["status"])
		require.Equal(t, "pass", got["dkim_alignment"]["status"])
		require.Equal(t, "warn", got["dmarc"]["status"])
		require.Contains(t, got["dmarc"]["message"], "p=none")
		require.NotEmpty(t, got["dmarc"]["fix"])
		require.Contains(t, got, "one_click_unsubscribe")
		require.Equal(t, "fail", got["reverse_dns"]["status"])
		require.Contains(t, got["reverse_dns"]["message"], "The PTR of 192.0.2.1 is vps-1.provider.test, not the EHLO name mail.godwit.test")
		for _, item := range e.do("GET", "/domains", e.keyA, "").json["data"].([]any) {
			require.NotContains(t, item, "readiness")
		}
	})
}
