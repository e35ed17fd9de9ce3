package api

import (
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
	"time"

	"github.com/godwit/godwit/internal/apierr"
	"github.com/godwit/godwit/internal/requestlog"
	"github.com/godwit/godwit/internal/store"
)

// The Logs API (GET /logs, GET /logs/{id}) and the middleware that records
// every authenticated request for it. Recording costs a request a copy of
// its (capped) bodies and one non-blocking channel send: the writer
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
	if l.RequestBody != nil {
		obj.RequestBody = l.RequestBody
	}
	if l.ResponseBody != nil {
		obj.ResponseBody = l.ResponseBody
	}
	writeJSON(w, http.StatusOK, obj)
	return nil
}

// recordRequest wraps an authenticated request so that, when it is served,
// its record goes to h.RequestLog. It returns the writer and request to
// serve, and the function to call once they are served.
func (h *Handler) recordRequest(w http.ResponseWriter, r *http.Request, key *store.APIKey) (http.ResponseWriter, *http.Request, func()) {
	if h.RequestLog == nil || unloggedRoutes[r.Pattern] {
		return w, r, func() {}
	}
	start, at := time.Now(), h.Now().UTC()
	var body *capturedBody
	if r.Body != nil && r.Body != http.NoBody && jsonLike(r.Header.Get("Content-Type")) {
		body = &capturedBody{ReadCloser: r.Body, max: requestlog.MaxCapturedRequest}
		r.Body = body
	}
	rec := &capturingWriter{ResponseWriter: w}
	return rec, r, func() {
		status := rec.status
		if status == 0 {
			status = http.StatusInternalServerError // the handler panicked; the 500 is written outside
		}
		l := &store.RequestLog{ID: store.NewID(), TeamID: key.TeamID, APIKeyID: key.ID, RequestID: requestID(r.Context()),
			Method: r.Method, Endpoint: cut(r.URL.Path, maxLoggedEndpoint), Status: status,
			UserAgent: cut(r.Header.Get("User-Agent"), maxLoggedUserAgent), Duration: time.Since(start), CreatedAt: at}
		if body != nil && body.eof && !body.over {
			l.RequestBody = body.buf
		}
		if !rec.over {
			l.ResponseBody = rec.buf
		}
		h.RequestLog.Record(l)
	}
}

// jsonLike reports whether a request body of this Content-Type may be
// JSON worth keeping: any but a multipart one (a CSV import's upload),
// which is not read for the log at all. Whether it is JSON is decided by
// the writer.
func jsonLike(contentType string) bool {
	if contentType == "" {
		return true
	}
	mt, _, err := mime.ParseMediaType(contentType)
	return err == nil && !strings.HasPrefix(mt, "multipart/")
}

// cut keeps at most n bytes of s, valid UTF-8.
func cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "")
}

// capturedBody keeps a copy of the request body as the handler reads it,
// up to max bytes; past that it keeps nothing.
type capturedBody struct {
	io.ReadCloser
	max  int
	buf  []byte
	over bool // larger than max: not kept
	eof  bool // read to its end
}

func (c *capturedBody) Read(p []byte) (int, error) {
	n, err := c.ReadCloser.Read(p)
	if n > 0 && !c.over {
		if len(c.buf)+n > c.max {
			c.over, c.buf = true, nil
		} else {
			c.buf = append(c.buf, p[:n]...)
		}
	}
	if err == io.EOF {
		c.eof = true
	}
	return n, err
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
