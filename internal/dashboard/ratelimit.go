package dashboard

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
)

// The team's rate limit on the Settings page: every member sees it, an
// admin changes it with the same store call as `godwit teams
// set-rate-limit`.

// rateLimitStore is what the rate limit form writes (part of Store).
type rateLimitStore interface {
	SetTeamRateLimit(ctx context.Context, teamID string, perSecond int) error
}

// maxRateLimit bounds the form's value (a million requests a second is
// far above what one server answers).
const maxRateLimit = 1_000_000

// parseRateLimit reads the form's requests per second: a whole number from
// 0 (the server's default) to maxRateLimit; ok false with the form's
// message otherwise.
func parseRateLimit(s string) (n int, msg string) {
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil || n < 0 || n > maxRateLimit {
		return 0, fmt.Sprintf("The rate limit is a whole number of requests per second, from 0 (the server's default) to %d.", maxRateLimit)
	}
	return n, ""
}

// setRateLimit changes the team's rate limit (admin).
func (h *Handler) setRateLimit(w http.ResponseWriter, r *http.Request, s *request) error {
	n, msg := parseRateLimit(r.PostFormValue("rate_limit"))
	if msg != "" {
		return h.settingsPage(w, r, s, http.StatusBadRequest, settingsData{RateLimitError: msg})
	}
	if err := h.cfg.Store.SetTeamRateLimit(r.Context(), s.user.TeamID, n); err != nil {
		return fmt.Errorf("set rate limit: %w", err)
	}
	s.team.RateLimit = n
	s.note(slog.Int("rate_limit", n))
	return h.settingsPage(w, r, s, http.StatusOK, settingsData{RateLimitSaved: true})
}
