package secretbox

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func newKey(t testing.TB) []byte {
	t.Helper()
	k := make([]byte, KeySize)
	_, err := rand.Read(k)
	require.NoError(t, err)
	return k
}

func newBox(t testing.TB, key []byte) *Box {
	t.Helper()
	b, err := New(key)
	require.NoError(t, err)
	return b
}

func TestNewKeySize(t *testing.T) {
	for _, n := range []int{0, 1, 16, 24, 31, 33, 64} {
		_, err := New(make([]byte, n))
		require.Error(t, err, "%d-byte key", n)
	}
	_, err := New(make([]byte, 32))
	require.NoError(t, err)
}

func TestRoundTrip(t *testing.T) {
	b := newBox(t, newKey(t))
	big := make([]byte, 64<<10)
	_, _ = rand.Read(big)
	for _, pt := range [][]byte{nil, {}, {0}, []byte("a DKIM key"), big} {
		for _, ad := range [][]byte{nil, []byte("dom_1"), big[:300]} {
			sealed, err := b.Seal(pt, ad)
			require.NoError(t, err)
			require.Len(t, sealed, Overhead+len(pt))
			require.Equal(t, byte(1), sealed[0])
			got, err := b.Open(sealed, ad)
			require.NoError(t, err)
			require.NotNil(t, got)
			require.Equal(t, len(pt), len(got))
			require.True(t, bytes.Equal(pt, got))
		}
	}
}

func TestSealIsRandomized(t *testing.T) {
	b := newBox(t, newKey(t))
	s1, err := b.Seal([]byte("same"), []byte("ad"))
	require.NoError(t, err)
	s2, err := b.Seal([]byte("same"), []byte("ad"))
	require.NoError(t, err)
	require.NotEqual(t, s1[1:1+nonceSize], s2[1:1+nonceSize], "fresh nonce each time")
	require.NotEqual(t, s1, s2)
	require.NotContains(t, string(s1), "same", "plaintext does not show")
}

func TestOpenTampered(t *testing.T) {
	b := newBox(t, newKey(t))
	ad := []byte("dom_1")
	pt := []byte("-----PKCS#8 key bytes-----")
	sealed, err := b.Seal(pt, ad)
	require.NoError(t, err)
	regions := []struct {
		name     string
		from, to int
	}{
		{"version", 0, 1},
		{"nonce", 1, 1 + nonceSize},
		{"ciphertext", 1 + nonceSize, 1 + nonceSize + len(pt)},
		{"tag", len(sealed) - tagSize, len(sealed)},
	}
	for _, r := range regions {
		t.Run(r.name, func(t *testing.T) {
			for i := r.from; i < r.to; i++ {
				for bit := range 8 {
					bad := bytes.Clone(sealed)
					bad[i] ^= 1 << bit
					got, err := b.Open(bad, ad)
					require.Error(t, err, "byte %d bit %d", i, bit)
					require.Nil(t, got)
				}
			}
		})
	}
	// The value itself still opens: Open did not modify it.
	got, err := b.Open(sealed, ad)
	require.NoError(t, err)
	require.Equal(t, pt, got)
}

func TestOpenWrongAdditionalData(t *testing.T) {
	b := newBox(t, newKey(t))
	sealed, err := b.Seal([]byte("key of domain 1"), []byte("dom_1"))
	require.NoError(t, err)
	for _, ad := range []string{"", "dom_2", "dom_", "dom_1 ", "DOM_1", "dom_10"} {
		_, err := b.Open(sealed, []byte(ad))
		require.ErrorIs(t, err, ErrOpen, "ad %q", ad)
	}
	_, err = b.Open(sealed, nil)
	require.ErrorIs(t, err, ErrOpen)
}

func TestOpenWrongKey(t *testing.T) {
	sealed, err := newBox(t, newKey(t)).Seal([]byte("secret"), []byte("dom_1"))
	require.NoError(t, err)
	_, err = newBox(t, newKey(t)).Open(sealed, []byte("dom_1"))
	require.ErrorIs(t, err, ErrOpen)
}

