package dashboard

import (
	"bytes"
	"encoding/json"
	"net/http"

	"github.com/godwit/godwit/internal/requestlog"
	"github.com/godwit/godwit/internal/store"
)

// The Logs section: the team's API request log (what GET /logs serves),
// newest first, and each request with its bodies as the API shows them
// (masked when stored, pretty-printed here, and always escaped text).

const logsPerPage = 50

type logsData struct {
	Logs []*store.RequestLog
	pager
}

// logs lists the team's API requests, a page at a time (one query).
func (h *Handler) logs(w http.ResponseWriter, r *http.Request, s *request) error {
	list, pg, err := listPage(r, logsPerPage, "request logs", "logs", func(p store.Page) ([]*store.RequestLog, bool, error) {
		return h.cfg.Store.ListRequestLogs(r.Context(), s.user.TeamID, p)
	}, func(l *store.RequestLog) string { return l.ID })
	if err != nil {
		return err
	}
	data := logsData{Logs: list, pager: pg}
	return h.render(w, r, s, http.StatusOK, "logs", "Logs", "Logs", data)
}

type logData struct {
	Log                       *store.RequestLog
	RequestBody, ResponseBody string
	DurationMS                float64
}

// requestLog is one request's page.
func (h *Handler) requestLog(w http.ResponseWriter, r *http.Request, s *request) error {
	l, err := h.cfg.Store.GetRequestLog(r.Context(), s.user.TeamID, r.PathValue("id"))
	if err != nil {
		return err // ErrNotFound: the 404 page, for another team's log too
	}
	data := logData{Log: l, RequestBody: storedBody(l.RequestBody), ResponseBody: storedBody(l.ResponseBody),
		DurationMS: float64(l.Duration.Microseconds()) / 1000}
	return h.render(w, r, s, http.StatusOK, "log", l.Method+" "+l.Endpoint, "Logs", data)
}

// storedBody is a logged body as the API shows it (requestlog.Readable:
// nothing unless it is one JSON value), pretty-printed.
func storedBody(b []byte) string {
	return prettyJSON(requestlog.Readable(b))
}

// prettyJSON indents a JSON value for reading ("" for none; the text as it
// is when it is not JSON). The template escapes it.
func prettyJSON(raw json.RawMessage) string {
	if len(raw) == 0 || string(raw) == "null" {
		return ""
	}
	var buf bytes.Buffer
	if err := json.Indent(&buf, raw, "", "  "); err != nil {
		return string(raw)
	}
	return buf.String()
}
