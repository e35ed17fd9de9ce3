package dkim_test

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"

	msgauth "github.com/emersion/go-msgauth/dkim"
	"github.com/godwit/godwit/internal/dkim"
	"github.com/stretchr/testify/require"
)

const domain = "example.com"

// Keys are generated once for the whole file: RSA-2048 costs ~100 ms.
var testKeys = sync.OnceValues(func() (*rsa.PrivateKey, ed25519.PrivateKey) {
	r, err := dkim.GenerateRSA()
	if err != nil {
		panic(err)
	}
	e, err := dkim.GenerateEd25519()
	if err != nil {
		panic(err)
	}
	return r, e
})

// dnsFor publishes the keys' records under their selectors, as an operator
// would, and returns a fake TXT lookup plus the names it was asked for.
func dnsFor(t testing.TB, selector string, keys ...crypto.Signer) (func(string) ([]string, error), *[]string) {
	t.Helper()
	zone := map[string]string{}
	for _, k := range keys {
		v, err := dkim.RecordValue(k.Public())
		require.NoError(t, err)
		zone[dkim.KeySelector(selector, k.Public())+"._domainkey."+domain] = v
	}
	var mu sync.Mutex
	var asked []string
	return func(name string) ([]string, error) {
		mu.Lock()
		asked = append(asked, name)
		mu.Unlock()
		if v, ok := zone[name]; ok {
			return []string{v}, nil
		}
		return nil, fmt.Errorf("no TXT record at %s", name)
	}, &asked
}

func verify(t testing.TB, signed []byte, lookup func(string) ([]string, error)) []*msgauth.Verification {
	t.Helper()
	vs, err := msgauth.VerifyWithOptions(bytes.NewReader(signed), &msgauth.VerifyOptions{LookupTXT: lookup})
	require.NoError(t, err)
	return vs
}

func message(body string) []byte {
	return []byte("From: Acme <hello@example.com>\r\n" +
		"To: someone@example.net\r\n" +
		"Subject: Hello there\r\n" +
		"Date: Mon, 02 Jan 2006 15:04:05 +0000\r\n" +
		"Message-ID: <abc@example.com>\r\n" +
		"MIME-Version: 1.0\r\n" +
		"Content-Type: text/plain; charset=utf-8\r\n" +
		"X-Entity-Ref-ID: 42\r\n" +
		"\r\n" + body)
}

func TestRecordValueRSA(t *testing.T) {
	r, _ := testKeys()
	v, err := dkim.RecordValue(r.Public())
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(v, "p=MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA"), v)
	require.NotContains(t, v, ";")
	der, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(v, "p="))
	require.NoError(t, err)
	pub, err := x509.ParsePKIXPublicKey(der)
	require.NoError(t, err)
	require.True(t, r.PublicKey.Equal(pub))
}

func TestRecordValueEd25519(t *testing.T) {
	_, e := testKeys()
	v, err := dkim.RecordValue(e.Public())
	require.NoError(t, err)
	require.Equal(t, "v=DKIM1; k=ed25519; p="+base64.StdEncoding.EncodeToString(e.Public().(ed25519.PublicKey)), v)
	require.Len(t, strings.TrimPrefix(v, "v=DKIM1; k=ed25519; p="), 44)
}

func TestRecordValueRefuses(t *testing.T) {
	r, e := testKeys()
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	for name, pub := range map[string]crypto.PublicKey{
		"nil":             nil,
		"nil RSA":         (*rsa.PublicKey)(nil),
		"ECDSA":           ec.Public(),
		"short Ed25519":   ed25519.PublicKey(make([]byte, 31)),
		"RSA private":     r,
		"Ed25519 private": e,
	} {
		_, err := dkim.RecordValue(pub)
		require.Error(t, err, name)
	}
}

func TestKeySelector(t *testing.T) {
	r, e := testKeys()
	require.Equal(t, "resend", dkim.KeySelector(dkim.DefaultSelector, r.Public()))
	require.Equal(t, "resend-ed25519", dkim.KeySelector(dkim.DefaultSelector, e.Public()))
}

func TestMarshalParseRoundTrip(t *testing.T) {
	r, e := testKeys()
	for name, k := range map[string]crypto.Signer{"RSA": r, "Ed25519": e} {
		t.Run(name, func(t *testing.T) {
			der, err := dkim.MarshalPrivateKey(k)
			require.NoError(t, err)
			got, err := dkim.ParsePrivateKey(der)
			require.NoError(t, err)
			require.True(t, got.(interface{ Equal(crypto.PrivateKey) bool }).Equal(k))
			require.IsType(t, k, got)
		})
	}
	t.Run("PKCS#1 RSA", func(t *testing.T) {
		got, err := dkim.ParsePrivateKey(x509.MarshalPKCS1PrivateKey(r))
		require.NoError(t, err)
		require.True(t, r.Equal(got))
	})
}