func TestOpenTruncatedAndExtended(t *testing.T) {
	b := newBox(t, newKey(t))
	sealed, err := b.Seal([]byte("a secret of some length"), []byte("ad"))
	require.NoError(t, err)
	for n := range len(sealed) {
		require.NotPanics(t, func() {
			got, err := b.Open(sealed[:n], []byte("ad"))
			require.Error(t, err, "length %d", n)
			require.Nil(t, got)
		})
	}
	// Every prefix of a sealed empty plaintext too (29 bytes, the minimum).
	empty, err := b.Seal(nil, []byte("ad"))
	require.NoError(t, err)
	require.Len(t, empty, Overhead)
	for n := range len(empty) {
		_, err := b.Open(empty[:n], []byte("ad"))
		require.Error(t, err, "length %d", n)
	}
	_, err = b.Open(append(bytes.Clone(sealed), 0), []byte("ad"))
	require.Error(t, err)
	_, err = b.Open(nil, []byte("ad"))
	require.Error(t, err)
}

// key32 has bytes that differ between the base64 alphabets ('+/' vs '-_').
var key32 = func() []byte {
	k := make([]byte, 32)
	for i := range k {
		k[i] = byte(0xf8 + i%8)
	}
	return k
}()

func TestParseKeyAccepts(t *testing.T) {
	std := base64.StdEncoding.EncodeToString(key32)
	url := base64.URLEncoding.EncodeToString(key32)
	require.True(t, strings.ContainsAny(std, "+/"))
	require.True(t, strings.ContainsAny(url, "-_"))
	for name, s := range map[string]string{
		"hex":            hex.EncodeToString(key32),
		"HEX":            strings.ToUpper(hex.EncodeToString(key32)),
		"std base64":     std,
		"raw std base64": strings.TrimRight(std, "="),
		"url base64":     url,
		"raw url base64": strings.TrimRight(url, "="),
		"with newline":   std + "\n",
		"with spaces":    "  " + hex.EncodeToString(key32) + " \t",
	} {
		k, err := ParseKey(s)
		require.NoError(t, err, name)
		require.Equal(t, key32, k, name)
	}
}

func TestParseKeyRefusesWithoutEcho(t *testing.T) {
	k31, k33 := key32[:31], append(bytes.Clone(key32), 0xab)
	for name, s := range map[string]string{
		"empty":          "",
		"blank":          " \n",
		"hex 31":         hex.EncodeToString(k31),
		"hex 33":         hex.EncodeToString(k33),
		"base64 31":      base64.StdEncoding.EncodeToString(k31),
		"base64 33":      base64.StdEncoding.EncodeToString(k33),
		"url base64 33":  base64.RawURLEncoding.EncodeToString(k33),
		"passphrase":     "correct horse battery staple",
		"hex-ish 64":     strings.Repeat("zz", 32),
		"mixed alphabet": strings.Replace(base64.StdEncoding.EncodeToString(key32), "+", "-", 1),
		"quoted":         `"` + base64.StdEncoding.EncodeToString(key32) + `"`,
		"junk":           "hunter2!@#$%^&*()hunter2hunter2hunter2hunter2",
	} {
		k, err := ParseKey(s)
		require.Error(t, err, name)
		require.Nil(t, k)
		msg := err.Error()
		require.Contains(t, msg, "64 hex characters", name)
		require.Contains(t, msg, "base64", name)
		requireNoEcho(t, msg, strings.TrimSpace(s))
	}
}

// requireNoEcho fails if msg contains any 6-character run of secret.
func requireNoEcho(t *testing.T, msg, secret string) {
	t.Helper()
	for i := 0; i+6 <= len(secret); i++ {
		require.NotContains(t, msg, secret[i:i+6], "error message echoes the secret")
	}
}

func TestLoadOrCreateKeyFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "secret.key")
	k1, err := LoadOrCreateKeyFile(path)
	require.NoError(t, err)
	require.Len(t, k1, KeySize)
	require.NotEqual(t, make([]byte, KeySize), k1)

	fi, err := os.Stat(path)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), fi.Mode().Perm())
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	require.Equal(t, base64.StdEncoding.EncodeToString(k1)+"\n", string(data))

	k2, err := LoadOrCreateKeyFile(path)
	require.NoError(t, err)
	require.Equal(t, k1, k2)
	data2, err := os.ReadFile(path)
	require.NoError(t, err)
	require.Equal(t, data, data2, "the file is not rewritten")

	// The key seals and opens.
	b := newBox(t, k2)
	s, err := b.Seal([]byte("x"), nil)
	require.NoError(t, err)
	_, err = newBox(t, k1).Open(s, nil)
	require.NoError(t, err)
}

func TestLoadKeyFileWrittenByHand(t *testing.T) {
	path := filepath.Join(t.TempDir(), "secret.key")
	require.NoError(t, os.WriteFile(path, []byte(hex.EncodeToString(key32)+"\n"), 0o600))
	k, err := LoadOrCreateKeyFile(path)
	require.NoError(t, err)
	require.Equal(t, key32, k)
}

func TestLoadKeyFileRefusesOpenPermissions(t *testing.T) {
	content := base64.StdEncoding.EncodeToString(key32) + "\n"
	for _, mode := range []os.FileMode{0o644, 0o640, 0o604, 0o660, 0o620, 0o602, 0o700} {
		path := filepath.Join(t.TempDir(), "secret.key")
		require.NoError(t, os.WriteFile(path, []byte(content), 0o600))
		require.NoError(t, os.Chmod(path, mode))
		k, err := LoadOrCreateKeyFile(path)
		if mode == 0o700 {
			require.NoError(t, err) // owner-only, even if executable
			continue
		}
		require.ErrorContains(t, err, "chmod 600", "mode %04o", mode)
		require.Nil(t, k)
		requireNoEcho(t, err.Error(), strings.TrimSpace(content))
		got, rerr := os.ReadFile(path)
		require.NoError(t, rerr)
		require.Equal(t, content, string(got), "a refused file is left alone")
	}
}

func TestLoadKeyFileRefusesBadContent(t *testing.T) {
	defer shortEmptyWait()()
	dir := t.TempDir()
	for name, content := range map[string]string{
		"junk":      "this is not a key but a passphrase\n",
		"short":     base64.StdEncoding.EncodeToString(key32[:16]) + "\n",
		"empty":     "",
		"blank":     "\n\n",
		"too large": strings.Repeat("A", 5000),
	} {
		path := filepath.Join(dir, strings.ReplaceAll(name, " ", "_"))
		require.NoError(t, os.WriteFile(path, []byte(content), 0o600))
		k, err := LoadOrCreateKeyFile(path)
		require.Error(t, err, name)
		require.Nil(t, k)
		require.Contains(t, err.Error(), path)
		requireNoEcho(t, err.Error(), strings.TrimSpace(content))
		got, rerr := os.ReadFile(path)
		require.NoError(t, rerr)
		require.Equal(t, content, string(got), "%s: a bad file is left alone", name)
	}
}

func TestLoadKeyFileErrors(t *testing.T) {
	_, err := LoadOrCreateKeyFile(filepath.Join(t.TempDir(), "missing-dir", "secret.key"))
	require.Error(t, err)
	_, err = LoadOrCreateKeyFile(t.TempDir()) // a directory
	require.Error(t, err)
}

func shortEmptyWait() (restore func()) {
	w := emptyFileWait
	emptyFileWait = 50 * time.Millisecond
	return func() { emptyFileWait = w }
}

func TestLoadKeyFileWaitsForCreatorToWrite(t *testing.T) {
	// Another process has created the file (O_EXCL) but not written it yet.
	path := filepath.Join(t.TempDir(), "secret.key")
	require.NoError(t, os.WriteFile(path, nil, 0o600))
	go func() {
		time.Sleep(50 * time.Millisecond)
		f, err := os.OpenFile(path, os.O_WRONLY, 0)
		if err == nil {
			f.WriteString(base64.StdEncoding.EncodeToString(key32) + "\n")
			f.Close()
		}
	}()
	k, err := LoadOrCreateKeyFile(path)
	require.NoError(t, err)
	require.Equal(t, key32, k)
}

