// Package emailgen generates the email bodies the bench tools send: the same
// deterministic, realistic-looking HTML for every tool, so that figures from
// bench/load, bench/deliver and the Postfix feeder describe the same messages.
package emailgen

import (
	"fmt"
	"math/rand/v2"
	"strings"
)

// HTML returns a deterministic, realistic-looking HTML email of roughly
// size bytes: a table layout, headings, paragraphs of mixed-case prose with
// punctuation, numbers, a few non-ASCII characters, links and inline styles.
func HTML(size int) string {
	if size <= 0 {
		return ""
	}
	words := strings.Fields(`the and your order account team update we you
		shipment invoice delivery receipt payment subscription renewal password
		security notice welcome thanks please review confirm details below above
		schedule meeting project report quarterly summary customer support
		résumé café naïve façade déjà-vu Zürich Malmö São-Paulo €42.00 £19.99
		100% 2024 3:45pm Q3 #8841 API HTTP JSON e-mail follow-up (optional)
		"quoted" it's don't we'll — – … “smart” ‘quotes’ ✓ → ★ 📦 🚀`)
	r := rand.New(rand.NewPCG(1, 2))
	var b strings.Builder
	b.Grow(size + 512)
	b.WriteString(`<!DOCTYPE html><html><head><meta charset="utf-8"><title>Your weekly summary</title>` +
		`<style>body{font-family:Helvetica,Arial,sans-serif;color:#333}a{color:#0a7cff}</style></head>` +
		`<body><table role="presentation" width="100%" cellpadding="0" cellspacing="0" style="max-width:600px;margin:0 auto">`)
	sentence := func() {
		n := 6 + r.IntN(14)
		for i := range n {
			w := words[r.IntN(len(words))]
			if i == 0 {
				w = strings.ToUpper(w[:1]) + w[1:]
			} else {
				b.WriteByte(' ')
			}
			switch r.IntN(20) {
			case 0:
				fmt.Fprintf(&b, `<a href="https://example.com/track?id=%d&amp;u=%x">%s</a>`, r.IntN(1e6), r.Uint32(), w)
			case 1:
				b.WriteString("<strong>" + w + "</strong>")
			case 2:
				b.WriteString(w + ",")
			default:
				b.WriteString(w)
			}
		}
		b.WriteString([]string{". ", "! ", "? ", ". "}[r.IntN(4)])
	}
	const closing = `<tr><td style="font-size:12px;color:#999">You received this e-mail because you signed up. ` +
		`<a href="https://example.com/unsubscribe">Unsubscribe</a></td></tr></table></body></html>`
	for b.Len()+len(closing) < size {
		if r.IntN(4) == 0 {
			fmt.Fprintf(&b, `<tr><td><h2 style="font-size:18px;margin:16px 0 8px">Section %d</h2></td></tr>`, r.IntN(100))
		}
		b.WriteString(`<tr><td style="padding:8px 0;line-height:1.5"><p>`)
		for range 2 + r.IntN(4) {
			sentence()
		}
		b.WriteString("</p></td></tr>\n")
	}
	b.WriteString(closing)
	return b.String()
}
