package tracking

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/net/html"
)

const (
	testBase    = "https://trk.invalid"
	pixelPrefix = `<img src="` + testBase + OpenPath
	pixelSuffix = `" width="1" height="1" alt="" style="display:none;border:0;width:1px;height:1px" />`
)

func opts() Options {
	return Options{BaseURL: testBase, EmailID: testID, Opens: true, Clicks: true}
}

// parsedLinks parses out with x/net/html and returns the href of every <a>
// and <area> in document order, a tracked one as "T:" and the URL its token
// carries. It checks the tokens' email id. (Indexes are checked in token
// order by checkFaithful: the parser may clone or move <a> elements.)
func parsedLinks(t testing.TB, s *Signer, in, out string) []string {
	t.Helper()
	doc, err := html.Parse(strings.NewReader(out))
	require.NoError(t, err)
	var got []string
	for n := range doc.Descendants() {
		if n.Type != html.ElementNode || n.Data != "a" && n.Data != "area" {
			continue
		}
		for _, a := range n.Attr {
			if a.Namespace != "" || a.Key != "href" {
				continue
			}
			tok, ok := strings.CutPrefix(a.Val, testBase+ClickPath)
			if !ok {
				got = append(got, a.Val)
				continue
			}
			c, err := s.ParseClick(tok)
			if err != nil && strings.Contains(in, a.Val) {
				got = append(got, a.Val) // in the input already
				continue
			}
			require.NoError(t, err, a.Val)
			require.Equal(t, testID, c.EmailID)
			got = append(got, "T:"+c.URL)
		}
	}
	return got
}

// checkFaithful checks that out is in with at most one pixel added and some
// href values replaced, and nothing else changed; that the tokens in the
// replaced values parse, are indexed 0…n-1 in order, and carry exactly the
// original URL when it was absolute. It returns the offset in in where the
// pixel went, or -1.
func checkFaithful(t testing.TB, s *Signer, in, out string) int {
	t.Helper()
	atOut, atIn := -1, -1
	if i := strings.Index(out, pixelPrefix); i >= 0 && !strings.Contains(in, pixelPrefix) {
		j := strings.Index(out[i:], pixelSuffix)
		require.Positive(t, j)
		o, err := s.ParseOpen(out[i+len(pixelPrefix) : i+j])
		require.NoError(t, err)
		require.Equal(t, testID, o.EmailID)
		require.NotContains(t, out[i+j:], pixelPrefix, "one pixel")
		out = out[:i] + out[i+j+len(pixelSuffix):]
		atOut = i
	}
	zi := html.NewTokenizer(strings.NewReader(in))
	zo := html.NewTokenizer(strings.NewReader(out))
	offIn, offOut, index := 0, 0, 0
	for {
		ti, to := zi.Next(), zo.Next()
		require.Equal(t, ti, to)
		ri, ro := in[offIn:offIn+len(zi.Raw())], out[offOut:offOut+len(zo.Raw())]
		if atOut >= 0 && atIn < 0 && (offOut+len(ro) > atOut || ti == html.ErrorToken) {
			atIn = atOut - (offOut - offIn)
		}
		if ti == html.ErrorToken {
			require.Equal(t, in[offIn:], out[offOut:], "the untokenized tail")
			break
		}
		offIn += len(ri)
		offOut += len(ro)
		if ri == ro {
			continue
		}
		require.Contains(t, []html.TokenType{html.StartTagToken, html.SelfClosingTagToken}, ti, "%q became %q", ri, ro)
		var hi, ho rawAttr
		scanAttrs(ri, func(a rawAttr) bool { hi = a; return !asciiEqualFold(a.key, "href") })
		scanAttrs(ro, func(a rawAttr) bool { ho = a; return !asciiEqualFold(a.key, "href") })
		require.True(t, asciiEqualFold(hi.key, "href"), ri)
		require.True(t, asciiEqualFold(ho.key, "href"), ro)
		require.NotZero(t, ho.quote, "written values are quoted: %q", ro)
		v := ro[ho.vs:ho.ve]
		require.True(t, strings.HasPrefix(v, escape(testBase+ClickPath)), ro)
		if hi.quote == 0 {
			v = string(ho.quote) + v + string(ho.quote)
		} else {
			require.Equal(t, hi.quote, ho.quote, "the original quotes are kept")
		}
		require.Equal(t, ro, ri[:hi.vs]+v+ri[hi.ve:])

		href, _ := attr(zi, "href")
		tracked, _ := attr(zo, "href")
		c, err := s.ParseClick(strings.TrimPrefix(tracked, testBase+ClickPath))
		require.NoError(t, err, tracked)
		require.Equal(t, testID, c.EmailID)
		require.Equal(t, index, c.Index)
		index++
		if u := trimURL(href); hasScheme(u) {
			require.Equal(t, u, c.URL, "an absolute URL is signed as written")
		}
	}
	return atIn
}

