package sendreq

import (
	"encoding/json"

	"testing"

	"github.com/tidwall/gjson"
)

// FuzzDecodeJSONString checks the fast string decoder against encoding/json
// on every valid JSON string.
func FuzzDecodeJSONString(f *testing.F) {
	for _, s := range []string{
		`plain`, `tab\there`, `quote \" and backslash \\ and slash \/`, `\u00e9t\u00E9`, `emoji \ud83d\ude00`,
		`lone \ud83d surrogate`, `reversed \ude00\ud83d`, `\u0000nul`, "raw \xff byte", `\b\f\n\r`, `ünïcödé`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, inner string) {
		raw := []byte(`"` + inner + `"`)
		if !json.Valid(raw) {
			return
		}
		var want string
		if err := json.Unmarshal(raw, &want); err != nil {
			t.Fatalf("encoding/json rejected a valid string: %v", err)
		}
		got, ok := decodeJSONString(raw)
		if !ok {
			t.Fatalf("decodeJSONString(%q) failed", raw)
		}
		if got != want {
			t.Fatalf("decodeJSONString(%q) = %q, encoding/json says %q", raw, got, want)
		}
	})
}

// FuzzValidAgrees holds the fast validator to encoding/json's verdict.
func FuzzValidAgrees(f *testing.F) {
	for _, s := range []string{`{}`, `{"a":1}`, `[1,2]`, `{"a":"\u00e9"}`, `01`, `{"a":1,}`, `"\x01"`, `1e5`, `-0.5e-3`, `{"a":tru}`, `nul`, `[1] x`, "\"\xff\"", `{"a" : [ null , true ]}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if json.Valid(b) != gjson.ValidBytes(b) {
			t.Fatalf("disagree on %q: encoding/json %v gjson %v", b, json.Valid(b), gjson.ValidBytes(b))
		}
	})
}
