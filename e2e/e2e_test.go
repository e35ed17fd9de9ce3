// Package e2e runs the real godwit binary and drives it from outside.
package e2e

import (
	"bufio"
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/godwit/godwit/internal/godwittest"
	"github.com/godwit/godwit/internal/store/sqlstore"
)

var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "godwit-e2e")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "godwit")
	// -buildvcs=auto, whatever GOFLAGS says: the binary names its commit,
	// as one built by go install in a checkout does.
	build := exec.Command("go", "build", "-buildvcs=auto", "-o", binary, "../cmd/godwit")
	build.Stdout, build.Stderr = os.Stdout, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build godwit:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// server is a running godwit serve process.
type server struct {
	cmd    *exec.Cmd
	url    string
	stdout *godwittest.LogBuffer
	stderr *godwittest.LogBuffer // the log, one JSON object a line
	done   chan struct{}         // closed when the process has exited
	err    error                 // its exit status, once done is closed
}

// addrRE finds the API's address in the line that says it serves HTTP or
// HTTPS (the metrics and profiling listeners log theirs before it).
var addrRE = regexp.MustCompile(`"msg":"serving (?:plain HTTP|HTTPS)[^"]*".*"addr":"(127\.0\.0\.1:\d+)"`)

// start runs godwit serve with args and waits until it listens.
func start(t *testing.T, args ...string) *server {
	t.Helper()
	return startBinary(t, binary, args...)
}

// startBinary is start with another godwit binary (an older release's).
func startBinary(t *testing.T, binary string, args ...string) *server {
	t.Helper()
	cmd := exec.Command(binary, append([]string{"serve", "--http-addr", "127.0.0.1:0", "--rate-limit", "100000"}, args...)...)
	stdout := &godwittest.LogBuffer{}
	cmd.Stdout = stdout
	stderr, err := cmd.StderrPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	s := &server{cmd: cmd, stdout: stdout, stderr: &godwittest.LogBuffer{}, done: make(chan struct{})}
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(nil, 1<<20)
		sent := false
		for sc.Scan() {
			_, _ = s.stderr.Write([]byte(sc.Text() + "\n"))
			if m := addrRE.FindStringSubmatch(sc.Text()); m != nil && !sent {
				addr <- m[1]
				sent = true
			}
		}
		_, _ = io.Copy(io.Discard, stderr) // a line too long to scan must not block the process
	}()
	go func() { s.err = cmd.Wait(); close(s.done) }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-s.done
	})
	select {
	case a := <-addr:
		s.url = "http://" + a
	case <-s.done:
		t.Fatalf("godwit serve exited: %v", s.err)
	case <-time.After(30 * time.Second):
		t.Fatal("godwit serve did not start listening within 30 s")
	}
	return s
}

func (s *server) stop(t *testing.T) {
	t.Helper()
	require.NoError(t, s.cmd.Process.Signal(syscall.SIGTERM))
	select {
	case <-s.done:
		require.NoError(t, s.err, "a SIGTERM exit is clean")
	case <-time.After(30 * time.Second):
		t.Fatal("godwit did not exit within 30 s of SIGTERM")
	}
}

func run(t *testing.T, args ...string) (string, string, error) {
	t.Helper()
	var out, errb bytes.Buffer
	cmd := exec.Command(binary, args...)
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	return out.String(), errb.String(), err
}

// testRoots holds every certificate selfSigned made, and apiClient trusts
// them, so that request also reaches a server started with --tls-cert (its
// url made https://). The pool is not safe for concurrent use: tests that
// run in parallel make their certificates with newCert.
var (
	testRoots = x509.NewCertPool()
	apiClient = func() *http.Client {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.TLSClientConfig = &tls.Config{RootCAs: testRoots}
		return &http.Client{Transport: tr}
	}()
)

func request(method, url, key, body string) (int, map[string]any, error) {
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := apiClient.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return resp.StatusCode, nil, err
	}
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	return resp.StatusCode, m, nil
}

// waitFor polls cond until it holds or 10 s pass.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	waitWithin(t, 10*time.Second, what, cond)
}

