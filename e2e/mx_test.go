package e2e

import (
	"bytes"
	"crypto/tls"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
	"github.com/google/uuid"
	"github.com/resend/resend-go/v3"
	"github.com/stretchr/testify/require"

	"github.com/godwit/godwit/internal/dnscheck"
	"github.com/godwit/godwit/internal/dnscheck/dnstest"
	"github.com/godwit/godwit/internal/godwittest"
	"github.com/godwit/godwit/internal/store/sqlstore"
)

// trackingURL is the --public-url of the MX tests: the links Godwit writes
// into tracked emails start with it, and the tests fetch their paths from
// the server itself (nothing resolves this name).
const trackingURL = "http://links.godwit.test"

// mxEnv is a godwit serve delivering straight to the recipients' MX hosts,
// found in a loopback DNS server and all served by one loopback MX (its
// port is --mx-port), with an SMTP listener for late bounces and
// complaints (--mx-addr), and a webhook endpoint for the events the tests
// look for. Every destination domain, and the endpoint, is on 127.0.0.1,
// hence --allow-private-networks.
type mxEnv struct {
	s       *server
	key     string // the default team's first key
	dns     *dnstest.Server
	mx      *godwittest.MX
	inbound string // the --mx-addr listener
	// submission is the --smtp-addr listener (loopback: AUTH without TLS).
	submission string
	dbArgs     []string  // --data-dir and --database-url, for the CLI
	hooks      *hookSink // the endpoint of the default team's webhook
}

// The destinations: two domains with MX records, one with only an address
// (RFC 5321's implicit MX). The MX refuses recipients named unknown* (no
// such user) and spamhaus* (the sender's IP is on a blocklist).
var mxDestinations = map[string]string{"dest.test": "mx.dest.test", "other.test": "mx.other.test", "bare.test": "",
	"gm.test": "mx1.google.com"} // a Gmail MX host name: the gmail destination (docs/delivery.md)

func startMXEnv(t *testing.T, kind sqlstore.Dialect) *mxEnv {
	t.Helper()
	cert, priv := newCert(t)
	dns := dnstest.NewServer(t)
	mx := newMXSink(t, godwittest.MXOptions{
		Rcpt: func(rcpt string, attempt int) error {
			if strings.HasPrefix(rcpt, "unknown") {
				return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "<" + rcpt + ">: Recipient address rejected: User unknown"}
			}
			if strings.HasPrefix(rcpt, "throttled") && attempt == 1 {
				return &smtp.SMTPError{Code: 421, EnhancedCode: smtp.EnhancedCode{4, 7, 0}, Message: "Try again later, closing connection."}
			}
			if strings.HasPrefix(rcpt, "spamhaus") {
				return &smtp.SMTPError{Code: 554, EnhancedCode: smtp.EnhancedCode{5, 7, 1},
					Message: "Service unavailable; Client host [127.0.0.1] blocked using zen.spamhaus.org"}
			}
			return nil
		},
		// A certificate Godwit cannot verify: MX delivery encrypts
		// opportunistically all the same.
		TLS: &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{cert.Raw}, PrivateKey: priv}}},
	})
	const loopback = "127.0.0.1"
	for domain, host := range mxDestinations {
		if host == "" {
			dns.SetAddr(domain, loopback)
			continue
		}
		dns.SetMX(domain, dnscheck.MX{Host: host, Preference: 10})
		dns.SetAddr(host, loopback)
	}
	_, port, err := net.SplitHostPort(mx.Addr())
	require.NoError(t, err)

	dbArgs := []string{"--data-dir", t.TempDir()}
	if kind == sqlstore.Postgres {
		dbArgs = append(dbArgs, "--database-url", godwittest.StoreURL(t, kind))
	}
	s := start(t, append([]string{"--dns-resolver", dns.Addr(), "--delivery", "mx", "--mx-port", port,
		"--allow-private-networks", "--mx-addr", "127.0.0.1:0", "--public-url", trackingURL, "--smtp-addr", "127.0.0.1:0"}, dbArgs...)...)
	e := &mxEnv{s: s, key: firstKey(t, s), dns: dns, mx: mx, inbound: loggedAddr(t, s, "MX receiving mail", "mx_addr"),
		submission: loggedAddr(t, s, "serving SMTP submission", "smtp_addr"), dbArgs: dbArgs, hooks: &hookSink{}}
	rcv := httptest.NewServer(e.hooks)
	t.Cleanup(rcv.Close)
	status, body, err := request("POST", s.url+"/webhooks", e.key, `{"endpoint":"`+rcv.URL+`/godwit","events":["email.bounced",
		"email.complained","email.opened","email.clicked","email.suppressed","suppression.added","email.received"]}`)
	require.NoError(t, err)
	require.Equal(t, 201, status, "%v", body)
	e.hooks.secret = body["signing_secret"].(string)
	return e
}

