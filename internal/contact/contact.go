// Package contact holds the rules of a contact's fields, the one home of
// what the Contacts API and CSV imports both accept: the address, the
// names, and property keys and values with their limits. It knows no
// transport: callers turn its answers into their own errors.
package contact

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/godwit/godwit/internal/message"
	"github.com/godwit/godwit/internal/render"
	"github.com/godwit/godwit/internal/store"
)

const (
	// MaxName bounds first_name and last_name.
	MaxName = 256
	// MaxProperties bounds the properties a contact holds.
	MaxProperties = 100
	// MaxPropertyKey is Resend's limit on a contact property key.
	MaxPropertyKey = 50
	// MaxPropertyValue bounds a string property value (Resend's limit on
	// template variable values, which properties fill).
	MaxPropertyValue = 2000
)

// ErrTooManyProperties is a change that would leave a contact with more
// than MaxProperties properties.
var ErrTooManyProperties = errors.New("contact: more properties than a contact may hold")

// Address validates a contact's email: a bare address, accepted as for
// sending, returned trimmed and otherwise as given; ok is false for
// anything else.
func Address(v string) (addr string, ok bool) {
	s := strings.TrimSpace(v)
	if strings.ContainsAny(s, "<>\r\n\x00") || !message.ValidAddress(s) {
		return "", false
	}
	return s, true
}

// ValidName reports whether a trimmed, non-empty first or last name may be
// stored: at most MaxName bytes, on one line, no NUL.
func ValidName(v string) bool {
	return len(v) <= MaxName && !strings.ContainsAny(v, "\r\n\x00")
}

// ValidPropertyKey reports whether k may name a property: 1 to
// MaxPropertyKey ASCII letters, digits or underscores, the key rule of
// merge values (render.ValidKey), since properties fill placeholders.
func ValidPropertyKey(k string) bool { return render.ValidKey(k) }

// ValidPropertyType reports whether typ is a contact property's type:
// store.PropertyString or store.PropertyNumber.
func ValidPropertyType(typ string) bool {
	return typ == store.PropertyString || typ == store.PropertyNumber
}

// ValidPropertyString reports whether s may be a property's value: at most
// MaxPropertyValue bytes, no NUL.
func ValidPropertyString(s string) bool {
	return len(s) <= MaxPropertyValue && !strings.ContainsRune(s, 0)
}

// MergeProperties applies changes to props: a nil value removes its key.
// Neither map is changed. ErrTooManyProperties if the result holds more
// than MaxProperties.
func MergeProperties(props, changes map[string]any) (map[string]any, error) {
	out := make(map[string]any, len(props)+len(changes))
	for k, v := range props {
		if v != nil {
			out[k] = v
		}
	}
	for k, v := range changes {
		if v == nil {
			delete(out, k)
		} else {
			out[k] = v
		}
	}
	if len(out) > MaxProperties {
		return nil, ErrTooManyProperties
	}
	return out, nil
}

// CheckPropertyValue reports whether v (as JSON decodes it, not nil) is of
// the property type typ; its error is what v must be instead ("number" or
// "string").
func CheckPropertyValue(typ string, v any) error {
	switch v.(type) {
	case string:
		if typ == store.PropertyString {
			return nil
		}
	case float64:
		if typ == store.PropertyNumber {
			return nil
		}
	}
	if typ == store.PropertyNumber {
		return errors.New("number")
	}
	return errors.New("string")
}

// PropertyMismatch is a value of the wrong type for its key's declared
// property (CheckDeclared).
type PropertyMismatch struct {
	Key  string
	Type string // the declared type: the value must be one
}

func (m *PropertyMismatch) Error() string {
	return "contact: the property " + m.Key + " must be a " + m.Type
}

// ValuedKeys are the keys of values whose value is not nil, sorted: the
// keys whose declarations CheckDeclared needs.
func ValuedKeys(values map[string]any) []string {
	var keys []string
	for k, v := range values {
		if v != nil {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	return keys
}

// CheckDeclared checks the values given for a contact's properties against
// the team's declarations defs (at least those of ValuedKeys(values)): a
// value, nil aside, for a declared key must be of its type; undeclared
// keys pass. The first mismatch in key order is a *PropertyMismatch.
func CheckDeclared(defs []*store.ContactProperty, values map[string]any) error {
	byKey := make(map[string]*store.ContactProperty, len(defs))
	for _, d := range defs {
		byKey[d.Key] = d
	}
	for _, k := range ValuedKeys(values) {
		if d, ok := byKey[k]; ok && CheckPropertyValue(d.Type, values[k]) != nil {
			return &PropertyMismatch{Key: k, Type: d.Type}
		}
	}
	return nil
}

// Errors of PropertyText.
var (
	ErrNotNumber      = errors.New("contact: not a number")
	ErrPropertyString = errors.New("contact: a property's text is too long or holds a NUL")
)

// PropertyText reads a property's value as a person types it, for a
// property of type typ: "" is nil (no value, as JSON's null: the
// property's fallback applies); a number is a finite decimal number
// ("-1.5", "2e3"), spaces around it ignored, else ErrNotNumber; a string is
// taken as it is (ValidPropertyString), else ErrPropertyString.
func PropertyText(typ, v string) (any, error) {
	if v == "" {
		return nil, nil
	}
	if typ == store.PropertyNumber {
		n, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
		if err != nil || math.IsInf(n, 0) || math.IsNaN(n) {
			return nil, ErrNotNumber
		}
		return n, nil
	}
	if !ValidPropertyString(v) {
		return nil, ErrPropertyString
	}
	return v, nil
}

// FormatProperty is the text of a property's value, as PropertyText reads
// it back: a string as it is, a number in its shortest decimal form
// without an exponent, nil as "".
func FormatProperty(v any) string {
	switch v := v.(type) {
	case nil:
		return ""
	case string:
		return v
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64)
	}
	return fmt.Sprint(v)
}

// Limits of segments and topics, in characters (Resend's for topics).
const (
	MaxSegmentName      = 256
	MaxTopicName        = 50
	MaxTopicDescription = 200
)

// SegmentName validates a segment's name: trimmed, not empty, at most
// MaxSegmentName bytes, on one line.
func SegmentName(v string) (string, bool) {
	n := strings.TrimSpace(v)
	return n, n != "" && len(n) <= MaxSegmentName && !strings.ContainsAny(n, "\r\n\x00")
}

// TopicName validates a topic's name: trimmed, not empty, at most
// MaxTopicName characters, on one line.
func TopicName(v string) (string, bool) {
	n := strings.TrimSpace(v)
	return n, n != "" && utf8.RuneCountInString(n) <= MaxTopicName && !strings.ContainsAny(n, "\r\n\x00")
}

// TopicDescription validates a topic's description: trimmed, at most
// MaxTopicDescription characters, no NUL ("" is none).
func TopicDescription(v string) (string, bool) {
	s := strings.TrimSpace(v)
	return s, utf8.RuneCountInString(s) <= MaxTopicDescription && !strings.ContainsRune(s, 0)
}
