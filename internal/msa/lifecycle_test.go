package msa_test

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/godwit/godwit/internal/msa"
)

// TestStartStop: Start listens on the configured addresses (STARTTLS and
// implicit TLS), logs each, and serves; Stop drains and closes them.
func TestStartStop(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	cfg := e.config()
	cfg.Listen = []string{"127.0.0.1:0"}
	cfg.ListenTLS = []string{"127.0.0.1:0"}
	srv := msa.New(cfg)
	require.NoError(t, srv.Start(context.Background()))
	addrs := srv.Addrs()
	require.Len(t, addrs, 2)
	recs := e.logs.Records(t, "serving SMTP submission")
	require.Len(t, recs, 2)
	require.Equal(t, addrs[0].String(), recs[0]["smtp_addr"])
	require.Equal(t, "STARTTLS", recs[0]["tls"])
	require.Equal(t, addrs[1].String(), recs[1]["smtp_addr"])
	require.Equal(t, "implicit", recs[1]["tls"])

	c := dialRaw(t, addrs[0].String())
	c.login(e.key)
	queued(t, c.send("sender@example.com", []string{"to@example.net"}, message("sender@example.com", "to@example.net", "via Start")))

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, srv.Stop(ctx))
	c.expectClosed()
	for _, a := range addrs {
		_, err := net.DialTimeout("tcp", a.String(), time.Second)
		require.Error(t, err, "%s is closed", a)
	}
	select {
	case err := <-srv.Failed():
		t.Fatalf("a listener reported %v on a clean stop", err)
	default:
	}
}

// TestStartFailure: an address that cannot be listened on fails Start,
// which closes the listeners it had opened.
func TestStartFailure(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer busy.Close()
	cfg := e.config()
	cfg.Listen = []string{"127.0.0.1:0", busy.Addr().String()}
	srv := msa.New(cfg)
	require.ErrorContains(t, srv.Start(context.Background()), busy.Addr().String())
	require.Empty(t, srv.Addrs())
	require.Empty(t, e.logs.Records(t, "serving SMTP submission"))

	cfg = e.config()
	cfg.TLSConfig = nil
	cfg.ListenTLS = []string{"127.0.0.1:0"}
	require.ErrorContains(t, msa.New(cfg).Start(context.Background()), "implicit TLS needs a certificate")
}
