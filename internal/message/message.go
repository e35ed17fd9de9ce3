// Package message builds the RFC 5322 message Godwit sends for an accepted email.
//
// Headers, transfer encodings and multipart bodies are produced by
// github.com/emersion/go-message; this package only decides the structure:
//
//	text only                 text/plain
//	html only                 multipart/alternative(text/plain derived by HTMLToText, text/html)
//	html + text               multipart/alternative(text/plain, text/html)
//	html + text ""            text/html
//	inline attachments        the text/html part becomes multipart/related(text/html, inline parts…)
//	other attachments         everything above wrapped in multipart/mixed(body, attachments…)
package message

import (
	"bytes"
	"errors"
	"fmt"
	"mime"
	"strings"
	"time"

	gomessage "github.com/emersion/go-message"
	"github.com/emersion/go-message/mail"
	"github.com/emersion/go-message/textproto"

	"github.com/godwit/godwit/internal/store"
)

// Options are the values of a message that do not come from the email itself.
type Options struct {
	Now       time.Time // the Date header (injected; tests pass a fixed time)
	MessageID string    // full value with angle brackets, e.g. "<id@example.com>"; the caller builds it
}

// field is one header field in the order it is written.
type field struct{ k, v string }

// part is one node of the MIME tree: a leaf with a body, or a multipart
// entity with children.
type part struct {
	header   []field
	body     []byte
	children []*part
}

// checkTime and checkMessageID stand in for the values of Options in Check:
// neither can make a header unwritable.
var checkTime = time.Date(2006, 1, 2, 15, 4, 5, 0, time.UTC)

const checkMessageID = "<check@godwit.invalid>"

// Check runs every step of Build that depends on the email's header fields
// (addresses, subject, custom headers, attachment names and content ids)
// without building the body, so that an email is accepted only if Build can
// write it. Attachments need no content yet (those given by path are
// fetched at delivery). Errors are *FieldError, or wrap ErrAttachment, or
// describe a missing From or recipients.
func Check(e *store.Email) error {
	if e == nil {
		return errors.New("message: nil email")
	}
	top, err := topHeader(e, Options{Now: checkTime, MessageID: checkMessageID})
	if err != nil {
		return err
	}
	if _, err := makeHeader(top); err != nil {
		return err
	}
	for i := range e.Attachments {
		a := &e.Attachments[i]
		if _, err := attachmentHeader(a, a.ContentID != ""); err != nil {
			return err
		}
	}
	return nil
}

// Build returns the message bytes (CRLF line endings). Attachments given by Path must have been fetched
// into Content by the caller; Build returns an error for an attachment with no Content.
func Build(e *store.Email, opts Options) ([]byte, error) {
	if e == nil {
		return nil, errors.New("message: nil email")
	}
	top, err := topHeader(e, opts)
	if err != nil {
		return nil, err
	}
	root, err := body(e)
	if err != nil {
		return nil, err
	}
	if err := setBoundaries(root); err != nil {
		return nil, err
	}

	// The message header is followed by the root entity's own fields
	// (Content-Type, Content-Transfer-Encoding).
	h, err := makeHeader(append(top, root.header...))
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	w, err := gomessage.CreateWriter(&buf, h)
	if err != nil {
		return nil, fmt.Errorf("message: %w", err)
	}
	if err := writePart(w, root); err != nil {
		return nil, fmt.Errorf("message: %w", err)
	}
	return buf.Bytes(), nil
}

// topHeader returns the message header fields, in order.
func topHeader(e *store.Email, opts Options) ([]field, error) {
	if strings.TrimSpace(e.From) == "" {
		return nil, errors.New("message: empty From")
	}
	if len(e.To)+len(e.Cc)+len(e.Bcc) == 0 {
		return nil, errors.New("message: no recipients")
	}
	if opts.Now.IsZero() {
		return nil, errors.New("message: Options.Now is zero")
	}
	mid := strings.TrimSpace(opts.MessageID)
	if len(mid) < 3 || mid[0] != '<' || mid[len(mid)-1] != '>' || strings.ContainsAny(mid, " \t") {
		return nil, fmt.Errorf("message: Message-ID %q is not of the form <id@host>", opts.MessageID)
	}
	if err := checkValue("Message-ID", mid); err != nil {
		return nil, err
	}
	if err := checkValue("Subject", e.Subject); err != nil {
		return nil, err
	}

	var mh mail.Header
	for _, l := range []struct {
		name  string
		addrs []string
	}{{"From", []string{e.From}}, {"To", e.To}, {"Cc", e.Cc}, {"Reply-To", e.ReplyTo}} {
		if len(l.addrs) == 0 {
			continue
		}
		list, err := parseAddresses(l.name, l.addrs)
		if err != nil {
			return nil, err
		}
		mh.SetAddressList(l.name, list)
	}
	mh.SetDate(opts.Now)
	mh.SetSubject(e.Subject)

	fs := []field{{"From", mh.Get("From")}}
	for _, k := range []string{"To", "Cc", "Reply-To"} {
		if v := mh.Get(k); v != "" {
			fs = append(fs, field{k, v})
		}
	}
	fs = append(fs,
		field{"Subject", mh.Get("Subject")},
		field{"Date", mh.Get("Date")},
		field{"Message-ID", mid},
		field{"MIME-Version", "1.0"},
	)

	for _, h := range e.Headers {
		if err := CheckHeader(h.Name, h.Value); err != nil {
			return nil, err
		}
		if strings.EqualFold(h.Name, "Reply-To") && len(e.ReplyTo) > 0 {
			return nil, &FieldError{h.Name, "it cannot be given together with the reply_to field"}
		}
		fs = append(fs, field{h.Name, encodeText(h.Value)})
	}
	return fs, nil
}

