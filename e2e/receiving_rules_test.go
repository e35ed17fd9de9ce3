package e2e

import (
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
	"github.com/stretchr/testify/require"
)

// testReceivingRules: the binary's MX applies a receiving domain's rules:
// with catch-all off an address no rule names is refused at RCPT, as is a
// rejected one; a forward rule's email leaves from the team's verified
// sending domain (DKIM-signed by it) with the message attached as
// message/rfc822, and reaches the recipient's MX.
func (e *mxEnv) testReceivingRules(t *testing.T) {
	t.Parallel()
	id := verifiedDomainWith(t, e.s, e.key, e.dns, "rules.test", `"capabilities":{"sending":"disabled","receiving":"enabled"}`)
	post := func(path, body string, want int) map[string]any {
		status, resp, err := request(strings.Fields(path)[0], e.s.url+strings.Fields(path)[1], e.key, body)
		require.NoError(t, err)
		require.Equal(t, want, status, "%s: %v", path, resp)
		return resp
	}
	post("POST /domains/"+id+"/receiving-rules",
		`{"match":"support","action":"forward","forward_to":"alice@dest.test","forward_from":"Support desk <desk@acme.test>"}`, 201)
	post("POST /domains/"+id+"/receiving-rules", `{"match":"blocked","action":"reject"}`, 201)
	post("PATCH /domains/"+id+"/receiving", `{"catch_all":false}`, 200)

	for _, rcpt := range []string{"blocked@rules.test", "anyone@rules.test"} {
		err := e.sendMX("someone@example.net", []string{rcpt}, "Subject: no\r\n\r\nno\r\n")
		var se *smtp.SMTPError
		require.ErrorAs(t, err, &se, rcpt)
		require.Equal(t, 550, se.Code, rcpt)
	}
	msg := "From: Someone <someone@example.net>\r\nTo: support@rules.test\r\nSubject: Routed\r\n" +
		"Message-ID: <routed-1@example.net>\r\n\r\nPlease help.\r\n"
	require.NoError(t, e.sendMX("someone@example.net", []string{"support@rules.test"}, msg))

	var fwdID string
	waitWithin(t, 20*time.Second, "the forward to be accepted", func() bool {
		for _, it := range e.get(t, "/emails?limit=100")["data"].([]any) {
			if m := it.(map[string]any); m["subject"] == "Fwd: Routed" {
				fwdID = m["id"].(string)
				return true
			}
		}
		return false
	})
	hook := e.waitHook(t, "email.received", func(d map[string]any) bool { return d["subject"] == "Routed" })
	require.Equal(t, []any{"support@rules.test"}, hook["received_for"], "a forwarded message is stored too")
	e.waitLastEvent(t, fwdID, "delivered")
	msgs := e.received(t, fwdID, "acme.test", "alice@dest.test")
	data := string(msgs[0].Data)
	require.Contains(t, data, "\r\nFrom: \"Support desk\" <desk@acme.test>\r\n")
	require.Contains(t, data, "\r\nSubject: Fwd: Routed\r\n")
	require.Contains(t, data, "\r\nReply-To: <someone@example.net>\r\n")
	require.Contains(t, data, " d=acme.test;")
	require.Contains(t, data, "\r\nX-Godwit-Forwarded: 1\r\n")
	// The message as the MX received it, attached.
	_, att, ok := strings.Cut(data, "Content-Type: message/rfc822; name=forwarded_message.eml\r\n")
	require.True(t, ok, "%s", data)
	_, att, _ = strings.Cut(att, "\r\n\r\n")
	att, _, _ = strings.Cut(att, "\r\n--")
	original, err := base64.StdEncoding.DecodeString(strings.ReplaceAll(att, "\r\n", ""))
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(string(original), "Received: from mta.dest.test (127.0.0.1) by "), "%s", original)
	require.True(t, strings.HasSuffix(string(original), msg), "%s", original)
}
