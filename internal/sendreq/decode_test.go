package sendreq

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/godwit/godwit/internal/apierr"
	"github.com/godwit/godwit/internal/store"
)

// testNow is a Wednesday.
var testNow = time.Date(2025, 3, 12, 15, 30, 45, 0, time.UTC)

var testOpts = Options{Now: testNow}

// base is a minimal valid email; extra members are appended after it, and
// since the last duplicate key wins they can override base fields.
func base(extra string) []byte {
	b := `{"from":"Acme <hello@acme.com>","to":"bob@example.com","subject":"Hi","html":"<p>hi</p>"`
	if extra != "" {
		b += "," + extra
	}
	return []byte(b + "}")
}

func requireAPIError(t *testing.T, err error, status int, name, msg string) {
	t.Helper()
	require.Error(t, err)
	var ae *apierr.Error
	require.True(t, errors.As(err, &ae), "error %T is not *apierr.Error: %v", err, err)
	require.Equal(t, status, ae.StatusCode, ae.Message)
	require.Equal(t, name, ae.Name, ae.Message)
	if strings.HasSuffix(msg, "*") {
		require.True(t, strings.HasPrefix(ae.Message, strings.TrimSuffix(msg, "*")), "message %q", ae.Message)
	} else {
		require.Equal(t, msg, ae.Message)
	}
}

func mustDecode(t *testing.T, body []byte, opts Options) *store.Email {
	t.Helper()
	e, err := Decode(body, opts)
	require.NoError(t, err)
	require.NotNil(t, e)
	return e
}

func ptr(s string) *string { return &s }

func invalidAddr(field string) string {
	return "Invalid `" + field + "` field. The email address needs to follow the `email@example.com` or `Name <email@example.com>` format."
}

func breakMsg(field string) string {
	return "The `" + field + "` field must not contain line breaks (CR or LF) or NUL characters."
}

func addrs(n int) string {
	a := make([]string, n)
	for i := range a {
		a[i] = fmt.Sprintf(`"u%d@example.com"`, i)
	}
	return "[" + strings.Join(a, ",") + "]"
}

func TestDecodeFullEmail(t *testing.T) {
	body := `{
		"id": "ignored-by-godwit",
		"from": "  Jöhn Dœ <john@acme.com>  ",
		"to": ["bob@example.com", "Bob Two <bob2@example.com>"],
		"cc": "cc@example.com",
		"bcc": ["bcc@example.com"],
		"reply_to": "\"Support, Acme\" <support@acme.com>",
		"subject": "Héllo ✓",
		"html": "<p>hi</p>",
		"text": "",
		"headers": {"X-Entity-Ref-ID": "123", "List-Unsubscribe": "<mailto:u@acme.com>", "X-A": "1"},
		"tags": [{"name": "category", "value": "confirm_email"}, {"name": "user-id", "value": "42"}],
		"attachments": [{"filename": "a.txt", "content": "aGVsbG8="}],
		"scheduled_at": "in 1 hour",
		"topic_id": "topic_123",
		"react": null,
		"extra": {"nested": [1, 2, {"x": "y"}]}
	}`
	e := mustDecode(t, []byte(body), testOpts)
	require.Equal(t, "Jöhn Dœ <john@acme.com>", e.From)
	require.Equal(t, []string{"bob@example.com", "Bob Two <bob2@example.com>"}, e.To)
	require.Equal(t, []string{"cc@example.com"}, e.Cc)
	require.Equal(t, []string{"bcc@example.com"}, e.Bcc)
	require.Equal(t, []string{`"Support, Acme" <support@acme.com>`}, e.ReplyTo)
	require.Equal(t, "Héllo ✓", e.Subject)
	require.Equal(t, ptr("<p>hi</p>"), e.HTML)
	require.Equal(t, ptr(""), e.Text)
	require.Equal(t, []store.Header{
		{Name: "X-Entity-Ref-ID", Value: "123"},
		{Name: "List-Unsubscribe", Value: "<mailto:u@acme.com>"},
		{Name: "X-A", Value: "1"},
	}, e.Headers)
	require.Equal(t, []store.Tag{{Name: "category", Value: "confirm_email"}, {Name: "user-id", Value: "42"}}, e.Tags)
	require.Len(t, e.Attachments, 1)
	require.Equal(t, []byte("hello"), e.Attachments[0].Content)
	require.Equal(t, "a.txt", e.Attachments[0].Filename)
	require.True(t, strings.HasPrefix(e.Attachments[0].ContentType, "text/plain"), e.Attachments[0].ContentType)
	require.NotNil(t, e.ScheduledAt)
	require.Equal(t, testNow.Add(time.Hour), *e.ScheduledAt)
	require.Equal(t, "topic_123", e.TopicID)
	require.Nil(t, e.Template)
	require.Empty(t, e.ID)
	require.Empty(t, e.TeamID)
	require.Empty(t, e.LastEvent)
	require.True(t, e.CreatedAt.IsZero())
}

