package tracking

import (
	"strings"

	"golang.org/x/net/html"
)

// scanned is what Rewrite needs to know of a document, with byte offsets
// into it.
type scanned struct {
	links   []link
	base    string // the first <base href> value, decoded
	hasBase bool
	bodyEnd int // offset of the last </body> tag, -1 if none
	end     int // where to append the pixel when there is no </body>
}

// link is the href of an <a> or <area> start tag.
type link struct {
	vs, ve int    // the value as written, without its quotes: html[vs:ve]
	quoted bool   // written in quotes (else unquoted, or no value at all)
	href   string // the value with entities decoded
	skip   bool   // in <head>, marked not to be tracked, or an unsubscribe link
}

// rawTextElements are the elements after whose start tag the tokenizer reads
// text up to the matching end tag (see x/net/html's readStartTag).
var rawTextElements = []string{"iframe", "noembed", "noframes", "noscript", "plaintext", "script", "style", "textarea", "title", "xmp"}

// headElements may appear in <head> without ending it (the HTML parser's
// "in head" insertion mode), plus <a> and <area>: a link written in <head>
// is left alone rather than taken as the start of the body.
var headElements = []string{"base", "basefont", "bgsound", "link", "meta", "title", "noscript", "noframes", "style", "script", "template", "head", "html", "a", "area"}

func isOneOf(name string, names []string) bool {
	for _, n := range names {
		if asciiEqualFold(name, n) {
			return true
		}
	}
	return false
}

// scan walks html with x/net/html's tokenizer, whose tokens' raw bytes
// partition the input, so that every token's offset is known.
func scan(doc string) scanned {
	sc := scanned{bodyEnd: -1, end: len(doc)}
	z := html.NewTokenizer(strings.NewReader(doc))
	var (
		off      int
		inHead   bool
		headDone bool
		rawOpen  = -1 // offset of the start tag of an open raw-text element
		tail     = -1 // when the token just read would swallow the pixel, its offset
		open     = -1 // index in sc.links of the <a> whose content is being read
		label    []byte
	)
	closeLink := func() {
		if open >= 0 && containsFold(string(label), "unsubscribe") {
			sc.links[open].skip = true
		}
		open, label = -1, label[:0]
	}
	addLabel := func(b []byte) {
		if open >= 0 && len(label) < maxLabel {
			label = append(label, b[:min(len(b), maxLabel-len(label))]...)
		}
	}
	endHead := func() { inHead, headDone = false, true }
	for {
		tt := z.Next()
		start := off
		off += len(z.Raw())
		raw := doc[start:off]
		rawStart := rawOpen
		inRaw := rawStart >= 0
		if tt != html.TextToken {
			rawOpen = -1
		}
		tail = -1
		switch tt {
		case html.ErrorToken:
			closeLink()
			switch {
			case inRaw:
				sc.end = rawStart
			case start < len(doc): // an unterminated tag
				sc.end = start
			}
			return sc
		case html.TextToken:
			if inRaw {
				break
			}
			if strings.HasSuffix(raw, "</") {
				tail = off - 2
			}
			if open >= 0 || inHead {
				t := z.Text()
				addLabel(t)
				if inHead && strings.TrimLeft(string(t), " \t\n\r\f") != "" {
					endHead()
				}
			}
		case html.CommentToken, html.DoctypeToken:
			if !commentClosed(raw) {
				tail = start
			}
		case html.EndTagToken:
			name := tagName(raw[2:])
			switch {
			case asciiEqualFold(name, "a"):
				closeLink()
			case asciiEqualFold(name, "body"):
				sc.bodyEnd = start
				endHead()
			case asciiEqualFold(name, "head"), asciiEqualFold(name, "html"):
				endHead()
			}
		case html.StartTagToken, html.SelfClosingTagToken:
			name := tagName(raw[1:])
			if isOneOf(name, rawTextElements) {
				rawOpen = start
			}
			if !headDone && asciiEqualFold(name, "head") {
				inHead = true
			}
			if inHead && !isOneOf(name, headElements) || asciiEqualFold(name, "body") {
				endHead()
			}
			isA, isArea := asciiEqualFold(name, "a"), asciiEqualFold(name, "area")
			switch {
			case isA || isArea:
				if isA {
					closeLink()
				}
				l, ok := readLink(z, raw)
				if !ok {
					break
				}
				l.vs += start
				l.ve += start
				l.skip = l.skip || inHead
				sc.links = append(sc.links, l)
				if isA {
					open = len(sc.links) - 1
				}
			case asciiEqualFold(name, "img"):
				if open >= 0 {
					if v, ok := attr(z, "alt"); ok {
						addLabel([]byte(v))
					}
				}
			case asciiEqualFold(name, "base"):
				if !sc.hasBase {
					sc.base, sc.hasBase = attr(z, "href")
				}
			}
		}
		if tail >= 0 {
			sc.end = tail
		} else {
			sc.end = len(doc)
		}
	}
}