func TestMarshalParseRefuse(t *testing.T) {
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	_, err = dkim.MarshalPrivateKey(ec)
	require.Error(t, err)
	_, err = dkim.MarshalPrivateKey(nil)
	require.Error(t, err)
	_, err = dkim.MarshalPrivateKey((*rsa.PrivateKey)(nil))
	require.Error(t, err)
	_, err = dkim.MarshalPrivateKey(ed25519.PrivateKey(make([]byte, 10)))
	require.Error(t, err)

	ecDER, err := x509.MarshalPKCS8PrivateKey(ec)
	require.NoError(t, err)
	_, err = dkim.ParsePrivateKey(ecDER)
	require.ErrorContains(t, err, "unsupported key type")
	for _, junk := range [][]byte{nil, {}, []byte("not a key"), ecDER[:len(ecDER)/2]} {
		_, err = dkim.ParsePrivateKey(junk)
		require.Error(t, err)
	}
}

func TestSignVerifies(t *testing.T) {
	r, e := testKeys()
	for name, keys := range map[string][]crypto.Signer{
		"RSA":          {r},
		"Ed25519":      {e},
		"RSA+Ed25519":  {r, e},
		"Ed25519+RSA":  {e, r},
		"other select": {r, e},
	} {
		t.Run(name, func(t *testing.T) {
			selector := dkim.DefaultSelector
			if name == "other select" {
				selector = "s2026._v1"
			}
			msg := message("Hi!\r\nHow are you?\r\n")
			signed, err := dkim.Sign(msg, domain, selector, keys...)
			require.NoError(t, err)
			require.True(t, bytes.HasSuffix(signed, msg), "the message follows the signatures unchanged")
			require.Equal(t, len(keys), bytes.Count(signed, []byte("DKIM-Signature:")))

			lookup, asked := dnsFor(t, selector, keys...)
			vs := verify(t, signed, lookup)
			require.Len(t, vs, len(keys))
			for _, v := range vs {
				require.NoError(t, v.Err)
				require.Equal(t, domain, v.Domain)
			}
			var want []string
			for _, k := range keys {
				want = append(want, dkim.KeySelector(selector, k.Public())+"._domainkey."+domain)
			}
			require.ElementsMatch(t, want, *asked)

			// Signature fields come in the order of the keys.
			first, _, _ := strings.Cut(string(signed), "\r\n\r\n")
			algos := []string{}
			for _, f := range strings.Split(first, "DKIM-Signature:")[1:] {
				switch {
				case strings.Contains(f, "a=rsa-sha256;"):
					algos = append(algos, "rsa")
				case strings.Contains(f, "a=ed25519-sha256;"):
					algos = append(algos, "ed25519")
				}
				require.Contains(t, f, "c=relaxed/relaxed;")
			}
			var wantAlgos []string
			for _, k := range keys {
				if _, ok := k.(*rsa.PrivateKey); ok {
					wantAlgos = append(wantAlgos, "rsa")
				} else {
					wantAlgos = append(wantAlgos, "ed25519")
				}
			}
			require.Equal(t, wantAlgos, algos)
		})
	}
}

func TestSignOnlyOwnRecordVerifies(t *testing.T) {
	// Dual signing must not depend on one key's record holding both keys.
	r, e := testKeys()
	signed, err := dkim.Sign(message("x\r\n"), domain, dkim.DefaultSelector, r, e)
	require.NoError(t, err)
	lookup, _ := dnsFor(t, dkim.DefaultSelector, r) // Ed25519 record not published
	vs := verify(t, signed, lookup)
	require.Len(t, vs, 2)
	ok := 0
	for _, v := range vs {
		if v.Err == nil {
			ok++
		}
	}
	require.Equal(t, 1, ok, "the RSA signature verifies, the Ed25519 one finds no key")
}

func TestSignTamperedBodyFails(t *testing.T) {
	r, e := testKeys()
	for name, keys := range map[string][]crypto.Signer{"RSA": {r}, "Ed25519": {e}, "both": {r, e}} {
		t.Run(name, func(t *testing.T) {
			signed, err := dkim.Sign(message("Pay 10 EUR to Alice.\r\n"), domain, dkim.DefaultSelector, keys...)
			require.NoError(t, err)
			tampered := bytes.Replace(signed, []byte("10 EUR"), []byte("99 EUR"), 1)
			require.NotEqual(t, signed, tampered)
			lookup, _ := dnsFor(t, dkim.DefaultSelector, keys...)
			vs := verify(t, tampered, lookup)
			require.Len(t, vs, len(keys))
			for _, v := range vs {
				require.Error(t, v.Err)
			}
		})
	}
}

