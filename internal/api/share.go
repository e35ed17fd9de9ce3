package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/godwit/godwit/internal/apierr"
	"github.com/godwit/godwit/internal/message"
	"github.com/godwit/godwit/internal/store"
	"github.com/godwit/godwit/internal/tracking"
)

// Share links (POST /emails/{id}/share): a signed, expiring URL under
// --public-url (GET /share/{token}, no key) that shows the email read-only.
// The token (tracking.Share) carries the team, the email and the expiry;
// nothing is stored, so a link is revoked only by its expiry (or by
// rotating the server key, which revokes every link).
//
// The page shows the headers, the HTML body in a sandboxed iframe (srcdoc,
// no allow-scripts, no allow-same-origin) under a policy that lets nothing
// load but inline styles and data: images (remote images would tell their
// host who opened the link and when; the email's own inline images are
// written in as data: URIs), the text body when there is no HTML, and the
// attachments with download links.

const (
	// maxShareTTL is Resend's bound on expires_in, and its default.
	maxShareTTL = tracking.MaxShareTTL

	// shareCSP governs the page and, inherited, the email in its frame.
	shareCSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-src 'none'; " +
		"form-action 'none'; frame-ancestors 'none'; base-uri 'none'"
)

var errShareNoPublicURL = apierr.Validation("This server has no public URL to build share links with: start it with --public-url.")

type shareResponse struct {
	Object string `json:"object"`
	ID     string `json:"id"`
	URL    string `json:"url"`
}

func (h *Handler) shareEmail(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	body, err := h.readBody(w, r)
	if err != nil {
		return err
	}
	ttl := maxShareTTL
	if len(bytes.TrimSpace(body)) > 0 {
		var req struct {
			ExpiresIn *string `json:"expires_in"`
		}
		if err := json.Unmarshal(body, &req); err != nil {
			var typeErr *json.UnmarshalTypeError
			if errors.As(err, &typeErr) && typeErr.Field != "" {
				return apierr.Validation("The `%s` field must be a %s.", typeErr.Field, jsonKind(typeErr.Type.Kind().String()))
			}
			return apierr.BadRequest("Invalid JSON body: expected a JSON object.")
		}
		if req.ExpiresIn != nil {
			if ttl, err = parseExpiresIn(*req.ExpiresIn); err != nil {
				return err
			}
		}
	}
	teamID := callerKey(r.Context()).TeamID
	if _, err := h.Store.GetEmail(r.Context(), teamID, id); errors.Is(err, store.ErrNotFound) {
		return errEmailNotFound
	} else if err != nil {
		return fmt.Errorf("get email: %w", err)
	}
	if h.PublicURL == "" || h.Tracking == nil {
		return errShareNoPublicURL
	}
	link, _ := h.Tracking.ShareLink(h.PublicURL, teamID, id, h.Now(), ttl)
	writeJSON(w, http.StatusOK, shareResponse{Object: "email", ID: id, URL: link})
	return nil
}

// parseExpiresIn reads expires_in: a number and a unit ("10m", "2 hours",
// "1 day", "90 seconds"), or a Go duration ("1h30m"); more than 0 and at
// most 48 hours.
func parseExpiresIn(s string) (time.Duration, error) {
	bad := apierr.Validation("The `expires_in` field must be a duration like `10m`, `2 hours` or `1 day`, at most 48 hours.")
	t := strings.TrimSpace(s)
	if len(t) > 64 {
		return 0, bad
	}
	d, err := time.ParseDuration(t)
	if err != nil {
		i := strings.IndexFunc(t, func(r rune) bool { return r != '.' && !unicode.IsDigit(r) })
		if i <= 0 {
			return 0, bad
		}
		n, err := strconv.ParseFloat(t[:i], 64)
		if err != nil {
			return 0, bad
		}
		var unit time.Duration
		switch strings.ToLower(strings.TrimSpace(t[i:])) {
		case "s", "sec", "secs", "second", "seconds":
			unit = time.Second
		case "m", "min", "mins", "minute", "minutes":
			unit = time.Minute
		case "h", "hr", "hrs", "hour", "hours":
			unit = time.Hour
		case "d", "day", "days":
			unit = 24 * time.Hour
		default:
			return 0, bad
		}
		if n > float64(maxShareTTL/unit) {
			return 0, bad
		}
		d = time.Duration(n * float64(unit))
	}
	if d <= 0 || d > maxShareTTL {
		return 0, bad
	}
	return d, nil
}

