package e2e

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"github.com/godwit/godwit/internal/godwittest"
)

// nodeSDK returns the node binary for the scripts in e2e/node, which need
// the official Resend Node SDK installed there (`npm ci`; .ci/run does it).
// Without them the test skips, except in CI, where it fails.
func nodeSDK(t *testing.T) string {
	t.Helper()
	node, err := exec.LookPath("node")
	if err == nil {
		_, err = os.Stat(filepath.Join("node", "node_modules", "resend", "package.json"))
	}
	if err != nil {
		if godwittest.InCI() {
			t.Fatalf("this test needs node and `npm ci` in e2e/node: %v", err)
		}
		t.Skipf("Node SDK not installed (run `npm ci` in e2e/node): %v", err)
	}
	return node
}

// TestNodeSDK drives the real binary with the official Resend Node SDK
// (e2e/node, installed by `npm ci` there; .ci/run does it). Without Node or
// the package it skips, except in CI, where it fails.
func TestNodeSDK(t *testing.T) {
	node := nodeSDK(t)

	dir := t.TempDir()
	s := start(t, "--data-dir", dir)
	waitFor(t, "a key on stdout", func() bool { return tokenRE.MatchString(s.stdout.String()) })
	key := tokenRE.FindString(s.stdout.String())

	// Both base URL spellings: the SDK sends //emails when the base URL ends in a slash.
	for _, base := range []string{s.url, s.url + "/"} {
		cmd := exec.Command(node, "sdk.mjs")
		cmd.Dir = "node"
		cmd.Env = append(os.Environ(), "RESEND_BASE_URL="+base, "RESEND_API_KEY="+key)
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "base %s: %s", base, out)

		var got map[string]json.RawMessage
		require.NoError(t, json.Unmarshal(out, &got), "%s", out)
		var sent, replay struct{ ID string }
		require.NoError(t, json.Unmarshal(got["send"], &sent))
		require.NoError(t, json.Unmarshal(got["replay"], &replay))
		require.Equal(t, sent.ID, replay.ID, "the idempotent replay returns the same id")

		var email struct {
			Object    string   `json:"object"`
			ReplyTo   []string `json:"reply_to"`
			LastEvent string   `json:"last_event"`
		}
		require.NoError(t, json.Unmarshal(got["get"], &email))
		require.Equal(t, "email", email.Object)
		require.Equal(t, []string{"reply@example.com"}, email.ReplyTo)
		// Delivery (to a simulated test address) may already have run.
		require.Contains(t, []string{"queued", "sent", "delivered"}, email.LastEvent)

		var permissive struct {
			Data   []struct{ ID string }
			Errors []struct{ Index int }
		}
		require.NoError(t, json.Unmarshal(got["permissive"], &permissive))
		require.Len(t, permissive.Data, 1)
		require.Len(t, permissive.Errors, 1)
		require.Equal(t, 1, permissive.Errors[0].Index)

		var cancel struct{ Object, ID string }
		require.NoError(t, json.Unmarshal(got["cancel"], &cancel))
		require.Equal(t, "email", cancel.Object)

		var list struct {
			Object  string `json:"object"`
			HasMore bool   `json:"has_more"`
			Data    []any  `json:"data"`
		}
		require.NoError(t, json.Unmarshal(got["list"], &list))
		require.Equal(t, "list", list.Object)
		require.Len(t, list.Data, 2)
		require.True(t, list.HasMore)

		var domain struct {
			Name    string           `json:"name"`
			Records []map[string]any `json:"records"`
		}
		require.NoError(t, json.Unmarshal(got["domainCreate"], &domain))
		require.Len(t, domain.Records, 4)
		require.Equal(t, "bounce", domain.Records[1]["name"], "customReturnPath reached the server")
		require.JSONEq(t, `"pending"`, string(got["domainAfterVerify"]))
		require.JSONEq(t, `true`, string(mustField(t, got["domainRemove"], "deleted")))
		var key struct{ ID, Token string }
		require.NoError(t, json.Unmarshal(got["keyCreate"], &key))
		require.True(t, strings.HasPrefix(key.Token, "re_"))
		require.JSONEq(t, `"api_key"`, string(mustField(t, got["keyUpdate"], "object")))
		require.JSONEq(t, `true`, string(mustField(t, got["keyRemove"], "deleted")))

		var missing, invalid struct {
			StatusCode int    `json:"statusCode"`
			Name       string `json:"name"`
			Message    string `json:"message"`
		}
		require.NoError(t, json.Unmarshal(got["missing"], &missing))
		require.Equal(t, 404, missing.StatusCode)
		require.Equal(t, "not_found", missing.Name)
		require.NoError(t, json.Unmarshal(got["invalid"], &invalid))
		require.Equal(t, 422, invalid.StatusCode)
		require.True(t, strings.HasPrefix(invalid.Message, "Invalid `to` field"), invalid.Message)
	}
	s.stop(t)
}

