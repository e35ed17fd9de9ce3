package e2e

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-msgauth/dkim"
	"github.com/emersion/go-smtp"
	"github.com/stretchr/testify/require"

	"github.com/godwit/godwit/internal/dnscheck/dnstest"
	"github.com/godwit/godwit/internal/godwittest"
)

// testReceiving: the real binary as the MX of a receiving domain verified
// through the loopback DNS: a message from a go-smtp client and one from
// swaks arrive, are announced with a signed email.received webhook, read
// back through the Receiving API byte for byte (raw download, attachment
// download), and forward() of the official Node SDK re-sends one, both
// ways, to a real recipient's MX. Mail for a domain that does not receive
// is refused at RCPT.
func (e *mxEnv) testReceiving(t *testing.T) {
	t.Parallel()
	verifiedDomainWith(t, e.s, e.key, e.dns, "in.test", `"capabilities":{"sending":"disabled","receiving":"enabled"}`)

	msg := strings.ReplaceAll(receivedMessage, "support@example.com", "support@in.test")
	require.NoError(t, e.sendMX("someone@example.net", []string{"support@in.test"}, msg))
	err := e.sendMX("someone@example.net", []string{"support@acme.test"}, msg)
	var se *smtp.SMTPError
	require.ErrorAs(t, err, &se, "acme.test sends but does not receive")
	require.Equal(t, 550, se.Code)

	hook := e.waitHook(t, "email.received", func(d map[string]any) bool { return d["subject"] == "Help from Node" })
	id := hook["email_id"].(string)
	require.Equal(t, "someone@example.net", hook["from"])
	require.Equal(t, []any{"support@in.test"}, hook["received_for"])
	require.Len(t, hook["attachments"], 2)

	got := e.get(t, "/emails/receiving/"+id)
	require.Equal(t, "Help from Node", got["subject"])
	require.Contains(t, got["html"], "data:image/png;base64,", "inline images as data: URIs")
	require.Contains(t, got["headers"].(map[string]any)["received"], "from mta.dest.test (127.0.0.1) by ", "the MX's trace field")
	// example.net publishes no SPF or DMARC record and the message is not
	// signed: none, in Resend's words gray.
	require.Equal(t, map[string]any{"spf": "gray", "dkim": "gray", "dmarc": "gray"}, got["authentication"])
	require.Contains(t, got["headers"].(map[string]any)["authentication-results"], "; spf=none smtp.mailfrom=")
	raw := e.download(t, got["raw"].(map[string]any)["download_url"].(string))
	require.True(t, strings.HasPrefix(raw, "Received: from mta.dest.test (127.0.0.1) by "), "%.300s", raw)
	_, received, ok := strings.Cut(raw, "\r\nAuthentication-Results: ")
	require.True(t, ok, "%.300s", raw)
	require.Equal(t, msg, received[strings.Index(received, "\r\n")+2:], "the message as received, byte for byte, after the MX's trace fields")
	atts := e.get(t, "/emails/receiving/"+id+"/attachments")["data"].([]any)
	require.Len(t, atts, 2)
	notes := atts[1].(map[string]any)
	require.Equal(t, "notes.txt", notes["filename"])
	require.Equal(t, "hello from the MX", e.download(t, notes["download_url"].(string)))

	// swaks, as another MTA's client, with an attachment of its own.
	if _, err := exec.LookPath("swaks"); err != nil {
		if godwittest.InCI() {
			t.Fatal("swaks is not installed (apt-get install swaks); CI must exercise it")
		}
		t.Log("swaks is not installed: skipping its part")
	} else {
		file := filepath.Join(t.TempDir(), "data.csv")
		require.NoError(t, os.WriteFile(file, []byte("a,b\n1,2\n"), 0o600))
		host, port, _ := strings.Cut(e.inbound, ":")
		out, err := exec.Command("swaks", "--server", host, "--port", port, "--helo", "client.example.net",
			"--from", "swaks@example.net", "--to", "billing@in.test", "--header", "Subject: From swaks",
			"--body", "Numbers attached.", "--attach-type", "text/csv", "--attach-name", "data.csv", "--attach", "@"+file).CombinedOutput()
		require.NoError(t, err, "%s", out)
		hook := e.waitHook(t, "email.received", func(d map[string]any) bool { return d["subject"] == "From swaks" })
		got := e.get(t, "/emails/receiving/"+hook["email_id"].(string))
		require.Equal(t, []any{"billing@in.test"}, got["received_for"])
		require.Contains(t, got["text"], "Numbers attached.")
		atts := e.get(t, "/emails/receiving/"+hook["email_id"].(string)+"/attachments")["data"].([]any)
		require.Len(t, atts, 1)
		csv := atts[0].(map[string]any)
		require.Equal(t, "data.csv", csv["filename"])
		require.Equal(t, "a,b\n1,2\n", e.download(t, csv["download_url"].(string)))
	}

	e.testReceivingAuthentication(t)

	// The official Node SDK verifies the email.received post (svix's scheme).
	node := nodeSDK(t)
	e.hooks.mu.Lock()
	var post hookPost
	for _, p := range e.hooks.posts {
		if strings.Contains(p.body, `"type":"email.received"`) && strings.Contains(p.body, id) {
			post = p
		}
	}
	e.hooks.mu.Unlock()
	in, err := json.Marshal(map[string]string{"payload": post.body, "id": post.header.Get("svix-id"),
		"timestamp": post.header.Get("svix-timestamp"), "signature": post.header.Get("svix-signature"), "secret": e.hooks.secret})
	require.NoError(t, err)
	verify := exec.Command(node, "verify.mjs")
	verify.Dir, verify.Stdin = "node", bytes.NewReader(in)
	out, err := verify.CombinedOutput()
	require.NoError(t, err, "%s", out)
	require.Equal(t, "email.received", strings.TrimSpace(string(out)))

	// forward() of the Node SDK, unchanged: it downloads the raw message and
	// re-sends it through POST /emails, here to a real recipient's MX.
	res := runNode(t, node, "forward.mjs", "RESEND_BASE_URL="+e.s.url, "RESEND_API_KEY="+e.key, "EMAIL_ID="+id,
		"FROM=Support <support@acme.test>", "TO=alice@dest.test", "PUBLIC_URL="+trackingURL)
	for _, name := range []string{"passthrough", "wrapped"} {
		var sent struct{ ID string }
		require.NoError(t, json.Unmarshal(res[name], &sent))
		e.waitLastEvent(t, sent.ID, "delivered")
		require.NotEmpty(t, e.received(t, sent.ID, "acme.test", "alice@dest.test"))
	}
}

