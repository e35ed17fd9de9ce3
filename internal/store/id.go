package store

import (
	"crypto/rand"
	"math/big"

	"github.com/google/uuid"
)

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

const base62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// NewWebhookMessageID returns a new webhook message id: "msg_" and 27 base62
// characters (160 random bits), the shape of Svix's. It is the svix-id of
// every attempt to post the message.
func NewWebhookMessageID() string { return "msg_" + randomBase62(27) }

// NewWebhookAttemptID returns a new webhook attempt id ("atmpt_…").
func NewWebhookAttemptID() string { return "atmpt_" + randomBase62(27) }

func randomBase62(n int) string {
	b := make([]byte, 20)
	_, _ = rand.Read(b) // crypto/rand.Read never fails
	v := new(big.Int).SetBytes(b)
	out := make([]byte, n)
	base := big.NewInt(62)
	mod := new(big.Int)
	for i := n - 1; i >= 0; i-- {
		v.DivMod(v, base, mod)
		out[i] = base62[mod.Int64()]
	}
	return string(out)
}
