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
