package api

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"
	"github.com/stretchr/testify/require"
)

// Every response the API tests receive is held to Resend's OpenAPI document
// (testdata/resend-openapi.yaml, a copy of the reference): a 2xx JSON body of
// an operation the document describes must match its schema. Where the
// official SDKs type a field as nullable and the document does not, Godwit
// follows the SDKs; those fields are listed in openapiNullable and
// docs/compatibility.md.

// openapiNullable lists "schema.property" names whose null value the SDKs
// expect (their types say `| null`) although the document types them without
// null. A null in one of them is accepted; any other null fails.
var openapiNullable = map[string]bool{
	// Email: resend-node's GetEmailResponseSuccess / ListEmails types.
	"bcc": true, "cc": true, "reply_to": true, "text": true, "html": true, "scheduled_at": true,
	// Contact: first_name and last_name are `string | null`.
	"first_name": true, "last_name": true,
	// Topic, template and contact property descriptions and fallbacks.
	"description": true, "fallback_value": true, "alias": true, "from": true,
	"subject": true, "reply_to_address": true, "preview_text": true,
	// Broadcast: sent_at and scheduled_at are null until it is sent or scheduled.
	"sent_at": true, "name": true, "topic_id": true,
	// Suppression: source_id is null for one added through the API.
	"source_id": true,
	// Received emails' attachments: the document marks filename and
	// content_disposition `nullable: true`, a 3.0 keyword its 3.1 schemas
	// do not apply; the reference (§f) has content_id null too.
	"filename": true, "content_disposition": true, "content_id": true,
}

// openapiAnyJSON lists properties the SDKs type `unknown` although the
// document says object: a log's request_body is the array a batch sent
// (resend-node's Log type). A value that is not an object is accepted.
var openapiAnyJSON = map[string]bool{"request_body": true}

// openapiEnumAdditions are enum values Godwit returns beyond the document's:
// a domain's records include the DMARC record Godwit recommends.
var openapiEnumAdditions = map[string][]string{
	"record": {"DMARC"},
}

// openapiPropertyAdditions are properties Godwit returns beyond the
// v1.5.0 document, held to the schema Resend gave them: an email's bounce
// (GET /emails/{id} when last_event is bounced; resend-openapi PR #80,
// reverted from the document by #82 while the API kept returning it;
// resend-node PR #1030 types it). A property the document does not list is
// not checked at all, so without this a bounce of any shape would pass.
var openapiPropertyAdditions = map[string]map[string]*openapi3.Schema{
	"Email": {"bounce": openapi3.NewObjectSchema().
		WithProperty("message", openapi3.NewStringSchema()).
		WithProperty("type", openapi3.NewStringSchema().WithEnum("Permanent", "Transient", "Undetermined")).
		WithProperty("subType", openapi3.NewStringSchema().WithEnum("Undetermined", "General", "NoEmail",
			"MailboxFull", "MessageTooLarge", "ContentRejected", "AttachmentRejected")).
		WithProperty("diagnosticCode", openapi3.NewArraySchema().WithItems(openapi3.NewStringSchema())).
		WithRequired([]string{"message", "type", "subType"}).
		WithoutAdditionalProperties()},
}

type openapiDoc struct {
	router routers.Router
	err    error
}

var (
	openapiOnce sync.Once
	openapiRef  openapiDoc
)

func loadOpenAPI() (routers.Router, error) {
	openapiOnce.Do(func() {
		loader := openapi3.NewLoader()
		doc, err := loader.LoadFromFile("testdata/resend-openapi.yaml")
		if err != nil {
			openapiRef.err = fmt.Errorf("load OpenAPI document: %w", err)
			return
		}
		for _, ref := range doc.Components.Schemas {
			addEnums(ref, map[*openapi3.Schema]bool{})
		}
		for name, props := range openapiPropertyAdditions {
			ref := doc.Components.Schemas[name]
			if ref == nil || ref.Value == nil {
				openapiRef.err = fmt.Errorf("OpenAPI document: no schema %s to add properties to", name)
				return
			}
			for prop, schema := range props {
				ref.Value.WithProperty(prop, schema)
			}
		}
		// Routes are matched on the path alone: the test server's host is
		// not Resend's.
		doc.Servers = openapi3.Servers{{URL: "https://api.resend.com"}}
		openapiRef.router, openapiRef.err = gorillamux.NewRouter(doc)
	})
	return openapiRef.router, openapiRef.err
}

// addEnums extends the enums of the properties named in openapiEnumAdditions.
func addEnums(ref *openapi3.SchemaRef, seen map[*openapi3.Schema]bool) {
	if ref == nil || ref.Value == nil || seen[ref.Value] {
		return
	}
	s := ref.Value
	seen[s] = true
	for name, p := range s.Properties {
		if extra, ok := openapiEnumAdditions[name]; ok && p.Value != nil && len(p.Value.Enum) > 0 {
			for _, v := range extra {
				p.Value.Enum = append(p.Value.Enum, v)
			}
		}
		addEnums(p, seen)
	}
	addEnums(s.Items, seen)
	for _, list := range []openapi3.SchemaRefs{s.AllOf, s.AnyOf, s.OneOf} {
		for _, r := range list {
			addEnums(r, seen)
		}
	}
}

