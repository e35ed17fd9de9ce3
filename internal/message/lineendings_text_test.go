package message

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// TestBareLineEndingsNormalisedText: the wire is CRLF, and every bare LF,
// bare CR and CRLF of a body becomes one CRLF, nothing is dropped and no
// line break is doubled.
func TestBareLineEndingsNormalisedText(t *testing.T) {
	for _, tc := range []struct{ name, text, html string }{
		{"text", "a\nb\rc\r\nd", ""},
		{"text and html", "a\nb\rc\r\nd", "<p>x</p>\n<p>y</p>\r<p>z</p>\r\n"},
		{"runs", "\n\n\r\r\r\n\r\n", ""},
		{"trailing CR", "end\r", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := baseEmail()
			e.Text = ptr(tc.text)
			if tc.html != "" {
				e.HTML = ptr(tc.html)
			}
			_, _, leaves := parse(t, build(t, e))
			require.Equal(t, crlf(tc.text), string(leaves[0].body), "text part")
			if tc.html != "" {
				require.Len(t, leaves, 2)
				require.Equal(t, crlf(tc.html), string(leaves[1].body), "html part")
			}
		})
	}
}

// crlf is s with every CRLF, bare CR and bare LF written as CRLF, spelled
// out byte by byte rather than with the code under test.
func crlf(s string) string {
	var out []byte
	for i := 0; i < len(s); i++ {
		switch {
		case s[i] == '\r' && i+1 < len(s) && s[i+1] == '\n':
			out = append(out, '\r', '\n')
			i++
		case s[i] == '\r' || s[i] == '\n':
			out = append(out, '\r', '\n')
		default:
			out = append(out, s[i])
		}
	}
	return string(out)
}
