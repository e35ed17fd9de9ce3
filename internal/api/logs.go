package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/godwit/godwit/internal/apierr"
	"github.com/godwit/godwit/internal/requestlog"
	"github.com/godwit/godwit/internal/store"
)

// The Logs API (GET /logs, GET /logs/{id}) and the middleware that records
// every authenticated request for it. Recording costs a request a copy of
// its (capped) response body and one non-blocking channel send (the
// request body it read is shared, not copied): the writer
// (internal/requestlog) masks and stores them on its own goroutine.

// RequestLogger takes the record of a finished request without blocking
// (requestlog.Writer); false when it had to drop it.
type RequestLogger interface {
	Record(l *store.RequestLog) bool
}

// maxLoggedEndpoint and maxLoggedUserAgent bound what a log keeps of a
// request's path and User-Agent.
const (
	maxLoggedEndpoint  = 1024
	maxLoggedUserAgent = 512
)

// unloggedRoutes are not recorded: reading the log does not add to it, so
// that paging through it does not move it.
var unloggedRoutes = map[string]bool{"GET /logs": true, "GET /logs/{id}": true}

var errLogNotFound = apierr.NotFound("Log not found")

type logSummary struct {
	ID             string  `json:"id"`
	CreatedAt      string  `json:"created_at"`
	Endpoint       string  `json:"endpoint"`
	Method         string  `json:"method"`
	ResponseStatus int     `json:"response_status"`
	UserAgent      *string `json:"user_agent"`
}

type logObject struct {
	Object string `json:"object"`
	logSummary
	RequestBody  any `json:"request_body"`
	ResponseBody any `json:"response_body"`
	// Godwit's own: the request's X-Request-Id and how long it took.
	RequestID  string  `json:"request_id"`
	DurationMS float64 `json:"duration_ms"`
}

func newLogSummary(l *store.RequestLog) logSummary {
	s := logSummary{ID: l.ID, CreatedAt: formatTime(l.CreatedAt), Endpoint: l.Endpoint, Method: l.Method, ResponseStatus: l.Status}
	if l.UserAgent != "" {
		s.UserAgent = &l.UserAgent
	}
	return s
}

func (h *Handler) listLogs(w http.ResponseWriter, r *http.Request) error {
	p, err := parsePage(r)
	if err != nil {
		return err
	}
	list, more, err := h.Store.ListRequestLogs(r.Context(), callerKey(r.Context()).TeamID, p)
	if errors.Is(err, store.ErrNotFound) {
		return errUnknownCursor
	}
	if err != nil {
		return fmt.Errorf("list request logs: %w", err)
	}
	out := listResponse[logSummary]{Object: "list", HasMore: more, Data: make([]logSummary, 0, len(list))}
	for _, l := range list {
		out.Data = append(out.Data, newLogSummary(l))
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (h *Handler) getLog(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	l, err := h.Store.GetRequestLog(r.Context(), callerKey(r.Context()).TeamID, id)
	if errors.Is(err, store.ErrNotFound) {
		return errLogNotFound
	}
	if err != nil {
		return fmt.Errorf("get request log: %w", err)
	}
	obj := logObject{Object: "log", logSummary: newLogSummary(l), RequestID: l.RequestID,
		DurationMS: float64(l.Duration.Microseconds()) / 1000}
	// Bodies with nothing to mask are stored unparsed; one that is not
	// valid JSON is shown as null.
	if b := requestlog.Readable(l.RequestBody); b != nil {
		obj.RequestBody = b
	}
	if b := requestlog.Readable(l.ResponseBody); b != nil {
		obj.ResponseBody = b
	}
	writeJSON(w, http.StatusOK, obj)
	return nil
}

// recordRequest wraps an authenticated request so that, when it is served,
// its record goes to h.RequestLog. It returns the writer and request to
// serve, and the function to call once they are served.
//
// The request body is not copied: readBody, which reads every JSON body,
// leaves the bytes it read in the request's keptBody, and the record takes
// them once the handler is done with them. A body no handler read (a
// refusal before it, a CSV upload) is not recorded.
func (h *Handler) recordRequest(w http.ResponseWriter, r *http.Request, key *store.APIKey) (http.ResponseWriter, *http.Request, func()) {
	if h.RequestLog == nil || unloggedRoutes[r.Pattern] {
		return w, r, func() {}
	}
	start, at := time.Now(), h.Now().UTC()
	kept := &keptBody{}
	r = r.WithContext(context.WithValue(r.Context(), ctxKeptBody, kept))
	rec := &capturingWriter{ResponseWriter: w}
	return rec, r, func() {
		status := rec.status
		if status == 0 {
			status = http.StatusInternalServerError // the handler panicked; the 500 is written outside
		}
		l := &store.RequestLog{ID: store.NewID(), TeamID: key.TeamID, APIKeyID: key.ID, RequestID: requestID(r.Context()),
			Method: r.Method, Endpoint: cut(r.URL.Path, maxLoggedEndpoint), Status: status,
			UserAgent: cut(r.Header.Get("User-Agent"), maxLoggedUserAgent), Duration: time.Since(start), CreatedAt: at,
			RequestBody: kept.body}
		if !rec.over {
			l.ResponseBody = rec.buf
		}
		h.RequestLog.Record(l)
	}
}

// keptBody holds the request body that readBody read, for the request's
// log; nil when it was not read or is over requestlog.MaxCapturedRequest.
type keptBody struct{ body []byte }

// keepBody gives the body read from r to r's log, if r is recorded. The
// handler must not change body afterwards.
func keepBody(r *http.Request, body []byte) {
	if k, ok := r.Context().Value(ctxKeptBody).(*keptBody); ok && len(body) <= requestlog.MaxCapturedRequest {
		k.body = body
	}
}

// cut keeps at most n bytes of s, valid UTF-8.
func cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "")
}

// capturingWriter keeps the status and a copy of the response body, up to
// requestlog.MaxStoredBody bytes; past that it keeps nothing.
type capturingWriter struct {
	http.ResponseWriter
	status int
	buf    []byte
	over   bool
}

func (c *capturingWriter) WriteHeader(code int) {
	if c.status == 0 {
		c.status = code
	}
	c.ResponseWriter.WriteHeader(code)
}

func (c *capturingWriter) Write(b []byte) (int, error) {
	if c.status == 0 {
		c.status = http.StatusOK
	}
	if !c.over {
		if len(c.buf)+len(b) > requestlog.MaxStoredBody {
			c.over, c.buf = true, nil
		} else {
			c.buf = append(c.buf, b...)
		}
	}
	return c.ResponseWriter.Write(b)
}

func (c *capturingWriter) Unwrap() http.ResponseWriter { return c.ResponseWriter }