// sharedEmail renders a shared email read-only.
func (h *Handler) sharedEmail(w http.ResponseWriter, r *http.Request) error {
	hdr := w.Header()
	hdr.Set("Content-Security-Policy", shareCSP)
	hdr.Set("X-Frame-Options", "DENY")
	hdr.Set("X-Content-Type-Options", "nosniff")
	hdr.Set("Referrer-Policy", "no-referrer")
	hdr.Set("X-Robots-Tag", "noindex, nofollow")
	if h.Tracking == nil {
		writeSharePage(w, http.StatusNotFound, "Not found", notFoundShare)
		return nil
	}
	sh, err := h.Tracking.ParseShare(r.PathValue("token"))
	if err != nil {
		writeSharePage(w, http.StatusNotFound, "Not found", notFoundShare)
		return nil
	}
	now := h.Now().UTC()
	if !now.Before(sh.Expires) {
		writeSharePage(w, http.StatusGone, "Link expired", `<p class="note">This share link has expired. Ask whoever sent it for a new one.</p>`)
		return nil
	}
	ctx := r.Context()
	e, err := h.Store.GetEmail(ctx, sh.TeamID, sh.EmailID)
	if errors.Is(err, store.ErrNotFound) {
		writeSharePage(w, http.StatusNotFound, "Not found", notFoundShare)
		return nil
	}
	if err != nil {
		return fmt.Errorf("get email: %w", err)
	}
	atts, err := h.Store.ListEmailAttachments(ctx, sh.TeamID, sh.EmailID)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("list attachments: %w", err)
	}

	var b strings.Builder
	b.WriteString(`<dl>`)
	field := func(name string, vals ...string) {
		if len(vals) == 0 || (len(vals) == 1 && vals[0] == "") {
			return
		}
		fmt.Fprintf(&b, `<dt>%s</dt><dd>%s</dd>`, name, html.EscapeString(strings.Join(vals, ", ")))
	}
	field("From", e.From)
	field("To", e.To...)
	field("Cc", e.Cc...)
	field("Reply-To", e.ReplyTo...)
	field("Subject", e.Subject)
	field("Date", e.CreatedAt.UTC().Format(time.RFC1123Z))
	b.WriteString(`</dl>`)
	switch {
	case e.HTML != nil && *e.HTML != "":
		body, err := message.InlineImages(*e.HTML, atts, func(index int) (*store.Attachment, error) {
			return h.Store.GetEmailAttachment(r.Context(), sh.TeamID, e.ID, index)
		})
		if err != nil {
			return err
		}
		// srcdoc is an attribute: its value is the HTML, escaped once.
		fmt.Fprintf(&b, `<iframe id="body" title="Email body" sandbox="allow-popups allow-popups-to-escape-sandbox" referrerpolicy="no-referrer" srcdoc="%s"></iframe>`,
			html.EscapeString(body))
	case e.Text != nil && *e.Text != "":
		fmt.Fprintf(&b, `<pre id="body">%s</pre>`, html.EscapeString(*e.Text))
	default:
		b.WriteString(`<p class="note" id="body">This email has no body.</p>`)
	}
	if len(atts) > 0 {
		// Download links live as long as the share, at most downloadTTL
		// from when the page is opened.
		exp := now.Add(downloadTTL)
		if sh.Expires.Before(exp) {
			exp = sh.Expires
		}
		b.WriteString(`<h2>Attachments</h2><ul id="attachments">`)
		for _, a := range atts {
			name := a.Filename
			if name == "" {
				name = "attachment " + strconv.Itoa(a.Index+1)
			}
			tok := h.Tracking.DownloadToken(tracking.Download{EmailID: e.ID, TeamID: sh.TeamID, Index: a.Index, Expires: exp})
			size := ""
			if a.Size > 0 {
				size = " (" + formatLimit(a.Size) + ")"
			}
			fmt.Fprintf(&b, `<li><a href="%s/download/%s" download>%s</a>%s</li>`, html.EscapeString(h.baseURL(r)), tok, html.EscapeString(name), size)
		}
		b.WriteString(`</ul>`)
	}
	fmt.Fprintf(&b, `<p class="note">Shared read-only; this link expires %s.</p>`, sh.Expires.Format(time.RFC1123Z))
	writeSharePage(w, http.StatusOK, e.Subject, b.String())
	return nil
}

const notFoundShare = `<p class="note">This share link is not valid, or the email is gone.</p>`

// writeSharePage writes a page of the share route; title is escaped, body
// is HTML.
func writeSharePage(w http.ResponseWriter, status int, title, body string) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "private, no-store")
	w.WriteHeader(status)
	_, _ = fmt.Fprintf(w, sharePage, html.EscapeString(title), html.EscapeString(title), body)
}

const sharePage = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex, nofollow"><title>%s</title>
<style>
body{font:15px/1.5 system-ui,sans-serif;max-width:56rem;margin:1.5rem auto;padding:0 1rem;color:#1b1b1b}
h1{font-size:1.3rem;margin:0 0 .8rem}h2{font-size:1rem;margin:1.2rem 0 .4rem}
dl{display:grid;grid-template-columns:max-content 1fr;gap:.2rem 1rem;margin:0 0 1rem}dt{color:#666}dd{margin:0;overflow-wrap:anywhere}
iframe{width:100%%;height:70vh;border:1px solid #ddd;border-radius:4px;background:#fff}
pre{white-space:pre-wrap;border:1px solid #ddd;border-radius:4px;padding:1rem}
.note{color:#666;font-size:.9rem}
</style></head>
<body><h1>%s</h1>
%s
</body></html>
`