// Valid emails: each case decodes body with opts and checks the fields it is
// about.
func TestDecodeValid(t *testing.T) {
	// The RFCs' lengths exactly: a 64-octet local part, 63-octet labels, a
	// 253-octet domain.
	local := strings.Repeat("l", 64)
	domain := strings.Repeat("a", 63) + "." + strings.Repeat("b", 63) + "." + strings.Repeat("c", 63) + "." + strings.Repeat("d", 61)
	require.Len(t, domain, 253)
	// subject "Hi" (2) + html "<p>hi</p>" (9) + header value (3) + 4 bytes
	// of content counted as 8 base64 characters = 22.
	sized := base(`"headers":{"X-A":"abc"},"attachments":[{"filename":"a","content":[1,2,3,4]}]`)

	for _, tc := range []struct {
		name  string
		body  []byte
		opts  Options
		check func(t *testing.T, e *store.Email)
	}{
		{"minimal", base(""), testOpts, func(t *testing.T, e *store.Email) {
			require.Equal(t, []string{"bob@example.com"}, e.To)
			require.Equal(t, ptr("<p>hi</p>"), e.HTML)
			require.Nil(t, e.Text)
			require.Nil(t, e.Cc)
			require.Nil(t, e.Bcc)
			require.Nil(t, e.ReplyTo)
			require.Nil(t, e.Headers)
			require.Nil(t, e.Tags)
			require.Nil(t, e.Attachments)
			require.Nil(t, e.ScheduledAt)
			require.Nil(t, e.Template)
		}},
		{"JSON null is absent everywhere", base(`"cc":null,"bcc":null,"reply_to":null,"text":null,"headers":null,"tags":null,
			"attachments":null,"scheduled_at":null,"template":null,"topic_id":null`), testOpts, func(t *testing.T, e *store.Email) {
			require.Nil(t, e.Text)
			require.Nil(t, e.Headers)
			require.Nil(t, e.Tags)
			require.Nil(t, e.Attachments)
			require.Nil(t, e.ScheduledAt)
			require.Nil(t, e.Template)
		}},
		{"empty optional values are absent and text alone is a body", base(`"html":null,"text":"plain","cc":"","bcc":[],"reply_to":"  ","headers":{},"tags":[],"attachments":[],"scheduled_at":""`), testOpts, func(t *testing.T, e *store.Email) {
			require.Nil(t, e.HTML)
			require.Equal(t, ptr("plain"), e.Text)
			require.Nil(t, e.Cc)
			require.Nil(t, e.Bcc)
			require.Nil(t, e.ReplyTo)
			require.Nil(t, e.Headers)
			require.Nil(t, e.Tags)
			require.Nil(t, e.Attachments)
			require.Nil(t, e.ScheduledAt)
		}},
		{"50 recipients and 50 reply_to addresses", base(`"to":` + addrs(50) + `,"cc":` + addrs(50) + `,"bcc":` + addrs(50) + `,"reply_to":` + addrs(50)), testOpts, func(t *testing.T, e *store.Email) {
			require.Len(t, e.To, 50)
			require.Len(t, e.ReplyTo, 50)
		}},
		{"address lengths at the RFC limits", base(`"to":"` + local + `@` + domain + `","reply_to":"R <` + local + `@example.com>"`), testOpts, func(t *testing.T, e *store.Email) {
			require.Equal(t, []string{local + "@" + domain}, e.To)
		}},
		// With a template, from, subject and html/text may come from the template.
		{"template alone", []byte(`{"to":"bob@example.com","template":{"id":"welcome","variables":{"NAME":"Bob","N":3}}}`), testOpts, func(t *testing.T, e *store.Email) {
			require.Equal(t, &store.TemplateRef{ID: "welcome", Variables: json.RawMessage(`{"NAME":"Bob","N":3}`)}, e.Template)
			require.Empty(t, e.From)
			require.Empty(t, e.Subject)
			require.Nil(t, e.HTML)
		}},
		{"template with from and subject", base(`"html":"","template":{"id":"t1","variables":null}`), testOpts, func(t *testing.T, e *store.Email) {
			require.Equal(t, &store.TemplateRef{ID: "t1"}, e.Template)
			require.Equal(t, "Acme <hello@acme.com>", e.From)
			require.Equal(t, "Hi", e.Subject)
		}},
		{"headers keep their order and the last duplicate wins", base(`"headers":{"X-Z":"1","X-A":"2","X-Z":"3","x-a":"4","Reply-To":"r@example.com","X-Empty":""}`), testOpts, func(t *testing.T, e *store.Email) {
			require.Equal(t, []store.Header{
				{Name: "X-Z", Value: "3"},
				{Name: "X-A", Value: "2"},
				{Name: "x-a", Value: "4"},
				{Name: "Reply-To", Value: "r@example.com"},
				{Name: "X-Empty", Value: ""},
			}, e.Headers)
		}},
		{"size exactly the limit", sized, Options{Now: testNow, MaxEmailBytes: 22}, nil},
		{"size under a large limit", sized, Options{Now: testNow, MaxEmailBytes: 2_000_000}, nil},
		{"batch mode with empty attachments and a schedule", base(`"attachments":[],"scheduled_at":"in 5 min"`), Options{Now: testNow, Batch: true}, func(t *testing.T, e *store.Email) {
			require.Nil(t, e.Attachments)
			require.NotNil(t, e.ScheduledAt)
		}},
		{"scheduled_at in the future", base(`"scheduled_at":"2025-03-13T10:00:00.858Z"`), testOpts, func(t *testing.T, e *store.Email) {
			require.Equal(t, time.Date(2025, 3, 13, 10, 0, 0, 858e6, time.UTC), *e.ScheduledAt)
		}},
		{"scheduled_at in the past sends now", base(`"scheduled_at":"2020-01-01T00:00:00Z"`), testOpts, func(t *testing.T, e *store.Email) {
			require.Nil(t, e.ScheduledAt)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := mustDecode(t, tc.body, tc.opts)
			if tc.check != nil {
				tc.check(t, e)
			}
		})
	}
}

