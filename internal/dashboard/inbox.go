package dashboard

import (
	"bytes"
	"net/http"
	"net/url"
	"time"

	"github.com/godwit/godwit/internal/store"
	"github.com/godwit/godwit/internal/submission"
)

// inboxPerPage is the length of a page of the dev inbox.
const inboxPerPage = 50

type inboxData struct {
	Off      bool // delivery is not capture: there is no inbox
	Messages []*store.CapturedMessage
	pager
}

// inboxOff answers every dev inbox path when delivery is not capture.
func (h *Handler) inboxOff(w http.ResponseWriter, r *http.Request, s *request) error {
	return h.render(w, r, s, http.StatusNotFound, "inbox", "Dev inbox", "Dev inbox", inboxData{Off: true})
}

// inbox lists the messages the capture transport kept, newest first, a
// page at a time (one query a page).
func (h *Handler) inbox(w http.ResponseWriter, r *http.Request, s *request) error {
	if !h.cfg.Capture {
		return h.inboxOff(w, r, s)
	}
	list, pg, err := listPage(r, inboxPerPage, "captured messages", "inbox", func(p store.Page) ([]*store.CapturedMessage, bool, error) {
		return h.cfg.Store.ListCapturedMessages(r.Context(), s.user.TeamID, p)
	}, func(m *store.CapturedMessage) string { return m.EmailID })
	if err != nil {
		return err
	}
	data := inboxData{Messages: list, pager: pg}
	return h.render(w, r, s, http.StatusOK, "inbox", "Dev inbox", "Dev inbox", data)
}

// capturedView is a captured message as a mail client shows it.
type capturedView struct {
	ID       string
	From     string
	To, Cc   []string
	Subject  string
	Date     string
	Headers  string // the header section, as sent
	Text     string
	HasHTML  bool
	Raw      string
	RawCut   bool // Raw is the first maxRawShown bytes only
	Size     int
	FrameURL string
	RawURL   string
	// Unreadable is set when the body could not be parsed (the raw source
	// still shows).
	Unreadable bool
}

// maxRawShown is how much of a message's source its page shows (the
// download has all of it).
const maxRawShown = 256 << 10

// splitHeader returns a message's header section (up to the first empty
// line, CRLF or LF) and its body.
func splitHeader(raw []byte) (header, body []byte) {
	for i := 0; i < len(raw); {
		j := bytes.IndexByte(raw[i:], '\n')
		if j < 0 {
			return raw, nil
		}
		line := raw[i : i+j]
		if len(line) == 0 || (len(line) == 1 && line[0] == '\r') {
			return raw[:i], raw[i+j+1:]
		}
		i += j + 1
	}
	return raw, nil
}

// readCaptured parses a captured message the way a submitted one is
// (submission.Convert: the first text and HTML leaves, decoded).
func readCaptured(id string, raw []byte) capturedView {
	header, _ := splitHeader(raw)
	shown := raw
	if len(shown) > maxRawShown {
		shown = shown[:maxRawShown]
	}
	v := capturedView{ID: id, Headers: string(bytes.ReplaceAll(header, []byte("\r\n"), []byte("\n"))), Raw: string(shown),
		RawCut: len(shown) < len(raw), Size: len(raw), FrameURL: Prefix + "inbox/" + url.PathEscape(id) + "/body.html",
		RawURL: Prefix + "inbox/" + url.PathEscape(id) + "/raw.eml"}
	e, _, err := submission.Convert(raw, submission.Envelope{}, time.Now())
	if err != nil {
		v.Unreadable = true
		return v
	}
	v.From, v.To, v.Cc, v.Subject = e.From, e.To, e.Cc, e.Subject
	if e.Text != nil {
		v.Text = *e.Text
	}
	v.HasHTML = e.HTML != nil && *e.HTML != ""
	return v
}

// inboxMessage is a captured message's page: its envelope fields, its
// HTML in the sandboxed frame, its text, headers and raw source.
func (h *Handler) inboxMessage(w http.ResponseWriter, r *http.Request, s *request) error {
	if !h.cfg.Capture {
		return h.inboxOff(w, r, s)
	}
	id := r.PathValue("id")
	raw, err := h.cfg.Store.GetCapturedMessage(r.Context(), s.user.TeamID, id)
	if err != nil {
		return err // ErrNotFound: the 404 page, for another team's message too
	}
	v := readCaptured(id, raw)
	title := v.Subject
	if title == "" {
		title = "(no subject)"
	}
	return h.render(w, r, s, http.StatusOK, "inboxmessage", title, "Dev inbox", v)
}

// inboxHTML serves a captured message's HTML for its page's sandboxed
// frame, under the email frame's policy.
func (h *Handler) inboxHTML(w http.ResponseWriter, r *http.Request, s *request) error {
	if !h.cfg.Capture {
		return errNotFound
	}
	raw, err := h.cfg.Store.GetCapturedMessage(r.Context(), s.user.TeamID, r.PathValue("id"))
	if err != nil {
		return err
	}
	var body string
	if e, _, err := submission.Convert(raw, submission.Envelope{}, time.Now()); err == nil && e.HTML != nil {
		body = *e.HTML
	}
	writeFrame(w, body)
	return nil
}

// inboxRaw downloads a captured message as an .eml file.
func (h *Handler) inboxRaw(w http.ResponseWriter, r *http.Request, s *request) error {
	if !h.cfg.Capture {
		return errNotFound
	}
	id := r.PathValue("id")
	raw, err := h.cfg.Store.GetCapturedMessage(r.Context(), s.user.TeamID, id)
	if err != nil {
		return err
	}
	hdr := w.Header()
	hdr.Set("Content-Type", "message/rfc822")
	hdr.Set("Content-Disposition", `attachment; filename="`+safeFilename(id)+`.eml"`)
	hdr.Set("Cache-Control", "private, no-store")
	_, _ = w.Write(raw)
	return nil
}

// safeFilename keeps the letters, digits and '-' of an id for a file name.
func safeFilename(id string) string {
	b := make([]byte, 0, len(id))
	for i := 0; i < len(id) && len(b) < 64; i++ {
		c := id[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' {
			b = append(b, c)
		}
	}
	if len(b) == 0 {
		return "message"
	}
	return string(b)
}
