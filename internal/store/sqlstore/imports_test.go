package sqlstore_test

import (
	"os/exec"
	"strings"
	"testing"
)

// sqlstore imports nothing of Godwit's but store: event payloads, webhook
// message ids and the job queue all come from its callers (the Outbox and
// store.SuppressionEvent), so that the store stays a leaf under the
// packages that use it.
func TestImportsOnlyStore(t *testing.T) {
	t.Parallel()
	const module = "github.com/godwit/godwit/"
	out, err := exec.Command("go", "list", "-deps", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list -deps: %v\n%s", err, out)
	}
	allowed := map[string]bool{
		module + "internal/store":          true,
		module + "internal/store/sqlstore": true,
	}
	for _, pkg := range strings.Fields(string(out)) {
		if strings.HasPrefix(pkg, module) && !allowed[pkg] {
			t.Errorf("sqlstore depends on %s; it may import only internal/store of this module", pkg)
		}
	}
}
