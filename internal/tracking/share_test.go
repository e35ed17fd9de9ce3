package tracking

import (
	"bytes"
	"encoding/binary"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

var testExpiry = time.Date(2026, 12, 3, 1, 0, 0, 0, time.UTC)

func TestShareAndDownloadRoundTrip(t *testing.T) {
	s := testSigner(t)
	sh := Share{EmailID: strings.ToUpper(testID), TeamID: "team-1", Expires: testExpiry}
	got, err := s.ParseShare(s.ShareToken(sh))
	require.NoError(t, err)
	require.Equal(t, Share{EmailID: testID, TeamID: "team-1", Expires: testExpiry}, got)

	for _, idx := range []int{0, 1, 127, 128, math.MaxInt32} {
		d := Download{EmailID: testID, TeamID: "team-1", Index: idx, Expires: testExpiry}
		got, err := s.ParseDownload(s.DownloadToken(d))
		require.NoError(t, err)
		require.Equal(t, d, got)
	}
}

func TestShareKindsDoNotCross(t *testing.T) {
	s := testSigner(t)
	share := s.ShareToken(Share{EmailID: testID, TeamID: "t", Expires: testExpiry})
	file := s.DownloadToken(Download{EmailID: testID, TeamID: "t", Expires: testExpiry})
	unsub := s.UnsubscribeToken(Unsubscribe{ContactID: testID, TeamID: "t"})
	for _, tok := range []string{file, unsub, s.OpenToken(Open{EmailID: testID})} {
		_, err := s.ParseShare(tok)
		require.ErrorIs(t, err, ErrInvalidToken)
	}
	for _, tok := range []string{share, unsub} {
		_, err := s.ParseDownload(tok)
		require.ErrorIs(t, err, ErrInvalidToken)
	}
	_, err := s.ParseUnsubscribe(share)
	require.ErrorIs(t, err, ErrInvalidToken)

	other, err := NewSigner(testKey(2))
	require.NoError(t, err)
	_, err = other.ParseShare(share)
	require.ErrorContains(t, err, "bad MAC")
	_, err = other.ParseDownload(file)
	require.ErrorContains(t, err, "bad MAC")
}

func TestShareTamper(t *testing.T) {
	s := testSigner(t)
	for _, tok := range []string{
		s.ShareToken(Share{EmailID: testID, TeamID: "team", Expires: testExpiry}),
		s.DownloadToken(Download{EmailID: testID, TeamID: "team", Index: 2, Expires: testExpiry}),
	} {
		for i := range tok {
			c := byte('A')
			if tok[i] == 'A' {
				c = 'B'
			}
			bad := tok[:i] + string(c) + tok[i+1:]
			_, err1 := s.ParseShare(bad)
			_, err2 := s.ParseDownload(bad)
			require.ErrorIs(t, err1, ErrInvalidToken, "share, byte %d", i)
			require.ErrorIs(t, err2, ErrInvalidToken, "download, byte %d", i)
		}
	}
}

func TestShareRejectsSignedGarbage(t *testing.T) {
	s := testSigner(t)
	id := idBytes(t)
	exp := binary.BigEndian.AppendUint64(nil, uint64(testExpiry.Unix()))
	body := func(parts ...[]byte) []byte { return bytes.Join(append([][]byte{id}, parts...), nil) }
	tests := []struct {
		name  string
		share bool
		tok   string
		want  string
	}{
		{"share without expiry", true, sealRaw(s, version, kindShare, body([]byte{1, 2})), "expiry"},
		{"share without team", true, sealRaw(s, version, kindShare, body(exp)), "team"},
		{"share team too long", true, sealRaw(s, version, kindShare, body(exp, bytes.Repeat([]byte("t"), 257))), "team"},
		{"share team invalid UTF-8", true, sealRaw(s, version, kindShare, body(exp, []byte{0xff})), "team"},
		{"download without expiry", false, sealRaw(s, version, kindFile, body()), "expiry"},
		{"download without index", false, sealRaw(s, version, kindFile, body(exp)), "index"},
		{"download index overflow", false, sealRaw(s, version, kindFile, body(exp, binary.AppendUvarint(nil, math.MaxInt32+1), []byte("t"))), "index"},
		{"download without team", false, sealRaw(s, version, kindFile, body(exp, []byte{0})), "team"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var err error
			if tc.share {
				_, err = s.ParseShare(tc.tok)
			} else {
				_, err = s.ParseDownload(tc.tok)
			}
			require.ErrorIs(t, err, ErrInvalidToken)
			require.ErrorContains(t, err, tc.want)
		})
	}
}

func TestShareTokenPanics(t *testing.T) {
	s := testSigner(t)
	require.Panics(t, func() { s.ShareToken(Share{EmailID: testID}) })
	require.Panics(t, func() { s.ShareToken(Share{EmailID: "x", TeamID: "t"}) })
	require.Panics(t, func() { s.DownloadToken(Download{EmailID: testID, TeamID: "t", Index: -1}) })
	require.Panics(t, func() { s.DownloadToken(Download{EmailID: testID, TeamID: strings.Repeat("t", 257)}) })
}

// FuzzParseShare checks that the share and download parsers never panic,
// and that whatever they accept signs back to the same token.
func FuzzParseShare(f *testing.F) {
	s := testSigner(f)
	f.Add(s.ShareToken(Share{EmailID: testID, TeamID: "team", Expires: testExpiry}))
	f.Add(s.DownloadToken(Download{EmailID: testID, TeamID: "team", Index: 3, Expires: testExpiry}))
	f.Add("")
	f.Add("AQQ")
	f.Add(strings.Repeat("A", 80))
	f.Fuzz(func(t *testing.T, tok string) {
		if sh, err := s.ParseShare(tok); err == nil {
			require.Equal(t, tok, s.ShareToken(sh))
		}
		if d, err := s.ParseDownload(tok); err == nil {
			require.Equal(t, tok, s.DownloadToken(d))
		}
	})
}

func TestShareLink(t *testing.T) {
	s := testSigner(t)
	now := time.Date(2026, 12, 3, 1, 0, 0, 500_000_000, time.FixedZone("x", 3600))
	link, exp := s.ShareLink("https://mail.example/", "team-1", testID, now, time.Hour)
	require.Equal(t, now.UTC().Add(time.Hour+500*time.Millisecond), exp, "rounded up to the second, never early")
	require.True(t, strings.HasPrefix(link, "https://mail.example/share/"), link)
	sh, err := s.ParseShare(strings.TrimPrefix(link, "https://mail.example/share/"))
	require.NoError(t, err)
	require.Equal(t, Share{EmailID: testID, TeamID: "team-1", Expires: exp}, sh)
	require.False(t, exp.Before(now.Add(time.Hour)))
}
