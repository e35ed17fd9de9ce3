package submission

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/mail"
	"path"
	"strings"
	"time"
	"unicode/utf8"

	gomessage "github.com/emersion/go-message"
	_ "github.com/emersion/go-message/charset" // charsets other than UTF-8 and US-ASCII
	gomail "github.com/emersion/go-message/mail"

	"github.com/godwit/godwit/internal/message"
	"github.com/godwit/godwit/internal/store"
)

// Limits of the MIME structure.
const (
	// MaxDepth is the deepest nesting of multipart entities accepted (the
	// message itself is depth 0).
	MaxDepth = 10
	// MaxParts is the most MIME entities (multipart containers included)
	// one message may hold.
	MaxParts = 100
	// MaxEmailBytes is the size limit, counted as sendreq counts it
	// (attachments base64-encoded + html + text + subject + header values).
	MaxEmailBytes = message.MaxEmailBytes
	// MaxIdempotencyKey is the longest Resend-Idempotency-Key (as the API's
	// Idempotency-Key).
	MaxIdempotencyKey = 256
)

// IdempotencyHeader carries the idempotency key over SMTP.
const IdempotencyHeader = "Resend-Idempotency-Key"

// Envelope is what the SMTP session learned.
type Envelope struct {
	From       string   // MAIL FROM (used only when the message has no From header)
	Recipients []string // RCPT TO, addr-specs
}

// Error is a refusal of a submitted message. Its text is short, fixed
// (never caller input) and safe to put in an SMTP reply. Compare with
// errors.Is against the Err* values: the errors Convert returns wrap them,
// sometimes with the name of the offending field.
type Error struct{ msg string }

func (e *Error) Error() string { return e.msg }

// Refusals.
var (
	ErrMalformed             = &Error{"message is not valid MIME"}
	ErrMissingFrom           = &Error{"message has no From address"}
	ErrInvalidFrom           = &Error{"From must be one address: email@example.com or Name <email@example.com>"}
	ErrInvalidAddress        = &Error{"invalid address: use email@example.com or Name <email@example.com>"}
	ErrNoRecipients          = &Error{"message has no recipients"}
	ErrTooManyRecipients     = &Error{fmt.Sprintf("too many recipients: at most %d each in To, Cc and Bcc", message.MaxRecipients)}
	ErrHeaderBreak           = &Error{"header value contains CR, LF or NUL"}
	ErrInvalidHeader         = &Error{"invalid header field name"}
	ErrSubjectTooLong        = &Error{fmt.Sprintf("subject longer than %d characters", message.MaxSubjectLen)}
	ErrInvalidAttachment     = &Error{"invalid attachment"}
	ErrTooLarge              = &Error{"message too large: the limit is 40 MB, counting attachments base64-encoded"}
	ErrTooDeep               = &Error{fmt.Sprintf("MIME structure nested deeper than %d levels", MaxDepth)}
	ErrTooManyParts          = &Error{fmt.Sprintf("more than %d MIME parts", MaxParts)}
	ErrInvalidIdempotencyKey = &Error{"Resend-Idempotency-Key must be given once, 1 to 256 characters"}
)

// wrap adds a fixed detail (a field name) to a refusal.
func wrap(base *Error, detail string) error { return fmt.Errorf("%w (%s)", base, detail) }

// droppedHeaders are transport and trace fields of the submitted message:
// they describe its way to Godwit, not the email. Godwit-owned headers
// (message.Owned) and Content-* fields are dropped as well; Reply-To
// becomes ReplyTo and Resend-Idempotency-Key is returned.
var droppedHeaders = []string{
	"Received", "Return-Path", "Delivered-To", "X-Originating-IP",
	"Authentication-Results", "Received-SPF", "ARC-Seal", "ARC-Message-Signature",
	"ARC-Authentication-Results", "X-Google-DKIM-Signature", "Resent-Bcc",
}

func dropped(name string) bool {
	if _, owned := message.Owned(name); owned {
		return true
	}
	for _, d := range droppedHeaders {
		if strings.EqualFold(name, d) {
			return true
		}
	}
	// Content-* fields describe the root MIME entity, which Godwit rebuilds;
	// Content-Language describes the email and is kept.
	lower := strings.ToLower(name)
	return strings.HasPrefix(lower, "content-") && lower != "content-language"
}

