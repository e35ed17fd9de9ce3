package delivery

import (
	"net/mail"
	"strings"
	"testing"
)

// addressOfParsed is addressOf without its shortcut for bare addresses.
func addressOfParsed(s string) string {
	if a, err := mail.ParseAddress(s); err == nil {
		return a.Address
	}
	return strings.TrimSpace(s)
}

// FuzzAddressOf: the shortcut for bare addresses never changes what
// addressOf returns.
func FuzzAddressOf(f *testing.F) {
	for _, s := range []string{"a@example.com", "Ann <a@example.com>", "a.b+c@example.com", "a..b@example.com", ".a@example.com",
		"a@b@c", "@example.com", "a@", "a@[127.0.0.1]", `"a b"@example.com`, "a@example.com (Ann)", " a@example.com ",
		"\u00a0a@example.com", "a@exämple.com", "a@example.com.", "undisclosed:;", "a@b,c@d", "a!#$%&'*+-/=?^_`{|}~@example.com", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := addressOf(s), addressOfParsed(s); got != want {
			t.Fatalf("addressOf(%q) = %q, the parse gives %q", s, got, want)
		}
	})
}