// download GETs a signed download URL (no API key).
func (e *mxEnv) download(t *testing.T, url string) string {
	t.Helper()
	c := &http.Client{Timeout: time.Minute} // tens of MiB for a large message
	// The links name --public-url, which nothing resolves here: the server
	// itself answers them.
	res, err := c.Get(strings.Replace(url, trackingURL, e.s.url, 1))
	require.NoError(t, err)
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	require.Equal(t, 200, res.StatusCode, "%s", bytes.TrimSpace(b))
	return string(b)
}

// testReceivingAuthentication: DKIM and DMARC verdicts through the real MX
// and DNS, for a signed message (pass), the same message tampered with
// (fail) and an unsigned one from the same domain (fail); with the domain's
// reject_dmarc_failures on, the failing ones, whose domain says p=reject,
// are refused at DATA.
func (e *mxEnv) testReceivingAuthentication(t *testing.T) {
	priv, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	pub, err := x509.MarshalPKIXPublicKey(&priv.PublicKey)
	require.NoError(t, err)
	e.dns.SetTXT("sel._domainkey.signed.test", "v=DKIM1; k=rsa; p="+base64.StdEncoding.EncodeToString(pub))
	e.dns.SetTXT("_dmarc.signed.test", "v=DMARC1; p=reject")
	sign := func(subject string) string {
		msg := "From: Alice <alice@signed.test>\r\nTo: desk@in.test\r\nSubject: " + subject +
			"\r\nMessage-ID: <" + subject + "@signed.test>\r\n\r\nSigned body.\r\n"
		var out bytes.Buffer
		require.NoError(t, dkim.Sign(&out, strings.NewReader(msg), &dkim.SignOptions{Domain: "signed.test", Selector: "sel", Signer: priv}))
		return out.String()
	}
	stored := func(subject string) map[string]any {
		hook := e.waitHook(t, "email.received", func(d map[string]any) bool { return d["subject"] == subject })
		return e.get(t, "/emails/receiving/"+hook["email_id"].(string))
	}

	require.NoError(t, e.sendMX("alice@signed.test", []string{"desk@in.test"}, sign("signed")))
	got := stored("signed")
	require.Equal(t, map[string]any{"spf": "gray", "dkim": "pass", "dmarc": "pass"}, got["authentication"])
	require.Contains(t, got["headers"].(map[string]any)["authentication-results"], "dkim=pass")

	tampered := strings.Replace(sign("tampered"), "Signed body.", "Changed body.", 1)
	require.NoError(t, e.sendMX("alice@signed.test", []string{"desk@in.test"}, tampered))
	require.Equal(t, map[string]any{"spf": "gray", "dkim": "fail", "dmarc": "fail"}, stored("tampered")["authentication"])
	unsigned := "From: alice@signed.test\r\nTo: desk@in.test\r\nSubject: unsigned\r\n\r\nNo signature.\r\n"
	require.NoError(t, e.sendMX("alice@signed.test", []string{"desk@in.test"}, unsigned))
	require.Equal(t, map[string]any{"spf": "gray", "dkim": "gray", "dmarc": "fail"}, stored("unsigned")["authentication"])

	// The domain now refuses what fails DMARC under p=reject.
	var id string
	for _, d := range e.get(t, "/domains")["data"].([]any) {
		if d := d.(map[string]any); d["name"] == "in.test" {
			id = d["id"].(string)
		}
	}
	status, body, err := request("PATCH", e.s.url+"/domains/"+id, e.key, `{"reject_dmarc_failures":true}`)
	require.NoError(t, err)
	require.Equal(t, 200, status, "%v", body)
	require.Equal(t, true, e.get(t, "/domains/"+id)["reject_dmarc_failures"])
	for _, msg := range []string{tampered, unsigned} {
		err := e.sendMX("alice@signed.test", []string{"desk@in.test"}, msg)
		var se *smtp.SMTPError
		require.ErrorAs(t, err, &se)
		require.Equal(t, 550, se.Code)
		require.Equal(t, smtp.EnhancedCode{5, 7, 1}, se.EnhancedCode)
	}
	require.NoError(t, e.sendMX("alice@signed.test", []string{"desk@in.test"}, sign("signed again")))
	stored("signed again")
}

