package message

import (
	"strings"
	"testing"
)

// benchHTML is a ~10 KB newsletter-like body: paragraphs, links, a table, a list.
func benchHTML() string {
	var b strings.Builder
	b.WriteString("<html><head><title>News</title><style>p{color:#333}</style></head><body><table><tr><td>")
	for b.Len() < 10240 {
		b.WriteString(`<h2>Weekly update</h2><p>Hello <b>reader</b>, here is what happened this week at <a href="https://example.com/news?id=42&amp;utm_source=mail">Example &amp; Co</a>.</p>`)
		b.WriteString(`<ul><li>Item one with <i>emphasis</i></li><li>Item two &mdash; details</li></ul><p>Cheers,<br>The team</p>`)
	}
	b.WriteString("</td></tr></table></body></html>")
	return b.String()
}

func BenchmarkHTMLToText(b *testing.B) {
	html := benchHTML()
	b.SetBytes(int64(len(html)))
	for b.Loop() {
		HTMLToText(html)
	}
}
