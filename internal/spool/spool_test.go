package spool_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/godwit/godwit/internal/spool"
)

// held lists what the process holds of dir: its files, and its files open
// or mapped (unlinked ones included).
func held(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	ents, err := os.ReadDir(dir)
	require.NoError(t, err)
	for _, e := range ents {
		out = append(out, e.Name())
	}
	fds, _ := os.ReadDir("/proc/self/fd")
	for _, fd := range fds {
		if target, err := os.Readlink(filepath.Join("/proc/self/fd", fd.Name())); err == nil && strings.HasPrefix(target, dir+"/") {
			out = append(out, "open "+target)
		}
	}
	maps, _ := os.ReadFile("/proc/self/maps")
	for _, l := range strings.Split(string(maps), "\n") {
		if strings.Contains(l, dir+"/") {
			out = append(out, "mapped "+l)
		}
	}
	return out
}

// TestBufferInMemory: up to Max bytes stay in memory; no file is made.
func TestBufferInMemory(t *testing.T) {
	dir := t.TempDir()
	b := &spool.Buffer{Dir: dir, Max: 10}
	for _, p := range []string{"hello", " you"} {
		n, err := b.Write([]byte(p))
		require.NoError(t, err)
		require.Equal(t, len(p), n)
	}
	require.False(t, b.Spilled())
	require.Empty(t, held(t, dir))
	got, err := b.Bytes()
	require.NoError(t, err)
	require.Equal(t, "hello you", string(got))
	require.EqualValues(t, 9, b.Len())
	require.NoError(t, b.Close())
	require.NoError(t, b.Close(), "twice")
	_, err = b.Write([]byte("x"))
	require.ErrorIs(t, err, spool.ErrClosed)
}

// TestBufferSpills: past Max the bytes go to a file that has no name from
// the start, come back mapped (and writable in place), and the file is
// neither open nor mapped after Close.
func TestBufferSpills(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "spool") // made when first needed
	b := &spool.Buffer{Dir: dir, Max: 8}
	want := bytes.Repeat([]byte("0123456789"), 100_000)
	for p := want; len(p) > 0; p = p[min(len(p), 7777):] {
		_, err := b.Write(p[:min(len(p), 7777)])
		require.NoError(t, err)
	}
	require.True(t, b.Spilled())
	require.EqualValues(t, len(want), b.Len())
	h := held(t, dir)
	require.Len(t, h, 1, "open, never named: %v", h)
	require.Contains(t, h[0], "(deleted)")
	got, err := b.Bytes()
	require.NoError(t, err)
	require.True(t, bytes.Equal(want, got))
	got[0] = 'X' // writable in place
	again, err := b.Bytes()
	require.NoError(t, err)
	require.Equal(t, byte('X'), again[0])
	_, err = b.Write([]byte("late"))
	require.Error(t, err, "no write after Bytes")
	require.NoError(t, b.Close())
	require.Empty(t, held(t, dir))
}

// TestBufferSpillFails: a spool directory that cannot be made fails the
// write that needed it.
func TestBufferSpillFails(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	require.NoError(t, os.WriteFile(file, nil, 0o600))
	b := &spool.Buffer{Dir: filepath.Join(file, "spool"), Max: 1}
	_, err := b.Write([]byte("ab"))
	require.Error(t, err)
	require.NoError(t, b.Close())
}

// TestScratch: scratch memory is writable, backed by an unlinked file,
// and released entirely.
func TestScratch(t *testing.T) {
	dir := t.TempDir()
	get := spool.Scratch(dir)
	m, release, err := get(3 << 20)
	require.NoError(t, err)
	require.Len(t, m, 3<<20)
	m[0], m[len(m)-1] = 1, 2
	require.NotEmpty(t, held(t, dir))
	release()
	require.Empty(t, held(t, dir))
	empty, release, err := get(0)
	require.NoError(t, err)
	require.Empty(t, empty)
	release()
	require.Empty(t, held(t, dir))
}
