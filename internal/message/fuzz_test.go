package message

import (
	"bytes"
	"io"
	"testing"

	gomessage "github.com/emersion/go-message"

	"github.com/godwit/godwit/internal/store"
)

func FuzzBuild(f *testing.F) {
	f.Add("Hello", "<p>hi</p>", "hi", "Zoë Ünïcode", "X-Test", "value", "a.pdf", true, false)
	f.Add("Grüße ✓", "", "text", "", "List-Unsubscribe", "<https://e.x/u>", "données.bin", false, true)
	f.Add("", "<p>"+string(bytes.Repeat([]byte("x"), 3000))+"</p>", "", "\"quoted\" name", "X-A", "café", "", true, true)
	f.Add(string(bytes.Repeat([]byte("ü"), 600)), "<a href=x>y</a>", "\x00\xff", "a,b", "X-B", string(bytes.Repeat([]byte("w "), 900)), "x\ty", false, false)
	f.Fuzz(func(t *testing.T, subject, html, text, name, hname, hvalue, filename string, withHTML, withText bool) {
		e := &store.Email{
			From:    name + " <from@example.com>",
			To:      []string{"to@example.com"},
			Bcc:     []string{"bcc@example.com"},
			Subject: subject,
			Headers: []store.Header{{Name: hname, Value: hvalue}},
			Attachments: []store.Attachment{
				{Filename: filename, Content: []byte(text)},
				{Filename: filename, ContentID: "cid1", ContentType: "image/png", Content: []byte(html)},
			},
		}
		if withHTML {
			e.HTML = &html
		}
		if withText {
			e.Text = &text
		}
		b, err := Build(e, opts())
		if err != nil {
			return
		}
		checkWire(t, b)
		ent, err := gomessage.Read(bytes.NewReader(b))
		if err != nil {
			t.Fatalf("parse: %v", err)
		}
		if ent.Header.Has("Bcc") {
			t.Fatal("Bcc header written")
		}
		var walk func(e *gomessage.Entity)
		walk = func(e *gomessage.Entity) {
			if mr := e.MultipartReader(); mr != nil {
				for {
					p, err := mr.NextPart()
					if err == io.EOF {
						return
					}
					if err != nil {
						t.Fatalf("part: %v", err)
					}
					walk(p)
				}
			}
			if _, err := io.ReadAll(e.Body); err != nil {
				t.Fatalf("body: %v", err)
			}
		}
		walk(ent)
	})
}
