// Package auth holds the API key format and its verification.
//
// A token looks like Resend's: "re_" + an 8-character public prefix + "_" +
// 43 characters of base64url (32 random bytes). Only the prefix and the
// SHA-256 of the whole token are stored. The prefix finds the row; the hash is
// compared in constant time. The token has 256 bits of entropy, so a fast
// hash is the right one: a slow password hash would only cost every request.
package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"strings"
)

const (
	tokenPrefix  = "re_"
	publicLen    = 8
	secretBytes  = 32
	prefixAlpha  = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	maxTokenSize = 256
)

// ErrMalformed means a presented token cannot be one of ours.
var ErrMalformed = errors.New("auth: malformed API key")

// NewToken returns a fresh token, its public prefix and its hash.
func NewToken() (token, prefix string, hash []byte, err error) {
	var pub [publicLen]byte
	if _, err := rand.Read(pub[:]); err != nil {
		return "", "", nil, err
	}
	for i := range pub {
		pub[i] = prefixAlpha[int(pub[i])%len(prefixAlpha)]
	}
	secret := make([]byte, secretBytes)
	if _, err := rand.Read(secret); err != nil {
		return "", "", nil, err
	}
	token = tokenPrefix + string(pub[:]) + "_" + base64.RawURLEncoding.EncodeToString(secret)
	return token, string(pub[:]), Hash(token), nil
}

// Hash is the stored form of a token.
func Hash(token string) []byte {
	h := sha256.Sum256([]byte(token))
	return h[:]
}

// Prefix returns the public prefix of a token, or ErrMalformed.
func Prefix(token string) (string, error) {
	if len(token) > maxTokenSize || !strings.HasPrefix(token, tokenPrefix) {
		return "", ErrMalformed
	}
	rest := token[len(tokenPrefix):]
	if len(rest) < publicLen+2 || rest[publicLen] != '_' {
		return "", ErrMalformed
	}
	return rest[:publicLen], nil
}

// dummyHash stands in for the stored hash when no key has a token's
// prefix, so that an unknown prefix costs the same hashing and comparison
// as a wrong secret.
var dummyHash = Hash("re_00000000_" + strings.Repeat("A", 43))

// Matches reports, in constant time, whether token hashes to stored. With
// stored nil (no key has the token's prefix) it compares against a dummy
// hash, doing the same work, and reports false.
func Matches(token string, stored []byte) bool {
	known := stored != nil
	if !known {
		stored = dummyHash
	}
	return subtle.ConstantTimeCompare(Hash(token), stored) == 1 && known
}

// FromHeader returns the token of an Authorization header value, which
// must be "Bearer <token>" as the SDKs send it (the scheme in any case, as
// RFC 9110 allows, and spaces around it tolerated). ok is false for a bare
// key, another scheme, or a scheme without a token.
func FromHeader(v string) (token string, ok bool) {
	scheme, rest, found := strings.Cut(strings.TrimSpace(v), " ")
	if !found || !strings.EqualFold(scheme, "bearer") {
		return "", false
	}
	token = strings.TrimSpace(rest)
	return token, token != ""
}
