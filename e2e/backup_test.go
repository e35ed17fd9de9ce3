package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestBackupUnderLoad: godwit backup copies a serving SQLite store while
// emails are being sent; a server started on the copy (with the same
// secret key) migrates it cleanly and has every email the API accepted
// before the backup began.
func TestBackupUnderLoad(t *testing.T) {
	dir := t.TempDir()
	s := start(t, "--data-dir", dir)
	key := firstKey(t, s)

	var (
		mu       sync.Mutex
		accepted []string
		failures []string
	)
	stop := make(chan struct{})
	loadDone := make(chan struct{})
	go func() {
		defer close(loadDone)
		const most = 20000 // bounded, whatever happens to stop
		for range most {
			select {
			case <-stop:
				return
			default:
			}
			code, body, err := request("POST", s.url+"/emails", key,
				`{"from":"onboarding@resend.dev","to":"delivered@resend.dev","subject":"backup","text":"under load"}`)
			mu.Lock()
			if err == nil && code == 200 {
				accepted = append(accepted, body["id"].(string))
			} else {
				failures = append(failures, strconv.Itoa(code)+" "+errString(err))
			}
			mu.Unlock()
		}
	}()
	stopLoad := func() {
		select {
		case <-stop:
		default:
			close(stop)
		}
		<-loadDone
	}
	t.Cleanup(stopLoad)
	count := func() int { mu.Lock(); defer mu.Unlock(); return len(accepted) }
	waitWithin(t, 30*time.Second, "200 accepted emails", func() bool { return count() >= 200 })

	mu.Lock()
	before := slices.Clone(accepted)
	mu.Unlock()
	backup := filepath.Join(t.TempDir(), "godwit-backup.db")
	out, stderr, err := run(t, "backup", "--data-dir", dir, "--to", backup)
	require.NoError(t, err, stderr)
	during := count() - len(before)
	stopLoad()
	mu.Lock()
	require.Empty(t, failures, "every send during the backup is answered 200")
	mu.Unlock()
	t.Logf("%d emails accepted before the backup began, %d while it ran: %s", len(before), during, out)
	m := regexp.MustCompile(`(?m)^wrote ` + regexp.QuoteMeta(backup) + `: [\d.]+ (bytes|KiB|MiB), (\d+) emails, schema \d{5}$`).FindStringSubmatch(out)
	require.NotNil(t, m, out)
	n, _ := strconv.Atoi(m[2])
	require.GreaterOrEqual(t, n, len(before), "the backup counts at least the emails accepted before it")
	require.Contains(t, out, "not copied: --with-logs copies them")
	_, err = os.Stat(strings.TrimSuffix(backup, ".db") + "-logs.db")
	require.ErrorIs(t, err, os.ErrNotExist, "no request logs without --with-logs")

	// A second backup to the same file is refused; the first is intact.
	_, stderr, err = run(t, "backup", "--data-dir", dir, "--to", backup)
	require.Error(t, err)
	require.Contains(t, stderr, "never overwrites")
	s.stop(t)

	// Restore: a data directory with the backup as godwit.db and the same
	// secret key.
	restored := t.TempDir()
	b, err := os.ReadFile(backup)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(restored, "godwit.db"), b, 0o600))
	secret, err := os.ReadFile(filepath.Join(dir, "secret.key"))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(restored, "secret.key"), secret, 0o600))

	out, stderr, err = run(t, "migrate", "--status", "--data-dir", restored)
	require.NoError(t, err, stderr)
	require.Contains(t, out, "none pending", "the backup has the schema it was taken with")
	s2 := start(t, "--data-dir", restored)
	for _, id := range before {
		code, body, err := request("GET", s2.url+"/emails/"+id, key, "")
		require.NoError(t, err)
		require.Equal(t, 200, code, "email %s, accepted before the backup, is in it: %v", id, body)
		require.Equal(t, "backup", body["subject"])
	}
	code, _, err := request("POST", s2.url+"/emails", key, `{"from":"onboarding@resend.dev","to":"delivered@resend.dev","subject":"s","text":"x"}`)
	require.NoError(t, err)
	require.Equal(t, 200, code, "the restored server accepts emails with the old key")
	s2.stop(t)
}

