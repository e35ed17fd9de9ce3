package inbound

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync/atomic"

	"github.com/emersion/go-smtp"

	"github.com/godwit/godwit/internal/metrics"
)

// MX serves an SMTP server (NewServer's) on Addr as one of serve's
// long-running parts: Start listens and serves, Stop closes the listener
// and every connection (a sender retries a report later).
type MX struct {
	Addr string
	// Listener, when set, is the already bound listener to serve instead
	// of listening on Addr; Stop closes it.
	Listener net.Listener
	Server   *smtp.Server
	Logger   *slog.Logger
	// Limits bound the open connections (in all, and per client address).
	Limits  Limits
	Metrics *metrics.Metrics

	ln       net.Listener
	stopping atomic.Bool
	failed   chan error
}

// Start listens on Addr and serves until Stop.
func (m *MX) Start(context.Context) error {
	ln := m.Listener
	if ln == nil {
		var err error
		if ln, err = net.Listen("tcp", m.Addr); err != nil {
			return fmt.Errorf("inbound: listen on %s: %w", m.Addr, err)
		}
	}
	m.ln = ln
	m.failed = make(chan error, 1)
	log := m.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	limited := newLimitListener(ln, m.Limits, m.Server.Domain, m.Metrics, log)
	go func() {
		err := m.Server.Serve(limited)
		if err != nil && !m.stopping.Load() {
			m.failed <- fmt.Errorf("inbound: serving %s: %w", ln.Addr(), err)
		}
	}()
	log.Info("MX receiving mail", slog.String("mx_addr", ln.Addr().String()))
	return nil
}

// Stop closes the listener and every connection.
func (m *MX) Stop(context.Context) error {
	m.stopping.Store(true)
	err := m.Server.Close()
	_ = m.ln.Close() // go-smtp closes it only once its Serve has begun
	if errors.Is(err, smtp.ErrServerClosed) {
		return nil
	}
	return err
}

// Failed receives the error that ended serving before Stop.
func (m *MX) Failed() <-chan error { return m.failed }

// ListenAddr is the address Start listens on.
func (m *MX) ListenAddr() net.Addr { return m.ln.Addr() }
