package inbound

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/mail"
	"strings"
	"sync"
	"unicode/utf8"

	gomessage "github.com/emersion/go-message"
	_ "github.com/emersion/go-message/charset" // charsets beyond UTF-8, ASCII and Latin-1

	"github.com/godwit/godwit/internal/spool"
	"github.com/godwit/godwit/internal/store"
)

// Limits of a received message's MIME structure: deeper or larger trees
// are stored whole (the raw message) with what was read of them.
const (
	MaxParts = 500
	MaxDepth = 20
)

// ErrNotMessage means the bytes have no header section that parses: the
// MX refuses such DATA.
var ErrNotMessage = errors.New("inbound: not an RFC 5322 message")

// Parse reads a received message into what the Receiving API shows of it:
// the addresses (From bare, the others as written, display names decoded),
// the subject, the message's headers in order (values RFC 2047-decoded and
// unfolded), the first text/plain and text/html bodies that are not
// attachments (decoded to UTF-8), and every other leaf part as an
// attachment with its decoded content. It describes what arrived and so
// refuses nothing but a message without a header section: an address that
// does not parse is kept as written, a malformed part as its raw bytes,
// and a tree beyond MaxParts or MaxDepth is cut there (the raw message is
// kept whole anyway). Every string it returns is valid UTF-8 without NUL;
// it never panics (FuzzParse).
func Parse(raw []byte) (*store.ReceivedEmail, error) {
	return parse(raw, &partWalker{})
}

// ParseSpooled is Parse for a large message (raw mapped from a spool
// file): each part's decoded content is read into a spool.Buffer of at
// most max bytes of memory (larger ones go to a file in dir and are
// mapped), so that the message's attachments never add a decoded copy of
// it to the heap. The attachments' Content is valid until release. Its
// result is Parse's (FuzzParseSpooled); its errors are Parse's, and a
// failure to spool a part (a full disk), which is no fault of the
// message's.
func ParseSpooled(raw []byte, dir string, max int) (e *store.ReceivedEmail, release func(), err error) {
	w := &partWalker{spoolDir: dir, spoolMax: max}
	release = func() {
		for _, b := range w.spooled {
			_ = b.Close()
		}
		w.spooled = nil
	}
	e, err = parse(raw, w)
	if err == nil && w.spoolErr != nil {
		err = w.spoolErr
	}
	if err != nil {
		release()
		return nil, func() {}, err
	}
	return e, release, nil
}

func parse(raw []byte, w *partWalker) (*store.ReceivedEmail, error) {
	ent, err := gomessage.Read(bytes.NewReader(raw))
	if err != nil && !gomessage.IsUnknownCharset(err) && !gomessage.IsUnknownEncoding(err) {
		return nil, ErrNotMessage
	}
	h := ent.Header
	e := &store.ReceivedEmail{Raw: raw, Size: int64(len(raw))}
	e.MessageID = clean(strings.TrimSpace(h.Get("Message-Id")))
	e.Subject = decodedText(h.Get("Subject"))
	if from := addresses(h, "From"); len(from) > 0 {
		e.From = bareOf(from[0])
	}
	e.To, e.Cc, e.Bcc, e.ReplyTo = addresses(h, "To"), addresses(h, "Cc"), addresses(h, "Bcc"), addresses(h, "Reply-To")
	for f := h.Fields(); f.Next(); {
		e.Headers = append(e.Headers, store.Header{Name: clean(f.Key()), Value: decodedText(rawValue(f))})
	}
	if w.spoolMax <= 0 {
		w.scratch = scratchBuffers.Get().(*bytes.Buffer)
		defer w.release()
	}
	w.walk(ent, err, 0, false)
	e.Text, e.HTML, e.Attachments = w.text, w.html, w.atts
	return e, nil
}

// rawValue is a field's value as written, unfolded.
func rawValue(f gomessage.HeaderFields) string {
	raw, err := f.Raw()
	if err != nil {
		return f.Value()
	}
	_, v, ok := bytes.Cut(raw, []byte(":"))
	if !ok {
		return f.Value()
	}
	return strings.TrimSpace(unfold.Replace(string(v)))
}

// unfold removes the line breaks of a folded field value.
var unfold = strings.NewReplacer("\r\n", "", "\n", "")

var wordDecoder = mime.WordDecoder{CharsetReader: gomessage.CharsetReader}

// decodedText decodes RFC 2047 encoded-words where it can and makes the
// result clean.
func decodedText(s string) string {
	if d, err := wordDecoder.DecodeHeader(s); err == nil {
		s = d
	}
	return clean(s)
}

