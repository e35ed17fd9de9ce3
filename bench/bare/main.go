// Command bare is the ceiling for bench/load: a bare net/http server whose
// POST /emails and POST /emails/batch handlers only read the body, decode it
// into a struct with the fields of a Resend send-email request and answer with
// fresh UUID v4 ids. No auth, no validation beyond JSON decoding, no storage.
// Whatever Godwit achieves is measured against what this achieves on the same
// machine.
//
//	go run ./bench/bare -addr 127.0.0.1:8090
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/google/uuid"
)

// maxBody bounds a request body (a batch of 100 emails of 40 MB each would be
// far larger, but this is a benchmark ceiling, not a full implementation).
const maxBody = 64 << 20

type tag struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

type email struct {
	From    string   `json:"from"`
	To      []string `json:"to"`
	Subject string   `json:"subject"`
	HTML    string   `json:"html"`
	Text    string   `json:"text"`
	Tags    []tag    `json:"tags"`
}

type idResponse struct {
	ID string `json:"id"`
}

type batchResponse struct {
	Data []idResponse `json:"data"`
}

func main() {
	addr := flag.String("addr", "127.0.0.1:8090", "listen address (keep it on loopback)")
	flag.Parse()

	mux := http.NewServeMux()
	mux.HandleFunc("POST /emails", func(w http.ResponseWriter, r *http.Request) {
		var e email
		if !decode(w, r, &e) {
			return
		}
		writeJSON(w, http.StatusOK, idResponse{ID: uuid.NewString()})
	})
	mux.HandleFunc("POST /emails/batch", func(w http.ResponseWriter, r *http.Request) {
		var es []email
		if !decode(w, r, &es) {
			return
		}
		resp := batchResponse{Data: make([]idResponse, len(es))}
		for i := range resp.Data {
			resp.Data[i].ID = uuid.NewString()
		}
		writeJSON(w, http.StatusOK, resp)
	})
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = io.WriteString(w, "ok\n")
	})

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	srv := &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       60 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
	}
	fmt.Fprintf(os.Stderr, "bare: listening on http://%s (pid %d)\n", ln.Addr(), os.Getpid())

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		if !errors.Is(err, http.ErrServerClosed) {
			log.Fatal(err)
		}
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}
}

func decode(w http.ResponseWriter, r *http.Request, v any) bool {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		writeJSON(w, http.StatusRequestEntityTooLarge, errorResponse{413, "validation_error", err.Error()})
		return false
	}
	if err := json.Unmarshal(body, v); err != nil {
		writeJSON(w, http.StatusUnprocessableEntity, errorResponse{422, "validation_error", err.Error()})
		return false
	}
	return true
}

type errorResponse struct {
	StatusCode int    `json:"statusCode"`
	Name       string `json:"name"`
	Message    string `json:"message"`
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}
