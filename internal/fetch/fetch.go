// Package fetch downloads an attachment given by URL (the `path` field of a
// send request) for the delivery worker.
//
// Invariants:
//
//   - Only absolute http and https URLs without userinfo are fetched, with a
//     GET; only a 200 response is accepted.
//   - At most MaxBytes of body are ever read: a Content-Length above the
//     limit is refused before reading, and the body is counted while it is
//     read (chunked or compressed bodies included).
//   - Timeout bounds the whole fetch, redirects and body included.
//   - Every error is an *Error whose message is short, human-readable and
//     free of secrets: URLs appear without userinfo, query or fragment.
//     Permanent tells the worker whether retrying later can help.
//   - The zero Fetcher dials through netguard.Policy{}: non-public
//     addresses are refused at connect time. A Fetcher given its own Client
//     is only as safe as that Client; build it with netguard.
package fetch

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/godwit/godwit/internal/netguard"
)

const (
	// DefaultMaxBytes is the body limit when MaxBytes is 0: Resend's limit
	// on a whole email, which no single attachment can exceed.
	DefaultMaxBytes = 40_000_000
	// DefaultTimeout is the whole-fetch timeout when Timeout is 0.
	DefaultTimeout = 30 * time.Second
	// DefaultUserAgent is sent when UserAgent is "".
	DefaultUserAgent = "Godwit attachment fetcher"
)

// Fetcher downloads attachments. Its fields are read-only once Fetch is
// called; a Fetcher may be used by several goroutines at once.
type Fetcher struct {
	// Client does the requests. nil means a client from
	// netguard.Policy{}.HTTPClient(Timeout), built on each Fetch; set it to
	// share connections, or to allow private networks.
	Client *http.Client
	// MaxBytes limits the body size; 0 means DefaultMaxBytes.
	MaxBytes int64
	// Timeout bounds each Fetch, body included; 0 means DefaultTimeout.
	Timeout time.Duration
	// UserAgent is sent as the User-Agent header; "" means DefaultUserAgent.
	UserAgent string
}

// Error is the error Fetch returns.
type Error struct {
	// URL is the URL fetched, without userinfo, query or fragment ("" when
	// it could not be parsed).
	URL string
	// StatusCode is the response status, 0 when there was no response.
	StatusCode int
	// Msg says what went wrong, e.g. "HTTP status 404 Not Found".
	Msg string
	// Err is the underlying error, if any. Its text may hold more than Msg
	// (it is not part of Error()), so log Msg, not Err.
	Err error

	permanent bool
}

func (e *Error) Error() string {
	if e.URL == "" {
		return "fetch: " + e.Msg
	}
	return "fetch " + e.URL + ": " + e.Msg
}

func (e *Error) Unwrap() error { return e.Err }

// Permanent reports whether err means retrying the fetch later cannot help:
// an invalid URL or scheme, a URL with userinfo, a non-public address
// (netguard.RefusedError), a redirect refused by netguard, a body over the
// limit, a 4xx response other than 408 and 429, or any other non-200
// response outside 5xx. Timeouts, connection and read errors, 5xx, 408 and
// 429 are temporary: Permanent returns false for them, and for nil.
func Permanent(err error) bool {
	var fe *Error
	if errors.As(err, &fe) {
		return fe.permanent
	}
	var re *netguard.RefusedError
	return errors.As(err, &re)
}

