package webhook

import (
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/godwit/godwit/internal/events"
	"github.com/godwit/godwit/internal/store"
)

// The rules of managing a webhook, shared by the API and the dashboard:
// what an endpoint and a list of events may be, and how a signing secret is
// made, sealed, revealed and rotated.

// SecretOverlap is how long a rotated-out secret still signs (Resend: 24 h).
const SecretOverlap = 24 * time.Hour

// MaxEndpointLen bounds an endpoint URL.
const MaxEndpointLen = 2048

// Sealer seals and opens signing secrets (secretbox.Box).
type Sealer interface {
	Seal(plaintext, additionalData []byte) ([]byte, error)
	Opener
}

// InvalidError is a webhook field that breaks a rule; its message is for
// the person or program that sent it.
type InvalidError struct{ Msg string }

func (e *InvalidError) Error() string { return e.Msg }

func invalid(format string, a ...any) error { return &InvalidError{Msg: fmt.Sprintf(format, a...)} }

// IsInvalid reports whether err is an InvalidError, and its message.
func IsInvalid(err error) (string, bool) {
	var ie *InvalidError
	if errors.As(err, &ie) {
		return ie.Msg, true
	}
	return "", false
}

// Endpoint validates an endpoint URL: absolute http(s), a host, no
// credentials. Whether its address is public is checked when it is called
// (so that DNS cannot change the answer afterwards).
func Endpoint(v string) (string, error) {
	s := strings.TrimSpace(v)
	u, err := url.Parse(s)
	if s == "" || err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.Hostname() == "" ||
		u.User != nil || len(s) > MaxEndpointLen || strings.ContainsAny(s, " \r\n\t") {
		return "", invalid("The `endpoint` field must be an absolute http or https URL without credentials.")
	}
	return s, nil
}

// Events validates the events a webhook subscribes to: at least one, each
// of the registry (internal/events), without repeats.
func Events(names []string) ([]string, error) {
	if len(names) == 0 {
		return nil, invalid("The `events` field must name at least one event.")
	}
	var out []string
	for _, e := range names {
		if !events.Registered(e) {
			return nil, invalid("Unknown event `%s`. Events: %s.", e, strings.Join(events.Subscribable(), ", "))
		}
		if !slices.Contains(out, e) {
			out = append(out, e)
		}
	}
	return out, nil
}

// New is a new enabled webhook of the team with a new signing secret,
// sealed in it and returned to be shown once. Endpoint and events must be
// valid already.
func New(keys Sealer, teamID, endpoint string, events []string, now time.Time) (*store.Webhook, string, error) {
	wh := &store.Webhook{ID: store.NewID(), TeamID: teamID, Endpoint: endpoint, Events: events,
		Status: store.WebhookEnabled, CreatedAt: now, UpdatedAt: now}
	secret := NewSecret()
	var err error
	if wh.Secret, err = seal(keys, wh.ID, secret); err != nil {
		return nil, "", err
	}
	return wh, secret, nil
}

// Rotate gives wh a new signing secret and returns it; the old one keeps
// signing (beside the new) for SecretOverlap, so receivers can switch. The
// caller stores wh.
func Rotate(keys Sealer, wh *store.Webhook, now time.Time) (string, error) {
	until := now.Add(SecretOverlap)
	secret := NewSecret()
	sealed, err := seal(keys, wh.ID, secret)
	if err != nil {
		return "", err
	}
	wh.PreviousSecret, wh.PreviousUntil = wh.Secret, &until
	wh.Secret, wh.UpdatedAt = sealed, now
	return secret, nil
}

// Reveal opens wh's current signing secret.
func Reveal(keys Opener, wh *store.Webhook) (string, error) {
	secret, err := keys.Open(wh.Secret, SecretAD(wh.ID))
	if err != nil {
		return "", fmt.Errorf("open webhook secret: %w", err)
	}
	return string(secret), nil
}

func seal(keys Sealer, id, secret string) ([]byte, error) {
	sealed, err := keys.Seal([]byte(secret), SecretAD(id))
	if err != nil {
		return nil, fmt.Errorf("seal webhook secret: %w", err)
	}
	return sealed, nil
}
