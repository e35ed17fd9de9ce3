// Package dkim generates and encodes DKIM keys and signs messages (RFC 6376, relaxed/relaxed).
//
// A domain has an RSA key published at <selector>._domainkey.<domain> and,
// for dual signing, optionally an Ed25519 key (RFC 8463) published at
// <selector>-ed25519._domainkey.<domain>: one TXT record holds one key, so the
// two keys need two selectors. KeySelector gives the selector of a key.
package dkim

import (
	"bytes"
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	msgauth "github.com/emersion/go-msgauth/dkim"
)

// DefaultSelector is the selector of a domain's RSA key, so that
// documentation written for Resend still reads right.
const DefaultSelector = "resend"

// Ed25519SelectorSuffix is appended to a domain's selector to name its
// Ed25519 key: "resend" gives "resend-ed25519".
const Ed25519SelectorSuffix = "-ed25519"

// RSABits is the size of the RSA keys GenerateRSA makes.
const RSABits = 2048

// GenerateRSA returns a new 2048-bit RSA key.
func GenerateRSA() (*rsa.PrivateKey, error) {
	k, err := rsa.GenerateKey(rand.Reader, RSABits)
	if err != nil {
		return nil, fmt.Errorf("dkim: generate RSA key: %w", err)
	}
	return k, nil
}

// GenerateEd25519 returns a new Ed25519 key.
func GenerateEd25519() (ed25519.PrivateKey, error) {
	_, k, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("dkim: generate Ed25519 key: %w", err)
	}
	return k, nil
}

// MarshalPrivateKey encodes an RSA or Ed25519 private key as PKCS#8 DER.
func MarshalPrivateKey(k crypto.Signer) ([]byte, error) {
	switch k := k.(type) {
	case *rsa.PrivateKey:
		if k == nil {
			return nil, errors.New("dkim: nil RSA key")
		}
	case ed25519.PrivateKey:
		if len(k) != ed25519.PrivateKeySize {
			return nil, fmt.Errorf("dkim: Ed25519 private key has %d bytes, want %d", len(k), ed25519.PrivateKeySize)
		}
	default:
		return nil, fmt.Errorf("dkim: unsupported key type %T: want RSA or Ed25519", k)
	}
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		return nil, fmt.Errorf("dkim: encode private key: %w", err)
	}
	return der, nil
}

// ParsePrivateKey decodes a PKCS#8 DER private key (as MarshalPrivateKey
// writes it) and returns it if it is an RSA or Ed25519 key. A PKCS#1 RSA key
// ("BEGIN RSA PRIVATE KEY", as openssl genrsa used to write) is accepted too.
func ParsePrivateKey(der []byte) (crypto.Signer, error) {
	k, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		if rk, err1 := x509.ParsePKCS1PrivateKey(der); err1 == nil {
			k, err = rk, nil
		}
	}
	if err != nil {
		return nil, fmt.Errorf("dkim: parse private key: %w", err)
	}
	switch k := k.(type) {
	case *rsa.PrivateKey:
		return k, nil
	case ed25519.PrivateKey:
		return k, nil
	default:
		return nil, fmt.Errorf("dkim: unsupported key type %T: want RSA or Ed25519", k)
	}
}

// RecordValue is the TXT value to publish at <selector>._domainkey.<domain>
// (see KeySelector for the selector of a key).
//
// RSA: "p=<base64 of the SubjectPublicKeyInfo DER>", exactly what Resend shows
// (its records read "p=MIGfMA0G..."), with no v= or k= tag: RFC 6376 makes
// them optional, k=rsa being the default.
//
// Ed25519: "v=DKIM1; k=ed25519; p=<base64 of the raw 32-byte public key>" (RFC 8463).
func RecordValue(pub crypto.PublicKey) (string, error) {
	switch pub := pub.(type) {
	case *rsa.PublicKey:
		if pub == nil {
			return "", errors.New("dkim: nil RSA public key")
		}
		der, err := x509.MarshalPKIXPublicKey(pub)
		if err != nil {
			return "", fmt.Errorf("dkim: encode public key: %w", err)
		}
		return "p=" + base64.StdEncoding.EncodeToString(der), nil
	case ed25519.PublicKey:
		if len(pub) != ed25519.PublicKeySize {
			return "", fmt.Errorf("dkim: Ed25519 public key has %d bytes, want %d", len(pub), ed25519.PublicKeySize)
		}
		return "v=DKIM1; k=ed25519; p=" + base64.StdEncoding.EncodeToString(pub), nil
	default:
		return "", fmt.Errorf("dkim: unsupported public key type %T: want *rsa.PublicKey or ed25519.PublicKey", pub)
	}
}

// KeySelector returns the selector under which the key pub is published and
// signs: selector itself for an RSA key, selector+Ed25519SelectorSuffix for an
// Ed25519 key.
func KeySelector(selector string, pub crypto.PublicKey) string {
	if _, ok := pub.(ed25519.PublicKey); ok {
		return selector + Ed25519SelectorSuffix
	}
	return selector
}

// signedHeaders are the header fields Sign signs, in this order, when present.
var signedHeaders = []string{
	"From", "To", "Cc", "Subject", "Date", "Message-ID", "Reply-To", "MIME-Version",
	"Content-Type", "Content-Transfer-Encoding", "List-Unsubscribe", "List-Unsubscribe-Post",
	"In-Reply-To", "References",
}