// Fetch GETs rawURL and returns its body and Content-Type header (as sent,
// "" when absent). Errors are *Error; see Permanent.
func (f *Fetcher) Fetch(ctx context.Context, rawURL string) (data []byte, contentType string, err error) {
	u, ferr := parseURL(rawURL)
	if ferr != nil {
		return nil, "", ferr
	}
	shown := redact(u)

	timeout := f.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	maxBytes := f.MaxBytes
	if maxBytes <= 0 {
		maxBytes = DefaultMaxBytes
	}
	client := f.Client
	if client == nil {
		client = netguard.Policy{}.HTTPClient(timeout)
		defer client.CloseIdleConnections() // nobody else will use it
	}
	ua := f.UserAgent
	if ua == "" {
		ua = DefaultUserAgent
	}

	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, "", &Error{URL: shown, Msg: "invalid URL", Err: err, permanent: true}
	}
	req.Header.Set("User-Agent", ua)

	resp, err := client.Do(req)
	if err != nil {
		return nil, "", requestError(ctx, shown, timeout, err)
	}
	defer resp.Body.Close()

	if resp.StatusCode != http.StatusOK {
		return nil, "", statusError(shown, resp.StatusCode)
	}
	if resp.ContentLength > maxBytes {
		return nil, "", tooLarge(shown, maxBytes)
	}

	var buf bytes.Buffer
	if resp.ContentLength > 0 {
		buf.Grow(int(min(resp.ContentLength, 1<<20)))
	}
	n, err := buf.ReadFrom(io.LimitReader(resp.Body, maxBytes+1))
	if n > maxBytes {
		return nil, "", tooLarge(shown, maxBytes)
	}
	if err != nil {
		e := requestError(ctx, shown, timeout, err)
		if !isTimeout(ctx, err) {
			e.Msg = "reading the body: " + e.Msg
		}
		return nil, "", e
	}
	return buf.Bytes(), strings.TrimSpace(resp.Header.Get("Content-Type")), nil
}

// parseURL accepts an absolute http or https URL with a host and without
// userinfo.
func parseURL(rawURL string) (*url.URL, *Error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		// url.Error repeats the whole URL, secrets included: keep only the
		// reason.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, &Error{Msg: "invalid URL: " + err.Error(), Err: err, permanent: true}
	}
	shown := redact(u)
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		if u.Scheme == "" {
			return nil, &Error{Msg: "not an absolute URL", permanent: true}
		}
		return nil, &Error{URL: shown, Msg: fmt.Sprintf("unsupported scheme %q: only http and https", u.Scheme), permanent: true}
	case u.User != nil:
		return nil, &Error{URL: shown, Msg: "URLs with a user name or password are not fetched", permanent: true}
	case u.Host == "" || u.Hostname() == "":
		return nil, &Error{URL: shown, Msg: "the URL has no host", permanent: true}
	}
	return u, nil
}

// redact is u without userinfo, query or fragment.
func redact(u *url.URL) string {
	r := url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path, RawPath: u.RawPath, Opaque: u.Opaque}
	return r.String()
}

func tooLarge(shown string, maxBytes int64) *Error {
	return &Error{URL: shown, StatusCode: http.StatusOK, Msg: fmt.Sprintf("the body is larger than %d bytes", maxBytes), permanent: true}
}

func statusError(shown string, code int) *Error {
	msg := fmt.Sprintf("HTTP status %d", code)
	if t := http.StatusText(code); t != "" {
		msg += " " + t
	}
	permanent := true
	switch {
	case code >= 500, code == http.StatusRequestTimeout, code == http.StatusTooManyRequests:
		permanent = false
	}
	return &Error{URL: shown, StatusCode: code, Msg: msg, permanent: permanent}
}

// isTimeout reports whether err comes from the fetch's deadline (or a
// transport timeout) rather than a caller's cancellation or a network fault.
func isTimeout(ctx context.Context, err error) bool {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) || errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	var te interface{ Timeout() bool }
	return errors.As(err, &te) && te.Timeout()
}

// requestError classifies an error from Client.Do or from reading the body.
func requestError(ctx context.Context, shown string, timeout time.Duration, err error) *Error {
	// *url.Error repeats the URL (a redirect target's included) with its
	// query: keep only what is inside.
	inner := err
	var ue *url.Error
	if errors.As(err, &ue) {
		inner = ue.Err
	}
	var re *netguard.RefusedError
	switch {
	case errors.As(err, &re):
		return &Error{URL: shown, Msg: re.Error(), Err: re, permanent: true}
	case errors.Is(err, netguard.ErrTooManyRedirects), errors.Is(err, netguard.ErrRedirectScheme):
		return &Error{URL: shown, Msg: inner.Error(), Err: inner, permanent: true}
	case isTimeout(ctx, err):
		return &Error{URL: shown, Msg: "timed out after " + timeout.String(), Err: inner}
	case errors.Is(err, context.Canceled):
		return &Error{URL: shown, Msg: "canceled", Err: inner}
	}
	return &Error{URL: shown, Msg: inner.Error(), Err: inner}
}

// Permanent reports whether err, returned by f.Fetch, will not go away by
// retrying (see the package function Permanent).
func (f *Fetcher) Permanent(err error) bool { return Permanent(err) }
