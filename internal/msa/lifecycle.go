package msa

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
)

// Start listens on the configured addresses (Config.Listen with STARTTLS,
// Config.ListenTLS with implicit TLS) and serves them; it returns once
// they all listen, or the first error with every listener it opened closed.
// A listener that fails later is logged and reported on Failed.
func (s *Server) Start(context.Context) error {
	if len(s.cfg.ListenTLS) > 0 && s.cfg.TLSConfig == nil {
		return errors.New("msa: implicit TLS needs a certificate")
	}
	type listener struct {
		ln    net.Listener
		serve func(net.Listener) error
		tls   string
	}
	starttls := "none: AUTH allowed on loopback only"
	switch {
	case s.cfg.TLSConfig != nil:
		starttls = "STARTTLS"
	case s.cfg.AllowInsecureAuth:
		starttls = "none: AUTH allowed without TLS (--smtp-allow-insecure-auth)"
	}
	var lns []listener
	listen := func(addrs []string, bound []net.Listener, serve func(net.Listener) error, what string) error {
		for _, ln := range bound {
			lns = append(lns, listener{ln: ln, serve: serve, tls: what})
		}
		if len(bound) > 0 {
			return nil
		}
		for _, addr := range addrs {
			ln, err := net.Listen("tcp", addr)
			if err != nil {
				return fmt.Errorf("msa: listen on %s (TLS: %s): %w", addr, what, err)
			}
			lns = append(lns, listener{ln: ln, serve: serve, tls: what})
		}
		return nil
	}
	err := listen(s.cfg.Listen, s.cfg.Listeners, s.ServeSTARTTLS, starttls)
	if err == nil {
		err = listen(s.cfg.ListenTLS, s.cfg.ListenersTLS, s.ServeTLS, "implicit")
	}
	if err != nil {
		for _, l := range lns {
			_ = l.ln.Close()
		}
		return err
	}
	s.mu.Lock()
	for _, l := range lns {
		s.addrs = append(s.addrs, l.ln.Addr())
	}
	s.mu.Unlock()
	for _, l := range lns {
		addr := l.ln.Addr().String()
		go func() {
			if err := l.serve(l.ln); err != nil && !s.draining.Load() {
				s.log.Error("SMTP submission listener stopped", slog.String("smtp_addr", addr), slog.String("error", err.Error()))
				select {
				case s.failed <- fmt.Errorf("SMTP submission listener %s: %w", addr, err):
				default:
				}
			}
		}()
		s.log.Info("serving SMTP submission", slog.String("smtp_addr", addr), slog.String("tls", l.tls))
	}
	return nil
}

// Stop is Shutdown: the listeners close, messages being received finish
// until ctx ends, and every connection is closed.
func (s *Server) Stop(ctx context.Context) error { return s.Shutdown(ctx) }

// Failed receives the error of a listener that stopped on its own.
func (s *Server) Failed() <-chan error { return s.failed }

// Addrs returns the addresses Start listens on.
func (s *Server) Addrs() []net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]net.Addr(nil), s.addrs...)
}