// Convert parses a submitted RFC 5322 message (CRLF or LF) into an email as
// POST /emails would have produced it, and the Resend-Idempotency-Key header
// value if present ("" otherwise). ID, TeamID, LastEvent and CreatedAt are
// left empty for the caller, as sendreq.Decode leaves them. now is the time
// of acceptance (sendreq.Options.Now): nothing carried over SMTP depends on
// the clock today, it is there so that the signature stays when something
// does. Every error wraps one of the Err* values.
func Convert(raw []byte, env Envelope, now time.Time) (e *store.Email, idempotencyKey string, err error) {
	_ = now
	ent, err := gomessage.Read(bytes.NewReader(raw))
	if err != nil && !gomessage.IsUnknownCharset(err) && !gomessage.IsUnknownEncoding(err) {
		return nil, "", ErrMalformed
	}
	e = &store.Email{}
	h := ent.Header

	if e.From, err = fromAddress(h, env); err != nil {
		return nil, "", err
	}
	if e.To, err = addressField(h, "To"); err != nil {
		return nil, "", err
	}
	if e.Cc, err = addressField(h, "Cc"); err != nil {
		return nil, "", err
	}
	if e.ReplyTo, err = addressField(h, "Reply-To"); err != nil {
		return nil, "", err
	}
	if e.Bcc, err = envelopeBcc(env.Recipients, e.To, e.Cc); err != nil {
		return nil, "", err
	}
	if len(e.To)+len(e.Cc)+len(e.Bcc) == 0 {
		return nil, "", ErrNoRecipients
	}
	for _, l := range [][]string{e.To, e.Cc, e.Bcc} {
		if len(l) > message.MaxRecipients {
			return nil, "", ErrTooManyRecipients
		}
	}

	if e.Subject, err = headerText(h, "Subject"); err != nil {
		return nil, "", err
	}
	if utf8.RuneCountInString(e.Subject) > message.MaxSubjectLen {
		return nil, "", ErrSubjectTooLong
	}
	if e.Headers, idempotencyKey, err = customHeaders(h); err != nil {
		return nil, "", err
	}

	w := &walker{budget: MaxEmailBytes}
	for _, hd := range e.Headers {
		w.budget -= int64(len(hd.Value))
	}
	w.budget -= int64(len(e.Subject))
	if w.budget < 0 {
		return nil, "", ErrTooLarge
	}
	if err := w.walk(ent, err, 0, roleBody); err != nil {
		return nil, "", err
	}
	e.Text, e.HTML, e.Attachments = w.text, w.html, w.atts
	switch {
	case e.HTML != nil && e.Text != nil && *e.Text == message.HTMLToText(*e.HTML):
		// The text part is the one delivery derives from the HTML (the shape
		// internal/message.Build writes for an html-only email): keep the
		// email html-only, as the API would have it.
		e.Text = nil
	case e.HTML == nil && e.Text == nil:
		// No body at all: an empty text part, not "derive one".
		empty := ""
		e.Text = &empty
	}
	if message.EmailSize(e) > MaxEmailBytes {
		return nil, "", ErrTooLarge
	}
	return e, idempotencyKey, nil
}

// hasBreak reports CR, LF or NUL in s.
func hasBreak(s string) bool { return strings.ContainsAny(s, "\r\n\x00") }

// fieldValues returns the unfolded values of every field named name.
func fieldValues(h gomessage.Header, name string) []string {
	var vs []string
	fs := h.FieldsByKey(name)
	for fs.Next() {
		vs = append(vs, fs.Value())
	}
	return vs
}

// headerText is the RFC 2047-decoded value of the first field named name.
func headerText(h gomessage.Header, name string) (string, error) {
	fs := h.FieldsByKey(name)
	if !fs.Next() {
		return "", nil
	}
	v, _ := fs.Text() // an unknown charset leaves the raw value
	v = strings.ToValidUTF8(strings.TrimSpace(v), "\uFFFD")
	if hasBreak(v) {
		return "", wrap(ErrHeaderBreak, name)
	}
	return v, nil
}

// parseList parses address-list values (RFC 2047 display names decoded;
// group syntax gives its members, an empty group nothing).
func parseList(values []string) ([]*mail.Address, bool) {
	var out []*mail.Address
	for _, v := range values {
		if strings.TrimSpace(v) == "" {
			continue
		}
		l, err := gomail.ParseAddressList(v)
		if err != nil {
			return nil, false
		}
		out = append(out, l...)
	}
	return out, true
}

