// Package webhook holds how Godwit signs the events it posts to webhook
// endpoints: exactly as Svix does (the scheme Resend uses and its SDKs
// verify), so that a receiver's existing verification code works unchanged.
//
//   - A signing secret is "whsec_" + base64(24 random bytes); the HMAC key is
//     the decoded bytes.
//   - Each message has an id ("msg_" + 27 base62 characters) that stays the
//     same on every retry, sent as svix-id.
//   - svix-timestamp is the send time in Unix seconds.
//   - svix-signature is "v1," + base64(HMAC-SHA256(key, id + "." +
//     timestamp + "." + body)); with several secrets (during a rotation) the
//     signatures are joined by spaces.
package webhook

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

const secretPrefix = "whsec_"

// NewSecret returns a new signing secret.
func NewSecret() string {
	b := make([]byte, 24)
	_, _ = rand.Read(b) // crypto/rand.Read never fails
	return secretPrefix + base64.StdEncoding.EncodeToString(b)
}

// secretKey returns the HMAC key of a signing secret.
func secretKey(secret string) ([]byte, error) {
	if !strings.HasPrefix(secret, secretPrefix) {
		return nil, errors.New("webhook: signing secret does not start with whsec_")
	}
	key, err := base64.StdEncoding.DecodeString(secret[len(secretPrefix):])
	if err != nil || len(key) == 0 {
		return nil, fmt.Errorf("webhook: signing secret is not base64")
	}
	return key, nil
}

// Signature returns the svix-signature value of a message signed with each
// of secrets (the current one first).
func Signature(secrets []string, msgID string, at time.Time, body []byte) (string, error) {
	if len(secrets) == 0 {
		return "", errors.New("webhook: no signing secret")
	}
	ts := strconv.FormatInt(at.Unix(), 10)
	sigs := make([]string, 0, len(secrets))
	for _, s := range secrets {
		key, err := secretKey(s)
		if err != nil {
			return "", err
		}
		mac := hmac.New(sha256.New, key)
		mac.Write([]byte(msgID))
		mac.Write([]byte{'.'})
		mac.Write([]byte(ts))
		mac.Write([]byte{'.'})
		mac.Write(body)
		sigs = append(sigs, "v1,"+base64.StdEncoding.EncodeToString(mac.Sum(nil)))
	}
	return strings.Join(sigs, " "), nil
}

// SetHeaders sets the headers of a signed webhook request: the svix-*
// headers Resend's SDKs read, and their Standard Webhooks twins
// (webhook-*), which other libraries read.
func SetHeaders(h http.Header, secrets []string, msgID string, at time.Time, body []byte) error {
	sig, err := Signature(secrets, msgID, at, body)
	if err != nil {
		return err
	}
	ts := strconv.FormatInt(at.Unix(), 10)
	h.Set("Content-Type", "application/json")
	h.Set("svix-id", msgID)
	h.Set("svix-timestamp", ts)
	h.Set("svix-signature", sig)
	h.Set("webhook-id", msgID)
	h.Set("webhook-timestamp", ts)
	h.Set("webhook-signature", sig)
	return nil
}
