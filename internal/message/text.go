package message

import (
	"strings"

	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"
)

// HTMLToText derives the text part Resend generates when only html is given: readable plain text
// (block elements → line breaks, <br> → newline, list items → "- ", links → "text (url)" when the text differs
// from the url, entities decoded, scripts/styles/head dropped, whitespace collapsed). Lines are not wrapped.
func HTMLToText(src string) string {
	doc, err := html.Parse(strings.NewReader(src))
	if err != nil { // only reader errors; a strings.Reader has none
		return ""
	}
	t := &textWriter{}
	t.walk(doc)
	return t.String()
}

// skipped elements contribute nothing to the text.
var skipped = map[atom.Atom]bool{
	atom.Head: true, atom.Script: true, atom.Style: true, atom.Title: true,
	atom.Noscript: true, atom.Template: true, atom.Iframe: true, atom.Object: true,
	atom.Svg: true, atom.Math: true, atom.Select: true,
}

// paragraphs are separated from their surroundings by a blank line; blocks by a line break.
var paragraphs = map[atom.Atom]bool{
	atom.P: true, atom.H1: true, atom.H2: true, atom.H3: true, atom.H4: true, atom.H5: true, atom.H6: true,
	atom.Blockquote: true, atom.Pre: true, atom.Table: true, atom.Ul: true, atom.Ol: true, atom.Dl: true,
	atom.Hr: true, atom.Figure: true,
}

var blocks = map[atom.Atom]bool{
	atom.Div: true, atom.Section: true, atom.Article: true, atom.Header: true, atom.Footer: true,
	atom.Nav: true, atom.Aside: true, atom.Main: true, atom.Address: true, atom.Center: true,
	atom.Form: true, atom.Fieldset: true, atom.Tr: true, atom.Li: true, atom.Dt: true, atom.Dd: true,
	atom.Caption: true, atom.Tbody: true, atom.Thead: true, atom.Tfoot: true, atom.Figcaption: true,
	atom.Details: true, atom.Summary: true, atom.Body: true, atom.Html: true,
}

type textWriter struct {
	b         strings.Builder
	newlines  int  // line breaks owed before the next text
	space     bool // a space is owed before the next text
	lineStart bool // the last thing written ends a line (or a list marker)
	pre       int  // depth of <pre>
	lists     int  // depth of <ul>/<ol>
	cell      bool // a table cell was written in the current row
}

func (t *textWriter) String() string {
	lines := strings.Split(t.b.String(), "\n")
	for i, l := range lines {
		lines[i] = strings.TrimRight(l, " \t")
	}
	return strings.Trim(strings.Join(lines, "\n"), "\n")
}

// breakLine owes n line breaks (at most two: one blank line).
func (t *textWriter) breakLine(n int) {
	if n > t.newlines {
		t.newlines = n
	}
}

// flush writes the owed line breaks or space before new content.
func (t *textWriter) flush() {
	if t.b.Len() == 0 {
		t.newlines, t.space = 0, false
		t.lineStart = true
		return
	}
	if t.newlines > 0 {
		t.b.WriteString(strings.Repeat("\n", t.newlines))
		t.newlines, t.space = 0, false
		t.lineStart = true
		return
	}
	if t.space && !t.lineStart {
		t.b.WriteByte(' ')
	}
	t.space = false
}

func (t *textWriter) write(s string) {
	if s == "" {
		return
	}
	t.flush()
	t.b.WriteString(s)
	t.lineStart = false
}

func (t *textWriter) text(s string) {
	if t.pre > 0 {
		lines := strings.Split(s, "\n")
		for i, l := range lines {
			if i > 0 {
				t.b.WriteByte('\n')
				t.lineStart = true
			}
			t.write(l)
		}
		return
	}
	fields := strings.Fields(s)
	if len(fields) == 0 {
		if s != "" {
			t.space = true
		}
		return
	}
	if isSpace(s[0]) {
		t.space = true
	}
	for i, f := range fields {
		if i > 0 {
			t.space = true
		}
		t.write(f)
	}
	if isSpace(s[len(s)-1]) {
		t.space = true
	}
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f'
}

func (t *textWriter) children(n *html.Node) {
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		t.walk(c)
	}
}

func (t *textWriter) walk(n *html.Node) {
	switch n.Type {
	case html.TextNode:
		t.text(n.Data)
		return
	case html.ElementNode:
	default: // document, doctype, comment
		t.children(n)
		return
	}
	if skipped[n.DataAtom] {
		return
	}
	switch n.DataAtom {
	case atom.Br:
		t.flush()
		t.b.WriteByte('\n')
		t.lineStart = true
		return
	case atom.Img:
		if alt := strings.TrimSpace(attr(n, "alt")); alt != "" {
			t.text(alt)
		}
		return
	case atom.A:
		t.link(n)
		return
	case atom.Td, atom.Th:
		if t.cell {
			t.space = true
		}
		t.children(n)
		t.cell = true
		t.space = true
		return
	case atom.Tr:
		t.breakLine(1)
		saved := t.cell
		t.cell = false
		t.children(n)
		t.cell = saved
		t.breakLine(1)
		return
	case atom.Li:
		t.breakLine(1)
		t.flush()
		indent := t.lists - 1
		if indent < 0 {
			indent = 0
		}
		t.b.WriteString(strings.Repeat("  ", indent) + "- ")
		t.lineStart = true
		t.children(n)
		t.breakLine(1)
		return
	case atom.Ul, atom.Ol:
		if t.lists > 0 {
			t.breakLine(1)
		} else {
			t.breakLine(2)
		}
		t.lists++
		t.children(n)
		t.lists--
		if t.lists > 0 {
			t.breakLine(1)
		} else {
			t.breakLine(2)
		}
		return
	case atom.Pre:
		t.breakLine(2)
		t.pre++
		t.children(n)
		t.pre--
		t.breakLine(2)
		return
	}
	n2 := 0
	if paragraphs[n.DataAtom] {
		n2 = 2
	} else if blocks[n.DataAtom] {
		n2 = 1
	}
	if n2 > 0 {
		t.breakLine(n2)
	}
	t.children(n)
	if n2 > 0 {
		t.breakLine(n2)
	}
}

// link writes the link's text followed by " (url)" when the url says
// something the text does not.
func (t *textWriter) link(n *html.Node) {
	href := strings.TrimSpace(attr(n, "href"))
	start := t.b.Len()
	t.children(n)
	label := strings.TrimSpace(t.b.String()[start:])
	lower := strings.ToLower(href)
	if href == "" || strings.HasPrefix(href, "#") || strings.HasPrefix(lower, "javascript:") {
		return
	}
	if label == "" {
		t.write(href)
		return
	}
	same := func(a, b string) bool {
		return strings.EqualFold(strings.TrimSuffix(a, "/"), strings.TrimSuffix(b, "/"))
	}
	bare := href
	for _, p := range []string{"mailto:", "tel:"} {
		if strings.HasPrefix(lower, p) {
			bare = href[len(p):]
		}
	}
	if same(label, href) || same(label, bare) || same("https://"+label, href) || same("http://"+label, href) {
		return
	}
	t.space = true
	t.write("(" + href + ")")
}

func attr(n *html.Node, key string) string {
	for _, a := range n.Attr {
		if a.Key == key && a.Namespace == "" {
			return a.Val
		}
	}
	return ""
}