func TestSignRelaxedCanonicalization(t *testing.T) {
	// Relaxed/relaxed survives whitespace changes made by relays.
	r, _ := testKeys()
	signed, err := dkim.Sign(message("Hello  world\r\n\r\n\r\n"), domain, dkim.DefaultSelector, r)
	require.NoError(t, err)
	relayed := bytes.Replace(signed, []byte("Subject: Hello there"), []byte("subject:   Hello \t there"), 1)
	relayed = bytes.Replace(relayed, []byte("Hello  world\r\n\r\n\r\n"), []byte("Hello world \r\n"), 1)
	lookup, _ := dnsFor(t, dkim.DefaultSelector, r)
	vs := verify(t, relayed, lookup)
	require.NoError(t, vs[0].Err)
}

func TestSignHeaderSelection(t *testing.T) {
	r, _ := testKeys()
	msg := []byte("Received: from a by b\r\n" +
		"from: a@example.com\r\n" +
		"To: b@example.net\r\n" +
		"X-Custom: 1\r\n" +
		"Cc: c@example.net,\r\n d@example.net\r\n" +
		"List-Unsubscribe: <https://example.com/u>\r\n" +
		"List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n" +
		"References: <1@x>\r\n" +
		"References: <2@x>\r\n" +
		"In-Reply-To: <2@x>\r\n" +
		"Reply-To: r@example.com\r\n" +
		"Content-Transfer-Encoding: 7bit\r\n" +
		"\r\nbody\r\n")
	signed, err := dkim.Sign(msg, domain, dkim.DefaultSelector, r)
	require.NoError(t, err)
	lookup, _ := dnsFor(t, dkim.DefaultSelector, r)
	vs := verify(t, signed, lookup)
	require.NoError(t, vs[0].Err)
	require.Equal(t, []string{"From", "To", "Cc", "Reply-To", "Content-Transfer-Encoding",
		"List-Unsubscribe", "List-Unsubscribe-Post", "In-Reply-To", "References", "References"}, vs[0].HeaderKeys)

	// Changing a signed field breaks the signature; an unsigned one does not.
	vs = verify(t, bytes.Replace(signed, []byte("d@example.net"), []byte("e@example.net"), 1), lookup)
	require.Error(t, vs[0].Err)
	vs = verify(t, bytes.Replace(signed, []byte("<2@x>\r\nIn-Reply-To"), []byte("<3@x>\r\nIn-Reply-To"), 1), lookup)
	require.Error(t, vs[0].Err)
	vs = verify(t, bytes.Replace(signed, []byte("X-Custom: 1"), []byte("X-Custom: 2"), 1), lookup)
	require.NoError(t, vs[0].Err)
	vs = verify(t, bytes.Replace(signed, []byte("Received: from a"), []byte("Received: from z"), 1), lookup)
	require.NoError(t, vs[0].Err)
}

func TestSignNormalizesLineEndings(t *testing.T) {
	_, e := testKeys()
	lf := []byte("From: a@example.com\nSubject: hi\n\nline 1\nline 2\n")
	signed, err := dkim.Sign(lf, domain, dkim.DefaultSelector, e)
	require.NoError(t, err)
	require.True(t, bytes.HasSuffix(signed, []byte("From: a@example.com\r\nSubject: hi\r\n\r\nline 1\r\nline 2\r\n")))
	require.NotContains(t, strings.ReplaceAll(string(signed), "\r\n", ""), "\n")
	lookup, _ := dnsFor(t, dkim.DefaultSelector, e)
	require.NoError(t, verify(t, signed, lookup)[0].Err)
}

func TestSignHeaderOnlyMessage(t *testing.T) {
	_, e := testKeys()
	signed, err := dkim.Sign([]byte("From: a@example.com\r\nSubject: hi\r\n"), domain, dkim.DefaultSelector, e)
	require.NoError(t, err)
	require.True(t, bytes.HasSuffix(signed, []byte("Subject: hi\r\n\r\n")))
	lookup, _ := dnsFor(t, dkim.DefaultSelector, e)
	require.NoError(t, verify(t, signed, lookup)[0].Err)
}