// formatAddress writes a as the API takes it: the bare addr-spec, or
// `Name <addr>` with the decoded display name, quoted only when it must be.
// It returns "" when no form is valid for the API.
func formatAddress(a *mail.Address) (string, error) {
	name := strings.ToValidUTF8(strings.TrimSpace(a.Name), "\uFFFD")
	if hasBreak(name) || hasBreak(a.Address) {
		return "", ErrHeaderBreak
	}
	if name == "" {
		if message.ValidAddress(a.Address) {
			return a.Address, nil
		}
		return "", nil
	}
	quoted := `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(name) + `"`
	for _, n := range []string{name, quoted} {
		s := n + " <" + a.Address + ">"
		if !message.ValidAddress(s) {
			continue
		}
		if p, err := mail.ParseAddress(s); err == nil && p.Name == name && p.Address == a.Address {
			return s, nil
		}
	}
	return "", nil
}

func fromAddress(h gomessage.Header, env Envelope) (string, error) {
	values := fieldValues(h, "From")
	if len(values) == 0 {
		// RFC 5322 requires From; like a submission MTA, fall back to the
		// envelope sender.
		s := strings.TrimSpace(strings.TrimSuffix(strings.TrimPrefix(strings.TrimSpace(env.From), "<"), ">"))
		if s == "" {
			return "", ErrMissingFrom
		}
		if hasBreak(s) || !message.ValidAddress(s) {
			return "", ErrInvalidFrom
		}
		return s, nil
	}
	if len(values) > 1 {
		return "", ErrInvalidFrom
	}
	l, ok := parseList(values)
	if !ok || len(l) > 1 {
		return "", ErrInvalidFrom
	}
	if len(l) == 0 {
		return "", ErrMissingFrom
	}
	s, err := formatAddress(l[0])
	if err != nil {
		return "", wrap(ErrHeaderBreak, "From")
	}
	if s == "" {
		return "", ErrInvalidFrom
	}
	return s, nil
}

// addressField converts every address of the fields named name.
func addressField(h gomessage.Header, name string) ([]string, error) {
	l, ok := parseList(fieldValues(h, name))
	if !ok {
		return nil, wrap(ErrInvalidAddress, name)
	}
	var out []string
	for _, a := range l {
		s, err := formatAddress(a)
		if err != nil {
			return nil, wrap(ErrHeaderBreak, name)
		}
		if s == "" {
			return nil, wrap(ErrInvalidAddress, name)
		}
		out = append(out, s)
	}
	return out, nil
}

// addrSpec is the addr-spec of an address as formatAddress writes it.
func addrSpec(s string) string {
	if i := strings.LastIndexByte(s, '<'); i >= 0 && strings.HasSuffix(s, ">") {
		return s[i+1 : len(s)-1]
	}
	return s
}

// envelopeBcc returns the envelope recipients that To and Cc do not name
// (addresses compared without regard to case), in envelope order, once each.
func envelopeBcc(rcpts, to, cc []string) ([]string, error) {
	seen := map[string]bool{}
	for _, l := range [][]string{to, cc} {
		for _, s := range l {
			seen[strings.ToLower(addrSpec(s))] = true
		}
	}
	var bcc []string
	for _, r := range rcpts {
		r = strings.TrimSpace(r)
		if len(r) >= 2 && r[0] == '<' && r[len(r)-1] == '>' {
			r = r[1 : len(r)-1]
		}
		if hasBreak(r) || !message.ValidAddress(r) || addrSpec(r) != r {
			return nil, wrap(ErrInvalidAddress, "envelope recipient")
		}
		k := strings.ToLower(r)
		if seen[k] {
			continue
		}
		seen[k] = true
		bcc = append(bcc, r)
	}
	return bcc, nil
}

// customHeaders returns the fields to carry over, in order, with their
// names spelt as written, and the idempotency key.
func customHeaders(h gomessage.Header) ([]store.Header, string, error) {
	var out []store.Header
	key, keys := "", 0
	fs := h.Fields()
	for fs.Next() {
		raw, err := fs.Raw()
		if err != nil {
			return nil, "", ErrMalformed
		}
		name, _, ok := bytes.Cut(raw, []byte{':'})
		if !ok {
			return nil, "", ErrMalformed
		}
		n := string(bytes.TrimRight(name, " \t"))
		if !message.ValidName(n) {
			return nil, "", ErrInvalidHeader
		}
		if strings.EqualFold(n, IdempotencyHeader) {
			key = strings.TrimSpace(fs.Value())
			keys++
			continue
		}
		if strings.EqualFold(n, "Reply-To") || dropped(n) {
			continue
		}
		v, _ := fs.Text() // an unknown charset leaves the raw value
		v = strings.ToValidUTF8(strings.TrimSpace(v), "\uFFFD")
		if hasBreak(v) {
			return nil, "", wrap(ErrHeaderBreak, "custom header")
		}
		out = append(out, store.Header{Name: n, Value: v})
	}
	if keys > 1 || (keys == 1 && (key == "" || len(key) > MaxIdempotencyKey || hasBreak(key) || !utf8.ValidString(key))) {
		return nil, "", ErrInvalidIdempotencyKey
	}
	return out, key, nil
}

