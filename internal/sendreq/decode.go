package sendreq

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/tidwall/gjson"

	"github.com/godwit/godwit/internal/apierr"
	"github.com/godwit/godwit/internal/message"
	"github.com/godwit/godwit/internal/store"
)

// Limits.
const (
	// DefaultMaxEmailBytes is Resend's 40 MB limit on an email's size, counted
	// with attachments base64-encoded.
	DefaultMaxEmailBytes = message.MaxEmailBytes
	// MaxRecipients is the most addresses `to` (and, in Godwit, `cc` and `bcc`
	// each) may hold.
	MaxRecipients = message.MaxRecipients
	// MaxReplyTo is the most addresses `reply_to` may hold.
	MaxReplyTo = 50
	// MaxTags is the most tags an email may carry.
	MaxTags = 75
	// MaxTagLen is the longest tag name or value.
	MaxTagLen = 256
	// MaxContentIDLen bounds an attachment's content_id (it must be shorter).
	MaxContentIDLen = message.MaxContentIDLen
	// MaxBatch is the most emails in one POST /emails/batch.
	MaxBatch = 100
	// MaxSubjectLen bounds the subject in characters (Resend documents no
	// limit; encoding a long non-ASCII subject as RFC 2047 words costs time
	// that grows faster than its length).
	MaxSubjectLen = message.MaxSubjectLen
)

// Options tune Decode.
type Options struct {
	Now              time.Time     // the current time, injected (tests pass a fixed time); zero means time.Now()
	MaxScheduleAhead time.Duration // 0 means 30*24h
	MaxEmailBytes    int64         // 0 means 40_000_000: size as Resend counts it (attachments base64-encoded + html + text + subject + headers)
	Batch            bool          // item of POST /emails/batch: attachments are refused (422 validation_error)
}

// Messages shared by several checks.
const (
	msgAttachmentSource  = "Attachment must have either a `content` or `path`."
	msgBatchAttachments  = "Attachments are not supported in batch emails."
	msgMissingBody       = "Missing `html` or `text` field."
	msgTemplateWithBody  = "The `template` field cannot be combined with `html` or `text`."
	msgTagChars          = "Tags should only contain ASCII letters, numbers, underscores, or dashes."
	msgInvalidAddressFmt = "Invalid `%s` field. The email address needs to follow the `email@example.com` or `Name <email@example.com>` format."
)

func errType(field, want string) *apierr.Error {
	return apierr.Validation("The `%s` field must be %s.", field, want)
}

func errHeaderChars(field string) *apierr.Error {
	return apierr.Validation("The `%s` field must not contain line breaks (CR or LF) or NUL characters.", field)
}

func errInvalidAddress(field string) *apierr.Error {
	return apierr.Validation(msgInvalidAddressFmt, field)
}

// checkAddress validates one address of field: Resend's message for one of
// the wrong shape, or one naming the RFC length limit it breaks.
func checkAddress(field, s string) *apierr.Error {
	switch p := addressProblem(s); p {
	case "":
		return nil
	case problemFormat:
		return errInvalidAddress(field)
	default:
		return apierr.Validation("Invalid `%s` field: %s.", field, p)
	}
}

func errAttachment(format string, args ...any) *apierr.Error {
	return apierr.New(http.StatusUnprocessableEntity, apierr.NameInvalidAttachment, fmt.Sprintf(format, args...))
}

// hasHeaderBreak reports CR, LF or NUL in s.
func hasHeaderBreak(s string) bool { return strings.ContainsAny(s, "\r\n\x00") }

// parseBody checks that raw is one JSON object and returns its members.
func parseBody(raw []byte) ([]member, *apierr.Error) {
	if err := validJSON(raw); err != nil {
		return nil, err
	}
	ms, ok := objectMembers(raw)
	if !ok {
		return nil, apierr.BadRequest("Invalid JSON body: expected a JSON object.")
	}
	return ms, nil
}

// validJSON is a 400 for an empty body, or with encoding/json's description
// of the first error.
//
// gjson's validator accepts exactly what encoding/json does (FuzzValidAgrees
// holds it to that) at several times the speed, and validation is a fixed
// cost on every byte of every request.
func validJSON(raw []byte) *apierr.Error {
	if len(bytes.TrimSpace(raw)) == 0 {
		return apierr.BadRequest("Invalid JSON body: the request body is empty.")
	}
	if gjson.ValidBytes(raw) {
		return nil
	}
	var v struct{}
	err := json.Unmarshal(raw, &v)
	if err == nil { // cannot happen; keep the message generic if it does
		return apierr.BadRequest("Invalid JSON body.")
	}
	return apierr.BadRequest("Invalid JSON body: %s.", message.Excerpt(err.Error()))
}