// Sign returns msg with DKIM-Signature header fields prepended, one per key,
// in the order of keys: RSA and Ed25519 keys together give dual signing. Each
// key signs under KeySelector(selector, key.Public()), so at most one key of
// each kind may be given.
//
// The signatures are relaxed/relaxed with SHA-256 and cover those of From, To,
// Cc, Subject, Date, Message-ID, Reply-To, MIME-Version, Content-Type,
// Content-Transfer-Encoding, List-Unsubscribe, List-Unsubscribe-Post,
// In-Reply-To and References that the message has (every instance of each).
// The message must have exactly one From field.
//
// Bare LF line endings in msg are turned into CRLF, as they would be on the
// wire, and a message without a blank line after its header gets one.
func Sign(msg []byte, domain, selector string, keys ...crypto.Signer) ([]byte, error) {
	if len(keys) == 0 {
		return nil, errors.New("dkim: no signing key")
	}
	if !validName(domain) {
		return nil, fmt.Errorf("dkim: invalid domain %q: want an ASCII (punycode) domain name", domain)
	}
	if !validName(selector) {
		return nil, fmt.Errorf("dkim: invalid selector %q", selector)
	}

	msg = toCRLF(msg)
	hdr, ok := headerOf(msg)
	if !ok {
		msg = append(msg, "\r\n"...)
		hdr = msg
	}
	names := fieldCounts(hdr)
	switch n := names["from"]; n {
	case 0:
		return nil, errors.New("dkim: message has no From header field")
	case 1:
	default:
		return nil, fmt.Errorf("dkim: message has %d From header fields, want exactly one", n)
	}
	var headerKeys []string
	for _, k := range signedHeaders {
		for range names[strings.ToLower(k)] {
			headerKeys = append(headerKeys, k)
		}
	}

	seen := make(map[string]bool, len(keys))
	var sigs strings.Builder
	for i, key := range keys {
		if key == nil {
			return nil, fmt.Errorf("dkim: key %d is nil", i)
		}
		sel := KeySelector(selector, key.Public())
		if seen[sel] {
			return nil, fmt.Errorf("dkim: two keys for selector %q: give at most one RSA and one Ed25519 key", sel)
		}
		seen[sel] = true
		sig, err := signOne(msg, &msgauth.SignOptions{
			Domain:                 domain,
			Selector:               sel,
			Signer:                 key,
			Hash:                   crypto.SHA256,
			HeaderCanonicalization: msgauth.CanonicalizationRelaxed,
			BodyCanonicalization:   msgauth.CanonicalizationRelaxed,
			HeaderKeys:             headerKeys,
		})
		if err != nil {
			return nil, err
		}
		sigs.WriteString(sig)
	}

	out := make([]byte, 0, sigs.Len()+len(msg))
	out = append(out, sigs.String()...)
	return append(out, msg...), nil
}

// signOne returns the DKIM-Signature field (with its final CRLF) of msg.
func signOne(msg []byte, opts *msgauth.SignOptions) (string, error) {
	s, err := msgauth.NewSigner(opts)
	if err != nil {
		return "", err
	}
	if _, err := s.Write(msg); err != nil {
		s.Close()
		return "", fmt.Errorf("dkim: sign: %w", err)
	}
	if err := s.Close(); err != nil {
		return "", fmt.Errorf("dkim: sign: %w", err)
	}
	return s.Signature(), nil
}

// validName reports whether s is a plausible ASCII domain name or selector:
// dot-separated labels of letters, digits, '-' and '_', 1 to 63 characters
// each. It keeps anything that could break the DKIM-Signature field out.
func validName(s string) bool {
	if len(s) == 0 || len(s) > 253 {
		return false
	}
	for _, label := range strings.Split(s, ".") {
		if len(label) == 0 || len(label) > 63 {
			return false
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				return false
			}
		}
	}
	return true
}

// toCRLF turns every bare LF of msg into CRLF. It returns msg itself when
// there is none.
func toCRLF(msg []byte) []byte {
	bare := 0
	for i, c := range msg {
		if c == '\n' && (i == 0 || msg[i-1] != '\r') {
			bare++
		}
	}
	if bare == 0 {
		return msg
	}
	out := make([]byte, 0, len(msg)+bare)
	for i, c := range msg {
		if c == '\n' && (i == 0 || msg[i-1] != '\r') {
			out = append(out, '\r')
		}
		out = append(out, c)
	}
	return out
}

// headerOf returns the header block of a CRLF message, up to and including
// the blank line that ends it, and whether there is such a line.
func headerOf(msg []byte) ([]byte, bool) {
	if bytes.HasPrefix(msg, []byte("\r\n")) {
		return msg[:2], true
	}
	i := bytes.Index(msg, []byte("\r\n\r\n"))
	if i < 0 {
		return msg, false
	}
	return msg[:i+4], true
}

// fieldCounts counts the header fields of hdr by lower-case name.
func fieldCounts(hdr []byte) map[string]int {
	counts := make(map[string]int)
	for line := range bytes.SplitSeq(hdr, []byte("\r\n")) {
		if len(line) == 0 || line[0] == ' ' || line[0] == '\t' {
			continue // blank line or continuation
		}
		name, _, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			continue
		}
		counts[strings.ToLower(string(bytes.TrimSpace(name)))]++
	}
	return counts
}
