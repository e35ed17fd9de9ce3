package app

import (
	"net"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/godwit/godwit/internal/config"
)

// The first start's URLs name the listener as a client reaches it: a
// wildcard address as localhost, https with a certificate, the ACME
// domain's name, and no port when it is the scheme's own.
func TestFirstStartURL(t *testing.T) {
	tcp := func(s string) net.Addr {
		a, err := net.ResolveTCPAddr("tcp", s)
		require.NoError(t, err)
		return a
	}
	for _, tc := range []struct {
		addr string
		tls  bool
		acme []string
		want string
	}{
		{"127.0.0.1:8080", false, nil, "http://127.0.0.1:8080"},
		{"0.0.0.0:8080", false, nil, "http://localhost:8080"},
		{"[::]:8080", false, nil, "http://localhost:8080"},
		{"[::1]:8080", false, nil, "http://[::1]:8080"},
		{"[::1]:443", true, nil, "https://[::1]"},
		{"0.0.0.0:443", true, []string{"api.mail.example.com"}, "https://api.mail.example.com"},
		{"0.0.0.0:8443", true, []string{"api.mail.example.com"}, "https://api.mail.example.com:8443"},
	} {
		cfg := config.Defaults()
		cfg.ACMEDomains = tc.acme
		require.Equal(t, tc.want, firstStart{cfg: cfg, tls: tc.tls}.url(tcp(tc.addr)), tc.addr)
	}
}
