package submission

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/godwit/godwit/internal/store"
)

func fixture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	require.NoError(t, err)
	return b
}

func ptr(s string) *string { return &s }

func convertOK(t *testing.T, raw []byte, env Envelope) (*store.Email, string) {
	t.Helper()
	e, key, err := Convert(raw, env, testNow)
	require.NoError(t, err)
	return e, key
}

func TestThunderbird(t *testing.T) {
	e, key := convertOK(t, fixture(t, "thunderbird.eml"), Envelope{
		From:       "zoe@acme.com",
		Recipients: []string{"juergen@example.com", "team@example.com", "jane@example.com"},
	})
	require.Equal(t, "welcome-user-123", key)
	require.Equal(t, "Zoë Müller <zoe@acme.com>", e.From)
	require.Equal(t, []string{"Jürgen Groß <juergen@example.com>"}, e.To)
	require.Equal(t, []string{"team@example.com", `"Doe, Jane" <jane@example.com>`}, e.Cc)
	require.Nil(t, e.Bcc)
	require.Equal(t, "Grüße mit Bild", e.Subject)
	require.Equal(t, "Hallo Jürgen,\n\nhier ist das Logo:\n\nGrüße\nZoë\n", *e.Text)
	require.Contains(t, *e.HTML, `src="cid:part1.Ab3dEf7H.Jk9LmN2p@acme.com"`)
	require.Contains(t, *e.HTML, "<p>Grüße<br>Zoë</p>\n")
	require.NotContains(t, *e.HTML, "\r")
	require.Len(t, e.Attachments, 1)
	a := e.Attachments[0]
	require.Equal(t, "logo.png", a.Filename)
	require.Equal(t, "image/png", a.ContentType)
	require.Equal(t, "part1.Ab3dEf7H.Jk9LmN2p@acme.com", a.ContentID)
	require.Equal(t, []byte("\x89PNG\r\n\x1a\n"), a.Content[:8])
	// Message-ID, Date, MIME-Version and Content-Type are Godwit's; the
	// idempotency key is not a header.
	require.Equal(t, []store.Header{
		{Name: "User-Agent", Value: "Mozilla Thunderbird"},
		{Name: "Content-Language", Value: "de-DE"},
	}, e.Headers)
}

func TestOutlook(t *testing.T) {
	e, key := convertOK(t, fixture(t, "outlook.eml"), Envelope{Recipients: []string{"kunde@example.com"}})
	require.Empty(t, key)
	require.Equal(t, `"Smith, Robert" <robert.smith@acme.com>`, e.From)
	require.Equal(t, []string{"'Kunde' <kunde@example.com>"}, e.To)
	require.Equal(t, "Angebot für Q2 – Entwurf", e.Subject)
	require.Equal(t, "Sehr geehrte Damen und Herren,\n\nanbei das Angebot für Q2 – „Entwurf“.\n\nMit freundlichen Grüßen\nRobert Smith\n", *e.Text)
	require.Contains(t, *e.HTML, "<p class=\"MsoNormal\">anbei das Angebot für Q2 – „Entwurf“.<o:p></o:p></p>")
	require.Contains(t, *e.HTML, `charset=windows-1252">`) // the meta tag is content, kept as written
	require.Len(t, e.Attachments, 1)
	a := e.Attachments[0]
	require.Equal(t, "Angebot Q2 – Entwurf.docx", a.Filename)
	require.Equal(t, "application/vnd.openxmlformats-officedocument.wordprocessingml.document", a.ContentType)
	require.Empty(t, a.ContentID)
	require.Equal(t, []byte("PK\x03\x04\x14\x00\x06\x00\x08\x00\x00\x00!\x00"), a.Content)
	// Received and X-Originating-IP are trace fields; Content-Description
	// belongs to the rebuilt MIME structure.
	require.Equal(t, []store.Header{
		{Name: "Thread-Topic", Value: "Angebot"},
		{Name: "Thread-Index", Value: "AdmYxJ8kq1u2V3w4RqSxYz=="},
		{Name: "Accept-Language", Value: "de-DE, en-US"},
		{Name: "Content-Language", Value: "de-DE"},
		{Name: "X-MS-Has-Attach", Value: "yes"},
		{Name: "X-MS-TNEF-Correlator", Value: ""},
	}, e.Headers)
}

