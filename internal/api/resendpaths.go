package api

import (
	"net/http"
	"slices"
	"strings"

	"github.com/godwit/godwit/internal/apierr"
)

// resendPaths are the paths of Resend's API (its OpenAPI document,
// testdata/resend-openapi.yaml; TestResendPathsMatchOpenAPI holds the two
// together) with the methods Resend has on each. They keep the route table
// honest where Go's mux cannot: a fixed path such as /emails/batch or
// /emails/metrics must never reach the handler of /emails/{id} (which
// would answer that "batch" is not a UUID), and an operation of Resend's
// that Godwit does not have must say so instead of answering as some other
// route. The table is a fallback only (Handler.fallback): whatever the
// route table serves with the path's own shape is served, so an endpoint
// added to routes.go takes over from its entry here at once.
var resendPaths = []resendPath{
	{"/emails", "GET POST"},
	{"/emails/{email_id}", "GET PATCH"},
	{"/emails/{email_id}/cancel", "POST"},
	{"/emails/{email_id}/share", "POST"},
	{"/emails/batch", "POST"},
	{"/emails/{email_id}/attachments", "GET"},
	{"/emails/{email_id}/attachments/{attachment_id}", "GET"},
	{"/emails/receiving", "GET"},
	{"/emails/receiving/{email_id}", "GET"},
	{"/emails/receiving/{email_id}/attachments", "GET"},
	{"/emails/receiving/{email_id}/attachments/{attachment_id}", "GET"},
	{"/emails/metrics", "GET"},
	{"/domains", "GET POST"},
	{"/domains/{domain_id}", "DELETE GET PATCH"},
	{"/domains/{domain_id}/verify", "POST"},
	{"/domains/claim", "POST"},
	{"/domains/{domain_id}/claim", "GET"},
	{"/domains/{domain_id}/claim/verify", "POST"},
	{"/api-keys", "GET POST"},
	{"/api-keys/{api_key_id}", "DELETE PATCH"},
	{"/oauth/grants", "GET"},
	{"/oauth/grants/{oauth_grant_id}", "DELETE"},
	{"/templates", "GET POST"},
	{"/templates/{id}", "DELETE GET PATCH"},
	{"/templates/{id}/publish", "POST"},
	{"/templates/{id}/duplicate", "POST"},
	{"/audiences", "GET POST"},
	{"/audiences/{id}", "DELETE GET"},
	{"/contacts", "GET POST"},
	{"/contacts/imports", "GET POST"},
	{"/contacts/imports/{id}", "GET"},
	{"/contacts/{id}", "DELETE GET PATCH"},
	{"/broadcasts", "GET POST"},
	{"/broadcasts/{id}", "DELETE GET PATCH"},
	{"/broadcasts/{id}/send", "POST"},
	{"/broadcasts/{id}/cancel", "POST"},
	{"/broadcasts/{id}/recipients", "GET"},
	{"/broadcasts/{id}/clicked-links", "GET"},
	{"/webhooks", "GET POST"},
	{"/webhooks/{webhook_id}", "DELETE GET PATCH"},
	{"/segments", "GET POST"},
	{"/segments/{id}", "DELETE GET"},
	{"/topics", "GET POST"},
	{"/topics/{id}", "DELETE GET PATCH"},
	{"/contact-properties", "GET POST"},
	{"/contact-properties/{id}", "DELETE GET PATCH"},
	{"/contacts/{contact_id}/segments", "GET"},
	{"/contacts/{contact_id}/segments/{segment_id}", "DELETE POST"},
	{"/contacts/{contact_id}/topics", "GET PATCH"},
	{"/logs", "GET"},
	{"/logs/{log_id}", "GET"},
	{"/automations", "GET POST"},
	{"/automations/{automation_id}", "DELETE GET PATCH"},
	{"/automations/{automation_id}/duplicate", "POST"},
	{"/automations/{automation_id}/stop", "POST"},
	{"/automations/{automation_id}/runs", "GET"},
	{"/automations/{automation_id}/runs/{run_id}", "GET"},
	{"/events", "GET POST"},
	{"/events/send", "POST"},
	{"/events/{identifier}", "DELETE GET PATCH"},
	{"/suppressions", "GET POST"},
	{"/suppressions/batch/add", "POST"},
	{"/suppressions/batch/remove", "POST"},
	{"/suppressions/{suppression}", "DELETE GET"},
}

type resendPath struct {
	path    string
	methods string // space-separated, sorted
}

// resendLaterPaths are operations Resend documents beyond its OpenAPI
// document (shared/reference/resend-surface-2026-12.md) whose fixed paths
// would otherwise reach an {id} route; Godwit has none of them yet.
var resendLaterPaths = []resendPath{
	{"/segments/metrics", "GET"},
	{"/broadcasts/metrics", "GET"},
	{"/usage", "GET"},
}

// resendIndex holds resendPaths and resendLaterPaths by segment count,
// split once.
var resendIndex = func() map[int][]resendEntry {
	idx := map[int][]resendEntry{}
	for _, p := range append(slices.Clip(resendPaths), resendLaterPaths...) {
		segs := strings.Split(strings.TrimPrefix(p.path, "/"), "/")
		idx[len(segs)] = append(idx[len(segs)], resendEntry{resendPath: p, segs: segs, norm: normPath(p.path)})
	}
	return idx
}()

