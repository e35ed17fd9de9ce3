package tracking

import (
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"math"
	"net/url"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/google/uuid"
)

const (
	// MinKeySize is the minimum size of a key given to NewSigner.
	MinKeySize = 32
	// MaxTokenLen bounds the length of a token string ParseOpen and
	// ParseClick accept; longer input is rejected before it is decoded.
	// Every token a Signer makes is shorter.
	MaxTokenLen = 8192

	version   = 1
	kindOpen  = 1
	kindClick = 2
	kindUnsub = 3
	kindShare = 4
	kindFile  = 5
	kindRecv  = 6
	macSize   = 16 // truncated HMAC-SHA256: 128 bits
	idSize    = 16
	headSize  = 2 + idSize // version, kind, email id

	// maxURLLen bounds the URL carried by a click token, so that a token
	// (at most headSize+10+maxURLLen+macSize bytes, 5520 characters) always
	// stays below MaxTokenLen.
	maxURLLen = 4096
	// maxIndex bounds a link's index (an email with more links is absurd;
	// the bound keeps the index an int on every platform).
	maxIndex = math.MaxInt32
)

// ErrInvalidToken is returned (wrapped, with the reason) by ParseOpen and
// ParseClick for any token that is not one this Signer made.
var ErrInvalidToken = errors.New("tracking: invalid token")

// Open is what an open-tracking (pixel) token carries.
type Open struct {
	EmailID string // a UUID; parsing returns it in canonical lower-case form
}

// Click is what a click-tracking token carries.
type Click struct {
	EmailID string // a UUID; parsing returns it in canonical lower-case form
	URL     string // the redirect target, exactly as signed
	Index   int    // the link's position among the email's rewritten links, from 0
}

// Signer makes and verifies tokens. It is safe for concurrent use.
type Signer struct {
	keys []subKeys // keys[0] signs; all verify
}

type subKeys struct {
	open, click, unsub, share, file, recv *macKey
}

func (k subKeys) forKind(kind byte) *macKey {
	switch kind {
	case kindOpen:
		return k.open
	case kindUnsub:
		return k.unsub
	case kindShare:
		return k.share
	case kindFile:
		return k.file
	case kindRecv:
		return k.recv
	}
	return k.click
}

// macKey computes truncated HMAC-SHA256 with one key, reusing hash states
// (hmac.New costs two SHA-256 blocks and several allocations).
type macKey struct {
	pool sync.Pool
}

func newMACKey(key []byte) *macKey {
	k := &macKey{}
	k.pool.New = func() any { return hmac.New(sha256.New, key) }
	return k
}

// sum appends the MAC of b to dst.
func (k *macKey) sum(dst, b []byte) []byte {
	h := k.pool.Get().(hash.Hash)
	h.Reset()
	h.Write(b)
	var full [sha256.Size]byte
	dst = append(dst, h.Sum(full[:0])[:macSize]...)
	k.pool.Put(h)
	return dst
}

// NewSigner returns a Signer that signs with key and verifies with key and
// oldKeys (so that links in emails already sent keep working after the key is
// rotated). Every key must be at least MinKeySize bytes; it is never used
// directly: one HMAC key per token kind is derived from it with HKDF-SHA256.
func NewSigner(key []byte, oldKeys ...[]byte) (*Signer, error) {
	s := &Signer{}
	for i, k := range append([][]byte{key}, oldKeys...) {
		if len(k) < MinKeySize {
			if i == 0 {
				return nil, fmt.Errorf("tracking: key is %d bytes, want at least %d", len(k), MinKeySize)
			}
			return nil, fmt.Errorf("tracking: old key %d is %d bytes, want at least %d", i, len(k), MinKeySize)
		}
		open, err := hkdf.Key(sha256.New, k, nil, "godwit tracking v1 open token", sha256.Size)
		if err != nil {
			return nil, fmt.Errorf("tracking: derive key: %w", err)
		}
		click, err := hkdf.Key(sha256.New, k, nil, "godwit tracking v1 click token", sha256.Size)
		if err != nil {
			return nil, fmt.Errorf("tracking: derive key: %w", err)
		}
		unsub, err := hkdf.Key(sha256.New, k, nil, "godwit tracking v1 unsubscribe token", sha256.Size)
		if err != nil {
			return nil, fmt.Errorf("tracking: derive key: %w", err)
		}
		share, err := hkdf.Key(sha256.New, k, nil, "godwit tracking v1 share token", sha256.Size)
		if err != nil {
			return nil, fmt.Errorf("tracking: derive key: %w", err)
		}
		file, err := hkdf.Key(sha256.New, k, nil, "godwit tracking v1 attachment download token", sha256.Size)
		if err != nil {
			return nil, fmt.Errorf("tracking: derive key: %w", err)
		}
		recv, err := hkdf.Key(sha256.New, k, nil, "godwit tracking v1 received email download token", sha256.Size)
		if err != nil {
			return nil, fmt.Errorf("tracking: derive key: %w", err)
		}
		s.keys = append(s.keys, subKeys{open: newMACKey(open), click: newMACKey(click), unsub: newMACKey(unsub),
			share: newMACKey(share), file: newMACKey(file), recv: newMACKey(recv)})
	}
	return s, nil
}

