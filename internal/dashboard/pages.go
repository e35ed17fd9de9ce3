package dashboard

import (
	"bytes"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"net/url"
	"path"
	"strings"
	"time"

	"github.com/godwit/godwit/internal/store"
)

// pageTemplate is a page's template set: the layout and the page.
type pageTemplate struct {
	t *template.Template
}

var funcs = template.FuncMap{
	"time": func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05 UTC") },
	"isoTime": func(t time.Time) string {
		return t.UTC().Format(time.RFC3339)
	},
	"join": strings.Join,
	"statusClass": func(s string) string {
		switch s {
		case store.EventDelivered:
			return "ok"
		case store.EventBounced, store.EventFailed, store.EventComplained, store.EventSuppressed, store.EventCanceled:
			return "bad"
		case store.EventDeliveryDelayed:
			return "warn"
		}
		return "neutral"
	},
	"label": func(s string) string { return strings.ReplaceAll(s, "_", " ") },
	"size":  formatSize,
}

// parsePages parses every page with the layout.
func parsePages() (map[string]*pageTemplate, error) {
	names, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		return nil, err
	}
	pages := map[string]*pageTemplate{}
	for _, n := range names {
		base := path.Base(n)
		if base == "layout.html" {
			continue
		}
		t, err := template.New(base).Funcs(funcs).ParseFS(templateFS, "templates/layout.html", n)
		if err != nil {
			return nil, fmt.Errorf("dashboard: parse %s: %w", n, err)
		}
		pages[strings.TrimSuffix(base, ".html")] = &pageTemplate{t: t}
	}
	return pages, nil
}

// view is what the layout reads; Data is the page's own.
type view struct {
	Title   string
	Section string
	User    *store.User
	Team    *store.Team
	CSRF    string
	Nav     []section
	Notice  string
	Data    any
}

// render writes page with status.
func (h *Handler) render(w http.ResponseWriter, r *http.Request, s *request, status int, page, title, section string, data any) error {
	p, ok := h.pages[page]
	if !ok {
		return fmt.Errorf("dashboard: no page %q", page)
	}
	v := view{Title: title, Section: section, Nav: h.nav(), Data: data}
	if s != nil {
		v.User, v.Team = s.user, s.team
		if s.csrfBase != "" {
			v.CSRF = csrfToken(h.cfg.CSRFKey, s.csrfBase)
		}
	}
	var buf bytes.Buffer
	if err := p.t.ExecuteTemplate(&buf, "layout", v); err != nil {
		return fmt.Errorf("dashboard: render %s: %w", page, err)
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "private, no-store")
	w.WriteHeader(status)
	_, _ = buf.WriteTo(w)
	return nil
}

// errorPage writes a page that says what went wrong, with status.
func (h *Handler) errorPage(w http.ResponseWriter, r *http.Request, s *request, status int, msg string) {
	if err := h.render(w, r, s, status, "error", http.StatusText(status), "", msg); err != nil {
		h.log.Error("dashboard error page failed", "error", err.Error())
		http.Error(w, msg, status)
	}
}

// assets serves the embedded stylesheet and script.
func (h *Handler) assets() http.Handler {
	sub, err := fs.Sub(assetFS, "assets")
	if err != nil {
		panic(err) // the directory is embedded
	}
	files := http.StripPrefix(Prefix+"assets/", http.FileServerFS(sub))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=3600")
		files.ServeHTTP(w, r)
	})
}

func urlQueryEscape(s string) string { return url.QueryEscape(s) }

// safeNext is a path to go to after sign-in: only a dashboard path, never
// another site ("//evil.example" or "/\evil").
func safeNext(next string) string {
	if !strings.HasPrefix(next, Prefix) || strings.HasPrefix(next, "//") || strings.ContainsAny(next, "\\\r\n") {
		return Prefix + "emails"
	}
	return next
}
