package tracking

import (
	"bytes"
	"encoding/binary"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

const testAttachmentID = "6ba7b810-9dad-11d1-80b4-00c04fd430c8"

func TestReceivedDownloadRoundTrip(t *testing.T) {
	s := testSigner(t)
	for _, d := range []ReceivedDownload{
		{EmailID: testID, TeamID: "team-1", Expires: testExpiry},
		{EmailID: testID, AttachmentID: testAttachmentID, TeamID: "team-1", Expires: testExpiry},
	} {
		got, err := s.ParseReceivedDownload(s.ReceivedDownloadToken(d))
		require.NoError(t, err)
		require.Equal(t, d, got)
	}
	up := ReceivedDownload{EmailID: strings.ToUpper(testID), AttachmentID: strings.ToUpper(testAttachmentID), TeamID: "t", Expires: testExpiry}
	got, err := s.ParseReceivedDownload(s.ReceivedDownloadToken(up))
	require.NoError(t, err)
	require.Equal(t, testID, got.EmailID, "ids come back in canonical form")
	require.Equal(t, testAttachmentID, got.AttachmentID)
}

func TestReceivedDownloadKindsDoNotCross(t *testing.T) {
	s := testSigner(t)
	recv := s.ReceivedDownloadToken(ReceivedDownload{EmailID: testID, TeamID: "t", Expires: testExpiry})
	for _, tok := range []string{
		s.DownloadToken(Download{EmailID: testID, TeamID: "t", Expires: testExpiry}),
		s.ShareToken(Share{EmailID: testID, TeamID: "t", Expires: testExpiry}),
		s.OpenToken(Open{EmailID: testID}),
	} {
		_, err := s.ParseReceivedDownload(tok)
		require.ErrorIs(t, err, ErrInvalidToken)
	}
	_, err := s.ParseDownload(recv)
	require.ErrorIs(t, err, ErrInvalidToken)
	_, err = s.ParseShare(recv)
	require.ErrorIs(t, err, ErrInvalidToken)

	other, err := NewSigner(testKey(2))
	require.NoError(t, err)
	_, err = other.ParseReceivedDownload(recv)
	require.ErrorContains(t, err, "bad MAC")
	// A signer that still verifies with the old key accepts it.
	rotated, err := NewSigner(testKey(2), testKey(1))
	require.NoError(t, err)
	_, err = rotated.ParseReceivedDownload(recv)
	require.NoError(t, err)
}

func TestReceivedDownloadTamper(t *testing.T) {
	s := testSigner(t)
	tok := s.ReceivedDownloadToken(ReceivedDownload{EmailID: testID, AttachmentID: testAttachmentID, TeamID: "team", Expires: testExpiry})
	for i := range tok {
		c := byte('A')
		if tok[i] == 'A' {
			c = 'B'
		}
		_, err := s.ParseReceivedDownload(tok[:i] + string(c) + tok[i+1:])
		require.ErrorIs(t, err, ErrInvalidToken, "byte %d", i)
	}
}

func TestReceivedDownloadRejectsSignedGarbage(t *testing.T) {
	s := testSigner(t)
	id := idBytes(t)
	exp := binary.BigEndian.AppendUint64(nil, uint64(testExpiry.Unix()))
	body := func(parts ...[]byte) []byte { return bytes.Join(append([][]byte{id}, parts...), nil) }
	for name, tc := range map[string]struct{ tok, want string }{
		"no expiry":          {sealRaw(s, version, kindRecv, body([]byte{1, 2})), "expiry"},
		"no what":            {sealRaw(s, version, kindRecv, body(exp)), "expiry"},
		"unknown what":       {sealRaw(s, version, kindRecv, body(exp, []byte{7}, []byte("t"))), "unknown"},
		"short attachment":   {sealRaw(s, version, kindRecv, body(exp, []byte{recvAttachment, 1, 2})), "attachment"},
		"raw without team":   {sealRaw(s, version, kindRecv, body(exp, []byte{recvRaw})), "team"},
		"att without team":   {sealRaw(s, version, kindRecv, body(exp, []byte{recvAttachment}, id)), "team"},
		"team too long":      {sealRaw(s, version, kindRecv, body(exp, []byte{recvRaw}, bytes.Repeat([]byte("t"), 257))), "team"},
		"team invalid UTF-8": {sealRaw(s, version, kindRecv, body(exp, []byte{recvRaw}, []byte{0xff})), "team"},
	} {
		_, err := s.ParseReceivedDownload(tc.tok)
		require.ErrorIs(t, err, ErrInvalidToken, name)
		require.ErrorContains(t, err, tc.want, name)
	}
}

func TestReceivedDownloadTokenPanics(t *testing.T) {
	s := testSigner(t)
	require.Panics(t, func() { s.ReceivedDownloadToken(ReceivedDownload{EmailID: testID}) })
	require.Panics(t, func() { s.ReceivedDownloadToken(ReceivedDownload{EmailID: "x", TeamID: "t"}) })
	require.Panics(t, func() { s.ReceivedDownloadToken(ReceivedDownload{EmailID: testID, AttachmentID: "x", TeamID: "t"}) })
}

// FuzzParseReceivedDownload checks that the parser never panics, and that
// whatever it accepts signs back to the same token.
func FuzzParseReceivedDownload(f *testing.F) {
	s := testSigner(f)
	f.Add(s.ReceivedDownloadToken(ReceivedDownload{EmailID: testID, TeamID: "team", Expires: testExpiry}))
	f.Add(s.ReceivedDownloadToken(ReceivedDownload{EmailID: testID, AttachmentID: testAttachmentID, TeamID: "team", Expires: testExpiry}))
	f.Add("")
	f.Add("AQY")
	f.Fuzz(func(t *testing.T, tok string) {
		if d, err := s.ParseReceivedDownload(tok); err == nil {
			require.Equal(t, tok, s.ReceivedDownloadToken(d))
		}
	})
}
