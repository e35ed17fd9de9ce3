package message

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestExcerpt(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ name, in, want string }{
		{"plain", "ada@example.com", "ada@example.com"},
		{"controls", "a\r\nb\x00c\x7f", "a??b?c?"},
		{"invalid UTF-8", "a\xffb", "a?b"},
		{"non-ASCII kept", "Zoë <z@example.com>", "Zoë <z@example.com>"},
		{"64 kept", strings.Repeat("x", 64), strings.Repeat("x", 64)},
		{"65 cut", strings.Repeat("é", 65), strings.Repeat("é", 64) + "…"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, Excerpt(tc.in))
		})
	}
}