// OpenToken returns the token of the pixel of email o.EmailID. It panics if
// o.EmailID is not a UUID (Rewrite checks it first).
func (s *Signer) OpenToken(o Open) string {
	b := make([]byte, 0, headSize+macSize)
	b = appendHead(b, kindOpen, o.EmailID)
	return s.seal(b, kindOpen)
}

// ClickToken returns the token of a link to c.URL in email c.EmailID. It
// panics if c.EmailID is not a UUID, c.Index is negative or above
// math.MaxInt32, or c.URL is not what ParseClick accepts: an absolute http or
// https URL with a host, at most 4096 bytes of valid UTF-8 without spaces,
// control characters or backslashes. Rewrite only passes such values.
func (s *Signer) ClickToken(c Click) string {
	if c.Index < 0 || c.Index > maxIndex {
		panic(fmt.Sprintf("tracking: link index %d out of range", c.Index))
	}
	if !validTarget(c.URL) {
		panic(fmt.Sprintf("tracking: %q is not a trackable URL", c.URL))
	}
	return s.clickToken(c)
}

// clickToken is ClickToken for a URL the caller has checked with validTarget.
func (s *Signer) clickToken(c Click) string {
	b := make([]byte, 0, headSize+binary.MaxVarintLen64+len(c.URL)+macSize)
	b = appendHead(b, kindClick, c.EmailID)
	b = binary.AppendUvarint(b, uint64(c.Index))
	b = append(b, c.URL...)
	return s.seal(b, kindClick)
}

// ParseOpen verifies an open token and returns what it carries.
func (s *Signer) ParseOpen(tok string) (Open, error) {
	id, body, err := s.open(tok, kindOpen)
	if err != nil {
		return Open{}, err
	}
	if len(body) != 0 {
		return Open{}, fmt.Errorf("%w: %d unexpected bytes", ErrInvalidToken, len(body))
	}
	return Open{EmailID: id.String()}, nil
}

// ParseClick verifies a click token and returns what it carries. The URL is
// the exact string that was signed, and is checked again to be an absolute
// http(s) URL.
func (s *Signer) ParseClick(tok string) (Click, error) {
	id, body, err := s.open(tok, kindClick)
	if err != nil {
		return Click{}, err
	}
	idx, n := binary.Uvarint(body)
	if n <= 0 || idx > maxIndex {
		return Click{}, fmt.Errorf("%w: bad link index", ErrInvalidToken)
	}
	u := string(body[n:])
	if !validTarget(u) {
		return Click{}, fmt.Errorf("%w: URL is not absolute http(s)", ErrInvalidToken)
	}
	return Click{EmailID: id.String(), URL: u, Index: int(idx)}, nil
}

// Unsubscribe is what an unsubscribe token carries: the contact to mark
// unsubscribed, and its team.
type Unsubscribe struct {
	ContactID string // a UUID; parsing returns it in canonical lower-case form
	TeamID    string // at most 256 bytes
}

