package tracking

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

const testID = "7f1c7e2a-1b2c-4d5e-8f90-123456789abc"

// alphabet is base64url's, the tokens' encoding.
const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

func testKey(b byte) []byte { return bytes.Repeat([]byte{b}, 32) }

func testSigner(t testing.TB) *Signer {
	t.Helper()
	s, err := NewSigner(testKey(1))
	require.NoError(t, err)
	return s
}

// sealRaw signs arbitrary bytes as a token of kind with s's current key, to
// build well-signed tokens with bad contents.
func sealRaw(s *Signer, ver, kind byte, body []byte) string {
	b := append([]byte{ver, kind}, body...)
	return s.seal(b, kind)
}

func idBytes(t *testing.T) []byte {
	id := make([]byte, 16)
	for i := range id {
		id[i] = byte(i + 1)
	}
	return id
}

func TestNewSigner(t *testing.T) {
	for _, tc := range []struct {
		name string
		keys [][]byte // the key, then the old keys
		err  string   // a substring of the error; "" for success
	}{
		{"short key", [][]byte{make([]byte, 31)}, "31 bytes"},
		{"no key", [][]byte{nil}, "key is 0 bytes"},
		{"short old key", [][]byte{testKey(1), testKey(2), make([]byte, 16)}, "old key 2"},
		{"long key and an old key", [][]byte{make([]byte, 64), testKey(2)}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := NewSigner(tc.keys[0], tc.keys[1:]...)
			if tc.err != "" {
				require.ErrorContains(t, err, tc.err)
				return
			}
			require.NoError(t, err)
			require.Len(t, s.keys, len(tc.keys))
		})
	}
}

func TestOpenRoundTrip(t *testing.T) {
	s := testSigner(t)
	for _, tc := range []struct{ in, want string }{
		{testID, testID},
		{strings.ToUpper(testID), testID},
		{"00000000-0000-0000-0000-000000000000", "00000000-0000-0000-0000-000000000000"},
		{"ffffffff-ffff-ffff-ffff-ffffffffffff", "ffffffff-ffff-ffff-ffff-ffffffffffff"},
	} {
		t.Run(tc.in, func(t *testing.T) {
			tok := s.OpenToken(Open{EmailID: tc.in})
			require.Len(t, tok, 46, "open tokens have a fixed size")
			require.NotContains(t, tok, "=")
			got, err := s.ParseOpen(tok)
			require.NoError(t, err)
			require.Equal(t, Open{EmailID: tc.want}, got)
		})
	}
}

func TestClickRoundTrip(t *testing.T) {
	s := testSigner(t)
	long := "https://example.com/" + strings.Repeat("a", maxURLLen-len("https://example.com/"))
	for _, tc := range []struct {
		name string
		c    Click
	}{
		{"no path, index 0", Click{EmailID: testID, URL: "https://example.com", Index: 0}},
		{"http", Click{EmailID: testID, URL: "http://example.com/", Index: 1}},
		{"upper case, last one-byte index", Click{EmailID: testID, URL: "HTTPS://EXAMPLE.COM/Path", Index: 127}},
		{"query and fragment, first two-byte index", Click{EmailID: testID, URL: "https://example.com/?a=1&b=2#frag", Index: 128}},
		{"userinfo, port, params", Click{EmailID: testID, URL: "https://user:pw@example.com:8443/p;x?q=%20", Index: 300}},
		{"unicode", Click{EmailID: testID, URL: "https://例え.jp/パス?q=ü", Index: 5}},
		{"largest index", Click{EmailID: testID, URL: "https://x.io/{a}|b", Index: math.MaxInt32}},
		{"longest URL", Click{EmailID: testID, URL: long, Index: 7}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tok := s.ClickToken(tc.c)
			require.NotContains(t, tok, "=")
			require.Less(t, len(tok), MaxTokenLen)
			got, err := s.ParseClick(tok)
			require.NoError(t, err)
			require.Equal(t, tc.c, got)
		})
	}
}

func TestClickTokenSize(t *testing.T) {
	s := testSigner(t)
	u := "https://www.example.com/products/summer-sale?utm_source=newsletter&utm_medium=email&utm_campaign=jun"
	require.Len(t, u, 100)
	require.Len(t, s.ClickToken(Click{EmailID: testID, URL: u}), 180)
	require.Len(t, s.ClickToken(Click{EmailID: testID, URL: "https://x.io"}), 63)
}

