// Package apierr holds Resend's error envelope: every error the HTTP API
// returns is {"statusCode","message","name"} with a JSON content type.
//
// Handlers and decoders return *Error values; anything else that reaches the
// writer is an internal failure and is answered as a 500 application_error
// whose body says nothing about the cause (the cause goes to the log).
package apierr

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
)

// Error names used by Resend.
const (
	NameMissingAPIKey                = "missing_api_key"
	NameInvalidAPIKey                = "invalid_api_key"
	NameRestrictedAPIKey             = "restricted_api_key"
	NameValidation                   = "validation_error"
	NameMissingRequiredField         = "missing_required_field"
	NameInvalidParameter             = "invalid_parameter"
	NameInvalidAttachment            = "invalid_attachment"
	NameInvalidIdempotencyKey        = "invalid_idempotency_key"
	NameInvalidIdempotentRequest     = "invalid_idempotent_request"
	NameConcurrentIdempotentRequests = "concurrent_idempotent_requests"
	NameNotFound                     = "not_found"
	NameMethodNotAllowed             = "method_not_allowed"
	NameRateLimitExceeded            = "rate_limit_exceeded"
	NameApplicationError             = "application_error"
	NameServiceUnavailable           = "service_unavailable"
	// NameRequestTimeout is Godwit's own: a request body that arrived too
	// slowly (408). Resend documents no such error.
	NameRequestTimeout = "request_timeout"
)

// NameStorageFull is Godwit's own (Resend has none): a 503 for a write the
// database refused for lack of disk space; nothing of the request was
// stored, and the same request may succeed later.
const NameStorageFull = "storage_full"

// StorageFull is the body of that 503.
var StorageFull = New(http.StatusServiceUnavailable, NameStorageFull,
	"The server cannot store anything right now: its disk is full. Nothing of this request was saved; retry later.")

// Error is an error that is safe to show to API clients.
type Error struct {
	StatusCode int    `json:"statusCode"`
	Message    string `json:"message"`
	Name       string `json:"name"`
}

func (e *Error) Error() string { return fmt.Sprintf("%d %s: %s", e.StatusCode, e.Name, e.Message) }

// New returns an Error with the given status, name and message.
func New(status int, name, message string) *Error {
	return &Error{StatusCode: status, Name: name, Message: message}
}

// Validation is a 422 validation_error, Resend's answer to a field it cannot accept.
func Validation(format string, args ...any) *Error {
	return New(http.StatusUnprocessableEntity, NameValidation, fmt.Sprintf(format, args...))
}

// Forbidden is a 403 validation_error (unverified domain, domain held by another team).
func Forbidden(format string, args ...any) *Error {
	return New(http.StatusForbidden, NameValidation, fmt.Sprintf(format, args...))
}

// MissingField is Resend's 422 for an absent required body field: "Missing `name` field."
func MissingField(field string) *Error {
	return New(http.StatusUnprocessableEntity, NameMissingRequiredField, fmt.Sprintf("Missing `%s` field.", field))
}

// NotFound is a 404 for a resource the caller's team does not have.
func NotFound(message string) *Error {
	return New(http.StatusNotFound, NameNotFound, message)
}

// BadRequest is a 400 validation_error (malformed JSON and the like).
func BadRequest(format string, args ...any) *Error {
	return New(http.StatusBadRequest, NameValidation, fmt.Sprintf(format, args...))
}

// Internal is the body of every 500: it names nothing of the cause.
var Internal = New(http.StatusInternalServerError, NameApplicationError, "An unexpected error occurred.")

// As returns the *Error in err's chain, or Internal when there is none.
func As(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return Internal
}

// Write sends err in Resend's envelope. Errors that are not *Error become a
// generic 500; the caller is responsible for logging the cause.
func Write(w http.ResponseWriter, err error) {
	e := As(err)
	body, _ := json.Marshal(e)
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(e.StatusCode)
	_, _ = w.Write(body)
}