// hookSink is a webhook endpoint on loopback that keeps every post.
type hookSink struct {
	secret string // set before anything is posted
	mu     sync.Mutex
	posts  []hookPost
}

type hookPost struct {
	header http.Header
	body   string
}

func (h *hookSink) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	h.mu.Lock()
	h.posts = append(h.posts, hookPost{r.Header.Clone(), string(b)})
	h.mu.Unlock()
}

// waitHook waits for a post of event typ whose data match holds for,
// checks its signature with the Go SDK, and returns its data.
func (e *mxEnv) waitHook(t *testing.T, typ string, match func(data map[string]any) bool) map[string]any {
	t.Helper()
	var found *hookPost
	var data map[string]any
	waitWithin(t, 20*time.Second, "a webhook post of "+typ, func() bool {
		e.hooks.mu.Lock()
		defer e.hooks.mu.Unlock()
		for _, p := range e.hooks.posts {
			var ev struct {
				Type string         `json:"type"`
				Data map[string]any `json:"data"`
			}
			if json.Unmarshal([]byte(p.body), &ev) == nil && ev.Type == typ && match(ev.Data) {
				found, data = &p, ev.Data
				return true
			}
		}
		return false
	})
	err := resend.NewClient("").Webhooks.Verify(&resend.VerifyWebhookOptions{Payload: found.body, WebhookSecret: e.hooks.secret,
		Headers: resend.WebhookHeaders{Id: found.header.Get("svix-id"), Timestamp: found.header.Get("svix-timestamp"), Signature: found.header.Get("svix-signature")}})
	require.NoError(t, err, "the signature of %s", typ)
	return data
}

// about matches webhook data of the email id.
func about(id string) func(map[string]any) bool {
	return func(d map[string]any) bool { return d["email_id"] == id }
}

// loggedAddr waits for the log line msg and returns its attribute attr.
func loggedAddr(t *testing.T, s *server, msg, attr string) string {
	t.Helper()
	var addr string
	waitFor(t, "the log line "+msg, func() bool {
		for _, line := range strings.Split(s.stderr.String(), "\n") {
			var rec map[string]any
			if json.Unmarshal([]byte(line), &rec) == nil && rec["msg"] == msg {
				addr, _ = rec[attr].(string)
				return addr != ""
			}
		}
		return false
	})
	return addr
}

// teamKey makes a key of a new team with the CLI, beside the running server.
func (e *mxEnv) teamKey(t *testing.T, team string) string {
	t.Helper()
	out, stderr, err := run(t, append([]string{"keys", "create", "--name", team, "--team", team}, e.dbArgs...)...)
	require.NoError(t, err, stderr)
	return strings.TrimSpace(out)
}

// send posts an email and returns its id.
func (e *mxEnv) send(t *testing.T, body map[string]any) string {
	t.Helper()
	b, err := json.Marshal(body)
	require.NoError(t, err)
	status, resp, err := request("POST", e.s.url+"/emails", e.key, string(b))
	require.NoError(t, err)
	require.Equal(t, 200, status, "%v", resp)
	return resp["id"].(string)
}

// get returns GET path as JSON, requiring a 200.
func (e *mxEnv) get(t *testing.T, path string) map[string]any {
	t.Helper()
	status, body, err := request("GET", e.s.url+path, e.key, "")
	require.NoError(t, err)
	require.Equal(t, 200, status, "GET %s: %v", path, body)
	return body
}

// waitLastEvent waits until the email's last_event is want.
func (e *mxEnv) waitLastEvent(t *testing.T, id, want string) {
	t.Helper()
	var got any
	waitWithin(t, 20*time.Second, "email "+id+" to be "+want, func() bool {
		_, body, err := request("GET", e.s.url+"/emails/"+id, e.key, "")
		if err == nil {
			got = body["last_event"]
		}
		return got == want
	})
}

// received waits until the MX has the email for every one of rcpts and
// returns its messages.
func (e *mxEnv) received(t *testing.T, id, domain string, rcpts ...string) []godwittest.MXMessage {
	t.Helper()
	var got []godwittest.MXMessage
	waitWithin(t, 20*time.Second, "email "+id+" at the MX", func() bool {
		got = e.mx.ForMessageID("<" + id + "@" + domain + ">")
		var have []string
		for _, m := range got {
			have = append(have, m.Rcpts...)
		}
		slices.Sort(have)
		return slices.Equal(slices.Compact(have), slices.Sorted(slices.Values(rcpts)))
	})
	return got
}