func TestFlowedTextOnly(t *testing.T) {
	e, _ := convertOK(t, fixture(t, "flowed.eml"), Envelope{})
	require.Nil(t, e.HTML)
	require.Equal(t, "Backup finished: 42 files, 3.1 GB. This line is long enough that a flowed writer wrapped it with a trailing space.\n", *e.Text)
	require.Equal(t, "Cron Daemon <cron@acme.com>", e.From)
	require.Equal(t, []string{"ops@acme.com"}, e.To)
	require.Equal(t, "Cron <root@web1> /usr/local/bin/backup", e.Subject)
	require.Equal(t, []store.Header{{Name: "X-Cron-Env", Value: "<SHELL=/bin/sh>"}}, e.Headers)
	require.Nil(t, e.Attachments)
}

func TestBccHeaderDropped(t *testing.T) {
	e, _ := convertOK(t, fixture(t, "bcc.eml"), Envelope{
		From:       "app@acme.com",
		Recipients: []string{"customer@example.com", "audit@acme.com", "archive@acme.com"},
	})
	require.Equal(t, []string{"customer@example.com"}, e.To)
	require.Equal(t, []string{"audit@acme.com", "archive@acme.com"}, e.Bcc)
	require.Equal(t, "<p>Thanks for your order!</p>", *e.HTML)
	require.Nil(t, e.Text) // html only: delivery derives the text part
	require.Equal(t, []store.Header{
		{Name: "X-Mailer", Value: "PHPMailer 6.9.1 (https://github.com/PHPMailer/PHPMailer)"},
		{Name: "X-Entity-Ref-ID", Value: "receipt-77"},
	}, e.Headers)

	// Without envelope recipients, the Bcc header names nobody.
	e, _ = convertOK(t, fixture(t, "bcc.eml"), Envelope{})
	require.Nil(t, e.Bcc)
}

func TestLFLineEndings(t *testing.T) {
	raw := fixture(t, "lf.eml")
	require.NotContains(t, string(raw), "\r")
	e, _ := convertOK(t, raw, Envelope{Recipients: []string{"ops@acme.com"}})
	require.Equal(t, "script@acme.com", e.From)
	require.Equal(t, []string{"Ops Team <ops@acme.com>"}, e.To)
	require.Equal(t, []string{"noreply@acme.com"}, e.ReplyTo)
	require.Equal(t, "Plain part\nsecond line", *e.Text)
	require.Equal(t, "<p>HTML part</p>", *e.HTML)
	require.Nil(t, e.Headers)
}

func TestFromFallsBackToEnvelope(t *testing.T) {
	raw := []byte("To: a@example.com\r\nSubject: s\r\n\r\nbody\r\n")
	e, _ := convertOK(t, raw, Envelope{From: "<sender@acme.com>"})
	require.Equal(t, "sender@acme.com", e.From)
	require.Equal(t, "body\n", *e.Text)

	_, _, err := Convert(raw, Envelope{}, testNow)
	require.ErrorIs(t, err, ErrMissingFrom)
}

func TestNoBody(t *testing.T) {
	e, _ := convertOK(t, []byte("From: a@acme.com\r\nTo: b@example.com\r\n\r\n"), Envelope{})
	require.Equal(t, ptr(""), e.Text)
	require.Nil(t, e.HTML)
	require.Empty(t, e.Subject)
}

func TestUnknownCharsetKeptValidUTF8(t *testing.T) {
	raw := []byte("From: a@acme.com\r\nTo: b@example.com\r\nSubject: =?x-unknown?q?caf=E9?=\r\n" +
		"Content-Type: text/plain; charset=x-unknown\r\n\r\ncaf\xe9\r\n")
	e, _ := convertOK(t, raw, Envelope{})
	require.Equal(t, "caf\uFFFD\n", *e.Text)
	require.Equal(t, "=?x-unknown?q?caf=E9?=", e.Subject)
}

func TestTextAttachmentCharset(t *testing.T) {
	raw := []byte("From: a@acme.com\r\nTo: b@example.com\r\nContent-Type: multipart/mixed; boundary=x\r\n\r\n" +
		"--x\r\nContent-Type: text/plain\r\n\r\nbody\r\n" +
		"--x\r\nContent-Type: text/csv; charset=iso-8859-1; header=present\r\nContent-Disposition: attachment; filename=a.csv\r\n\r\nd\xe9j\xe0\r\n" +
		"--x\r\nContent-Type: message/rfc822\r\n\r\nSubject: inner\r\n\r\nhi\r\n" +
		"--x--\r\n")
	e, _ := convertOK(t, raw, Envelope{})
	require.Equal(t, "body", *e.Text)
	require.Len(t, e.Attachments, 2)
	require.Equal(t, store.Attachment{Filename: "a.csv", ContentType: "text/csv; charset=utf-8; header=present", Content: []byte("déjà")}, e.Attachments[0])
	require.Equal(t, "message/rfc822", e.Attachments[1].ContentType)
	require.Equal(t, "Subject: inner\r\n\r\nhi", string(e.Attachments[1].Content))
}

