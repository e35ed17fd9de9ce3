package message

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestHTMLToText(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"paragraphs", "<p>One</p><p>Two\n   words</p>", "One\n\nTwo words"},
		{"br", "a<br>b<br/>c", "a\nb\nc"},
		{"inline", "Hello <b>big</b> <i>world</i>!", "Hello big world!"},
		{"list", "<p>Items:</p><ul><li>one</li><li>two <b>2</b></li></ul><p>end</p>", "Items:\n\n- one\n- two 2\n\nend"},
		{"nested list", "<ul><li>a<ul><li>a1</li></ul></li><li>b</li></ul>", "- a\n  - a1\n- b"},
		{"ordered list", "<ol><li>x</li><li>y</li></ol>", "- x\n- y"},
		{"link differs", `<a href="https://example.com/x">Click here</a>`, "Click here (https://example.com/x)"},
		{"link same", `<a href="https://example.com">https://example.com</a>`, "https://example.com"},
		{"link same without scheme", `<a href="https://example.com/">example.com</a>`, "example.com"},
		{"mailto same", `<a href="mailto:a@b.c">a@b.c</a>`, "a@b.c"},
		{"link no text", `<a href="https://e.x/"></a>`, "https://e.x/"},
		{"anchor link", `<a href="#top">Top</a>`, "Top"},
		{"entities", "<p>caf&eacute; &amp; &lt;tag&gt; &#8364;5&nbsp;x</p>", "café & <tag> €5 x"},
		{"script style head", "<html><head><title>T</title><style>p{}</style></head><body><script>alert(1)</script><p>ok</p><noscript>n</noscript></body></html>", "ok"},
		{"headings", "<h1>Title</h1>Body", "Title\n\nBody"},
		{"divs", "<div>a</div><div>b</div>", "a\nb"},
		{"table", "<table><tr><td>a</td><td>b</td></tr><tr><td>c</td><td>d</td></tr></table>", "a b\nc d"},
		{"nested tables", "<table><tr><td><table><tr><td>in1</td></tr><tr><td>in2</td></tr></table></td><td>out</td></tr></table><p>after</p>",
			"in1\nin2\n\nout\n\nafter"},
		{"img alt", `<p>see <img src="x.png" alt="logo"> here</p>`, "see logo here"},
		{"pre", "<pre>a  b\n  c</pre>", "a  b\n  c"},
		{"whitespace", "  \n <p>  a \n\t b  </p>  ", "a b"},
		{"empty", "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, HTMLToText(tc.in))
		})
	}
}
