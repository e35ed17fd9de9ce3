package e2e

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// tmpfs mounts a tmpfs of size bytes on a fresh directory and unmounts it at
// the end of the test, or skips the test where mounting is not permitted
// (not Linux, not root, no CAP_SYS_ADMIN in the container).
func tmpfs(t *testing.T, size int) string {
	t.Helper()
	if runtime.GOOS != "linux" {
		t.Skip("disk-full test: needs Linux to mount a tmpfs")
	}
	dir := t.TempDir()
	out, err := exec.Command("mount", "-t", "tmpfs", "-o", fmt.Sprintf("size=%d", size), "tmpfs", dir).CombinedOutput()
	if err != nil {
		t.Skipf("disk-full test: cannot mount a tmpfs here (it needs root or CAP_SYS_ADMIN): %v: %s", err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", dir, err, out)
		}
	})
	return dir
}

// fill writes a file in dir until the file system is full, and returns a
// function that deletes it.
func fill(t *testing.T, dir string) func() {
	t.Helper()
	path := filepath.Join(dir, "filler")
	f, err := os.Create(path)
	require.NoError(t, err)
	chunk := make([]byte, 1<<20)
	for i := 0; ; i++ {
		require.Less(t, i, 1024, "the file system never filled")
		if _, err := f.Write(chunk); err != nil {
			require.True(t, errors.Is(err, syscall.ENOSPC), "filling: %v", err)
			break
		}
	}
	require.NoError(t, f.Close())
	return func() { require.NoError(t, os.Remove(path)) }
}

// waitReady polls /readyz until it answers want (and, for an error, the
// envelope's name), within 15 s.
func waitReady(t *testing.T, s *server, want int, name string) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		status, body, err := request("GET", s.url+"/readyz", "", "")
		if err == nil && status == want && (name == "" || body["name"] == name) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("/readyz: %d %v (%v), want %d %s", status, body, err, want, name)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestDiskFull runs a SQLite server on a small tmpfs and fills it: /readyz
// turns 503 storage_full, sends are refused with a 503 storage_full in
// Resend's envelope (never a 500), the process stays up, and once space is
// freed it is ready again and accepts and delivers.
func TestDiskFull(t *testing.T) {
	dir := tmpfs(t, 64<<20)
	s := start(t, "--data-dir", dir)
	waitFor(t, "the first start to print a key", func() bool { return tokenRE.MatchString(s.stdout.String()) })
	key := tokenRE.FindString(s.stdout.String())
	send := func(text string) (int, map[string]any) {
		t.Helper()
		status, body, err := request("POST", s.url+"/emails", key,
			fmt.Sprintf(`{"from":"onboarding@resend.dev","to":"delivered@resend.dev","subject":"s","text":%q}`, text))
		require.NoError(t, err)
		return status, body
	}
	status, body := send("before")
	require.Equal(t, 200, status, "%v", body)
	waitReady(t, s, 200, "")

	free := fill(t, dir)
	waitReady(t, s, 503, "storage_full")

	// A large body that does not compress must find no room (a small write
	// may still fit in WAL space SQLite reuses).
	raw := make([]byte, 768<<10)
	refused := false
	for i := 0; i < 50 && !refused; i++ {
		_, _ = rand.Read(raw)
		status, body = send(base64.StdEncoding.EncodeToString(raw))
		switch status {
		case 200:
			continue // it fit in space the database already had
		case 503:
			require.Equal(t, "storage_full", body["name"], "%v", body)
			require.EqualValues(t, 503, body["statusCode"])
			require.Contains(t, body["message"], "disk is full")
			refused = true
			t.Logf("send #%d on the full disk was refused (%d fit in space the database already had)", i+1, i)
		default:
			t.Fatalf("a send on a full disk: %d %v", status, body)
		}
	}
	require.True(t, refused, "sends were never refused on a full disk")
	status, _, err := request("GET", s.url+"/healthz", "", "")
	require.NoError(t, err)
	require.Equal(t, 200, status, "the server stays up")
	select {
	case <-s.done:
		t.Fatalf("the server exited on a full disk: %v\n%s", s.err, s.stderr.String())
	default:
	}

	free()
	waitReady(t, s, 200, "")
	status, body = send("after")
	require.Equal(t, 200, status, "%v", body)
	id := body["id"].(string)
	waitFor(t, "the email sent after freeing space to be delivered", func() bool {
		_, body, err := request("GET", s.url+"/emails/"+id, key, "")
		return err == nil && body["last_event"] == "delivered"
	})
}
