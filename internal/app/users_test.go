package app

import (
	"bytes"
	"context"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestUsersCommand(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	db := filepath.Join(dir, "godwit.db")
	run := func(args ...string) (string, string, int) {
		var out, errb bytes.Buffer
		args = append(append([]string{}, args[0], args[1], "--database-url", db), args[2:]...)
		code := Main(ctx, args, &out, &errb, func(string) string { return "" })
		return out.String(), errb.String(), code
	}
	out, errOut, code := run("users", "create", "--email", "Ann@Example.com", "--public-url", "https://mail.example.com/")
	require.Zero(t, code, errOut)
	require.Regexp(t, `ann@example.com \(admin\)`, out)
	require.Regexp(t, `\n    https://mail\.example\.com/dashboard/set-password\?token=[A-Za-z0-9_-]{43}\n`, out)

	out, errOut, code = run("users", "create", "--email", "bob@example.com", "--role", "viewer", "--http-addr", "127.0.0.1:9999")
	require.Zero(t, code, errOut)
	require.Regexp(t, regexp.QuoteMeta("http://127.0.0.1:9999/dashboard/set-password?token="), out, "without --public-url, the API's address")

	_, errOut, code = run("users", "create", "--email", "ann@example.com")
	require.Equal(t, 1, code)
	require.Contains(t, errOut, `team "default" has a user ann@example.com already`)
	_, errOut, code = run("users", "create", "--email", "not an address")
	require.Equal(t, 1, code)
	require.Contains(t, errOut, "is not an email address")
	_, errOut, code = run("users", "create", "--email", "c@example.com", "--role", "owner")
	require.Equal(t, 1, code)
	require.Contains(t, errOut, "must be admin or viewer")

	out, errOut, code = run("users", "list")
	require.Zero(t, code, errOut)
	require.Regexp(t, `ann@example.com\s+admin\s+not set`, out)
	require.Regexp(t, `bob@example.com\s+viewer\s+not set`, out)
	out, errOut, code = run("users", "reset-password", "--email", "BOB@example.com")
	require.Zero(t, code, errOut)
	require.Regexp(t, `bob@example.com sets a new password at this link`, out)
	require.Regexp(t, `/dashboard/set-password\?token=[A-Za-z0-9_-]{43}\n`, out)
	_, errOut, code = run("users", "reset-password", "--email", "nobody@example.com")
	require.Equal(t, 1, code)
	require.Contains(t, errOut, `team "default" has no user nobody@example.com`)

	_, errOut, code = run("users", "list", "--team", "nope")
	require.Equal(t, 1, code)
	require.Contains(t, errOut, `no team "nope"`)
}
