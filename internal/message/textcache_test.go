package message

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestDerivedTextIsHTMLToText(t *testing.T) {
	html := benchHTML()
	want := HTMLToText(html)
	require.Equal(t, want, DerivedText(html)) // converted
	require.Equal(t, want, DerivedText(html)) // from the cache
	other := `<p>Hello <a href="https://example.com">there</a></p>`
	require.Equal(t, HTMLToText(other), DerivedText(other))
}

func TestTextCacheStaysWithinItsBound(t *testing.T) {
	c := &textCache{m: map[string]string{}}
	body := strings.Repeat("x", 300<<10)
	for i := range 100 {
		html := body + strings.Repeat("y", i)
		c.put(html, "text")
		got, ok := c.get(html)
		require.True(t, ok)
		require.Equal(t, "text", got)
		require.LessOrEqual(t, c.bytes, textCacheBytes)
	}
	require.Len(t, c.order, len(c.m))
	_, ok := c.get(body) // the oldest went first
	require.False(t, ok)
}

func BenchmarkDerivedText(b *testing.B) {
	html := benchHTML()
	b.SetBytes(int64(len(html)))
	for b.Loop() {
		DerivedText(html)
	}
}
