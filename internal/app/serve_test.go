package app_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/godwit/godwit/internal/app"
	"github.com/godwit/godwit/internal/config"
	"github.com/godwit/godwit/internal/godwittest"
	"github.com/godwit/godwit/internal/store"
	"github.com/godwit/godwit/internal/store/sqlstore"
)

const httpServing = "serving plain HTTP on loopback only; give --tls-cert/--tls-key or --acme-domain to serve HTTPS"

// serveConfig is a SQLite server in dir with every listener on a loopback
// port of its own choosing.
func serveConfig(dir string) config.Config {
	cfg := config.Defaults()
	cfg.DataDir = dir
	cfg.HTTPAddr = "127.0.0.1:0"
	cfg.DebugAddr = "127.0.0.1:0"
	cfg.MXAddr = "127.0.0.1:0"
	cfg.SMTPAddrs = []string{"127.0.0.1:0"}
	cfg.Delivery = "capture"
	cfg.MemoryLimit = "0"
	cfg.ShutdownTimeout = 5 * time.Second
	return cfg
}

// served is a Serve running in the background.
type served struct {
	logs *godwittest.LogBuffer
	done chan error
}

func serve(ctx context.Context, cfg config.Config) *served {
	s := &served{logs: &godwittest.LogBuffer{}, done: make(chan error, 1)}
	log := slog.New(slog.NewJSONHandler(s.logs, nil))
	go func() { s.done <- app.Serve(ctx, cfg, log, io.Discard) }()
	return s
}

// wait returns Serve's result.
func (s *served) wait(t *testing.T) error {
	t.Helper()
	select {
	case err := <-s.done:
		return err
	case <-time.After(bound):
		t.Fatal("Serve did not return")
		return nil
	}
}

