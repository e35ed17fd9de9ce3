package tracking

import (
	"cmp"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"

	"github.com/google/uuid"
	"golang.org/x/net/html"
)

// Paths of the tracking endpoints, appended to Options.BaseURL and followed
// by a token.
const (
	// OpenPath serves the 1×1 pixel: BaseURL+OpenPath+OpenToken(…).
	OpenPath = "/t/o/"
	// ClickPath redirects a tracked link: BaseURL+ClickPath+ClickToken(…)
	// answers 302 to the URL in the token.
	ClickPath = "/t/c/"
)

// NoTrackAttr marks a link Rewrite must leave alone, whatever its value:
// <a href="…" data-godwit-no-track>. SendGrid's clicktracking="off" is
// honoured too, so HTML written for it keeps its meaning.
const NoTrackAttr = "data-godwit-no-track"

// Options says what Rewrite does to one email's HTML.
type Options struct {
	// BaseURL is where the tracking endpoints are served, e.g.
	// "https://t.example.com" or the server's public URL: an absolute
	// http(s) URL without query or fragment (a trailing slash is ignored).
	BaseURL string
	// EmailID is the email's id, a UUID.
	EmailID string
	// Opens adds the pixel; Clicks rewrites links. With neither, Rewrite
	// returns the HTML unchanged.
	Opens, Clicks bool
	// Unsubscribe is the List-Unsubscribe URL, if any (a whole header value
	// such as "<https://…>, <mailto:…>" is accepted too): links to it are
	// left alone.
	Unsubscribe string
}

// maxLabel bounds the text of a link kept to look for "unsubscribe".
const maxLabel = 1024

// Rewrite returns html with open and/or click tracking added, as o says.
//
// Click tracking rewrites the href of <a> and <area> elements whose target,
// after decoding entities, trimming surrounding spaces and resolving a
// relative URL against the document's first <base href> (relative URLs are
// left alone when there is none; a protocol-relative //host/x is taken as
// https), is an absolute http or https URL that a click token can carry. The
// link's index in its token is its position, from 0, among the links
// rewritten. These links are left alone:
//   - targets that are not http(s) (mailto:, tel:, sms:, javascript:, data:
//     …), fragments (#…) and empty hrefs;
//   - hrefs containing template placeholders ({{…}}, {{{…}}}, {%…%},
//     *|…|*): they are meant to be replaced after this point, and a token
//     would freeze them;
//   - the unsubscribe link: o.Unsubscribe, links whose URL, text (including
//     an image's alt), title or aria-label contains "unsubscribe" (any case),
//     and links marked with NoTrackAttr or clicktracking="off". A tracked
//     unsubscribe link would record scanners' prefetches as clicks and hides
//     the target users and mailbox providers look for;
//   - links already pointing at BaseURL's tracking endpoints;
//   - links written inside <head> (which ends at </head>, <body>, or the
//     first text or element other than a link that cannot be in a head, as
//     for the HTML parser, so a missing </head> does not hide the body);
//   - anything in comments or in the text of <script>, <style>, <title>,
//     <textarea>, <noscript> and the other raw-text elements: not links.
//
// Open tracking inserts the pixel just before the last </body> (any case),
// or appends it when there is none; when the document ends inside something
// that would swallow it (an unclosed comment, tag, or raw-text element such
// as <textarea> or <plaintext>), it goes just before that instead.
//
// Everything else is preserved byte for byte. An href value written is
// quoted as the original was (unquoted values get double quotes) and
// escaped.
func Rewrite(html string, s *Signer, o Options) (string, error) {
	if !o.Opens && !o.Clicks {
		return html, nil
	}
	if s == nil {
		return "", errors.New("tracking: no signer")
	}
	if _, err := uuid.Parse(o.EmailID); err != nil {
		return "", fmt.Errorf("tracking: email id %q is not a UUID", o.EmailID)
	}
	base, err := checkBaseURL(o.BaseURL)
	if err != nil {
		return "", err
	}
	doc := scan(html)

	var edits []edit
	if o.Clicks {
		var docBase *url.URL
		if doc.hasBase {
			docBase = parseBase(doc.base)
		}
		unsubs := unsubscribeURLs(o.Unsubscribe)
		prefix := base + "/t/"
		clickPrefix := escape(base + ClickPath)
		index := 0
		for _, l := range doc.links {
			if l.skip || index > maxIndex {
				continue
			}
			target, ok := resolve(l.href, docBase)
			if !ok || containsFold(target, "unsubscribe") || strings.HasPrefix(target, prefix) || slices.ContainsFunc(unsubs, func(u string) bool { return sameURL(u, target) }) {
				continue
			}
			v := clickPrefix + s.clickToken(Click{EmailID: o.EmailID, URL: target, Index: index}) // resolve checked target
			index++
			if !l.quoted {
				v = `"` + v + `"`
			}
			edits = append(edits, edit{l.vs, l.ve, v})
		}
	}
	if o.Opens {
		at := doc.bodyEnd
		if at < 0 {
			at = doc.end
		}
		pixel := `<img src="` + escape(base+OpenPath+s.OpenToken(Open{EmailID: o.EmailID})) +
			`" width="1" height="1" alt="" style="display:none;border:0;width:1px;height:1px" />`
		edits = append(edits, edit{at, at, pixel})
		slices.SortStableFunc(edits, func(a, b edit) int { return cmp.Compare(a.start, b.start) })
	}
	if len(edits) == 0 {
		return html, nil
	}
	n := len(html)
	for _, e := range edits {
		n += len(e.text) - (e.end - e.start)
	}
	var b strings.Builder
	b.Grow(n)
	last := 0
	for _, e := range edits {
		b.WriteString(html[last:e.start])
		b.WriteString(e.text)
		last = e.end
	}
	b.WriteString(html[last:])
	return b.String(), nil
}

