package mailauth_test

import (
	"context"
	"crypto"
	"net"
	"strings"
	"testing"
)

// BenchmarkCheck authenticates a signed 10 KB message against the loopback
// DNS server: SPF (one TXT), DKIM (one key TXT and the signature), DMARC
// (one TXT). "parallel" runs Checks on every core (GOMAXPROCS), as the MX's
// connections would.
func BenchmarkCheck(b *testing.B) {
	e := newEnv(b)
	rk := testRSAKey(b)
	e.dns.SetTXT("rsa._domainkey.sender.test", rsaRecord(b, rk))
	e.dns.SetTXT("ed._domainkey.sender.test", ed25519Record(fuzzKey))
	e.dns.SetTXT("sender.test", "v=spf1 ip4:192.0.2.0/24 -all")
	e.dns.SetTXT("_dmarc.sender.test", "v=DMARC1; p=reject")

	body := strings.Repeat("The quick brown fox jumps over the lazy dog, again and again.\n", 10*1024/62)
	plain := message([]string{
		"From: Alice <alice@sender.test>",
		"To: bob@receiver.test",
		"Subject: benchmark",
		"Date: Thu, 03 Dec 2026 10:00:00 +0000",
		"Message-ID: <bench@sender.test>",
	}, body)

	for _, k := range []struct {
		name     string
		selector string
		key      crypto.Signer
	}{{"rsa2048", "rsa", rk}, {"ed25519", "ed", fuzzKey}} {
		raw := sign(b, plain, "sender.test", k.selector, k.key)
		ip := net.ParseIP("192.0.2.1")
		check := func() {
			res := e.c.Check(context.Background(), raw, ip, "mx.sender.test", "alice@sender.test")
			if res.SPF != "pass" || res.DKIM != "pass" || res.DMARC != "pass" {
				b.Fatalf("%+v", res)
			}
		}
		b.Run(k.name, func(b *testing.B) {
			b.SetBytes(int64(len(raw)))
			for b.Loop() {
				check()
			}
		})
		b.Run(k.name+"/parallel", func(b *testing.B) {
			b.SetBytes(int64(len(raw)))
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					check()
				}
			})
		})
	}
}
