package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/godwit/godwit/internal/account"
	"github.com/godwit/godwit/internal/config"
	"github.com/godwit/godwit/internal/store"
)

// usersStore is what godwit users reads and writes.
type usersStore interface {
	account.Store
	store.Teams
	ListUsers(ctx context.Context, teamID string) ([]*store.User, error)
}

// CreateUser adds a person to the team (by name or id; a missing team is
// made) and returns the one-time link, valid 24 hours, at which they set
// their password. It is what `godwit users create` runs.
func CreateUser(ctx context.Context, db usersStore, cfg config.Config, team, email, role string) (*store.User, string, error) {
	t, err := resolveTeam(ctx, db, team, true)
	if err != nil {
		return nil, "", err
	}
	svc, err := account.New(account.Config{Store: db})
	if err != nil {
		return nil, "", err
	}
	u, token, err := svc.CreateUser(ctx, t.ID, email, role)
	if errors.Is(err, store.ErrConflict) {
		return nil, "", fmt.Errorf("team %q has a user %s already", t.Name, strings.ToLower(strings.TrimSpace(email)))
	}
	if err != nil {
		return nil, "", err
	}
	return u, SetPasswordLink(cfg, token), nil
}

// ResetPasswordLink returns a new one-time link (24 hours) at which the
// team's user with the email sets a new password; using it ends the
// user's sessions and lifts a lock. Earlier links stay valid until used or
// expired.
func ResetPasswordLink(ctx context.Context, db usersStore, cfg config.Config, team, email string) (*store.User, string, error) {
	t, err := resolveTeam(ctx, db, team, false)
	if err != nil {
		return nil, "", err
	}
	users, err := db.UsersByEmail(ctx, strings.TrimSpace(email))
	if err != nil {
		return nil, "", err
	}
	for _, u := range users {
		if u.TeamID != t.ID {
			continue
		}
		svc, err := account.New(account.Config{Store: db})
		if err != nil {
			return nil, "", err
		}
		token, err := svc.PasswordToken(ctx, u)
		if err != nil {
			return nil, "", err
		}
		return u, SetPasswordLink(cfg, token), nil
	}
	return nil, "", fmt.Errorf("team %q has no user %s", t.Name, strings.ToLower(strings.TrimSpace(email)))
}

// SetPasswordLink is the dashboard's set-password page for token, on
// --public-url, else on the API's address.
func SetPasswordLink(cfg config.Config, token string) string {
	base := strings.TrimSuffix(cfg.PublicURL, "/")
	if base == "" {
		scheme := "http"
		if cfg.TLS() {
			scheme = "https"
		}
		base = scheme + "://" + cfg.HTTPAddr
	}
	return base + "/dashboard/set-password?token=" + url.QueryEscape(token)
}

func cmdUsers(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	if len(args) == 0 {
		return usageErrorf("godwit users", "expected create, list or reset-password")
	}
	if isHelp(args[0]) {
		return groupHelp("users", stdout)
	}
	sub := args[0]
	if sub != "create" && sub != "list" && sub != "reset-password" {
		return usageErrorf("godwit users", "unknown users command %q: expected create, list or reset-password", sub)
	}
	var team, email string
	role := store.RoleAdmin
	cfg := config.Defaults()
	settings := storeSettings
	if sub != "list" {
		// The link is on --public-url, else on the API's address.
		settings = append(slices.Clone(storeSettings), "public-url", "http-addr", "tls-cert", "acme-domain")
	}
	fs := newFlags("users "+sub, &cfg, settings...)
	fs.StringVar(&team, "team", DefaultTeam, "team name or id (users create makes a missing team)")
	if sub == "create" || sub == "reset-password" {
		fs.StringVar(&email, "email", "", "the person's email address (they sign in with it)")
	}
	if sub == "create" {
		fs.StringVar(&role, "role", store.RoleAdmin, "admin, or viewer (reads only: cannot make keys, change webhooks or send)")
	}
	if err := parseFlags(fs, args[1:], stdout, getenv); err != nil {
		return err
	}
	if fs.NArg() != 0 {
		return usageErrorf(fs.Name(), "unexpected argument %q", fs.Arg(0))
	}
	if sub != "list" && email == "" {
		return usageErrorf(fs.Name(), "--email is required")
	}
	db, err := openStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer db.Close()
	if sub == "create" {
		u, link, err := CreateUser(ctx, db, cfg, team, email, role)
		if errors.Is(err, account.ErrInvalidEmail) {
			return fmt.Errorf("--email %q is not an email address", email)
		}
		if errors.Is(err, account.ErrInvalidRole) {
			return fmt.Errorf("--role %q must be admin or viewer", role)
		}
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "Created %s (%s). They set their password at this link, valid for 24 hours and only once:\n\n    %s\n\n",
			u.Email, u.Role, link)
		return nil
	}
	if sub == "reset-password" {
		u, link, err := ResetPasswordLink(ctx, db, cfg, team, email)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "%s sets a new password at this link, valid for 24 hours and only once (it signs them out everywhere):\n\n    %s\n\n",
			u.Email, link)
		return nil
	}
	t, err := resolveTeam(ctx, db, team, false)
	if err != nil {
		return err
	}
	users, err := db.ListUsers(ctx, t.ID)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tEMAIL\tROLE\tPASSWORD\tCREATED")
	for _, u := range users {
		pw := "set"
		if u.PasswordHash == "" {
			pw = "not set"
		}
		if u.LockedUntil != nil && u.LockedUntil.After(time.Now()) {
			pw += " (locked)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", u.ID, u.Email, u.Role, pw, u.CreatedAt.Format(time.RFC3339))
	}
	return tw.Flush()
}

// firstUserHint prints, when no one can sign in to the dashboard yet, how
// to make the first person.
func firstUserHint(ctx context.Context, db interface {
	CountUsers(ctx context.Context) (int, error)
}, stdout io.Writer) error {
	n, err := db.CountUsers(ctx)
	if err != nil {
		return err
	}
	if n == 0 {
		fmt.Fprintln(stdout, "No one can sign in to the dashboard yet: run `godwit users create --email you@example.com` (same database flags) for a link that sets the first password.")
	}
	return nil
}
