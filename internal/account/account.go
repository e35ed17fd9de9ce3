// Package account is the dashboard's people: password hashing (argon2id),
// session and one-time tokens, and sign-in with its throttles. It knows no
// HTTP; the dashboard turns its answers into pages and cookies.
//
// # Invariants
//
//   - Only hashes are stored: argon2id for passwords, SHA-256 for session
//     and set-password tokens (32 random bytes each, so a fast hash is
//     enough). A copy of the database signs no one in.
//   - Sign-in answers alike, and takes about as long, for an unknown email,
//     a user without a password and a wrong password (a dummy hash is
//     verified when no real one is).
//   - The per-account lock (10 failures in a row: 15 minutes) is counted on
//     the user's row, so it holds on every node; the per-IP limit is in
//     memory, per node.
//   - Setting a password ends every session of the user.
package account

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/godwit/godwit/internal/message"
	"github.com/godwit/godwit/internal/store"
)

// Store is what accounts are kept in.
type Store interface {
	CreateUser(ctx context.Context, u *store.User) error
	UsersByEmail(ctx context.Context, email string) ([]*store.User, error)
	RecordSigninFailure(ctx context.Context, teamID, id string, at time.Time, lock store.SigninLock) (*store.User, error)
	RecordSigninSuccess(ctx context.Context, teamID, id string) error
	CreatePasswordToken(ctx context.Context, t *store.PasswordToken) error
	UsePasswordToken(ctx context.Context, hash []byte, passwordHash string, at time.Time) (*store.User, error)
	CreateUserSession(ctx context.Context, s *store.UserSession) error
	SessionUser(ctx context.Context, hash []byte, at time.Time) (*store.UserSession, *store.User, error)
	TouchUserSession(ctx context.Context, hash []byte, at, expires time.Time) error
	DeleteUserSession(ctx context.Context, hash []byte) error
	DeleteUserSessions(ctx context.Context, teamID, userID string) (int64, error)
}

// Defaults of Config.
const (
	// SetPasswordTTL is how long a set-password link is valid.
	SetPasswordTTL = 24 * time.Hour
	// SessionIdle ends a session unused for this long.
	SessionIdle = 7 * 24 * time.Hour
	// SessionMax ends a session this long after sign-in, used or not.
	SessionMax = 30 * 24 * time.Hour
	// LockAfter failed sign-ins in a row lock an account for LockFor.
	LockAfter = 10
	LockFor   = 15 * time.Minute
	// IPBurst sign-in attempts from one IP address pass at once, then one
	// every IPEvery.
	IPBurst = 20
	IPEvery = 6 * time.Second
	// touchEvery bounds how often a session's last use is written.
	touchEvery = time.Minute
	// maxIPs bounds the per-IP limiters kept in memory.
	maxIPs = 10000
)

// Errors of sign-in and setting a password. The dashboard shows them as
// they are; none tells whether an email has an account, except ErrLocked,
// which only an account that exists can reach.
var (
	ErrBadCredentials = errors.New("account: wrong email or password")
	ErrLocked         = errors.New("account: locked after too many failed sign-ins")
	ErrThrottled      = errors.New("account: too many sign-in attempts from this address")
	// ErrNoSession is a missing, malformed, expired or ended session.
	ErrNoSession = errors.New("account: not signed in")
	// ErrTokenInvalid is a set-password link that is malformed, unknown,
	// used or expired.
	ErrTokenInvalid = errors.New("account: the link is invalid, used or expired")
	// ErrInvalidEmail and ErrInvalidRole refuse a new user.
	ErrInvalidEmail = errors.New("account: not an email address")
	ErrInvalidRole  = errors.New("account: role must be admin or viewer")
)

// Config configures a Service; zero values take the defaults above.
type Config struct {
	Store  Store
	Now    func() time.Time
	Params Params
	// IPBurst and IPEvery are the per-IP sign-in limit (IPBurst < 0: none).
	IPBurst int
	IPEvery time.Duration
}

