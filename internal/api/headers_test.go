package api

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/emersion/go-message/mail"
	"github.com/stretchr/testify/require"

	"github.com/godwit/godwit/internal/delivery"
	"github.com/godwit/godwit/internal/store/sqlstore"
)

// captured runs the delivery worker (capture transport) for the email and
// returns the message it built.
func (e *testEnv) captured(id string) *mail.Header {
	e.t.Helper()
	w := &delivery.Worker{Store: e.db, Domains: e.handler.Domains, TestDomain: "resend.dev", Now: e.clock.Now}
	require.NoError(e.t, w.Deliver(context.Background(), delivery.Job{EmailID: id, Attempt: 1}))
	req, err := http.NewRequest("GET", e.srv.URL+"/emails/"+id+"/captured", nil)
	require.NoError(e.t, err)
	req.Header.Set("Authorization", "Bearer "+e.keyA)
	resp, err := e.srv.Client().Do(req)
	require.NoError(e.t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(e.t, err)
	require.Equal(e.t, 200, resp.StatusCode, "captured: %s (delivery: %s)", body, e.do("GET", "/emails/"+id+"/delivery", e.keyA, "").body)
	r, err := mail.CreateReader(bytes.NewReader(body))
	require.NoError(e.t, err)
	return &r.Header
}

func headersBody(headers map[string]string, extra string) string {
	h, _ := json.Marshal(headers)
	return `{"from":"a@example.com","to":"z@example.net","subject":"s","text":"t","headers":` + string(h) + extra + `}`
}

// TestLongHeaderNameDelivered is the regression test of the crash reported
// in the hardening issue: a custom header name of 74 characters or more made
// the delivery worker panic inside go-message. Such names (up to 76) are
// accepted, through POST /emails and batches, and built intact; longer ones
// are refused with a 422.
func TestLongHeaderNameDelivered(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, kind sqlstore.Dialect) {
		e := setup(t, kind)
		for _, n := range []int{74, 75, 76} {
			name := "X" + strings.Repeat("a", n-1)
			id := e.send(e.sendA, headersBody(map[string]string{name: "v"}, ""))
			h := e.captured(id)
			require.Equal(t, "v", h.Get(name), "header of %d characters", n)

			r := e.do("POST", "/emails/batch", e.sendA, "["+headersBody(map[string]string{name: strings.Repeat("long value ", 30)}, "")+"]")
			require.Equal(t, 200, r.status, string(r.body))
			bid := r.json["data"].([]any)[0].(map[string]any)["id"].(string)
			require.Equal(t, strings.TrimSpace(strings.Repeat("long value ", 30)), e.captured(bid).Get(name))
		}
		name := "X" + strings.Repeat("a", 76)
		requireError(t, e.do("POST", "/emails", e.sendA, headersBody(map[string]string{name: "v"}, "")), 422, "validation_error", "longer than 76")
		requireError(t, e.do("POST", "/emails/batch", e.sendA, "["+headersBody(map[string]string{name: "v"}, "")+"]"), 422, "validation_error", "longer than 76")
		name = "X" + strings.Repeat("a", 199)
		requireError(t, e.do("POST", "/emails", e.sendA, headersBody(map[string]string{name: "v"}, "")), 422, "validation_error")
	})
}

func TestHeaderRules(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, kind sqlstore.Dialect) {
		e := setup(t, kind)
		refused := map[string]string{
			"Content-Disposition":        "Godwit sets it",
			"content-id":                 "Godwit sets it",
			"Content-Type":               "Godwit sets it",
			"MIME-Version":               "Godwit sets it",
			"Content-Transfer-Encoding":  "Godwit sets it",
			"DKIM-Signature":             "Godwit sets it",
			"Resent-From":                "trace or identity",
			"Resent-Date":                "trace or identity",
			"Return-Path":                "trace or identity",
			"Received":                   "trace or identity",
			"Received-SPF":               "trace or identity",
			"Authentication-Results":     "trace or identity",
			"ARC-Seal":                   "trace or identity",
			"ARC-Authentication-Results": "trace or identity",
			"Delivered-To":               "trace or identity",
		}
		for name, why := range refused {
			requireError(t, e.do("POST", "/emails", e.sendA, headersBody(map[string]string{name: "x"}, "")), 422, "validation_error", why)
			requireError(t, e.do("POST", "/emails/batch", e.sendA, "["+headersBody(map[string]string{name: "x"}, "")+"]"), 422, "validation_error", why)
		}
		// A word too long for a header line would have to be cut.
		requireError(t, e.do("POST", "/emails", e.sendA, headersBody(map[string]string{"X-A": strings.Repeat("x", 1000)}, "")), 422, "validation_error", "too long")
		requireError(t, e.do("POST", "/emails", e.sendA, `{"from":"`+strings.Repeat("N", 1000)+` <a@example.com>","to":"z@example.net","subject":"s","text":"t"}`), 422, "validation_error", "from")
		requireError(t, e.do("POST", "/emails", e.sendA, `{"from":"a@example.com","to":"z@example.net","subject":"s","text":"t","attachments":[{"filename":"`+strings.Repeat("f", 990)+`.txt","content":"aGk="}]}`), 422, "invalid_attachment", "filename")
		// Reply-To twice.
		requireError(t, e.do("POST", "/emails", e.sendA, headersBody(map[string]string{"Reply-To": "r@example.com"}, `,"reply_to":"q@example.com"`)), 422, "validation_error", "reply_to")
		id := e.send(e.sendA, headersBody(map[string]string{"Reply-To": "r@example.com"}, ""))
		require.Equal(t, "r@example.com", e.captured(id).Get("Reply-To"))

		// Sender: only within the team's verified domains.
		id = e.send(e.sendA, headersBody(map[string]string{"Sender": "Ops <ops@example.com>"}, ""))
		require.Equal(t, "Ops <ops@example.com>", e.captured(id).Get("Sender"))
		requireError(t, e.do("POST", "/emails", e.sendA, headersBody(map[string]string{"sender": "ops@example.org"}, "")), 403, "validation_error", "example.org")
		requireError(t, e.do("POST", "/emails", e.sendA, headersBody(map[string]string{"Sender": "onboarding@resend.dev"}, "")), 403, "validation_error")
		requireError(t, e.do("POST", "/emails", e.sendA, headersBody(map[string]string{"Sender": "not an address"}, "")), 422, "validation_error", "Sender")
		requireError(t, e.do("POST", "/emails/batch", e.sendA, "["+headersBody(map[string]string{"Sender": "ops@example.org"}, "")+"]"), 403, "validation_error")
	})
}

// TestRestrictedKeyAndTestSender: a key restricted to a domain sends only
// from that domain, and not from the test sender either.
func TestRestrictedKeyAndTestSender(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, kind sqlstore.Dialect) {
		e := setup(t, kind)
		r := e.do("POST", "/api-keys", e.keyA, `{"name":"r","permission":"sending_access","domain_id":"`+e.domainA+`"}`)
		require.Equal(t, 201, r.status, string(r.body))
		restricted := r.json["token"].(string)
		test := `{"from":"onboarding@resend.dev","to":"delivered@resend.dev","subject":"s","text":"t"}`
		requireError(t, e.do("POST", "/emails", restricted, test), 403, "validation_error", "restricted")
		requireError(t, e.do("POST", "/emails/batch", restricted, "["+test+"]"), 403, "validation_error", "restricted")
		e.send(e.sendA, test) // an unrestricted key may
		e.send(restricted, `{"from":"a@example.com","to":"z@example.net","subject":"s","text":"t"}`)
	})
}
