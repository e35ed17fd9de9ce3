package submission

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/godwit/godwit/internal/message"
)

// FuzzConvert: Convert never panics; it either refuses with an *Error or
// returns an email with at least one recipient, no CR, LF or NUL in any
// value that becomes a header, addresses the API accepts, and that
// internal/message can build.
func FuzzConvert(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "*.eml"))
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b, "rcpt@example.com")
	}
	f.Add([]byte("From: a@acme.com\r\nTo: b@example.com\r\n\r\nx"), "")
	f.Add([]byte("From: =?utf-8?q?Zo=C3=AB?= <a@acme.com>\r\nSubject: =?utf-8?b?w6k=?=\r\nContent-Type: multipart/related; boundary=r\r\n\r\n--r\r\nContent-Type: text/html\r\n\r\n<p>\r\n--r\r\nContent-Type: image/png\r\nContent-ID: <i@x>\r\n\r\nx\r\n--r--\r\n"), "b@example.com")
	f.Fuzz(func(t *testing.T, raw []byte, rcpt string) {
		var env Envelope
		if rcpt != "" {
			env.Recipients = strings.Split(rcpt, ",")
		}
		e, key, err := Convert(raw, env, testNow)
		if err != nil {
			var se *Error
			if e != nil || key != "" || !errors.As(err, &se) || strings.ContainsAny(err.Error(), "\r\n") {
				t.Fatalf("bad refusal: %v (%T)", err, err)
			}
			return
		}
		if len(e.To)+len(e.Cc)+len(e.Bcc) == 0 {
			t.Fatal("accepted without recipients")
		}
		if hasBreak(key) {
			t.Fatalf("idempotency key %q", key)
		}
		values := []string{e.From, e.Subject}
		for _, l := range [][]string{e.To, e.Cc, e.Bcc, e.ReplyTo} {
			for _, a := range l {
				if !message.ValidAddress(a) {
					t.Fatalf("address %q not valid for the API", a)
				}
			}
			values = append(values, l...)
		}
		if !message.ValidAddress(e.From) {
			t.Fatalf("From %q not valid for the API", e.From)
		}
		for _, h := range e.Headers {
			values = append(values, h.Name, h.Value)
		}
		for _, a := range e.Attachments {
			values = append(values, a.Filename, a.ContentType, a.ContentID)
		}
		for _, v := range values {
			if hasBreak(v) {
				t.Fatalf("header value %q has CR, LF or NUL", v)
			}
		}
		values = append(values, key)
		if e.HTML != nil {
			values = append(values, *e.HTML)
		}
		if e.Text != nil {
			values = append(values, *e.Text)
		}
		for _, v := range values {
			if !utf8.ValidString(v) {
				t.Fatalf("%q is not UTF-8", v)
			}
		}
		if e.HTML == nil && e.Text == nil {
			t.Fatal("neither html nor text")
		}
		// The accept path (api.Handler.Submit) refuses what message.Check
		// refuses; whatever passes both must build.
		if err := message.Check(e); err != nil {
			return
		}
		if _, err := message.Build(e, message.Options{Now: testNow, MessageID: "<m@acme.com>"}); err != nil {
			t.Fatalf("accepted email does not build: %v", err)
		}
	})
}