// TestBackupRefusesPostgres: on PostgreSQL, backup says what to use in
// one sentence, without touching the database.
func TestBackupRefusesPostgres(t *testing.T) {
	_, stderr, err := run(t, "backup", "--database-url", "postgres://nobody@127.0.0.1:1/none", "--to", filepath.Join(t.TempDir(), "b"))
	require.Error(t, err)
	require.Equal(t, 1, exitCode(err))
	require.Contains(t, stderr, "pg_dump")
	require.Contains(t, stderr, "secret key")
	require.Equal(t, 1, strings.Count(stderr, "\n"), "one line: %q", stderr)
}

// TestCommandHelp: each command's --help shows its usage and only its own
// flags, exit 0; an unknown flag is one line and a pointer at --help,
// exit 2; the store commands read serve's config file.
func TestCommandHelp(t *testing.T) {
	for _, cmd := range []string{"keys", "teams", "users"} {
		out, stderr, err := run(t, cmd, "--help")
		require.NoError(t, err, stderr)
		require.Contains(t, out, "godwit "+cmd+" ")
		for _, other := range []string{"keys", "teams", "users", "queue", "serve"} {
			if other != cmd {
				require.NotContains(t, out, "godwit "+other+" ", "%s --help shows only %s", cmd, cmd)
			}
		}
	}
	for _, args := range [][]string{{"queue", "--help"}, {"keys", "create", "-h"}, {"keys", "list", "--help"},
		{"teams", "set-rate-limit", "-h"}, {"users", "create", "-h"}, {"migrate", "-h"}, {"backup", "-h"}} {
		out, stderr, err := run(t, args...)
		require.NoError(t, err, "%v: %s", args, stderr)
		require.Contains(t, out, "-data-dir", "%v", args)
		require.Contains(t, out, "-database-url", "%v", args)
		for _, serverFlag := range []string{"-http-addr", "-mx-host", "-workers", "-rate-limit", "-smtp-addr", "-delivery"} {
			if args[0] == "users" && serverFlag == "-http-addr" {
				continue // the link it prints is on the API's address
			}
			require.NotContains(t, out, "\n  "+serverFlag+" ", "%v shows only its own flags", args)
		}
	}
	out, _, err := run(t, "keys", "create", "-h")
	require.NoError(t, err)
	require.Contains(t, out, "\n  -permission ")
	require.NotContains(t, out, "\n  -limit ")
	out, _, err = run(t, "serve", "-h")
	require.NoError(t, err)
	require.Contains(t, out, "\n  -http-addr ")

	for _, args := range [][]string{{"keys", "list", "--bogus"}, {"teams", "list", "--http-addr", "x"}, {"queue", "--nope"},
		{"users", "list", "--email", "x"}, {"keys", "frob"}, {"frob"}, {"serve", "--bogus"}, {"migrate", "--to", "x"}} {
		cmd := exec.Command(binary, args...)
		cmd.Env = append(os.Environ(), "GODWIT_DATA_DIR="+t.TempDir())
		b, err := cmd.CombinedOutput()
		require.Error(t, err, "%v", args)
		require.Equal(t, 2, exitCode(err), "%v", args)
		lines := strings.Split(strings.TrimSpace(string(b)), "\n")
		require.Len(t, lines, 2, "%v: one line and a pointer: %s", args, b)
		require.Regexp(t, `^run 'godwit( [\w-]+){0,2} --help'$`, lines[1])
	}

	// serve's config file, with settings only serve has, works for keys.
	dir := t.TempDir()
	file := filepath.Join(dir, "godwit.conf")
	require.NoError(t, os.WriteFile(file, []byte("data-dir = "+dir+"/data\nhttp-addr = 127.0.0.1:0\nworkers = 3\n"), 0o600))
	out, stderr, err := run(t, "keys", "create", "--name", "k", "--config", file)
	require.NoError(t, err, stderr)
	require.Regexp(t, tokenRE, out)
	_, err = os.Stat(filepath.Join(dir, "data", "godwit.db"))
	require.NoError(t, err, "the data dir from the file is used")
	require.NoError(t, os.WriteFile(file, []byte("data-dir = "+dir+"/data\nno-such-setting = 1\n"), 0o600))
	_, stderr, err = run(t, "keys", "list", "--config", file)
	require.Error(t, err)
	require.Contains(t, stderr, `unknown setting "no-such-setting"`)
}

func exitCode(err error) int {
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode()
	}
	return -1
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