// tagName returns the name of a tag from s, the tag after its "<" or "</",
// as the tokenizer delimits it (its first byte is always part of it).
func tagName(s string) string {
	for i := 1; i < len(s); i++ {
		switch s[i] {
		case ' ', '\n', '\r', '\t', '\f', '/', '>':
			return s[:i]
		}
	}
	return s
}

// commentClosed reports whether a comment or doctype token ends properly,
// rather than at the end of the input.
func commentClosed(raw string) bool {
	if strings.HasPrefix(raw, "<!--") {
		return strings.HasSuffix(raw, "-->") || strings.HasSuffix(raw, "--!>")
	}
	return strings.HasSuffix(raw, ">")
}

// attr returns the decoded value of the current start tag's attribute key
// (lower case). It consumes the tokenizer's attributes.
func attr(z *html.Tokenizer, key string) (string, bool) {
	for {
		k, v, more := z.TagAttr()
		if k == nil {
			return "", false
		}
		if string(k) == key {
			return string(v), true
		}
		if !more {
			return "", false
		}
	}
}

// readLink reads the current <a> or <area> start tag, raw: the decoded href
// and marks from the tokenizer, and where the href value is in raw from
// scanAttrs. ok is false when the tag has no href.
func readLink(z *html.Tokenizer, raw string) (l link, ok bool) {
	var hasHref bool
	for {
		k, v, more := z.TagAttr()
		if k == nil {
			break
		}
		switch string(k) {
		case "href":
			l.href, hasHref = string(v), true
		case NoTrackAttr:
			l.skip = true
		case "clicktracking":
			l.skip = l.skip || asciiEqualFold(strings.TrimSpace(string(v)), "off")
		case "title", "aria-label", "alt":
			l.skip = l.skip || containsFold(string(v), "unsubscribe")
		}
		if !more {
			break
		}
	}
	if !hasHref {
		return link{}, false
	}
	found := false
	scanAttrs(raw, func(a rawAttr) bool {
		if asciiEqualFold(a.key, "href") {
			l.vs, l.ve, l.quoted, found = a.vs, a.ve, a.quote != 0, true
			return false
		}
		return true
	})
	return l, found
}

// rawAttr is an attribute as written in a start tag: tag[ks:ke] is its key,
// tag[vs:ve] its value without the quotes.
type rawAttr struct {
	key            string
	ks, ke, vs, ve int
	quote          byte // '"' or '\'', or 0 when unquoted or without a value
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\n' || c == '\r' || c == '\t' || c == '\f'
}

func skipSpace(s string, i int) int {
	for i < len(s) && isSpace(s[i]) {
		i++
	}
	return i
}

// scanAttrs calls fn for each attribute with a non-empty key of tag, a whole
// start tag token ("<name …>"), in order and duplicates included, until fn
// returns false. It follows x/net/html's readTag, readTagName,
// readTagAttrKey and readTagAttrVal step by step, so that it finds the same
// attributes the tokenizer does (FuzzScanAttrs checks this).
func scanAttrs(tag string, fn func(rawAttr) bool) {
	n := len(tag)
	i := 2 // "<" and the first byte of the name
	for i < n {
		c := tag[i]
		if isSpace(c) {
			i++
			break
		}
		if c == '/' || c == '>' {
			break
		}
		i++
	}
	i = skipSpace(tag, i)
	for i < n && tag[i] != '>' {
		ks := i
		for i < n {
			c := tag[i]
			if c == '=' && i == ks {
				i++
				continue
			}
			if c == '=' || c == '/' || c == '>' || isSpace(c) {
				break
			}
			i++
		}
		a := rawAttr{key: tag[ks:i], ks: ks, ke: i, vs: i, ve: i}
		j := skipSpace(tag, i)
		switch {
		case j >= n:
			i = j
		case tag[j] == '/':
			i = j + 1
		case tag[j] != '=':
			i = j
		default:
			j = skipSpace(tag, j+1)
			switch {
			case j >= n || tag[j] == '>':
				i = j
			case tag[j] == '"' || tag[j] == '\'':
				q := tag[j]
				e := strings.IndexByte(tag[j+1:], q)
				if e < 0 { // not in a complete token
					a.vs, a.ve, a.quote, i = j+1, n, q, n
					break
				}
				a.vs, a.ve, a.quote, i = j+1, j+1+e, q, j+2+e
			default:
				k := j
				for k < n && !isSpace(tag[k]) && tag[k] != '>' {
					k++
				}
				a.vs, a.ve, i = j, k, k
			}
		}
		if a.ke > a.ks && !fn(a) {
			return
		}
		i = skipSpace(tag, i)
	}
}