func TestUnflow(t *testing.T) {
	for in, want := range map[string]string{
		"a \nb":                "a b",
		"a \nb \nc\nd":         "a b c\nd",
		" From here":           "From here",
		"-- \nsig":             "-- \nsig",
		"> quoted \n> more\nx": "> quoted more\nx",
		"> q \nnot quoted":     "> q \nnot quoted",
	} {
		require.Equal(t, want, unflow(in, false), "%q", in)
	}
	require.Equal(t, "ab", unflow("a \nb", true))
}

func TestErrors(t *testing.T) {
	const ok = "From: a@acme.com\r\nTo: b@example.com\r\nSubject: s\r\n"
	many := func(n int) string {
		var b strings.Builder
		for i := 0; i < n; i++ {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString("r" + strings.Repeat("x", i%7) + string(rune('a'+i%26)) + "@example.com")
		}
		return b.String()
	}
	nested := func(depth int) string {
		var b strings.Builder
		b.WriteString("From: a@acme.com\r\nTo: b@example.com\r\n")
		for i := 0; i < depth; i++ {
			b.WriteString("Content-Type: multipart/mixed; boundary=b" + string(rune('a'+i)) + "\r\n\r\n--b" + string(rune('a'+i)) + "\r\n")
		}
		b.WriteString("Content-Type: text/plain\r\n\r\nx\r\n")
		for i := depth - 1; i >= 0; i-- {
			b.WriteString("--b" + string(rune('a'+i)) + "--\r\n")
		}
		return b.String()
	}
	manyParts := func(n int) string {
		var b strings.Builder
		b.WriteString(ok + "Content-Type: multipart/mixed; boundary=z\r\n\r\n")
		for i := 0; i < n; i++ {
			b.WriteString("--z\r\nContent-Type: application/octet-stream\r\n\r\nx\r\n")
		}
		b.WriteString("--z--\r\n")
		return b.String()
	}
	cases := []struct {
		name string
		raw  string
		env  Envelope
		want error
	}{
		{"no from", "To: b@example.com\r\n\r\nx", Envelope{}, ErrMissingFrom},
		{"empty from", "From: \r\nTo: b@example.com\r\n\r\nx", Envelope{}, ErrMissingFrom},
		{"two from addresses", "From: a@acme.com, c@acme.com\r\nTo: b@example.com\r\n\r\nx", Envelope{}, ErrInvalidFrom},
		{"two from fields", "From: a@acme.com\r\nFrom: c@acme.com\r\nTo: b@example.com\r\n\r\nx", Envelope{}, ErrInvalidFrom},
		{"from without domain dot", "From: a@localhost\r\nTo: b@example.com\r\n\r\nx", Envelope{}, ErrInvalidFrom},
		{"from garbage", "From: <<>>\r\nTo: b@example.com\r\n\r\nx", Envelope{}, ErrInvalidFrom},
		{"bad envelope from", "To: b@example.com\r\n\r\nx", Envelope{From: "nobody"}, ErrInvalidFrom},
		{"no recipients", "From: a@acme.com\r\nSubject: s\r\n\r\nx", Envelope{}, ErrNoRecipients},
		{"empty group", "From: a@acme.com\r\nTo: undisclosed-recipients:;\r\n\r\nx", Envelope{}, ErrNoRecipients},
		{"bad to", "From: a@acme.com\r\nTo: not an address\r\n\r\nx", Envelope{}, ErrInvalidAddress},
		{"quoted local part", "From: a@acme.com\r\nTo: \"a b\"@example.com\r\n\r\nx", Envelope{}, ErrInvalidAddress},
		{"bad envelope rcpt", ok + "\r\nx", Envelope{Recipients: []string{"x"}}, ErrInvalidAddress},
		{"51 to", "From: a@acme.com\r\nTo: " + many(51) + "\r\n\r\nx", Envelope{}, ErrTooManyRecipients},
		{"51 bcc", ok + "\r\nx", Envelope{Recipients: strings.Split(many(51), ", ")}, ErrTooManyRecipients},
		{"encoded CRLF in subject", "From: a@acme.com\r\nTo: b@example.com\r\nSubject: =?utf-8?q?a=0D=0AX-Evil:_1?=\r\n\r\nx", Envelope{}, ErrHeaderBreak},
		{"encoded NUL in header", ok + "X-A: =?utf-8?b?YQBi?=\r\n\r\nx", Envelope{}, ErrHeaderBreak},
		{"encoded LF in display name", "From: =?utf-8?q?a=0Ab?= <a@acme.com>\r\nTo: b@example.com\r\n\r\nx", Envelope{}, ErrHeaderBreak},
		{"encoded LF in filename", ok + "Content-Type: application/pdf; name=\"=?utf-8?q?a=0Ab.pdf?=\"\r\n\r\nx", Envelope{}, ErrHeaderBreak},
		{"long subject", "From: a@acme.com\r\nTo: b@example.com\r\nSubject: " + strings.Repeat("ab ", 3400) + "\r\n\r\nx", Envelope{}, ErrSubjectTooLong},
		{"two idempotency keys", ok + "Resend-Idempotency-Key: a\r\nResend-Idempotency-Key: b\r\n\r\nx", Envelope{}, ErrInvalidIdempotencyKey},
		{"empty idempotency key", ok + "Resend-Idempotency-Key: \r\n\r\nx", Envelope{}, ErrInvalidIdempotencyKey},
		{"long idempotency key", ok + "Resend-Idempotency-Key: " + strings.Repeat("k", 257) + "\r\n\r\nx", Envelope{}, ErrInvalidIdempotencyKey},
		{"idempotency key not UTF-8", ok + "Resend-Idempotency-Key: k\xff\r\n\r\nx", Envelope{}, ErrInvalidIdempotencyKey},
		{"long header name", ok + strings.Repeat("X", 201) + ": v\r\n\r\nx", Envelope{}, ErrInvalidHeader},
		{"bad content id", ok + "Content-Type: multipart/related; boundary=r\r\n\r\n--r\r\nContent-Type: text/html\r\n\r\n<p>\r\n--r\r\nContent-Type: image/png\r\nContent-ID: <a b>\r\n\r\nx\r\n--r--\r\n", Envelope{}, ErrInvalidAttachment},
		{"multipart without boundary", ok + "Content-Type: multipart/mixed\r\n\r\nx", Envelope{}, ErrMalformed},
		{"bad base64", ok + "Content-Type: application/pdf\r\nContent-Transfer-Encoding: base64\r\n\r\n!!!!\r\n", Envelope{}, ErrMalformed},
		{"too deep", nested(MaxDepth + 1), Envelope{}, ErrTooDeep},
		{"too many parts", manyParts(MaxParts), Envelope{}, ErrTooManyParts},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e, _, err := Convert([]byte(c.raw), c.env, testNow)
			require.Nil(t, e)
			require.ErrorIs(t, err, c.want)
			var se *Error
			require.True(t, errors.As(err, &se))
			require.NotContains(t, err.Error(), "\n")
		})
	}

	// The limits themselves are accepted.
	for _, raw := range []string{
		"From: a@acme.com\r\nTo: " + many(50) + "\r\n\r\nx",
		nested(MaxDepth),
		manyParts(MaxParts - 1),
	} {
		_, _, err := Convert([]byte(raw), Envelope{Recipients: strings.Split(many(50), ", ")}, testNow)
		require.NoError(t, err)
	}
}

func TestTooLarge(t *testing.T) {
	if testing.Short() {
		t.Skip("allocates ~60 MB")
	}
	// 30 MB of attachment is 40 MB once base64-encoded: over the limit with
	// the text part, as sendreq counts.
	att := strings.Repeat("x", 30_000_000)
	raw := "From: a@acme.com\r\nTo: b@example.com\r\nContent-Type: multipart/mixed; boundary=z\r\n\r\n" +
		"--z\r\nContent-Type: text/plain\r\n\r\nhello\r\n--z\r\nContent-Type: application/octet-stream\r\n\r\n" + att + "\r\n--z--\r\n"
	_, _, err := Convert([]byte(raw), Envelope{}, testNow)
	require.ErrorIs(t, err, ErrTooLarge)
}