// role is where an entity sits in the structure.
type role int

const (
	roleBody        role = iota // may fill the text or html slot
	roleAlternative             // a child of multipart/alternative
	roleRelated                 // a non-root child of multipart/related
)

// walker collects the body and attachments of a MIME tree.
type walker struct {
	parts  int
	budget int64 // decoded bytes that may still be read
	text   *string
	html   *string
	atts   []store.Attachment
}

// walk visits ent; entErr is the error go-message gave with it (nil, or an
// unknown charset or transfer encoding, which leaves the body undecoded).
func (w *walker) walk(ent *gomessage.Entity, entErr error, depth int, r role) error {
	w.parts++
	if w.parts > MaxParts {
		return ErrTooManyParts
	}
	if depth > MaxDepth {
		return ErrTooDeep
	}
	mt, params, ctErr := ent.Header.ContentType()
	if ctErr != nil {
		// RFC 2045 §5.2: an invalid Content-Type means text/plain.
		mt, params = "text/plain", nil
	}
	if params == nil {
		params = map[string]string{}
	}
	if strings.HasPrefix(mt, "multipart/") {
		return w.multipart(ent, mt, params, depth)
	}

	disp, dparams, _ := ent.Header.ContentDisposition()
	filename := dparams["filename"]
	if filename == "" {
		filename = params["name"]
	}
	isAttachment := strings.EqualFold(disp, "attachment") || filename != ""

	if !isAttachment && (mt == "text/plain" || mt == "text/html") {
		slot := &w.text
		if mt == "text/html" {
			slot = &w.html
		}
		if *slot == nil {
			b, err := w.read(ent.Body)
			if err != nil {
				return err
			}
			s := bodyText(b)
			if mt == "text/plain" && strings.EqualFold(params["format"], "flowed") {
				s = unflow(s, strings.EqualFold(params["delsp"], "yes"))
			}
			*slot = &s
			return nil
		}
		if r == roleAlternative {
			return w.drain(ent.Body) // a second rendering of the same type
		}
	} else if r == roleAlternative && !isAttachment && mt != "text/calendar" {
		// Other renderings (text/enriched, text/watch-html, AMP…) have no
		// place in the API's model; calendar invites become attachments.
		return w.drain(ent.Body)
	}
	if gomessage.IsUnknownCharset(entErr) {
		params["charset"] = "" // the bytes are as sent: do not claim UTF-8
	}
	return w.attachment(ent, mt, params, disp, filename, r)
}

func (w *walker) multipart(ent *gomessage.Entity, mt string, params map[string]string, depth int) error {
	if params["boundary"] == "" {
		return ErrMalformed
	}
	mr := ent.MultipartReader()
	if mr == nil {
		return ErrMalformed
	}
	defer mr.Close()
	for i := 0; ; i++ {
		child, err := mr.NextPart()
		if err == io.EOF {
			return nil
		}
		if err != nil && !gomessage.IsUnknownCharset(err) && !gomessage.IsUnknownEncoding(err) {
			return ErrMalformed
		}
		r := roleBody
		switch mt {
		case "multipart/alternative":
			r = roleAlternative
		case "multipart/related":
			if i > 0 {
				r = roleRelated
			}
		}
		if err := w.walk(child, err, depth+1, r); err != nil {
			return err
		}
	}
}

func (w *walker) attachment(ent *gomessage.Entity, mt string, params map[string]string, disp, filename string, r role) error {
	b, err := w.read(ent.Body)
	if err != nil {
		return err
	}
	a := store.Attachment{Content: b}
	a.Filename = strings.ToValidUTF8(strings.TrimSpace(filename), "\uFFFD")
	if hasBreak(a.Filename) {
		return wrap(ErrHeaderBreak, "attachment filename")
	}
	if ent.Header.Get("Content-Type") == "" {
		a.ContentType = contentTypeFor(a.Filename)
	} else {
		a.ContentType = attachmentType(mt, params)
	}
	if r == roleRelated && !strings.EqualFold(disp, "attachment") {
		if cid := strings.TrimSpace(ent.Header.Get("Content-Id")); cid != "" {
			if a.ContentID, err = contentID(cid); err != nil {
				return err
			}
		}
	}
	w.atts = append(w.atts, a)
	return nil
}