// clean makes s valid UTF-8 without NUL or line breaks.
func clean(s string) string {
	if !utf8.ValidString(s) { // ValidString is the fast check; ToValidUTF8 decodes rune by rune
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	if strings.ContainsAny(s, "\x00\r\n") {
		s = breaks.Replace(s)
	}
	return s
}

// breaks removes NULs and turns line breaks into spaces.
var breaks = strings.NewReplacer("\x00", "", "\r", " ", "\n", " ")

// addresses lists a field's addresses as `Name <a@b>` or `a@b`, names
// decoded; a value that does not parse as an address list is kept as
// written, one entry.
func addresses(h gomessage.Header, name string) []string {
	var out []string
	for _, v := range h.Values(name) {
		v = strings.TrimSpace(v)
		if v == "" {
			continue
		}
		list, err := (&mail.AddressParser{WordDecoder: &wordDecoder}).ParseList(v)
		if err != nil {
			out = append(out, decodedText(v))
			continue
		}
		for _, a := range list {
			if a.Name != "" {
				out = append(out, clean(a.Name)+" <"+clean(a.Address)+">")
			} else {
				out = append(out, clean(a.Address))
			}
		}
	}
	return out
}

// bareOf is the address of `Name <a@b>`, or s.
func bareOf(s string) string {
	if i := strings.LastIndexByte(s, '<'); i >= 0 && strings.HasSuffix(s, ">") {
		return s[i+1 : len(s)-1]
	}
	return s
}

// partWalker collects the bodies and attachments of a MIME tree.
type partWalker struct {
	parts      int
	text, html *string
	atts       []*store.ReceivedAttachment
	// With a spoolDir, parts are read into spool.Buffers of spoolMax
	// bytes of memory, kept in spooled until released.
	spoolDir string
	spoolMax int
	spooled  []*spool.Buffer
	spoolErr error // the first part that could not be spooled
	// Without, each part's content as read (scratchBuffers): a body kept
	// is copied out of it once, at its size.
	scratch *bytes.Buffer
}

// scratchBuffers are the walkers' scratch buffers, reused from message to
// message; one grown past maxPooledScratch by a large part is dropped.
var scratchBuffers = sync.Pool{New: func() any { return new(bytes.Buffer) }}

const maxPooledScratch = 1 << 20

func (w *partWalker) release() {
	if w.scratch.Cap() <= maxPooledScratch {
		w.scratch.Reset()
		scratchBuffers.Put(w.scratch)
	}
	w.scratch = nil
}

// read reads a part's decoded content: what could be read of a broken
// encoding. Without a spool it is a view of the scratch buffer, valid
// until the next read (keep copies it).
func (w *partWalker) read(r io.Reader) []byte {
	if w.spoolMax <= 0 {
		w.scratch.Reset()
		_, _ = w.scratch.ReadFrom(r)
		return w.scratch.Bytes()
	}
	b := &spool.Buffer{Dir: w.spoolDir, Max: w.spoolMax}
	w.spooled = append(w.spooled, b)
	_, _ = io.Copy(b, r)
	body, err := b.Bytes()
	if err == nil {
		err = b.Err()
	}
	if err != nil && w.spoolErr == nil {
		w.spoolErr = fmt.Errorf("inbound: spooling a part: %w", err)
	}
	return body
}

// keep is body (read's) as an attachment keeps it.
func (w *partWalker) keep(body []byte) []byte {
	switch {
	case len(body) == 0:
		return []byte{}
	case w.spoolMax > 0:
		return body // the spool buffer's, released with the email
	}
	return bytes.Clone(body)
}

// bodyText is a text body as stored: CRLF line ends as LF, valid UTF-8
// (U+FFFD for what is not), no NUL; one copy of body.
func bodyText(body []byte) string {
	var b strings.Builder
	b.Grow(len(body))
	for {
		i := bytes.Index(body, crlf)
		if i < 0 {
			b.Write(body)
			break
		}
		b.Write(body[:i])
		b.WriteByte('\n')
		body = body[i+2:]
	}
	s := b.String()
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	if strings.IndexByte(s, 0) >= 0 {
		s = strings.ReplaceAll(s, "\x00", "")
	}
	return s
}

var crlf = []byte("\r\n")

func (w *partWalker) walk(ent *gomessage.Entity, entErr error, depth int, inAlternative bool) {
	w.parts++
	if w.parts > MaxParts || depth > MaxDepth {
		return
	}
	mt, params, ctErr := ent.Header.ContentType()
	if ctErr != nil {
		mt, params = "text/plain", map[string]string{} // RFC 2045 §5.2
	}
	if strings.HasPrefix(mt, "multipart/") {
		if mr := ent.MultipartReader(); mr != nil && params["boundary"] != "" {
			for {
				child, err := mr.NextPart()
				if err == io.EOF {
					return
				}
				if err != nil && !gomessage.IsUnknownCharset(err) && !gomessage.IsUnknownEncoding(err) {
					return // the rest of a broken multipart is in the raw message
				}
				w.walk(child, err, depth+1, mt == "multipart/alternative")
			}
		}
		// A multipart without a usable boundary: its body as one part.
	}
	disp, dparams, _ := ent.Header.ContentDisposition()
	filename := dparams["filename"]
	if filename == "" {
		filename = params["name"]
	}
	isAttachment := strings.EqualFold(disp, "attachment") || filename != ""
	body := w.read(ent.Body)
	if !isAttachment && (mt == "text/plain" || mt == "text/html") {
		slot := &w.text
		if mt == "text/html" {
			slot = &w.html
		}
		if *slot == nil {
			s := bodyText(body)
			*slot = &s
			return
		}
		if inAlternative {
			return // a second rendering of the same type
		}
	}
	body = w.keep(body)
	a := &store.ReceivedAttachment{Filename: clean(filename), ContentType: mt, Size: int64(len(body)), Content: body}
	if gomessage.IsUnknownCharset(entErr) || !utf8.Valid(body) || !strings.HasPrefix(mt, "text/") {
		a.ContentType = mt
	} else if params["charset"] != "" {
		a.ContentType = mt + "; charset=utf-8" // go-message decoded it
	}
	a.ContentType = clean(a.ContentType)
	switch {
	case strings.EqualFold(disp, "inline"):
		a.ContentDisposition = "inline"
	case disp != "" || filename != "":
		a.ContentDisposition = "attachment"
	}
	if cid := strings.TrimSpace(ent.Header.Get("Content-Id")); cid != "" {
		a.ContentID = clean(strings.TrimSuffix(strings.TrimPrefix(cid, "<"), ">"))
		if a.ContentDisposition == "" {
			a.ContentDisposition = "inline"
		}
	}
	w.atts = append(w.atts, a)
}