func TestRewriteLinks(t *testing.T) {
	s := testSigner(t)
	tests := []struct {
		name  string
		in    string
		unsub string
		want  []string
	}{
		{"plain", `<p><a href="https://example.com/">x</a></p>`, "", []string{"T:https://example.com/"}},
		{"entities", `<a href="https://example.com/?a=1&amp;b=2&#38;c=&quot;3&quot;">x</a>`, "", []string{`T:https://example.com/?a=1&b=2&c="3"`}},
		{"legacy entity before = is not decoded in attributes", `<a href="https://example.com/?x=1&copy=2&amp;y">x</a>`, "", []string{"T:https://example.com/?x=1&copy=2&y"}},
		{"single quotes", `<a href='https://example.com/"q"'>x</a>`, "", []string{`T:https://example.com/"q"`}},
		{"unquoted", `<a href=https://example.com/a?b=c>x</a><a href=https://example.com/ >y</a>`, "", []string{"T:https://example.com/a?b=c", "T:https://example.com/"}},
		{"spaces around =", "<a href =\n 'https://example.com/s' >x</a>", "", []string{"T:https://example.com/s"}},
		{"upper case", `<A HREF="HTTPS://EXAMPLE.COM/X">x</A><AREA Href="http://example.com/a">`, "", []string{"T:HTTPS://EXAMPLE.COM/X", "T:http://example.com/a"}},
		{"trimmed", "<a href=\"  \n\thttps://example.com/t \r\n\">x</a>", "", []string{"T:https://example.com/t"}},
		{"protocol-relative", `<a href="//cdn.example.com/x">x</a>`, "", []string{"T:https://cdn.example.com/x"}},
		{"relative without base", `<a href="page.html">x</a><a href="/abs">y</a><a href="?q">z</a>`, "", []string{"page.html", "/abs", "?q"}},
		{
			"base", `<html><head><base href="https://example.com/dir/sub"></head><body>` +
				`<a href="page?x=1">a</a><a href="../up">b</a><a href="/root">c</a><a href="//other.example/p">d</a><a href="https://abs.example/">e</a><a href="#top">f</a></body></html>`,
			"", []string{"T:https://example.com/dir/page?x=1", "T:https://example.com/up", "T:https://example.com/root", "T:https://other.example/p", "T:https://abs.example/", "#top"},
		},
		{"base applies to links before it", `<a href="x">a</a><base href="http://example.com/">`, "", []string{"T:http://example.com/x"}},
		{"first base wins", `<base href="https://one.example/"><base href="https://two.example/"><a href="x">a</a>`, "", []string{"T:https://one.example/x"}},
		{"relative base is ignored", `<base href="/dir/"><a href="x">a</a>`, "", []string{"x"}},
		{"protocol-relative base", `<base href="//example.com/d/"><a href="x">a</a>`, "", []string{"T:https://example.com/d/x"}},
		{"base without href", `<base target="_blank"><base href="https://example.com/"><a href="x">a</a>`, "", []string{"T:https://example.com/x"}},
		{
			"not http", `<a href="mailto:a@example.com">m</a><a href="tel:+123">t</a><a href="sms:+123">s</a><a href="#frag">f</a>` +
				`<a href="javascript:alert(1)">j</a><a href=" JavaScript:alert(1)">j</a><a href="">e</a><a href>n</a><a>no href</a><a href="data:text/html,x">d</a><a href="ftp://example.com/">f</a>`,
			"", []string{"mailto:a@example.com", "tel:+123", "sms:+123", "#frag", "javascript:alert(1)", " JavaScript:alert(1)", "", "", "data:text/html,x", "ftp://example.com/"},
		},
		{
			"placeholders", `<a href="{{{RESEND_UNSUBSCRIBE_URL}}}">u</a><a href="https://example.com/?u={{user.id}}">p</a><a href="https://example.com/{% url %}">l</a><a href="https://example.com/*|ID|*">m</a>`,
			"", []string{"{{{RESEND_UNSUBSCRIBE_URL}}}", "https://example.com/?u={{user.id}}", "https://example.com/{% url %}", "https://example.com/*|ID|*"},
		},
		{
			"unsubscribe option", `<a href="https://example.com/u?id=1&amp;t=2">stop</a><a href="HTTPS://EXAMPLE.COM/u?id=1&t=2">stop</a><a href="https://example.com/other">x</a>`,
			"https://example.com/u?id=1&t=2", []string{"https://example.com/u?id=1&t=2", "HTTPS://EXAMPLE.COM/u?id=1&t=2", "T:https://example.com/other"},
		},
		{
			"unsubscribe header value", `<a href="https://example.com/bye">stop</a><a href="mailto:u@example.com">m</a>`,
			"<mailto:u@example.com>, <https://example.com/bye>", []string{"https://example.com/bye", "mailto:u@example.com"},
		},
		{
			"unsubscribe marks", `<a href="https://example.com/1">Unsubscribe</a>` +
				`<a href="https://example.com/2">click <b>UN</b>subscribe</a>` +
				`<a href="https://example.com/3"><img src="x.png" alt="Unsubscribe from this list"></a>` +
				`<a href="https://example.com/4" title="unsubscribe">x</a>` +
				`<a href="https://example.com/5" aria-label="Unsubscribe">x</a>` +
				`<a href="https://example.com/Unsubscribe?u=1">leave</a>` +
				`<a href="https://example.com/6" data-godwit-no-track>x</a>` +
				`<a href="https://example.com/7" DATA-GODWIT-NO-TRACK="false">x</a>` +
				`<a clicktracking=off href="https://example.com/8">x</a>` +
				`<a clicktracking="on" href="https://example.com/9">subscribe</a>` +
				`<area href="https://example.com/10" alt="unsubscribe">`,
			"", []string{
				"https://example.com/1", "https://example.com/2", "https://example.com/3", "https://example.com/4", "https://example.com/5",
				"https://example.com/Unsubscribe?u=1", "https://example.com/6", "https://example.com/7", "https://example.com/8",
				"T:https://example.com/9", "https://example.com/10",
			},
		},
		{
			"text after the link does not mark it", `<a href="https://example.com/1">news</a> unsubscribe <a href="https://example.com/2">more`,
			"", []string{"T:https://example.com/1", "T:https://example.com/2"},
		},
		{
			"already tracked", `<a href="` + testBase + `/t/c/abc">x</a><a href="` + testBase + `/other">y</a>`,
			"", []string{testBase + "/t/c/abc", "T:" + testBase + "/other"},
		},
		{
			"not links", `<!-- <a href="https://example.com/c">x</a> --><script>var a = '<a href="https://example.com/s">';</script>` +
				`<style>/* <a href="https://example.com/st"> */</style><noscript><a href="https://example.com/n">n</a></noscript>` +
				`<textarea><a href="https://example.com/ta"></textarea><a href="https://example.com/real">r</a>` +
				`<link href="https://example.com/style.css" rel="stylesheet"><img src="https://example.com/i.png"><form action="https://example.com/f"></form>`,
			"", []string{"T:https://example.com/real"},
		},
		{
			"head", `<html><head><title>https://example.com/</title><a href="https://example.com/h">h</a><meta charset="utf-8"></head>` +
				`<body><a href="https://example.com/b">b</a></body></html>`,
			"", []string{"https://example.com/h", "T:https://example.com/b"},
		},
		{
			"unclosed head ends at the first body element", `<html><head><meta charset="utf-8"><style>p{}</style>` +
				`<table><tr><td><a href="https://example.com/b">b</a></td></tr></table>`,
			"", []string{"T:https://example.com/b"},
		},
		{
			"unclosed head ends at text", `<head><title>t</title> Hello <a href="https://example.com/b">b</a>`,
			"", []string{"T:https://example.com/b"},
		},
		{
			"nested tables", `<table><tr><td><table><tr><td><a href="https://example.com/1">1</a></td>` +
				`<td><table><tr><td><a href="https://example.com/2">2</a></td></tr></table></td></tr></table></td></tr>` +
				`<tr><td><a href="https://example.com/3"><img src="b.png"></a></td></tr></table>`,
			"", []string{"T:https://example.com/1", "T:https://example.com/2", "T:https://example.com/3"},
		},
		{
			"duplicate href: the first one counts", `<a href="https://example.com/1" HREF="https://example.com/2">x</a>`,
			"", []string{"T:https://example.com/1"},
		},
		{
			"malformed", `<p><b><a href="https://example.com/1">one<a href="https://example.com/2">two</b></p><div><a href=https://example.com/3 <i>x</a>` +
				`<a href="https://example.com/4"/><td><a href="https://example.com/5"`,
			"", []string{"T:https://example.com/1", "T:https://example.com/2", "T:https://example.com/3", "T:https://example.com/4"},
		},
		{
			"backslashes and spaces are left alone", `<a href="https:\\example.com\x">a</a><a href="https://example.com/a b">b</a><a href="\\example.com/x">c</a>`,
			"", []string{`https:\\example.com\x`, "https://example.com/a b", `\\example.com/x`},
		},
		{
			"attributes that look like href", `<a data-href="https://example.com/d" xlink:href="https://example.com/x" hreflang="en" href="https://example.com/h">x</a>`,
			"", []string{"T:https://example.com/h"},
		},
		{
			"NUL and newlines in href", "<a href=\"https://example.com/\x00\">a</a><a href=\"https://exa\nmple.com/\">b</a>",
			"", []string{"T:https://example.com/\ufffd", "https://exa\nmple.com/"}, // NUL is U+FFFD for browsers too
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o := opts()
			o.Opens = false
			o.Unsubscribe = tc.unsub
			out, err := Rewrite(tc.in, s, o)
			require.NoError(t, err)
			require.Equal(t, tc.want, parsedLinks(t, s, tc.in, out))
			checkFaithful(t, s, tc.in, out)
		})
	}
}

