package dashboard

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"

	"github.com/godwit/godwit/internal/account"
	"github.com/godwit/godwit/internal/store"
)

func (h *Handler) home(w http.ResponseWriter, r *http.Request, s *request) error {
	if s.user == nil {
		http.Redirect(w, r, Prefix+"sign-in", http.StatusSeeOther)
		return nil
	}
	http.Redirect(w, r, Prefix+"emails", http.StatusSeeOther)
	return nil
}

type signInData struct {
	Email string
	Next  string
	Error string
}

func (h *Handler) signInPage(w http.ResponseWriter, r *http.Request, s *request) error {
	if s.user != nil {
		http.Redirect(w, r, safeNext(r.URL.Query().Get("next")), http.StatusSeeOther)
		return nil
	}
	return h.render(w, r, s, http.StatusOK, "signin", "Sign in", "", signInData{Next: r.URL.Query().Get("next")})
}

func (h *Handler) signIn(w http.ResponseWriter, r *http.Request, s *request) error {
	email, password, next := strings.TrimSpace(r.PostFormValue("email")), r.PostFormValue("password"), r.PostFormValue("next")
	ip := clientIP(r)
	sess, err := h.cfg.Accounts.SignIn(r.Context(), email, password, ip)
	var msg string
	status := http.StatusUnauthorized
	if err == nil {
		h.log.Info("dashboard sign-in", slog.String("user_id", sess.User.ID), slog.String("team_id", sess.User.TeamID),
			slog.String("ip", ip))
	} else if reason := signInRefusal(err); reason != "" {
		// For operators (fail2ban and the like): never the password, and
		// the email only as typed, for a refused sign-in.
		h.log.Warn("dashboard sign-in refused", slog.String("reason", reason), slog.String("email", email), slog.String("ip", ip))
	}
	switch {
	case err == nil:
		h.startSession(w, r, sess)
		http.Redirect(w, r, safeNext(next), http.StatusSeeOther)
		return nil
	case errors.Is(err, account.ErrBadCredentials):
		msg = "The email or the password is wrong."
	case errors.Is(err, account.ErrLocked):
		msg = fmt.Sprintf("This account is locked for %d minutes after too many failed sign-ins. Try again later, or ask an admin for a new set-password link.",
			int(account.LockFor.Minutes()))
		status = http.StatusForbidden
	case errors.Is(err, account.ErrThrottled):
		msg = "Too many sign-in attempts from your address. Wait a minute and try again."
		status = http.StatusTooManyRequests
	default:
		return err
	}
	return h.render(w, r, s, status, "signin", "Sign in", "", signInData{Email: email, Next: next, Error: msg})
}

// startSession sets the session cookie and drops the pre-session one.
func (h *Handler) startSession(w http.ResponseWriter, r *http.Request, sess *account.Session) {
	h.setCookie(w, r, sessionCookie, sess.Token, account.SessionMax)
	h.clearCookie(w, r, preCookie)
}

type setPasswordData struct {
	Token     string
	MinLength int
	Error     string
}

func (h *Handler) setPasswordPage(w http.ResponseWriter, r *http.Request, s *request) error {
	token := r.URL.Query().Get("token")
	data := setPasswordData{Token: token, MinLength: account.MinPasswordLength}
	if _, err := account.ParseToken(token); err != nil {
		data.Error = "This link is not valid. Ask an admin for a new one."
		return h.render(w, r, s, http.StatusBadRequest, "setpassword", "Set your password", "", data)
	}
	// The token stays out of the Referer of anything the page loads.
	w.Header().Set("Referrer-Policy", "no-referrer")
	return h.render(w, r, s, http.StatusOK, "setpassword", "Set your password", "", data)
}

func (h *Handler) setPassword(w http.ResponseWriter, r *http.Request, s *request) error {
	token, password := r.PostFormValue("token"), r.PostFormValue("password")
	data := setPasswordData{Token: token, MinLength: account.MinPasswordLength}
	if password != r.PostFormValue("confirm") {
		data.Error = "The two passwords differ."
		return h.render(w, r, s, http.StatusBadRequest, "setpassword", "Set your password", "", data)
	}
	sess, err := h.cfg.Accounts.SetPassword(r.Context(), token, password)
	switch {
	case err == nil:
		h.startSession(w, r, sess)
		http.Redirect(w, r, Prefix+"emails", http.StatusSeeOther)
		return nil
	case errors.Is(err, account.ErrPasswordTooShort), errors.Is(err, account.ErrPasswordTooLong):
		data.Error = strings.TrimPrefix(err.Error(), "account: ")
		data.Error = strings.ToUpper(data.Error[:1]) + data.Error[1:] + "."
	case errors.Is(err, account.ErrTokenInvalid):
		data.Error = "This link is not valid any more: it was used, or it expired. Ask an admin for a new one."
	default:
		return err
	}
	return h.render(w, r, s, http.StatusBadRequest, "setpassword", "Set your password", "", data)
}