// firstKey waits for the API key that a first start prints.
func firstKey(t *testing.T, s *server) string {
	t.Helper()
	waitFor(t, "a key on stdout", func() bool { return tokenRE.MatchString(s.stdout.String()) })
	return tokenRE.FindString(s.stdout.String())
}

// runNode runs a script of e2e/node with env added to the environment and
// returns the JSON object it prints: what each SDK call returned, by name.
// The script exits non-zero at the first unexpected answer.
func runNode(t *testing.T, node, script string, env ...string) map[string]json.RawMessage {
	t.Helper()
	cmd := exec.Command(node, script)
	cmd.Dir = "node"
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s: %s", script, out)
	var got map[string]json.RawMessage
	require.NoError(t, json.Unmarshal(out, &got), "%s", out)
	return got
}

// mustField returns one field of a JSON object.
func mustField(t *testing.T, obj json.RawMessage, name string) json.RawMessage {
	t.Helper()
	var m map[string]json.RawMessage
	require.NoError(t, json.Unmarshal(obj, &m), "%s", obj)
	v, ok := m[name]
	require.True(t, ok, "no %q in %s", name, obj)
	return v
}

// TestNodeSDKContacts drives segments, contacts, memberships and topics with the
// official Node SDK (e2e/node/contacts.mjs checks each answer as it goes).
func TestNodeSDKContacts(t *testing.T) {
	node := nodeSDK(t)
	s := start(t, "--data-dir", t.TempDir())
	key := firstKey(t, s)
	got := runNode(t, node, "contacts.mjs", "RESEND_BASE_URL="+s.url, "RESEND_API_KEY="+key)
	require.JSONEq(t, `"segment"`, string(mustField(t, got["segmentGet"], "object")))
	require.JSONEq(t, `"contact"`, string(mustField(t, got["contactGetById"], "object")))
	require.JSONEq(t, `{"plan":"pro","seats":3}`, string(mustField(t, got["contactGetById"], "properties")))
	require.JSONEq(t, `true`, string(mustField(t, got["contactRemove"], "deleted")))
	require.JSONEq(t, `true`, string(mustField(t, got["segmentRemove"], "deleted")))

	require.JSONEq(t, `"topic"`, string(mustField(t, got["topicGet"], "object")))
	require.JSONEq(t, `"private"`, string(mustField(t, got["topicGet"], "visibility")))
	require.JSONEq(t, `"Shipped this week"`, string(mustField(t, got["topicGetUpdated"], "description")))
	require.JSONEq(t, `"contact_topics"`, string(mustField(t, got["contactTopicUpdate"], "object")))
	require.JSONEq(t, string(mustField(t, got["contactCreate"], "id")), string(mustField(t, got["contactTopicUpdate"], "id")))
	topic := mustField(t, got["topicCreate"], "id")
	require.JSONEq(t, string(topic), string(mustField(t, got["emailToSubscriberGet"], "topic_id")))
	require.JSONEq(t, `"delivered"`, string(mustField(t, got["emailToSubscriberGet"], "last_event")),
		"a contact who opted in receives it")
	require.JSONEq(t, `"failed"`, string(mustField(t, got["emailToStrangerGet"], "last_event")),
		"a stranger does not when the topic's default is opt_out")
	require.JSONEq(t, `true`, string(mustField(t, got["topicRemove"], "deleted")))
}