// Service signs people in and out.
type Service struct {
	store  Store
	now    func() time.Time
	params Params
	dummy  string
	verify func(hash, password string) (bool, error) // VerifyPassword; tests count the calls

	ipBurst int
	ipEvery rate.Limit
	mu      sync.Mutex
	ips     map[string]*rate.Limiter
}

// New returns a Service for cfg.
func New(cfg Config) (*Service, error) {
	s := &Service{store: cfg.Store, now: cfg.Now, params: cfg.Params, verify: VerifyPassword, ipBurst: cfg.IPBurst, ips: map[string]*rate.Limiter{}}
	if s.now == nil {
		s.now = time.Now
	}
	if s.params == (Params{}) {
		s.params = DefaultParams
	}
	if s.ipBurst == 0 {
		s.ipBurst = IPBurst
	}
	every := cfg.IPEvery
	if every == 0 {
		every = IPEvery
	}
	s.ipEvery = rate.Every(every)
	dummy, err := HashPassword("not anyone's password", s.params)
	if err != nil {
		return nil, err
	}
	s.dummy = dummy
	return s, nil
}

// Session is a signed-in browser: its token goes in a cookie.
type Session struct {
	Token string
	User  *store.User
}

// CreateUser adds a person to a team and returns it with the one-time
// token of its set-password link (valid SetPasswordTTL).
func (s *Service) CreateUser(ctx context.Context, teamID, email, role string) (*store.User, string, error) {
	email = strings.TrimSpace(email)
	if a, ok := message.ParseAddress(email); !ok || a.Name != "" || a.Spec != email {
		return nil, "", ErrInvalidEmail
	}
	if role != store.RoleAdmin && role != store.RoleViewer {
		return nil, "", ErrInvalidRole
	}
	u := &store.User{ID: store.NewID(), TeamID: teamID, Email: email, Role: role, CreatedAt: s.now().UTC()}
	if err := s.store.CreateUser(ctx, u); err != nil {
		return nil, "", fmt.Errorf("create user: %w", err)
	}
	token, err := s.PasswordToken(ctx, u)
	if err != nil {
		return nil, "", err
	}
	return u, token, nil
}

// PasswordToken makes a new one-time set-password token for u.
func (s *Service) PasswordToken(ctx context.Context, u *store.User) (string, error) {
	token, hash, err := NewToken()
	if err != nil {
		return "", err
	}
	if err := s.store.CreatePasswordToken(ctx, &store.PasswordToken{Hash: hash, UserID: u.ID,
		ExpiresAt: s.now().Add(SetPasswordTTL)}); err != nil {
		return "", fmt.Errorf("create set-password token: %w", err)
	}
	return token, nil
}

// SetPassword spends a one-time token on a new password, ending the user's
// sessions, and signs the user in.
func (s *Service) SetPassword(ctx context.Context, token, password string) (*Session, error) {
	hash, err := ParseToken(token)
	if err != nil {
		return nil, ErrTokenInvalid
	}
	if err := CheckPassword(password); err != nil {
		return nil, err
	}
	encoded, err := HashPassword(password, s.params)
	if err != nil {
		return nil, err
	}
	u, err := s.store.UsePasswordToken(ctx, hash, encoded, s.now())
	if errors.Is(err, store.ErrNotFound) {
		return nil, ErrTokenInvalid
	}
	if err != nil {
		return nil, fmt.Errorf("set password: %w", err)
	}
	return s.newSession(ctx, u)
}

