package e2e

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// A --database-url that cannot be what was meant is refused in one
// sentence, by serve and by the commands, before anything is created: an
// unknown scheme and postgres without its colon used to name a new SQLite
// file; a SQLite file in a directory that does not exist is a typo.
func TestDatabaseURLRefused(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ url, says string }{
		{"mysql://godwit@db.example.com/godwit", `scheme "mysql" is not supported`},
		{"postgres//godwit@db.example.com/godwit", "missing its colon"},
		{"no-such-dir/godwit.db", "directory no-such-dir of the SQLite file does not exist"},
		{"postgres://godwit@db.example.com:port/godwit", "not a valid PostgreSQL URL"},
	} {
		for _, args := range [][]string{
			{"serve", "--http-addr", "127.0.0.1:0"},
			{"keys", "create", "--name", "k"},
			{"migrate"},
		} {
			dir := t.TempDir()
			cmd := exec.Command(binary, append(args, "--data-dir", filepath.Join(dir, "data"), "--database-url", tc.url)...)
			cmd.Dir = dir
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			err := cmd.Run()
			require.Error(t, err, "%s %v", tc.url, args)
			require.Contains(t, stderr.String(), tc.says, "%s %v", tc.url, args)
			require.Empty(t, stdout.String(), "no key printed")
			entries, err := os.ReadDir(dir)
			require.NoError(t, err)
			require.Empty(t, entries, "nothing created for %s %v", tc.url, args)
		}
	}
}
