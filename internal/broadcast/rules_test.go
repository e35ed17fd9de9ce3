package broadcast_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/godwit/godwit/internal/broadcast"
	"github.com/godwit/godwit/internal/store"
)

func TestName(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{"": "", "  December news ": "December news", strings.Repeat("é", broadcast.MaxName): strings.Repeat("é", broadcast.MaxName)} {
		got, err := broadcast.Name(in)
		require.NoError(t, err)
		require.Equal(t, want, got)
	}
	for _, in := range []string{strings.Repeat("n", broadcast.MaxName+1), "two\nlines", "a\rb", "nul\x00"} {
		got, err := broadcast.Name(in)
		require.Empty(t, got)
		var be *broadcast.Error
		require.True(t, errors.As(err, &be), "%q", in)
		require.Equal(t, "name", be.Field)
		require.Equal(t, "The `name` field must be at most 256 characters, on one line.", be.Error())
	}
}

func TestSendable(t *testing.T) {
	t.Parallel()
	s := func(v string) *string { return &v }
	for _, c := range []struct {
		name           string
		b              store.Broadcast
		canUnsubscribe bool
		want           error
	}{
		{"html", store.Broadcast{HTML: s("<p>hi</p>")}, false, nil},
		{"text", store.Broadcast{Text: s("hi")}, false, nil},
		{"no content", store.Broadcast{}, true, broadcast.ErrNoContent},
		{"empty content", store.Broadcast{HTML: s(""), Text: s("")}, true, broadcast.ErrNoContent},
		{"unsubscribe link, no public URL", store.Broadcast{Text: s("bye: {{{RESEND_UNSUBSCRIBE_URL}}}")}, false, broadcast.ErrNoPublicURL},
		{"unsubscribe link", store.Broadcast{HTML: s(`<a href="{{{RESEND_UNSUBSCRIBE_URL}}}">bye</a>`)}, true, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := broadcast.Sendable(&c.b, c.canUnsubscribe)
			if c.want == nil {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, c.want)
			var be *broadcast.Error
			require.True(t, errors.As(err, &be))
			require.Empty(t, be.Field)
		})
	}
}
