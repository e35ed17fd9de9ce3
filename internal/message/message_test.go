package message

import (
	"bytes"
	"io"
	"strings"
	"testing"
	"time"

	gomessage "github.com/emersion/go-message"
	"github.com/emersion/go-message/mail"
	"github.com/stretchr/testify/require"

	"github.com/godwit/godwit/internal/store"
)

var fixedNow = time.Date(2025, 3, 14, 15, 9, 26, 0, time.FixedZone("", 3600))

func opts() Options { return Options{Now: fixedNow, MessageID: "<abc123@godwit.example>"} }

func ptr(s string) *string { return &s }

func baseEmail() *store.Email {
	return &store.Email{
		From:    `"Zoë Ünïcode" <zoe@example.com>`,
		To:      []string{"Bob <bob@example.org>", "carol@example.org"},
		Cc:      []string{"Dave Ünïcode <dave@example.net>"},
		Bcc:     []string{"secret@example.net"},
		ReplyTo: []string{"r1@example.com", "Reply Two <r2@example.com>"},
		Subject: "Grüße – hello ✓",
		Headers: []store.Header{
			{Name: "X-Entity-Ref-ID", Value: "ref-1"},
			{Name: "List-Unsubscribe", Value: "<https://example.com/unsub>, <mailto:u@example.com>"},
			{Name: "List-Unsubscribe-Post", Value: "List-Unsubscribe=One-Click"},
			{Name: "X-Note", Value: "café"},
		},
	}
}

func build(t *testing.T, e *store.Email) []byte {
	t.Helper()
	b, err := Build(e, opts())
	require.NoError(t, err)
	checkWire(t, b)
	return b
}

// checkWire: CRLF everywhere (no bare CR or LF) and no line over 998 octets.
func checkWire(t testing.TB, b []byte) {
	t.Helper()
	for i, c := range b {
		if c == '\n' {
			require.True(t, i > 0 && b[i-1] == '\r', "bare LF at %d", i)
		}
		if c == '\r' {
			require.True(t, i+1 < len(b) && b[i+1] == '\n', "bare CR at %d", i)
		}
	}
	for _, l := range bytes.Split(b, []byte("\r\n")) {
		require.LessOrEqual(t, len(l), 998)
	}
}

type leaf struct {
	header gomessage.Header
	body   []byte
}

// shape returns the MIME tree as a string, e.g.
// "multipart/mixed(multipart/alternative(text/plain,text/html),image/png)",
// and collects the leaves in order.
func shape(t *testing.T, e *gomessage.Entity, leaves *[]leaf) string {
	t.Helper()
	mt, _, err := e.Header.ContentType()
	require.NoError(t, err)
	if mr := e.MultipartReader(); mr != nil {
		var kids []string
		for {
			p, err := mr.NextPart()
			if err == io.EOF {
				break
			}
			require.NoError(t, err)
			kids = append(kids, shape(t, p, leaves))
		}
		return mt + "(" + strings.Join(kids, ",") + ")"
	}
	b, err := io.ReadAll(e.Body)
	require.NoError(t, err)
	*leaves = append(*leaves, leaf{e.Header, b})
	return mt
}

func parse(t *testing.T, b []byte) (*gomessage.Entity, string, []leaf) {
	t.Helper()
	ent, err := gomessage.Read(bytes.NewReader(b))
	require.NoError(t, err)
	var leaves []leaf
	s := shape(t, ent, &leaves)
	return ent, s, leaves
}

func fieldNames(t *testing.T, b []byte) []string {
	t.Helper()
	ent, err := gomessage.Read(bytes.NewReader(b))
	require.NoError(t, err)
	var names []string
	f := ent.Header.Fields()
	for f.Next() {
		names = append(names, f.Key())
	}
	return names
}