// checkOpenAPI validates one response against the document. It returns nil
// for operations the document does not describe and for non-2xx or non-JSON
// responses.
func checkOpenAPI(req *http.Request, status int, header http.Header, body []byte) error {
	if status < 200 || status > 299 || !strings.HasPrefix(header.Get("Content-Type"), "application/json") {
		return nil
	}
	router, err := loadOpenAPI()
	if err != nil {
		return err
	}
	u := *req.URL
	u.Scheme, u.Host = "https", "api.resend.com"
	r := req.Clone(context.Background())
	r.URL = &u
	route, params, err := router.FindRoute(r)
	if err != nil {
		return nil // not an operation of the document (Godwit's own, or a 404 path)
	}
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{
			Request: r, PathParams: params, Route: route,
			Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc},
		},
		Status: status,
		Header: header,
		Body:   io.NopCloser(bytes.NewReader(stripAllowedNulls(route.Operation, status, body))),
		Options: &openapi3filter.Options{
			IncludeResponseStatus: false,
			MultiError:            true,
		},
	}
	if err := openapi3filter.ValidateResponse(context.Background(), in); err != nil {
		return fmt.Errorf("%s %s → %d does not match the OpenAPI document: %w\nbody: %s", req.Method, req.URL.Path, status, err, body)
	}
	return nil
}

// stripAllowedNulls removes the null values of openapiNullable fields from a
// JSON body before validation, wherever they appear.
func stripAllowedNulls(_ *openapi3.Operation, _ int, body []byte) []byte {
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		return body
	}
	var walk func(any)
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			for k, val := range x {
				if val == nil && openapiNullable[k] {
					delete(x, k)
					continue
				}
				if _, isObject := val.(map[string]any); openapiAnyJSON[k] && !isObject {
					delete(x, k)
					continue
				}
				walk(val)
			}
		case []any:
			for _, val := range x {
				walk(val)
			}
		}
	}
	walk(v)
	out, err := json.Marshal(v)
	if err != nil {
		return body
	}
	return out
}

// openapiValidating wraps the API handler so that every response it writes
// is checked against the document; a mismatch fails the test.
func openapiValidating(t testing.TB, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := &teeWriter{ResponseWriter: w}
		next.ServeHTTP(rec, r)
		if rec.status == 0 {
			rec.status = http.StatusOK
		}
		if err := checkOpenAPI(r, rec.status, w.Header(), rec.body.Bytes()); err != nil {
			t.Errorf("%v", err)
		}
	})
}

// teeWriter passes a response through and keeps a copy of its status and body.
type teeWriter struct {
	http.ResponseWriter
	status int
	body   bytes.Buffer
}

func (w *teeWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *teeWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	w.body.Write(p)
	return w.ResponseWriter.Write(p)
}

func (w *teeWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (w *teeWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// TestOpenAPICheckFails: the check is not a no-op: a response that breaks
// the document's schema for an operation it describes is refused.
func TestOpenAPICheckFails(t *testing.T) {
	req := httptest.NewRequest(http.MethodGet, "/domains", nil)
	h := http.Header{"Content-Type": {"application/json"}}
	require.Error(t, checkOpenAPI(req, 200, h, []byte(`{"object":"list","data":[{"id":1}]}`)))
	require.Error(t, checkOpenAPI(req, 200, h, []byte(`{"object":"list","data":"nope"}`)))
	require.NoError(t, checkOpenAPI(req, 200, h, []byte(`{"object":"list","has_more":false,"data":[]}`)))
	// An email's bounce is held to the schema Resend gave it.
	email := httptest.NewRequest(http.MethodGet, "/emails/"+"4ef9a417-02e9-4d39-ad75-9611e0fcc33c", nil)
	const base = `{"object":"email","id":"4ef9a417-02e9-4d39-ad75-9611e0fcc33c","to":["a@example.com"],"from":"b@example.com",
		"created_at":"2026-11-28 12:00:00+00","subject":"s","last_event":"bounced","bounce":`
	require.NoError(t, checkOpenAPI(email, 200, h, []byte(base+`{"message":"m","type":"Permanent","subType":"NoEmail","diagnosticCode":["smtp; 550 5.1.1 x"]}}`)))
	require.Error(t, checkOpenAPI(email, 200, h, []byte(base+`{"message":"m","type":"Permanent","subType":"NoEmail","diagnosticCode":"smtp; 550"}}`)))
	require.Error(t, checkOpenAPI(email, 200, h, []byte(base+`{"message":"m","type":"Hard","subType":"NoEmail"}}`)))
	require.Error(t, checkOpenAPI(email, 200, h, []byte(base+`{"message":"m","type":"Permanent","subType":"NoEmail","extra":1}}`)))
	// Operations the document does not describe are not checked.
	other := httptest.NewRequest(http.MethodGet, "/"+url.PathEscape("godwit-own"), nil)
	require.NoError(t, checkOpenAPI(other, 200, h, []byte(`{"anything":1}`)))
}