// withDefaults fills the zero settings.
func (o Options) withDefaults() Options {
	if o.Now.IsZero() {
		o.Now = time.Now()
	}
	if o.MaxScheduleAhead <= 0 {
		o.MaxScheduleAhead = DefaultMaxScheduleAhead
	}
	if o.MaxEmailBytes <= 0 {
		o.MaxEmailBytes = DefaultMaxEmailBytes
	}
	return o
}

// Decode parses one send-email JSON object and validates it. It returns a
// *store.Email with ID, TeamID, LastEvent and CreatedAt left empty (the
// caller fills them). Every error is an *apierr.Error.
//
// When `template` is given, `from` and `subject` may be left out (Resend
// takes them from the template's defaults); the caller must then fill them
// from the template and reject the email if they are still empty.
func Decode(raw []byte, opts Options) (*store.Email, error) {
	opts = opts.withDefaults()
	ms, aerr := parseBody(raw)
	if aerr != nil {
		return nil, aerr
	}
	e, aerr := decodeEmail(toFields(ms), opts)
	if aerr != nil {
		return nil, aerr
	}
	return e, nil
}

func decodeEmail(f fields, opts Options) (*store.Email, *apierr.Error) {
	e := &store.Email{}
	var err *apierr.Error

	// Types of the body parts and the template come first: which fields are
	// required depends on them.
	if e.HTML, err = optString(f, "html"); err != nil {
		return nil, err
	}
	if e.Text, err = optString(f, "text"); err != nil {
		return nil, err
	}
	if e.Template, err = decodeTemplate(f["template"]); err != nil {
		return nil, err
	}

	// Required fields, in the order Resend reports them: to, html/text,
	// subject, from.
	if e.To, err = addressList(f, "to"); err != nil {
		return nil, err
	}
	if len(e.To) == 0 {
		return nil, apierr.MissingField("to")
	}
	hasBody := (e.HTML != nil && *e.HTML != "") || (e.Text != nil && *e.Text != "")
	if e.Template != nil {
		// Resend: "If a template is provided, you cannot send html, text, or
		// react in the payload." Empty strings are tolerated.
		if hasBody {
			return nil, apierr.Validation(msgTemplateWithBody)
		}
	} else if !hasBody {
		// Resend's send-email reference does not mark html or text required;
		// third-party recordings of the live API show this 422 (checked after
		// `to` and before `subject`) for a body with neither.
		return nil, apierr.New(http.StatusUnprocessableEntity, apierr.NameMissingRequiredField, msgMissingBody)
	}
	subject, err := optString(f, "subject")
	if err != nil {
		return nil, err
	}
	if subject != nil {
		e.Subject = *subject
	}
	if e.Subject == "" && e.Template == nil {
		return nil, apierr.MissingField("subject")
	}
	if hasHeaderBreak(e.Subject) {
		return nil, errHeaderChars("subject")
	}
	if utf8.RuneCountInString(e.Subject) > MaxSubjectLen {
		return nil, apierr.Validation("The `subject` field must be at most %d characters.", MaxSubjectLen)
	}
	if e.From, err = decodeFrom(f); err != nil {
		return nil, err
	}
	if e.From == "" && e.Template == nil {
		return nil, apierr.MissingField("from")
	}

	if e.Cc, err = addressList(f, "cc"); err != nil {
		return nil, err
	}
	if e.Bcc, err = addressList(f, "bcc"); err != nil {
		return nil, err
	}
	if e.ReplyTo, err = addressList(f, "reply_to"); err != nil {
		return nil, err
	}
	if e.Headers, err = decodeHeaders(f["headers"]); err != nil {
		return nil, err
	}
	if len(e.ReplyTo) > 0 {
		for _, h := range e.Headers {
			if strings.EqualFold(h.Name, "Reply-To") {
				return nil, apierr.Validation("The `Reply-To` header cannot be set in `headers` together with the `reply_to` field.")
			}
		}
	}
	if e.Tags, err = decodeTags(f["tags"]); err != nil {
		return nil, err
	}
	if e.Attachments, err = decodeAttachments(f["attachments"], opts.Batch); err != nil {
		return nil, err
	}
	sched, err := optString(f, "scheduled_at")
	if err != nil {
		return nil, err
	}
	if sched != nil {
		at, serr := ParseScheduledAt(*sched, opts.Now, opts.MaxScheduleAhead)
		if serr != nil {
			return nil, apierr.As(serr)
		}
		e.ScheduledAt = at
	}
	topic, err := optString(f, "topic_id")
	if err != nil {
		return nil, err
	}
	if topic != nil {
		e.TopicID = strings.TrimSpace(*topic)
	}

	if emailSize(e) > opts.MaxEmailBytes {
		return nil, apierr.Validation("The email is too large: the limit is %s per email, counting attachments base64-encoded.",
			formatBytes(opts.MaxEmailBytes))
	}
	return e, nil
}

