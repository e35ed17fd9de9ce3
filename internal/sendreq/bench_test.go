package sendreq

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// benchBody is a send request with a ~10 KB HTML body, escaped the way Go's
// encoder (and so the Go SDK) writes it.
func benchBody(b *testing.B) []byte {
	b.Helper()
	html := strings.Repeat(`<p class="x">Hello "friend", here is your <a href="https://example.com/?a=1&b=2">summary</a> — ünïcödé.</p>`+"\n", 90)
	body, err := json.Marshal(map[string]any{
		"from": "Acme <onboarding@example.com>", "to": []string{"delivered@example.net"}, "subject": "Your weekly summary",
		"html": html, "tags": []map[string]string{{"name": "category", "value": "digest"}},
	})
	if err != nil {
		b.Fatal(err)
	}
	return body
}

func BenchmarkDecode(b *testing.B) {
	body := benchBody(b)
	opts := Options{Now: time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)}
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Decode(body, opts); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeBatch100(b *testing.B) {
	one := benchBody(b)
	items := make([]string, 100)
	for i := range items {
		items[i] = string(one)
	}
	body := []byte("[" + strings.Join(items, ",") + "]")
	opts := Options{Now: time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)}
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := DecodeBatch(body, opts); err != nil {
			b.Fatal(err)
		}
	}
}