func TestRewriteEscapesAndQuotes(t *testing.T) {
	s := testSigner(t)
	o := opts()
	o.Opens = false
	o.BaseURL = "https://example.com/a&b'c/"
	out, err := Rewrite(`<a href='https://x.io/'>x</a><a href=https://y.io/>y</a>`, s, o)
	require.NoError(t, err)
	tx := s.ClickToken(Click{EmailID: testID, URL: "https://x.io/", Index: 0})
	ty := s.ClickToken(Click{EmailID: testID, URL: "https://y.io/", Index: 1})
	require.Equal(t, `<a href='https://example.com/a&amp;b&#39;c/t/c/`+tx+`'>x</a><a href="https://example.com/a&amp;b&#39;c/t/c/`+ty+`">y</a>`, out)
}

func TestRewritePixel(t *testing.T) {
	s := testSigner(t)
	tests := []struct {
		name   string
		in     string
		before string // the input just after the pixel
	}{
		{"body", `<html><body><p>hi</p></body></html>`, "</body></html>"},
		{"upper case body", "<HTML><BODY>\n<p>hi</p>\n</BODY>\n</HTML>\n", "</BODY>\n</HTML>\n"},
		{"body with spaces", `<body>x</body >`, "</body >"},
		{"last body end tag", `<body>x</body><p>after</p></body></html>`, "</body></html>"},
		{"body end tags in comments and scripts do not count", `<body>x</body><!-- </body> --><script>"</body>"</script>`, "</body><!-- </body> --><script>\"</body>\"</script>"},
		{"no body", `<p>hi</p>`, ""},
		{"no body, trailing html end tag", `<p>hi</p></html>`, ""},
		{"empty", ``, ""},
		{"unclosed comment", `<p>hi</p><!-- note`, "<!-- note"},
		{"unclosed comment ending in >", `<p>hi</p><!-- a > b >`, "<!-- a > b >"},
		{"closed comment", `<p>hi</p><!-- note -->`, ""},
		{"unclosed bogus comment", `<p>hi</p><!x`, "<!x"},
		{"unclosed doctype", `<!DOCTYPE html`, "<!DOCTYPE html"},
		{"unclosed tag", `<p>hi</p><a href="x`, `<a href="x`},
		{"unclosed end tag", `<p>hi</p></p`, `</p`},
		{"trailing </", `<p>hi</p></`, `</`},
		{"unclosed textarea", `<p>hi</p><textarea>x`, `<textarea>x`},
		{"unclosed script", `<p>hi</p><script>x</script`, `<script>x</script`},
		{"plaintext", `<p>hi</p><plaintext>x</body>`, `<plaintext>x</body>`},
		{"closed title", `<title>x</title><p>y`, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o := opts()
			o.Clicks = false
			out, err := Rewrite(tc.in, s, o)
			require.NoError(t, err)
			at := checkFaithful(t, s, tc.in, out)
			require.Equal(t, len(tc.in)-len(tc.before), at, "pixel at %d in %q", at, out)
			// The pixel is an <img> in the parsed document.
			doc, err := html.Parse(strings.NewReader(out))
			require.NoError(t, err)
			n := 0
			for d := range doc.Descendants() {
				if d.Type == html.ElementNode && d.Data == "img" && strings.HasPrefix(d.Attr[0].Val, testBase+OpenPath) {
					n++
				}
			}
			require.Equal(t, 1, n, out)
		})
	}
}

