package api

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"time"

	"golang.org/x/sync/semaphore"

	"github.com/godwit/godwit/internal/apierr"
	"github.com/godwit/godwit/internal/contactimport"
)

// Request bodies are bounded three ways before a handler reads them whole:
//
//   - Size: every route has a limit (bodyLimit). A Content-Length over it
//     is a 413 before any of the body is read; a chunked body is cut off by
//     http.MaxBytesReader when it passes the limit. Either way the
//     connection is closed rather than drained.
//   - Memory: bodies over admitFreeBytes are admitted a few at a time, by a
//     weighted semaphore on bytes (BodyLimits.Memory): a request with a
//     Content-Length waits for that many bytes (capped at the whole budget,
//     so that one request larger than the budget runs alone); a chunked one
//     reads its first admitFreeBytes freely and then waits for each further
//     admitChunk before reading it. A request that is not admitted within
//     BodyLimits.AdmissionWait (or before its context ends) is a 503
//     service_unavailable with Retry-After.
//   - Time: the body must arrive at BodyLimits.MinRate on average after a
//     grace period (BodyLimits.Grace), and within BodyLimits.MaxTime in
//     all. The read deadline of the connection (or HTTP/2 stream) is moved
//     as bytes arrive; a body that falls behind is a 408 request_timeout on
//     HTTP/1.1 (and the connection is closed); on HTTP/2 the stream is reset.

const (
	// smallBodyBytes is the limit of every route not listed in bodyLimit.
	smallBodyBytes = 1 << 20
	// admitFreeBytes is how much of a body is read without admission.
	admitFreeBytes = 1 << 20
	// admitChunk is what a chunked body is admitted by, beyond admitFreeBytes.
	admitChunk = 1 << 20
)

// BodyLimits bound the memory and time that request bodies take.
type BodyLimits struct {
	// Memory is how many bytes of bodies larger than 1 MiB are admitted at
	// once (0: 256 MiB).
	Memory int64
	// AdmissionWait is the longest a request waits to be admitted (0: 60 s).
	AdmissionWait time.Duration
	// MinRate is the slowest a body may arrive, in bytes per second, once
	// Grace has passed (0: 64 KiB/s).
	MinRate int64
	// Grace is how long a body may take before MinRate applies (0: 10 s).
	Grace time.Duration
	// MaxTime is the longest a body may take however fast it arrives (0: 10 min).
	MaxTime time.Duration
}

func (b BodyLimits) withDefaults() BodyLimits {
	if b.Memory <= 0 {
		b.Memory = 256 << 20
	}
	if b.AdmissionWait <= 0 {
		b.AdmissionWait = time.Minute
	}
	if b.MinRate <= 0 {
		b.MinRate = 64 << 10
	}
	if b.Grace <= 0 {
		b.Grace = 10 * time.Second
	}
	if b.MaxTime <= 0 {
		b.MaxTime = 10 * time.Minute
	}
	return b
}

// bodyLimit is the size limit of a route's request body. Sending takes up to
// MaxBodyBytes (a 40 MB email whose attachments are arrays of byte values is
// larger than 40 MB on the wire), and so do templates and broadcasts, whose
// content becomes an email; a contact import takes its 50 MB CSV and the
// form around it. Every other route takes small JSON objects.
// The 413 names the limit.
func (h *Handler) bodyLimit(pattern string) (int64, *apierr.Error) {
	switch pattern {
	case "POST /emails", "POST /emails/batch",
		"POST /templates", "PATCH /templates/{id_or_alias}",
		"POST /broadcasts", "PATCH /broadcasts/{id}":
		return h.MaxBodyBytes, errBodyTooLarge(h.MaxBodyBytes)
	case "POST /contacts/imports":
		return contactimport.MaxBytes + 1<<20, errImportTooLarge
	}
	return smallBodyBytes, errBodyTooLarge(smallBodyBytes)
}

var (
	errBodyTimeout = apierr.New(http.StatusRequestTimeout, apierr.NameRequestTimeout,
		"The request body arrived too slowly.")
	errBodyBusy = apierr.New(http.StatusServiceUnavailable, apierr.NameServiceUnavailable,
		"The server is receiving too many large requests at once. Retry later.")
)

func errBodyTooLarge(limit int64) *apierr.Error {
	return apierr.New(http.StatusRequestEntityTooLarge, apierr.NameValidation,
		fmt.Sprintf("The request body is larger than the %s limit.", formatLimit(limit)))
}

func formatLimit(n int64) string {
	if n >= 1<<20 {
		return strconv.FormatInt(n>>20, 10) + " MB"
	}
	return strconv.FormatInt(n>>10, 10) + " KB"
}

// refuseBody answers before the body is read, and closes the connection
// instead of reading what the client is still sending.
func refuseBody(w http.ResponseWriter, r *http.Request, err *apierr.Error) {
	closeAfter(w, r)
	if err.StatusCode == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", "1")
	}
	apierr.Write(w, err)
}

