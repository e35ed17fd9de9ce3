package smtpdata_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/godwit/godwit/internal/smtpdata"
	"github.com/godwit/godwit/internal/spool"
)

func TestRead(t *testing.T) {
	for in, ok := range map[string]bool{"a\r\nb\r\n": true, "": true, "a\nb": false, "a\rb": false, "a\r": false, "\n": false} {
		got, err := smtpdata.Read(strings.NewReader(in))
		if ok {
			require.NoError(t, err, "%q", in)
			require.Equal(t, in, string(got))
		} else {
			require.ErrorIs(t, err, smtpdata.ErrBareNewline, "%q", in)
		}
	}
}

// TestPrepend: fields that fit the headroom go on top in place, sharing the
// message's memory; larger ones are copied with it.
func TestPrepend(t *testing.T) {
	buf, err := smtpdata.ReadAfter(strings.NewReader("Subject: s\r\n\r\nbody\r\n"), 16)
	require.NoError(t, err)
	msg := buf[16:]
	out := smtpdata.Prepend(buf, 16, []byte("X-Top: 1\r\n"))
	require.Equal(t, "X-Top: 1\r\nSubject: s\r\n\r\nbody\r\n", string(out))
	require.Same(t, &msg[0], &out[len("X-Top: 1\r\n")], "in place")
	big := smtpdata.Prepend(buf, 16, []byte("X-Much-Longer-Field: 12345\r\n"))
	require.Equal(t, "X-Much-Longer-Field: 12345\r\nSubject: s\r\n\r\nbody\r\n", string(big))
	require.Equal(t, "Subject: s\r\n\r\nbody\r\n", string(msg), "the message is untouched")
}

// TestReadTo: DATA read into a writer as Read does; a writer's failure
// ends the read with its error.
func TestReadTo(t *testing.T) {
	var b strings.Builder
	require.NoError(t, smtpdata.ReadTo(strings.NewReader("a\r\nb\r\n"), &b))
	require.Equal(t, "a\r\nb\r\n", b.String())
	b.Reset()
	require.ErrorIs(t, smtpdata.ReadTo(strings.NewReader("a\nb"), &b), smtpdata.ErrBareNewline)
	require.Empty(t, b.String(), "nothing after a bare newline is kept")
	require.ErrorIs(t, smtpdata.ReadTo(strings.NewReader("a\r\n"), failingWriter{}), errFull)
}

var errFull = errors.New("disk full")

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errFull }

// The MX's fast path: a 10 KB message read into memory, as ReadAfter
// does and as the MX does through a spool.Buffer under its threshold.
var message10K = strings.Repeat(strings.Repeat("x", 98)+"\r\n", 102)

func BenchmarkReadAfter10K(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := smtpdata.ReadAfter(strings.NewReader(message10K), 8<<10); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkReadToSpoolBuffer10K(b *testing.B) {
	b.ReportAllocs()
	var headroom [8 << 10]byte
	for b.Loop() {
		buf := &spool.Buffer{Max: 1 << 20}
		buf.Reserve(len(headroom) + 32<<10)
		_, _ = buf.Write(headroom[:])
		if err := smtpdata.ReadTo(strings.NewReader(message10K), buf); err != nil {
			b.Fatal(err)
		}
		if _, err := buf.Bytes(); err != nil {
			b.Fatal(err)
		}
		_ = buf.Close()
	}
}