func TestHeaders(t *testing.T) {
	e := baseEmail()
	e.Text = ptr("hi")
	b := build(t, e)
	ent, s, _ := parse(t, b)
	require.Equal(t, "text/plain", s)
	h := mail.Header{Header: ent.Header}

	from, err := h.AddressList("From")
	require.NoError(t, err)
	require.Equal(t, []*mail.Address{{Name: "Zoë Ünïcode", Address: "zoe@example.com"}}, from)
	require.Contains(t, h.Get("From"), "=?utf-8?")

	to, err := h.AddressList("To")
	require.NoError(t, err)
	require.Equal(t, []*mail.Address{{Name: "Bob", Address: "bob@example.org"}, {Address: "carol@example.org"}}, to)
	cc, err := h.AddressList("Cc")
	require.NoError(t, err)
	require.Equal(t, []*mail.Address{{Name: "Dave Ünïcode", Address: "dave@example.net"}}, cc)
	rt, err := h.AddressList("Reply-To")
	require.NoError(t, err)
	require.Equal(t, []*mail.Address{{Address: "r1@example.com"}, {Name: "Reply Two", Address: "r2@example.com"}}, rt)

	require.False(t, h.Has("Bcc"))
	require.NotContains(t, string(b), "secret@example.net")

	subj, err := h.Subject()
	require.NoError(t, err)
	require.Equal(t, "Grüße – hello ✓", subj)
	require.True(t, strings.HasPrefix(h.Get("Subject"), "=?utf-8?"))

	date, err := h.Date()
	require.NoError(t, err)
	require.True(t, date.Equal(fixedNow))
	require.Contains(t, string(b), "\r\nDate: Fri, 14 Mar 2025 15:09:26 +0100\r\n")

	id, err := h.MessageID()
	require.NoError(t, err)
	require.Equal(t, "abc123@godwit.example", id)
	require.Contains(t, string(b), "\r\nMessage-ID: <abc123@godwit.example>\r\n")
	require.Contains(t, string(b), "\r\nMIME-Version: 1.0\r\n")

	require.Equal(t, "ref-1", h.Get("X-Entity-Ref-ID"))
	require.Equal(t, "<https://example.com/unsub>, <mailto:u@example.com>", h.Get("List-Unsubscribe"))
	require.Equal(t, "List-Unsubscribe=One-Click", h.Get("List-Unsubscribe-Post"))
	require.NotContains(t, string(b), "café")
	note, err := h.Text("X-Note")
	require.NoError(t, err)
	require.Equal(t, "café", note)

	require.Equal(t, []string{
		"From", "To", "Cc", "Reply-To", "Subject", "Date", "Message-Id", "Mime-Version",
		"X-Entity-Ref-Id", "List-Unsubscribe", "List-Unsubscribe-Post", "X-Note",
		"Content-Type", "Content-Transfer-Encoding",
	}, fieldNames(t, b))
	// The caller's spelling of custom names is kept on the wire.
	require.Contains(t, string(b), "\r\nX-Entity-Ref-ID: ref-1\r\n")
}

func TestCustomHeaderOrderKept(t *testing.T) {
	e := baseEmail()
	e.Text = ptr("x")
	e.Headers = []store.Header{{Name: "X-C", Value: "3"}, {Name: "X-A", Value: "1"}, {Name: "X-B", Value: "2"}}
	names := fieldNames(t, build(t, e))
	i := 0
	for ; names[i] != "X-C"; i++ {
	}
	require.Equal(t, []string{"X-C", "X-A", "X-B"}, names[i:i+3])
}

func TestLongHeadersFolded(t *testing.T) {
	e := baseEmail()
	e.Text = ptr("x")
	e.Subject = strings.Repeat("word ", 400) + strings.Repeat("ü", 300)
	var to []string
	for i := 0; i < 50; i++ {
		to = append(to, "Recipient Number <recipient.with.a.long.name@example.org>")
	}
	e.To = to
	e.Headers = []store.Header{{Name: "X-Long", Value: strings.Repeat("abcdefghij ", 300)}}
	b := build(t, e)
	ent, _, _ := parse(t, b)
	h := mail.Header{Header: ent.Header}
	subj, err := h.Subject()
	require.NoError(t, err)
	require.Equal(t, e.Subject, subj)
	got, err := h.AddressList("To")
	require.NoError(t, err)
	require.Len(t, got, 50)
	require.True(t, strings.TrimSpace(e.Headers[0].Value) == h.Get("X-Long"), "X-Long does not unfold to its value")
	// Every line fits the hard limit; lines of words that can be folded
	// (X-Long's) keep to 78 characters. An encoded word cannot be folded.
	inLong := false
	for _, line := range strings.Split(string(b), "\r\n") {
		require.LessOrEqual(t, len(line), 998)
		if strings.HasPrefix(line, "X-Long:") {
			inLong = true
		} else if !strings.HasPrefix(line, " ") {
			inLong = false
		}
		if inLong {
			require.LessOrEqual(t, len(line), 78, "line %q", line)
		}
	}
}