// encodeText is an unstructured field value as written: RFC 2047 encoded
// words when it is not plain ASCII.
func encodeText(v string) string {
	var th gomessage.Header
	th.SetText("X", v)
	return th.Get("X")
}

func parseAddresses(name string, addrs []string) ([]*mail.Address, error) {
	out := make([]*mail.Address, 0, len(addrs))
	for _, s := range addrs {
		if err := checkValue(name, s); err != nil {
			return nil, err
		}
		a, err := mail.ParseAddress(strings.TrimSpace(s))
		if err != nil {
			return nil, fmt.Errorf("message: %s address %q: %w", name, s, err)
		}
		out = append(out, a)
	}
	return out, nil
}

// checkValue refuses what cannot go in a header field value. The API refuses
// these already; this is defence in depth.
func checkValue(name, v string) error {
	if strings.ContainsAny(v, "\r\n\x00") {
		return fmt.Errorf("message: %s contains CR, LF or NUL", name)
	}
	return nil
}

// body builds the MIME tree of the email's content.
func body(e *store.Email) (*part, error) {
	var inline, attached []*part
	for i := range e.Attachments {
		a := &e.Attachments[i]
		isInline := a.ContentID != "" && e.HTML != nil
		p, err := attachmentPart(a, a.ContentID != "")
		if err != nil {
			return nil, err
		}
		if isInline {
			inline = append(inline, p)
		} else {
			attached = append(attached, p)
		}
	}

	var content *part
	switch {
	case e.HTML == nil:
		text := ""
		if e.Text != nil {
			text = *e.Text
		}
		content = textPart("text/plain", text)
	default:
		htmlNode := textPart("text/html", *e.HTML)
		if len(inline) > 0 {
			htmlNode = multipart("multipart/related", append([]*part{htmlNode}, inline...), map[string]string{"type": "text/html"})
		}
		var text *string
		if e.Text != nil {
			text = e.Text
		} else {
			derived := DerivedText(*e.HTML)
			text = &derived
		}
		if *text == "" {
			content = htmlNode
		} else {
			content = multipart("multipart/alternative", []*part{textPart("text/plain", *text), htmlNode}, nil)
		}
	}
	if len(attached) > 0 {
		content = multipart("multipart/mixed", append([]*part{content}, attached...), nil)
	}
	return content, nil
}

func textPart(mediaType, s string) *part {
	return &part{
		header: []field{
			{"Content-Type", mime.FormatMediaType(mediaType, map[string]string{"charset": "utf-8"})},
			{"Content-Transfer-Encoding", "quoted-printable"},
		},
		body: []byte(s),
	}
}

func multipart(mediaType string, children []*part, params map[string]string) *part {
	p := &part{children: children}
	// The boundary is added by setBoundaries.
	p.header = []field{{"Content-Type", mediaType}}
	if params != nil {
		p.header[0].v = mime.FormatMediaType(mediaType, params)
	}
	return p
}

// setBoundaries gives every multipart entity a boundary now, so that
// go-message keeps its Content-Type field where it is instead of moving it to
// the top of the header.
func setBoundaries(p *part) error {
	if len(p.children) == 0 {
		return nil
	}
	mediaType, params, err := mime.ParseMediaType(p.header[0].v)
	if err != nil {
		return fmt.Errorf("message: %w", err)
	}
	params["boundary"] = textproto.NewMultipartWriter(nil).Boundary()
	p.header[0].v = mime.FormatMediaType(mediaType, params)
	for _, c := range p.children {
		if err := setBoundaries(c); err != nil {
			return err
		}
	}
	return nil
}