// edit replaces html[start:end] with text.
type edit struct {
	start, end int
	text       string
}

// escape escapes s for an attribute value in either kind of quotes.
func escape(s string) string {
	return html.EscapeString(s)
}

// checkBaseURL validates o.BaseURL and returns it without a trailing slash.
func checkBaseURL(s string) (string, error) {
	b := strings.TrimRight(s, "/")
	u, err := url.Parse(b)
	if err != nil || !validTarget(b) || u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || strings.Contains(b, "#") {
		return "", fmt.Errorf("tracking: base URL %q is not an absolute http(s) URL without query or fragment", s)
	}
	return b, nil
}

// trimURL trims what the URL standard trims: C0 controls and spaces.
func trimURL(s string) string {
	return strings.TrimFunc(s, func(r rune) bool { return r <= ' ' })
}

// placeholders start or end template variables of the usual template
// languages and ESPs.
var placeholders = []string{"{{", "}}", "{%", "%}", "*|", "|*"}

// resolve returns the absolute target of an href value (entities already
// decoded) and whether it can be tracked.
func resolve(href string, base *url.URL) (string, bool) {
	s := trimURL(href)
	if s == "" || s[0] == '#' || strings.Contains(s, `\`) {
		return "", false
	}
	for _, p := range placeholders {
		if strings.Contains(s, p) {
			return "", false
		}
	}
	switch {
	case strings.HasPrefix(s, "//"):
		if base == nil {
			s = "https:" + s
			return s, validTarget(s)
		}
	case hasScheme(s):
		return s, validTarget(s)
	case base == nil:
		return "", false
	}
	ref, err := url.Parse(s)
	if err != nil {
		return "", false
	}
	t := base.ResolveReference(ref).String()
	return t, validTarget(t)
}

// hasScheme reports whether s starts with a URL scheme and a colon.
func hasScheme(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z':
		case i > 0 && ('0' <= c && c <= '9' || c == '+' || c == '-' || c == '.'):
		case i > 0 && c == ':':
			return true
		default:
			return false
		}
	}
	return false
}

// parseBase returns the URL of a <base href> value, or nil when it is not an
// absolute http(s) URL (a relative base would be relative to the document's
// own URL, which an email does not have).
func parseBase(href string) *url.URL {
	s := trimURL(href)
	if strings.HasPrefix(s, "//") {
		s = "https:" + s
	}
	if !validTarget(s) {
		return nil
	}
	u, err := url.Parse(s)
	if err != nil {
		return nil
	}
	return u
}

// unsubscribeURLs returns the URLs of a List-Unsubscribe value: every <…>
// item, or the whole value when it has none.
func unsubscribeURLs(v string) []string {
	v = trimURL(v)
	if v == "" {
		return nil
	}
	if !strings.Contains(v, "<") {
		return []string{v}
	}
	var out []string
	for {
		i := strings.IndexByte(v, '<')
		if i < 0 {
			return out
		}
		j := strings.IndexByte(v[i:], '>')
		if j < 0 {
			return out
		}
		if u := trimURL(v[i+1 : i+j]); u != "" {
			out = append(out, u)
		}
		v = v[i+j+1:]
	}
}

// sameURL reports whether a and b are the same URL, ignoring the case of the
// scheme and host.
func sameURL(a, b string) bool {
	if a == b {
		return true
	}
	pa, err := url.Parse(a)
	if err != nil {
		return false
	}
	pb, err := url.Parse(b)
	if err != nil {
		return false
	}
	pa.Host, pb.Host = strings.ToLower(pa.Host), strings.ToLower(pb.Host)
	return pa.String() == pb.String()
}

// containsFold reports whether s contains the lower-case ASCII word w in any
// case.
func containsFold(s, w string) bool {
	for i := 0; i+len(w) <= len(s); i++ {
		if asciiEqualFold(s[i:i+len(w)], w) {
			return true
		}
	}
	return false
}

// asciiEqualFold is strings.EqualFold for ASCII only, as the tokenizer
// compares tag names (strings.EqualFold would match "ſcript" to "script").
func asciiEqualFold(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}