func TestClickTokenPanics(t *testing.T) {
	s := testSigner(t)
	for _, tc := range []struct {
		name string
		c    Click
	}{
		{"bad email id", Click{EmailID: "not-a-uuid", URL: "https://x.io"}},
		{"negative index", Click{EmailID: testID, URL: "https://x.io", Index: -1}},
		{"index too large", Click{EmailID: testID, URL: "https://x.io", Index: math.MaxInt32 + 1}},
		{"javascript URL", Click{EmailID: testID, URL: "javascript:alert(1)"}},
		{"relative URL", Click{EmailID: testID, URL: "/relative"}},
		{"space in URL", Click{EmailID: testID, URL: "https://x.io/a b"}},
		{"URL too long", Click{EmailID: testID, URL: "https://" + strings.Repeat("a", maxURLLen)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.Panics(t, func() { s.ClickToken(tc.c) })
		})
	}
	t.Run("open with bad email id", func(t *testing.T) {
		require.Panics(t, func() { s.OpenToken(Open{EmailID: "x"}) })
	})
}

// Changing any byte of a token, or any character of its text, breaks it.
func TestTamper(t *testing.T) {
	s := testSigner(t)
	for _, tc := range []struct {
		name  string
		tok   string
		parse func(string) error
	}{
		{"open", s.OpenToken(Open{EmailID: testID}), func(tok string) error { _, err := s.ParseOpen(tok); return err }},
		{"click", s.ClickToken(Click{EmailID: testID, URL: "https://example.com/x?y=1", Index: 3}), func(tok string) error { _, err := s.ParseClick(tok); return err }},
	} {
		t.Run(tc.name, func(t *testing.T) { tamper(t, tc.tok, tc.parse) })
	}
}

// tamper checks that parse accepts tok and refuses every altered copy of it.
func tamper(t *testing.T, tok string, parse func(string) error) {
	t.Helper()
	require.NoError(t, parse(tok))
	raw, err := base64.RawURLEncoding.DecodeString(tok)
	require.NoError(t, err)
	for i := range raw {
		for _, flip := range []byte{0x01, 0x80, 0xff} {
			b := bytes.Clone(raw)
			b[i] ^= flip
			require.ErrorIs(t, parse(base64.RawURLEncoding.EncodeToString(b)), ErrInvalidToken, "byte %d ^ %#x", i, flip)
		}
	}
	for i := range tok {
		for _, c := range []byte{alphabet[(strings.IndexByte(alphabet, tok[i])+1)%64], alphabet[(strings.IndexByte(alphabet, tok[i])+63)%64], '=', '+', '/', '.'} {
			b := []byte(tok)
			b[i] = c
			require.ErrorIs(t, parse(string(b)), ErrInvalidToken, "char %d = %q", i, c)
		}
	}
	// Truncated or extended.
	for i := 0; i < len(tok); i++ {
		require.ErrorIs(t, parse(tok[:i]), ErrInvalidToken, "truncated to %d", i)
	}
	for _, suffix := range []string{"A", "AA", "AAA", "AAAA", "=", "=="} {
		require.ErrorIs(t, parse(tok+suffix), ErrInvalidToken, "with %q", suffix)
	}
	// Inserted characters the decoder would skip.
	for i := 0; i <= len(tok); i++ {
		for _, c := range []string{"\r", "\n", "\r\n", " "} {
			require.ErrorIs(t, parse(tok[:i]+c+tok[i:]), ErrInvalidToken, "%q at %d", c, i)
		}
	}
}

func TestKindsDoNotCross(t *testing.T) {
	s := testSigner(t)
	open := s.OpenToken(Open{EmailID: testID})
	click := s.ClickToken(Click{EmailID: testID, URL: "https://example.com/"})
	_, err := s.ParseClick(open)
	require.ErrorIs(t, err, ErrInvalidToken)
	_, err = s.ParseOpen(click)
	require.ErrorIs(t, err, ErrInvalidToken)

	// Even with the kind byte changed, the MAC is the other kind's.
	raw, _ := base64.RawURLEncoding.DecodeString(open)
	raw[1] = kindClick
	_, err = s.ParseClick(base64.RawURLEncoding.EncodeToString(raw))
	require.ErrorContains(t, err, "bad MAC")
	// And a click body signed as an open token does not parse as a click.
	body := append(idBytes(t), 0)
	body = append(body, "https://example.com/"...)
	_, err = s.ParseClick(sealRaw(s, version, kindOpen, body))
	require.ErrorContains(t, err, "kind")
}

