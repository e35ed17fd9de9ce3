package mailauth_test

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/godwit/godwit/internal/mailauth"
)

// fuzzKey signs the seed corpus (testdata/fuzz/FuzzCheck holds messages
// signed with it, so that their signatures pass).
var fuzzKey = ed25519.NewKeyFromSeed([]byte("godwit mailauth fuzz corpus key!"))

// fuzzEnv serves the records the corpus refers to.
func fuzzEnv(t testing.TB) *env {
	e := newEnv(t)
	e.dns.SetTXT("k._domainkey.sender.test", ed25519Record(fuzzKey))
	e.dns.SetTXT("sender.test", "v=spf1 ip4:192.0.2.0/24 -all")
	e.dns.SetTXT("_dmarc.sender.test", "v=DMARC1; p=reject; sp=quarantine")
	e.dns.SetTXT("other.test", "v=spf1 -all")
	return e
}

func fuzzSeeds(t testing.TB) [][]byte {
	plain := simple("alice@sender.test")
	signed := sign(t, plain, "sender.test", "k", fuzzKey)
	many := plain
	for range 8 {
		many = sign(t, many, "sender.test", "k", fuzzKey)
	}
	return [][]byte{
		nil,
		[]byte("\r\n"),
		[]byte("From: a@sender.test"),
		plain,
		signed,
		many,
		[]byte(strings.ReplaceAll(string(signed), "\r\n", "\n")),
		message([]string{"From: a@sender.test", "DKIM-Signature: v=1; a=rsa-sha256; d=sender.test; s=k; h=from; bh=; b="}, "x\n"),
		message([]string{"From: a@sender.test", "DKIM-Signature: v=1; d=sender.test; d=x; s=;;;=", "DKIM-Signature:"}, "x\n"),
		message([]string{"ARC-Seal: i=99999999999999999999; cv=PASS", "ARC-Seal: i=1; cv=none", "From: =?utf-8?b?w6k=?= <a@SENDER.test.>"}, ""),
		message([]string{"From: a@sender.test, b@other.test", "From: c@sender.test"}, "x\n"),
		message([]string{" folded first", "From: <@sender.test>"}, "x\n"),
		message([]string{"From: a@xn--bcher-kva.example", "From: a@bücher.example"}, "x\n"),
	}
}

func FuzzCheck(f *testing.F) {
	e := fuzzEnv(f)
	for _, s := range fuzzSeeds(f) {
		f.Add(s)
	}
	verdicts := map[string][]string{
		"SPF":   {"pass", "fail", "softfail", "neutral", "none", "temperror", "permerror"},
		"DKIM":  {"pass", "fail", "none", "temperror", "permerror"},
		"DMARC": {"pass", "fail", "none", "temperror", "permerror"},
		"ARC":   {"present", "none"},
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		start := time.Now()
		res := e.c.Check(context.Background(), raw, net.ParseIP("192.0.2.1"), "mx.sender.test", "bounce@sender.test")
		if d := time.Since(start); d > 5*time.Second {
			t.Fatalf("Check took %v on %d bytes", d, len(raw))
		}
		for name, got := range map[string]string{"SPF": res.SPF, "DKIM": res.DKIM, "DMARC": res.DMARC, "ARC": res.ARC} {
			if !slices.Contains(verdicts[name], got) {
				t.Fatalf("%s = %q", name, got)
			}
		}
		if res.SPF != "pass" {
			t.Fatalf("SPF depends on the envelope only, got %s", res.SPF)
		}
		if !slices.Contains([]string{"", "none", "quarantine", "reject"}, res.Policy) {
			t.Fatalf("policy %q", res.Policy)
		}
		var d mailauth.Details
		if err := json.Unmarshal(res.Details, &d); err != nil {
			t.Fatalf("details %q: %v", res.Details, err)
		}
		if d.DKIM.Verified > mailauth.DefaultMaxSignatures || len(d.DKIM.Signatures) != d.DKIM.Verified || d.DKIM.Verified > d.DKIM.Count {
			t.Fatalf("DKIM details %+v", d.DKIM)
		}
		if (res.DKIM == "none") != (d.DKIM.Count == 0) {
			t.Fatalf("DKIM %s with %d signatures", res.DKIM, d.DKIM.Count)
		}
		checkHeader(t, res, e.c.AuthServID)
	})
}