// SignIn checks an email and password from ip and opens a session.
func (s *Service) SignIn(ctx context.Context, email, password, ip string) (*Session, error) {
	if !s.allowIP(ip) {
		return nil, ErrThrottled
	}
	users, err := s.store.UsersByEmail(ctx, strings.TrimSpace(email))
	if err != nil {
		return nil, fmt.Errorf("sign in: %w", err)
	}
	now := s.now()
	verified, locked := false, false
	for _, u := range users {
		if u.LockedUntil != nil && u.LockedUntil.After(now) {
			locked = true
			continue
		}
		if u.PasswordHash == "" {
			continue
		}
		verified = true
		ok, err := s.verify(u.PasswordHash, password)
		if err != nil {
			return nil, fmt.Errorf("sign in: user %s: %w", u.ID, err)
		}
		if !ok {
			after, err := s.store.RecordSigninFailure(ctx, u.TeamID, u.ID, now, store.SigninLock{Max: LockAfter, For: LockFor})
			if err != nil {
				return nil, fmt.Errorf("sign in: %w", err)
			}
			if after.LockedUntil != nil && after.LockedUntil.After(now) {
				locked = true
			}
			continue
		}
		if err := s.store.RecordSigninSuccess(ctx, u.TeamID, u.ID); err != nil {
			return nil, fmt.Errorf("sign in: %w", err)
		}
		return s.newSession(ctx, u)
	}
	if !verified {
		_, _ = s.verify(s.dummy, password) // as long as a real check
	}
	if locked {
		return nil, ErrLocked
	}
	return nil, ErrBadCredentials
}

func (s *Service) newSession(ctx context.Context, u *store.User) (*Session, error) {
	token, hash, err := NewToken()
	if err != nil {
		return nil, err
	}
	now := s.now()
	if err := s.store.CreateUserSession(ctx, &store.UserSession{TokenHash: hash, UserID: u.ID, TeamID: u.TeamID,
		CreatedAt: now, LastSeenAt: now, ExpiresAt: now.Add(SessionIdle)}); err != nil {
		return nil, fmt.Errorf("open session: %w", err)
	}
	return &Session{Token: token, User: u}, nil
}

// Authenticate returns the signed-in user of a session token, recording
// its use (at most once a minute); ErrNoSession if there is none.
func (s *Service) Authenticate(ctx context.Context, token string) (*store.User, error) {
	hash, err := ParseToken(token)
	if err != nil {
		return nil, ErrNoSession
	}
	now := s.now()
	sess, u, err := s.store.SessionUser(ctx, hash, now)
	if errors.Is(err, store.ErrNotFound) {
		return nil, ErrNoSession
	}
	if err != nil {
		return nil, fmt.Errorf("authenticate: %w", err)
	}
	if now.Sub(sess.CreatedAt) > SessionMax {
		_ = s.store.DeleteUserSession(ctx, hash)
		return nil, ErrNoSession
	}
	if now.Sub(sess.LastSeenAt) >= touchEvery {
		if err := s.store.TouchUserSession(ctx, hash, now, now.Add(SessionIdle)); err != nil && !errors.Is(err, store.ErrNotFound) {
			return nil, fmt.Errorf("authenticate: %w", err)
		}
	}
	return u, nil
}

// SignOut ends one session (a malformed or ended one is no error).
func (s *Service) SignOut(ctx context.Context, token string) error {
	hash, err := ParseToken(token)
	if err != nil {
		return nil
	}
	return s.store.DeleteUserSession(ctx, hash)
}

// SignOutEverywhere ends every session of the team's user.
func (s *Service) SignOutEverywhere(ctx context.Context, teamID, userID string) error {
	_, err := s.store.DeleteUserSessions(ctx, teamID, userID)
	return err
}

// allowIP takes one sign-in attempt from ip's budget.
func (s *Service) allowIP(ip string) bool {
	if s.ipBurst < 0 {
		return true
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	l, ok := s.ips[ip]
	if !ok {
		if len(s.ips) >= maxIPs {
			// Forget the addresses whose budget has refilled: they lose
			// nothing by starting afresh.
			now := s.now()
			for k, v := range s.ips {
				if v.TokensAt(now) >= float64(s.ipBurst) {
					delete(s.ips, k)
				}
			}
		}
		l = rate.NewLimiter(s.ipEvery, s.ipBurst)
		s.ips[ip] = l
	}
	return l.AllowN(s.now(), 1)
}
