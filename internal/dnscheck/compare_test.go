package dnscheck_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/godwit/godwit/internal/dnscheck"
)

var txtCases = []struct {
	a, b  string
	match bool
}{
	// Generic values: whitespace and quotes tolerated, case kept.
	{"hello world", "hello world", true},
	{"hello world", "  hello \t\n world ", true},
	{"hello world", `"hello world"`, true},
	{"hello world", `"hello " "world"`, true},
	{"hello world", `"hello "  "world"`, true},
	{"hello world", "Hello world", false},
	{"token=abc", "token=abcd", false},
	{"", "", true},
	{"", `""`, true},
	{"", " ", true},
	{`"unterminated`, "unterminated", false},
	{`"a" b "c"`, `a" b "c`, true},

	// SPF: case-insensitive terms, whitespace normalised, order kept.
	{"v=spf1 include:x ~all", "V=SPF1 INCLUDE:X ~ALL", true},
	{"v=spf1 include:x ~all", "v=spf1   include:x\t~all ", true},
	{"v=spf1 include:x ~all", `"v=spf1 include:x" " ~all"`, true},
	{"v=spf1 include:x ~all", "v=spf1 ~all include:x", false},
	{"v=spf1 include:x ~all", "v=spf1 include:x -all", false},
	{"v=spf1 include:x ~all", "v=spf1 include:x include:y ~all", false},
	{"v=spf1 include:x ~all", "include:x ~all", false},

	// DKIM tag lists.
	{"p=ABCdef+/==", "v=DKIM1; k=rsa; p=ABCdef+/==", true},
	{"v=DKIM1; k=rsa; p=ABCdef+/==", "p=ABCdef+/==", true},
	{"v=DKIM1; k=rsa; p=ABCdef+/==", "k=rsa; p=ABCdef+/==", true},
	{"v=DKIM1; k=rsa; p=ABCdef+/==", "v=DKIM1; p=ABCdef+/==", true},
	{"v=DKIM1; k=rsa; p=ABCdef+/==", "P=ABCdef+/==;V=dkim1;K=RSA;", true},
	{"p=ABCdef+/==", "p=ABC def\n+/ ==", true},
	{"p=ABCdef+/==", `p=ABC" "def+/==`, true},
	{"p=ABCdef+/==", " ; p = ABCdef+/== ; ", true},
	{"p=ABCdef+/==", "p=abcdef+/==", false},
	{"p=ABCdef+/==", "p=ABCdef+/=", false},
	{"p=ABCdef+/==", "v=DKIM1; k=ed25519; p=ABCdef+/==", false},
	{"p=ABCdef+/==", "v=DKIM2; p=ABCdef+/==", false},
	{"p=ABCdef+/==", "p=ABCdef+/==; t=y", false},
	{"v=DKIM1; p=ABC", "v=DKIM1; h=sha256; p=ABC", false},
	{"v=DKIM1; h=sha256; p=ABC", "v=DKIM1; h = SHA256 ; p=ABC", true},
	{"p=", "v=DKIM1; p=", true}, // revoked key
	{"p=ABC", "p=ABC; p=ABC", false},

	// DMARC tag lists: values case-insensitive (p=none).
	{"v=DMARC1; p=none", "v=DMARC1;p=None;", true},
	{"v=DMARC1; p=none", "v=DMARC1; p=reject", false},
	{"v=DMARC1; p=none", "p=none", false},

	// Different kinds never match.
	{"v=spf1 -all", "p=v=spf1 -all", false},
	{"p=ABC", "pABC", false},
}

func TestMatchTXT(t *testing.T) {
	t.Parallel()
	for _, c := range txtCases {
		require.Equal(t, c.match, dnscheck.MatchTXT(c.a, c.b), "match(%q, %q)", c.a, c.b)
		require.Equal(t, c.match, dnscheck.MatchTXT(c.b, c.a), "match(%q, %q) (swapped)", c.b, c.a)
		require.True(t, dnscheck.MatchTXT(c.a, c.a), "reflexive %q", c.a)
		require.True(t, dnscheck.MatchTXT(c.b, c.b), "reflexive %q", c.b)
	}
}

func TestNormalizeTXT(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"  a   b\t\nc ":          "a b c",
		`"a b"`:                  "a b",
		`"a" "b"`:                "ab",
		`"a\"b" "c\\d" "\065"`:   `a"bc\dA`,
		`"not" closed "`:         `not" closed`,
		"a\u00a0b":               "a b",
		`""`:                     "",
		`"  spaced  "  "  out "`: "spaced out",
	} {
		require.Equal(t, want, dnscheck.NormalizeTXT(in), "normalize(%q)", in)
	}
}

// FuzzCompareTXT checks that the TXT comparison never panics, is reflexive
// (x matches x) and symmetric.
func FuzzCompareTXT(f *testing.F) {
	for _, c := range txtCases {
		f.Add(c.a, c.b)
	}
	f.Add(`"\`, `"\"`)
	f.Add(`"\999"`, `"\255"`)
	f.Add("v=DKIM1; v=DKIM1; p=a", "p=a")
	f.Add("k=rsa; k=RSA; p=a", "k=rsa; p=a")
	f.Add("v=DMARC1; p=A", "v=dmarc1; p=a")
	f.Add("p=\xff\xfe", "p=\xfe\xff")
	f.Add("\x00;=;==", ";;;")
	f.Fuzz(func(t *testing.T, a, b string) {
		if !dnscheck.MatchTXT(a, a) {
			t.Fatalf("not reflexive: %q", a)
		}
		if !dnscheck.MatchTXT(b, b) {
			t.Fatalf("not reflexive: %q", b)
		}
		if ab, ba := dnscheck.MatchTXT(a, b), dnscheck.MatchTXT(b, a); ab != ba {
			t.Fatalf("not symmetric: match(%q, %q) = %v, swapped %v", a, b, ab, ba)
		}
	})
}
