package e2e

import (
	"bytes"
	"encoding/json"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/godwit/godwit/internal/godwittest"
	"github.com/godwit/godwit/internal/store/sqlstore"
)

// A port that cannot be bound stops serve before anything is created or
// printed, in one sentence naming the flag and the address: the next start
// on free ports is still the first (it prints the first key).
func TestPortInUseRefused(t *testing.T) {
	t.Parallel()
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer taken.Close()
	addr := taken.Addr().String()
	for _, tc := range []struct {
		flag string
		args []string
	}{
		{"--http-addr", []string{"--http-addr", addr}},
		{"--smtp-addr", []string{"--http-addr", "127.0.0.1:0", "--smtp-addr", addr}},
	} {
		t.Run(tc.flag, func(t *testing.T) {
			dataDir := t.TempDir()
			cmd := exec.Command(binary, append([]string{"serve", "--data-dir", dataDir}, tc.args...)...)
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			require.Error(t, cmd.Run(), "serve exits non-zero")
			require.Contains(t, stderr.String(), tc.flag+" "+addr+" cannot be bound: address already in use")
			require.Empty(t, stdout.String(), "no key printed")

			s := start(t, "--data-dir", dataDir)
			waitFor(t, "the next start to print the first key", func() bool { return tokenRE.MatchString(s.stdout.String()) })
			s.stop(t)
		})
	}
}

// Two nodes on one PostgreSQL must share the secret key that seals the
// database's secrets: a second node with a key of its own stops at start
// with the fix, instead of answering 500 later; with the first node's key
// it starts and opens the first node's webhook.
func TestSecretKeyMismatchRefused(t *testing.T) {
	t.Parallel()
	url := godwittest.StoreURL(t, sqlstore.Postgres)
	dir1, dir2 := t.TempDir(), t.TempDir()
	node1 := start(t, "--data-dir", dir1, "--database-url", url)
	waitFor(t, "the first key", func() bool { return tokenRE.MatchString(node1.stdout.String()) })
	key := tokenRE.FindString(node1.stdout.String())
	code, body, err := request("POST", node1.url+"/webhooks", key, `{"endpoint":"https://hooks.example.com/godwit","events":["email.sent"]}`)
	require.NoError(t, err)
	require.Equal(t, 201, code, body)
	hook := body["id"].(string)

	out, stderr, err := run(t, "serve", "--http-addr", "127.0.0.1:0", "--data-dir", dir2, "--database-url", url)
	require.Error(t, err, "a node with another key does not start")
	require.Contains(t, stderr, "this node's secret key ("+filepath.Join(dir2, "secret.key")+") is not the one this database's secrets were sealed with: "+
		"copy the first node's secret.key here or pass the same --secret-key")
	require.Empty(t, out)

	// The fix the sentence names: the first node's key file.
	k, err := os.ReadFile(filepath.Join(dir1, "secret.key"))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir2, "secret.key"), k, 0o600))
	node2 := start(t, "--data-dir", dir2, "--database-url", url)
	code, body, err = request("GET", node2.url+"/webhooks/"+hook, key, "")
	require.NoError(t, err)
	require.Equal(t, 200, code, body)
	require.True(t, strings.HasPrefix(body["signing_secret"].(string), "whsec_"), body)
	require.NotRegexp(t, tokenRE, node2.stdout.String(), "the second node prints no key")
	node2.stop(t)
	node1.stop(t)
}

// The first start says where the API listens, its key, a curl that sends a
// test email (and works as printed), the dashboard and the rate limit with
// how to raise it.
func TestFirstStartTeaches(t *testing.T) {
	t.Parallel()
	s := start(t, "--data-dir", t.TempDir())
	waitFor(t, "the first start's text", func() bool { return strings.Contains(s.stdout.String(), "users create") })
	out := s.stdout.String()
	key := tokenRE.FindString(out)
	require.NotEmpty(t, key, out)
	require.Contains(t, out, "The API listens on "+s.url+".")
	require.Contains(t, out, "The dashboard is at "+s.url+"/dashboard/")
	require.Contains(t, out, "Each team may make 100000 API requests per second (--rate-limit)")
	require.Contains(t, out, "godwit teams set-rate-limit --team default --limit N")
	require.Contains(t, out, "godwit users create --email")

	// The curl as printed: from its first line to the blank line after it.
	i := strings.Index(out, "curl ")
	require.GreaterOrEqual(t, i, 0, out)
	curl := out[i:]
	curl = curl[:strings.Index(curl, "\n\n")]
	require.Contains(t, curl, "Bearer "+key)
	require.Contains(t, curl, "onboarding@resend.dev")
	require.Contains(t, curl, "delivered@resend.dev")
	cmd := exec.Command("sh", "-c", curl)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	res, err := cmd.Output()
	require.NoError(t, err, stderr.String())
	var sent map[string]any
	require.NoError(t, json.Unmarshal(res, &sent), string(res))
	id, _ := sent["id"].(string)
	require.NotEmpty(t, id, string(res))
	waitFor(t, "the test email to be delivered", func() bool {
		code, body, err := request("GET", s.url+"/emails/"+id, key, "")
		return err == nil && code == 200 && body["last_event"] == "delivered"
	})
	s.stop(t)
}
