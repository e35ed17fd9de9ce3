package message

import (
	"strings"
	"testing"
	"unicode/utf8"

	"golang.org/x/net/html"
)

// literalLT reports whether the input may put a '<' in the text by right:
// in its text (a lone '<', an entity, the content of a raw-text element
// such as <textarea>) or in an attribute that is written out (img alt,
// a href).
func literalLT(s string) bool {
	z := html.NewTokenizer(strings.NewReader(s))
	for {
		switch z.Next() {
		case html.ErrorToken:
			return false
		case html.TextToken:
			if strings.ContainsAny(string(z.Raw()), "<&") {
				return true
			}
		case html.StartTagToken, html.SelfClosingTagToken:
			for _, a := range z.Token().Attr {
				if strings.Contains(a.Val, "<") {
					return true
				}
			}
		}
	}
}

// FuzzHTMLToTextProperties holds HTMLToText to properties (no panic, and):
//   - valid UTF-8 in, valid UTF-8 out;
//   - no tag of the input survives: the output has a '<' only where the
//     input wrote one as text (a lone '<', an entity, a raw-text element,
//     an attribute written out);
//   - the text of plain-text input is kept, its whitespace collapsed, and
//     inline markup around it changes nothing;
//   - a one-line output without markup characters converts to itself.
func FuzzHTMLToTextProperties(f *testing.F) {
	for _, s := range []string{"", "<p>a</p>", "<b>bold</b> and <i>it</i>", "<ul><li>x<ol><li>y", "<a href='u'>t</a>",
		"<pre>\n x</pre>", "<table><td><table><td>", "&amp;&#0;&#xffffff;", "a < b > c", "x\u00a0y\u2028z", "<p>caf\u00e9 \u2713</p>",
		"<div>one<br>two</div><p>three</p>", "\x00<b>\x00</b>", "\xff<p>\xfe</p>"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out := HTMLToText(s)
		if utf8.ValidString(s) && !utf8.ValidString(out) {
			t.Fatalf("HTMLToText(%q) = %q: not valid UTF-8", s, out)
		}

		if !literalLT(s) && strings.Contains(out, "<") {
			t.Fatalf("HTMLToText(%q) = %q: markup of the input left in the text", s, out)
		}

		if utf8.ValidString(s) {
			// s as the text of a document: the tokenizer drops NULs in body text.
			want := strings.Join(strings.Fields(strings.ReplaceAll(s, "\x00", "")), " ")
			esc := html.EscapeString(s)
			for _, doc := range []string{esc, "<b>" + esc + "</b>", "<p><i>" + esc + "</i></p>", "<span>" + esc + "</span>"} {
				if got := HTMLToText(doc); got != want {
					t.Fatalf("HTMLToText(%q) = %q, want the text %q", doc, got, want)
				}
			}
			// Idempotent where the output is itself plain HTML text: one line,
			// no markup characters, single spaces.
			if !strings.ContainsAny(out, "<>&\n") && strings.Join(strings.Fields(out), " ") == out {
				if again := HTMLToText(out); again != out {
					t.Fatalf("HTMLToText(%q) = %q, but HTMLToText of that is %q", s, out, again)
				}
			}
		}
	})
}
