package inbound_test

import (
	"os"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/require"

	"github.com/godwit/godwit/internal/inbound"
	"github.com/godwit/godwit/internal/store"
)

// FuzzParse: Parse never panics, and what it returns is clean: valid
// UTF-8 everywhere, no NUL or line break in any one-line value.
func FuzzParse(f *testing.F) {
	for _, seed := range parseSeeds {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		e, err := inbound.Parse(raw)
		if err != nil {
			return
		}
		oneLine := []string{e.MessageID, e.From, e.Subject}
		for _, l := range [][]string{e.To, e.Cc, e.Bcc, e.ReplyTo} {
			oneLine = append(oneLine, l...)
		}
		for _, h := range e.Headers {
			oneLine = append(oneLine, h.Name, h.Value)
		}
		for _, a := range e.Attachments {
			oneLine = append(oneLine, a.Filename, a.ContentType, a.ContentID, a.ContentDisposition)
			require.EqualValues(t, len(a.Content), a.Size)
		}
		for _, s := range oneLine {
			require.True(t, utf8.ValidString(s), "%q", s)
			require.False(t, strings.ContainsAny(s, "\x00\r\n"), "%q", s)
		}
		for _, body := range []*string{e.Text, e.HTML} {
			if body != nil {
				require.True(t, utf8.ValidString(*body))
				require.NotContains(t, *body, "\x00")
			}
		}
		require.LessOrEqual(t, len(e.Attachments), inbound.MaxParts)
	})
}

// parseSeeds are the seed messages of the parser's fuzz targets.
var parseSeeds = []string{
	strings.ReplaceAll(mixedMessage, "\n", "\r\n"),
	"Subject: s\r\n\r\nhi",
	"From: \"a\\\"b\" <a@b>, c@d\r\nTo: undisclosed-recipients:;\r\n\r\n",
	"Content-Type: multipart/mixed; boundary=x\r\n\r\n--x\r\nContent-Type: multipart/related; boundary=y\r\n\r\n--y\r\n\r\n--y--\r\n--x",
	"Subject: =?utf-8?b?/w==?=\r\nContent-Type: text/plain; charset=x-unknown\r\n\r\n\xff\xfe",
	"Content-Type: message/rfc822\r\n\r\nSubject: inner\r\n\r\nbody",
	"Content-Disposition: attachment; filename*=UTF-8''%E2%82%AC%0D%0A.txt\r\nContent-ID: <a\x00b>\r\n\r\nx",
	"Content-Type: multipart/mixed; boundary=z\r\n\r\n--z\r\nContent-Transfer-Encoding: base64\r\n" +
		"Content-Disposition: attachment\r\n\r\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\r\n--z\r\n" +
		"Content-Transfer-Encoding: base64\r\n\r\n!!broken base64\r\n--z--\r\n",
}

// FuzzParseSpooled: ParseSpooled, its parts spooled past a few bytes, reads
// every message as Parse does, and gives its files back.
func FuzzParseSpooled(f *testing.F) {
	for _, seed := range parseSeeds {
		f.Add([]byte(seed))
	}
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, raw []byte) {
		want, wantErr := inbound.Parse(raw)
		got, release, err := inbound.ParseSpooled(raw, dir, 4)
		defer release()
		require.Equal(t, wantErr, err)
		require.Equal(t, want, got)
		release()
		ents, err := os.ReadDir(dir)
		require.NoError(t, err)
		require.Empty(t, ents)
	})
}

// TestParse: the shapes of mail: a nested message is an attachment, an
// unknown charset keeps the bytes, a multipart/related root is the body.
func TestParse(t *testing.T) {
	e, err := inbound.Parse([]byte("From: a@example.net\r\nSubject: fwd\r\nContent-Type: multipart/mixed; boundary=x\r\n\r\n" +
		"--x\r\nContent-Type: multipart/related; boundary=y\r\n\r\n--y\r\nContent-Type: text/html\r\n\r\n<img src=cid:i>\r\n" +
		"--y\r\nContent-Type: image/gif\r\nContent-ID: <i>\r\n\r\nGIF\r\n--y--\r\n" +
		"--x\r\nContent-Type: message/rfc822\r\n\r\nSubject: inner\r\n\r\nbody\r\n--x--\r\n"))
	require.NoError(t, err)
	require.Nil(t, e.Text)
	require.Equal(t, "<img src=cid:i>", *e.HTML)
	require.Len(t, e.Attachments, 2)
	require.Equal(t, store.ReceivedAttachment{ContentType: "image/gif", ContentDisposition: "inline", ContentID: "i", Size: 3, Content: []byte("GIF")},
		*e.Attachments[0])
	require.Equal(t, "message/rfc822", e.Attachments[1].ContentType)
	require.Contains(t, string(e.Attachments[1].Content), "Subject: inner")

	_, err = inbound.Parse([]byte(" leading space\r\n\r\n"))
	require.ErrorIs(t, err, inbound.ErrNotMessage)
}

// benchMessage is a message like bench/inbound's: about 10 KB, headers
// and a quoted-printable HTML body.
func benchMessage() []byte {
	var body strings.Builder
	for body.Len() < 9500 {
		body.WriteString("<p>Caf=C3=A9 for two, and a line long enough to be soft-broken by quoted-printab=\r\nle encoding.</p>\r\n")
	}
	return []byte("From: Bench Sender <sender@sender.example.net>\r\nTo: <bench@bench.test>\r\nSubject: inbound bench\r\n" +
		"Message-ID: <1@sender.example.net>\r\nDate: Thu, 03 Dec 2026 10:00:00 +0000\r\nMIME-Version: 1.0\r\n" +
		"Content-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n" + body.String())
}

func BenchmarkParse(b *testing.B) {
	raw := benchMessage()
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := inbound.Parse(raw); err != nil {
			b.Fatal(err)
		}
	}
}