// attempts returns GET /emails/{id}/delivery's attempts by recipient
// (the latest for each) and its event types in order.
func (e *mxEnv) delivery(t *testing.T, id string) (map[string]map[string]any, []map[string]any) {
	t.Helper()
	body := e.get(t, "/emails/"+id+"/delivery")
	require.Equal(t, "email_delivery", body["object"])
	byRcpt := map[string]map[string]any{}
	for _, a := range body["attempts"].([]any) {
		a := a.(map[string]any)
		byRcpt[a["recipient"].(string)] = a
	}
	var evs []map[string]any
	for _, ev := range body["events"].([]any) {
		evs = append(evs, ev.(map[string]any))
	}
	return byRcpt, evs
}

func eventTypes(evs []map[string]any) []string {
	var out []string
	for _, ev := range evs {
		out = append(out, ev["type"].(string))
	}
	return out
}

func lastOfType(t *testing.T, evs []map[string]any, typ string) map[string]any {
	t.Helper()
	for i := len(evs) - 1; i >= 0; i-- {
		if evs[i]["type"] == typ {
			return evs[i]
		}
	}
	t.Fatalf("no %s event in %v", typ, eventTypes(evs))
	return nil
}

// sendReport hands msg to the --mx-addr listener for rcpt, as a remote MTA
// returning a report does (null sender).
func (e *mxEnv) sendReport(rcpt, msg string) error {
	return e.sendMX("", []string{rcpt}, msg)
}

// sendMX hands msg (LF line ends become CRLF) to the --mx-addr listener,
// as a remote MTA does, without TLS.
func (e *mxEnv) sendMX(from string, rcpts []string, msg string) error {
	c, err := smtp.Dial(e.inbound)
	if err != nil {
		return err
	}
	defer c.Close()
	c.CommandTimeout, c.SubmissionTimeout = 10*time.Second, 10*time.Second
	if err := c.Hello("mta.dest.test"); err != nil {
		return err
	}
	if err := c.Mail(from, nil); err != nil {
		return err
	}
	for _, rcpt := range rcpts {
		if err := c.Rcpt(rcpt, nil); err != nil {
			return err
		}
	}
	w, err := c.Data()
	if err != nil {
		return err
	}
	if _, err := w.Write([]byte(strings.ReplaceAll(strings.ReplaceAll(msg, "\r\n", "\n"), "\n", "\r\n"))); err != nil {
		return err
	}
	if err := w.Close(); err != nil {
		return err
	}
	return c.Quit()
}

// TestMXDelivery runs the binary as the MTA it is, on each store: direct
// delivery to MX hosts found in DNS, DKIM-signed; bounces and complaints
// that arrive later on --mx-addr; open and click tracking; the suppression
// list; a scheduled email; the rate limit; and the official Go SDK. One
// server per store; the cases run in parallel on it.
func TestMXDelivery(t *testing.T) {
	for _, kind := range godwittest.Kinds {
		t.Run(string(kind), func(t *testing.T) {
			t.Parallel()
			e := startMXEnv(t, kind)
			verifiedDomain(t, e.s, e.key, e.dns, "acme.test")
			t.Run("direct", e.testDirect)
			t.Run("late bounce and complaint", e.testLateReports)
			t.Run("tracking", e.testTracking)
			t.Run("suppressions", e.testSuppressions)
			t.Run("bounce classes", e.testBounceClasses)
			t.Run("scheduled", e.testScheduled)
			t.Run("throttled destination", e.testThrottledDestination)
			t.Run("rate limit", e.testRateLimit)
			t.Run("Go SDK", e.testGoSDK)
			t.Run("long header names", e.testLongHeaderNames)
			t.Run("receiving", e.testReceiving)
			t.Run("receiving rules", e.testReceivingRules)
			t.Run("receiving a large message", e.testReceivingLarge)
		})
	}
}

// testDirect: one email to three domains leaves in one transaction per
// domain, to each domain's MX (or its address when it has none), from the
// email's return path, DKIM-signed by the sending domain.
func (e *mxEnv) testDirect(t *testing.T) {
	t.Parallel()
	rcpts := []string{"alice@dest.test", "bob@other.test", "carol@bare.test"}
	id := e.send(t, map[string]any{"from": "Acme <app@acme.test>", "to": []string{"alice@dest.test", "Bob <bob@other.test>"},
		"cc": "carol@bare.test", "subject": "Direct", "html": "<p>Straight to the MX</p>"})
	msgs := e.received(t, id, "acme.test", rcpts...)
	require.Len(t, msgs, 3, "one transaction per destination domain")
	for _, m := range msgs {
		require.Len(t, m.Rcpts, 1)
		require.Equal(t, "bounces+"+id+"@send.acme.test", m.From, "the envelope sender names the email")
		require.True(t, m.TLS, "the MX offers STARTTLS, so the message goes encrypted")
		verifyDKIM(t, e.dns, m.Data, "acme.test")
		p := parseMail(t, m.Data)
		require.Equal(t, "Direct", p.Header.Get("Subject"))
		require.Equal(t, "<p>Straight to the MX</p>", strings.TrimSpace(partOfType(t, p, "text/html")))
	}

	e.waitLastEvent(t, id, "delivered")
	attempts, evs := e.delivery(t, id)
	require.Len(t, attempts, 3)
	for rcpt, host := range map[string]string{"alice@dest.test": "mx.dest.test", "bob@other.test": "mx.other.test", "carol@bare.test": "bare.test"} {
		a := attempts[rcpt]
		require.NotNil(t, a, rcpt)
		require.Equal(t, "delivered", a["outcome"], rcpt)
		require.Equal(t, host, a["host"], rcpt)
		require.EqualValues(t, 250, a["smtp_code"], rcpt)
	}
	require.Equal(t, []string{"queued", "sent", "delivered"}, slices.Compact(eventTypes(evs)))
}

