package emailtemplate

import (
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/godwit/godwit/internal/contact"
	"github.com/godwit/godwit/internal/message"
	"github.com/godwit/godwit/internal/store"
)

// The rules of a template's fields, which the API (POST and PATCH
// /templates, and the sender and subject of a broadcast) and the
// dashboard's forms both apply. Each returns the value to store (trimmed
// where the API trims) or a *FieldError.

const (
	// MaxAlias bounds an alias (Resend documents no limit).
	MaxAlias = 128
	// MaxVariables is Resend's limit on a template's variables (their
	// values: render.CheckValue).
	MaxVariables = 50
	// MaxReplyTo bounds reply_to, as `to` is bounded on send.
	MaxReplyTo = 50
)

// ReservedVariables are names Resend keeps for contact data and its own
// template language: they cannot be declared.
var ReservedVariables = []string{"FIRST_NAME", "LAST_NAME", "EMAIL", "UNSUBSCRIBE_URL", "contact", "this"}

// FieldError is a field the rules refuse: the client's mistake. Field is
// the API's member name ("name", "variables[2].key", ...); Message is the
// API's message for it. The API writes it as Resend's 422: a
// missing_required_field when Missing is set, else a validation_error. The
// dashboard shows a message of its own chosen by Field (and NUL).
type FieldError struct {
	Field string
	// Missing: the field is required and empty; NUL: it holds a NUL
	// character.
	Missing, NUL bool
	Message      string
}

func (e *FieldError) Error() string { return e.Message }

func invalid(field, format string, args ...any) *FieldError {
	return &FieldError{Field: field, Message: fmt.Sprintf(format, args...)}
}

func missing(field string) *FieldError {
	return &FieldError{Field: field, Missing: true, Message: fmt.Sprintf("Missing `%s` field.", field)}
}

// Name checks a template's name: trimmed, 1 to MaxName characters on one
// line.
func Name(s string) (string, error) {
	n := strings.TrimSpace(s)
	switch {
	case n == "":
		return "", missing("name")
	case strings.ContainsRune(n, 0):
		return "", errNUL("name")
	case utf8.RuneCountInString(n) > MaxName || strings.ContainsAny(n, "\r\n"):
		return "", invalid("name", "The `name` field must be at most %d characters, on one line.", MaxName)
	}
	return n, nil
}

// Alias checks an alias: trimmed, 1 to MaxAlias letters, digits, '-', '_'
// or '.', and not a UUID (which would read as an id).
func Alias(s string) (string, error) {
	a := strings.TrimSpace(s)
	ok := a != "" && len(a) <= MaxAlias
	for i := 0; ok && i < len(a); i++ {
		c := a[i]
		ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.'
	}
	if !ok {
		return "", invalid("alias", "Invalid `alias` field. An alias is 1 to %d letters, digits, `-`, `_` or `.`.", MaxAlias)
	}
	if _, err := uuid.Parse(a); err == nil {
		return "", invalid("alias", "Invalid `alias` field. An alias cannot be a UUID, as template ids are.")
	}
	return a, nil
}

// From checks an optional sender: trimmed, "" (none) or an address like
// email@example.com or Name <email@example.com>, on one line.
func From(s string) (string, error) {
	f := strings.TrimSpace(s)
	if strings.ContainsRune(f, 0) {
		return "", errNUL("from")
	}
	if f != "" && (strings.ContainsAny(f, "\r\n") || !message.ValidAddress(f)) {
		return "", invalid("from", "Invalid `from` field. The email address needs to follow the `email@example.com` or `Name <email@example.com>` format.")
	}
	return f, nil
}

// Subject checks an optional subject (kept as written): on one line, within
// the message limit.
func Subject(s string) (string, error) {
	if strings.ContainsRune(s, 0) {
		return "", errNUL("subject")
	}
	if strings.ContainsAny(s, "\r\n") || utf8.RuneCountInString(s) > message.MaxSubjectLen {
		return "", invalid("subject", "The `subject` field must be at most %d characters, on one line.", message.MaxSubjectLen)
	}
	return s, nil
}

// Body checks the HTML or text of a template (field names it): any text
// without NUL characters.
func Body(field, s string) error {
	if strings.ContainsRune(s, 0) {
		return errNUL(field)
	}
	return nil
}

// errNUL is the API's message for a string member with a NUL character.
func errNUL(field string) *FieldError {
	e := invalid(field, "The `%s` field must not contain NUL characters.", field)
	e.NUL = true
	return e
}

// ReplyTo checks reply-to addresses: at most MaxReplyTo, each trimmed and
// valid. Blank entries are not skipped; no addresses is nil.
func ReplyTo(list []string) ([]string, error) {
	if len(list) > MaxReplyTo {
		return nil, invalid("reply_to", "The `reply_to` field may hold at most %d addresses.", MaxReplyTo)
	}
	out := make([]string, 0, len(list))
	for _, a := range list {
		a = strings.TrimSpace(a)
		if strings.ContainsAny(a, "\r\n\x00") || !message.ValidAddress(a) {
			return nil, invalid("reply_to", "Invalid `reply_to` field. The email address needs to follow the `email@example.com` or `Name <email@example.com>` format.")
		}
		out = append(out, a)
	}
	if len(out) == 0 {
		return nil, nil
	}
	return out, nil
}

// Variable checks the i-th declared variable's key and type: a key of
// letters, digits and underscores (contact.ValidPropertyKey), not reserved
// and not in seen (to which it is added), and a type of string or number.
func Variable(i int, key, typ string, seen map[string]bool) error {
	if key == "" {
		return missing(fmt.Sprintf("variables[%d].key", i))
	}
	field := fmt.Sprintf("variables[%d].key", i)
	if !contact.ValidPropertyKey(key) {
		return invalid(field, "Invalid `%s` field. Keys are 1 to %d letters, digits or underscores.", field, contact.MaxPropertyKey)
	}
	if slices.Contains(ReservedVariables, key) {
		return invalid(field, "The variable key `%s` is reserved. Reserved keys: %s.", key, strings.Join(ReservedVariables, ", "))
	}
	if seen[key] {
		return invalid(field, "The variable key `%s` is given more than once.", key)
	}
	seen[key] = true
	if typ == "" {
		return missing(fmt.Sprintf("variables[%d].type", i))
	}
	if typ != store.PropertyString && typ != store.PropertyNumber {
		return invalid(fmt.Sprintf("variables[%d].type", i), "The `variables[%d].type` field must be `string` or `number`.", i)
	}
	return nil
}