// TestNodeSDKContactProperties drives contact properties with the official
// Node SDK (e2e/node/properties.mjs checks each answer as it goes).
func TestNodeSDKContactProperties(t *testing.T) {
	node := nodeSDK(t)
	s := start(t, "--data-dir", t.TempDir())
	key := firstKey(t, s)
	got := runNode(t, node, "properties.mjs", "RESEND_BASE_URL="+s.url, "RESEND_API_KEY="+key)
	require.JSONEq(t, `"contact_property"`, string(mustField(t, got["create"], "object")))
	require.JSONEq(t, `"contact_property"`, string(mustField(t, got["get"], "object")))
	require.JSONEq(t, `"free"`, string(mustField(t, got["get"], "fallbackValue")))
	require.JSONEq(t, `"contact_property"`, string(mustField(t, got["createNoFallback"], "object")))
	var list struct {
		Data []map[string]json.RawMessage `json:"data"`
	}
	require.NoError(t, json.Unmarshal(got["list"], &list))
	require.Len(t, list.Data, 2)
	require.JSONEq(t, `"seats"`, string(list.Data[0]["key"]))
	require.JSONEq(t, `"number"`, string(list.Data[0]["type"]))
	require.JSONEq(t, `null`, string(list.Data[0]["fallbackValue"]), "created without a fallback")
	for name, status := range map[string]int{"duplicate": 409, "wrongFallback": 422, "updateWrongType": 422, "contactWrongType": 422, "getRemoved": 404} {
		var e struct {
			StatusCode int    `json:"statusCode"`
			Name       string `json:"name"`
			Message    string `json:"message"`
		}
		require.NoError(t, json.Unmarshal(got[name], &e), name)
		require.Equal(t, status, e.StatusCode, name)
		require.NotEmpty(t, e.Name, name)
		require.NotEmpty(t, e.Message, name)
	}
	require.JSONEq(t, `{"seats":3,"plan":"pro"}`, string(mustField(t, got["contactGet"], "properties")))
	require.JSONEq(t, `10`, string(mustField(t, got["getUpdated"], "fallbackValue")))
	require.JSONEq(t, `true`, string(mustField(t, got["remove"], "deleted")))
}