// testLateReports: DSNs and an ARF report, sent to the return paths of
// delivered emails, bounce (suppressing for a 5.x.x status, not for a
// 4.x.x) and complain (and suppress); addresses that name no email are
// refused at RCPT.
func (e *mxEnv) testLateReports(t *testing.T) {
	t.Parallel()
	bounced := e.send(t, map[string]any{"from": "app@acme.test", "to": "gone-later@dest.test", "subject": "Later", "text": "x"})
	complained := e.send(t, map[string]any{"from": "app@acme.test", "to": "reader@dest.test", "subject": "Later", "text": "x"})
	full := e.send(t, map[string]any{"from": "app@acme.test", "to": "full@dest.test", "subject": "Later", "text": "x"})
	returnPath := map[string]string{}
	for id, rcpt := range map[string]string{bounced: "gone-later@dest.test", complained: "reader@dest.test", full: "full@dest.test"} {
		m := e.received(t, id, "acme.test", rcpt)
		returnPath[id] = m[0].From
		e.waitLastEvent(t, id, "delivered")
	}

	var smtpErr *smtp.SMTPError
	err := e.sendReport("bounces+"+uuid.NewString()+"@send.acme.test", "Subject: x\n\nx\n")
	require.True(t, errors.As(err, &smtpErr), "%v", err)
	require.Equal(t, 550, smtpErr.Code, "an address naming no email is refused")
	err = e.sendReport("postmaster@send.acme.test", "Subject: x\n\nx\n")
	require.True(t, errors.As(err, &smtpErr), "%v", err)
	require.Equal(t, 550, smtpErr.Code)

	const diag = "smtp; 550 5.1.1 <gone-later@dest.test>: Recipient address rejected: User unknown"
	require.NoError(t, e.sendReport(returnPath[bounced], dsnReport(returnPath[bounced], bounced, "gone-later@dest.test", "5.1.1", diag)))
	require.NoError(t, e.sendReport(returnPath[full], dsnReport(returnPath[full], full, "full@dest.test", "4.2.2", "smtp; 452 4.2.2 Mailbox full")))
	require.NoError(t, e.sendReport(returnPath[complained], `From: feedback@fbl.dest.test
To: `+returnPath[complained]+`
Subject: FW: Later
MIME-Version: 1.0
Content-Type: multipart/report; report-type=feedback-report; boundary="F"

--F
Content-Type: text/plain

This is an email abuse report.

--F
Content-Type: message/feedback-report

Feedback-Type: abuse
User-Agent: DestFBL/1.0
Version: 1
Original-Mail-From: <`+returnPath[complained]+`>
Original-Rcpt-To: <reader@dest.test>
Arrival-Date: `+time.Now().Format(time.RFC1123Z)+`
Reported-Domain: acme.test

--F
Content-Type: text/rfc822-headers

From: app@acme.test
To: reader@dest.test
Message-ID: <`+complained+`@acme.test>
Subject: Later

--F--
`))

	e.waitLastEvent(t, bounced, "bounced")
	attempts, evs := e.delivery(t, bounced)
	a := attempts["gone-later@dest.test"]
	require.Equal(t, "bounced", a["outcome"])
	require.EqualValues(t, 550, a["smtp_code"])
	require.Equal(t, "5.1.1", a["enhanced_status"])
	require.Equal(t, "mailstore.dest.test", a["host"], "the reporting MTA's Remote-MTA")
	require.Equal(t, []string{"queued", "sent", "delivered", "bounced"}, eventTypes(evs))
	bounce := lastOfType(t, evs, "bounced")["data"].(map[string]any)["bounce"].(map[string]any)
	require.Equal(t, "Permanent", bounce["type"])
	require.Equal(t, []any{diag}, bounce["diagnosticCode"])
	sup := e.get(t, "/suppressions/gone-later@dest.test")
	require.Equal(t, "bounce", sup["origin"])
	require.Equal(t, bounced, sup["source_id"])
	hook := e.waitHook(t, "email.bounced", about(bounced))
	require.Equal(t, []any{"gone-later@dest.test"}, hook["to"])
	require.Equal(t, "Permanent", hook["bounce"].(map[string]any)["type"])
	hook = e.waitHook(t, "suppression.added", func(d map[string]any) bool { return d["email"] == "gone-later@dest.test" })
	require.Equal(t, "bounce", hook["origin"])
	require.Equal(t, bounced, hook["source_id"])

	e.waitLastEvent(t, complained, "complained")
	_, evs = e.delivery(t, complained)
	require.Equal(t, []string{"queued", "sent", "delivered", "complained"}, eventTypes(evs))
	sup = e.get(t, "/suppressions/reader@dest.test")
	require.Equal(t, "complaint", sup["origin"])
	require.Equal(t, complained, sup["source_id"])
	hook = e.waitHook(t, "email.complained", about(complained))
	require.Equal(t, []any{"reader@dest.test"}, hook["to"])
	hook = e.waitHook(t, "suppression.added", func(d map[string]any) bool { return d["email"] == "reader@dest.test" })
	require.Equal(t, "complaint", hook["origin"])

	// A 4.x.x failure is a Transient bounce: the address stays sendable.
	e.waitLastEvent(t, full, "bounced")
	hook = e.waitHook(t, "email.bounced", about(full))
	require.Equal(t, "Transient", hook["bounce"].(map[string]any)["type"])
	status, body, err := request("GET", e.s.url+"/suppressions/full@dest.test", e.key, "")
	require.NoError(t, err)
	require.Equal(t, 404, status, "%v", body)
}

