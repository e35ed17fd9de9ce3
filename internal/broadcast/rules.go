package broadcast

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/godwit/godwit/internal/store"
)

// The rules of a broadcast that the API (POST and PATCH /broadcasts,
// POST /broadcasts/{id}/send) and the dashboard's forms both apply. Its
// sender and subject follow the template rules (internal/emailtemplate:
// From, Subject).

// MaxName bounds a broadcast's name, in characters.
const MaxName = 256

// Error is a broadcast the rules refuse: the client's mistake, with the
// API's message (which the API writes as Resend's 422 validation_error).
// Field is the member it is about, "" for the broadcast as a whole. The
// dashboard tells ErrNoContent and ErrNoPublicURL apart with errors.Is and
// shows messages of its own.
type Error struct {
	Field   string
	Message string
}

func (e *Error) Error() string { return e.Message }

var (
	// ErrNoContent: a broadcast is sent without HTML or text.
	ErrNoContent = &Error{Message: "The broadcast has no content: set `html` or `text` before sending it."}
	// ErrNoPublicURL: its content has the unsubscribe link, and the
	// server cannot make one.
	ErrNoPublicURL = &Error{Message: "The broadcast uses {{{RESEND_UNSUBSCRIBE_URL}}}, but this server has no public URL to build unsubscribe links with (start it with --public-url)."}
)

// Name checks a broadcast's optional name: trimmed, at most MaxName
// characters on one line.
func Name(s string) (string, error) {
	n := strings.TrimSpace(s)
	if utf8.RuneCountInString(n) > MaxName || strings.ContainsAny(n, "\r\n\x00") {
		return "", &Error{Field: "name", Message: fmt.Sprintf("The `name` field must be at most %d characters, on one line.", MaxName)}
	}
	return n, nil
}

// Sendable checks that b can be sent: it has HTML or text, and when its
// content asks for an unsubscribe link the server can make one
// (canUnsubscribe).
func Sendable(b *store.Broadcast, canUnsubscribe bool) error {
	if (b.HTML == nil || *b.HTML == "") && (b.Text == nil || *b.Text == "") {
		return ErrNoContent
	}
	if UsesUnsubscribe(b) && !canUnsubscribe {
		return ErrNoPublicURL
	}
	return nil
}
