//go:build unix

package spool

import (
	"fmt"
	"os"
	"syscall"
)

// unlinkOpen: an open file may be unlinked here.
const unlinkOpen = true

func mapFile(f *os.File, n int64) ([]byte, error) {
	if n == 0 {
		return []byte{}, nil
	}
	m, err := syscall.Mmap(int(f.Fd()), 0, int(n), syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_SHARED)
	if err != nil {
		return nil, fmt.Errorf("spool: map %d bytes: %w", n, err)
	}
	return m, nil
}

func mapScratch(f *os.File, n int64) ([]byte, error) {
	if err := reserve(f, n); err != nil {
		return nil, fmt.Errorf("spool: reserve %d bytes: %w", n, err)
	}
	return mapFile(f, n)
}

func unmap(m []byte, _ *os.File) error {
	if len(m) == 0 {
		return nil
	}
	return syscall.Munmap(m)
}
