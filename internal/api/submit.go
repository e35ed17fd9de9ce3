package api

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"

	"github.com/godwit/godwit/internal/apierr"
	"github.com/godwit/godwit/internal/ratelimit"
	"github.com/godwit/godwit/internal/store"
)

// The accept path for senders that do not speak HTTP (SMTP submission):
// the same key check, rate limit, sender gate, idempotency and commit as
// POST /emails. Refusals are apierr errors, as the API would answer them;
// anything else is Godwit's own failure.

// SubmitEndpoint scopes the idempotency keys of emails submitted over SMTP:
// a key used with POST /emails and then over SMTP is a different request.
const SubmitEndpoint = "SMTP"

// Authenticate returns the API key of token, as a Bearer header would.
// Any kind of key may send (sending_access is enough).
func (h *Handler) Authenticate(ctx context.Context, token string) (*store.APIKey, error) {
	return h.lookupKey(ctx, token)
}

// Allow charges one request to the team rate limit of key, shared with
// the API.
func (h *Handler) Allow(ctx context.Context, key *store.APIKey) (ratelimit.Result, error) {
	limit := key.TeamRateLimit
	if limit <= 0 {
		limit = h.DefaultRateLimit
	}
	return h.Limiter.Allow(ctx, key.TeamID, limit)
}

// Submit accepts one decoded email sent with key and returns its id; with
// an idempotency key already used for the same email within 24 hours it
// returns the first email's id and commits nothing.
func (h *Handler) Submit(ctx context.Context, key *store.APIKey, e *store.Email, idemKey string) (string, error) {
	// No requireSender: the converted message always has a From, and an
	// SMTP message without a Subject is sent with an empty one.
	if e.From == "" {
		return "", apierr.MissingField("from")
	}
	if err := checkBuildable(e); err != nil {
		return "", err
	}
	var hash []byte
	if idemKey != "" {
		// The decoded email, not the raw message: a client that retries
		// writes a new Date and Message-ID, which Godwit replaces anyway.
		hasher := sha256.New()
		hasher.Write([]byte(SubmitEndpoint + "\n"))
		if err := json.NewEncoder(hasher).Encode(e); err != nil {
			return "", fmt.Errorf("hash submitted email: %w", err)
		}
		hash = hasher.Sum(nil)
	}
	resp, _, err := h.commitAccept(ctx, key.TeamID, idemKey, SubmitEndpoint, hash, func() ([]*store.Email, []byte, error) {
		if err := h.checkSender(ctx, key, e); err != nil {
			return nil, nil, err
		}
		h.prepare(e, key.TeamID)
		resp, _ := json.Marshal(idResponse{ID: e.ID})
		return []*store.Email{e}, resp, nil
	})
	if err != nil {
		return "", err
	}
	var out idResponse
	if err := json.Unmarshal(resp, &out); err != nil {
		return "", fmt.Errorf("stored response: %w", err)
	}
	return out.ID, nil
}
