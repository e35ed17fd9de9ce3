package submission

import (
	"encoding/base64"
	"encoding/json"
	"regexp"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/godwit/godwit/internal/message"
	"github.com/godwit/godwit/internal/sendreq"
	"github.com/godwit/godwit/internal/store"
)

var testNow = time.Date(2025, 3, 12, 15, 30, 45, 0, time.UTC)

// png is a few binary bytes (all 256 values, so every byte survives).
func binaryBytes() []byte {
	b := make([]byte, 600)
	for i := range b {
		b[i] = byte(i * 7)
	}
	return b
}

// TestEquivalentToAPI sends the same email through POST /emails decoding
// (sendreq.Decode) and through SMTP (message.Build writes it as MIME,
// Convert reads it back): both must give the same store.Email.
func TestEquivalentToAPI(t *testing.T) {
	bin := base64.StdEncoding.EncodeToString(binaryBytes())
	cases := map[string]map[string]any{
		"text only": {
			"text": "Hello,\nthis is plain text.\n\n-- \nAcme",
		},
		"html only": {
			"html": `<h1>Hi</h1><p>Visit <a href="https://acme.com/x">our site</a>.</p><ul><li>one</li><li>two</li></ul>`,
		},
		"both": {
			"html": "<p>Hello <b>there</b></p>",
			"text": "Hello there (text version)",
		},
		"attachments": {
			"html": "<p>see attached</p>",
			"text": "see the attached files",
			"attachments": []any{
				map[string]any{"filename": "data.bin", "content": bin, "content_type": "application/octet-stream"},
				map[string]any{"filename": "report.pdf", "content": bin},
				map[string]any{"filename": "notes.txt", "content": base64.StdEncoding.EncodeToString([]byte("line 1\r\nline 2\r\n")), "content_type": "text/plain"},
			},
		},
		"text with attachment": {
			"text":        "only text",
			"attachments": []any{map[string]any{"filename": "a.bin", "content": bin, "content_type": "application/x-thing"}},
		},
		"inline image": {
			"html": `<p><img src="cid:logo-1@acme"></p>`,
			"text": "logo",
			"attachments": []any{
				map[string]any{"filename": "logo.png", "content": bin, "content_type": "image/png", "content_id": "logo-1@acme"},
				map[string]any{"filename": "terms.pdf", "content": bin, "content_type": "application/pdf"},
			},
		},
		"non-ASCII": {
			"from":     "Zoë Müller <zoe@acme.com>",
			"to":       []any{"Jürgen Groß <j@example.com>", "plain@example.com", "李小龙 <lee@example.org>"},
			"cc":       "\"Doe, John\" <john@example.com>",
			"reply_to": "Support — Acme <support@acme.com>",
			"subject":  "Grüße aus Köln — 日本語の件名 that is long enough to be folded over more than one line of the header",
			"html":     "<p>Grüße, ça va? 日本語</p>",
			"text":     "Grüße, ça va? 日本語 (texte)",
			"attachments": []any{
				map[string]any{"filename": "résumé ñ 履歴書.pdf", "content": bin, "content_type": "application/pdf"},
			},
		},
		"custom headers": {
			"text": "body",
			"headers": map[string]any{
				"X-Entity-Ref-ID":       "abc-123",
				"List-Unsubscribe":      "<mailto:unsub@acme.com?subject=unsubscribe>, <https://acme.com/unsub?u=1>",
				"List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
				"X-Note":                "Ünïcödé value",
				"In-Reply-To":           "<prev@acme.com>",
				"X-Long":                "a long value that keeps going and going past the seventy-eight character fold point of the header line",
			},
		},
	}
	for name, fields := range cases {
		t.Run(name, func(t *testing.T) {
			body := map[string]any{
				"from":    "Acme <hello@acme.com>",
				"to":      "bob@example.com",
				"subject": "Hello",
			}
			for k, v := range fields {
				body[k] = v
			}
			raw, err := json.Marshal(body)
			require.NoError(t, err)
			api, err := sendreq.Decode(raw, sendreq.Options{Now: testNow})
			require.NoError(t, err)

			mime, err := message.Build(api, message.Options{Now: testNow, MessageID: "<m1@acme.com>"})
			require.NoError(t, err)
			env := Envelope{From: "bounce@acme.com", Recipients: recipientsOf(api)}
			got, key, err := Convert(mime, env, testNow)
			require.NoError(t, err, "%s", mime)
			require.Empty(t, key)

			require.Equal(t, api.From, got.From)
			require.Equal(t, api.To, got.To)
			require.Equal(t, api.Cc, got.Cc)
			require.Equal(t, api.Bcc, got.Bcc)
			require.Equal(t, api.ReplyTo, got.ReplyTo)
			require.Equal(t, api.Subject, got.Subject)
			require.Equal(t, api.HTML, got.HTML)
			require.Equal(t, api.Text, got.Text)
			require.Equal(t, api.Headers, got.Headers)
			require.Equal(t, api.Attachments, got.Attachments)
			require.Equal(t, api, got) // nothing else differs either

			// And the message Godwit would send is the same.
			again, err := message.Build(got, message.Options{Now: testNow, MessageID: "<m1@acme.com>"})
			require.NoError(t, err)
			require.Equal(t, stripBoundaries(mime), stripBoundaries(again))
		})
	}
}

func recipientsOf(e *store.Email) []string {
	var out []string
	for _, l := range [][]string{e.To, e.Cc, e.Bcc} {
		for _, s := range l {
			out = append(out, addrSpec(s))
		}
	}
	return out
}

// TestEquivalentBcc: an API bcc has no header; over SMTP it is only an
// envelope recipient.
func TestEquivalentBcc(t *testing.T) {
	raw := []byte(`{"from":"hello@acme.com","to":"a@example.com","cc":["c@example.com"],"bcc":["Secret <s@example.com>","t@example.com"],"subject":"S","text":"x"}`)
	api, err := sendreq.Decode(raw, sendreq.Options{Now: testNow})
	require.NoError(t, err)
	mime, err := message.Build(api, message.Options{Now: testNow, MessageID: "<m1@acme.com>"})
	require.NoError(t, err)
	require.NotContains(t, string(mime), "s@example.com")
	got, _, err := Convert(mime, Envelope{Recipients: []string{"A@example.com", "s@example.com", "c@example.com", "t@example.com", "s@example.com"}}, testNow)
	require.NoError(t, err)
	require.Equal(t, api.To, got.To)
	require.Equal(t, api.Cc, got.Cc)
	// The envelope carries no display names.
	require.Equal(t, []string{"s@example.com", "t@example.com"}, got.Bcc)
}

// stripBoundaries blanks multipart boundaries (random per Build).
func stripBoundaries(b []byte) string {
	return boundaryRE.ReplaceAllString(string(b), "BOUNDARY")
}

var boundaryRE = regexp.MustCompile(`[0-9a-f]{60}`)