func TestWrongKeyAndRotation(t *testing.T) {
	a := testSigner(t)
	b, err := NewSigner(testKey(2))
	require.NoError(t, err)
	openA := a.OpenToken(Open{EmailID: testID})
	clickA := a.ClickToken(Click{EmailID: testID, URL: "https://example.com/"})
	_, err = b.ParseOpen(openA)
	require.ErrorContains(t, err, "bad MAC")
	_, err = b.ParseClick(clickA)
	require.ErrorContains(t, err, "bad MAC")

	// After rotating from key 1 to key 2, old tokens still verify; new ones
	// are signed with key 2 only.
	rotated, err := NewSigner(testKey(2), testKey(3), testKey(1))
	require.NoError(t, err)
	_, err = rotated.ParseOpen(openA)
	require.NoError(t, err)
	c, err := rotated.ParseClick(clickA)
	require.NoError(t, err)
	require.Equal(t, "https://example.com/", c.URL)
	require.Equal(t, b.OpenToken(Open{EmailID: testID}), rotated.OpenToken(Open{EmailID: testID}))
	_, err = a.ParseOpen(rotated.OpenToken(Open{EmailID: testID}))
	require.ErrorIs(t, err, ErrInvalidToken)
}

// Well-signed tokens with bad contents are rejected too.
func TestParseRejectsSignedGarbage(t *testing.T) {
	s := testSigner(t)
	id := idBytes(t)
	click := func(idx []byte, u string) []byte {
		return append(append(bytes.Clone(id), idx...), u...)
	}
	tests := []struct {
		name string
		tok  string
		want string
	}{
		{"open with extra byte", sealRaw(s, version, kindOpen, append(bytes.Clone(id), 0)), "unexpected"},
		{"open too short", sealRaw(s, version, kindOpen, id[:15]), "too short"},
		{"open version 2", sealRaw(s, 2, kindOpen, id), "version"},
		{"open version 0", sealRaw(s, 0, kindOpen, id), "version"},
		{"unknown kind", sealRaw(s, version, 3, id), "kind"},
		{"click version 2", sealRaw(s, 2, kindClick, click([]byte{0}, "https://x.io")), "version"},
		{"click without index", sealRaw(s, version, kindClick, id), "index"},
		{"click truncated varint", sealRaw(s, version, kindClick, click([]byte{0x80}, "")), "index"},
		{"click index overflow", sealRaw(s, version, kindClick, click(binary.AppendUvarint(nil, math.MaxInt32+1), "https://x.io")), "index"},
		{"click empty URL", sealRaw(s, version, kindClick, click([]byte{0}, "")), "URL"},
		{"click relative URL", sealRaw(s, version, kindClick, click([]byte{0}, "/t/c/x")), "URL"},
		{"click javascript", sealRaw(s, version, kindClick, click([]byte{0}, "javascript:alert(1)//https://x.io")), "URL"},
		{"click data", sealRaw(s, version, kindClick, click([]byte{0}, "data:text/html,x")), "URL"},
		{"click ftp", sealRaw(s, version, kindClick, click([]byte{0}, "ftp://x.io/")), "URL"},
		{"click no host", sealRaw(s, version, kindClick, click([]byte{0}, "https:///x")), "URL"},
		{"click opaque", sealRaw(s, version, kindClick, click([]byte{0}, "https:x.io")), "URL"},
		{"click backslash", sealRaw(s, version, kindClick, click([]byte{0}, `https://x.io\@evil.io`)), "URL"},
		{"click CRLF", sealRaw(s, version, kindClick, click([]byte{0}, "https://x.io/\r\nSet-Cookie: a=b")), "URL"},
		{"click invalid UTF-8", sealRaw(s, version, kindClick, click([]byte{0}, "https://x.io/\xff")), "URL"},
		{"click too long", sealRaw(s, version, kindClick, click([]byte{0}, "https://x.io/"+strings.Repeat("a", maxURLLen))), "URL"},
		{"oversized", strings.Repeat("A", MaxTokenLen+1), "more than"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			// Cases named "open …" are parsed as open tokens, the rest as clicks.
			var err error
			if strings.HasPrefix(tc.name, "open") {
				_, err = s.ParseOpen(tc.tok)
			} else {
				_, err = s.ParseClick(tc.tok)
			}
			require.ErrorIs(t, err, ErrInvalidToken)
			require.ErrorContains(t, err, tc.want)
		})
	}
}

