package app

import (
	"errors"
	"fmt"
	"net"
	"os"
	"syscall"

	"github.com/godwit/godwit/internal/config"
)

// boundPorts holds every listener serve needs, bound before anything is
// created or printed: a port that cannot be bound stops start-up before
// the first key is shown, not after.
type boundPorts struct {
	http, dashboard, mx, metrics, debug net.Listener
	smtp, smtps                         []net.Listener
	all                                 []net.Listener
}

// bindPorts binds every configured address (--http-addr, --dashboard-addr,
// --smtp-addr, --smtps-addr, --mx-addr, --metrics-addr, --debug-addr), or
// closes what it bound and returns one sentence naming the flag and the
// address that failed.
func bindPorts(cfg config.Config) (*boundPorts, error) {
	b := &boundPorts{}
	bind := func(flag, addr string) (net.Listener, error) {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			b.close()
			return nil, bindError(flag, addr, err)
		}
		b.all = append(b.all, ln)
		return ln, nil
	}
	var err error
	if b.http, err = bind("--http-addr", cfg.HTTPAddr); err != nil {
		return nil, err
	}
	if cfg.DashboardAddr != "" {
		if b.dashboard, err = bind("--dashboard-addr", cfg.DashboardAddr); err != nil {
			return nil, err
		}
	}
	for _, addr := range cfg.SMTPAddrs {
		ln, err := bind("--smtp-addr", addr)
		if err != nil {
			return nil, err
		}
		b.smtp = append(b.smtp, ln)
	}
	for _, addr := range cfg.SMTPSAddrs {
		ln, err := bind("--smtps-addr", addr)
		if err != nil {
			return nil, err
		}
		b.smtps = append(b.smtps, ln)
	}
	if cfg.MXAddr != "" {
		if b.mx, err = bind("--mx-addr", cfg.MXAddr); err != nil {
			return nil, err
		}
	}
	if cfg.MetricsAddr != "" {
		if b.metrics, err = bind("--metrics-addr", cfg.MetricsAddr); err != nil {
			return nil, err
		}
	}
	if cfg.DebugAddr != "" {
		if b.debug, err = bind("--debug-addr", cfg.DebugAddr); err != nil {
			return nil, err
		}
	}
	return b, nil
}

// close closes every listener (those a server has already closed answer an
// error, ignored).
func (b *boundPorts) close() {
	for _, ln := range b.all {
		_ = ln.Close()
	}
}

// bindError is the sentence for an address that cannot be bound:
// "--http-addr 127.0.0.1:8080 cannot be bound: address already in use".
func bindError(flag, addr string, err error) error {
	reason := err.Error()
	var se *os.SyscallError
	var oe *net.OpError
	switch {
	case errors.As(err, &se):
		reason = se.Err.Error()
	case errors.As(err, &oe) && oe.Err != nil:
		reason = oe.Err.Error()
	}
	switch {
	case errors.Is(err, os.ErrPermission):
		reason += " (ports below 1024 need root or CAP_NET_BIND_SERVICE)"
	case errors.Is(err, syscall.EADDRINUSE):
		reason += " (another process listens there: stop it or choose another address)"
	}
	return fmt.Errorf("%s %s cannot be bound: %s", flag, addr, reason)
}

// dashboardAddr is the dashboard's own listener's address, nil without
// --dashboard-addr.
func (b *boundPorts) dashboardAddr() net.Addr {
	if b.dashboard == nil {
		return nil
	}
	return b.dashboard.Addr()
}