func TestRewriteOptions(t *testing.T) {
	s := testSigner(t)
	in := `<body><a href="https://example.com/">x</a></body>`
	with := func(change func(o *Options)) Options {
		o := opts()
		change(&o)
		return o
	}

	for _, tc := range []struct {
		name   string
		signer *Signer
		opts   Options
		in     string
		want   string
	}{
		{"nothing to do", nil, Options{}, in, in},
		{"trailing slashes of the base URL are dropped", s, with(func(o *Options) { o.BaseURL = testBase + "///"; o.Opens = false }), in,
			`<body><a href="` + testBase + ClickPath + s.ClickToken(Click{EmailID: testID, URL: "https://example.com/"}) + `">x</a></body>`},
		{"opens only", s, with(func(o *Options) { o.Clicks = false }), in,
			`<body><a href="https://example.com/">x</a>` + pixelPrefix + s.OpenToken(Open{EmailID: testID}) + pixelSuffix + `</body>`},
		// Nothing to rewrite: the very same string comes back.
		{"no links", s, with(func(o *Options) { o.Opens = false }), `<p>no links</p>`, `<p>no links</p>`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := Rewrite(tc.in, tc.signer, tc.opts)
			require.NoError(t, err)
			require.Equal(t, tc.want, out)
		})
	}
}

