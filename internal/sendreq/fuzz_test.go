package sendreq

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/godwit/godwit/internal/apierr"
	"github.com/godwit/godwit/internal/message"
)

func requireClientError(t *testing.T, err error) {
	t.Helper()
	var ae *apierr.Error
	if !errors.As(err, &ae) {
		t.Fatalf("error %T is not *apierr.Error: %v", err, err)
	}
	if ae.StatusCode < 400 || ae.StatusCode > 499 {
		t.Fatalf("status %d is not 4xx: %v", ae.StatusCode, ae)
	}
	if ae.Name == "" || ae.Message == "" {
		t.Fatalf("incomplete error: %#v", ae)
	}
}

func FuzzDecode(f *testing.F) {
	seeds := []string{
		string(base("")),
		`{"from":"Jöhn <j@acme.com>","to":["a@example.com","B <b@example.com>"],"cc":"c@example.com","bcc":[],"reply_to":"r@example.com",
		  "subject":"Hi","html":"<b>x</b>","text":"","headers":{"X-A":"1","List-Unsubscribe":"<mailto:u@acme.com>"},
		  "tags":[{"name":"a","value":"b"}],"scheduled_at":"tomorrow at 9am ET","topic_id":"t"}`,
		string(base(`"attachments":[{"filename":"a.pdf","content":"JVBERi0xLjQK"},{"content":[37,80,68,70]},{"content":{"type":"Buffer","data":[1,2]}},{"path":"https://example.com/x.png","content_id":"logo"}]`)),
		`{"to":"a@example.com","template":{"id":"welcome","variables":{"NAME":"x","N":1}}}`,
		// Hostile.
		string(base(`"from":"A <a@acme.com>\r\nBcc: x@evil.com"`)),
		string(base(`"subject":"Hi\nBcc: x@evil.com","headers":{"X-A\r\n":"v"}`)),
		string(base(`"headers":{"X-A":"v\r\nBcc: evil@example.com","from":"x"}`)),
		string(base(`"attachments":[{"content":"aGk=","filename":"a\r\n.txt","content_type":"text/plain\n","content_id":"<a\nb>"}]`)),
		string(base(`"attachments":[{"path":"https://example.com/%0d%0aX:%20y"}]`)),
		string(base(`"attachments":[{"content":[256,-1,1.5,1e9,"x",[1]]}]`)),
		string(base(`"tags":[{"name":"a\nb","value":"\u0000"}],"to":[1,null,{}]`)),
		string(base(`"scheduled_at":"in 99999999999999999999 weeks"`)),
		`{"from":"a@b.c","to":"a@b.c","subject":"s","html":"x","to":"\u0000"}`,
		`{"a":[[[[[[[[[[]]]]]]]]]],"b":"\ud800","c":-0.0e-0}`,
		`[{"from":"x"}]`,
		`{`,
		``,
		`null`,
		`{"":""}`,
	}
	for _, s := range seeds {
		f.Add([]byte(s), false)
	}
	f.Add(base(`"attachments":[{"path":"https://example.com/a.pdf"}]`), true)
	f.Add([]byte("["+string(base(""))+"]"), true)

	f.Fuzz(func(t *testing.T, data []byte, batch bool) {
		orig := string(data)
		opts := Options{Now: testNow, Batch: batch, MaxEmailBytes: 10_000}
		e, err := Decode(data, opts)
		if string(data) != orig {
			t.Fatal("Decode modified its input")
		}
		if err != nil {
			if e != nil {
				t.Fatal("both an email and an error")
			}
			requireClientError(t, err)
		} else {
			checkHeaderSafe(t, e.From)
			checkHeaderSafe(t, e.Subject)
			for _, l := range [][]string{e.To, e.Cc, e.Bcc, e.ReplyTo} {
				for _, a := range l {
					checkHeaderSafe(t, a)
					if !validAddress(a) {
						t.Fatalf("invalid address accepted: %q", a)
					}
				}
			}
			if len(e.To) == 0 || len(e.To) > MaxRecipients {
				t.Fatalf("to has %d addresses", len(e.To))
			}
			for _, h := range e.Headers {
				checkHeaderSafe(t, h.Value)
				if !message.ValidName(h.Name) {
					t.Fatalf("invalid header name accepted: %q", h.Name)
				}
				if err := message.CheckHeader(h.Name, h.Value); err != nil {
					t.Fatalf("header %q accepted against message's rule: %v", h.Name, err)
				}
			}
			for _, tg := range e.Tags {
				checkHeaderSafe(t, tg.Name)
				checkHeaderSafe(t, tg.Value)
			}
			for _, a := range e.Attachments {
				if batch {
					t.Fatal("attachment accepted in batch mode")
				}
				checkHeaderSafe(t, a.Filename)
				checkHeaderSafe(t, a.ContentType)
				checkHeaderSafe(t, a.ContentID)
				if (a.Path == "") == (a.Content == nil) {
					t.Fatalf("attachment with path %q and %d content bytes", a.Path, len(a.Content))
				}
			}
			if e.ScheduledAt != nil && !e.ScheduledAt.After(testNow) {
				t.Fatalf("scheduled in the past: %v", e.ScheduledAt)
			}
			if emailSize(e) > opts.MaxEmailBytes {
				t.Fatal("size limit not enforced")
			}
		}

		items, err := SplitBatch(data)
		if err != nil {
			requireClientError(t, err)
			return
		}
		if len(items) < 1 || len(items) > MaxBatch {
			t.Fatalf("batch of %d items", len(items))
		}
		emails, itemErrs, err := DecodeBatch(data, Options{Now: testNow})
		if err != nil {
			t.Fatalf("DecodeBatch refused a body SplitBatch took: %v", err)
		}
		for i, it := range items {
			want, wantErr := Decode(it, Options{Now: testNow, Batch: true})
			if wantErr != nil {
				requireClientError(t, wantErr)
				if itemErrs[i] == nil {
					t.Fatalf("item %d: DecodeBatch accepted what Decode refused: %v", i, wantErr)
				}
				continue
			}
			if itemErrs[i] != nil || !reflect.DeepEqual(want, emails[i]) {
				t.Fatalf("item %d: DecodeBatch and Decode disagree: %v", i, itemErrs[i])
			}
		}
	})
}

func checkHeaderSafe(t *testing.T, s string) {
	t.Helper()
	if strings.ContainsAny(s, "\r\n\x00") {
		t.Fatalf("header-bound value with CR, LF or NUL: %q", s)
	}
}