// attachmentPart returns the part of an attachment: inline (with a
// Content-ID) or a plain attachment, always base64.
func attachmentPart(a *store.Attachment, inline bool) (*part, error) {
	if a.Content == nil {
		return nil, fmt.Errorf("%w: %q has no content (fetch its path first)", ErrAttachment, a.Filename)
	}
	fs, err := attachmentHeader(a, inline)
	if err != nil {
		return nil, err
	}
	return &part{header: fs, body: a.Content}, nil
}

// ErrAttachment marks an attachment whose part cannot be written.
var ErrAttachment = errors.New("message: attachment")

// attachmentHeader returns the fields of an attachment's part.
func attachmentHeader(a *store.Attachment, inline bool) ([]field, error) {
	for _, v := range []string{a.Filename, a.ContentType, a.ContentID} {
		if hasBreak(v) {
			return nil, fmt.Errorf("%w: a field contains a line break (CR or LF) or NUL", ErrAttachment)
		}
	}

	ct := attachmentType(a.ContentType)
	disposition := "attachment"
	if inline {
		disposition = "inline"
	}
	var dispParams map[string]string
	if a.Filename != "" {
		// mime.FormatMediaType applies RFC 2231 to non-ASCII values.
		dispParams = map[string]string{"filename": a.Filename}
		if mt, params, err := mime.ParseMediaType(ct); err == nil {
			params["name"] = a.Filename
			if withName := mime.FormatMediaType(mt, params); withName != "" {
				ct = withName
			}
		}
	}
	disp := mime.FormatMediaType(disposition, dispParams)
	if disp == "" {
		return nil, fmt.Errorf("%w: the filename %q cannot be encoded", ErrAttachment, a.Filename)
	}

	fs := []field{{"Content-Type", ct}, {"Content-Transfer-Encoding", "base64"}}
	if inline {
		id := strings.TrimSuffix(strings.TrimPrefix(strings.TrimSpace(a.ContentID), "<"), ">")
		if id == "" || strings.ContainsAny(id, " \t<>") {
			return nil, fmt.Errorf("%w: invalid content id %q", ErrAttachment, a.ContentID)
		}
		fs = append(fs, field{"Content-ID", "<" + id + ">"})
	}
	fs = append(fs, field{"Content-Disposition", disp})
	// The fields must be writable: a filename too long for a header line
	// is refused here, not cut.
	for _, f := range fs {
		if _, err := foldField(f.k, f.v); err != nil {
			return nil, fmt.Errorf("%w: the filename is too long for its header field", ErrAttachment)
		}
	}
	return fs, nil
}

// attachmentType normalises an attachment's content type: the default is
// application/octet-stream; multipart types (which would change the
// structure) and unparsable values fall back to it too. A charset other than
// utf-8 or us-ascii is dropped, because go-message refuses to write it (the
// bytes are sent unchanged, base64-encoded).
func attachmentType(ct string) string {
	const def = "application/octet-stream"
	ct = strings.TrimSpace(ct)
	if ct == "" {
		return def
	}
	mt, params, err := mime.ParseMediaType(ct)
	if err != nil || strings.HasPrefix(mt, "multipart/") || !strings.Contains(mt, "/") {
		return def
	}
	switch strings.ToLower(params["charset"]) {
	case "", "utf-8", "us-ascii":
	default:
		delete(params, "charset")
	}
	delete(params, "boundary")
	out := mime.FormatMediaType(mt, params)
	if out == "" {
		return def
	}
	return out
}

// makeHeader builds a go-message header with the fields in order. Each field
// is formatted and folded by foldField (not by go-message, whose folding
// panics on long names); the name keeps the spelling given here
// ("Message-ID", not the canonical "Message-Id").
func makeHeader(fields []field) (gomessage.Header, error) {
	var h gomessage.Header
	// go-message writes the most recently added field first.
	for i := len(fields) - 1; i >= 0; i-- {
		f := fields[i]
		raw, err := foldField(f.k, f.v)
		if err != nil {
			return h, err
		}
		h.AddRaw(raw)
	}
	return h, nil
}

// writePart writes p's body (or children) to w and closes w.
func writePart(w *gomessage.Writer, p *part) error {
	if len(p.children) == 0 {
		if _, err := w.Write(p.body); err != nil {
			return err
		}
		return w.Close()
	}
	for _, c := range p.children {
		h, err := makeHeader(c.header)
		if err != nil {
			return err
		}
		cw, err := w.CreatePart(h)
		if err != nil {
			return err
		}
		if err := writePart(cw, c); err != nil {
			return err
		}
	}
	return w.Close()
}