// UnsubscribeToken returns the token of a contact's unsubscribe link (the
// {{{RESEND_UNSUBSCRIBE_URL}}} of broadcasts and their List-Unsubscribe
// header). It panics if u.ContactID is not a UUID or u.TeamID is longer
// than 256 bytes.
func (s *Signer) UnsubscribeToken(u Unsubscribe) string {
	if len(u.TeamID) > 256 {
		panic("tracking: team id too long")
	}
	b := make([]byte, 0, headSize+len(u.TeamID)+macSize)
	b = appendHead(b, kindUnsub, u.ContactID)
	b = append(b, u.TeamID...)
	return s.seal(b, kindUnsub)
}

// ParseUnsubscribe verifies an unsubscribe token and returns what it carries.
func (s *Signer) ParseUnsubscribe(tok string) (Unsubscribe, error) {
	id, body, err := s.open(tok, kindUnsub)
	if err != nil {
		return Unsubscribe{}, err
	}
	if len(body) == 0 || len(body) > 256 || !utf8.Valid(body) {
		return Unsubscribe{}, fmt.Errorf("%w: bad team id", ErrInvalidToken)
	}
	return Unsubscribe{ContactID: id.String(), TeamID: string(body)}, nil
}

func appendHead(b []byte, kind byte, emailID string) []byte {
	id, err := uuid.Parse(emailID)
	if err != nil {
		panic(fmt.Sprintf("tracking: email id %q is not a UUID", emailID))
	}
	b = append(b, version, kind)
	return append(b, id[:]...)
}

// seal appends the MAC of b with the current key and encodes the result.
func (s *Signer) seal(b []byte, kind byte) string {
	b = s.keys[0].forKind(kind).sum(b, b)
	return base64.RawURLEncoding.EncodeToString(b)
}

var strictB64 = base64.RawURLEncoding.Strict()

// open decodes and verifies tok as a token of kind and returns its email id
// and the bytes between the id and the MAC.
func (s *Signer) open(tok string, kind byte) (uuid.UUID, []byte, error) {
	if len(tok) > MaxTokenLen {
		return uuid.UUID{}, nil, fmt.Errorf("%w: %d characters, more than %d", ErrInvalidToken, len(tok), MaxTokenLen)
	}
	// The decoder skips CR and LF: refuse them, and anything else outside
	// the alphabet, so that a token has exactly one spelling.
	for i := 0; i < len(tok); i++ {
		if c := tok[i]; !('A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return uuid.UUID{}, nil, fmt.Errorf("%w: not base64url", ErrInvalidToken)
		}
	}
	b, err := strictB64.DecodeString(tok)
	if err != nil {
		return uuid.UUID{}, nil, fmt.Errorf("%w: not base64url", ErrInvalidToken)
	}
	if len(b) < headSize+macSize {
		return uuid.UUID{}, nil, fmt.Errorf("%w: %d bytes is too short", ErrInvalidToken, len(b))
	}
	if b[0] != version {
		return uuid.UUID{}, nil, fmt.Errorf("%w: version %d", ErrInvalidToken, b[0])
	}
	if b[1] != kind {
		return uuid.UUID{}, nil, fmt.Errorf("%w: kind %d, want %d", ErrInvalidToken, b[1], kind)
	}
	signed, sum := b[:len(b)-macSize], b[len(b)-macSize:]
	var buf [macSize]byte
	for _, k := range s.keys {
		if hmac.Equal(k.forKind(kind).sum(buf[:0], signed), sum) {
			return uuid.UUID(signed[2:headSize]), signed[headSize:], nil
		}
	}
	return uuid.UUID{}, nil, fmt.Errorf("%w: bad MAC", ErrInvalidToken)
}

// validTarget reports whether u may be the target of a click token: an
// absolute http or https URL with a host, at most maxURLLen bytes of valid
// UTF-8 without spaces, control characters or backslashes (browsers read a
// backslash as a slash; refusing it means the URL a browser follows is the
// URL that was parsed here).
func validTarget(u string) bool {
	if u == "" || len(u) > maxURLLen || !utf8.ValidString(u) {
		return false
	}
	for i := 0; i < len(u); i++ {
		if c := u[i]; c <= ' ' || c == 0x7f || c == '\\' {
			return false
		}
	}
	p, err := url.Parse(u)
	if err != nil || p.Opaque != "" || p.Host == "" {
		return false
	}
	return strings.EqualFold(p.Scheme, "http") || strings.EqualFold(p.Scheme, "https")
}