func TestRewriteOptionsInvalid(t *testing.T) {
	s := testSigner(t)
	in := `<body><a href="https://example.com/">x</a></body>`
	for _, tc := range []struct {
		name   string
		signer *Signer
		opts   Options
	}{
		{"email id not a UUID", s, Options{BaseURL: testBase, EmailID: "nope", Opens: true}},
		{"no base URL", s, Options{BaseURL: "", EmailID: testID, Opens: true}},
		{"relative base URL", s, Options{BaseURL: "/relative", EmailID: testID, Clicks: true}},
		{"base URL not http", s, Options{BaseURL: "ftp://x.io", EmailID: testID, Clicks: true}},
		{"base URL with a query", s, Options{BaseURL: "https://x.io/?q=1", EmailID: testID, Clicks: true}},
		{"base URL with a fragment", s, Options{BaseURL: "https://x.io/#f", EmailID: testID, Clicks: true}},
		{"base URL with a space", s, Options{BaseURL: "https://x.io/a b", EmailID: testID, Clicks: true}},
		{"no signer", nil, opts()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Rewrite(in, tc.signer, tc.opts)
			require.Error(t, err)
		})
	}
}

// Indexes follow the document, counting only rewritten links.
func TestRewriteIndexes(t *testing.T) {
	s := testSigner(t)
	o := opts()
	out, err := Rewrite(`<a href="https://a.io/">a</a><a href="mailto:x@y.io">m</a><a href="https://b.io/">b</a><a href="https://a.io/">a again</a>`, s, o)
	require.NoError(t, err)
	z := html.NewTokenizer(strings.NewReader(out))
	var got []string
	for tt := z.Next(); tt != html.ErrorToken; tt = z.Next() {
		if tt != html.StartTagToken {
			continue
		}
		if v, ok := attr(z, "href"); ok {
			if tok, ok := strings.CutPrefix(v, testBase+ClickPath); ok {
				c, err := s.ParseClick(tok)
				require.NoError(t, err)
				got = append(got, fmt.Sprint(c.Index, " ", c.URL))
			}
		}
	}
	require.Equal(t, []string{"0 https://a.io/", "1 https://b.io/", "2 https://a.io/"}, got)
}