// dsnReport is a delivery status notification, as a receiving MTA sends
// after it accepted the email id: rcpt failed with status.
func dsnReport(returnPath, id, rcpt, status, diag string) string {
	return `From: MAILER-DAEMON@mx.dest.test (Mail Delivery System)
To: ` + returnPath + `
Subject: Undelivered Mail Returned to Sender
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="B"

--B
Content-Type: text/plain

Your message could not be delivered.

--B
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.dest.test
Arrival-Date: ` + time.Now().Format(time.RFC1123Z) + `

Final-Recipient: rfc822; ` + rcpt + `
Original-Recipient: rfc822;` + rcpt + `
Action: failed
Status: ` + status + `
Remote-MTA: dns; mailstore.dest.test
Diagnostic-Code: ` + diag + `

--B
Content-Type: text/rfc822-headers

From: app@acme.test
To: ` + rcpt + `
Message-ID: <` + id + `@acme.test>
Subject: Later

--B--
`
}

var (
	clickRE = regexp.MustCompile(`href="(` + regexp.QuoteMeta(trackingURL) + `/t/c/[A-Za-z0-9_-]+)"`)
	openRE  = regexp.MustCompile(`src="(` + regexp.QuoteMeta(trackingURL) + `/t/o/[A-Za-z0-9_-]+)"`)
)

