// Package secretbox encrypts small secrets (DKIM private keys) with the
// server's secret key: AES-256-GCM, random 96-bit nonce, output = version
// byte 1 || nonce || ciphertext+tag.
//
// Additional data binds a ciphertext to its row (e.g. the domain id), so one
// row's key cannot be swapped into another: it is passed to GCM as is (not
// stored), and Open needs the same bytes again.
package secretbox

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"runtime"
	"strings"
	"time"
)

// KeySize is the size of the server's secret key in bytes.
const KeySize = 32

const (
	version   = 1
	nonceSize = 12
	tagSize   = 16
	// Overhead is how many bytes Seal adds to the plaintext.
	Overhead = 1 + nonceSize + tagSize
)

// ErrOpen is returned (wrapped) by Open for a sealed value that does not
// authenticate: wrong key, wrong additional data, or tampered or corrupted
// bytes. GCM cannot tell these apart.
var ErrOpen = errors.New("secretbox: message authentication failed (wrong secret key, wrong additional data, or corrupted value)")

// Box seals and opens secrets with one key. It is safe for concurrent use.
type Box struct {
	aead cipher.AEAD
}

// New returns a Box for key, which must be exactly 32 bytes (AES-256).
func New(key []byte) (*Box, error) {
	if len(key) != KeySize {
		return nil, fmt.Errorf("secretbox: key is %d bytes, want %d", len(key), KeySize)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("secretbox: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("secretbox: %w", err)
	}
	return &Box{aead: aead}, nil
}

// Seal encrypts plaintext bound to additionalData and returns
// version byte 1 || 12-byte random nonce || ciphertext || 16-byte tag.
func (b *Box) Seal(plaintext, additionalData []byte) ([]byte, error) {
	var nonce [nonceSize]byte
	if _, err := io.ReadFull(rand.Reader, nonce[:]); err != nil {
		return nil, fmt.Errorf("secretbox: read random nonce: %w", err)
	}
	return b.sealWithNonce(nonce[:], plaintext, additionalData), nil
}

func (b *Box) sealWithNonce(nonce, plaintext, additionalData []byte) []byte {
	out := make([]byte, 0, Overhead+len(plaintext))
	out = append(out, version)
	out = append(out, nonce...)
	return b.aead.Seal(out, nonce, plaintext, additionalData)
}

// Open decrypts a value made by Seal with the same key and additional data.
// It returns an error, never panics, for any other input.
func (b *Box) Open(sealed, additionalData []byte) ([]byte, error) {
	if len(sealed) == 0 {
		return nil, errors.New("secretbox: empty sealed value")
	}
	if sealed[0] != version {
		return nil, fmt.Errorf("secretbox: unsupported sealed value version %d", sealed[0])
	}
	if len(sealed) < Overhead {
		return nil, fmt.Errorf("secretbox: sealed value is %d bytes, shorter than the minimum %d", len(sealed), Overhead)
	}
	nonce, ct := sealed[1:1+nonceSize], sealed[1+nonceSize:]
	pt, err := b.aead.Open(nil, nonce, ct, additionalData)
	if err != nil {
		return nil, ErrOpen
	}
	if pt == nil {
		pt = []byte{}
	}
	return pt, nil
}

// keyForms names the accepted forms of a secret key in error messages.
const keyForms = "it must be 64 hex characters or the standard or URL-safe base64 of 32 bytes (e.g. the output of `openssl rand -base64 32`)"

// ParseKey reads the --secret-key / GODWIT_SECRET_KEY value: 64 hex
// characters, or standard or URL-safe base64 (padded or not) of 32 bytes.
// Surrounding white space is ignored. The error names the expected forms
// but never echoes the value.
func ParseKey(s string) ([]byte, error) {
	k, err := parseKey(s)
	if err != nil {
		return nil, fmt.Errorf("secretbox: %w", err)
	}
	return k, nil
}

func parseKey(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, errors.New("the secret key is empty; " + keyForms)
	}
	if len(s) == 2*KeySize {
		if k, err := hex.DecodeString(s); err == nil {
			return k, nil
		}
	}
	for _, enc := range []*base64.Encoding{
		base64.StdEncoding, base64.URLEncoding, base64.RawStdEncoding, base64.RawURLEncoding,
	} {
		k, err := enc.DecodeString(s)
		if err != nil {
			continue
		}
		if len(k) != KeySize {
			return nil, fmt.Errorf("the secret key decodes to %d bytes, want %d; %s", len(k), KeySize, keyForms)
		}
		return k, nil
	}
	return nil, fmt.Errorf("the secret key (%d characters) is neither hex nor base64; %s", len(s), keyForms)
}