// TestNodeSDKTemplates drives templates and sending with a template with
// the official Node SDK (e2e/node/templates.mjs checks each answer as it goes).
func TestNodeSDKTemplates(t *testing.T) {
	node := nodeSDK(t)
	s := start(t, "--data-dir", t.TempDir())
	key := firstKey(t, s)
	got := runNode(t, node, "templates.mjs", "RESEND_BASE_URL="+s.url, "RESEND_API_KEY="+key)
	require.JSONEq(t, `"template"`, string(mustField(t, got["create"], "object")))
	require.JSONEq(t, `"template"`, string(mustField(t, got["get"], "object")))
	require.JSONEq(t, `["help@resend.dev"]`, string(mustField(t, got["get"], "reply_to")))
	require.JSONEq(t, `"published"`, string(mustField(t, got["getChained"], "status")))
	require.JSONEq(t, `true`, string(mustField(t, got["getEdited"], "has_unpublished_versions")))
	require.JSONEq(t, `"Welcome (Copy)"`, string(mustField(t, got["getDuplicate"], "name")))
	require.JSONEq(t, `true`, string(mustField(t, got["remove"], "deleted")))
	// The published version was sent, rendered and escaped, with the template's defaults.
	require.JSONEq(t, `"Welcome, Ada <3"`, string(mustField(t, got["sentGet"], "subject")))
	require.JSONEq(t, `"<p>Hi Ada &lt;3, plan free x4</p>"`, string(mustField(t, got["sentGet"], "html")))
	require.JSONEq(t, `"Hi Ada <3"`, string(mustField(t, got["sentGet"], "text")))
	require.JSONEq(t, `"Acme <onboarding@resend.dev>"`, string(mustField(t, got["sentGet"], "from")))
	require.JSONEq(t, `"Yours"`, string(mustField(t, got["batchGet"], "subject")))
	require.JSONEq(t, `"<p>9.5</p>"`, string(mustField(t, got["batchGet"], "html")))
	for name, status := range map[string]int{"createReserved": 422, "sendDraft": 422, "sendMissingVariable": 422,
		"sendWithHtml": 422, "sendUnknown": 404, "getRemoved": 404} {
		var e struct {
			StatusCode int    `json:"statusCode"`
			Name       string `json:"name"`
			Message    string `json:"message"`
		}
		require.NoError(t, json.Unmarshal(got[name], &e), name)
		require.Equal(t, status, e.StatusCode, name)
		require.NotEmpty(t, e.Name, name)
		require.NotEmpty(t, e.Message, name)
	}
}

