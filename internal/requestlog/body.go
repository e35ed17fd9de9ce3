package requestlog

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
)

// MaxStoredBody is the most bytes of one body a log stores (after
// masking); a larger body is not stored (null).
const MaxStoredBody = 64 << 10

// MaxCapturedRequest is the most bytes of a request body the middleware
// keeps for the writer: a larger one is not stored. It is above
// MaxStoredBody because masking attachments' content shrinks a body.
const MaxCapturedRequest = 1 << 20

// maskedKeys are the fields whose values a log never holds, wherever they
// appear: an API key's token (POST /api-keys) and a webhook's signing
// secret (POST /webhooks, GET /webhooks/{id}, the rotation).
var maskedKeys = map[string]bool{"token": true, "signing_secret": true}

// Masked is what a masked value is replaced with.
const Masked = "[masked]"

// Body is what a log stores of a raw request or response body: the JSON
// object or array as it came, or, when it may hold something to mask,
// re-encoded compact with attachments' content and secrets replaced by
// Masked; nil when raw is empty, does not start as a JSON object or array,
// or is larger than MaxStoredBody (once masked).
//
// Body runs for every logged request, so a body with nothing to mask
// (none of the masked keys appears in it, which bytes.Contains tells at
// memory speed) is kept as it is, unparsed: whether it is valid JSON is
// decided when a log is read (Readable), which is rare. A client that
// spells a key with JSON escapes ("\u0074oken") keeps it unmasked in its
// own log; the server's own responses never escape letters.
func Body(raw []byte) json.RawMessage {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || (raw[0] != '{' && raw[0] != '[') {
		return nil
	}
	if !mayMask(raw) {
		if len(raw) > MaxStoredBody {
			return nil
		}
		return raw
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil
	}
	if _, err := dec.Token(); err == nil {
		return nil // more than one value
	}
	v = mask(v, false)
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil
	}
	out := bytes.TrimSuffix(b.Bytes(), []byte("\n"))
	if len(out) > MaxStoredBody {
		return nil
	}
	return out
}

// maskedKeyNames are the keys whose presence sends a body to the masking
// path: every masked key and "attachments".
var maskedKeyNames = func() [][]byte {
	names := [][]byte{[]byte("attachments")}
	for k := range maskedKeys {
		names = append(names, []byte(k))
	}
	return names
}()

// mayMask reports whether raw holds one of maskedKeyNames as a quoted
// string (a key, or a value of that text, which costs only the slower
// path). One pass: each quote is looked for at memory speed and the few
// bytes after it compared.
func mayMask(raw []byte) bool {
	for i := bytes.IndexByte(raw, '"'); i >= 0; {
		rest := raw[i+1:]
		for _, name := range maskedKeyNames {
			if len(rest) > len(name) && rest[len(name)] == '"' && bytes.HasPrefix(rest, name) {
				return true
			}
		}
		j := bytes.IndexByte(rest, '"')
		if j < 0 {
			return false
		}
		i += 1 + j
	}
	return false
}

// Readable is what a stored body is shown as: itself when it is one valid
// JSON value, nil otherwise (Body keeps unmasked bodies unparsed).
func Readable(stored []byte) json.RawMessage {
	if len(stored) == 0 || !json.Valid(stored) {
		return nil
	}
	return stored
}

// mask replaces secrets, and the content of attachments (the objects of an
// "attachments" array, inAttachments), in v.
func mask(v any, inAttachments bool) any {
	switch x := v.(type) {
	case map[string]any:
		for k, val := range x {
			switch {
			case maskedKeys[k]:
				if val != nil {
					x[k] = Masked
				}
			case inAttachments && k == "content":
				x[k] = maskedContent(val)
			case k == "attachments":
				if list, ok := val.([]any); ok {
					for i, a := range list {
						list[i] = mask(a, true)
					}
					continue
				}
				x[k] = mask(val, false)
			default:
				x[k] = mask(val, false)
			}
		}
	case []any:
		for i, val := range x {
			x[i] = mask(val, false)
		}
	}
	return v
}

// maskedContent says how large the masked content was.
func maskedContent(v any) any {
	switch c := v.(type) {
	case nil:
		return nil
	case string:
		if strings.HasPrefix(c, "[masked") {
			return c // masked already ('[' is not base64)
		}
		return fmt.Sprintf("[masked: %d characters]", len(c))
	case []any:
		return fmt.Sprintf("[masked: %d bytes]", len(c))
	}
	return Masked
}
