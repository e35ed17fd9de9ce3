package api

import (
	"net/http"

	"github.com/godwit/godwit/internal/accept"
	"github.com/godwit/godwit/internal/apierr"
)

// acceptStatus is Resend's status and error name for each kind of refusal
// of the accept path: the one place accept's errors meet HTTP.
var acceptStatus = map[*accept.Kind]struct {
	status int
	name   string
}{
	accept.ErrSenderNotVerified:   {http.StatusForbidden, apierr.NameValidation},
	accept.ErrKeyDomain:           {http.StatusForbidden, apierr.NameValidation},
	accept.ErrTestRecipient:       {http.StatusForbidden, apierr.NameValidation},
	accept.ErrIdempotencyMismatch: {http.StatusConflict, apierr.NameInvalidIdempotentRequest},
	accept.ErrIdempotencyInFlight: {http.StatusConflict, apierr.NameConcurrentIdempotentRequests},
	// An email rendered from its template over 40 MB (the body itself is
	// bounded before it is read, with a 413).
	accept.ErrTooLarge:          {http.StatusUnprocessableEntity, apierr.NameValidation},
	accept.ErrInvalid:           {http.StatusUnprocessableEntity, apierr.NameValidation},
	accept.ErrMissingField:      {http.StatusUnprocessableEntity, apierr.NameMissingRequiredField},
	accept.ErrInvalidParameter:  {http.StatusUnprocessableEntity, apierr.NameInvalidParameter},
	accept.ErrInvalidAttachment: {http.StatusUnprocessableEntity, apierr.NameInvalidAttachment},
	accept.ErrNotFound:          {http.StatusNotFound, apierr.NameNotFound},
	accept.ErrInvalidKey:        {http.StatusForbidden, apierr.NameInvalidAPIKey},
}

// apiError is err in Resend's envelope: a refusal of the accept path with
// its status, name and message; an *apierr.Error as it is; anything else
// the generic 500.
func apiError(err error) *apierr.Error {
	if e := accept.AsError(err); e != nil {
		if m, ok := acceptStatus[e.Kind]; ok {
			return apierr.New(m.status, m.name, e.Message)
		}
		return apierr.Validation("%s", e.Message)
	}
	return apierr.As(err)
}