// TestNodeSDKBroadcasts sends a broadcast to a segment with the official
// Node SDK through the real binary (its broadcast worker and unsubscribe
// route included): every subscribed contact gets one email with its merge
// tags filled and a working unsubscribe link; the unsubscribed one gets none.
func TestNodeSDKBroadcasts(t *testing.T) {
	node := nodeSDK(t)
	// The public URL is the server's own address, so that the unsubscribe
	// links in the emails point back at it.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	s := start(t, "--data-dir", t.TempDir(), "--http-addr", addr, "--public-url", "http://"+addr)
	key := firstKey(t, s)
	got := runNode(t, node, "broadcasts.mjs", "RESEND_BASE_URL="+s.url, "RESEND_API_KEY="+key)
	var create struct{ ID string }
	require.NoError(t, json.Unmarshal(got["create"], &create))
	require.JSONEq(t, `true`, string(mustField(t, got["remove"], "deleted")))

	var emails struct {
		Data []struct {
			ID      string   `json:"id"`
			To      []string `json:"to"`
			Subject string   `json:"subject"`
		} `json:"data"`
	}
	require.NoError(t, json.Unmarshal(got["emails"], &emails))
	subjects := map[string]string{}
	ids := map[string]string{}
	for _, e := range emails.Data {
		require.Len(t, e.To, 1)
		_, seen := subjects[e.To[0]]
		require.False(t, seen, "one email per contact: %s twice", e.To[0])
		subjects[e.To[0]], ids[e.To[0]] = e.Subject, e.ID
	}
	require.Equal(t, map[string]string{"delivered+jane@resend.dev": "Hi Jane", "delivered+nameless@resend.dev": "Hi there"}, subjects)

	// The broadcast's recipients and clicked links, through the SDK.
	type recipients struct {
		HasMore bool `json:"has_more"`
		Data    []struct {
			ID        string  `json:"id"`
			ContactID *string `json:"contact_id"`
			Email     string  `json:"email"`
		} `json:"data"`
	}
	var delivered, first, next, bounced recipients
	require.NoError(t, json.Unmarshal(got["recipients"], &delivered))
	require.Len(t, delivered.Data, 2)
	require.ElementsMatch(t, []string{"delivered+jane@resend.dev", "delivered+nameless@resend.dev"},
		[]string{delivered.Data[0].Email, delivered.Data[1].Email})
	require.NotNil(t, delivered.Data[0].ContactID)
	require.NoError(t, json.Unmarshal(got["recipientsPage"], &first))
	require.NoError(t, json.Unmarshal(got["recipientsNext"], &next))
	require.True(t, first.HasMore)
	require.False(t, next.HasMore)
	require.Len(t, next.Data, 1)
	require.NotEqual(t, first.Data[0].Email, next.Data[0].Email, "the next page follows the cursor")
	require.NoError(t, json.Unmarshal(got["bounced"], &bounced))
	require.Empty(t, bounced.Data)
	require.JSONEq(t, `[]`, string(mustField(t, got["clickedLinks"], "data")))

	// The email is delivered (a simulated test address) and its unsubscribe
	// link, followed with a one-click POST, unsubscribes the contact.
	var html string
	waitFor(t, "the broadcast email to be delivered", func() bool {
		_, body, err := request("GET", s.url+"/emails/"+ids["delivered+jane@resend.dev"], key, "")
		if err != nil || body["last_event"] != "delivered" {
			return false
		}
		html, _ = body["html"].(string)
		return true
	})
	require.Contains(t, html, "Hello Jane")
	link := regexp.MustCompile(`href="(http://` + regexp.QuoteMeta(addr) + `/unsubscribe/[^"]+)"`).FindStringSubmatch(html)
	require.NotNil(t, link, "an unsubscribe link to this server in %s", html)
	resp, err := http.Post(link[1], "application/x-www-form-urlencoded", strings.NewReader("List-Unsubscribe=One-Click"))
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, 200, resp.StatusCode)
	_, contact, err := request("GET", s.url+"/contacts/delivered+jane@resend.dev", key, "")
	require.NoError(t, err)
	require.Equal(t, true, contact["unsubscribed"])

	// The same link opened by a person in a browser: a page that asks, and
	// a button that unsubscribes.
	_, body, err := request("GET", s.url+"/emails/"+ids["delivered+nameless@resend.dev"], key, "")
	require.NoError(t, err)
	link = regexp.MustCompile(`href="(http://[^"]+/unsubscribe/[^"]+)"`).FindStringSubmatch(body["html"].(string))
	require.NotNil(t, link)
	ctx := browser(t)
	step, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	require.NoError(t, chromedp.Do(step, chromedp.Navigate(link[1]), chromedp.WaitVisible(chromedp.CSS("button"))))
	page, err := chromedp.Run(step, chromedp.Text(chromedp.CSS("body")))
	require.NoError(t, err)
	require.Contains(t, page, "delivered+nameless@resend.dev")
	_, contact, err = request("GET", s.url+"/contacts/delivered+nameless@resend.dev", key, "")
	require.NoError(t, err)
	require.Equal(t, false, contact["unsubscribed"], "opening the page changes nothing")
	require.NoError(t, chromedp.Do(step, chromedp.Click(chromedp.CSS("button"))))
	waitFor(t, "the button to unsubscribe the contact", func() bool {
		_, contact, err := request("GET", s.url+"/contacts/delivered+nameless@resend.dev", key, "")
		return err == nil && contact["unsubscribed"] == true
	})
	waitFor(t, "the confirmation page", func() bool {
		page, err := chromedp.Run(step, chromedp.Text(chromedp.CSS("body")))
		return err == nil && strings.Contains(page, "is unsubscribed")
	})
}

