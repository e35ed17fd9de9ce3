package dashboard

import (
	"log/slog"
	"net/http"
	"strings"
)

// The audit log: every form a person sends (every POST of the dashboard:
// creating or revoking a key, adding, verifying or deleting a domain,
// changing a webhook, a contact, a template, a broadcast, the rate limit,
// the members) is one INFO line "dashboard action", whatever its outcome,
// with
//
//   - route: the route's pattern ("POST /dashboard/api-keys/{id}/revoke"),
//     which names the action and the kind of object;
//   - status: the answer's HTTP status (303 or 200 done; 400, 409 and 422 a
//     form refused; 403 a viewer, a stale form or a foreign site refused;
//     404 not the team's);
//   - user_id, user (the person's email) and team_id, once signed in;
//   - the route's path values (id, msg, segment: the objects acted on);
//   - location: where a 303 sent the browser, the new object's page after
//     a create;
//   - what the handler added with request.note (a new key's id, which the
//     page shows instead of redirecting).
//
// Nothing a person typed is logged: no form values, so no passwords,
// tokens or contents.
const auditMessage = "dashboard action"

// note adds attributes to the request's audit line.
func (s *request) note(attrs ...slog.Attr) { s.audit = append(s.audit, attrs...) }

// statusWriter remembers the status a handler answered with.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// logAction writes the audit line of a form sent to pattern.
func (h *Handler) logAction(r *http.Request, pattern string, s *request, w *statusWriter) {
	status := w.status
	if status == 0 {
		status = http.StatusOK
	}
	attrs := make([]slog.Attr, 0, 10+len(s.audit))
	attrs = append(attrs, slog.String("route", pattern), slog.Int("status", status))
	if s.user != nil {
		attrs = append(attrs, slog.String("user_id", s.user.ID), slog.String("user", s.user.Email),
			slog.String("team_id", s.user.TeamID))
	}
	for _, name := range pathWildcards(pattern) {
		attrs = append(attrs, slog.String(name, r.PathValue(name)))
	}
	if status == http.StatusSeeOther {
		attrs = append(attrs, slog.String("location", w.Header().Get("Location")))
	}
	attrs = append(attrs, s.audit...)
	h.log.LogAttrs(r.Context(), slog.LevelInfo, auditMessage, attrs...)
}

// pathWildcards are the names of pattern's wildcards ({id}, {rest...}), in
// order.
func pathWildcards(pattern string) []string {
	var names []string
	for {
		i := strings.IndexByte(pattern, '{')
		if i < 0 {
			return names
		}
		j := strings.IndexByte(pattern[i:], '}')
		if j < 0 {
			return names
		}
		name := strings.TrimSuffix(pattern[i+1:i+j], "...")
		if name != "$" && name != "" {
			names = append(names, name)
		}
		pattern = pattern[i+j+1:]
	}
}
