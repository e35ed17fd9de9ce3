package sendreq

import (
	"bytes"
	"unicode/utf16"
	"unicode/utf8"
)

// This file holds a small zero-copy JSON walker. It only ever runs over input
// that json.Valid has accepted, so it can skip values without re-checking
// their grammar; every function still stays inside the slice bounds on any
// input, so a bug in that assumption costs an error, never a panic.
//
// Values are returned as sub-slices of the request body (no copies), which
// matters for attachment content: a 40 MB body must not be copied into a map
// of json.RawMessage before the interesting part is decoded.

// member is one "key": value pair of a JSON object, in document order.
type member struct {
	key string
	val []byte // raw JSON value, a sub-slice of the input
}

func isWS(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

func skipWS(b []byte, i int) int {
	for i < len(b) && isWS(b[i]) {
		i++
	}
	return i
}

// skipString returns the index just past the string starting at b[i] == '"'.
func skipString(b []byte, i int) int {
	i++ // opening quote
	for i < len(b) {
		// Jump to the next quote; it closes the string unless an odd run of
		// backslashes escapes it.
		q := bytes.IndexByte(b[i:], '"')
		if q < 0 {
			return len(b)
		}
		i += q
		n := 0
		for j := i - 1; j >= 0 && b[j] == '\\'; j-- {
			n++
		}
		if n%2 == 0 {
			return i + 1
		}
		i++
	}
	return len(b)
}

// skipValue returns the index just past the JSON value starting at b[i].
func skipValue(b []byte, i int) int {
	if i >= len(b) {
		return len(b)
	}
	switch b[i] {
	case '"':
		return skipString(b, i)
	case '{', '[':
		depth := 0
		for i < len(b) {
			switch b[i] {
			case '"':
				i = skipString(b, i)
				continue
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return i + 1
				}
			}
			i++
		}
		return len(b)
	default:
		for i < len(b) {
			switch b[i] {
			case ',', '}', ']', ' ', '\t', '\n', '\r':
				return i
			}
			i++
		}
		return len(b)
	}
}

// objectMembers splits a (valid) JSON object into its members in document
// order. ok is false when raw is not an object.
func objectMembers(raw []byte) (ms []member, ok bool) {
	i := skipWS(raw, 0)
	if i >= len(raw) || raw[i] != '{' {
		return nil, false
	}
	i = skipWS(raw, i+1)
	if i < len(raw) && raw[i] == '}' {
		return nil, true
	}
	for i < len(raw) {
		if raw[i] != '"' {
			return nil, false
		}
		end := skipString(raw, i)
		key, ok := decodeJSONString(raw[i:end])
		if !ok {
			return nil, false
		}
		i = skipWS(raw, end)
		if i >= len(raw) || raw[i] != ':' {
			return nil, false
		}
		i = skipWS(raw, i+1)
		vend := skipValue(raw, i)
		if vend <= i {
			return nil, false
		}
		ms = append(ms, member{key: key, val: raw[i:vend]})
		i = skipWS(raw, vend)
		if i >= len(raw) {
			return nil, false
		}
		if raw[i] == '}' {
			return ms, true
		}
		if raw[i] != ',' {
			return nil, false
		}
		i = skipWS(raw, i+1)
	}
	return nil, false
}

// arrayElems splits a (valid) JSON array into its elements. ok is false when
// raw is not an array.
func arrayElems(raw []byte) (es [][]byte, ok bool) {
	i := skipWS(raw, 0)
	if i >= len(raw) || raw[i] != '[' {
		return nil, false
	}
	i = skipWS(raw, i+1)
	if i < len(raw) && raw[i] == ']' {
		return [][]byte{}, true
	}
	for i < len(raw) {
		vend := skipValue(raw, i)
		if vend <= i {
			return nil, false
		}
		es = append(es, raw[i:vend])
		i = skipWS(raw, vend)
		if i >= len(raw) {
			return nil, false
		}
		if raw[i] == ']' {
			return es, true
		}
		if raw[i] != ',' {
			return nil, false
		}
		i = skipWS(raw, i+1)
	}
	return nil, false
}

// decodeJSONString decodes a raw JSON string token. It avoids encoding/json
// for the common case of a plain string (no escapes, valid UTF-8); otherwise
// encoding/json does the unescaping and replaces invalid UTF-8 with U+FFFD.
func decodeJSONString(raw []byte) (string, bool) {
	if len(raw) < 2 || raw[0] != '"' || raw[len(raw)-1] != '"' {
		return "", false
	}
	inner := raw[1 : len(raw)-1]
	if bytes.IndexByte(inner, '\\') < 0 && utf8.Valid(inner) {
		return string(inner), true
	}
	return unquote(inner)
}

// unquote decodes the inside of a JSON string as encoding/json does
// (invalid UTF-8 and lone surrogates become U+FFFD), without scanning the
// input again: the body it comes from has already passed json.Valid.
func unquote(in []byte) (string, bool) {
	out := make([]byte, 0, len(in))
	for i := 0; i < len(in); {
		// Copy the run up to the next escape at once when it is valid UTF-8.
		if j := bytes.IndexByte(in[i:], '\\'); j != 0 {
			if j < 0 {
				j = len(in) - i
			}
			if run := in[i : i+j]; utf8.Valid(run) {
				out = append(out, run...)
				i += j
				continue
			}
		}
		c := in[i]
		switch {
		case c == '\\':
			if i+1 >= len(in) {
				return "", false
			}
			e := in[i+1]
			i += 2
			switch e {
			case '"', '\\', '/':
				out = append(out, e)
			case 'b':
				out = append(out, '\b')
			case 'f':
				out = append(out, '\f')
			case 'n':
				out = append(out, '\n')
			case 'r':
				out = append(out, '\r')
			case 't':
				out = append(out, '\t')
			case 'u':
				r, ok := hex4(in, i)
				if !ok {
					return "", false
				}
				i += 4
				if utf16.IsSurrogate(r) {
					if r2, ok := hex4(in, i+2); ok && i+1 < len(in) && in[i] == '\\' && in[i+1] == 'u' {
						if dec := utf16.DecodeRune(r, r2); dec != utf8.RuneError {
							i += 6
							out = utf8.AppendRune(out, dec)
							continue
						}
					}
					r = utf8.RuneError
				}
				out = utf8.AppendRune(out, r)
			default:
				return "", false
			}
		case c < utf8.RuneSelf:
			out = append(out, c)
			i++
		default:
			r, size := utf8.DecodeRune(in[i:])
			out = utf8.AppendRune(out, r) // RuneError for invalid bytes, as encoding/json
			i += size
		}
	}
	return string(out), true
}

func hex4(b []byte, i int) (rune, bool) {
	if i+4 > len(b) {
		return 0, false
	}
	var r rune
	for _, c := range b[i : i+4] {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c = c - 'a' + 10
		case 'A' <= c && c <= 'F':
			c = c - 'A' + 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}

// isNull reports whether a raw value is JSON null.
func isNull(raw []byte) bool { return string(raw) == "null" }

// fields maps an object's keys to raw values. The last duplicate key wins,
// as in JavaScript's JSON.parse; null values are dropped (null means absent).
type fields map[string][]byte

func toFields(ms []member) fields {
	f := make(fields, len(ms))
	for _, m := range ms {
		if isNull(m.val) {
			delete(f, m.key)
			continue
		}
		f[m.key] = m.val
	}
	return f
}
