package e2e

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
	"github.com/stretchr/testify/require"
)

// testLongHeaderNames replays the crash of the hardening issue through the
// built binary: a custom header name of 74 characters once made the
// delivery worker panic inside go-message, killing the process at every
// restart. Through POST /emails, a batch and SMTP submission, such an email
// is now accepted and arrives with the header intact and DKIM-signed;
// longer names are refused (422, 550); and the server stays up throughout.
func (e *mxEnv) testLongHeaderNames(t *testing.T) {
	t.Parallel()
	name := "X" + strings.Repeat("a", 73)
	email := func(to string) map[string]any {
		return map[string]any{"from": "a@acme.test", "to": to, "subject": "long header", "text": "t",
			"headers": map[string]string{name: "v"}}
	}
	apiID := e.send(t, email("api@dest.test"))

	b, err := json.Marshal([]any{email("batch@dest.test")})
	require.NoError(t, err)
	status, resp, err := requestAny("POST", e.s.url+"/emails/batch", e.key, string(b))
	require.NoError(t, err)
	require.Equal(t, 200, status, "%v", resp)
	batchID := resp.(map[string]any)["data"].([]any)[0].(map[string]any)["id"].(string)

	c, err := smtp.Dial(e.submission)
	require.NoError(t, err)
	defer c.Close()
	require.NoError(t, c.Auth(sasl.NewPlainClient("", "resend", e.key)))
	msg := "From: a@acme.test\r\nTo: smtp@dest.test\r\nSubject: long header\r\n" + name + ": v\r\n\r\nt\r\n"
	smtpID, err := smtpSend(c, "a@acme.test", []string{"smtp@dest.test"}, []byte(msg))
	require.NoError(t, err)

	for id, rcpt := range map[string]string{apiID: "api@dest.test", batchID: "batch@dest.test", smtpID: "smtp@dest.test"} {
		msgs := e.received(t, id, "acme.test", rcpt)
		verifyDKIM(t, e.dns, msgs[0].Data, "acme.test")
		p := parseMail(t, msgs[0].Data)
		require.Equal(t, "v", p.Header.Get(name), "the header arrives intact")
		e.waitLastEvent(t, id, "delivered")
	}

	tooLong := "X" + strings.Repeat("a", 80)
	body, err := json.Marshal(map[string]any{"from": "a@acme.test", "to": "z@dest.test", "subject": "s", "text": "t",
		"headers": map[string]string{tooLong: "v"}})
	require.NoError(t, err)
	status, resp, err = requestAny("POST", e.s.url+"/emails", e.key, string(body))
	require.NoError(t, err)
	require.Equal(t, 422, status, "%v", resp)
	msg = "From: a@acme.test\r\nTo: z@dest.test\r\nSubject: s\r\n" + tooLong + ": v\r\n\r\nt\r\n"
	_, err = smtpSend(c, "a@acme.test", []string{"z@dest.test"}, []byte(msg))
	var se *smtp.SMTPError
	require.ErrorAs(t, err, &se)
	require.Equal(t, 550, se.Code)

	select {
	case <-e.s.done:
		t.Fatalf("godwit serve exited: %v", e.s.err)
	default:
	}
	resp2, err := http.Get(e.s.url + "/healthz")
	require.NoError(t, err)
	resp2.Body.Close()
	require.Equal(t, 200, resp2.StatusCode)
}

// requestAny is request for an answer that may be a JSON array or object.
func requestAny(method, url, key, body string) (int, any, error) {
	req, err := http.NewRequest(method, url, bytes.NewReader([]byte(body)))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	var out any
	err = json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out, err
}
