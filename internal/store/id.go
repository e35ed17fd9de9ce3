package store

import "github.com/google/uuid"

// NewID returns a new id for anything Godwit stores: a UUID of version 7,
// time-ordered, so that inserts land at the right edge of every index on the
// id instead of on a random page (write amplification stays low); clients
// treat it as opaque, as they do Resend's ids. It is the project's one
// UUIDv7 helper.
func NewID() string {
	id, err := uuid.NewV7()
	if err != nil {
		// Only when the system's random source fails; a random UUID is
		// still a unique id.
		return uuid.NewString()
	}
	return id.String()
}