// waitWithin polls cond until it holds or d passes.
func waitWithin(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

var tokenRE = regexp.MustCompile(`re_[A-Za-z0-9]{8}_[A-Za-z0-9_-]{43}`)

// TestLifecycle: the first start prints a key; keys made by the CLI while the
// server runs work at once; SIGTERM during a burst of sends loses no email
// that was answered 200.
func TestLifecycle(t *testing.T) {
	for _, kind := range godwittest.Kinds {
		t.Run(string(kind), func(t *testing.T) {
			dataDir := t.TempDir()
			dbArgs := []string{"--data-dir", dataDir}
			if kind == sqlstore.Postgres {
				dbArgs = append(dbArgs, "--database-url", godwittest.StoreURL(t, kind))
			}
			s := start(t, dbArgs...)
			waitFor(t, "the first start to print a key", func() bool { return tokenRE.MatchString(s.stdout.String()) })
			first := tokenRE.FindString(s.stdout.String())

			out, stderr, err := run(t, append([]string{"keys", "create", "--name", "ci", "--permission", "sending_access"}, dbArgs...)...)
			require.NoError(t, err, stderr)
			token := strings.TrimSpace(out)
			require.Regexp(t, "^"+tokenRE.String()+"$", token, "keys create prints only the token")

			status, _, err := request("GET", s.url+"/emails", token, "")
			require.NoError(t, err)
			require.Equal(t, 401, status, "a sending_access key may not list")
			status, _, err = request("GET", s.url+"/emails", first, "")
			require.NoError(t, err)
			require.Equal(t, 200, status)

			// Send from several clients, and SIGTERM in the middle.
			var mu sync.Mutex
			var accepted []string
			var wg sync.WaitGroup
			stop := make(chan struct{})
			for range 8 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := 0; i < 2000; i++ {
						select {
						case <-stop:
							return
						default:
						}
						status, body, err := request("POST", s.url+"/emails", token,
							`{"from":"onboarding@resend.dev","to":"delivered@resend.dev","subject":"s","text":"x"}`)
						if err != nil {
							return // the server went away
						}
						if status == 200 {
							mu.Lock()
							accepted = append(accepted, body["id"].(string))
							mu.Unlock()
						}
					}
				}()
			}
			deadline := time.Now().Add(20 * time.Second)
			for {
				mu.Lock()
				n := len(accepted)
				mu.Unlock()
				if n >= 200 || time.Now().After(deadline) {
					break
				}
				time.Sleep(5 * time.Millisecond)
			}
			s.stop(t)
			close(stop)
			wg.Wait()
			require.GreaterOrEqual(t, len(accepted), 200)

			s2 := start(t, dbArgs...)
			require.Empty(t, tokenRE.FindString(s2.stdout.String()), "a second start prints no key")
			// Every accepted email survives the restart and is delivered
			// (to the simulated test recipient).
			deadline = time.Now().Add(60 * time.Second)
			for _, id := range accepted {
				for {
					status, body, err := request("GET", s2.url+"/emails/"+id, first, "")
					require.NoError(t, err)
					require.Equal(t, 200, status, "accepted email %s survives a restart", id)
					if body["last_event"] == "delivered" {
						break
					}
					require.True(t, time.Now().Before(deadline), "email %s still %v", id, body["last_event"])
					time.Sleep(20 * time.Millisecond)
				}
			}

			out, _, err = run(t, append([]string{"keys", "list"}, dbArgs...)...)
			require.NoError(t, err)
			require.Contains(t, out, "ci")
			require.NotContains(t, out, "re_", "keys list never shows tokens")
		})
	}
}

func TestBadConfiguration(t *testing.T) {
	cases := map[string][]string{
		"--rate-limit":      {"serve", "--rate-limit", "0"},
		"--http-addr":       {"serve", "--http-addr", "nonsense"},
		"loopback":          {"serve", "--http-addr", "0.0.0.0:0"},
		"--tls-key":         {"serve", "--tls-cert", "/nonexistent.pem"},
		"GODWIT_RATE_LIMIT": {"serve"},
	}
	for want, args := range cases {
		cmd := exec.Command(binary, args...)
		cmd.Env = append(os.Environ(), "GODWIT_DATA_DIR="+t.TempDir())
		if want == "GODWIT_RATE_LIMIT" {
			cmd.Env = append(cmd.Env, "GODWIT_RATE_LIMIT=abc")
		}
		var errb bytes.Buffer
		cmd.Stderr = &errb
		err := cmd.Run()
		require.Error(t, err, want)
		require.Contains(t, errb.String(), want)
		require.Equal(t, 1, strings.Count(strings.TrimSpace(errb.String()), "\n")+1-strings.Count(errb.String(), "Usage"), "one line: %q", errb.String())
	}
}

