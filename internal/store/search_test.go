package store

import (
	"strings"
	"testing"
)

func TestSearchAddress(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"a@example.com", "a@example.com"},
		{"A@Example.COM", "a@example.com"},
		{"  a@example.com ", "a@example.com"},
		{"Alice <Alice@Example.com>", "alice@example.com"},
		{`"Smith, A" < a@example.com > `, "a@example.com"},
		{"<a@example.com>", "a@example.com"},
		{"Ünïcode <Ü@Example.com>", "Ü@example.com"},
		{"no angle a@example.com>", "no angle a@example.com>"},
		{"", ""},
	} {
		t.Run(tc.in, func(t *testing.T) {
			if got := SearchAddress(tc.in); got != tc.want {
				t.Fatalf("SearchAddress(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

// FuzzSearchAddress: the recipient a search names is user input. The form
// has no ASCII capitals and no surrounding spaces, and an address already
// in that form (without angle brackets) is found as itself.
func FuzzSearchAddress(f *testing.F) {
	for _, s := range []string{"a@example.com", "Alice <A@b.c>", "<<a>>", " < x > ", "\"q<\" <a@b>", "ÄÖ <Ü@x>"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := SearchAddress(s)
		if strings.Trim(got, " ") != got {
			t.Fatalf("SearchAddress(%q) = %q: surrounding spaces", s, got)
		}
		if strings.ContainsAny(got, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") {
			t.Fatalf("SearchAddress(%q) = %q: ASCII capitals", s, got)
		}
		if !strings.Contains(got, "<") {
			if again := SearchAddress(got); again != got {
				t.Fatalf("SearchAddress(%q) = %q, but SearchAddress(%q) = %q", s, got, got, again)
			}
		}
	})
}
