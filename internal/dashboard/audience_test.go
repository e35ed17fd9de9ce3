package dashboard

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func formRequest(kv ...string) *http.Request {
	v := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		v.Add(kv[i], kv[i+1])
	}
	r := httptest.NewRequest("POST", "/dashboard/x", strings.NewReader(v.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	_ = r.ParseForm()
	return r
}

func TestPathID(t *testing.T) {
	t.Parallel()
	r := httptest.NewRequest("GET", "/", nil)
	r.SetPathValue("id", "01A23A35-57E6-7335-A703-4A68F99C449B")
	id, err := pathID(r, "id")
	require.NoError(t, err)
	require.Equal(t, "01a23a35-57e6-7335-a703-4a68f99c449b", id)
	for _, bad := range []string{"", "x", "a@example.com", "{01a23a35-57e6-7335-a703-4a68f99c449b}"} {
		r.SetPathValue("id", bad)
		_, err := pathID(r, "id")
		require.ErrorIs(t, err, errNotFound, bad)
	}
}

func TestSortedProperties(t *testing.T) {
	t.Parallel()
	require.Equal(t, []property{{"a", 1.0}, {"b", "x"}, {"c", nil}}, sortedProperties(map[string]any{"c": nil, "a": 1.0, "b": "x"}))
	require.Empty(t, sortedProperties(nil))
}

func TestContactFields(t *testing.T) {
	t.Parallel()
	d, first, last := contactFields(formRequest("email", " Ann@Example.com ", "first_name", " Ann ", "last_name", "", "unsubscribed", "on"))
	require.Empty(t, d.Error)
	require.Equal(t, "Ann@Example.com", d.Email)
	require.Equal(t, "Ann", *first)
	require.Nil(t, last, "an empty name is none")
	require.True(t, d.Unsubscribed)
	d, _, _ = contactFields(formRequest("email", "Ann <ann@example.com>"))
	require.Contains(t, d.Error, "must be an address")
	d, _, _ = contactFields(formRequest("email", "ann@example.com", "first_name", "a\nb"))
	require.Contains(t, d.Error, "on one line")
}

func TestTopicFields(t *testing.T) {
	t.Parallel()
	d := topicFields(formRequest("name", " News ", "description", "", "default_subscription", "opt_out", "visibility", "public"))
	require.Empty(t, d.Error)
	require.Equal(t, "News", d.Name)
	for _, kv := range [][]string{
		{"name", "", "default_subscription", "opt_in", "visibility", "public"},
		{"name", "x", "default_subscription", "maybe", "visibility", "public"},
		{"name", "x", "default_subscription", "opt_in", "visibility", "secret"},
		{"name", "x", "description", strings.Repeat("d", 201), "default_subscription", "opt_in", "visibility", "public"},
	} {
		require.NotEmpty(t, topicFields(formRequest(kv...)).Error, kv)
	}
}

// FuzzAudienceForms: the contact and topic forms never panic, and what
// they accept is within the API's rules.
func FuzzAudienceForms(f *testing.F) {
	for _, s := range []string{"", "ann@example.com", "Ann <a@b.c>", "a\r\nb", strings.Repeat("é", 60), "opt_in"} {
		f.Add(s, s)
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		d, first, _ := contactFields(formRequest("email", a, "first_name", b))
		if d.Error == "" {
			require.NotContains(t, d.Email, "<")
			if first != nil {
				require.NotContains(t, *first, "\n")
			}
		}
		td := topicFields(formRequest("name", a, "description", b, "default_subscription", "opt_in", "visibility", "private"))
		if td.Error == "" {
			require.NotEmpty(t, td.Name)
			require.NotContains(t, td.Name, "\n")
		}
	})
}
