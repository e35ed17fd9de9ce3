package sendreq

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"mime"
	"net/url"
	"path"
	"strings"

	"github.com/godwit/godwit/internal/apierr"
	"github.com/godwit/godwit/internal/store"
)

const defaultContentType = "application/octet-stream"

func decodeAttachments(raw []byte, batch bool) ([]store.Attachment, *apierr.Error) {
	if raw == nil {
		return nil, nil
	}
	elems, ok := arrayElems(raw)
	if !ok {
		return nil, errType("attachments", "an array of objects")
	}
	if len(elems) == 0 {
		return nil, nil
	}
	if batch {
		return nil, apierr.Validation(msgBatchAttachments)
	}
	out := make([]store.Attachment, 0, len(elems))
	for i, el := range elems {
		a, err := decodeAttachment(el, fmt.Sprintf("attachments[%d]", i))
		if err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, nil
}

// isEmptyString reports a raw JSON "".
func isEmptyString(raw []byte) bool { return string(raw) == `""` }

func decodeAttachment(raw []byte, field string) (store.Attachment, *apierr.Error) {
	var a store.Attachment
	ms, ok := objectMembers(raw)
	if !ok {
		return a, errType(field, "an object")
	}
	f := toFields(ms)

	content, hasContent := f["content"]
	if hasContent && isEmptyString(content) {
		hasContent = false
	}
	p, err := optString(f, "path")
	if err != nil {
		return a, errType(field+".path", "a string")
	}
	hasPath := p != nil && strings.TrimSpace(*p) != ""
	if hasContent == hasPath {
		return a, errAttachment(msgAttachmentSource)
	}

	fn, err := optString(f, "filename")
	if err != nil {
		return a, errType(field+".filename", "a string")
	}
	if fn != nil {
		if hasHeaderBreak(*fn) {
			return a, errHeaderChars(field + ".filename")
		}
		a.Filename = *fn
	}

	if hasPath {
		u, ok := parseAttachmentURL(strings.TrimSpace(*p))
		if !ok {
			return a, errAttachment("The `%s.path` field must be an absolute http or https URL.", field)
		}
		a.Path = strings.TrimSpace(*p)
		if a.Filename == "" {
			a.Filename = filenameFromURL(u)
		}
	} else {
		data, aerr := decodeContent(content, field+".content")
		if aerr != nil {
			return a, aerr
		}
		a.Content = data
	}

	ct, err := optString(f, "content_type")
	if err != nil {
		return a, errType(field+".content_type", "a string")
	}
	if ct != nil && strings.TrimSpace(*ct) != "" {
		if hasHeaderBreak(*ct) {
			return a, errHeaderChars(field + ".content_type")
		}
		a.ContentType = strings.TrimSpace(*ct)
		if !validMediaType(a.ContentType) {
			return a, apierr.Validation("The `%s.content_type` field must be a MIME type such as `application/pdf`.", field)
		}
	} else {
		a.ContentType = contentTypeFor(a.Filename)
	}

	// content_id, or the Go SDK's legacy inline_content_id.
	for _, key := range []string{"content_id", "inline_content_id"} {
		cid, err := optString(f, key)
		if err != nil {
			return a, errType(field+"."+key, "a string")
		}
		if cid == nil || *cid == "" || a.ContentID != "" {
			continue
		}
		name := field + "." + key
		if hasHeaderBreak(*cid) {
			return a, errHeaderChars(name)
		}
		id := strings.TrimSpace(*cid)
		if len(id) >= 2 && id[0] == '<' && id[len(id)-1] == '>' {
			id = id[1 : len(id)-1]
		}
		if len(id) >= MaxContentIDLen {
			return a, apierr.Validation("The `%s` field must be shorter than %d characters.", name, MaxContentIDLen)
		}
		for i := 0; i < len(id); i++ {
			if c := id[i]; c < 33 || c > 126 || c == '<' || c == '>' {
				return a, apierr.Validation("The `%s` field may only contain printable ASCII characters, without spaces or angle brackets.", name)
			}
		}
		a.ContentID = id
	}
	return a, nil
}

// validMediaType accepts "type/subtype" with optional parameters.
func validMediaType(s string) bool {
	mt, _, err := mime.ParseMediaType(s)
	if err != nil {
		return false
	}
	typ, sub, ok := strings.Cut(mt, "/")
	return ok && typ != "" && sub != ""
}

func parseAttachmentURL(s string) (*url.URL, bool) {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Opaque != "" {
		return nil, false
	}
	return u, true
}

// filenameFromURL is the last path segment, or "" when there is none or it
// holds characters that cannot go in a header.
func filenameFromURL(u *url.URL) string {
	base := path.Base(u.Path)
	if base == "." || base == "/" || base == ".." || hasHeaderBreak(base) {
		return ""
	}
	for _, r := range base {
		if r < 0x20 || r == 0x7f {
			return ""
		}
	}
	return base
}

func contentTypeFor(filename string) string {
	if ext := path.Ext(filename); ext != "" {
		if t := mime.TypeByExtension(ext); t != "" {
			return t
		}
	}
	return defaultContentType
}

// decodeContent decodes the three wire forms of attachment content: a base64
// string, an array of byte values, or a Node Buffer object.
func decodeContent(raw []byte, field string) ([]byte, *apierr.Error) {
	switch raw[0] {
	case '"':
		return decodeBase64Content(raw, field)
	case '[':
		return decodeByteArray(raw, field)
	case '{':
		ms, _ := objectMembers(raw)
		f := toFields(ms)
		if t, ok := f["type"]; ok && string(t) != `"Buffer"` {
			break
		}
		data, ok := f["data"]
		if !ok || data[0] != '[' {
			break
		}
		return decodeByteArray(data, field)
	}
	return nil, errAttachment("The `%s` field must be a base64 string, an array of byte values or a Buffer.", field)
}

func errBase64(field string) *apierr.Error {
	return errAttachment("The `%s` field is not valid base64.", field)
}

// decodeBase64Content decodes a JSON string of base64. A string without
// escapes is decoded straight from the request body.
func decodeBase64Content(raw []byte, field string) ([]byte, *apierr.Error) {
	s := raw[1 : len(raw)-1]
	if bytes.IndexByte(s, '\\') >= 0 {
		str, ok := decodeJSONString(raw)
		if !ok {
			return nil, errBase64(field)
		}
		s = []byte(str)
	}
	// Tolerate a data: URI prefix ("data:application/pdf;base64,....").
	if len(s) > 5 && strings.EqualFold(string(s[:5]), "data:") {
		comma := bytes.IndexByte(s, ',')
		if comma < 0 || !bytes.HasSuffix(bytes.ToLower(s[:comma]), []byte(";base64")) {
			return nil, errBase64(field)
		}
		s = s[comma+1:]
	}
	if bytes.ContainsAny(s, " \t\r\n\f\v") {
		s = bytes.Map(func(r rune) rune {
			switch r {
			case ' ', '\t', '\r', '\n', '\f', '\v':
				return -1
			}
			return r
		}, s)
	}
	s = bytes.TrimRight(s, "=")
	enc := base64.RawStdEncoding
	if bytes.ContainsAny(s, "-_") {
		enc = base64.RawURLEncoding
	}
	out := make([]byte, enc.DecodedLen(len(s)))
	n, err := enc.Decode(out, s)
	if err != nil {
		return nil, errBase64(field)
	}
	return out[:n], nil
}

// decodeByteArray scans a JSON array of integers 0..255 in place: no []int
// and no per-element allocation, so a 100 MB array costs its decoded size.
func decodeByteArray(raw []byte, field string) ([]byte, *apierr.Error) {
	bad := func() ([]byte, *apierr.Error) {
		return nil, errAttachment("The `%s` array must contain only integers from 0 to 255.", field)
	}
	i := skipWS(raw, 0)
	if i >= len(raw) || raw[i] != '[' {
		return bad()
	}
	i = skipWS(raw, i+1)
	if i < len(raw) && raw[i] == ']' {
		return []byte{}, nil
	}
	out := make([]byte, 0, bytes.Count(raw, []byte{','})+1)
	for i < len(raw) {
		if raw[i] < '0' || raw[i] > '9' {
			return bad()
		}
		v := 0
		for i < len(raw) && raw[i] >= '0' && raw[i] <= '9' {
			v = v*10 + int(raw[i]-'0')
			if v > 255 {
				return bad()
			}
			i++
		}
		out = append(out, byte(v))
		i = skipWS(raw, i)
		if i >= len(raw) {
			return bad()
		}
		switch raw[i] {
		case ']':
			return out, nil
		case ',':
			i = skipWS(raw, i+1)
		default: // '.', 'e', 'E' (not an integer) or anything else
			return bad()
		}
	}
	return bad()
}
