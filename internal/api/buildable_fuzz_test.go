package api

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/godwit/godwit/internal/message"
	"github.com/godwit/godwit/internal/store/sqlstore"
)

// FuzzAcceptedIsBuildable drives send requests through the real router
// (decode, template, the accept checks, the commit) and then through the
// real message builder: every email answered 200 must build. It is the
// property the hardening issue asks for: accepted implies built.
func FuzzAcceptedIsBuildable(f *testing.F) {
	e := setup(f, sqlstore.SQLite)
	long := func(n int) string { return strings.Repeat("a", n) }
	seeds := []struct {
		path, body string
	}{
		{"/emails", simpleEmail},
		{"/emails", headersBody(map[string]string{"X" + long(73): "v"}, "")},
		{"/emails", headersBody(map[string]string{"X" + long(75): " v "}, "")},
		{"/emails", headersBody(map[string]string{"X" + long(80): "v"}, "")},
		{"/emails", headersBody(map[string]string{"X-A": long(985)}, "")},
		{"/emails", headersBody(map[string]string{"X-A": long(990)}, "")},
		{"/emails", headersBody(map[string]string{"X-A": "héllo wörld " + long(60) + " ü"}, "")},
		{"/emails", headersBody(map[string]string{"X-A": "\t \t"}, "")},
		{"/emails", headersBody(map[string]string{"Reply-To": "r@example.com"}, `,"reply_to":"q@example.com"`)},
		{"/emails", headersBody(map[string]string{"Sender": "s@example.com", "List-Unsubscribe": "<https://example.com/u>"}, "")},
		{"/emails", headersBody(map[string]string{"Content-Disposition": "inline", "Resent-From": "x@example.com"}, "")},
		{"/emails", `{"from":"` + long(900) + ` <a@example.com>","to":"z@example.net","subject":"s","text":"t"}`},
		{"/emails", `{"from":"Ünïcode ` + long(200) + ` <a@example.com>","to":"z@example.net","subject":"` + long(995) + `","text":"t"}`},
		{"/emails", `{"from":"a@example.com","to":"z@example.net","subject":"s","text":"t","attachments":[{"filename":"` + long(300) + `.pdf","content":"aGk="}]}`},
		{"/emails", `{"from":"a@example.com","to":"z@example.net","subject":"s","html":"<img src=cid:x>","attachments":[{"filename":"ü` + long(200) + `.png","content":"aGk=","content_id":"x y"}]}`},
		{"/emails", `{"from":"a@example.com","to":"z@example.net","subject":"s","text":"t","attachments":[{"filename":"a.txt","content":"aGk=","content_type":"text/plain; charset=latin1"}]}`},
		{"/emails/batch", `[` + headersBody(map[string]string{"X" + long(74): "v"}, "") + `]`},
		{"/emails", `{"to":"b@example.net","template":{"id":"welcome","variables":{"NAME":"` + long(990) + `","COUNT":2}}}`},
	}
	tpl := e.newTemplate(e.keyA, welcomeTemplate)
	e.publish(e.keyA, tpl)
	for _, s := range seeds {
		f.Add(s.path, s.body)
	}
	f.Fuzz(func(t *testing.T, path, body string) {
		if path != "/emails" && path != "/emails/batch" {
			return
		}
		req, err := http.NewRequest("POST", "http://godwit.test"+path, strings.NewReader(body))
		if err != nil {
			return
		}
		req.Header.Set("Authorization", "Bearer "+e.keyA)
		rec := httptest.NewRecorder()
		e.handler.ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("%s with %q: %d %s", path, body, rec.Code, rec.Body)
		}
		if rec.Code != 200 {
			return
		}
		var ids []string
		var one struct {
			ID   string `json:"id"`
			Data []struct {
				ID string `json:"id"`
			} `json:"data"`
		}
		if err := json.Unmarshal(rec.Body.Bytes(), &one); err != nil {
			t.Fatalf("200 body %s: %v", rec.Body, err)
		}
		if one.ID != "" {
			ids = append(ids, one.ID)
		}
		for _, d := range one.Data {
			ids = append(ids, d.ID)
		}
		for _, id := range ids {
			em, err := e.db.GetEmailForDelivery(context.Background(), id)
			if err != nil {
				t.Fatalf("accepted email %s: %v", id, err)
			}
			for i := range em.Attachments {
				if em.Attachments[i].Content == nil {
					em.Attachments[i].Content = []byte("fetched") // a path attachment, as delivery fetches it
				}
			}
			if _, err := message.Build(em, message.Options{Now: time.Now(), MessageID: em.MessageID()}); err != nil {
				t.Fatalf("accepted (200) but cannot be built: %v\nrequest: %s", err, body)
			}
		}
	})
}
