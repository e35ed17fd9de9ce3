package tracking

import (
	"encoding/binary"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/net/html"
)

// maxClickTokenLen is the longest click token a Signer makes.
const maxClickTokenLen = ((headSize+binary.MaxVarintLen64+maxURLLen+macSize)*4 + 2) / 3

var rewriteSeeds = []string{
	``,
	`<a href="https://example.com/">x</a>`,
	`<html><head><base href="https://example.com/d/"><title>t</title></head><BODY><a href=x>y</a><AREA HREF='//c.io/p'></BODY></html>`,
	`<a href="https://e.com/?a=1&amp;b=2&copy=3">`,
	`<a href=https://e.com/x/>`,
	`<a href = 'https://e.com/"' data-godwit-no-track>x</a>`,
	`<!-- <a href="https://e.com/c"> --><script>"<a href='https://e.com/s'>"</script><style>a{}</style><a href="https://e.com/r">r</a>`,
	`<a href="mailto:a@e.com">m</a><a href="tel:1">t</a><a href="#x">#</a><a href="javascript:x">j</a><a href="{{{RESEND_UNSUBSCRIBE_URL}}}">u</a>`,
	`<a href="https://e.com/u">Unsubscribe</a>`,
	`<table><tr><td><table><tr><td><a href="https://e.com/1">1</a></td></tr></table></td></tr></table>`,
	`<p><b><a href="https://e.com/1">one<a href="https://e.com/2">two</b></p><a href="https://e.com/3"`,
	`<head><a href="https://e.com/h">h</a></head><body></body></body>`,
	`<textarea>x`,
	`<plaintext><a href="https://e.com/">`,
	`<!-- x`,
	`</`,
	`<a href="https://e.com/` + "\x00\r\n" + `">`,
	`<svg><a xlink:href="https://e.com/">x</a></svg><math><mi><a href="https://e.com/m">m</a></mi></math>`,
	`<a =href="https://e.com/1" href="https://e.com/2">x</a><a / href=https://e.com/3/>`,
	`<template><a href="https://e.com/t">t</a></template><noscript><a href="https://e.com/n"></noscript>`,
}

func FuzzRewrite(f *testing.F) {
	for i, s := range rewriteSeeds {
		f.Add(s, i%3 != 2, i%3 != 1)
	}
	s := testSigner(f)
	f.Fuzz(func(t *testing.T, in string, opens, clicks bool) {
		if strings.Contains(in, "trk.invalid") {
			return // would look like the output
		}
		o := opts()
		o.Opens, o.Clicks = opens, clicks
		o.Unsubscribe = "https://example.com/unsubscribe"
		out, err := Rewrite(in, s, o)
		require.NoError(t, err)
		if !opens && !clicks {
			require.Equal(t, in, out)
			return
		}
		// Every tracked href carries a token that parses to a link of this
		// email with a trackable URL; nothing else changed.
		at := checkFaithful(t, s, in, out)
		parsedLinks(t, s, in, out)
		if opens {
			// The pixel is there, as an <img> tag, not swallowed by a
			// comment, a raw-text element or an unclosed tag.
			require.GreaterOrEqual(t, at, 0)
			z := html.NewTokenizer(strings.NewReader(out))
			found := false
			for tt := z.Next(); tt != html.ErrorToken && !found; tt = z.Next() {
				if tt == html.SelfClosingTagToken {
					v, _ := attr(z, "src")
					found = strings.HasPrefix(v, testBase+OpenPath)
				}
			}
			require.True(t, found, "no pixel tag in %q", out)
		}

		// Bounded output: each rewritten link grows by at most one maximal
		// click URL, and there is at most one pixel.
		links := strings.Count(strings.ToLower(in), "<a")
		pixel := len(pixelPrefix) + 46 + len(pixelSuffix)
		require.LessOrEqual(t, len(out), len(in)+links*(len(testBase)+len(ClickPath)+2+maxClickTokenLen)+pixel)
	})
}

func FuzzParseClick(f *testing.F) {
	s := testSigner(f)
	for i, u := range []string{"https://example.com/", "http://e.com/a?b=c#d", "https://例え.jp/", "https://e.com/" + strings.Repeat("x", 300)} {
		tok := s.ClickToken(Click{EmailID: testID, URL: u, Index: i * 100})
		f.Add(tok)
		f.Add(tok[:len(tok)-1])
		f.Add(tok + "A")
		f.Add(strings.ToUpper(tok))
	}
	f.Add(s.OpenToken(Open{EmailID: testID}))
	for _, tok := range []string{"", "A", "AQI", "AgI", "====", "%2F", strings.Repeat("A", 64), strings.Repeat("_", 100)} {
		f.Add(tok)
	}
	f.Fuzz(func(t *testing.T, tok string) {
		c, err := s.ParseClick(tok)
		if err == nil {
			require.True(t, validTarget(c.URL))
			require.Equal(t, tok, s.ClickToken(c), "only tokens the signer made parse")
		} else {
			require.ErrorIs(t, err, ErrInvalidToken)
		}
		o, err := s.ParseOpen(tok)
		if err == nil {
			require.Equal(t, tok, s.OpenToken(o))
		}
	})
}

// FuzzScanAttrs checks that scanAttrs finds the attributes x/net/html's
// tokenizer finds, so that Rewrite splices the href the tokenizer decoded.
func FuzzScanAttrs(f *testing.F) {
	for _, s := range rewriteSeeds {
		f.Add(s)
	}
	for _, s := range []string{`<a b='1'c="2"d=3 e f/ g = h>`, `<a =b ==c>`, `<a/b/c>`, `<a href="x" HREF='y'>`, "<a\thref\f=\r\n'x'\n>", `<a href=>`, `<a b="'>'">`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		z := html.NewTokenizer(strings.NewReader(in))
		off := 0
		for {
			tt := z.Next()
			raw := in[off : off+len(z.Raw())]
			off += len(raw)
			if tt == html.ErrorToken {
				return
			}
			if tt != html.StartTagToken && tt != html.SelfClosingTagToken {
				continue
			}
			type kv struct{ k, v string }
			var want []kv
			for {
				k, v, more := z.TagAttr()
				if k == nil {
					break
				}
				want = append(want, kv{string(k), string(v)})
				if !more {
					break
				}
			}
			var got []kv
			seen := map[string]bool{}
			scanAttrs(raw, func(a rawAttr) bool {
				require.Equal(t, a.key, raw[a.ks:a.ke])
				require.LessOrEqual(t, a.vs, a.ve)
				require.LessOrEqual(t, a.ve, len(raw))
				key := asciiLower(a.key)
				if seen[key] {
					return true
				}
				seen[key] = true
				v := raw[a.vs:a.ve]
				if strings.ContainsAny(v, "&\r\x00") {
					v = "?"
				}
				got = append(got, kv{strings.ReplaceAll(key, "\x00", "\ufffd"), v})
				return true
			})
			require.Len(t, got, len(want), "%q", raw)
			for i := range got {
				require.Equal(t, want[i].k, got[i].k, "%q", raw)
				if got[i].v != "?" {
					require.Equal(t, want[i].v, got[i].v, "%q", raw)
				}
			}
		}
	})
}

func asciiLower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}