// testTracking: a domain with open and click tracking gets its links and a
// pixel rewritten; fetching them from the binary records opened and
// clicked, and the click redirects to the original link.
func (e *mxEnv) testTracking(t *testing.T) {
	t.Parallel()
	domainID := verifiedDomain(t, e.s, e.key, e.dns, "news.test")
	status, body, err := request("PATCH", e.s.url+"/domains/"+domainID, e.key, `{"open_tracking":true,"click_tracking":true}`)
	require.NoError(t, err)
	require.Equal(t, 200, status, "%v", body)
	d := e.get(t, "/domains/"+domainID)
	require.Equal(t, true, d["open_tracking"])
	require.Equal(t, true, d["click_tracking"])

	const offer = "https://shop.example/offer?a=1&b=2"
	id := e.send(t, map[string]any{"from": "News <news@news.test>", "to": "reader@other.test", "subject": "Offers",
		"html": `<html><body><p>Hello</p><a href="https://shop.example/offer?a=1&amp;b=2">See the offer</a> ` +
			`<a href="mailto:help@news.test">Write to us</a></body></html>`})
	m := e.received(t, id, "news.test", "reader@other.test")[0]
	verifyDKIM(t, e.dns, m.Data, "news.test")
	p := parseMail(t, m.Data)
	html, text := partOfType(t, p, "text/html"), partOfType(t, p, "text/plain")
	click := clickRE.FindStringSubmatch(html)
	open := openRE.FindStringSubmatch(html)
	require.NotNil(t, click, "a tracked link in %s", html)
	require.NotNil(t, open, "a pixel in %s", html)
	require.NotContains(t, html, "shop.example", "the link is replaced")
	require.Contains(t, html, `href="mailto:help@news.test"`, "mailto: is left alone")
	require.Contains(t, text, offer, "the text part keeps the real link")
	e.waitLastEvent(t, id, "delivered")

	// What a mail client does: load the pixel, follow the link.
	noRedirect := &http.Client{Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	fetch := func(link string) (*http.Response, []byte) {
		u, err := url.Parse(link)
		require.NoError(t, err)
		req, err := http.NewRequest("GET", e.s.url+u.Path, nil)
		require.NoError(t, err)
		req.Header.Set("User-Agent", "E2EMail/1.0")
		resp, err := noRedirect.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		return resp, b
	}
	resp, gif := fetch(open[1])
	require.Equal(t, 200, resp.StatusCode)
	require.Equal(t, "image/gif", resp.Header.Get("Content-Type"))
	require.Contains(t, resp.Header.Get("Cache-Control"), "no-store")
	require.True(t, bytes.HasPrefix(gif, []byte("GIF8")), "a GIF: %q", gif)
	require.Equal(t, "opened", e.get(t, "/emails/"+id)["last_event"])

	resp, _ = fetch(click[1])
	require.Equal(t, 302, resp.StatusCode)
	require.Equal(t, offer, resp.Header.Get("Location"))
	require.Equal(t, "clicked", e.get(t, "/emails/"+id)["last_event"])

	_, evs := e.delivery(t, id)
	require.Equal(t, []string{"queued", "sent", "delivered", "opened", "clicked"}, eventTypes(evs))
	opened := lastOfType(t, evs, "opened")["data"].(map[string]any)["open"].(map[string]any)
	require.Equal(t, "E2EMail/1.0", opened["userAgent"])
	clicked := lastOfType(t, evs, "clicked")["data"].(map[string]any)["click"].(map[string]any)
	require.Equal(t, offer, clicked["link"])
	require.Equal(t, "E2EMail/1.0", clicked["userAgent"])
	require.Equal(t, "127.0.0.1", clicked["ipAddress"])
	e.waitHook(t, "email.opened", about(id))
	hook := e.waitHook(t, "email.clicked", about(id))
	require.Equal(t, offer, hook["click"].(map[string]any)["link"])

	// An altered token is not found, and records nothing.
	tok := click[1][strings.LastIndex(click[1], "/")+1:]
	flipped := []byte(tok)
	flipped[len(flipped)/2] ^= 'A' ^ 'B'
	if flipped[len(flipped)/2] == tok[len(tok)/2] {
		flipped[len(flipped)/2] = 'x'
	}
	resp, _ = fetch(trackingURL + "/t/c/" + string(flipped))
	require.Equal(t, 404, resp.StatusCode)
	_, evs = e.delivery(t, id)
	require.Len(t, evs, 5)
}

// testSuppressions: an address suppressed through the API is not sent to
// (its neighbour in the same email is); an address the MX refuses with a
// 5xx bounces, is suppressed, and the next email to it is not sent.
func (e *mxEnv) testSuppressions(t *testing.T) {
	t.Parallel()
	status, body, err := request("POST", e.s.url+"/suppressions", e.key, `{"email":"blocked@dest.test"}`)
	require.NoError(t, err)
	require.Equal(t, 201, status, "%v", body)

	id := e.send(t, map[string]any{"from": "app@acme.test", "to": []string{"blocked@dest.test", "fine@dest.test"}, "subject": "s", "text": "x"})
	e.received(t, id, "acme.test", "fine@dest.test")
	e.waitLastEvent(t, id, "delivered")
	attempts, evs := e.delivery(t, id)
	require.Equal(t, "suppressed", attempts["blocked@dest.test"]["outcome"])
	require.Equal(t, "delivered", attempts["fine@dest.test"]["outcome"])
	require.Equal(t, []any{"blocked@dest.test"}, lastOfType(t, evs, "suppressed")["data"].(map[string]any)["to"])
	require.Zero(t, e.mx.Attempts("blocked@dest.test"), "the MX never hears of a suppressed address")
	hook := e.waitHook(t, "email.suppressed", about(id))
	require.Equal(t, []any{"blocked@dest.test"}, hook["to"])
	hook = e.waitHook(t, "suppression.added", func(d map[string]any) bool { return d["email"] == "blocked@dest.test" })
	require.Equal(t, "manual", hook["origin"])
	require.Nil(t, hook["source_id"])

	first := e.send(t, map[string]any{"from": "app@acme.test", "to": "unknown-1@dest.test", "subject": "s", "text": "x"})
	e.waitLastEvent(t, first, "bounced")
	attempts, _ = e.delivery(t, first)
	require.EqualValues(t, 550, attempts["unknown-1@dest.test"]["smtp_code"])
	require.Equal(t, "mx.dest.test", attempts["unknown-1@dest.test"]["host"])
	sup := e.get(t, "/suppressions/unknown-1@dest.test")
	require.Equal(t, "bounce", sup["origin"])
	require.Equal(t, first, sup["source_id"])
	hook = e.waitHook(t, "email.bounced", about(first))
	require.Equal(t, "Permanent", hook["bounce"].(map[string]any)["type"])
	hook = e.waitHook(t, "suppression.added", func(d map[string]any) bool { return d["email"] == "unknown-1@dest.test" })
	require.Equal(t, first, hook["source_id"])

	again := e.send(t, map[string]any{"from": "app@acme.test", "to": "unknown-1@dest.test", "subject": "s", "text": "x"})
	e.waitLastEvent(t, again, "suppressed")
	attempts, _ = e.delivery(t, again)
	require.Equal(t, "suppressed", attempts["unknown-1@dest.test"]["outcome"])
	require.Equal(t, 1, e.mx.Attempts("unknown-1@dest.test"), "only the first email reached the MX")
}

// testBounceClasses: GET /emails/{id} of a bounced email has the bounce
// object, as the email.bounced webhook does; an unknown user is suppressed,
// a blocklist refusal bounces the email and leaves the address alone.
func (e *mxEnv) testBounceClasses(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		rcpt, typ, sub, diag string
		suppressed           bool
	}{
		{"unknown-2@dest.test", "Permanent", "NoEmail", "smtp; 550 5.1.1 <unknown-2@dest.test>: Recipient address rejected: User unknown", true},
		{"spamhaus-1@dest.test", "Permanent", "General", "smtp; 554 5.7.1 Service unavailable; Client host [127.0.0.1] blocked using zen.spamhaus.org", false},
	} {
		id := e.send(t, map[string]any{"from": "app@acme.test", "to": tc.rcpt, "subject": "s", "text": "x"})
		e.waitLastEvent(t, id, "bounced")
		b, ok := e.get(t, "/emails/"+id)["bounce"].(map[string]any)
		require.True(t, ok, "%s: GET /emails/{id} has a bounce object", tc.rcpt)
		require.Equal(t, tc.typ, b["type"], tc.rcpt)
		require.Equal(t, tc.sub, b["subType"], tc.rcpt)
		require.Equal(t, []any{tc.diag}, b["diagnosticCode"], tc.rcpt)
		require.NotEmpty(t, b["message"], tc.rcpt)
		hook := e.waitHook(t, "email.bounced", about(id))
		require.Equal(t, b, hook["bounce"], "%s: the webhook carries the same bounce", tc.rcpt)

		status, _, err := request("GET", e.s.url+"/suppressions/"+tc.rcpt, e.key, "")
		require.NoError(t, err)
		if tc.suppressed {
			require.Equal(t, 200, status, "%s is suppressed", tc.rcpt)
			continue
		}
		require.Equal(t, 404, status, "%s is not suppressed", tc.rcpt)
		again := e.send(t, map[string]any{"from": "app@acme.test", "to": tc.rcpt, "subject": "s", "text": "x"})
		e.waitLastEvent(t, again, "bounced")
		require.Equal(t, 2, e.mx.Attempts(tc.rcpt), "%s: the next email is tried again", tc.rcpt)
	}
}

