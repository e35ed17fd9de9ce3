package account

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
)

// tokenBytes is the entropy of session and one-time tokens.
const tokenBytes = 32

// tokenLen is the length of a token as text (base64url, unpadded).
var tokenLen = base64.RawURLEncoding.EncodedLen(tokenBytes)

// ErrBadToken is a session or one-time token that is not one this package
// makes (wrong length or alphabet).
var ErrBadToken = errors.New("account: malformed token")

// NewToken returns a random token for a cookie or link, and the SHA-256
// that is stored in its place.
func NewToken() (token string, hash []byte, err error) {
	b := make([]byte, tokenBytes)
	if _, err := rand.Read(b); err != nil {
		return "", nil, fmt.Errorf("new token: %w", err)
	}
	token = base64.RawURLEncoding.EncodeToString(b)
	return token, hashBytes(b), nil
}

// ParseToken checks a token from outside (a cookie, a link) and returns
// the hash to look it up by.
func ParseToken(token string) ([]byte, error) {
	if len(token) != tokenLen {
		return nil, ErrBadToken
	}
	b, err := base64.RawURLEncoding.Strict().DecodeString(token)
	if err != nil || len(b) != tokenBytes {
		return nil, ErrBadToken
	}
	return hashBytes(b), nil
}

func hashBytes(b []byte) []byte {
	h := sha256.Sum256(b)
	return h[:]
}
