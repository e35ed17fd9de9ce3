package contact

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/godwit/godwit/internal/store"
)

func TestAddress(t *testing.T) {
	t.Parallel()
	addr, ok := Address("  Ann@Example.net ")
	require.True(t, ok)
	require.Equal(t, "Ann@Example.net", addr, "trimmed, otherwise as given")
	for _, bad := range []string{"", "ann", "Ann <ann@example.net>", "a@example.net\r\nBcc: b@example.net", "a\x00@example.net"} {
		_, ok := Address(bad)
		require.False(t, ok, bad)
	}
}

func TestPropertyRules(t *testing.T) {
	t.Parallel()
	require.True(t, ValidPropertyKey("plan_2"))
	for _, bad := range []string{"", "a-b", "a b", "é", strings.Repeat("k", MaxPropertyKey+1)} {
		require.False(t, ValidPropertyKey(bad), bad)
	}
	require.True(t, ValidPropertyString(strings.Repeat("v", MaxPropertyValue)))
	require.False(t, ValidPropertyString(strings.Repeat("v", MaxPropertyValue+1)))
	require.False(t, ValidPropertyString("a\x00"))
	require.True(t, ValidPropertyType(store.PropertyString))
	require.True(t, ValidPropertyType(store.PropertyNumber))
	require.False(t, ValidPropertyType("boolean"))
	require.False(t, ValidPropertyType(""))
	require.True(t, ValidName("Ann"))
	require.False(t, ValidName("A\nB"))
	require.NoError(t, CheckPropertyValue(store.PropertyNumber, 3.0))
	require.EqualError(t, CheckPropertyValue(store.PropertyNumber, "3"), "number")
	require.EqualError(t, CheckPropertyValue(store.PropertyString, 3.0), "string")
}

func TestMergeProperties(t *testing.T) {
	t.Parallel()
	props := map[string]any{"a": "1", "b": 2.0}
	out, err := MergeProperties(props, map[string]any{"a": nil, "c": "3"})
	require.NoError(t, err)
	require.Equal(t, map[string]any{"b": 2.0, "c": "3"}, out, "nil removes a key")
	require.Equal(t, map[string]any{"a": "1", "b": 2.0}, props, "the input is unchanged")
	full := map[string]any{}
	for i := range MaxProperties {
		full[strings.Repeat("k", i+1)] = "v"
	}
	_, err = MergeProperties(full, map[string]any{"new": "v"})
	require.ErrorIs(t, err, ErrTooManyProperties)
}

func TestSegmentAndTopicRules(t *testing.T) {
	t.Parallel()
	n, ok := SegmentName("  Customers ")
	require.True(t, ok)
	require.Equal(t, "Customers", n)
	for _, bad := range []string{"", "   ", "a\nb", "a\x00", strings.Repeat("x", MaxSegmentName+1)} {
		_, ok := SegmentName(bad)
		require.False(t, ok, bad)
	}
	n, ok = TopicName(" " + strings.Repeat("é", MaxTopicName) + " ")
	require.True(t, ok, "counted in characters, not bytes")
	require.Equal(t, strings.Repeat("é", MaxTopicName), n)
	for _, bad := range []string{"", " ", "a\rb", strings.Repeat("x", MaxTopicName+1)} {
		_, ok := TopicName(bad)
		require.False(t, ok, bad)
	}
	d, ok := TopicDescription("  ")
	require.True(t, ok)
	require.Empty(t, d, "none")
	_, ok = TopicDescription(strings.Repeat("é", MaxTopicDescription))
	require.True(t, ok)
	for _, bad := range []string{"a\x00", strings.Repeat("x", MaxTopicDescription+1)} {
		_, ok := TopicDescription(bad)
		require.False(t, ok, bad)
	}
}

// FuzzNames: an accepted segment or topic name is trimmed, on one line and
// within its limit; the rules never panic.
func FuzzNames(f *testing.F) {
	for _, s := range []string{"", "Customers", " a ", "a\nb", strings.Repeat("é", 51), "\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if n, ok := SegmentName(s); ok {
			require.Equal(t, strings.TrimSpace(n), n)
			require.NotEmpty(t, n)
			require.LessOrEqual(t, len(n), MaxSegmentName)
			require.False(t, strings.ContainsAny(n, "\r\n\x00"))
		}
		if n, ok := TopicName(s); ok {
			require.NotEmpty(t, n)
			require.False(t, strings.ContainsAny(n, "\r\n\x00"))
		}
		if d, ok := TopicDescription(s); ok {
			require.False(t, strings.ContainsRune(d, 0))
		}
	})
}

func TestCheckDeclared(t *testing.T) {
	t.Parallel()
	defs := []*store.ContactProperty{{Key: "plan", Type: store.PropertyString}, {Key: "seats", Type: store.PropertyNumber},
		{Key: "age", Type: store.PropertyNumber}}
	require.Equal(t, []string{"a", "seats"}, ValuedKeys(map[string]any{"seats": 2.0, "gone": nil, "a": "x"}))
	require.Empty(t, ValuedKeys(map[string]any{"gone": nil}))
	require.NoError(t, CheckDeclared(defs, map[string]any{"plan": "pro", "seats": 3.0, "age": nil, "free": 1.0}),
		"nil and undeclared keys pass")
	err := CheckDeclared(defs, map[string]any{"seats": "3", "age": "x", "plan": 1.0})
	var m *PropertyMismatch
	require.ErrorAs(t, err, &m)
	require.Equal(t, &PropertyMismatch{Key: "age", Type: store.PropertyNumber}, m, "the first in key order")
	require.NoError(t, CheckDeclared(nil, map[string]any{"seats": "3"}))
}

func TestPropertyText(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]any{"": nil, "3": 3.0, " -1.5 ": -1.5, "2e3": 2000.0, "0": 0.0} {
		v, err := PropertyText(store.PropertyNumber, in)
		require.NoError(t, err, in)
		require.Equal(t, want, v, in)
	}
	for _, bad := range []string{"abc", "1,5", "NaN", "Inf", "-Infinity", "1e400", "0x10", "   "} {
		_, err := PropertyText(store.PropertyNumber, bad)
		require.ErrorIs(t, err, ErrNotNumber, bad)
	}
	for in, want := range map[string]any{"": nil, " pro ": " pro ", "3": "3"} {
		v, err := PropertyText(store.PropertyString, in)
		require.NoError(t, err, in)
		require.Equal(t, want, v, in)
	}
	for _, bad := range []string{strings.Repeat("v", MaxPropertyValue+1), "a\x00"} {
		_, err := PropertyText(store.PropertyString, bad)
		require.ErrorIs(t, err, ErrPropertyString)
	}
	for _, v := range []any{nil, "x", " y ", 3.0, -1.25, 1e21, 0.1} {
		typ := store.PropertyString
		if _, ok := v.(float64); ok {
			typ = store.PropertyNumber
		}
		back, err := PropertyText(typ, FormatProperty(v))
		require.NoError(t, err)
		require.Equal(t, v, back, "FormatProperty(%v) reads back", v)
	}
	require.Equal(t, "1000000000000000000000", FormatProperty(1e21), "no exponent")
}