// testThrottledDestination: a 421 4.7.0 from a Gmail MX host pauses the
// gmail destination for 30 s; the attempt and the queue view say so, and
// the email is retried when the pause ends (not after the 1 minute
// backoff) and delivered.
func (e *mxEnv) testThrottledDestination(t *testing.T) {
	t.Parallel()
	const rcpt = "throttled@gm.test"
	const reason = "destination gmail paused for 30s after 421 4.7.0 Try again later, closing connection. from mx1.google.com"
	sent := time.Now()
	id := e.send(t, map[string]any{"from": "app@acme.test", "to": rcpt, "subject": "s", "text": "x"})
	var a map[string]any
	waitWithin(t, 20*time.Second, "a deferred attempt", func() bool {
		atts, _ := e.delivery(t, id)
		a = atts[rcpt]
		return a != nil
	})
	require.Equal(t, "deferred", a["outcome"])
	require.Equal(t, "mx1.google.com", a["host"])
	require.EqualValues(t, 421, a["smtp_code"])
	require.Equal(t, reason, a["response"])
	q := e.get(t, "/queue")
	found := false
	for _, item := range q["data"].([]any) {
		if item := item.(map[string]any); item["id"] == id {
			found = true
			require.Contains(t, item["reason"], reason)
		}
	}
	require.True(t, found, "the email is in the queue view")

	var last any
	waitWithin(t, 50*time.Second, "the email delivered after the pause", func() bool {
		_, body, err := request("GET", e.s.url+"/emails/"+id, e.key, "")
		if err == nil {
			last = body["last_event"]
		}
		return last == "delivered"
	})
	require.Less(t, time.Since(sent), 55*time.Second, "retried when the 30 s pause ended, not after the 1 minute backoff")
	require.Equal(t, 2, e.mx.Attempts(rcpt))
}

