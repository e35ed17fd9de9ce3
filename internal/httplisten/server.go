package httplisten

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
)

// Server serves an http.Server on Addr as one of serve's long-running
// parts: Start listens and serves, Stop drains (http.Server.Shutdown).
type Server struct {
	Addr string
	// Listener, when set, is the already bound listener to serve instead
	// of listening on Addr (serve binds every port before it prints
	// anything). Start takes it over: Stop and Close close it.
	Listener net.Listener
	HTTP     *http.Server
	// TLSConfig terminates TLS on the listener (TLS); without it the
	// connections are Plain.
	TLSConfig *tls.Config
	// Raw serves the connections as accepted, with neither TLS nor the
	// envelope rewrite (the profiling endpoints).
	Raw bool
	// Logger receives handshake panics (nil: not logged).
	Logger *slog.Logger
	// Listening, when set, is called with the bound address before
	// serving begins (to log it).
	Listening func(net.Addr)

	ln     net.Listener
	failed chan error
}

// Start listens on Addr and serves HTTP until Stop or Close.
func (s *Server) Start(context.Context) error {
	ln := s.Listener
	if ln == nil {
		var err error
		if ln, err = net.Listen("tcp", s.Addr); err != nil {
			return fmt.Errorf("listen on %s: %w", s.Addr, err)
		}
	}
	switch {
	case s.Raw:
	case s.TLSConfig != nil:
		ln = TLS(ln, s.TLSConfig, s.Logger)
	default:
		ln = Plain(ln)
	}
	s.ln = ln
	s.failed = make(chan error, 1)
	if s.Listening != nil {
		s.Listening(ln.Addr())
	}
	go func() {
		if err := s.HTTP.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			s.failed <- fmt.Errorf("http server: %w", err)
		}
	}()
	return nil
}

// Stop stops accepting and waits for the requests in flight until ctx
// ends (then returns its error; Close cuts them off).
func (s *Server) Stop(ctx context.Context) error { return s.HTTP.Shutdown(ctx) }

// Close closes the listener and every connection at once.
func (s *Server) Close() error { return s.HTTP.Close() }

// Failed receives the error that ended serving before Stop or Close.
func (s *Server) Failed() <-chan error { return s.failed }

// ListenAddr is the address Start listens on.
func (s *Server) ListenAddr() net.Addr { return s.ln.Addr() }
