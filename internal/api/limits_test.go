package api

import (
	"fmt"
	"strings"
	"testing"

	"github.com/godwit/godwit/internal/store/sqlstore"
	"github.com/stretchr/testify/require"
)

// TestContactImportTooManyProperties: a row with values for more than 100
// properties fails (counts.failed) instead of losing the columns after the
// 100th; a row with 100 is imported whole.
func TestContactImportTooManyProperties(t *testing.T) {
	t.Parallel()
	e := setup(t, sqlstore.SQLite)
	header := []string{"email"}
	full, hundred := []string{"many@example.net"}, []string{"hundred@example.net"}
	for i := range 101 {
		header = append(header, fmt.Sprintf("p%d", i))
		full = append(full, "v")
		if i < 100 {
			hundred = append(hundred, "v")
		} else {
			hundred = append(hundred, "")
		}
	}
	csv := strings.Join(header, ",") + "\n" + strings.Join(full, ",") + "\n" + strings.Join(hundred, ",") + "\n"
	r := e.importCSV(e.keyA, csv)
	require.Equal(t, 201, r.status, "body: %s", r.body)
	r = e.do("GET", "/contacts/imports/"+r.json["id"].(string), e.keyA, "")
	require.Equal(t, map[string]any{"total": 2.0, "created": 1.0, "updated": 0.0, "skipped": 0.0, "failed": 1.0}, r.json["counts"])
	requireError(t, e.do("GET", "/contacts/many@example.net", e.keyA, ""), 404, "not_found")
	r = e.do("GET", "/contacts/hundred@example.net", e.keyA, "")
	require.Equal(t, 200, r.status)
	require.Len(t, r.json["properties"], 100)
	require.Equal(t, "v", r.json["properties"].(map[string]any)["p99"])
}