// addr polls the log for the record msg and returns its attribute attr.
func (s *served) addr(t *testing.T, msg, attr string) string {
	t.Helper()
	deadline := time.Now().Add(bound)
	for {
		if recs := s.logs.Records(t, msg); len(recs) > 0 {
			return recs[0][attr].(string)
		}
		select {
		case err := <-s.done:
			t.Fatalf("Serve returned (%v) before logging %q", err, msg)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("no log line %q; log:\n%s", msg, s.logs.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// waitReady polls addr's /readyz until it answers 200.
func waitReady(t *testing.T, addr string) {
	t.Helper()
	require.Eventually(t, func() bool {
		resp, err := http.Get("http://" + addr + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}, bound, 5*time.Millisecond, "/readyz answers 200")
}

// requireClosed checks that nothing listens on addr any more.
func requireClosed(t *testing.T, addr, what string) {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err == nil {
		c.Close()
	}
	require.Error(t, err, "%s still listens on %s", what, addr)
}

// requireOrder checks that each message's first log line comes after the
// previous message's.
func requireOrder(t *testing.T, logs *godwittest.LogBuffer, msgs ...string) {
	t.Helper()
	var seen []string
	for line := range strings.Lines(logs.String()) {
		var rec struct{ Msg string }
		require.NoError(t, json.Unmarshal([]byte(line), &rec), line)
		seen = append(seen, rec.Msg)
	}
	last := -1
	for _, m := range msgs {
		i := slices.Index(seen, m)
		require.Greater(t, i, last, "%q is not logged after %v; log: %v", m, msgs[:slices.Index(msgs, m)], seen)
		last = i
	}
}

// TestServeStartsAndDrains: every part starts in order and is ready, and
// the end of the context stops them all and closes their listeners.
func TestServeStartsAndDrains(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s := serve(ctx, serveConfig(t.TempDir()))
	httpAddr := s.addr(t, httpServing, "addr")
	waitReady(t, httpAddr)
	debugAddr := s.addr(t, "serving profiling endpoints", "addr")
	mxAddr := s.addr(t, "MX receiving mail", "mx_addr")
	smtpAddr := s.addr(t, "serving SMTP submission", "smtp_addr")
	require.Equal(t, "none: AUTH allowed on loopback only", s.logs.Records(t, "serving SMTP submission")[0]["tls"])
	for _, addr := range []string{mxAddr, smtpAddr} {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		require.NoError(t, err)
		greeting, err := bufio.NewReader(c).ReadString('\n')
		require.NoError(t, err)
		require.Regexp(t, `^220 `, greeting)
		c.Close()
	}
	resp, err := http.Get("http://" + debugAddr + "/debug/pprof/cmdline")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)

	cancel()
	require.NoError(t, s.wait(t))
	for what, addr := range map[string]string{"HTTP": httpAddr, "debug": debugAddr, "MX": mxAddr, "SMTP": smtpAddr} {
		requireClosed(t, addr, what)
	}
	requireOrder(t, s.logs, "store opened", "serving profiling endpoints", "MX receiving mail",
		"serving SMTP submission", httpServing, "shutting down: no new connections, finishing requests in flight",
		"delivery stopped", "stopped")
}

// TestServeRefusesAPortInUseFirst: an address that cannot be bound stops
// Serve before the store is opened (so before a key is created and
// printed), in one sentence naming the flag and the address, and the
// addresses bound before it are free again.
func TestServeRefusesAPortInUseFirst(t *testing.T) {
	t.Parallel()
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer busy.Close()
	// Addresses free a moment ago, for the listeners bound before the
	// busy one (--debug-addr is bound last).
	free := func() string {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		defer ln.Close()
		return ln.Addr().String()
	}
	dir := t.TempDir()
	cfg := serveConfig(dir)
	cfg.HTTPAddr, cfg.MXAddr, cfg.SMTPAddrs = free(), free(), []string{free()}
	cfg.DebugAddr = busy.Addr().String()
	s := serve(context.Background(), cfg)
	err = s.wait(t)
	require.EqualError(t, err, "--debug-addr "+cfg.DebugAddr+
		" cannot be bound: address already in use (another process listens there: stop it or choose another address)")
	require.Empty(t, s.logs.Records(t, "store opened"), "refused before the store is opened")
	for _, addr := range []string{cfg.HTTPAddr, cfg.MXAddr, cfg.SMTPAddrs[0]} {
		ln, err := net.Listen("tcp", addr)
		require.NoError(t, err, "%s is free again", addr)
		ln.Close()
	}

	// Nothing was created: the next serve is the first.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out bytes.Buffer
	next := &served{logs: &godwittest.LogBuffer{}, done: make(chan error, 1)}
	go func() {
		next.done <- app.Serve(ctx, serveConfig(dir), slog.New(slog.NewJSONHandler(next.logs, nil)), &out)
	}()
	waitReady(t, next.addr(t, httpServing, "addr"))
	cancel()
	require.NoError(t, next.wait(t))
	require.Contains(t, out.String(), "Created team \"default\" and its first API key")
}

// TestServeFlushesRequestLogs: a request served just before the stop is
// in the Logs API's table once Serve returns; with --request-logs=false
// nothing is recorded.
func TestServeFlushesRequestLogs(t *testing.T) {
	t.Parallel()
	for _, record := range []bool{true, false} {
		t.Run(fmt.Sprintf("request-logs=%v", record), func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			cfg := serveConfig(dir)
			cfg.RequestLogs = record
			var out strings.Builder
			s := &served{logs: &godwittest.LogBuffer{}, done: make(chan error, 1)}
			go func() { s.done <- app.Serve(ctx, cfg, slog.New(slog.NewJSONHandler(s.logs, nil)), &out) }()
			addr := s.addr(t, httpServing, "addr")
			waitReady(t, addr)
			key := strings.Fields(out.String()[strings.Index(out.String(), "re_"):])[0]
			require.Contains(t, out.String(), "No one can sign in to the dashboard yet: run `godwit users create --email",
				"a first start says how to make the first dashboard user")
			req, err := http.NewRequest("GET", "http://"+addr+"/domains", nil)
			require.NoError(t, err)
			req.Header.Set("Authorization", "Bearer "+key)
			resp, err := http.DefaultClient.Do(req)
			require.NoError(t, err)
			resp.Body.Close()
			require.Equal(t, http.StatusOK, resp.StatusCode)
			cancel()
			require.NoError(t, s.wait(t))

			db, err := sqlstore.Open(context.Background(), filepath.Join(dir, "godwit.db"), sqlstore.Options{})
			require.NoError(t, err)
			defer db.Close()
			team, err := db.GetTeamByName(context.Background(), app.DefaultTeam)
			require.NoError(t, err)
			logs, _, err := db.ListRequestLogs(context.Background(), team.ID, store.Page{})
			require.NoError(t, err)
			if !record {
				require.Empty(t, logs)
				require.Contains(t, s.logs.String(), "API requests are not recorded")
				return
			}
			require.Len(t, logs, 1)
			require.Equal(t, "/domains", logs[0].Endpoint)
			require.NotContains(t, string(logs[0].ResponseBody)+logs[0].UserAgent, key)
		})
	}
}