func TestConfigFile(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "godwit.conf")
	require.NoError(t, os.WriteFile(file, []byte("# settings\ndata-dir = "+dir+"/data\nrate-limit = 0\n"), 0o600))
	_, stderr, err := run(t, "serve", "--config", file)
	require.Error(t, err)
	require.Contains(t, stderr, "--rate-limit must be at least 1")
	// Flags override the file.
	require.NoError(t, os.WriteFile(file, []byte("data-dir = "+dir+"/data\n"), 0o600))
	s := start(t, "--config", file)
	waitFor(t, "a key on stdout", func() bool { return tokenRE.MatchString(s.stdout.String()) })
	_, err = os.Stat(filepath.Join(dir, "data", "godwit.db"))
	require.NoError(t, err, "the data dir from the file is used")
	s.stop(t)
}

// TestHTTPS serves the API over TLS with a certificate of its own.
func TestHTTPS(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile, pool := selfSigned(t, dir)
	s := start(t, "--data-dir", dir, "--tls-cert", certFile, "--tls-key", keyFile)
	waitFor(t, "a key on stdout", func() bool { return tokenRE.MatchString(s.stdout.String()) })
	key := tokenRE.FindString(s.stdout.String())
	url := strings.Replace(s.url, "http://", "https://", 1)
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}, Timeout: 10 * time.Second}

	req, _ := http.NewRequest("POST", url+"/emails", strings.NewReader(`{"from":"onboarding@resend.dev","to":"delivered@resend.dev","subject":"s","text":"x"}`))
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := client.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, 200, resp.StatusCode)
	require.NotNil(t, resp.TLS, "answered over TLS")

	// Plain HTTP on the TLS port gets no API answer.
	resp, err = http.Get(s.url + "/healthz")
	if err == nil {
		resp.Body.Close()
		require.NotEqual(t, 200, resp.StatusCode)
	}
	s.stop(t)
}

// selfSigned writes a certificate for 127.0.0.1 and its key, and returns a
// pool that trusts it.
func selfSigned(t *testing.T, dir string) (string, string, *x509.CertPool) {
	t.Helper()
	cert, priv := newCert(t)
	keyDER, err := x509.MarshalECPrivateKey(priv)
	require.NoError(t, err)
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	require.NoError(t, os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw}), 0o600))
	require.NoError(t, os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600))
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	testRoots.AddCert(cert)
	return certFile, keyFile, pool
}

// newCert makes a self-signed certificate for 127.0.0.1, trusted by
// nothing.
func newCert(t *testing.T) (*x509.Certificate, *ecdsa.PrivateKey) {
	t.Helper()
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "godwit test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IsCA:         true, BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &priv.PublicKey, priv)
	require.NoError(t, err)
	cert, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	return cert, priv
}

