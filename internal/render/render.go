// Package render fills a template's placeholders. It is pure: no I/O, no
// store, so that it can be fuzzed on its own.
//
// A placeholder is {{{KEY}}} or {{{KEY|fallback}}}: three braces, a key of
// letters, digits and underscores (spaces around it are allowed), and an
// optional inline fallback that runs to the closing braces. Anything else
// (two braces, a key with other characters, an unclosed placeholder) is
// text and is copied as is.
package render

import (
	"errors"
	"html"
	"strings"
)

// ErrTooLarge means the rendered text would exceed the limit given to Render.
var ErrTooLarge = errors.New("render: result too large")

// Lookup returns the value for a key, and whether there is one.
type Lookup func(key string) (string, bool)

// Placeholder is one placeholder found in a text.
type Placeholder struct {
	Key         string
	Fallback    string
	HasFallback bool
}

// maxKey bounds a placeholder's key, as Resend bounds variable keys.
const maxKey = 50

// next finds the first placeholder of s at or after from: its start and end
// (just past the closing braces) and what it says; ok is false when there
// is none.
func next(s string, from int) (start, end int, p Placeholder, ok bool) {
	for {
		i := strings.Index(s[from:], "{{{")
		if i < 0 {
			return 0, 0, p, false
		}
		start = from + i
		// Several braces in a row: the placeholder starts at the last three.
		for start+3 < len(s) && s[start+3] == '{' {
			start++
		}
		body := s[start+3:]
		j := strings.Index(body, "}}}")
		if j < 0 {
			return 0, 0, p, false
		}
		inner := body[:j]
		key, fb, has := strings.Cut(inner, "|")
		key = strings.TrimSpace(key)
		if validKey(key) && !strings.Contains(fb, "{{{") {
			return start, start + 3 + j + 3, Placeholder{Key: key, Fallback: fb, HasFallback: has}, true
		}
		from = start + 3
	}
}

func validKey(k string) bool {
	if k == "" || len(k) > maxKey {
		return false
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

// Placeholders lists the placeholders of s in order.
func Placeholders(s string) []Placeholder {
	var out []Placeholder
	for from := 0; ; {
		_, end, p, ok := next(s, from)
		if !ok {
			return out
		}
		out = append(out, p)
		from = end
	}
}

// Render replaces each placeholder of s: with lookup's value for its key,
// else with its inline fallback, else it is left as written. With escape,
// inserted values (and inline fallbacks) are HTML-escaped. The result is
// at most max bytes (ErrTooLarge otherwise; max <= 0 means no limit).
func Render(s string, lookup Lookup, escape bool, max int) (string, error) {
	var b strings.Builder
	from := 0
	for {
		start, end, p, ok := next(s, from)
		if !ok {
			break
		}
		b.WriteString(s[from:start])
		v, found := lookup(p.Key)
		switch {
		case found:
		case p.HasFallback:
			v, found = p.Fallback, true
		}
		if !found {
			b.WriteString(s[start:end])
		} else if escape {
			b.WriteString(html.EscapeString(v))
		} else {
			b.WriteString(v)
		}
		from = end
		if max > 0 && b.Len() > max {
			return "", ErrTooLarge
		}
	}
	b.WriteString(s[from:])
	if max > 0 && b.Len() > max {
		return "", ErrTooLarge
	}
	return b.String(), nil
}
