package api

import (
	"net/http"
	"strings"
)

// Pages and redirects served to people rather than API clients (the
// unsubscribe page, the open pixel, click redirects) may not be framed and
// load nothing but their own inline style: a token in their URL acts on
// someone's behalf, so no other site may embed them.
const publicCSP = "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'; form-action 'self'; " +
	"frame-ancestors 'none'; base-uri 'none'"

// publicPage sets the headers of a page people open; every answer of the
// route carries them, errors included.
func publicPage(fn apiFunc) apiFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		hdr := w.Header()
		hdr.Set("Content-Security-Policy", publicCSP)
		hdr.Set("X-Frame-Options", "DENY")
		hdr.Set("X-Content-Type-Options", "nosniff")
		hdr.Set("Referrer-Policy", "no-referrer")
		return fn(w, r)
	}
}

// redacted replaces a token in a logged path.
const redacted = "REDACTED"

// logPath is a request path as the access log shows it: the signed tokens of
// the tracking and unsubscribe routes (GET /t/o/{token}, /t/c/{token},
// /unsubscribe/{token}) are replaced, because each one is a capability (it
// records an open or click, or unsubscribes a contact). Whatever follows
// such a prefix is replaced, wherever it appears in the path.
func logPath(p string) string {
	segs := strings.Split(p, "/")
	for i := 0; i < len(segs); i++ {
		switch {
		case (segs[i] == "unsubscribe" || segs[i] == "share" || segs[i] == "download") && i+1 < len(segs):
			return redactFrom(segs, i+1)
		case segs[i] == "t" && i+2 < len(segs) && (segs[i+1] == "o" || segs[i+1] == "c"):
			return redactFrom(segs, i+2)
		}
	}
	return p
}

func redactFrom(segs []string, i int) string {
	return strings.Join(append(segs[:i:i], redacted), "/")
}