func TestNonCanonicalBase64(t *testing.T) {
	s := testSigner(t)
	tok := s.OpenToken(Open{EmailID: testID})
	// 34 bytes encode to 46 characters whose last one carries 2 bits of
	// padding: setting them gives another string for the same bytes.
	last := strings.IndexByte(alphabet, tok[len(tok)-1])
	alt := tok[:len(tok)-1] + string(alphabet[last|1])
	b, err := base64.RawURLEncoding.DecodeString(alt)
	require.NoError(t, err, "the lenient decoder accepts it")
	raw, _ := base64.RawURLEncoding.DecodeString(tok)
	require.Equal(t, raw, b)
	_, err = s.ParseOpen(alt)
	require.ErrorContains(t, err, "base64")
}

func TestRandomStringsFail(t *testing.T) {
	s := testSigner(t)
	r := rand.New(rand.NewPCG(1, 2))
	requireInvalid := func(t *testing.T, tok string) {
		t.Helper()
		_, err := s.ParseOpen(tok)
		require.ErrorIs(t, err, ErrInvalidToken, "%q", tok)
		_, err = s.ParseClick(tok)
		require.ErrorIs(t, err, ErrInvalidToken, "%q", tok)
	}
	for i := 0; i < 2000; i++ {
		n := r.IntN(300)
		b := make([]byte, n)
		for j := range b {
			if i%10 == 0 {
				b[j] = byte(r.IntN(256))
			} else {
				b[j] = alphabet[r.IntN(64)]
			}
		}
		requireInvalid(t, string(b))
	}
	// Random bytes with a right-looking header still fail on the MAC.
	for i := 0; i < 1000; i++ {
		b := make([]byte, 34+r.IntN(100))
		for j := range b {
			b[j] = byte(r.IntN(256))
		}
		b[0], b[1] = version, kindClick
		_, err := s.ParseClick(base64.RawURLEncoding.EncodeToString(b))
		require.ErrorContains(t, err, "bad MAC")
	}
	for _, tok := range []string{"", "A", "AQ", "AQI", "====", "\x00", strings.Repeat("_", MaxTokenLen), "../../etc/passwd", "%41%42"} {
		requireInvalid(t, tok)
	}
}

func TestValidTarget(t *testing.T) {
	for _, tc := range []struct {
		u    string
		want bool
	}{
		{"https://x.io", true},
		{"http://x.io/a?b#c", true},
		{"HtTpS://x.io", true},
		{"https://x.io:99999", true}, // as unusable as the link it came from
		{"https://", false},
		{"https:x.io", false},
		{"//x.io", false},
		{"x.io", false},
		{"mailto:a@x.io", false},
		{"javascript:alert(1)", false},
		{"https://x.io/ a", false},
		{"https://x.io/\t", false},
		{"https://x.io/\x7f", false},
		{`https://x.io\a`, false},
		{"https://x.io/\xc3", false},
		{"https://x.io/é", true},
		{"wss://x.io", false},
		{"https://[::1]:8443/", true},
		{"https://%zz", false},
		{"https://x.io/%zz", false},
		{"https://x.io/?q=%zz", true},
		{"https://x.io/#%zz", false},
		{"https://x.io/{{a}}", true}, // placeholders are Rewrite's business
		{"https://a@b@x.io/", true},
		{"https://x.io/\u2028", true},
		{"https://x.io/\u00a0", true},
		{"https://x.io/" + "\x00", false},
	} {
		t.Run(fmt.Sprintf("%q", tc.u), func(t *testing.T) {
			require.Equal(t, tc.want, validTarget(tc.u))
		})
	}
}

func TestConcurrentUse(t *testing.T) {
	s, err := NewSigner(testKey(1), testKey(2))
	require.NoError(t, err)
	old, err := NewSigner(testKey(2))
	require.NoError(t, err)
	oldTok := old.OpenToken(Open{EmailID: testID})
	done := make(chan error)
	for g := 0; g < 4; g++ {
		go func() {
			var err error
			for i := 0; i < 200 && err == nil; i++ {
				c := Click{EmailID: testID, URL: "https://example.com/" + strings.Repeat("x", i), Index: i}
				var got Click
				if got, err = s.ParseClick(s.ClickToken(c)); err == nil && got != c {
					err = ErrInvalidToken
				}
				if err == nil {
					_, err = s.ParseOpen(oldTok)
				}
			}
			done <- err
		}()
	}
	for g := 0; g < 4; g++ {
		require.NoError(t, <-done)
	}
}
