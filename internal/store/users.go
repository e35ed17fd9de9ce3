package store

import "time"

// Roles of the dashboard's people.
const (
	// RoleAdmin may do everything the dashboard offers.
	RoleAdmin = "admin"
	// RoleViewer reads, and cannot make keys, change webhooks or send.
	RoleViewer = "viewer"
)

// User is a person who signs in to the dashboard, one of a team's members.
// People are separate from API keys.
type User struct {
	ID     string
	TeamID string
	// Email is unique within the team, stored in lower case.
	Email string
	// PasswordHash is the encoded password hash ("" until a password is set
	// through a one-time token).
	PasswordHash string
	Role         string
	// FailedSignins counts failed sign-ins since the last success or lock.
	FailedSignins int
	// LockedUntil, when in the future, refuses every sign-in.
	LockedUntil *time.Time
	CreatedAt   time.Time
}

// UserSession is a signed-in browser. Only the SHA-256 of its token is
// stored, so a copy of the database signs no one in.
type UserSession struct {
	TokenHash  []byte
	UserID     string
	TeamID     string
	CreatedAt  time.Time
	LastSeenAt time.Time
	ExpiresAt  time.Time
}

// PasswordToken is a one-time token that sets a user's password (the link
// `godwit users create` prints). Only its SHA-256 is stored.
type PasswordToken struct {
	Hash      []byte
	UserID    string
	ExpiresAt time.Time
	UsedAt    *time.Time
}

// SigninLock is the rule RecordSigninFailure applies: after Max failures in
// a row the user is locked for For.
type SigninLock struct {
	Max int
	For time.Duration
}