// testScheduled: an email scheduled a few seconds ahead stays scheduled,
// and away from the MX, until its time, and is delivered after it; one
// scheduled for the same time and canceled (with the Go SDK) is not
// delivered; one scheduled an hour ahead and moved to that time is.
func (e *mxEnv) testScheduled(t *testing.T) {
	t.Parallel()
	at := time.Now().Add(4 * time.Second).UTC().Truncate(time.Millisecond)
	schedule := func(to, when string) string {
		return e.send(t, map[string]any{"from": "app@acme.test", "to": to, "subject": "Later", "text": "x", "scheduled_at": when})
	}
	id := schedule("later@dest.test", at.Format(time.RFC3339Nano))
	canceled := schedule("canceled@dest.test", at.Format(time.RFC3339Nano))
	moved := schedule("moved@dest.test", at.Add(time.Hour).Format(time.RFC3339Nano))
	sdk := goSDK(t, e.s, e.key)
	c, err := sdk.Emails.Cancel(canceled)
	require.NoError(t, err)
	require.Equal(t, canceled, c.Id)
	u, err := sdk.Emails.Update(&resend.UpdateEmailRequest{Id: moved, ScheduledAt: at.Format(time.RFC3339Nano)})
	require.NoError(t, err)
	require.Equal(t, moved, u.Id)

	for time.Now().Before(at.Add(-250 * time.Millisecond)) {
		for _, id := range []string{id, moved} {
			require.Empty(t, e.mx.ForMessageID("<"+id+"@acme.test>"), "delivered before its time")
			require.Equal(t, "scheduled", e.get(t, "/emails/"+id)["last_event"])
		}
		time.Sleep(100 * time.Millisecond)
	}
	for id, rcpt := range map[string]string{id: "later@dest.test", moved: "moved@dest.test"} {
		m := e.received(t, id, "acme.test", rcpt)
		require.Len(t, m, 1)
		require.False(t, m[0].At.Before(at), "delivered at %s, scheduled for %s", m[0].At.UTC(), at)
		e.waitLastEvent(t, id, "delivered")
	}
	require.Zero(t, e.mx.Attempts("canceled@dest.test"), "the canceled email stays home")
	got, err := sdk.Emails.Get(canceled)
	require.NoError(t, err)
	require.Equal(t, "canceled", got.LastEvent)
}

// testRateLimit: a team limited to 2 requests a second (set with the CLI
// while the server runs) gets Resend's 429 and headers past it, and is
// admitted again in the next window. The Go SDK sees its RateLimitError.
func (e *mxEnv) testRateLimit(t *testing.T) {
	t.Parallel()
	key := e.teamKey(t, "limited")
	_, stderr, err := run(t, append([]string{"teams", "set-rate-limit", "--team", "limited", "--limit", "2"}, e.dbArgs...)...)
	require.NoError(t, err, stderr)

	do := func() (*http.Response, map[string]any) {
		req, err := http.NewRequest("GET", e.s.url+"/emails", nil)
		require.NoError(t, err)
		req.Header.Set("Authorization", "Bearer "+key)
		resp, err := apiClient.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		var body map[string]any
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&body))
		return resp, body
	}
	var limited *http.Response
	var body map[string]any
	for range 10 {
		resp, b := do()
		require.Equal(t, "2", resp.Header.Get("ratelimit-limit"))
		require.Equal(t, "2;w=1", resp.Header.Get("ratelimit-policy"))
		require.Equal(t, "1", resp.Header.Get("ratelimit-reset"))
		if resp.StatusCode == 429 {
			limited, body = resp, b
			break
		}
		require.Equal(t, 200, resp.StatusCode, "%v", b)
		require.Contains(t, []string{"0", "1"}, resp.Header.Get("ratelimit-remaining"))
		require.Empty(t, resp.Header.Get("retry-after"))
	}
	require.NotNil(t, limited, "10 requests at 2/s were all admitted")
	require.Equal(t, "0", limited.Header.Get("ratelimit-remaining"))
	require.Equal(t, "1", limited.Header.Get("retry-after"))
	require.EqualValues(t, 429, body["statusCode"])
	require.Equal(t, "rate_limit_exceeded", body["name"])
	waitWithin(t, 3*time.Second, "the next window to admit", func() bool {
		resp, _ := do()
		return resp.StatusCode == 200
	})

	// The default team, on the default limit of this server, is unaffected.
	status, _, err := request("GET", e.s.url+"/emails?limit=1", e.key, "")
	require.NoError(t, err)
	require.Equal(t, 200, status)

	sdk := goSDK(t, e.s, key)
	var rl error
	for range 10 {
		if _, rl = sdk.Emails.List(); rl != nil {
			break
		}
	}
	requireRateLimitError(t, rl)
}

// partOfType returns the body of the message's first leaf of media type mt.
func partOfType(t *testing.T, p parsedMail, mt string) string {
	t.Helper()
	for _, l := range p.Leaves {
		if l.Type == mt {
			return l.Body
		}
	}
	t.Fatalf("no %s part in %v", mt, p.Tree)
	return ""
}
