package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/godwit/godwit/internal/apierr"
	"github.com/godwit/godwit/internal/store"
)

// writeJSON writes v with the given status. Every success goes through here.
func writeJSON(w http.ResponseWriter, status int, v any) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false) // "<id@domain>" as Resend writes it, not "\u003cid@domain\u003e"
	if err := enc.Encode(v); err != nil {
		apierr.Write(w, apierr.Internal)
		return
	}
	writeRawJSON(w, status, bytes.TrimSuffix(b.Bytes(), []byte("\n")))
}

func writeRawJSON(w http.ResponseWriter, status int, body []byte) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// writeError answers err in Resend's envelope and logs the cause of a 500.
func (h *Handler) writeError(w http.ResponseWriter, r *http.Request, err error) {
	switch {
	case errors.Is(err, store.ErrClosed):
		err = errUnavailable
	case store.IsNoSpace(err):
		h.Logger.ErrorContext(r.Context(), "request failed: the database's disk is full", slog.String("error", err.Error()),
			slog.String("request_id", requestID(r.Context())))
		apierr.Write(w, apierr.StorageFull)
		return
	}
	e := apiError(err)
	if e.StatusCode >= 500 {
		h.Logger.ErrorContext(r.Context(), "request failed", slog.String("error", err.Error()),
			slog.String("request_id", requestID(r.Context())))
	}
	apierr.Write(w, e)
}

var errUnavailable = apierr.New(http.StatusServiceUnavailable, apierr.NameServiceUnavailable, "API is temporarily unavailable")

// formatTime renders a resource timestamp as Resend does: PostgreSQL's text
// form, "2023-04-03 22:13:42.674981+00".
func formatTime(t time.Time) string {
	return t.UTC().Format("2006-01-02 15:04:05.999999") + "+00"
}

func formatTimePtr(t *time.Time) *string {
	if t == nil {
		return nil
	}
	s := formatTime(*t)
	return &s
}