func TestStructure(t *testing.T) {
	const html = `<p>Hello <b>there</b></p><img src="cid:logo">`
	tests := []struct {
		name  string
		html  *string
		text  *string
		shape string
		texts []string // decoded bodies of the text leaves, in order
	}{
		{"text only", nil, ptr("plain body"), "text/plain", []string{"plain body"}},
		{"html only", ptr(html), nil, "multipart/alternative(text/plain,text/html)", []string{"Hello there", html}},
		{"html and text", ptr(html), ptr("my text"), "multipart/alternative(text/plain,text/html)", []string{"my text", html}},
		{"html with empty text", ptr(html), ptr(""), "text/html", []string{html}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := baseEmail()
			e.HTML, e.Text = tc.html, tc.text
			_, s, leaves := parse(t, build(t, e))
			require.Equal(t, tc.shape, s)
			require.Len(t, leaves, len(tc.texts))
			for i, l := range leaves {
				require.Equal(t, tc.texts[i], string(l.body))
				_, params, err := l.header.ContentType()
				require.NoError(t, err)
				require.Equal(t, "utf-8", params["charset"])
				require.Equal(t, "quoted-printable", l.header.Get("Content-Transfer-Encoding"))
			}
		})
	}
}

func allBytes() []byte {
	b := make([]byte, 0, 512)
	for r := 0; r < 2; r++ {
		for i := 0; i < 256; i++ {
			b = append(b, byte(i))
		}
	}
	return b
}

func TestAttachments(t *testing.T) {
	png := []byte("\x89PNG\r\n\x1a\n\x00\x00binary")
	e := baseEmail()
	e.HTML = ptr(`<p>Logo: <img src="cid:logo-1"></p>`)
	e.Attachments = []store.Attachment{
		{Filename: "logo.png", ContentType: "image/png", ContentID: "logo-1", Content: png},
		{Filename: "données é.bin", Content: allBytes()},
		{Filename: "report.pdf", ContentType: "application/pdf", Content: []byte("%PDF-1.4")},
	}
	b := build(t, e)
	_, s, leaves := parse(t, b)
	require.Equal(t, "multipart/mixed(multipart/alternative(text/plain,multipart/related(text/html,image/png)),application/octet-stream,application/pdf)", s)
	require.Len(t, leaves, 5)
	require.Equal(t, "Logo:", string(leaves[0].body))

	inline := mail.AttachmentHeader{Header: leaves[2].header}
	require.Equal(t, "<logo-1>", inline.Get("Content-ID"))
	disp, params, err := inline.ContentDisposition()
	require.NoError(t, err)
	require.Equal(t, "inline", disp)
	require.Equal(t, "logo.png", params["filename"])
	require.Equal(t, "base64", inline.Get("Content-Transfer-Encoding"))
	require.Equal(t, png, leaves[2].body)

	bin := mail.AttachmentHeader{Header: leaves[3].header}
	disp, _, err = bin.ContentDisposition()
	require.NoError(t, err)
	require.Equal(t, "attachment", disp)
	fn, err := bin.Filename()
	require.NoError(t, err)
	require.Equal(t, "données é.bin", fn)
	require.Contains(t, bin.Get("Content-Disposition"), "filename*=utf-8''")
	require.Equal(t, "base64", bin.Get("Content-Transfer-Encoding"))
	require.Empty(t, bin.Get("Content-ID"))
	require.Equal(t, allBytes(), leaves[3].body)

	pdf := mail.AttachmentHeader{Header: leaves[4].header}
	fn, err = pdf.Filename()
	require.NoError(t, err)
	require.Equal(t, "report.pdf", fn)
	require.Equal(t, []byte("%PDF-1.4"), leaves[4].body)

	// The related part says what its root is.
	require.Contains(t, string(b), "type=\"text/html\"")
}

