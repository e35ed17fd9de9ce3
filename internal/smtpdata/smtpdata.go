// Package smtpdata reads the DATA of an SMTP transaction the way every
// Godwit SMTP server (submission and MX) must: whole, and refusing a bare
// LF or CR anywhere, so that no "\n.\n" can end a message here and mean
// something else to a server downstream (SMTP smuggling).
package smtpdata

import (
	"bytes"
	"errors"
	"io"
	"sync"
)

// chunkSize is what one Read asks of go-smtp's reader; the chunks are
// reused (one per message read at a time) rather than allocated per
// message.
const chunkSize = 32 << 10

var chunks = sync.Pool{New: func() any { return new([chunkSize]byte) }}

// ErrBareNewline is a CR not followed by LF, or an LF not preceded by CR.
var ErrBareNewline = errors.New("smtpdata: bare LF or CR in DATA")

// Read reads DATA (go-smtp's reader, which un-dot-stuffs it and enforces
// the server's size limit) to its end. A bare newline is refused once the
// whole DATA is read, so that the reply comes at the end of the
// transaction; the bytes after it are not kept.
func Read(r io.Reader) ([]byte, error) {
	return ReadAfter(r, 0)
}

// ReadAfter is Read into a buffer whose first headroom bytes are left
// zero: the message is buf[headroom:]. Prepend then puts header fields on
// top of it without copying the message again.
func ReadAfter(r io.Reader, headroom int) (buf []byte, err error) {
	// Room for the headroom and one chunk: most messages need no growing.
	b := bytes.NewBuffer(make([]byte, headroom, headroom+chunkSize))
	if err := read(r, b); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// ReadTo is Read into w (a spool.Buffer, for a message kept out of the
// heap): w gets the message up to any bare newline, and the error says
// whether it is whole (nil), refused (ErrBareNewline) or cut (the
// reader's, or w's).
func ReadTo(r io.Reader, w io.Writer) error {
	return read(r, w)
}

// Prepend returns top followed by the message of buf (ReadAfter's, with
// the same headroom): in place when top fits in the headroom, else in a
// new buffer.
func Prepend(buf []byte, headroom int, top []byte) []byte {
	if len(top) <= headroom {
		start := headroom - len(top)
		copy(buf[start:], top)
		return buf[start:]
	}
	return append(append(make([]byte, 0, len(top)+len(buf)-headroom), top...), buf[headroom:]...)
}

func read(r io.Reader, w io.Writer) error {
	chunk := chunks.Get().(*[chunkSize]byte)
	defer chunks.Put(chunk)
	prevCR, bare := false, false
	for {
		n, err := r.Read(chunk[:])
		for _, b := range chunk[:n] {
			if prevCR != (b == '\n') {
				bare = true // CR not followed by LF, or LF not preceded by CR
			}
			prevCR = b == '\r'
		}
		if !bare {
			if _, werr := w.Write(chunk[:n]); werr != nil {
				return werr
			}
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
	}
	if bare || prevCR {
		return ErrBareNewline
	}
	return nil
}
