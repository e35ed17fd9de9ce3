package e2e

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/godwit/godwit/internal/events"
	"github.com/godwit/godwit/internal/store"
	"github.com/godwit/godwit/internal/store/sqlstore"
)

// receivedMessage is a received MIME message: an HTML and a text body,
// an inline image and an attached file.
const receivedMessage = "From: Someone <someone@example.net>\r\n" +
	"To: Support <support@example.com>\r\n" +
	"Subject: Help from Node\r\n" +
	"Message-ID: <node-1@example.net>\r\n" +
	"MIME-Version: 1.0\r\n" +
	"Content-Type: multipart/mixed; boundary=outer\r\n" +
	"\r\n" +
	"--outer\r\n" +
	"Content-Type: multipart/related; boundary=rel\r\n" +
	"\r\n" +
	"--rel\r\n" +
	"Content-Type: text/html; charset=utf-8\r\n" +
	"\r\n" +
	"<p>Hi <img src=\"cid:logo\"></p>\r\n" +
	"--rel\r\n" +
	"Content-Type: image/png\r\n" +
	"Content-ID: <logo>\r\n" +
	"Content-Disposition: inline; filename=logo.png\r\n" +
	"Content-Transfer-Encoding: base64\r\n" +
	"\r\n" +
	"iVBORw==\r\n" +
	"--rel--\r\n" +
	"--outer\r\n" +
	"Content-Type: text/plain\r\n" +
	"Content-Disposition: attachment; filename=notes.txt\r\n" +
	"\r\n" +
	"hello from the MX\r\n" +
	"--outer--\r\n"

// storeReceived stores received emails for the server's only team straight
// into its SQLite database (there is no MX yet), newest last, and returns
// their ids newest first.
func storeReceived(t *testing.T, dir string, n int) []string {
	t.Helper()
	ctx := context.Background()
	db, err := sqlstore.Open(ctx, filepath.Join(dir, "godwit.db"), sqlstore.Options{})
	require.NoError(t, err)
	defer db.Close()
	teams, err := db.ListTeams(ctx)
	require.NoError(t, err)
	require.Len(t, teams, 1)
	html := `<p>Hi <img src="cid:logo"></p>`
	var ids []string
	for i := range n {
		e := &store.ReceivedEmail{TeamID: teams[0].ID, DomainID: "d", CreatedAt: time.Now().Add(time.Duration(i) * time.Millisecond),
			MessageID: "<node-1@example.net>", From: "someone@example.net", To: []string{"Support <support@example.com>"},
			ReceivedFor: []string{"support@example.com"}, Subject: "Help from Node", HTML: &html,
			Headers: []store.Header{{Name: "From", Value: "Someone <someone@example.net>"}, {Name: "Subject", Value: "Help from Node"}},
			Raw:     []byte(receivedMessage), RemoteIP: "127.0.0.1", Helo: "client.example.net", MailFrom: "someone@example.net",
			Auth: store.ReceivedAuth{SPF: store.AuthPass, DKIM: store.AuthPass, DMARC: store.AuthPass},
			Attachments: []*store.ReceivedAttachment{
				{Filename: "logo.png", ContentType: "image/png", ContentDisposition: "inline", ContentID: "logo",
					Content: []byte{0x89, 'P', 'N', 'G'}},
				{Filename: "notes.txt", ContentType: "text/plain", ContentDisposition: "attachment",
					Content: []byte("hello from the MX")},
			}}
		require.NoError(t, db.StoreReceivedEmail(ctx, e, events.Received))
		ids = append([]string{e.ID}, ids...)
	}
	return ids
}

// TestNodeSDKReceiving drives the Receiving API of the real binary with the
// official Node SDK, unchanged: emails.receiving.list/get, attachments
// list/get, the raw and attachment download links, and forward() both
// passthrough and wrapped (e2e/node/receiving.mjs checks each answer).
func TestNodeSDKReceiving(t *testing.T) {
	node := nodeSDK(t)
	dir := t.TempDir()
	s := start(t, "--data-dir", dir)
	key := firstKey(t, s)
	ids := storeReceived(t, dir, 3)

	got := runNode(t, node, "receiving.mjs", "RESEND_BASE_URL="+s.url, "RESEND_API_KEY="+key,
		"RECEIVED_IDS="+strings.Join(ids, ","))
	require.JSONEq(t, `200`, string(got["rawStatus"]))
	require.JSONEq(t, `"message/rfc822"`, string(got["rawType"]))
	var raw string
	require.NoError(t, json.Unmarshal(got["raw"], &raw))
	require.Equal(t, receivedMessage, raw, "the raw message downloads byte for byte")
	require.JSONEq(t, `200`, string(got["attachmentStatus"]))
	require.JSONEq(t, `"hello from the MX"`, string(got["attachmentBody"]))
	require.Contains(t, string(got["missing"]), "not_found")

	var email struct {
		ReceivedFor []string `json:"received_for"`
		Headers     map[string]string
	}
	require.NoError(t, json.Unmarshal(got["get"], &email))
	require.Equal(t, []string{"support@example.com"}, email.ReceivedFor)
	require.Equal(t, "Help from Node", email.Headers["subject"])

	// Passthrough re-sent the parsed parts; wrapped attached the .eml.
	var pass, wrapped struct {
		Subject string
		HTML    *string
		Text    *string
	}
	require.NoError(t, json.Unmarshal(got["forwardedPassthrough"], &pass))
	require.Equal(t, "Help from Node", pass.Subject)
	require.NotNil(t, pass.HTML)
	require.Contains(t, *pass.HTML, "cid:logo")
	require.NoError(t, json.Unmarshal(got["forwardedWrapped"], &wrapped))
	require.Equal(t, "Fwd: Help from Node", wrapped.Subject)
	var atts struct {
		Data []struct {
			Filename    string `json:"filename"`
			ContentType string `json:"content_type"`
			Size        int    `json:"size"`
		}
	}
	require.NoError(t, json.Unmarshal(got["forwardedWrappedAttachments"], &atts))
	require.Len(t, atts.Data, 1)
	require.Equal(t, "forwarded_message.eml", atts.Data[0].Filename)
	require.Equal(t, "message/rfc822", atts.Data[0].ContentType)
	require.Equal(t, len(receivedMessage), atts.Data[0].Size)
}