func (h *Handler) signOut(w http.ResponseWriter, r *http.Request, s *request) error {
	if c, err := r.Cookie(sessionCookie); err == nil {
		if err := h.cfg.Accounts.SignOut(r.Context(), c.Value); err != nil {
			return err
		}
	}
	h.clearCookie(w, r, sessionCookie)
	http.Redirect(w, r, Prefix+"sign-in", http.StatusSeeOther)
	return nil
}

type settingsData struct {
	Members []*store.User
	// NewMember and Link are shown once, after an admin adds someone.
	NewMember *store.User
	Link      string
	Error     string
	// RateLimitError and RateLimitSaved answer the rate limit form.
	RateLimitError string
	RateLimitSaved bool
}

func (h *Handler) settings(w http.ResponseWriter, r *http.Request, s *request) error {
	return h.settingsPage(w, r, s, http.StatusOK, settingsData{})
}

func (h *Handler) settingsPage(w http.ResponseWriter, r *http.Request, s *request, status int, data settingsData) error {
	members, err := h.cfg.Store.ListUsers(r.Context(), s.user.TeamID)
	if err != nil {
		return fmt.Errorf("list members: %w", err)
	}
	data.Members = members
	return h.render(w, r, s, status, "settings", "Settings", "Settings", data)
}

func (h *Handler) signOutEverywhere(w http.ResponseWriter, r *http.Request, s *request) error {
	if err := h.cfg.Accounts.SignOutEverywhere(r.Context(), s.user.TeamID, s.user.ID); err != nil {
		return err
	}
	h.clearCookie(w, r, sessionCookie)
	http.Redirect(w, r, Prefix+"sign-in", http.StatusSeeOther)
	return nil
}

// addMember is admin-only: it adds a person to the team and shows their
// set-password link once.
func (h *Handler) addMember(w http.ResponseWriter, r *http.Request, s *request) error {
	email, role := strings.TrimSpace(r.PostFormValue("email")), r.PostFormValue("role")
	u, token, err := h.cfg.Accounts.CreateUser(r.Context(), s.user.TeamID, email, role)
	switch {
	case err == nil:
		s.note(slog.String("member_id", u.ID), slog.String("role", u.Role))
		return h.settingsPage(w, r, s, http.StatusOK, settingsData{NewMember: u, Link: h.setPasswordLink(r, token)})
	case errors.Is(err, account.ErrInvalidEmail):
		return h.settingsPage(w, r, s, http.StatusBadRequest, settingsData{Error: "That is not an email address."})
	case errors.Is(err, account.ErrInvalidRole):
		return h.settingsPage(w, r, s, http.StatusBadRequest, settingsData{Error: "The role must be admin or viewer."})
	case errors.Is(err, store.ErrConflict):
		return h.settingsPage(w, r, s, http.StatusConflict, settingsData{Error: "The team has a member with that email already."})
	}
	return err
}

// setPasswordLink is the set-password page of token, on the public URL, or
// else where this request came.
func (h *Handler) setPasswordLink(r *http.Request, token string) string {
	base := strings.TrimSuffix(h.cfg.PublicURL, "/")
	if base == "" {
		scheme := "http"
		if r.TLS != nil {
			scheme = "https"
		}
		base = scheme + "://" + r.Host
	}
	return base + Prefix + "set-password?token=" + url.QueryEscape(token)
}

// signInRefusal names a refused sign-in for the log ("" for a failure of
// the server, which is logged as such).
func signInRefusal(err error) string {
	switch {
	case errors.Is(err, account.ErrBadCredentials):
		return "wrong email or password"
	case errors.Is(err, account.ErrLocked):
		return "account locked"
	case errors.Is(err, account.ErrThrottled):
		return "too many attempts from the address"
	}
	return ""
}