// testReceivingLarge: a 30 MiB message with a 22 MiB attachment, sent to
// the real MX, is spooled (past 1 MiB), stored, and reads back byte for
// byte through the raw and attachment downloads; the spool directory is
// empty and the server holds none of its files open or mapped afterwards.
func (e *mxEnv) testReceivingLarge(t *testing.T) {
	t.Parallel()
	verifiedDomainWith(t, e.s, e.key, e.dns, "big-in.test", `"capabilities":{"sending":"disabled","receiving":"enabled"}`)
	m := godwittest.LargeMessage{From: "big@example.net", To: "archive@big-in.test", AttachmentBytes: 22 << 20, Seed: 7}
	sum, err := godwittest.SendLarge(t, e.inbound, "mta.dest.test", "big@example.net", "archive@big-in.test", m, 0, nil)
	require.NoError(t, err, "250 once stored")
	require.NotEmpty(t, e.s.stderr.Records(t, "inbound: message spooled to a file while received"))

	var id string
	waitWithin(t, 20*time.Second, "the large message to be listed", func() bool {
		for _, item := range e.get(t, "/emails/receiving")["data"].([]any) {
			if em := item.(map[string]any); em["subject"] == godwittest.LargeMessageSubject {
				id = em["id"].(string)
			}
		}
		return id != ""
	})
	got := e.get(t, "/emails/receiving/"+id)
	require.Equal(t, godwittest.LargeMessageText, strings.TrimSpace(got["text"].(string)))
	raw := e.download(t, got["raw"].(map[string]any)["download_url"].(string))
	require.True(t, strings.HasPrefix(raw, "Received: from mta.dest.test (127.0.0.1) by "), "%.300s", raw)
	require.Greater(t, int64(len(raw)), m.Size())
	require.Equal(t, sum.Message, sha256.Sum256([]byte(raw[int64(len(raw))-m.Size():])), "the message as received follows the trace fields")
	atts := e.get(t, "/emails/receiving/"+id+"/attachments")["data"].([]any)
	require.Len(t, atts, 1)
	att := atts[0].(map[string]any)
	require.Equal(t, godwittest.LargeMessageFilename, att["filename"])
	require.EqualValues(t, m.AttachmentBytes, att["size"])
	require.Equal(t, sum.Attachment, sha256.Sum256([]byte(e.download(t, att["download_url"].(string)))))

	spool := filepath.Join(e.dbArgs[1], "spool")
	ents, err := os.ReadDir(spool)
	require.NoError(t, err, "the spool directory is made in the data directory")
	require.Empty(t, ents)
	waitWithin(t, 10*time.Second, "the server to let go of its spool files", func() bool { return spoolHeld(e.s, spool) == 0 })
}

