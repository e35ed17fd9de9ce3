package auth

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/godwit/godwit/internal/store"
)

func TestNewKey(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 12, 3, 4, 0, 0, 0, time.UTC)
	k, token, err := NewKey("team", "  ci  ", "", "", now)
	require.NoError(t, err)
	require.Equal(t, "ci", k.Name)
	require.Equal(t, store.PermissionFullAccess, k.Permission, "full access by default")
	require.Equal(t, "team", k.TeamID)
	require.Equal(t, now, k.CreatedAt)
	require.True(t, Matches(token, k.Hash), "the hash is the token's")
	prefix, err := Prefix(token)
	require.NoError(t, err)
	require.Equal(t, prefix, k.Prefix)
	require.NotContains(t, string(k.Hash), token)

	k, _, err = NewKey("team", "", store.PermissionSendingAccess, "dom", now)
	require.NoError(t, err)
	require.Equal(t, "dom", k.DomainID)

	for _, c := range []struct {
		name, perm, domain string
		err                error
	}{
		{"x", "admin", "", ErrPermission},
		{"x", store.PermissionFullAccess, "dom", ErrDomainNeedsSend},
		{"", "", "dom", ErrDomainNeedsSend},
		{"a\nb", "", "", ErrKeyName},
		{strings.Repeat("n", MaxKeyName+1), "", "", ErrKeyName},
	} {
		_, _, err := NewKey("team", c.name, c.perm, c.domain, now)
		require.ErrorIs(t, err, c.err, "%+v", c)
	}
}

// FuzzKeyName: an accepted name is trimmed, one line, and short enough.
func FuzzKeyName(f *testing.F) {
	for _, s := range []string{"", " ci ", "a\r\nb", "\x00", strings.Repeat("é", 200)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := KeyName(s)
		if err != nil {
			require.ErrorIs(t, err, ErrKeyName)
			return
		}
		require.Equal(t, strings.TrimSpace(n), n)
		require.LessOrEqual(t, len(n), MaxKeyName)
		require.False(t, strings.ContainsAny(n, "\r\n\x00"))
	})
}