// TestCommands covers the administrative commands on one data directory.
func TestCommands(t *testing.T) {
	dir := t.TempDir()
	out, stderr, err := run(t, "migrate", "--data-dir", dir)
	require.NoError(t, err, stderr)
	require.Regexp(t, `^applied 00001…(\d{5}) \(sqlite\)\n$`, out, "a new database gets every migration")
	latest := regexp.MustCompile(`…(\d{5})`).FindStringSubmatch(out)[1]
	out, _, err = run(t, "migrate", "--data-dir", dir)
	require.NoError(t, err, "migrating twice is harmless")
	require.Equal(t, "the database is up to date at "+latest+" (sqlite)\n", out)
	out, _, err = run(t, "migrate", "--status", "--data-dir", dir)
	require.NoError(t, err)
	require.Regexp(t, `(?m)^00001_foundation\s+applied\s+\d{4}-`, out)
	require.Regexp(t, `(?m)^`+latest+`_\w+\s+applied`, out)
	require.NotContains(t, out, "pending\n")
	require.Contains(t, out, "none pending")

	out, _, err = run(t, "version")
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(out, "godwit "), out)
	// Built in this checkout: the version names its commit. Go stamps it
	// only in a clone whose .git is a directory (not in a git worktree);
	// CI's clean clone always is.
	if gitDir, err := os.Stat("../.git"); err == nil && gitDir.IsDir() || os.Getenv("CI") == "true" {
		head, err := exec.Command("git", "rev-parse", "HEAD").Output()
		require.NoError(t, err, "git, to read the checkout's commit")
		require.Contains(t, out, " "+string(head[:12])+" ", "the commit the binary was built from")
		require.Regexp(t, ` \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ `, out, "the commit's time")
	} else {
		t.Logf("not checked that %q names its commit: ../.git is not a directory (a git worktree), where Go records no commit", out)
	}

	token, stderr, err := run(t, "keys", "create", "--name", "acme-key", "--team", "acme", "--data-dir", dir)
	require.NoError(t, err, stderr)
	require.Regexp(t, "^"+tokenRE.String()+"\n$", token)
	_, stderr, err = run(t, "keys", "create", "--name", "x", "--permission", "everything", "--data-dir", dir)
	require.Error(t, err)
	require.Contains(t, stderr, "--permission")

	out, _, err = run(t, "teams", "set-rate-limit", "--team", "acme", "--limit", "7", "--data-dir", dir)
	require.NoError(t, err)
	out, _, err = run(t, "teams", "list", "--data-dir", dir)
	require.NoError(t, err)
	require.Regexp(t, `(?m)^ID\s+NAME\s+RATE LIMIT\s+CREATED$`, out)
	require.Regexp(t, `(?m)^[0-9a-f-]{36}\s+acme\s+7/s\s+\d{4}-`, out)
	_, stderr, err = run(t, "teams", "set-rate-limit", "--team", "nobody", "--limit", "7", "--data-dir", dir)
	require.Error(t, err)
	require.Contains(t, stderr, `no team "nobody"`)

	out, _, err = run(t, "keys", "list", "--team", "acme", "--data-dir", dir)
	require.NoError(t, err)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	require.Equal(t, []string{"ID", "PREFIX", "NAME", "PERMISSION", "DOMAIN", "CREATED", "LAST", "USED"}, strings.Fields(lines[0]))
	fields := strings.Fields(lines[1])
	id := fields[0]
	require.Equal(t, []string{token[3:11], "acme-key", "full_access", "all"}, fields[1:5])
	require.Equal(t, "never", fields[6])
	require.Equal(t, strings.Index(lines[0], "NAME"), strings.Index(lines[1], "acme-key"), "aligned columns")
	_, stderr, err = run(t, "keys", "create", "--name", "d", "--data-dir", dir) // makes team "default"
	require.NoError(t, err, stderr)
	_, stderr, err = run(t, "keys", "revoke", "--team", "default", "--data-dir", dir, id)
	require.Error(t, err, "another team cannot revoke the key")
	require.Contains(t, stderr, "no key")
	out, stderr, err = run(t, "keys", "revoke", "--team", "acme", "--data-dir", dir, id)
	require.NoError(t, err, stderr)
	out, _, err = run(t, "keys", "list", "--team", "acme", "--data-dir", dir)
	require.NoError(t, err)
	require.NotContains(t, out, "acme-key")

	_, stderr, err = run(t, "frobnicate")
	require.Error(t, err)
	require.Contains(t, stderr, "unknown command")
}

// TestOneServerPerSQLiteDatabase: a second serve on the same SQLite data
// directory refuses to start, in one line, while the first runs.
func TestOneServerPerSQLiteDatabase(t *testing.T) {
	dir := t.TempDir()
	start(t, "--data-dir", dir)
	cmd := exec.Command(binary, "serve", "--data-dir", dir, "--http-addr", "127.0.0.1:0")
	var errb bytes.Buffer
	cmd.Stderr = &errb
	require.Error(t, cmd.Run())
	require.Contains(t, errb.String(), "another godwit serve is using")
	// The CLI still works beside the server.
	out, stderr, err := run(t, "keys", "create", "--name", "side", "--data-dir", dir)
	require.NoError(t, err, stderr)
	require.Regexp(t, tokenRE, out)
}
