package e2e

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/godwit/godwit/internal/godwittest"
	"github.com/godwit/godwit/internal/store/sqlstore"
)

// previousRelease is the release pinned in testdata/previous-release.
type previousRelease struct {
	Commit    string // full hash
	Migration int64  // its last schema migration
}

func readPreviousRelease(t *testing.T) previousRelease {
	t.Helper()
	f, err := os.Open("testdata/previous-release")
	require.NoError(t, err)
	defer f.Close()
	var r previousRelease
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if v, ok := strings.CutPrefix(line, "commit "); ok {
			r.Commit = strings.TrimSpace(v)
		} else if v, ok := strings.CutPrefix(line, "migration "); ok {
			r.Migration, err = strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			require.NoError(t, err, "testdata/previous-release: migration %q", v)
		}
	}
	require.NoError(t, sc.Err())
	require.Regexp(t, `^[0-9a-f]{40}$`, r.Commit, "testdata/previous-release: a full commit hash")
	require.Positive(t, r.Migration, "testdata/previous-release: the release's last migration")
	return r
}

// skipOrFail skips the test, except in CI (which clones fully and has
// git), where it fails.
func skipOrFail(t *testing.T, format string, args ...any) {
	t.Helper()
	if godwittest.InCI() {
		t.Fatalf(format, args...)
	}
	t.Skipf(format, args...)
}

// releaseSource returns a directory holding the source of commit, taken
// from the git repository the tests run in. It is kept between runs, one
// per commit, so that Go's build cache makes the next build quick.
func releaseSource(t *testing.T, commit string) string {
	t.Helper()
	top, err := exec.Command("git", "rev-parse", "--show-toplevel").Output()
	if err != nil {
		skipOrFail(t, "the upgrade test needs git and the repository's history: git rev-parse: %v", err)
	}
	root := strings.TrimSpace(string(top))
	if err := exec.Command("git", "-C", root, "cat-file", "-e", commit+"^{commit}").Run(); err != nil {
		skipOrFail(t, "the previous release's commit %s is not in this clone (a shallow clone? `git fetch --unshallow` brings it): %v", commit, err)
	}
	dir := filepath.Join(os.TempDir(), "godwit-release-"+commit[:12])
	if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
		return dir
	}
	// Extracted beside, then renamed: a run that stops halfway leaves no
	// half-filled directory under the final name.
	tmp, err := os.MkdirTemp(os.TempDir(), "godwit-release-*")
	require.NoError(t, err)
	defer os.RemoveAll(tmp)
	tarFile := filepath.Join(tmp, "src.tar")
	out, err := exec.Command("git", "-C", root, "archive", "--format=tar", "-o", tarFile, commit).CombinedOutput()
	require.NoError(t, err, "git archive %s: %s", commit, out)
	src := filepath.Join(tmp, "src")
	require.NoError(t, os.Mkdir(src, 0o755))
	out, err = exec.Command("tar", "-x", "-f", tarFile, "-C", src).CombinedOutput()
	require.NoError(t, err, "tar: %s", out)
	if err := os.Rename(src, dir); err != nil {
		if _, statErr := os.Stat(filepath.Join(dir, "go.mod")); statErr != nil {
			require.NoError(t, err, "move the previous release's source into place")
		} // another run put it there first
	}
	return dir
}

// buildRelease builds the godwit binary of the source in dir.
func buildRelease(t *testing.T, dir string) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "godwit-previous")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	build := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/godwit")
	build.Dir = dir
	build.Env = append(os.Environ(), "GOWORK=off")
	began := time.Now()
	out, err := build.CombinedOutput()
	require.NoError(t, err, "build the previous release in %s: %s", dir, out)
	t.Logf("built the previous release in %s", time.Since(began).Round(time.Second))
	return bin
}

// lastMigration is the highest migration number among dir's files.
func lastMigration(t *testing.T, dir string) int64 {
	t.Helper()
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	var last int64
	for _, e := range entries {
		if n, err := strconv.ParseInt(strings.SplitN(e.Name(), "_", 2)[0], 10, 64); err == nil && n > last {
			last = n
		}
	}
	return last
}

// TestUpgradeFromPreviousRelease: the previous release's binary (built from
// the commit pinned in testdata/previous-release) makes a database and
// fills it through the API; the current binary then starts on it, applies
// the pending migrations, and serves every object with its id and fields,
// the old keys, the still-scheduled email (which it cancels) and new
// sends, on SQLite and on PostgreSQL. Without the commit (a shallow clone)
// it skips, except in CI, where it fails; internal/store/sqlstore's
// TestUpgradeFromPreviousSchema covers the schema without git.
func TestUpgradeFromPreviousRelease(t *testing.T) {
	prev := readPreviousRelease(t)
	src := releaseSource(t, prev.Commit)
	for _, dialect := range []string{"sqlite", "postgres"} {
		last := lastMigration(t, filepath.Join(src, "internal/store/sqlstore/migrations", dialect))
		require.Equal(t, prev.Migration, last, "testdata/previous-release: commit %s's last %s migration", prev.Commit[:12], dialect)
	}
	oldBinary := buildRelease(t, src)

	for _, kind := range godwittest.Kinds {
		t.Run(string(kind), func(t *testing.T) {
			t.Parallel()
			testUpgrade(t, kind, oldBinary, prev)
		})
	}
}