func TestLoadOrCreateKeyFileConcurrent(t *testing.T) {
	dir := t.TempDir()
	const rounds, callers = 20, 8
	for r := range rounds {
		path := filepath.Join(dir, "secret"+string(rune('a'+r))+".key")
		keys := make([][]byte, callers)
		errs := make([]error, callers)
		var start, done sync.WaitGroup
		start.Add(1)
		for i := range callers {
			done.Add(1)
			go func() {
				defer done.Done()
				start.Wait()
				keys[i], errs[i] = LoadOrCreateKeyFile(path)
			}()
		}
		start.Done()
		done.Wait()
		for i := range callers {
			require.NoError(t, errs[i])
			require.Equal(t, keys[0], keys[i], "round %d caller %d", r, i)
		}
		onDisk, err := LoadOrCreateKeyFile(path)
		require.NoError(t, err)
		require.Equal(t, keys[0], onDisk)
	}
}

// FuzzOpen checks that Open never panics and accepts only what Seal made
// with the fuzz key and the same additional data.
func FuzzOpen(f *testing.F) {
	key := bytes.Repeat([]byte{7}, KeySize)
	b := newBox(f, key)
	type made struct{ pt, ad []byte }
	known := map[string]made{}
	seal := func(nonceByte byte, pt, ad string) []byte {
		nonce := bytes.Repeat([]byte{nonceByte}, nonceSize)
		s := b.sealWithNonce(nonce, []byte(pt), []byte(ad))
		known[string(s)] = made{[]byte(pt), []byte(ad)}
		return s
	}
	good := [][]byte{
		seal(1, "a DKIM private key, PKCS#8 DER", "dom_1"),
		seal(2, "", "dom_1"),
		seal(3, "x", ""),
		seal(4, strings.Repeat("k", 1200), "dom_0123456789abcdef"),
	}
	for _, s := range good {
		ad := known[string(s)].ad
		f.Add(s, ad)
		f.Add(s, []byte("other"))
		f.Add(s[:len(s)-1], ad)
		f.Add(s[:Overhead-1], ad)
		f.Add(append(bytes.Clone(s), 0), ad)
		flipped := bytes.Clone(s)
		flipped[len(flipped)/2] ^= 0x80
		f.Add(flipped, ad)
		v2 := bytes.Clone(s)
		v2[0] = 2
		f.Add(v2, ad)
	}
	f.Add([]byte{}, []byte{})
	f.Add([]byte{1}, []byte("dom_1"))
	f.Add(bytes.Repeat([]byte{1}, Overhead), []byte("dom_1"))
	// Sealed with another key.
	other, err := newBox(f, bytes.Repeat([]byte{8}, KeySize)).Seal([]byte("x"), []byte("dom_1"))
	require.NoError(f, err)
	f.Add(other, []byte("dom_1"))

	f.Fuzz(func(t *testing.T, sealed, ad []byte) {
		// Whatever the input, Seal then Open round-trips it as plaintext.
		s, err := b.Seal(sealed, ad)
		require.NoError(t, err)
		back, err := b.Open(s, ad)
		require.NoError(t, err)
		require.True(t, bytes.Equal(sealed, back))

		in := bytes.Clone(sealed)
		pt, err := b.Open(sealed, ad)
		require.Equal(t, in, sealed, "Open must not modify its input")
		if err != nil {
			require.Nil(t, pt)
			return
		}
		m, ok := known[string(sealed)]
		require.True(t, ok, "Open accepted a value Seal did not make")
		require.True(t, bytes.Equal(m.ad, ad), "Open accepted the wrong additional data")
		require.True(t, bytes.Equal(m.pt, pt))

	})
}