// guardBody applies a route's body limit, admission and minimum rate.
func (h *Handler) guardBody(limit int64, tooLarge *apierr.Error, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Body == nil || r.Body == http.NoBody {
			next.ServeHTTP(w, r)
			return
		}
		if r.ContentLength > limit {
			refuseBody(w, r, tooLarge)
			return
		}
		g := &guardedBody{h: h, w: w, r: r, rc: http.NewResponseController(w), ctx: r.Context(),
			body: http.MaxBytesReader(w, r.Body, limit), tooLarge: tooLarge}
		defer g.release()
		switch {
		case r.ContentLength > admitFreeBytes:
			if err := g.admit(min(r.ContentLength, h.Bodies.Memory)); err != nil {
				refuseBody(w, r, err)
				return
			}
		case r.ContentLength < 0:
			g.chunked = true
		}
		r.Body = g
		next.ServeHTTP(w, r)
	})
}

// guardedBody is a request body read under the limits. It is read by one
// goroutine, the handler's.
type guardedBody struct {
	h    *Handler
	w    http.ResponseWriter
	r    *http.Request
	rc   *http.ResponseController
	ctx  context.Context
	body io.ReadCloser

	tooLarge *apierr.Error // the route's 413

	chunked  bool      // no Content-Length: admitted chunk by chunk
	held     int64     // bytes of the budget held
	read     int64     // bytes read
	start    time.Time // when the first read began, moved on by the time spent waiting for admission
	deadline time.Time // the read deadline last set
	err      error     // returned by every Read after the first failure
}

// admit takes n bytes of the budget, waiting at most AdmissionWait.
func (g *guardedBody) admit(n int64) *apierr.Error {
	ctx, cancel := context.WithTimeout(g.ctx, g.h.Bodies.AdmissionWait)
	defer cancel()
	if err := g.h.admission.Acquire(ctx, n); err != nil {
		return errBodyBusy
	}
	g.held += n
	return nil
}

func (g *guardedBody) release() {
	if g.held > 0 {
		g.h.admission.Release(g.held)
		g.held = 0
	}
}

func (g *guardedBody) Read(p []byte) (int, error) {
	if g.err != nil {
		return 0, g.err
	}
	if g.start.IsZero() {
		g.start = time.Now()
	}
	if g.chunked && g.held+admitChunk <= g.h.Bodies.Memory {
		// Read only what is admitted; wait for the next chunk when none is
		// left. A body that holds the whole budget reads on alone.
		left := admitFreeBytes + g.held - g.read
		if left <= 0 {
			waited := time.Now()
			if err := g.admit(admitChunk); err != nil {
				return 0, g.fail(err)
			}
			g.start = g.start.Add(time.Since(waited))
			left = admitChunk
		}
		if int64(len(p)) > left {
			p = p[:left]
		}
	}
	g.extendDeadline()
	n, err := g.body.Read(p)
	g.read += int64(n)
	switch {
	case err == io.EOF:
		// The server's own deadlines apply again (it reads the next
		// request, or watches for the client going away).
		_ = g.rc.SetReadDeadline(time.Time{})
	case errors.Is(err, os.ErrDeadlineExceeded):
		return n, g.fail(errBodyTimeout)
	case err != nil:
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return n, g.fail(g.tooLarge)
		}
		g.err = err
	}
	return n, err
}

// fail ends the body with err, and asks for the connection to be closed
// after the answer (what is left of the body is not read).
func (g *guardedBody) fail(err *apierr.Error) error {
	g.err = err
	closeAfter(g.w, g.r)
	return err
}

// closeAfter asks for an HTTP/1 connection to be closed after the answer.
// (On HTTP/2 it would close every stream of the connection; the server
// resets the one stream whose body is left unread instead.)
func closeAfter(w http.ResponseWriter, r *http.Request) {
	if r.ProtoMajor == 1 {
		w.Header().Set("Connection", "close")
	}
}

// extendDeadline moves the read deadline to when the bytes read so far
// would have taken at the minimum rate, after the grace period, and never
// past MaxTime. It is moved in steps of at least 100 ms.
func (g *guardedBody) extendDeadline() {
	b := g.h.Bodies
	d := g.start.Add(b.Grace + time.Duration(float64(g.read)/float64(b.MinRate)*float64(time.Second)))
	if end := g.start.Add(b.MaxTime); d.After(end) {
		d = end
	}
	if !g.deadline.IsZero() && d.Sub(g.deadline) < 100*time.Millisecond {
		return
	}
	// A ResponseWriter that cannot set deadlines (ErrNotSupported) leaves
	// the server's own ReadTimeout in charge.
	if err := g.rc.SetReadDeadline(d); err == nil {
		g.deadline = d
	}
}

func (g *guardedBody) Close() error { return g.body.Close() }

// newAdmission is the semaphore of BodyLimits.Memory bytes.
func newAdmission(b BodyLimits) *semaphore.Weighted { return semaphore.NewWeighted(b.Memory) }