// optString returns nil for an absent (or null) field.
func optString(f fields, name string) (*string, *apierr.Error) {
	raw, ok := f[name]
	if !ok {
		return nil, nil
	}
	s, ok := decodeJSONString(raw)
	if !ok {
		return nil, errType(name, "a string")
	}
	return &s, nil
}

func decodeFrom(f fields) (string, *apierr.Error) {
	p, err := optString(f, "from")
	if err != nil || p == nil {
		return "", err
	}
	s := strings.TrimSpace(*p)
	if s == "" {
		return "", nil
	}
	if hasHeaderBreak(s) {
		return "", errHeaderChars("from")
	}
	if err := checkAddress("from", s); err != nil {
		return "", err
	}
	return s, nil
}

// addressList decodes a string-or-array address field. An absent field, an
// empty string and an empty array all give nil.
func addressList(f fields, name string) ([]string, *apierr.Error) {
	raw, ok := f[name]
	if !ok {
		return nil, nil
	}
	var items []string
	switch raw[0] {
	case '"':
		s, _ := decodeJSONString(raw)
		if strings.TrimSpace(s) == "" {
			return nil, nil
		}
		items = []string{s}
	case '[':
		elems, _ := arrayElems(raw)
		for _, el := range elems {
			s, ok := decodeJSONString(el)
			if !ok {
				return nil, errType(name, "a string or an array of strings")
			}
			items = append(items, s)
		}
	default:
		return nil, errType(name, "a string or an array of strings")
	}
	if len(items) == 0 {
		return nil, nil
	}
	if name == "reply_to" && len(items) > MaxReplyTo {
		return nil, apierr.Validation("Too many addresses in the `reply_to` field: the maximum is %d.", MaxReplyTo)
	}
	if name != "reply_to" && len(items) > MaxRecipients {
		return nil, apierr.Validation("Too many recipients in the `%s` field: the maximum is %d.", name, MaxRecipients)
	}
	out := make([]string, len(items))
	for i, s := range items {
		s = strings.TrimSpace(s)
		if hasHeaderBreak(s) {
			return nil, errHeaderChars(name)
		}
		if err := checkAddress(name, s); err != nil {
			return nil, err
		}
		out[i] = s
	}
	return out, nil
}

// decodeHeaders decodes `headers` and applies internal/message's rules for
// custom headers (message.CheckHeader): what passes can be written.
func decodeHeaders(raw []byte) ([]store.Header, *apierr.Error) {
	if raw == nil {
		return nil, nil
	}
	ms, ok := objectMembers(raw)
	if !ok {
		return nil, errType("headers", "an object of header names to string values")
	}
	var hs []store.Header
	pos := map[string]int{} // a repeated key keeps its first position and last value
	for _, m := range ms {
		if hasHeaderBreak(m.key) {
			return nil, apierr.Validation("The `headers` field has a header name with line breaks (CR or LF) or NUL characters.")
		}
		if !message.ValidFieldName(m.key) {
			return nil, apierr.Validation("The `headers` field has an invalid header name `%s`: names must be printable ASCII without spaces or colons.", message.Excerpt(m.key))
		}
		if name, owned := message.Owned(m.key); owned {
			return nil, apierr.Validation("The `%s` header cannot be set in `headers`: Godwit sets it.", name)
		}
		if isNull(m.val) {
			return nil, apierr.Validation("The value of the `%s` header must be a string.", message.Excerpt(m.key))
		}
		v, ok := decodeJSONString(m.val)
		if !ok {
			return nil, apierr.Validation("The value of the `%s` header must be a string.", message.Excerpt(m.key))
		}
		if hasHeaderBreak(v) {
			return nil, apierr.Validation("The value of the `%s` header must not contain line breaks (CR or LF) or NUL characters.", message.Excerpt(m.key))
		}
		if err := message.CheckHeader(m.key, v); err != nil {
			return nil, HeaderError(err)
		}
		if i, dup := pos[m.key]; dup {
			hs[i].Value = v
			continue
		}
		pos[m.key] = len(hs)
		hs = append(hs, store.Header{Name: m.key, Value: v})
	}
	return hs, nil
}

