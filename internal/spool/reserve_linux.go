package spool

import (
	"os"
	"syscall"
)

// reserve allocates the file's first n bytes on disk.
func reserve(f *os.File, n int64) error {
	if n == 0 {
		return nil
	}
	return syscall.Fallocate(int(f.Fd()), 0, 0, n)
}