func TestScanAttrs(t *testing.T) {
	type kv struct{ k, v string }
	for _, tc := range []struct {
		tag  string
		want []kv
	}{
		{`<a>`, nil},
		{`<a/>`, nil},
		{`<a href=x>`, []kv{{"href", "x"}}},
		{`<a href = "x y" b>`, []kv{{"href", "x y"}, {"b", ""}}},
		{`<a href='x"'c=d>`, []kv{{"href", `x"`}, {"c", "d"}}},
		{`<a =x href=y>`, []kv{{"=x", ""}, {"href", "y"}}},
		{`<a / href=y/>`, []kv{{"href", "y/"}}},
		{`<a href=>`, []kv{{"href", ""}}},
		{`<a\nhref=x\t>`, nil}, // backslashes, not spaces: all name
		{"<a\nhref=x\t>", []kv{{"href", "x"}}},
		{`<a b="1"c="2">`, []kv{{"b", "1"}, {"c", "2"}}},
		{`<a b c d=>`, []kv{{"b", ""}, {"c", ""}, {"d", ""}}},
		{`<a b/c>`, []kv{{"b", ""}, {"c", ""}}},
		{`<a href="x" href='y'>`, []kv{{"href", "x"}, {"href", "y"}}},
		{`<a <b href=x>`, []kv{{"<b", ""}, {"href", "x"}}},
		{`<a href=a=b>`, []kv{{"href", "a=b"}}},
		{`<a href="x">`[:len(`<a`)], nil},
	} {
		t.Run(fmt.Sprintf("%q", tc.tag), func(t *testing.T) {
			var got []kv
			scanAttrs(tc.tag, func(a rawAttr) bool {
				require.Equal(t, a.key, tc.tag[a.ks:a.ke])
				got = append(got, kv{a.key, tc.tag[a.vs:a.ve]})
				return true
			})
			require.Equal(t, tc.want, got)
		})
	}
}

// benchHTML is a ~10 KB newsletter with 20 links.
func benchHTML() string {
	var b strings.Builder
	b.WriteString(`<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">` +
		`<title>Acme weekly</title><style>body{margin:0;padding:0}table{border-collapse:collapse}.btn{background:#0a7;color:#fff;padding:12px 20px;border-radius:4px}</style></head>` +
		`<body style="background:#f4f4f4"><table role="presentation" width="100%" cellpadding="0" cellspacing="0"><tr><td align="center">` +
		`<table role="presentation" width="600" style="background:#ffffff"><tr><td style="padding:24px">` +
		`<a href="https://www.acme.example/?utm_source=newsletter&amp;utm_medium=email&amp;utm_campaign=weekly-42"><img src="https://cdn.acme.example/logo.png" width="120" alt="Acme"></a>`)
	for i := 0; i < 17; i++ {
		fmt.Fprintf(&b, `<tr><td style="padding:16px 24px;font-family:Helvetica,Arial,sans-serif;font-size:15px;line-height:22px;color:#333333">`+
			`<h2 style="margin:0 0 8px 0;font-size:18px">Story number %d: something happened this week</h2>`+
			`<p style="margin:0 0 12px 0">Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor incididunt ut labore et dolore magna aliqua. `+
			`Ut enim ad minim veniam, quis nostrud exercitation.</p>`+
			`<a class="btn" href="https://www.acme.example/blog/2024/story-%d?utm_source=newsletter&amp;utm_medium=email&amp;utm_campaign=weekly-42">Read more</a>`+
			`</td></tr>`, i, i)
	}
	b.WriteString(`<tr><td style="padding:24px;font-size:12px;color:#888888">You receive this because you subscribed. ` +
		`<a href="mailto:support@acme.example">Contact us</a> · <a href="https://www.acme.example/preferences?u=123">Preferences</a> · ` +
		`<a href="https://www.acme.example/unsubscribe?u=123&amp;s=abc">Unsubscribe</a></td></tr></table></td></tr></table></body></html>`)
	return b.String()
}

func TestBenchHTML(t *testing.T) {
	s := testSigner(t)
	in := benchHTML()
	require.InDelta(t, 10_000, len(in), 1500)
	out, err := Rewrite(in, s, opts())
	require.NoError(t, err)
	links := parsedLinks(t, s, in, out)
	require.Len(t, links, 21)
	n := 0
	for _, l := range links {
		if strings.HasPrefix(l, "T:") {
			n++
		}
	}
	require.Equal(t, 19, n, "all but mailto: and unsubscribe")
	checkFaithful(t, s, in, out)
}

func BenchmarkRewrite(b *testing.B) {
	s := testSigner(b)
	in := benchHTML()
	o := opts()
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Rewrite(in, s, o); err != nil {
			b.Fatal(err)
		}
	}
}