// attachmentType is the part's media type with its parameters, less those
// that describe the MIME packaging (name, boundary). go-message decoded a
// text part's charset to UTF-8, so the charset says so.
func attachmentType(mt string, params map[string]string) string {
	p := map[string]string{}
	for k, v := range params {
		switch k {
		case "name", "boundary":
		case "charset":
			// go-message decoded a text part's charset to UTF-8; an unknown
			// charset was blanked by walk and is left out.
			if v != "" {
				if strings.HasPrefix(mt, "text/") {
					v = "utf-8"
				}
				p[k] = v
			}
		default:
			if !hasBreak(v) {
				p[k] = v
			}
		}
	}
	if s := mime.FormatMediaType(mt, p); s != "" {
		return s
	}
	if s := mime.FormatMediaType(mt, nil); s != "" {
		return s
	}
	return "application/octet-stream"
}

// contentTypeFor guesses a type from the filename, as sendreq does for an
// attachment without content_type.
func contentTypeFor(filename string) string {
	if ext := path.Ext(filename); ext != "" {
		if t := mime.TypeByExtension(ext); t != "" {
			return t
		}
	}
	return "application/octet-stream"
}

// contentID applies the API's content_id rules to a Content-ID value.
func contentID(v string) (string, error) {
	if len(v) >= 2 && v[0] == '<' && v[len(v)-1] == '>' {
		v = v[1 : len(v)-1]
	}
	if v == "" || len(v) >= message.MaxContentIDLen {
		return "", wrap(ErrInvalidAttachment, "Content-ID")
	}
	for i := 0; i < len(v); i++ {
		if c := v[i]; c < 33 || c > 126 || c == '<' || c == '>' {
			return "", wrap(ErrInvalidAttachment, "Content-ID")
		}
	}
	return v, nil
}

// read reads a decoded body within the size budget.
func (w *walker) read(r io.Reader) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, w.budget+1))
	if err != nil {
		if errors.Is(err, ErrTooLarge) {
			return nil, err
		}
		return nil, ErrMalformed
	}
	if int64(len(b)) > w.budget {
		return nil, ErrTooLarge
	}
	w.budget -= int64(len(b))
	return b, nil
}

// drain discards a body that has no place in the email. Its decoding
// errors do not matter; its size is bounded by the raw message's.
func (w *walker) drain(r io.Reader) error {
	_, _ = io.Copy(io.Discard, r)
	return nil
}

// bodyText is a decoded text body as the API carries it: valid UTF-8 with
// LF line ends (SMTP always carries CRLF).
func bodyText(b []byte) string {
	s := strings.ToValidUTF8(string(b), "\uFFFD")
	return strings.ReplaceAll(s, "\r\n", "\n")
}

// unflow decodes RFC 3676 format=flowed text: a line ending in a space is
// joined with the next one of the same quote depth (delsp=yes also drops
// that space), space-stuffing is removed and "-- " stays a signature line.
// Godwit re-sends the text as plain text/plain, where soft breaks would
// show as hard ones.
func unflow(s string, delsp bool) string {
	lines := strings.Split(s, "\n")
	var b strings.Builder
	joining, prevDepth := false, 0
	for i, l := range lines {
		depth := 0
		for depth < len(l) && l[depth] == '>' {
			depth++
		}
		quote, text := l[:depth], l[depth:]
		text = strings.TrimPrefix(text, " ") // space-stuffing
		if joining && depth != prevDepth {
			b.WriteByte('\n') // a flowed line never continues at another depth
			joining = false
		}
		if !joining {
			b.WriteString(quote)
			if depth > 0 {
				b.WriteByte(' ')
			}
		}
		flowed := strings.HasSuffix(text, " ") && text != "-- "
		if flowed && delsp {
			text = text[:len(text)-1]
		}
		b.WriteString(text)
		joining, prevDepth = flowed, depth
		if !flowed && i < len(lines)-1 {
			b.WriteByte('\n')
		}
	}
	return b.String()
}