// How long LoadOrCreateKeyFile waits for a key file that another process has
// just created to be written (variables for tests).
var (
	emptyFileWait  = 2 * time.Second
	emptyFilePause = 10 * time.Millisecond
)

// LoadOrCreateKeyFile returns the key in path, as written by an earlier call
// (base64 text and a newline; 64 hex characters are accepted too). If path
// does not exist it creates it, with mode 0600 and 32 random bytes; the
// create is exclusive (O_EXCL), so when two processes start at once one
// creates the file and the other reads it. A key file that group or others
// may access is an error that says to chmod 600 it. The parent directory must
// exist.
func LoadOrCreateKeyFile(path string) ([]byte, error) {
	key, err := readKeyFile(path)
	if !errors.Is(err, fs.ErrNotExist) {
		return key, err
	}

	key = make([]byte, KeySize)
	if _, err := io.ReadFull(rand.Reader, key); err != nil {
		return nil, fmt.Errorf("secretbox: generate secret key: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		// Another process created it since we looked: use its key.
		return readKeyFile(path)
	}
	if err != nil {
		return nil, fmt.Errorf("secretbox: create secret key file: %w", err)
	}
	_, err = f.WriteString(base64.StdEncoding.EncodeToString(key) + "\n")
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(path) // nothing was sealed with it: let the next start try again
		return nil, fmt.Errorf("secretbox: write secret key file %s: %w", path, err)
	}
	return key, nil
}

// readKeyFile reads and parses a key file, checking its permissions. An
// empty file may be one that another process has created but not yet
// written: it is read again for a moment before giving up.
func readKeyFile(path string) ([]byte, error) {
	deadline := time.Now().Add(emptyFileWait)
	for {
		data, err := readPrivateFile(path)
		if err != nil {
			return nil, err
		}
		if len(strings.TrimSpace(string(data))) == 0 {
			if time.Now().Before(deadline) {
				time.Sleep(emptyFilePause)
				continue
			}
			return nil, fmt.Errorf("secretbox: secret key file %s is empty; if nothing was encrypted with it, delete it to have a new key made", path)
		}
		key, err := parseKey(string(data))
		if err != nil {
			return nil, fmt.Errorf("secretbox: secret key file %s: %w", path, err)
		}
		return key, nil
	}
}

// maxKeyFileSize bounds what readPrivateFile reads: a key file is ~45 bytes.
const maxKeyFileSize = 4096

func readPrivateFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
		return nil, fmt.Errorf("secretbox: open secret key file: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("secretbox: stat secret key file: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("secretbox: secret key file %s is not a regular file", path)
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 && runtime.GOOS != "windows" {
		return nil, fmt.Errorf("secretbox: secret key file %s has mode %04o: group and others must have no access; run chmod 600 %s", path, perm, path)
	}
	data, err := io.ReadAll(io.LimitReader(f, maxKeyFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("secretbox: read secret key file: %w", err)
	}
	if len(data) > maxKeyFileSize {
		return nil, fmt.Errorf("secretbox: secret key file %s is larger than %d bytes: it is not a key file", path, maxKeyFileSize)
	}
	return data, nil
}
