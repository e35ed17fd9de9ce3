// Package spool keeps large untrusted data, such as the DATA of an inbound
// message or an attachment decoded from it, in a temporary file instead of
// the heap, and hands it back as a byte slice mapped from that file.
//
// # Invariants
//
//   - A spool file is unlinked as soon as it is created: nothing is left
//     on disk after a Close, a panic, a dropped connection or a kill -9.
//     Its space is held while its descriptor or mapping is (Close ends
//     both).
//   - Memory mapped from a file is page cache the kernel can write back
//     and reclaim, not heap: the Go heap holds at most Buffer.Max bytes
//     of a Buffer.
//   - A slice returned by Bytes or Scratch is valid until its Close or
//     release: touching it afterwards faults (the process dies), so the
//     owner must be sure nothing keeps it. Whoever keeps bytes beyond
//     copies them.
//
// Mapping needs a Unix system; elsewhere Bytes reads the file into the
// heap and Scratch allocates from it (correct, just not bounded).
package spool

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
)

// ErrClosed is the error of a Buffer used after Close.
var ErrClosed = errors.New("spool: buffer closed")

// Buffer collects written bytes in memory up to Max, and past Max in an
// unlinked file in Dir (os.TempDir() when empty). It is not safe for
// concurrent use.
type Buffer struct {
	Dir string
	Max int

	mem    []byte
	f      *os.File
	n      int64
	mapped []byte
	closed bool
	err    error // the first failure to write
}

// Err is the first error a Write returned, if any: the bytes are then
// not all there.
func (b *Buffer) Err() error { return b.err }

// Write implements io.Writer.
func (b *Buffer) Write(p []byte) (int, error) {
	n, err := b.write(p)
	if err != nil && b.err == nil {
		b.err = err
	}
	return n, err
}

func (b *Buffer) write(p []byte) (int, error) {
	switch {
	case b.closed:
		return 0, ErrClosed
	case b.mapped != nil:
		return 0, errors.New("spool: write after Bytes")
	case b.f == nil && len(b.mem)+len(p) <= b.Max:
		b.mem = append(b.mem, p...)
		b.n += int64(len(p))
		return len(p), nil
	case b.f == nil:
		f, err := create(b.Dir)
		if err != nil {
			return 0, err
		}
		b.f = f
		if _, err := f.Write(b.mem); err != nil {
			return 0, fmt.Errorf("spool: write: %w", err)
		}
		b.mem = nil
	}
	n, err := b.f.Write(p)
	b.n += int64(n)
	if err != nil {
		return n, fmt.Errorf("spool: write: %w", err)
	}
	return n, nil
}

// Reserve makes room in memory for n bytes (at most Max) before the
// first Write, so that a small content needs no growing.
func (b *Buffer) Reserve(n int) {
	if b.mem == nil && b.f == nil && !b.closed {
		b.mem = make([]byte, 0, min(n, b.Max))
	}
}

// Len is the number of bytes written.
func (b *Buffer) Len() int64 { return b.n }

// Spilled reports whether the bytes went to a file.
func (b *Buffer) Spilled() bool { return b.f != nil }

// Bytes returns what was written: the memory itself, or the file mapped
// (read and write: the caller may change bytes in place). No Write may
// follow. The slice is valid until Close.
func (b *Buffer) Bytes() ([]byte, error) {
	switch {
	case b.closed:
		return nil, ErrClosed
	case b.f == nil && b.mem == nil:
		return []byte{}, nil
	case b.f == nil:
		return b.mem, nil
	case b.mapped != nil:
		return b.mapped, nil
	}
	m, err := mapFile(b.f, b.n)
	if err != nil {
		return nil, err
	}
	b.mapped = m
	return m, nil
}

// Close unmaps and closes the file, which frees its space; the Buffer
// and every slice Bytes returned are no longer usable. It may be called
// more than once.
func (b *Buffer) Close() error {
	if b.closed {
		return nil
	}
	b.closed = true
	b.mem = nil
	var err error
	if b.mapped != nil {
		err = unmap(b.mapped, b.f)
		b.mapped = nil
	}
	if b.f != nil {
		err = errors.Join(err, closeFile(b.f))
		b.f = nil
	}
	return err
}

// Scratch returns a function that gives n bytes of writable memory mapped
// from a fresh unlinked file in dir (os.TempDir() when empty), with the
// function that releases them; the disk space is reserved first, so that
// writing to the memory never faults for want of it.
func Scratch(dir string) func(n int) ([]byte, func(), error) {
	return func(n int) ([]byte, func(), error) {
		f, err := create(dir)
		if err != nil {
			return nil, nil, err
		}
		m, err := mapScratch(f, int64(n))
		if err != nil {
			f.Close()
			return nil, nil, err
		}
		return m, func() {
			_ = unmap(m, f)
			_ = closeFile(f)
		}, nil
	}
}

// create makes an unlinked file in dir, making dir if need be.
func create(dir string) (*os.File, error) {
	if dir == "" {
		dir = os.TempDir()
	}
	f, err := os.CreateTemp(dir, "godwit-spool-*")
	if errors.Is(err, fs.ErrNotExist) {
		if err = os.MkdirAll(dir, 0o700); err == nil {
			f, err = os.CreateTemp(dir, "godwit-spool-*")
		}
	}
	if err != nil {
		return nil, fmt.Errorf("spool: %w", err)
	}
	if err := os.Remove(f.Name()); err != nil && unlinkOpen {
		f.Close()
		return nil, fmt.Errorf("spool: %w", err)
	}
	return f, nil
}

// closeFile closes f, and removes it where it could not be unlinked open.
func closeFile(f *os.File) error {
	err := f.Close()
	if !unlinkOpen {
		err = errors.Join(err, os.Remove(f.Name()))
	}
	return err
}