// snapshot is an object as the old release served it.
type snapshot struct {
	path string
	body map[string]any
	// changing are fields the server may change on its own over time;
	// "records.status" is the status of each element of records. A field
	// that a release changes on purpose goes here too, with the reason.
	changing []string
}

func testUpgrade(t *testing.T, kind sqlstore.Dialect, oldBinary string, prev previousRelease) {
	dataDir := t.TempDir()
	dbArgs := []string{"--data-dir", dataDir}
	if kind == sqlstore.Postgres {
		dbArgs = append(dbArgs, "--database-url", godwittest.StoreURL(t, kind))
	}

	// The previous release makes the database and its objects.
	old := startBinary(t, oldBinary, dbArgs...)
	key := firstKey(t, old)
	call := func(s *server, key, method, path, body string) map[string]any {
		t.Helper()
		code, m, err := request(method, s.url+path, key, body)
		require.NoError(t, err)
		require.True(t, code == 200 || code == 201, "%s %s: %d %v", method, path, code, m)
		return m
	}
	var snaps []snapshot
	keep := func(path string, changing ...string) map[string]any {
		t.Helper()
		m := call(old, key, "GET", path, "")
		snaps = append(snaps, snapshot{path, m, changing})
		return m
	}

	domain := call(old, key, "POST", "/domains", `{"name":"upgrade.example.com"}`)["id"].(string)
	// A domain's status and its records' change as its DNS is checked.
	keep("/domains/"+domain, "status", "records.status")
	sendKey := call(old, key, "POST", "/api-keys", `{"name":"upgrade-sender","permission":"sending_access"}`)["token"].(string)
	keys := call(old, key, "GET", "/api-keys", "")["data"].([]any)

	sent := call(old, key, "POST", "/emails", `{"from":"Godwit <onboarding@resend.dev>","to":["delivered@resend.dev"],
		"cc":"delivered+cc@resend.dev","reply_to":"help@example.com","subject":"Before the upgrade","html":"<p>old</p>","text":"old",
		"tags":[{"name":"release","value":"previous"}],"headers":{"X-Upgrade":"1"}}`)["id"].(string)
	waitWithin(t, 30*time.Second, "the old release to deliver its email", func() bool {
		return call(old, key, "GET", "/emails/"+sent, "")["last_event"] == "delivered"
	})
	keep("/emails/" + sent)
	bySendKey := call(old, sendKey, "POST", "/emails", `{"from":"onboarding@resend.dev","to":"delivered@resend.dev","subject":"by the sending key","text":"x"}`)["id"].(string)
	waitWithin(t, 30*time.Second, "the old release to deliver the sending key's email", func() bool {
		return call(old, key, "GET", "/emails/"+bySendKey, "")["last_event"] == "delivered"
	})
	keep("/emails/" + bySendKey)
	later := time.Now().Add(2 * time.Hour).UTC().Format(time.RFC3339)
	scheduled := call(old, key, "POST", "/emails", `{"from":"onboarding@resend.dev","to":"delivered@resend.dev","subject":"Scheduled",
		"text":"later","scheduled_at":"`+later+`"}`)["id"].(string)
	require.Equal(t, "scheduled", keep("/emails/" + scheduled)["last_event"])

	webhook := call(old, key, "POST", "/webhooks", `{"endpoint":"https://hooks.example.com/godwit","events":["email.bounced"]}`)["id"].(string)
	require.NotEmpty(t, keep("/webhooks/" + webhook)["signing_secret"], "the signing secret, unsealed with the secret key")
	topic := call(old, key, "POST", "/topics", `{"name":"Releases","default_subscription":"opt_in"}`)["id"].(string)
	keep("/topics/" + topic)
	audience := call(old, key, "POST", "/audiences", `{"name":"Upgraders"}`)["id"].(string)
	keep("/audiences/" + audience)
	contact := call(old, key, "POST", "/audiences/"+audience+"/contacts", `{"email":"Ann@Example.com","first_name":"Ann","last_name":"Lee"}`)["id"].(string)
	keep("/contacts/" + contact)
	keep("/audiences/" + audience + "/contacts")
	template := call(old, key, "POST", "/templates", `{"name":"Welcome","alias":"welcome","subject":"Hi","html":"<p>Hi {{{NAME}}}</p>",
		"variables":[{"key":"NAME","type":"string","fallback_value":"there"}]}`)["id"].(string)
	call(old, key, "POST", "/templates/"+template+"/publish", "")
	keep("/templates/" + template)
	broadcast := call(old, key, "POST", "/broadcasts", `{"segment_id":"`+audience+`","from":"onboarding@resend.dev","subject":"News",
		"html":"<p>News</p>","name":"December"}`)["id"].(string)
	keep("/broadcasts/" + broadcast)
	call(old, key, "POST", "/suppressions", `{"email":"gone@example.com"}`)
	keep("/suppressions/gone@example.com")
	old.stop(t)

	// The current binary lists what it will apply: everything after the
	// previous release's last migration.
	out, stderr, err := run(t, append([]string{"migrate", "--status"}, dbArgs...)...)
	require.NoError(t, err, stderr)
	rows := regexp.MustCompile(`(?m)^(\d{5})_\w+\s+(applied|pending)\b`).FindAllStringSubmatch(out, -1)
	require.NotEmpty(t, rows, out)
	for _, r := range rows {
		v, _ := strconv.ParseInt(r[1], 10, 64)
		want := "applied"
		if v > prev.Migration {
			want = "pending"
		}
		require.Equal(t, want, r[2], "migration %s before the upgrade:\n%s", r[1], out)
	}

	cur := start(t, dbArgs...)
	require.False(t, tokenRE.MatchString(cur.stdout.String()), "no first key on an existing database")
	out, stderr, err = run(t, append([]string{"migrate", "--status"}, dbArgs...)...)
	require.NoError(t, err, stderr)
	require.Contains(t, out, "none pending", "serve applied every migration")
	require.NotRegexp(t, `(?m)\spending\s`, out)

	// Every object reads back with its id and fields.
	for _, s := range snaps {
		got := call(cur, key, "GET", s.path, "")
		for field, want := range s.body {
			if slices.Contains(s.changing, field) {
				continue
			}
			require.Equal(t, without(want, field, s.changing), without(got[field], field, s.changing),
				"GET %s: %s after the upgrade", s.path, field)
		}
	}
	for _, k := range keys {
		k := k.(map[string]any)
		var found map[string]any
		for _, g := range call(cur, key, "GET", "/api-keys", "")["data"].([]any) {
			if g.(map[string]any)["id"] == k["id"] {
				found = g.(map[string]any)
			}
		}
		require.NotNil(t, found, "API key %v after the upgrade", k["name"])
		for _, field := range []string{"name", "created_at"} {
			require.Equal(t, k[field], found[field], "API key %v: %s", k["name"], field)
		}
	}

	// The scheduled email is still scheduled, and can be cancelled.
	require.Equal(t, "scheduled", call(cur, key, "GET", "/emails/"+scheduled, "")["last_event"])
	call(cur, key, "POST", "/emails/"+scheduled+"/cancel", "")
	require.Equal(t, "canceled", call(cur, key, "GET", "/emails/"+scheduled, "")["last_event"])

	// The old keys send, and the new sends are delivered.
	var ids []string
	for _, k := range []string{key, sendKey} {
		ids = append(ids, call(cur, k, "POST", "/emails", `{"from":"onboarding@resend.dev","to":"delivered@resend.dev",
			"subject":"After the upgrade","text":"new"}`)["id"].(string))
	}
	code, _, err := request("GET", cur.url+"/emails", sendKey, "")
	require.NoError(t, err)
	require.Equal(t, 401, code, "the sending key keeps its permission")
	for _, id := range ids {
		waitWithin(t, 30*time.Second, fmt.Sprintf("email %s, sent after the upgrade, to be delivered", id), func() bool {
			return call(cur, key, "GET", "/emails/"+id, "")["last_event"] == "delivered"
		})
	}
	list := call(cur, key, "GET", "/emails?limit=10", "")["data"].([]any)
	require.Len(t, list, 5, "the emails of both releases")
	require.Equal(t, ids[1], list[0].(map[string]any)["id"], "newest first")
	require.Equal(t, sent, list[4].(map[string]any)["id"])
	cur.stop(t)
}

// without returns v, the value of field, without the subfields that
// changing names as "field.sub" in v's elements.
func without(v any, field string, changing []string) any {
	list, ok := v.([]any)
	if !ok {
		return v
	}
	out := make([]any, len(list))
	for i, e := range list {
		m, ok := e.(map[string]any)
		if !ok {
			out[i] = e
			continue
		}
		c := make(map[string]any, len(m))
		for k, x := range m {
			if !slices.Contains(changing, field+"."+k) {
				c[k] = x
			}
		}
		out[i] = c
	}
	return out
}
