package dashboard

import (
	"encoding/json"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/godwit/godwit/internal/store"
)

func TestPagerOf(t *testing.T) {
	t.Parallel()
	link := func(key, id string) string { return key + ":" + id }
	require.Equal(t, pager{}, pagerOf(store.Page{}, 0, "", "", false, link))
	require.Equal(t, pager{}, pagerOf(store.Page{}, 2, "a", "b", false, link), "one page")
	require.Equal(t, pager{Older: "after:b"}, pagerOf(store.Page{}, 2, "a", "b", true, link), "the first page")
	require.Equal(t, pager{Newer: "before:a", Older: "after:b"}, pagerOf(store.Page{After: "x"}, 2, "a", "b", true, link))
	require.Equal(t, pager{Newer: "before:a"}, pagerOf(store.Page{After: "x"}, 2, "a", "b", false, link), "the last page")
	require.Equal(t, pager{Newer: "before:a", Older: "after:b"}, pagerOf(store.Page{Before: "x"}, 2, "a", "b", true, link))
	require.Equal(t, pager{Older: "after:b"}, pagerOf(store.Page{Before: "x"}, 2, "a", "b", false, link), "back at the first page")
}

func TestListLink(t *testing.T) {
	t.Parallel()
	require.Equal(t, "/dashboard/logs?after=b", listLink("logs", nil)("after", "b"))
	keep := url.Values{"status": {"sent"}, "to": {"a+b@example.com"}, "before": {"stale"}}
	link := listLink("emails", keep)
	require.Equal(t, "/dashboard/emails?after=b&status=sent&to=a%2Bb%40example.com", link("after", "b"),
		"the filter is kept, the other cursor dropped")
	require.Equal(t, "/dashboard/emails?before=a&status=sent&to=a%2Bb%40example.com", link("before", "a"))
	require.Equal(t, []string{"stale"}, keep["before"], "keep is not changed")
}

func TestCursorPage(t *testing.T) {
	t.Parallel()
	p, err := cursorPage(httptest.NewRequest("GET", "/dashboard/logs?after=a", nil), 7)
	require.NoError(t, err)
	require.Equal(t, store.Page{Limit: 7, After: "a"}, p)
	_, err = cursorPage(httptest.NewRequest("GET", "/dashboard/logs?after=a&before=b", nil), 7)
	require.Error(t, err)
}

func TestPrettyJSON(t *testing.T) {
	t.Parallel()
	require.Empty(t, prettyJSON(nil))
	require.Empty(t, prettyJSON(json.RawMessage("null")))
	require.Equal(t, "{\n  \"a\": \"<b>\"\n}", prettyJSON(json.RawMessage(`{"a":"<b>"}`)), "indented, the text as it is (the template escapes it)")
	require.Equal(t, "not json", prettyJSON(json.RawMessage("not json")))
	require.Empty(t, storedBody([]byte("not json")), "as the API: only a JSON value is shown")
}

func TestFormMessage(t *testing.T) {
	t.Parallel()
	require.Equal(t, "The endpoint must be an absolute http or https URL without credentials.",
		formMessage("The `endpoint` field must be an absolute http or https URL without credentials."))
	require.Equal(t, "Choose at least one event.", formMessage("The `events` field must name at least one event."))
	require.False(t, strings.Contains(formMessage("Unknown event `x`. Events: a, b."), "`"))
}

// FuzzPrettyJSON: any stored body renders without panicking, and a JSON
// one stays the same JSON.
func FuzzPrettyJSON(f *testing.F) {
	for _, s := range []string{"", "null", `{"a":1}`, `[1,"<script>"]`, "{", `"\u003c"`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out := prettyJSON(json.RawMessage(s))
		if json.Valid([]byte(s)) && s != "null" && s != "" {
			require.True(t, json.Valid([]byte(out)), out)
		}
	})
}