// HeaderError is the answer to a header that internal/message will not
// write (a *message.FieldError); other errors are described as they are.
// (accept answers the same way for a header it finds unbuildable.)
func HeaderError(err error) *apierr.Error {
	var fe *message.FieldError
	if errors.As(err, &fe) {
		return apierr.Validation("The `%s` header cannot be set in `headers`: %s.", message.Excerpt(fe.Field), fe.Reason)
	}
	return apierr.Validation("The `headers` field cannot be written: %s.", strings.TrimPrefix(err.Error(), "message: "))
}

func validTagText(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; !isAlnum(c) && c != '_' && c != '-' {
			return false
		}
	}
	return true
}

func decodeTags(raw []byte) ([]store.Tag, *apierr.Error) {
	if raw == nil {
		return nil, nil
	}
	const want = "an array of objects with `name` and `value` strings"
	elems, ok := arrayElems(raw)
	if !ok {
		return nil, errType("tags", want)
	}
	if len(elems) > MaxTags {
		return nil, apierr.Validation("Too many tags: an email can have at most %d tags.", MaxTags)
	}
	var tags []store.Tag
	for i, el := range elems {
		ms, ok := objectMembers(el)
		if !ok {
			return nil, errType("tags", want)
		}
		tf := toFields(ms)
		var tag store.Tag
		for _, part := range []struct {
			key string
			dst *string
		}{{"name", &tag.Name}, {"value", &tag.Value}} {
			field := fmt.Sprintf("tags[%d].%s", i, part.key)
			p, err := optString(tf, part.key)
			if err != nil {
				return nil, errType(field, "a string")
			}
			if p == nil || *p == "" {
				return nil, apierr.MissingField(field)
			}
			if hasHeaderBreak(*p) {
				return nil, errHeaderChars(field)
			}
			if len(*p) > MaxTagLen {
				return nil, apierr.Validation("The `%s` field must be at most %d characters.", field, MaxTagLen)
			}
			if !validTagText(*p) {
				return nil, apierr.Validation(msgTagChars)
			}
			*part.dst = *p
		}
		tags = append(tags, tag)
	}
	return tags, nil
}

func decodeTemplate(raw []byte) (*store.TemplateRef, *apierr.Error) {
	if raw == nil {
		return nil, nil
	}
	ms, ok := objectMembers(raw)
	if !ok {
		return nil, errType("template", "an object with an `id` string and a `variables` object")
	}
	tf := toFields(ms)
	id, err := optString(tf, "id")
	if err != nil {
		return nil, errType("template.id", "a string")
	}
	if id == nil || strings.TrimSpace(*id) == "" {
		return nil, apierr.MissingField("template.id")
	}
	t := &store.TemplateRef{ID: strings.TrimSpace(*id)}
	if v, ok := tf["variables"]; ok {
		if v[0] != '{' {
			return nil, errType("template.variables", "an object")
		}
		t.Variables = append(json.RawMessage(nil), v...)
	}
	return t, nil
}

// base64Len is the size of n bytes once base64-encoded, as Resend counts it.
func base64Len(n int) int64 { return 4 * ((int64(n) + 2) / 3) }

func emailSize(e *store.Email) int64 { return message.EmailSize(e) }

// formatBytes writes sizes as Resend's docs do: decimal megabytes.
func formatBytes(n int64) string {
	if n >= 1_000_000 && n%1_000_000 == 0 {
		return fmt.Sprintf("%d MB", n/1_000_000)
	}
	return fmt.Sprintf("%d bytes", n)
}