// TestNodeSDKShare drives sent emails' attachments and share links with the
// official Node SDK against the binary, then opens the share link in
// Chromium: the email shows, and its script does not run.
func TestNodeSDKShare(t *testing.T) {
	node := nodeSDK(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	s := start(t, "--data-dir", t.TempDir(), "--http-addr", addr, "--public-url", "http://"+addr)
	key := firstKey(t, s)
	got := runNode(t, node, "share.mjs", "RESEND_BASE_URL="+s.url, "RESEND_API_KEY="+key)
	require.JSONEq(t, `200`, string(got["downloadStatus"]))
	require.JSONEq(t, `"hello from node"`, string(got["downloadBody"]))
	require.JSONEq(t, `"attachment; filename=notes.txt"`, string(got["downloadDisposition"]))
	var list struct {
		Data []struct {
			ContentDisposition string `json:"content_disposition"`
			ContentID          string `json:"content_id"`
		}
	}
	require.NoError(t, json.Unmarshal(got["attachmentsList"], &list))
	require.Len(t, list.Data, 2)
	require.Equal(t, "inline", list.Data[1].ContentDisposition)
	require.Equal(t, "logo", list.Data[1].ContentID)
	require.Contains(t, string(got["shareTooLong"]), "48 hours")
	var share struct{ URL string }
	require.NoError(t, json.Unmarshal(got["share"], &share))
	require.True(t, strings.HasPrefix(share.URL, "http://"+addr+"/share/"), share.URL)

	ctx := browser(t)
	step, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	require.NoError(t, chromedp.Do(step, chromedp.Navigate(share.URL), chromedp.WaitVisible(chromedp.CSS("iframe#body"))))
	title, err := chromedp.Run(step, chromedp.Title())
	require.NoError(t, err)
	require.Equal(t, "Shared with Node", title)
	links, err := chromedp.Run(step, chromedp.Text(chromedp.CSS("#attachments")))
	require.NoError(t, err)
	require.Contains(t, links, "notes.txt")
	require.Contains(t, links, "logo.png")
}

// TestNodeSDKContactImports drives contact imports with the official Node
// SDK's contacts.imports (multipart/form-data), unchanged (e2e/node/imports.mjs
// checks each answer as it goes).
func TestNodeSDKContactImports(t *testing.T) {
	node := nodeSDK(t)
	s := start(t, "--data-dir", t.TempDir())
	key := firstKey(t, s)
	got := runNode(t, node, "imports.mjs", "RESEND_BASE_URL="+s.url, "RESEND_API_KEY="+key)
	require.JSONEq(t, `"contact_import"`, string(mustField(t, got["create"], "object")))
	require.JSONEq(t, `{"total":3,"created":1,"updated":1,"skipped":0,"failed":1}`, string(mustField(t, got["get"], "counts")))
	require.JSONEq(t, `"completed"`, string(mustField(t, got["get"], "status")))
	require.JSONEq(t, `422`, string(mustField(t, got["badCSV"], "statusCode")))
}

// TestNodeSDKLogs drives the Logs API with the official Node SDK
// (resend.logs.list and get; e2e/node/logs.mjs checks each answer).
func TestNodeSDKLogs(t *testing.T) {
	node := nodeSDK(t)
	s := start(t, "--data-dir", t.TempDir(), "--delivery", "capture")
	key := firstKey(t, s)
	got := runNode(t, node, "logs.mjs", "RESEND_BASE_URL="+s.url, "RESEND_API_KEY="+key)
	require.JSONEq(t, `"log"`, string(mustField(t, got["get"], "object")))
	var log struct {
		RequestBody struct {
			Attachments []struct{ Filename, Content string }
		} `json:"request_body"`
	}
	require.NoError(t, json.Unmarshal(got["get"], &log))
	require.Len(t, log.RequestBody.Attachments, 1)
	require.Equal(t, "[masked: 24 characters]", log.RequestBody.Attachments[0].Content)
	for name, status := range map[string]int{"missing": 404, "getMissing": 404, "getInvalid": 422} {
		var e struct {
			StatusCode int    `json:"statusCode"`
			Name       string `json:"name"`
		}
		require.NoError(t, json.Unmarshal(got[name], &e), name)
		require.Equal(t, status, e.StatusCode, name)
	}
	s.stop(t)
}

// TestNodeSDKBouncedEmail reads a bounced email with the official Node SDK
// (resend.emails.get; e2e/node/bounce.mjs checks the answer): the bounce
// object Resend added to GET /emails/{id} comes through the SDK.
func TestNodeSDKBouncedEmail(t *testing.T) {
	node := nodeSDK(t)
	s := start(t, "--data-dir", t.TempDir(), "--delivery", "capture")
	key := firstKey(t, s)
	got := runNode(t, node, "bounce.mjs", "RESEND_BASE_URL="+s.url, "RESEND_API_KEY="+key)
	var email struct {
		LastEvent string `json:"last_event"`
		Bounce    struct {
			Type, SubType, Message string
			DiagnosticCode         []string
		}
	}
	require.NoError(t, json.Unmarshal(got["get"], &email))
	require.Equal(t, "bounced", email.LastEvent)
	require.Equal(t, "Permanent", email.Bounce.Type)
	require.Equal(t, "NoEmail", email.Bounce.SubType)
	require.Equal(t, []string{"smtp; 550 5.1.1 Unknown User (test address)"}, email.Bounce.DiagnosticCode)
	s.stop(t)
}

// TestNodeSDKEmailMetrics drives GET /emails/metrics with the official Node
// SDK (resend.emails.metrics; e2e/node/metrics.mjs checks each answer):
// the test addresses' outcomes are counted in the rollup the metrics read.
func TestNodeSDKEmailMetrics(t *testing.T) {
	node := nodeSDK(t)
	s := start(t, "--data-dir", t.TempDir(), "--delivery", "capture")
	key := firstKey(t, s)
	got := runNode(t, node, "metrics.mjs", "RESEND_BASE_URL="+s.url, "RESEND_API_KEY="+key)
	var totals map[string]float64
	require.NoError(t, json.Unmarshal(mustField(t, got["totals"], "totals"), &totals))
	require.Equal(t, map[string]float64{"sent": 3, "delivered": 2, "bounced": 1}, totals)
	require.JSONEq(t, `"validation_error"`, string(mustField(t, got["refused"], "name")))
	s.stop(t)
}

// TestNodeSDKAutomations drives events and automations with the official
// Node SDK (e2e/node/automations.mjs checks each answer as it goes): the
// SDK's camelCase configs arrive in snake_case, a run moves on the real
// binary's queue to a delay, and stop cancels it.
func TestNodeSDKAutomations(t *testing.T) {
	node := nodeSDK(t)
	s := start(t, "--data-dir", t.TempDir())
	key := firstKey(t, s)
	got := runNode(t, node, "automations.mjs", "RESEND_BASE_URL="+s.url, "RESEND_API_KEY="+key)
	require.JSONEq(t, `"event"`, string(mustField(t, got["eventGet"], "object")))
	require.JSONEq(t, `{"plan":"string","seats":"number"}`, string(mustField(t, got["eventGet"], "schema")))
	require.JSONEq(t, `"automation"`, string(mustField(t, got["automationGet"], "object")))
	require.JSONEq(t, `"enabled"`, string(mustField(t, got["automationGet"], "status")))
	require.JSONEq(t, `"event"`, string(mustField(t, got["send"], "object")))
	require.JSONEq(t, `"automation_run"`, string(mustField(t, got["run"], "object")))
	require.JSONEq(t, `"disabled"`, string(mustField(t, got["stop"], "status")))
	for name, status := range map[string]int{"eventReserved": 422, "automationInvalid": 422, "sendWrongType": 422, "automationGetRemoved": 404} {
		var e struct {
			StatusCode int    `json:"statusCode"`
			Name       string `json:"name"`
			Message    string `json:"message"`
		}
		require.NoError(t, json.Unmarshal(got[name], &e), name)
		require.Equal(t, status, e.StatusCode, name)
		require.NotEmpty(t, e.Message, name)
	}
	var run struct {
		Steps []struct{ Key, Status string } `json:"steps"`
	}
	require.NoError(t, json.Unmarshal(got["run"], &run))
	keys := []string{}
	for _, st := range run.Steps {
		keys = append(keys, st.Key+"="+st.Status)
	}
	require.Equal(t, []string{"start=completed", "name=completed", "join=completed", "is_pro=completed", "later=waiting"}, keys)
}