// spoolHeld counts the files of spool the server holds open or mapped.
func spoolHeld(s *server, spool string) int {
	proc, n := fmt.Sprintf("/proc/%d", s.cmd.Process.Pid), 0
	fds, _ := os.ReadDir(proc + "/fd")
	for _, fd := range fds {
		if target, err := os.Readlink(filepath.Join(proc, "fd", fd.Name())); err == nil && strings.HasPrefix(target, spool+"/") {
			n++
		}
	}
	maps, _ := os.ReadFile(proc + "/maps")
	return n + strings.Count(string(maps), spool+"/")
}

// TestReceivingLargeKilledLeavesNoSpool: the server is SIGKILLed while a
// large message's DATA is being spooled; nothing is left in the spool
// directory (the file had no name from the start), no 250 was given, and
// the restarted server receives the message whole.
func TestReceivingLargeKilledLeavesNoSpool(t *testing.T) {
	dns := dnstest.NewServer(t)
	dataDir := t.TempDir()
	args := []string{"--data-dir", dataDir, "--dns-resolver", dns.Addr(), "--mx-addr", "127.0.0.1:0"}
	s := start(t, args...)
	key := firstKey(t, s)
	verifiedDomainWith(t, s, key, dns, "kill-in.test", `"capabilities":{"sending":"disabled","receiving":"enabled"}`)
	spool := filepath.Join(dataDir, "spool")
	m := godwittest.LargeMessage{From: "big@example.net", To: "archive@kill-in.test", AttachmentBytes: 8 << 20, Seed: 3}
	_, err := godwittest.SendLarge(t, loggedAddr(t, s, "MX receiving mail", "mx_addr"), "mta.dest.test", "big@example.net",
		"archive@kill-in.test", m, 4<<20, func() {
			waitWithin(t, 10*time.Second, "the message to be spooled", func() bool { return spoolHeld(s, spool) > 0 })
			require.NoError(t, s.cmd.Process.Kill())
			<-s.done
		})
	require.NoError(t, err)
	ents, err := os.ReadDir(spool)
	require.NoError(t, err)
	require.Empty(t, ents, "nothing is left after a kill -9")

	s = start(t, args...)
	status, body, err := request("GET", s.url+"/emails/receiving", key, "")
	require.NoError(t, err)
	require.Equal(t, 200, status)
	require.Empty(t, body["data"], "no 250 was given, nothing was stored")
	sum, err := godwittest.SendLarge(t, loggedAddr(t, s, "MX receiving mail", "mx_addr"), "mta.dest.test", "big@example.net",
		"archive@kill-in.test", m, 0, nil)
	require.NoError(t, err)
	status, body, err = request("GET", s.url+"/emails/receiving", key, "")
	require.NoError(t, err)
	require.Equal(t, 200, status)
	require.Len(t, body["data"], 1)
	require.NotEqual(t, godwittest.LargeSums{}, sum)
	require.Empty(t, spoolHeld(s, spool))
}
