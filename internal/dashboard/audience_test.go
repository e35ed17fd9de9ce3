package dashboard

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/godwit/godwit/internal/contact"
	"github.com/godwit/godwit/internal/store"
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

func TestContactProperties(t *testing.T) {
	t.Parallel()
	defs := []*store.ContactProperty{{Key: "plan", Type: store.PropertyString, FallbackValue: "free"},
		{Key: "seats", Type: store.PropertyNumber}, {Key: "age", Type: store.PropertyNumber}}
	fb := "free"
	require.Equal(t, []property{
		{Key: "a", Value: "x"},
		{Key: "age", Type: store.PropertyNumber, Unset: true},
		{Key: "plan", Type: store.PropertyString, Unset: true, Fallback: &fb},
		{Key: "seats", Value: "2.5", Type: store.PropertyNumber},
	}, contactProperties(map[string]any{"seats": 2.5, "a": "x"}, defs), "held values and the other declared properties, by key")
	require.Empty(t, contactProperties(nil, nil))
}

func TestPropertyFields(t *testing.T) {
	t.Parallel()
	defs := []*store.ContactProperty{{Key: "age", Type: store.PropertyNumber}, {Key: "note", Type: store.PropertyString},
		{Key: "plan", Type: store.PropertyString, FallbackValue: "free"}, {Key: "seats", Type: store.PropertyNumber, FallbackValue: 1.0}}
	props := map[string]any{"seats": 3.0, "age": "old", "note": "a\nb", "other": "kept"}

	// Prefilled: the contact's values as text.
	fields, changes, ok := propertyFields(defs, props, nil)
	require.True(t, ok)
	require.Nil(t, changes)
	free, one := "free", "1"
	require.Equal(t, []propertyField{
		{Key: "age", Type: store.PropertyNumber, Value: "old", Mismatch: true},
		{Key: "note", Type: store.PropertyString, Value: "a\nb", Multiline: true},
		{Key: "plan", Type: store.PropertyString, Fallback: &free},
		{Key: "seats", Type: store.PropertyNumber, Value: "3", Fallback: &one},
	}, fields)

	// Unchanged fields are no change (the mismatched value is kept, a
	// textarea's CRLF is its LF); an empty one removes; others are read.
	form := url.Values{"property.age": {"old"}, "property.note": {"a\r\nb"}, "property.plan": {"pro"}, "property.seats": {""}}
	fields, changes, ok = propertyFields(defs, props, form)
	require.True(t, ok)
	require.Equal(t, map[string]any{"plan": "pro", "seats": nil}, changes)
	require.Equal(t, "pro", fields[2].Value)
	require.Empty(t, fields[3].Value)

	// A field the form lacks (declared since) is no change.
	_, changes, ok = propertyFields(defs, props, url.Values{"property.seats": {" 4.5 "}})
	require.True(t, ok)
	require.Equal(t, map[string]any{"seats": 4.5}, changes)

	// Errors are the fields'; the text typed is kept.
	fields, _, ok = propertyFields(defs, props, url.Values{"property.seats": {"many"}, "property.age": {"40"},
		"property.plan": {strings.Repeat("p", 2001)}})
	require.False(t, ok)
	require.Empty(t, fields[0].Error, "a mismatched value may be corrected")
	require.Contains(t, fields[3].Error, "Write a number")
	require.Equal(t, "many", fields[3].Value)
	require.Contains(t, fields[2].Error, "at most 2000 characters")
	require.Empty(t, fields[1].Error)
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
		defs := []*store.ContactProperty{{Key: "n", Type: store.PropertyNumber}, {Key: "s", Type: store.PropertyString}}
		fields, changes, ok := propertyFields(defs, map[string]any{"n": 1.0}, url.Values{"property.n": {a}, "property.s": {b}})
		require.Len(t, fields, 2)
		if ok {
			for k, v := range changes {
				if v != nil {
					require.NoError(t, contact.CheckPropertyValue(map[string]string{"n": store.PropertyNumber, "s": store.PropertyString}[k], v))
				}
			}
		}
		td := topicFields(formRequest("name", a, "description", b, "default_subscription", "opt_in", "visibility", "private"))
		if td.Error == "" {
			require.NotEmpty(t, td.Name)
			require.NotContains(t, td.Name, "\n")
		}
	})
}
