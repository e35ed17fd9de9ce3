package msa

import "net"

// Internals for the external tests (package msa_test).
var (
	ReadMessage    = readMessage
	ErrBareNewline = errBareNewline
)

// MaxMessageBytes is the DATA limit the server enforces and advertises.
const MaxMessageBytes = maxMessageBytes

// Busy is the number of sessions inside DATA.
func (s *Server) Busy() int64 { return s.busy.Load() }

// ServeSTARTTLSWithLimit is ServeSTARTTLS with another DATA limit, so that
// a test can exceed it without sending 42 MB.
func (s *Server) ServeSTARTTLSWithLimit(ln net.Listener, maxMessageBytes int64) error {
	srv := s.smtpServer(s.cfg.AllowInsecureAuth || isLoopback(ln.Addr()))
	srv.MaxMessageBytes = maxMessageBytes
	return s.serve(srv, &limitListener{Listener: ln, s: s, plain: true})
}