func TestSignRefuses(t *testing.T) {
	r, e := testKeys()
	r2, err := rsa.GenerateKey(rand.Reader, 1024)
	require.NoError(t, err)
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	ok := message("x\r\n")
	cases := []struct {
		name, domain, selector string
		msg                    []byte
		keys                   []crypto.Signer
		want                   string
	}{
		{"no key", domain, "resend", ok, nil, "no signing key"},
		{"nil key", domain, "resend", ok, []crypto.Signer{nil}, "nil"},
		{"no From", domain, "resend", []byte("To: a@example.com\r\nSubject: x\r\n\r\nbody\r\n"), []crypto.Signer{r}, "no From"},
		{"From only in body", domain, "resend", []byte("To: a@example.com\r\n\r\nFrom: b@example.com\r\n"), []crypto.Signer{r}, "no From"},
		{"empty message", domain, "resend", nil, []crypto.Signer{r}, "no From"},
		{"no header", domain, "resend", []byte("\r\nFrom: a@example.com\r\n"), []crypto.Signer{r}, "no From"},
		{"From in a folded line", domain, "resend", []byte("Subject: x\r\n From: a@example.com\r\nno colon\r\n\r\n"), []crypto.Signer{r}, "no From"},
		{"two From", domain, "resend", append([]byte("From: evil@example.org\r\n"), ok...), []crypto.Signer{r}, "2 From"},
		{"two RSA keys", domain, "resend", ok, []crypto.Signer{r, r2}, "two keys"},
		{"two Ed25519 keys", domain, "resend", ok, []crypto.Signer{e, e}, "two keys"},
		{"ECDSA key", domain, "resend", ok, []crypto.Signer{ec}, "unsupported key"},
		{"empty domain", "", "resend", ok, []crypto.Signer{r}, "invalid domain"},
		{"domain with CRLF", "example.com\r\nX: y", "resend", ok, []crypto.Signer{r}, "invalid domain"},
		{"domain with ;", "example.com;s=x", "resend", ok, []crypto.Signer{r}, "invalid domain"},
		{"unicode domain", "exämple.com", "resend", ok, []crypto.Signer{r}, "invalid domain"},
		{"trailing dot", "example.com.", "resend", ok, []crypto.Signer{r}, "invalid domain"},
		{"empty selector", domain, "", ok, []crypto.Signer{r}, "invalid selector"},
		{"selector with space", domain, "res end", ok, []crypto.Signer{r}, "invalid selector"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out, err := dkim.Sign(c.msg, c.domain, c.selector, c.keys...)
			require.ErrorContains(t, err, c.want)
			require.Nil(t, out)
		})
	}
}

// failingSigner is a key whose signing fails.
type failingSigner struct{ ed25519.PrivateKey }

func (failingSigner) Sign(io.Reader, []byte, crypto.SignerOpts) ([]byte, error) {
	return nil, errors.New("hsm unplugged")
}

func TestSignReportsSignerError(t *testing.T) {
	_, e := testKeys()
	_, err := dkim.Sign(message("x\r\n"), domain, dkim.DefaultSelector, failingSigner{e})
	require.ErrorContains(t, err, "hsm unplugged")
}

func benchmarkSign(b *testing.B, key crypto.Signer) {
	body := strings.Repeat(strings.Repeat("lorem ipsum ", 6)+"\r\n", 10*1024/74+1)[:10*1024]
	msg := message(body)
	b.SetBytes(int64(len(msg)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := dkim.Sign(msg, domain, dkim.DefaultSelector, key); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSignRSA(b *testing.B) {
	r, _ := testKeys()
	benchmarkSign(b, r)
}

func BenchmarkSignEd25519(b *testing.B) {
	_, e := testKeys()
	benchmarkSign(b, e)
}

// BenchmarkRSA2048 is the signature alone (crypto/rsa, PKCS#1 v1.5 over a
// SHA-256 digest), with the key as ParsePrivateKey returns it (precomputed
// CRT values) and with the CRT values dropped, which is what a key without
// Precompute costs.
func BenchmarkRSA2048(b *testing.B) {
	der, err := dkim.MarshalPrivateKey(mustRSA(b))
	require.NoError(b, err)
	k, err := dkim.ParsePrivateKey(der)
	require.NoError(b, err)
	key := k.(*rsa.PrivateKey)
	digest := sha256.Sum256([]byte("message"))
	b.Run("precomputed", func(b *testing.B) {
		for b.Loop() {
			if _, err := rsa.SignPKCS1v15(nil, key, crypto.SHA256, digest[:]); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("no-crt", func(b *testing.B) {
		bare := &rsa.PrivateKey{PublicKey: key.PublicKey, D: key.D, Primes: key.Primes}
		for b.Loop() {
			if _, err := rsa.SignPKCS1v15(nil, bare, crypto.SHA256, digest[:]); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func mustRSA(b *testing.B) *rsa.PrivateKey {
	b.Helper()
	r, _ := testKeys()
	return r
}