func TestDecodeAddressForms(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{`"a@example.com"`, "a@example.com"},
		{`"  a@example.com\t"`, "a@example.com"},
		{`"<a@example.com>"`, "<a@example.com>"},
		{`"Ünïcödé Nämé <a@example.com>"`, "Ünïcödé Nämé <a@example.com>"},
		{`"山田太郎 <taro@example.jp>"`, "山田太郎 <taro@example.jp>"},
		{`"\"Doe, John\" <a@example.com>"`, `"Doe, John" <a@example.com>`},
		{`"=?utf-8?q?J=C3=B6hn?= <a@example.com>"`, "=?utf-8?q?J=C3=B6hn?= <a@example.com>"},
		{`"first.last+tag@sub.example.co.uk"`, "first.last+tag@sub.example.co.uk"},
	} {
		t.Run(tc.in, func(t *testing.T) {
			e := mustDecode(t, base(`"from":`+tc.in+`,"to":[`+tc.in+`]`), testOpts)
			require.Equal(t, tc.want, e.From)
			require.Equal(t, []string{tc.want}, e.To)
		})
	}
}

func TestDecodeAttachmentWireForms(t *testing.T) {
	want := []byte("Hello, world!\x00\xff\x80 binary")
	std := base64.StdEncoding.EncodeToString(want)
	raw := base64.RawStdEncoding.EncodeToString(want)
	url := base64.RawURLEncoding.EncodeToString(want)
	ints := make([]string, len(want))
	for i, b := range want {
		ints[i] = fmt.Sprint(b)
	}
	arr := "[" + strings.Join(ints, ",") + "]"
	arrSpaced := "[ " + strings.Join(ints, " ,\n ") + " ]"
	wrapped := std[:10] + `\n` + std[10:20] + `\r\n ` + std[20:]

	for _, tc := range []struct{ name, content string }{
		{"base64", `"` + std + `"`},
		{"base64 no padding", `"` + raw + `"`},
		{"base64 url-safe", `"` + url + `"`},
		{"base64 wrapped", `"` + wrapped + `"`},
		{"base64 escaped", `"\u0053` + std[1:] + `"`},
		{"data uri", `"data:application/octet-stream;base64,` + std + `"`},
		{"byte array", arr},
		{"byte array spaced", arrSpaced},
		{"node buffer", `{"type":"Buffer","data":` + arr + `}`},
		{"buffer without type", `{"data":` + arr + `}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := mustDecode(t, base(`"attachments":[{"filename":"f.bin","content":`+tc.content+`}]`), testOpts)
			require.Len(t, e.Attachments, 1)
			require.Equal(t, want, e.Attachments[0].Content)
		})
	}

	t.Run("empty", func(t *testing.T) {
		e := mustDecode(t, base(`"attachments":[{"filename":"empty.bin","content":[]},{"content":{"type":"Buffer","data":[]}}]`), testOpts)
		require.Equal(t, []byte{}, e.Attachments[0].Content)
		require.Equal(t, []byte{}, e.Attachments[1].Content)
		require.Equal(t, "", e.Attachments[1].Filename)
		require.Equal(t, "application/octet-stream", e.Attachments[1].ContentType)
	})
}

func TestDecodeAttachmentLargeByteArray(t *testing.T) {
	want := make([]byte, 1<<20)
	for i := range want {
		want[i] = byte(i * 7)
	}
	var sb strings.Builder
	sb.WriteString(`"attachments":[{"filename":"big.bin","content":[`)
	for i, b := range want {
		if i > 0 {
			sb.WriteByte(',')
		}
		fmt.Fprint(&sb, b)
	}
	sb.WriteString(`]}]`)
	e := mustDecode(t, base(sb.String()), testOpts)
	require.Equal(t, want, e.Attachments[0].Content)
}

func TestDecodeAttachmentFields(t *testing.T) {
	e := mustDecode(t, base(`"attachments":[
		{"path":"https://cdn.example.com/files/invoice%20march.pdf?sig=1"},
		{"path":"http://cdn.example.com/","filename":"given.png"},
		{"path":"https://cdn.example.com"},
		{"path":"https://cdn.example.com/evil%0D%0AX-Bad:%20y"},
		{"content":"aGk=","filename":"logo.png","content_id":"logo"},
		{"content":"aGk=","filename":"logo2.png","inline_content_id":"<logo2@acme>"},
		{"content":"aGk=","filename":"x.unknownext","content_id":"a","inline_content_id":"b"},
		{"content":"aGk=","filename":"data.csv","content_type":"text/csv; charset=utf-8"},
		{"content":"aGk=","path":""}
	]`), testOpts)
	a := e.Attachments
	require.Len(t, a, 9)
	require.Equal(t, store.Attachment{Path: "https://cdn.example.com/files/invoice%20march.pdf?sig=1", Filename: "invoice march.pdf", ContentType: "application/pdf"}, a[0])
	require.Equal(t, store.Attachment{Path: "http://cdn.example.com/", Filename: "given.png", ContentType: "image/png"}, a[1])
	require.Equal(t, store.Attachment{Path: "https://cdn.example.com", ContentType: "application/octet-stream"}, a[2])
	require.Equal(t, "", a[3].Filename) // a derived name that would break a header is dropped
	require.Equal(t, store.Attachment{Content: []byte("hi"), Filename: "logo.png", ContentType: "image/png", ContentID: "logo"}, a[4])
	require.Equal(t, "logo2@acme", a[5].ContentID)
	require.Equal(t, "a", a[6].ContentID)
	require.Equal(t, "application/octet-stream", a[6].ContentType)
	require.Equal(t, "text/csv; charset=utf-8", a[7].ContentType)
	require.Equal(t, []byte("hi"), a[8].Content)
}

// Errors that depend on Options.
func TestDecodeErrorsWithOptions(t *testing.T) {
	// The same 22-byte email as in TestDecodeValid.
	sized := base(`"headers":{"X-A":"abc"},"attachments":[{"filename":"a","content":[1,2,3,4]}]`)
	for _, tc := range []struct {
		name string
		body []byte
		opts Options
		msg  string
	}{
		{"one byte over the limit", sized, Options{Now: testNow, MaxEmailBytes: 21},
			"The email is too large: the limit is 21 bytes per email, counting attachments base64-encoded."},
		{"limit in MB", base(`"html":"` + strings.Repeat("x", 1_000_001) + `"`), Options{Now: testNow, MaxEmailBytes: 1_000_000},
			"The email is too large: the limit is 1 MB per email, counting attachments base64-encoded."},
		{"attachment in a batch", base(`"attachments":[{"path":"https://example.com/a.pdf"}]`), Options{Now: testNow, Batch: true},
			"Attachments are not supported in batch emails."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e, err := Decode(tc.body, tc.opts)
			require.Nil(t, e)
			requireAPIError(t, err, 422, apierr.NameValidation, tc.msg)
		})
	}
}

func TestDecodeErrors(t *testing.T) {
	const (
		v422 = apierr.NameValidation
		miss = apierr.NameMissingRequiredField
		att  = apierr.NameInvalidAttachment
	)
	type tc struct {
		name   string
		body   string
		status int
		errNm  string
		msg    string // a trailing * matches a prefix
	}
	b := func(extra string) string { return string(base(extra)) }
	cases := []tc{
		// Not JSON / not an object.
		{"empty body", "", 400, v422, "Invalid JSON body: the request body is empty."},
		{"blank body", " \n ", 400, v422, "Invalid JSON body: the request body is empty."},
		{"malformed", `{"from":`, 400, v422, "Invalid JSON body: *"},
		{"trailing garbage", b("") + "x", 400, v422, "Invalid JSON body: *"},
		{"array", `[{"from":"a@b.com"}]`, 400, v422, "Invalid JSON body: expected a JSON object."},
		{"string", `"hello"`, 400, v422, "Invalid JSON body: expected a JSON object."},
		{"null", `null`, 400, v422, "Invalid JSON body: expected a JSON object."},

		// Required fields, reported in Resend's order: to, html/text, subject, from.
		{"no fields", `{}`, 422, miss, "Missing `to` field."},
		{"to empty string", b(`"to":""`), 422, miss, "Missing `to` field."},
		{"to empty array", b(`"to":[]`), 422, miss, "Missing `to` field."},
		{"to null", b(`"to":null`), 422, miss, "Missing `to` field."},
		{"no body", `{"from":"a@acme.com","to":"b@example.com","subject":"Hi"}`, 422, miss, "Missing `html` or `text` field."},
		{"empty bodies", b(`"html":"","text":""`), 422, miss, "Missing `html` or `text` field."},
		{"body before subject", `{"from":"a@acme.com","to":"b@example.com"}`, 422, miss, "Missing `html` or `text` field."},
		{"no subject", `{"from":"a@acme.com","to":"b@example.com","html":"x"}`, 422, miss, "Missing `subject` field."},
		{"empty subject", b(`"subject":""`), 422, miss, "Missing `subject` field."},
		{"no from", `{"to":"b@example.com","subject":"Hi","text":"x"}`, 422, miss, "Missing `from` field."},
		{"blank from", b(`"from":"  "`), 422, miss, "Missing `from` field."},
		{"template without id", b(`"html":null,"template":{"variables":{}}`), 422, miss, "Missing `template.id` field."},
		{"template with html", b(`"template":{"id":"t"}`), 422, v422, "The `template` field cannot be combined with `html` or `text`."},
		{"template with text", b(`"html":null,"text":"x","template":{"id":"t"}`), 422, v422, "The `template` field cannot be combined with `html` or `text`."},
		{"template id case", `{"to":"b@example.com","template":{"ID":"t"}}`, 422, miss, "Missing `template.id` field."},

		// Wrong JSON types.
		{"subject number", b(`"subject":5`), 422, v422, "The `subject` field must be a string."},
		{"html bool", b(`"html":true`), 422, v422, "The `html` field must be a string."},
		{"text array", b(`"text":["x"]`), 422, v422, "The `text` field must be a string."},
		{"from array", b(`"from":["a@acme.com"]`), 422, v422, "The `from` field must be a string."},
		{"to number", b(`"to":5`), 422, v422, "The `to` field must be a string or an array of strings."},
		{"to array of numbers", b(`"to":["a@example.com",5]`), 422, v422, "The `to` field must be a string or an array of strings."},
		{"to nested null", b(`"to":[null]`), 422, v422, "The `to` field must be a string or an array of strings."},
		{"cc object", b(`"cc":{}`), 422, v422, "The `cc` field must be a string or an array of strings."},
		{"bcc bool", b(`"bcc":false`), 422, v422, "The `bcc` field must be a string or an array of strings."},
		{"reply_to number", b(`"reply_to":1`), 422, v422, "The `reply_to` field must be a string or an array of strings."},
		{"headers array", b(`"headers":[]`), 422, v422, "The `headers` field must be an object of header names to string values."},
		{"headers string", b(`"headers":"X-A: 1"`), 422, v422, "The `headers` field must be an object of header names to string values."},
		{"header value number", b(`"headers":{"X-A":1}`), 422, v422, "The value of the `X-A` header must be a string."},
		{"header value null", b(`"headers":{"X-A":null}`), 422, v422, "The value of the `X-A` header must be a string."},
		{"tags object", b(`"tags":{"name":"a","value":"b"}`), 422, v422, "The `tags` field must be an array of objects with `name` and `value` strings."},
		{"tag not object", b(`"tags":["a"]`), 422, v422, "The `tags` field must be an array of objects with `name` and `value` strings."},
		{"tag name number", b(`"tags":[{"name":1,"value":"b"}]`), 422, v422, "The `tags[0].name` field must be a string."},
		{"attachments object", b(`"attachments":{}`), 422, v422, "The `attachments` field must be an array of objects."},
		{"attachment not object", b(`"attachments":["x"]`), 422, v422, "The `attachments[0]` field must be an object."},
		{"attachment filename number", b(`"attachments":[{"content":"aGk=","filename":1}]`), 422, v422, "The `attachments[0].filename` field must be a string."},
		{"attachment path number", b(`"attachments":[{"path":1}]`), 422, v422, "The `attachments[0].path` field must be a string."},
		{"attachment content_type number", b(`"attachments":[{"content":"aGk=","content_type":1}]`), 422, v422, "The `attachments[0].content_type` field must be a string."},
		{"attachment content_id number", b(`"attachments":[{"content":"aGk=","content_id":1}]`), 422, v422, "The `attachments[0].content_id` field must be a string."},
		{"scheduled_at number", b(`"scheduled_at":1700000000`), 422, v422, "The `scheduled_at` field must be a string."},
		{"topic_id number", b(`"topic_id":5`), 422, v422, "The `topic_id` field must be a string."},
		{"template string", b(`"template":"welcome"`), 422, v422, "The `template` field must be an object with an `id` string and a `variables` object."},
		{"template id number", b(`"html":null,"template":{"id":5}`), 422, v422, "The `template.id` field must be a string."},
		{"template variables array", b(`"html":null,"template":{"id":"t","variables":[1]}`), 422, v422, "The `template.variables` field must be an object."},

		// Invalid addresses.
		{"from plain word", b(`"from":"acme"`), 422, v422, invalidAddr("from")},
		{"from no dot in domain", b(`"from":"a@localhost"`), 422, v422, invalidAddr("from")},
		{"from name without brackets", b(`"from":"Acme a@acme.com"`), 422, v422, invalidAddr("from")},
		{"from two addresses", b(`"from":"a@acme.com, b@acme.com"`), 422, v422, invalidAddr("from")},
		{"from group syntax", b(`"from":"team: a@acme.com;"`), 422, v422, invalidAddr("from")},
		{"from comment", b(`"from":"a@acme.com (Acme)"`), 422, v422, invalidAddr("from")},
		{"from unicode domain", b(`"from":"José <jose@exämple.com>"`), 422, v422, invalidAddr("from")},
		{"from unicode local", b(`"from":"jösé@example.com"`), 422, v422, invalidAddr("from")},
		{"from ip literal", b(`"from":"a@[127.0.0.1]"`), 422, v422, invalidAddr("from")},
		{"from too long", b(`"from":"` + strings.Repeat("a", 64) + "@" + strings.Repeat("b", 60) + "." + strings.Repeat("c", 60) + "." + strings.Repeat("d", 60) + "." + strings.Repeat("e", 60) + "." + strings.Repeat("f", 20) + `.com"`), 422, v422,
			"Invalid `from` field: the domain of an address is longer than 253 octets."},
		{"from absurdly long", b(`"from":"` + strings.Repeat("a", 700) + `@example.com"`), 422, v422, invalidAddr("from")},
		{"to local part 65", b(`"to":"` + strings.Repeat("l", 65) + `@example.com"`), 422, v422,
			"Invalid `to` field: the local part of an address is longer than 64 octets."},
		{"reply_to local part 65", b(`"reply_to":["ok@example.com","R <` + strings.Repeat("l", 65) + `@example.com>"]`), 422, v422,
			"Invalid `reply_to` field: the local part of an address is longer than 64 octets."},
		{"reply_to label 64", b(`"reply_to":"r@` + strings.Repeat("x", 64) + `.example.com"`), 422, v422,
			"Invalid `reply_to` field: a label of an address's domain is longer than 63 octets."},
		{"cc domain 254", b(`"cc":"c@` + strings.Repeat("a", 63) + "." + strings.Repeat("b", 63) + "." + strings.Repeat("c", 63) + "." + strings.Repeat("d", 62) + `"`), 422, v422,
			"Invalid `cc` field: the domain of an address is longer than 253 octets."},
		{"reply_to too many", b(`"reply_to":` + addrs(51)), 422, v422, "Too many addresses in the `reply_to` field: the maximum is 50."},
		{"to invalid", b(`"to":"not-an-email"`), 422, v422, invalidAddr("to")},
		{"to one invalid of many", b(`"to":["ok@example.com","bad"]`), 422, v422, invalidAddr("to")},
		{"to empty item", b(`"to":["ok@example.com",""]`), 422, v422, invalidAddr("to")},
		{"cc invalid", b(`"cc":"x"`), 422, v422, invalidAddr("cc")},
		{"bcc invalid", b(`"bcc":["x y@example.com"]`), 422, v422, invalidAddr("bcc")},
		{"reply_to invalid", b(`"reply_to":"a@b@example.com"`), 422, v422, invalidAddr("reply_to")},
		{"to too many", b(`"to":` + addrs(51)), 422, v422, "Too many recipients in the `to` field: the maximum is 50."},
		{"cc too many", b(`"cc":` + addrs(51)), 422, v422, "Too many recipients in the `cc` field: the maximum is 50."},
		{"bcc too many", b(`"bcc":` + addrs(51)), 422, v422, "Too many recipients in the `bcc` field: the maximum is 50."},

		// Header injection, field by field.
		{"from CRLF", b(`"from":"Acme <a@acme.com>\r\nBcc: x@evil.com"`), 422, v422, breakMsg("from")},
		{"from LF in name", b(`"from":"Ac\nme <a@acme.com>"`), 422, v422, breakMsg("from")},
		{"to LF", b(`"to":["b@example.com\nBcc: x@evil.com"]`), 422, v422, breakMsg("to")},
		{"cc CR", b(`"cc":"c@example.com\rX: y"`), 422, v422, breakMsg("cc")},
		{"bcc NUL", b(`"bcc":"c@exam\u0000ple.com"`), 422, v422, breakMsg("bcc")},
		{"reply_to LF", b(`"reply_to":"R\n <r@example.com>"`), 422, v422, breakMsg("reply_to")},
		{"subject CRLF", b(`"subject":"Hi\r\nBcc: x@evil.com"`), 422, v422, breakMsg("subject")},
		{"subject LF", b(`"subject":"Hi\n"`), 422, v422, breakMsg("subject")},
		{"subject NUL", b(`"subject":"Hi\u0000"`), 422, v422, breakMsg("subject")},
		{"header name CRLF", b(`"headers":{"X-A\r\nBcc":"x"}`), 422, v422, "The `headers` field has a header name with line breaks (CR or LF) or NUL characters."},
		{"header value CRLF", b(`"headers":{"X-A":"1\r\nBcc: x@evil.com"}`), 422, v422, "The value of the `X-A` header must not contain line breaks (CR or LF) or NUL characters."},
		{"header value LF", b(`"headers":{"X-A":"1\n"}`), 422, v422, "The value of the `X-A` header must not contain line breaks (CR or LF) or NUL characters."},
		{"header value NUL", b(`"headers":{"X-A":"\u0000"}`), 422, v422, "The value of the `X-A` header must not contain line breaks (CR or LF) or NUL characters."},
		{"attachment filename LF", b(`"attachments":[{"content":"aGk=","filename":"a\n.txt"}]`), 422, v422, breakMsg("attachments[0].filename")},
		{"attachment content_type CRLF", b(`"attachments":[{"content":"aGk=","content_type":"text/plain\r\nX: y"}]`), 422, v422, breakMsg("attachments[0].content_type")},
		{"attachment content_id LF", b(`"attachments":[{"content":"aGk=","content_id":"a\nb"}]`), 422, v422, breakMsg("attachments[0].content_id")},
		{"attachment inline_content_id CR", b(`"attachments":[{"content":"aGk=","inline_content_id":"a\rb"}]`), 422, v422, breakMsg("attachments[0].inline_content_id")},
		{"tag name LF", b(`"tags":[{"name":"a\nb","value":"v"}]`), 422, v422, breakMsg("tags[0].name")},
		{"tag value CR", b(`"tags":[{"name":"n","value":"v\r"}]`), 422, v422, breakMsg("tags[0].value")},

		// Custom header names.
		{"header name space", b(`"headers":{"X A":"1"}`), 422, v422, "The `headers` field has an invalid header name `X A`: names must be printable ASCII without spaces or colons."},
		{"header name colon", b(`"headers":{"X:A":"1"}`), 422, v422, "The `headers` field has an invalid header name `X:A`: names must be printable ASCII without spaces or colons."},
		{"header name empty", b(`"headers":{"":"1"}`), 422, v422, "The `headers` field has an invalid header name ``: names must be printable ASCII without spaces or colons."},
		{"header name unicode", b(`"headers":{"X-É":"1"}`), 422, v422, "The `headers` field has an invalid header name `X-É`: names must be printable ASCII without spaces or colons."},
		{"owned From", b(`"headers":{"from":"x@evil.com"}`), 422, v422, "The `From` header cannot be set in `headers`: Godwit sets it."},
		{"owned Bcc", b(`"headers":{"BCC":"x@evil.com"}`), 422, v422, "The `Bcc` header cannot be set in `headers`: Godwit sets it."},
		{"owned Message-ID", b(`"headers":{"message-id":"<x@y>"}`), 422, v422, "The `Message-ID` header cannot be set in `headers`: Godwit sets it."},
		{"owned DKIM", b(`"headers":{"X-Ok":"1","Dkim-Signature":"v=1"}`), 422, v422, "The `DKIM-Signature` header cannot be set in `headers`: Godwit sets it."},
		{"owned Content-Type", b(`"headers":{"content-type":"text/plain"}`), 422, v422, "The `Content-Type` header cannot be set in `headers`: Godwit sets it."},

		// Tags.
		{"tag missing name", b(`"tags":[{"value":"v"}]`), 422, miss, "Missing `tags[0].name` field."},
		{"tag missing value", b(`"tags":[{"name":"ok","value":"v"},{"name":"n"}]`), 422, miss, "Missing `tags[1].value` field."},
		{"tag empty value", b(`"tags":[{"name":"n","value":""}]`), 422, miss, "Missing `tags[0].value` field."},
		{"tag bad chars", b(`"tags":[{"name":"has space","value":"v"}]`), 422, v422, "Tags should only contain ASCII letters, numbers, underscores, or dashes."},
		{"tag bad value", b(`"tags":[{"name":"n","value":"a.b"}]`), 422, v422, "Tags should only contain ASCII letters, numbers, underscores, or dashes."},
		{"tag unicode", b(`"tags":[{"name":"né","value":"v"}]`), 422, v422, "Tags should only contain ASCII letters, numbers, underscores, or dashes."},
		{"tag too long", b(`"tags":[{"name":"n","value":"` + strings.Repeat("v", 257) + `"}]`), 422, v422, "The `tags[0].value` field must be at most 256 characters."},
		{"too many tags", b(`"tags":[` + strings.TrimSuffix(strings.Repeat(`{"name":"n","value":"v"},`, 76), ",") + `]`), 422, v422, "Too many tags: an email can have at most 75 tags."},

		// Attachments.
		{"attachment neither", b(`"attachments":[{"filename":"a.txt"}]`), 422, att, "Attachment must have either a `content` or `path`."},
		{"attachment both", b(`"attachments":[{"content":"aGk=","path":"https://example.com/a.txt"}]`), 422, att, "Attachment must have either a `content` or `path`."},
		{"attachment empty content", b(`"attachments":[{"content":"","filename":"a.txt"}]`), 422, att, "Attachment must have either a `content` or `path`."},
		{"attachment null content", b(`"attachments":[{"content":null,"path":null}]`), 422, att, "Attachment must have either a `content` or `path`."},
		{"attachment bad base64", b(`"attachments":[{"content":"not base64!"}]`), 422, att, "The `attachments[0].content` field is not valid base64."},
		{"attachment base64 bad length", b(`"attachments":[{"content":"aGk=a"}]`), 422, att, "The `attachments[0].content` field is not valid base64."},
		{"attachment mixed alphabets", b(`"attachments":[{"content":"a+b-"}]`), 422, att, "The `attachments[0].content` field is not valid base64."},
		{"attachment bad data uri", b(`"attachments":[{"content":"data:text/plain,hello"}]`), 422, att, "The `attachments[0].content` field is not valid base64."},
		{"attachment byte 256", b(`"attachments":[{"content":[1,256]}]`), 422, att, "The `attachments[0].content` array must contain only integers from 0 to 255."},
		{"attachment byte huge", b(`"attachments":[{"content":[99999999999999999999999]}]`), 422, att, "The `attachments[0].content` array must contain only integers from 0 to 255."},
		{"attachment byte negative", b(`"attachments":[{"content":[-1]}]`), 422, att, "The `attachments[0].content` array must contain only integers from 0 to 255."},
		{"attachment byte fraction", b(`"attachments":[{"content":[1.5]}]`), 422, att, "The `attachments[0].content` array must contain only integers from 0 to 255."},
		{"attachment byte exponent", b(`"attachments":[{"content":[1e2]}]`), 422, att, "The `attachments[0].content` array must contain only integers from 0 to 255."},
		{"attachment byte string", b(`"attachments":[{"content":["1"]}]`), 422, att, "The `attachments[0].content` array must contain only integers from 0 to 255."},
		{"attachment byte nested", b(`"attachments":[{"content":[[1]]}]`), 422, att, "The `attachments[0].content` array must contain only integers from 0 to 255."},
		{"attachment buffer bad byte", b(`"attachments":[{"content":{"type":"Buffer","data":[300]}}]`), 422, att, "The `attachments[0].content` array must contain only integers from 0 to 255."},
		{"attachment content number", b(`"attachments":[{"content":5}]`), 422, att, "The `attachments[0].content` field must be a base64 string, an array of byte values or a Buffer."},
		{"attachment content other object", b(`"attachments":[{"content":{"type":"Blob","data":[1]}}]`), 422, att, "The `attachments[0].content` field must be a base64 string, an array of byte values or a Buffer."},
		{"attachment buffer data string", b(`"attachments":[{"content":{"type":"Buffer","data":"aGk="}}]`), 422, att, "The `attachments[0].content` field must be a base64 string, an array of byte values or a Buffer."},
		{"attachment second bad", b(`"attachments":[{"content":"aGk="},{"content":[-5]}]`), 422, att, "The `attachments[1].content` array must contain only integers from 0 to 255."},
		{"attachment path ftp", b(`"attachments":[{"path":"ftp://example.com/a.txt"}]`), 422, att, "The `attachments[0].path` field must be an absolute http or https URL."},
		{"attachment path relative", b(`"attachments":[{"path":"/files/a.txt"}]`), 422, att, "The `attachments[0].path` field must be an absolute http or https URL."},
		{"attachment path file", b(`"attachments":[{"path":"file:///etc/passwd"}]`), 422, att, "The `attachments[0].path` field must be an absolute http or https URL."},
		{"attachment path no host", b(`"attachments":[{"path":"https:///a.txt"}]`), 422, att, "The `attachments[0].path` field must be an absolute http or https URL."},
		{"attachment path CRLF", b(`"attachments":[{"path":"https://example.com/a\r\n.txt"}]`), 422, att, "The `attachments[0].path` field must be an absolute http or https URL."},
		{"attachment bad content_type", b(`"attachments":[{"content":"aGk=","content_type":"pdf"}]`), 422, v422, "The `attachments[0].content_type` field must be a MIME type such as `application/pdf`."},
		{"attachment content_id too long", b(`"attachments":[{"content":"aGk=","content_id":"` + strings.Repeat("c", 128) + `"}]`), 422, v422, "The `attachments[0].content_id` field must be shorter than 128 characters."},
		{"attachment content_id space", b(`"attachments":[{"content":"aGk=","content_id":"my logo"}]`), 422, v422, "The `attachments[0].content_id` field may only contain printable ASCII characters, without spaces or angle brackets."},

		// scheduled_at.
		{"scheduled_at garbage", b(`"scheduled_at":"someday"`), 422, v422, "Invalid `scheduled_at` field.*"},
		{"scheduled_at too far", b(`"scheduled_at":"2025-05-01T00:00:00Z"`), 422, v422, "The `scheduled_at` field must be at most 30 days in the future."},
		{"scheduled_at in 31 days", b(`"scheduled_at":"in 31 days"`), 422, v422, "The `scheduled_at` field must be at most 30 days in the future."},
		{"scheduled_at word", b(`"scheduled_at":"whenever"`), 422, v422, "Invalid `scheduled_at` field.*"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e, err := Decode([]byte(c.body), testOpts)
			require.Nil(t, e)
			requireAPIError(t, err, c.status, c.errNm, c.msg)
		})
	}
}

func TestSplitBatch(t *testing.T) {
	item := string(base(""))
	items := func(n int) string {
		s := make([]string, n)
		for i := range s {
			s[i] = item
		}
		return "[" + strings.Join(s, ",") + "]"
	}

	t.Run("items of any kind", func(t *testing.T) {
		got, err := SplitBatch([]byte(" [" + item + ",\n" + item + ", 5] "))
		require.NoError(t, err)
		require.Len(t, got, 3)
		require.JSONEq(t, item, string(got[0]))
		require.Equal(t, "5", string(got[2]))
		// A non-object item is Decode's to refuse.
		_, err = Decode(got[2], Options{Now: testNow, Batch: true})
		requireAPIError(t, err, 400, apierr.NameValidation, "Invalid JSON body: expected a JSON object.")
	})
	t.Run("100 items", func(t *testing.T) {
		got, err := SplitBatch([]byte(items(100)))
		require.NoError(t, err)
		require.Len(t, got, 100)
		for _, raw := range got {
			mustDecode(t, raw, Options{Now: testNow, Batch: true})
		}
	})

	for _, c := range []struct {
		name, body string
		status     int
		msg        string
	}{
		{"empty array", "[]", 422, "The batch is empty: send between 1 and 100 emails."},
		{"101 items", items(101), 422, "Too many emails in the batch: the maximum is 100."},
		{"object", item, 400, "Invalid JSON body: expected a JSON array of emails."},
		{"string", `"x"`, 400, "Invalid JSON body: expected a JSON array of emails."},
		{"malformed", "[" + item, 400, "Invalid JSON body: *"},
		{"empty", "", 400, "Invalid JSON body: the request body is empty."},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := SplitBatch([]byte(c.body))
			require.Nil(t, got)
			requireAPIError(t, err, c.status, apierr.NameValidation, c.msg)
		})
	}
}

func TestParseScheduledAtErrors(t *testing.T) {
	tooFar := "The `scheduled_at` field must be at most 30 days in the future."
	invalid := "Invalid `scheduled_at` field.*"
	for _, c := range []struct {
		in, msg string
		max     time.Duration
	}{
		{"in 31 days", tooFar, 0},
		{"in 5 weeks", tooFar, 0},
		{"in 2 months", tooFar, 0},
		{"in a month", tooFar, 0},
		{"in 1 year", tooFar, 0},
		{"in 999999999999999999 weeks", tooFar, 0},
		{"2025-04-12T15:30:46Z", tooFar, 0},
		{"2999-01-01T00:00:00Z", tooFar, 0},
		{"in 2 hours", "The `scheduled_at` field must be at most 1 hour in the future.", time.Hour},
		{"in 2 hours", "The `scheduled_at` field must be at most 90 minutes in the future.", 90 * time.Minute},
		{"in 3 days", "The `scheduled_at` field must be at most 2 days in the future.", 48 * time.Hour},
		{"soon", invalid, 0},
		{"not a date", invalid, 0},
		{"2025-13-45T00:00:00Z", invalid, 0},
		{"hello tomorrow world", invalid, 0},
		{"tomorrow\nat 9am", invalid, 0},
		{"in -5 minutes", invalid, 0},
		{"in 5 fortnights", invalid, 0},
		{"in am", invalid, 0},
		{"ET", invalid, 0},
		{strings.Repeat("tomorrow ", 40), invalid, 0},
	} {
		name := c.in
		if c.max != 0 {
			name += " with max " + c.max.String()
		}
		t.Run(name, func(t *testing.T) {
			got, err := ParseScheduledAt(c.in, testNow, c.max)
			require.Nil(t, got)
			requireAPIError(t, err, 422, apierr.NameValidation, c.msg)
		})
	}
}

func TestDecodeBatchMatchesDecode(t *testing.T) {
	now := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	good := `{"from":"a@example.com","to":["b@example.net"],"subject":"s","html":"<p>\u00e9</p>","tags":[{"name":"a","value":"b"}]}`
	bad := `{"from":"a@example.com","to":"nope","subject":"s","html":"x"}`
	withAttachment := `{"from":"a@example.com","to":"b@example.net","subject":"s","html":"x","attachments":[{"content":"aGk=","filename":"a.txt"}]}`
	emails, errs, err := DecodeBatch([]byte(`[`+good+`,`+bad+`,5,`+withAttachment+`]`), Options{Now: now})
	require.NoError(t, err)
	require.Len(t, emails, 4)
	want, err := Decode([]byte(good), Options{Now: now, Batch: true})
	require.NoError(t, err)
	require.Equal(t, want, emails[0])
	require.NoError(t, errs[0])
	_, wantErr := Decode([]byte(bad), Options{Now: now, Batch: true})
	require.Equal(t, wantErr, errs[1])
	require.Nil(t, emails[1])
	require.Error(t, errs[2], "an item that is not an object")
	require.Contains(t, errs[3].Error(), "Attachments are not supported in batch")

	_, _, err = DecodeBatch([]byte(`[`), Options{Now: now})
	require.Error(t, err)
	_, _, err = DecodeBatch([]byte(`[]`), Options{Now: now})
	require.Error(t, err)
}
