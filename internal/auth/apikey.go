package auth

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/godwit/godwit/internal/store"
)

// MaxKeyName bounds an API key's name.
const MaxKeyName = 256

// Errors of NewKey and KeyName: the faces turn them into their own answers.
var (
	ErrKeyName         = errors.New("auth: a key's name must be one line of at most 256 characters")
	ErrPermission      = errors.New("auth: a key's permission must be full_access or sending_access")
	ErrDomainNeedsSend = errors.New("auth: only a sending_access key can be restricted to a domain")
)

// KeyName validates a key's name (an empty one is accepted, as by Resend):
// trimmed, one line, at most MaxKeyName bytes.
func KeyName(name string) (string, error) {
	n := strings.TrimSpace(name)
	if len(n) > MaxKeyName || strings.ContainsAny(n, "\r\n\x00") {
		return "", ErrKeyName
	}
	return n, nil
}

// KeyPermission validates a key's permission ("" is full_access) with its
// domain restriction ("" for none) and returns the permission.
func KeyPermission(permission, domainID string) (string, error) {
	if permission == "" {
		permission = store.PermissionFullAccess
	}
	if permission != store.PermissionFullAccess && permission != store.PermissionSendingAccess {
		return "", ErrPermission
	}
	if domainID != "" && permission != store.PermissionSendingAccess {
		return "", ErrDomainNeedsSend
	}
	return permission, nil
}

// NewKey makes an API key of the team and its token, which is shown once
// and never stored: permission "" is full_access; domainID ("" for none)
// restricts a sending_access key to a domain the caller has found in the
// team. The caller stores the key (store.CreateAPIKey).
func NewKey(teamID, name, permission, domainID string, now time.Time) (*store.APIKey, string, error) {
	name, err := KeyName(name)
	if err != nil {
		return nil, "", err
	}
	if permission, err = KeyPermission(permission, domainID); err != nil {
		return nil, "", err
	}
	token, prefix, hash, err := NewToken()
	if err != nil {
		return nil, "", fmt.Errorf("generate api key: %w", err)
	}
	return &store.APIKey{ID: store.NewID(), TeamID: teamID, Name: name, Prefix: prefix, Hash: hash, Permission: permission,
		DomainID: domainID, CreatedAt: now.UTC()}, token, nil
}
