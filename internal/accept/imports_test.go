package accept_test

import (
	"os/exec"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestImports keeps the layout's rules: the accept path knows no transport
// (no net/http, hence no apierr), and SMTP submission reaches it without
// the API (msa depends on neither internal/api, its error envelope, nor its
// JSON request decoder). The dashboard does not reach through the API
// either, and the account rules know no HTTP.
func TestImports(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("no go command")
	}
	deps := func(pkg string) []string {
		out, err := exec.Command("go", "list", "-deps", pkg).CombinedOutput()
		require.NoError(t, err, "%s", out)
		return strings.Fields(string(out))
	}
	const mod = "github.com/godwit/godwit/internal/"
	for pkg, banned := range map[string][]string{
		mod + "accept": {"net/http", mod + "apierr", mod + "api"},
		mod + "msa":    {mod + "api", mod + "apierr", mod + "sendreq"},
		// The dashboard is a face of its own; accounts know no HTTP.
		mod + "dashboard": {mod + "api", mod + "apierr", mod + "msa"},
		mod + "account":   {"net/http", mod + "api", mod + "dashboard"},
	} {
		got := deps(pkg)
		for _, b := range banned {
			require.False(t, slices.Contains(got, b), "%s depends on %s", pkg, b)
		}
	}
}
