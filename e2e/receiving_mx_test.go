package e2e

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
	"github.com/stretchr/testify/require"

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

	// forward() of the Node SDK, unchanged: it downloads the raw message and
	// re-sends it through POST /emails, here to a real recipient's MX.
	node := nodeSDK(t)
	res := runNode(t, node, "forward.mjs", "RESEND_BASE_URL="+e.s.url, "RESEND_API_KEY="+e.key, "EMAIL_ID="+id,
		"FROM=Support <support@acme.test>", "TO=alice@dest.test", "PUBLIC_URL="+trackingURL)
	for _, name := range []string{"passthrough", "wrapped"} {
		var sent struct{ ID string }
		require.NoError(t, json.Unmarshal(res[name], &sent))
		e.waitLastEvent(t, sent.ID, "delivered")
		require.NotEmpty(t, e.received(t, sent.ID, "dest.test", "alice@dest.test"))
	}
}

// download GETs a signed download URL (no API key).
func (e *mxEnv) download(t *testing.T, url string) string {
	t.Helper()
	c := &http.Client{Timeout: 10 * time.Second}
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