type resendEntry struct {
	resendPath
	segs []string
	norm string // the path with its wildcards' names left out (normPath)
}

func isWildcard(seg string) bool { return strings.HasPrefix(seg, "{") && strings.HasSuffix(seg, "}") }

// matchResend returns the most specific of Resend's paths that the request
// path matches (a literal segment beats a wildcard, left to right, as Go's
// mux and Resend's router choose), or nil. It allocates nothing: it runs
// on every request.
func matchResend(path string) *resendEntry {
	p, ok := strings.CutPrefix(path, "/")
	if !ok {
		return nil
	}
	entries := resendIndex[strings.Count(p, "/")+1]
	var best *resendEntry
	for i := range entries {
		e := &entries[i]
		rest, match := p, true
		for _, s := range e.segs {
			var seg string
			seg, rest, _ = strings.Cut(rest, "/")
			if isWildcard(s) {
				match = seg != ""
			} else {
				match = s == seg
			}
			if !match {
				break
			}
		}
		if match && (best == nil || moreSpecific(e.segs, best.segs)) {
			best = e
		}
	}
	return best
}

func moreSpecific(a, b []string) bool {
	for i := range a {
		if wa, wb := isWildcard(a[i]), isWildcard(b[i]); wa != wb {
			return wb
		}
	}
	return false
}

// normPath leaves out the names of a path's wildcards: "/emails/{id}" and
// "/emails/{email_id}" are one path, "/emails/{}".
func normPath(path string) string {
	segs := strings.Split(path, "/")
	for i, s := range segs {
		if isWildcard(s) {
			segs[i] = "{}"
		}
	}
	return strings.Join(segs, "/")
}

// routeShape is a route's method and normalised path (a GET route serves
// HEAD too).
type routeShape struct{ method, path string }

func shapeOf(method, path string) routeShape {
	if method == http.MethodHead {
		method = http.MethodGet
	}
	return routeShape{method, normPath(path)}
}

// routeShapes holds the shapes of the route table's patterns, made as
// routes.go registers them (Handler.handle), so that serves allocates nothing.
type routeShapes map[string]routeShape

func (rs routeShapes) add(pattern string) {
	if method, path, ok := strings.Cut(pattern, " "); ok {
		rs[pattern] = shapeOf(method, path)
	}
}

// resendServedBy names the routes that serve a path of Resend's under
// another shape: GET /contacts/imports/{id} is the less specific
// GET /contacts/{id_or_email}/{id}, and two Receiving routes are
// GET /emails/{id}/{sub}[/{rest}] (routes.go says why).
var resendServedBy = map[routeShape]routeShape{
	{http.MethodGet, "/contacts/imports/{}"}:             {http.MethodGet, "/contacts/{}/{}"},
	{http.MethodGet, "/emails/receiving/{}"}:             {http.MethodGet, "/emails/{}/{}"},
	{http.MethodGet, "/emails/receiving/{}/attachments"}: {http.MethodGet, "/emails/{}/{}/{}"},
}

// serves reports whether the route pattern serves the Resend path e for
// the method.
func (h *Handler) serves(pattern, method string, e *resendEntry) bool {
	got, ok := h.shapes[pattern]
	if !ok {
		return false
	}
	if method == http.MethodHead {
		method = http.MethodGet
	}
	want := routeShape{method, e.norm}
	return got == want || resendServedBy[want] == got
}

// fallbackMethods are the methods a 405's Allow may name.
var fallbackMethods = []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete}

// fallback answers a request for one of Resend's paths that the route
// table does not serve with that path's own shape (pattern is the route
// the mux chose, "" for none): an operation of Resend's that Godwit does
// not have is a 404 saying so; another method is a 405 naming the methods
// the path has. It returns nil when the route table serves the request, or
// when the path is not one of Resend's.
func (h *Handler) fallback(r *http.Request, pattern string) (*apierr.Error, string) {
	e := matchResend(r.URL.Path)
	if e == nil || (pattern != "" && h.serves(pattern, r.Method, e)) {
		return nil, ""
	}
	method := r.Method
	if method == http.MethodHead {
		method = http.MethodGet
	}
	resend := strings.Fields(e.methods)
	if slices.Contains(resend, method) {
		return apierr.NotFound("`" + method + " " + e.path + "` is part of Resend's API but is not available in Godwit."), ""
	}
	allow := slices.Clone(resend)
	for _, m := range fallbackMethods {
		if slices.Contains(allow, m) {
			continue
		}
		probe := r.Clone(r.Context())
		probe.Method = m
		if _, p := h.mux.Handler(probe); p != "" && h.serves(p, m, e) {
			allow = append(allow, m)
		}
	}
	slices.SortFunc(allow, func(a, b string) int {
		return slices.Index(fallbackMethods, a) - slices.Index(fallbackMethods, b)
	})
	return apierr.New(http.StatusMethodNotAllowed, apierr.NameMethodNotAllowed, "Method is not allowed for the requested path."),
		strings.Join(allow, ", ")
}
