package accept

import (
	"errors"
	"fmt"
)

// Kind is the class of a refusal; the faces map each kind once, to
// Resend's envelope (internal/api) and to an SMTP reply (internal/msa).
// Test for one with errors.Is(err, accept.ErrKeyDomain).
type Kind struct{ name string }

func (k *Kind) Error() string { return "accept: " + k.name }

// The kinds of refusal.
var (
	// ErrSenderNotVerified: the sender's domain is not one the team has
	// verified for sending (or the test sender is misused).
	ErrSenderNotVerified = &Kind{"sender domain not verified"}
	// ErrKeyDomain: the key is restricted to another domain than the sender's.
	ErrKeyDomain = &Kind{"api key restricted to another domain"}
	// ErrTestRecipient: the test sender writes to an address outside the
	// test domain.
	ErrTestRecipient = &Kind{"test sender to a real recipient"}
	// ErrIdempotencyMismatch: the idempotency key was used for another request.
	ErrIdempotencyMismatch = &Kind{"idempotency key used for another request"}
	// ErrIdempotencyInFlight: a request with the idempotency key is being accepted.
	ErrIdempotencyInFlight = &Kind{"idempotency key in use"}
	// ErrTooLarge: the email (rendered from its template) is over 40 MB.
	ErrTooLarge = &Kind{"email too large"}
	// ErrInvalid: a field's value is refused (Field names it when known).
	ErrInvalid = &Kind{"invalid"}
	// ErrMissingField: a required field is absent.
	ErrMissingField = &Kind{"missing field"}
	// ErrInvalidParameter: an id is not a UUID.
	ErrInvalidParameter = &Kind{"invalid parameter"}
	// ErrInvalidAttachment: an attachment cannot be written.
	ErrInvalidAttachment = &Kind{"invalid attachment"}
	// ErrNotFound: a template or topic the email names is not the team's.
	ErrNotFound = &Kind{"not found"}
	// ErrInvalidKey: the API key is unknown or wrong.
	ErrInvalidKey = &Kind{"invalid api key"}
)

// Error is a refusal: its Message is safe to show to the caller (it says
// nothing the caller did not send or could not know).
type Error struct {
	Kind    *Kind
	Field   string // the field at fault, when there is one
	Message string
}

func (e *Error) Error() string { return e.Message }

// Unwrap makes errors.Is(err, kind) work.
func (e *Error) Unwrap() error { return e.Kind }

// AsError returns the *Error in err's chain, nil when there is none (a
// failure of Godwit's own rather than a refusal).
func AsError(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return nil
}

func refuse(kind *Kind, field, format string, args ...any) *Error {
	return &Error{Kind: kind, Field: field, Message: fmt.Sprintf(format, args...)}
}

func missingField(field string) *Error {
	return refuse(ErrMissingField, field, "Missing `%s` field.", field)
}

func notVerified(domain string) *Error {
	return refuse(ErrSenderNotVerified, "from", "The `%s` domain is not verified. Please, add and verify your domain.", domain)
}
