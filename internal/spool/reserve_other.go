//go:build unix && !linux

package spool

import (
	"io"
	"os"
)

// reserve writes the file's first n bytes (zeros), so that they are
// allocated on disk.
func reserve(f *os.File, n int64) error {
	if _, err := io.CopyN(f, zeros{}, n); err != nil {
		return err
	}
	return nil
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}
