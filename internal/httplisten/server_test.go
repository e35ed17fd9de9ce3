package httplisten

import (
	"context"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestServerStartStop: Start listens (reporting the address before
// serving) and serves with the envelope rewrite; Stop waits for a request
// in flight, then nothing listens; a busy address fails Start.
func TestServerStartStop(t *testing.T) {
	t.Parallel()
	inHandler, release := make(chan struct{}), make(chan struct{})
	mux := http.NewServeMux()
	mux.HandleFunc("/slow", func(w http.ResponseWriter, _ *http.Request) {
		close(inHandler)
		<-release
		_, _ = io.WriteString(w, "done")
	})
	var listening net.Addr
	s := &Server{Addr: "127.0.0.1:0", HTTP: &http.Server{Handler: mux, ReadHeaderTimeout: time.Second},
		Listening: func(a net.Addr) { listening = a }}
	require.NoError(t, s.Start(context.Background()))
	require.Equal(t, s.ListenAddr(), listening)
	addr := listening.String()

	// net/http's own answer to an unparsable request is in the envelope.
	c, err := net.DialTimeout("tcp", addr, time.Second)
	require.NoError(t, err)
	tc := protocolCases[0]
	protocolError(t, c, tc.raw, tc.status, tc.msg)

	got := make(chan string, 1)
	go func() {
		resp, err := http.Get("http://" + addr + "/slow")
		if err != nil {
			got <- err.Error()
			return
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		got <- string(b)
	}()
	select {
	case <-inHandler:
	case <-time.After(10 * time.Second):
		t.Fatal("the request did not arrive")
	}
	stopped := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		stopped <- s.Stop(ctx)
	}()
	close(release)
	select {
	case body := <-got:
		require.Equal(t, "done", body, "the request in flight finishes")
	case <-time.After(10 * time.Second):
		t.Fatal("the request in flight did not finish")
	}
	select {
	case err := <-stopped:
		require.NoError(t, err)
	case <-time.After(10 * time.Second):
		t.Fatal("Stop did not return")
	}
	_, err = net.DialTimeout("tcp", addr, time.Second)
	require.Error(t, err, "nothing listens any more")
	select {
	case err := <-s.Failed():
		t.Fatalf("Stop reported as a failure: %v", err)
	default:
	}

	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	busy := &Server{Addr: l.Addr().String(), HTTP: &http.Server{ReadHeaderTimeout: time.Second}}
	require.ErrorContains(t, busy.Start(context.Background()), l.Addr().String())
}
