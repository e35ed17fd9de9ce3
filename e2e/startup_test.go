package e2e

import (
	"bytes"
	"encoding/json"
	"io"
	"net"
	"net/http"
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

// refused runs serve with args and returns its one-line refusal; nothing is
// printed on stdout and nothing is created in dataDir.
func refused(t *testing.T, dataDir string, args ...string) string {
	t.Helper()
	cmd := exec.Command(binary, append([]string{"serve", "--data-dir", dataDir}, args...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	require.Error(t, cmd.Run(), "serve %v exits non-zero", args)
	require.Empty(t, stdout.String(), "no key printed")
	msg := strings.TrimSpace(stderr.String())
	require.NotContains(t, msg, "\n", "one line: %q", msg)
	entries, err := os.ReadDir(dataDir)
	require.NoError(t, err)
	require.Empty(t, entries, "nothing created")
	return msg
}

// A server that the world reaches must publish and announce fully
// qualified names: every domain puts the bounce host in its MX and SPF
// records, and receiving servers judge the EHLO name. A loopback-only
// start may do without, and warns in its first lines.
func TestShortHostnameRefused(t *testing.T) {
	t.Parallel()
	public := []string{"--http-addr", "0.0.0.0:0", "--insecure-http"}
	msg := refused(t, t.TempDir(), append(public, "--mx-host", "box.lan")...)
	require.Contains(t, msg, `--mx-host "box.lan" is not a fully qualified domain name, and every domain would publish it in its MX and SPF records: give --mx-host`)
	msg = refused(t, t.TempDir(), append(public, "--public-url", "http://10.0.0.5:8080")...)
	require.Contains(t, msg, `the --public-url host "10.0.0.5" is not a fully qualified domain name`)
	msg = refused(t, t.TempDir(), append(public, "--mx-host", "mail.example.com", "--hostname", "vm")...)
	require.Contains(t, msg, `--hostname "vm" is not a fully qualified domain name, and receiving mail servers refuse or distrust such an EHLO name`)
	if host, _ := os.Hostname(); !strings.Contains(host, ".") {
		msg = refused(t, t.TempDir(), public...)
		require.Contains(t, msg, "--mx-host is not set and this machine's name \""+host+"\" is not a fully qualified domain name")
	}
	// The same names pass check-config with a fully qualified --mx-host.
	out, stderr, err := run(t, "check-config", "--data-dir", t.TempDir(), "--http-addr", "0.0.0.0:8080", "--insecure-http", "--mx-host", "mail.example.com")
	require.NoError(t, err, stderr)
	require.Contains(t, out, "configuration OK")

	// On loopback the start goes on, and its first log lines say what
	// would not work in production.
	s := start(t, "--data-dir", t.TempDir(), "--mx-host", "box.lan")
	waitFor(t, "the first key", func() bool { return tokenRE.MatchString(s.stdout.String()) })
	warn := s.stderr.Records(t, `development start (every listener is on loopback): --mx-host "box.lan" is not a fully qualified domain name, and every domain would publish it in its MX and SPF records: give --mx-host this server's public name (e.g. mail.example.com)`)
	require.Len(t, warn, 1, s.stderr.String())
	require.Equal(t, "WARN", warn[0]["level"])
	s.stop(t)
}

// --allow-any-sender: a development server sends from any domain without
// DNS, captures everything, and is refused anywhere it could send or be
// reached.
func TestAllowAnySender(t *testing.T) {
	t.Parallel()
	msg := refused(t, t.TempDir(), "--allow-any-sender")
	require.Contains(t, msg, "--allow-any-sender needs --delivery capture")
	msg = refused(t, t.TempDir(), "--allow-any-sender", "--delivery", "capture", "--smtp-addr", "0.0.0.0:0", "--smtp-allow-insecure-auth", "--mx-host", "mail.example.com")
	require.Contains(t, msg, "--allow-any-sender is for development: every listener")

	s := start(t, "--data-dir", t.TempDir(), "--delivery", "capture", "--allow-any-sender")
	waitFor(t, "the first key", func() bool { return tokenRE.MatchString(s.stdout.String()) })
	key := tokenRE.FindString(s.stdout.String())
	require.Len(t, s.stderr.Records(t, "--allow-any-sender: emails from any domain are accepted without a verified domain and captured, never sent (development only)"), 1)
	code, body, err := request("POST", s.url+"/emails", key, `{"from":"Dev <dev@my-app.example>","to":"someone@example.net","subject":"hi","text":"t"}`)
	require.NoError(t, err)
	require.Equal(t, 200, code, "%v", body)
	captured := func(body map[string]any) string {
		id, _ := body["id"].(string)
		waitFor(t, "the email to be captured", func() bool {
			code, body, err := request("GET", s.url+"/emails/"+id, key, "")
			return err == nil && code == 200 && body["last_event"] == "delivered"
		})
		req, err := http.NewRequest("GET", s.url+"/emails/"+id+"/captured", nil)
		require.NoError(t, err)
		req.Header.Set("Authorization", "Bearer "+key)
		res, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer res.Body.Close()
		raw, err := io.ReadAll(res.Body)
		require.NoError(t, err)
		require.Equal(t, 200, res.StatusCode, "%s", raw)
		return string(raw)
	}
	raw := captured(body)
	require.Contains(t, raw, `From: "Dev" <dev@my-app.example>`)
	require.NotContains(t, raw, "DKIM-Signature", "a domain nobody added has no key")
	// Once the team adds the domain (its DNS never verified), the captured
	// copy is signed with its key, as it would be sent.
	code, body, err = request("POST", s.url+"/domains", key, `{"name":"my-app.example"}`)
	require.NoError(t, err)
	require.Equal(t, 201, code, "%v", body)
	require.Equal(t, "not_started", body["status"])
	code, body, err = request("POST", s.url+"/emails", key, `{"from":"dev@my-app.example","to":"someone@example.net","subject":"signed","text":"t"}`)
	require.NoError(t, err)
	require.Equal(t, 200, code, "%v", body)
	raw = captured(body)
	require.Regexp(t, `(?s)DKIM-Signature:.*\bd=my-app\.example;`, raw)
	s.stop(t)

	// Without the flag the same request is the usual 403.
	s = start(t, "--data-dir", t.TempDir(), "--delivery", "capture")
	waitFor(t, "the first key", func() bool { return tokenRE.MatchString(s.stdout.String()) })
	key = tokenRE.FindString(s.stdout.String())
	code, body, err = request("POST", s.url+"/emails", key, `{"from":"dev@my-app.example","to":"someone@example.net","subject":"hi","text":"t"}`)
	require.NoError(t, err)
	require.Equal(t, 403, code, "%v", body)
	require.Equal(t, "validation_error", body["name"])
	s.stop(t)
}

// Nodes of one database share the settings that shape what they answer
// (the test domain, the default rate limit, the names and links domains
// and emails carry): a node started with others while one is running is
// refused, naming the setting and both values; with none running the new
// values become the cluster's.
func TestClusterSettingsDriftRefused(t *testing.T) {
	t.Parallel()
	url := godwittest.StoreURL(t, sqlstore.Postgres)
	key := []string{"--secret-key", strings.Repeat("cd", 32), "--database-url", url}
	a := start(t, append([]string{"--data-dir", t.TempDir(), "--rate-limit", "7"}, key...)...)
	waitFor(t, "the first key", func() bool { return tokenRE.MatchString(a.stdout.String()) })

	_, stderr, err := run(t, append([]string{"serve", "--http-addr", "127.0.0.1:0", "--data-dir", t.TempDir(), "--rate-limit", "7",
		"--test-domain", "example.dev"}, key...)...)
	require.Error(t, err)
	require.Contains(t, stderr, `--test-domain is "example.dev" on this node but "resend.dev" on the other nodes of this database, 1 of them running: `+
		"start it with the same value, or, to change it, stop every node and start them all with the new one")
	_, stderr, err = run(t, append([]string{"serve", "--http-addr", "127.0.0.1:0", "--data-dir", t.TempDir(), "--rate-limit", "9"}, key...)...)
	require.Error(t, err)
	require.Contains(t, stderr, `--rate-limit is "9" on this node but "7"`)
	// --max-per-host is the total across the workers: every node names the same.
	_, stderr, err = run(t, append([]string{"serve", "--http-addr", "127.0.0.1:0", "--data-dir", t.TempDir(), "--rate-limit", "7",
		"--max-per-host", "5"}, key...)...)
	require.Error(t, err)
	require.Contains(t, stderr, `--max-per-host is "5" on this node but "20"`)
	_, stderr, err = run(t, append([]string{"serve", "--http-addr", "127.0.0.1:0", "--data-dir", t.TempDir(), "--rate-limit", "7",
		"--connection-limiter", "memory"}, key...)...)
	require.Error(t, err)
	require.Contains(t, stderr, `--connection-limiter is "memory" on this node but "database"`)

	// The same values: it starts beside the first.
	b := start(t, append([]string{"--data-dir", t.TempDir(), "--rate-limit", "7"}, key...)...)
	b.stop(t)
	a.stop(t)

	// Nobody running: a change on purpose.
	c := start(t, append([]string{"--data-dir", t.TempDir(), "--rate-limit", "9"}, key...)...)
	changed := c.stderr.Records(t, "shared setting changed: no other node is running, so this node's value is the cluster's now")
	require.Len(t, changed, 1, c.stderr.String())
	require.Equal(t, "rate-limit", changed[0]["setting"])
	require.Equal(t, "7", changed[0]["from"])
	require.Equal(t, "9", changed[0]["to"])
	_, stderr, err = run(t, append([]string{"serve", "--http-addr", "127.0.0.1:0", "--data-dir", t.TempDir(), "--rate-limit", "7"}, key...)...)
	require.Error(t, err)
	require.Contains(t, stderr, `--rate-limit is "7" on this node but "9"`)
	c.stop(t)
}

// --destination-limits is checked before anything starts: a bad entry is
// refused in one sentence naming it; a good one passes check-config.
func TestDestinationLimitsChecked(t *testing.T) {
	msg := refused(t, t.TempDir(), "--http-addr", "127.0.0.1:0", "--destination-limits", "gmail:connections=10/speed=2")
	require.Contains(t, msg, `--destination-limits: destination limits "gmail:connections=10/speed=2": unknown key "speed" (want connections, messages or rate)`)
	out, stderr, err := run(t, "check-config", "--data-dir", t.TempDir(), "--http-addr", "127.0.0.1:0",
		"--destination-limits", "gmail:connections=10/rate=20,other:connections=5")
	require.NoError(t, err, stderr)
	require.Contains(t, out, "configuration OK")
}
