package auth

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestTokens(t *testing.T) {
	seen := map[string]bool{}
	for range 100 {
		token, prefix, hash, err := NewToken()
		require.NoError(t, err)
		require.Regexp(t, `^re_[A-Za-z0-9]{8}_[A-Za-z0-9_-]{43}$`, token)
		require.False(t, seen[token])
		seen[token] = true
		got, err := Prefix(token)
		require.NoError(t, err)
		require.Equal(t, prefix, got)
		require.True(t, Matches(token, hash))
		require.False(t, Matches(token+"x", hash))
		require.False(t, Matches(token[:len(token)-1]+"A", hash) && !strings.HasSuffix(token, "A"))
	}
	for _, bad := range []string{"", "re_", "re_short", "sk_abcdefgh_xxxxxxxx", "re_abcdefghXxxxx", "re_" + strings.Repeat("a", 300)} {
		_, err := Prefix(bad)
		require.ErrorIs(t, err, ErrMalformed, bad)
	}
}

func TestMatchesUnknownPrefix(t *testing.T) {
	token, _, _, err := NewToken()
	require.NoError(t, err)
	require.False(t, Matches(token, nil))
	require.False(t, Matches("re_00000000_"+strings.Repeat("A", 43), nil), "not even the dummy's own token")
}

func TestFromHeader(t *testing.T) {
	for in, want := range map[string]string{
		"Bearer re_x": "re_x", "bearer re_x": "re_x", "  Bearer   re_x  ": "re_x", "BEARER re_x": "re_x",
	} {
		got, ok := FromHeader(in)
		require.True(t, ok, in)
		require.Equal(t, want, got, in)
	}
	for _, bad := range []string{"re_x", "Basic cmVfeDo=", "Token re_x", "Bearer", "Bearer   ", "Bearerre_x", ""} {
		_, ok := FromHeader(bad)
		require.False(t, ok, bad)
	}
}
