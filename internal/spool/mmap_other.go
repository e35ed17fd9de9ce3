//go:build !unix

package spool

import (
	"fmt"
	"io"
	"os"
)

// unlinkOpen: an open file may not be unlinked here; it is removed on
// Close instead.
const unlinkOpen = false

func mapFile(f *os.File, n int64) ([]byte, error) {
	b := make([]byte, n)
	if _, err := f.ReadAt(b, 0); err != nil && err != io.EOF {
		return nil, fmt.Errorf("spool: read back: %w", err)
	}
	return b, nil
}

func mapScratch(_ *os.File, n int64) ([]byte, error) { return make([]byte, n), nil }

func unmap([]byte, *os.File) error { return nil }