func TestInlineOnly(t *testing.T) {
	e := baseEmail()
	e.HTML = ptr(`<img src="cid:a">`)
	e.Text = ptr("")
	e.Attachments = []store.Attachment{{Filename: "a.gif", ContentType: "image/gif", ContentID: "a", Content: []byte("GIF89a")}}
	_, s, leaves := parse(t, build(t, e))
	require.Equal(t, "multipart/related(text/html,image/gif)", s)
	require.Equal(t, []byte("GIF89a"), leaves[1].body)
}

func TestAttachmentTextOnly(t *testing.T) {
	e := baseEmail()
	e.Text = ptr("see attached")
	e.Attachments = []store.Attachment{{Filename: "a.txt", ContentType: "text/plain; charset=iso-8859-1", Content: []byte("caf\xe9")}}
	_, s, leaves := parse(t, build(t, e))
	require.Equal(t, "multipart/mixed(text/plain,text/plain)", s)
	require.Equal(t, []byte("caf\xe9"), leaves[1].body)
	require.Equal(t, "base64", leaves[1].header.Get("Content-Transfer-Encoding"))
}

func TestLongLines(t *testing.T) {
	e := baseEmail()
	long := "<p>" + strings.Repeat("abcdefghij", 1000) + "</p>"
	e.HTML = ptr(long)
	e.Text = ptr(strings.Repeat("é", 5000))
	b := build(t, e)
	_, _, leaves := parse(t, b)
	require.Equal(t, *e.Text, string(leaves[0].body))
	require.Equal(t, long, string(leaves[1].body))
}

func TestErrors(t *testing.T) {
	cases := map[string]func(e *store.Email, o *Options){
		"empty from":        func(e *store.Email, o *Options) { e.From = "" },
		"no recipients":     func(e *store.Email, o *Options) { e.To, e.Cc, e.Bcc = nil, nil, nil },
		"subject CRLF":      func(e *store.Email, o *Options) { e.Subject = "a\r\nBcc: x@y.z" },
		"header value LF":   func(e *store.Email, o *Options) { e.Headers = []store.Header{{Name: "X-A", Value: "a\nb"}} },
		"header name colon": func(e *store.Email, o *Options) { e.Headers = []store.Header{{Name: "X:A", Value: "a"}} },
		"reserved header":   func(e *store.Email, o *Options) { e.Headers = []store.Header{{Name: "content-type", Value: "a"}} },
		"from CR":           func(e *store.Email, o *Options) { e.From = "a@b.c\rX: y" },
		"bad address":       func(e *store.Email, o *Options) { e.To = []string{"not an address"} },
		"no content": func(e *store.Email, o *Options) {
			e.Attachments = []store.Attachment{{Filename: "a.pdf", Path: "https://example.com/a.pdf"}}
		},
		"filename LF": func(e *store.Email, o *Options) {
			e.Attachments = []store.Attachment{{Filename: "a\n.pdf", Content: []byte("x")}}
		},
		"zero now":       func(e *store.Email, o *Options) { o.Now = time.Time{} },
		"bad message id": func(e *store.Email, o *Options) { o.MessageID = "no-brackets" },
	}
	for name, mutate := range cases {
		t.Run(name, func(t *testing.T) {
			e := baseEmail()
			e.Text = ptr("x")
			o := opts()
			mutate(e, &o)
			_, err := Build(e, o)
			require.Error(t, err)
		})
	}
	_, err := Build(nil, opts())
	require.Error(t, err)
}

func TestBccOnly(t *testing.T) {
	e := baseEmail()
	e.To, e.Cc = nil, nil
	e.Text = ptr("x")
	b := build(t, e)
	require.NotContains(t, string(b), "Bcc")
	require.NotContains(t, string(b), "\r\nTo:")
}
