package mailauth_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-msgauth/authres"
	"github.com/emersion/go-msgauth/dkim"
	"github.com/miekg/dns"

	"github.com/godwit/godwit/internal/dnscheck"
	"github.com/godwit/godwit/internal/dnscheck/dnstest"
	"github.com/godwit/godwit/internal/godwittest"
	"github.com/godwit/godwit/internal/mailauth"
)

var (
	rsaOnce sync.Once
	rsaKey  *rsa.PrivateKey
)

// testRSAKey is one RSA-2048 key for the whole package (generating one is
// slow under -race).
func testRSAKey(t testing.TB) *rsa.PrivateKey {
	t.Helper()
	rsaOnce.Do(func() {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			panic(err)
		}
		rsaKey = k
	})
	return rsaKey
}

func rsaRecord(t testing.TB, k *rsa.PrivateKey) string {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(&k.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	return "v=DKIM1; k=rsa; p=" + base64.StdEncoding.EncodeToString(der)
}

func ed25519Record(k ed25519.PrivateKey) string {
	return "v=DKIM1; k=ed25519; p=" + base64.StdEncoding.EncodeToString(k.Public().(ed25519.PublicKey))
}

func newEd25519(t testing.TB) ed25519.PrivateKey {
	t.Helper()
	_, k, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// message builds a CRLF message with the given header lines and body.
func message(headers []string, body string) []byte {
	var b strings.Builder
	for _, h := range headers {
		b.WriteString(h + "\r\n")
	}
	b.WriteString("\r\n")
	b.WriteString(strings.ReplaceAll(body, "\n", "\r\n"))
	return []byte(b.String())
}

func simple(from string) []byte {
	return message([]string{
		"From: Alice <" + from + ">",
		"To: bob@receiver.test",
		"Subject: hello",
		"Date: Thu, 03 Dec 2026 10:00:00 +0000",
		"Message-ID: <1@sender.test>",
	}, "Hello Bob.\n")
}

func sign(t testing.TB, raw []byte, domain, selector string, key crypto.Signer) []byte {
	t.Helper()
	var out bytes.Buffer
	err := dkim.Sign(&out, bytes.NewReader(raw), &dkim.SignOptions{
		Domain: domain, Selector: selector, Signer: key,
		HeaderCanonicalization: dkim.CanonicalizationRelaxed,
		BodyCanonicalization:   dkim.CanonicalizationRelaxed,
	})
	if err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

type env struct {
	dns *dnstest.Server
	c   *mailauth.Checker
}

func newEnv(t testing.TB) *env {
	t.Helper()
	srv := dnstest.NewServer(t)
	return &env{dns: srv, c: &mailauth.Checker{Resolver: srv.Addr(), Timeout: 2 * time.Second, AuthServID: "mx.godwit.test"}}
}

func (e *env) check(t testing.TB, raw []byte, ip, helo, mailFrom string) (mailauth.Result, mailauth.Details) {
	t.Helper()
	res := e.c.Check(context.Background(), raw, net.ParseIP(ip), helo, mailFrom)
	var d mailauth.Details
	if err := json.Unmarshal(res.Details, &d); err != nil {
		t.Fatalf("details %s: %v", res.Details, err)
	}
	checkHeader(t, res, e.c.AuthServID)
	return res, d
}

// checkHeader asserts the Authentication-Results value parses back and
// agrees with the verdicts.
func checkHeader(t testing.TB, res mailauth.Result, id string) {
	t.Helper()
	if strings.ContainsAny(res.Header, "\r\n") {
		t.Fatalf("header with a line break: %q", res.Header)
	}
	gotID, results, err := authres.Parse(res.Header)
	if err != nil {
		t.Fatalf("authres.Parse(%q): %v", res.Header, err)
	}
	if id == "" {
		id = "localhost"
	}
	if gotID != id {
		t.Fatalf("authserv-id %q, want %q in %q", gotID, id, res.Header)
	}
	var spfV, dmarcV authres.ResultValue
	var dkimV []authres.ResultValue
	for _, r := range results {
		switch r := r.(type) {
		case *authres.SPFResult:
			spfV = r.Value
		case *authres.DKIMResult:
			dkimV = append(dkimV, r.Value)
		case *authres.DMARCResult:
			dmarcV = r.Value
		}
	}
	if string(spfV) != res.SPF || string(dmarcV) != res.DMARC {
		t.Fatalf("header %q says spf=%s dmarc=%s, result %s %s", res.Header, spfV, dmarcV, res.SPF, res.DMARC)
	}
	if len(dkimV) == 0 {
		t.Fatalf("no dkim= in %q", res.Header)
	}
	if res.DKIM == mailauth.Pass {
		found := false
		for _, v := range dkimV {
			found = found || v == authres.ResultPass
		}
		if !found {
			t.Fatalf("DKIM pass but no dkim=pass in %q", res.Header)
		}
	}
}

func TestSPF(t *testing.T) {
	e := newEnv(t)
	e.dns.SetTXT("pass.test", "v=spf1 ip4:192.0.2.0/24 -all")
	e.dns.SetTXT("softfail.test", "v=spf1 ~all")
	e.dns.SetTXT("neutral.test", "v=spf1 ?all")
	e.dns.SetTXT("txtonly.test", "some-verification=1")
	e.dns.SetTXT("twice.test", "v=spf1 -all", "v=spf1 +all")
	e.dns.SetTXT("broken.test", "v=spf1 ip4:300.1.1.1 -all")
	e.dns.SetTXT("servfail.test", "v=spf1 +all")
	e.dns.Fail("servfail.test", dns.RcodeServerFailure)
	e.dns.SetTXT("mech.test", "v=spf1 a:host.mech.test mx include:_spf.other.test -all")
	e.dns.SetAddr("host.mech.test", "198.51.100.7", "2001:db8::7")
	e.dns.SetMX("mech.test", dnscheck.MX{Host: "mx.mech.test", Preference: 10})
	e.dns.SetAddr("mx.mech.test", "198.51.100.25")
	e.dns.SetTXT("_spf.other.test", "v=spf1 ip6:2001:db8:1::/48 -all")
	e.dns.SetTXT("incmissing.test", "v=spf1 include:nothing.other.test -all")
	e.dns.SetTXT("mx.helo.test", "v=spf1 ip4:192.0.2.9 -all")

	tests := []struct {
		name, ip, helo, mailFrom, want, identity, domain string
	}{
		{"pass", "192.0.2.10", "mx.pass.test", "alice@pass.test", "pass", "mailfrom", "pass.test"},
		{"pass angle brackets, upper case", "192.0.2.10", "mx.pass.test", "<Alice@PASS.test>", "pass", "mailfrom", "pass.test"},
		{"fail", "203.0.113.1", "mx.pass.test", "alice@pass.test", "fail", "mailfrom", "pass.test"},
		{"softfail", "203.0.113.1", "x.test", "a@softfail.test", "softfail", "mailfrom", "softfail.test"},
		{"neutral", "203.0.113.1", "x.test", "a@neutral.test", "neutral", "mailfrom", "neutral.test"},
		{"none: NXDOMAIN", "203.0.113.1", "x.test", "a@nowhere.test", "none", "mailfrom", "nowhere.test"},
		{"none: TXT without SPF", "203.0.113.1", "x.test", "a@txtonly.test", "none", "mailfrom", "txtonly.test"},
		{"none: single label", "203.0.113.1", "x.test", "a@localhost", "none", "mailfrom", "localhost"},
		{"temperror: SERVFAIL", "203.0.113.1", "x.test", "a@servfail.test", "temperror", "mailfrom", "servfail.test"},
		{"permerror: two records", "203.0.113.1", "x.test", "a@twice.test", "permerror", "mailfrom", "twice.test"},
		{"permerror: bad ip4", "203.0.113.1", "x.test", "a@broken.test", "permerror", "mailfrom", "broken.test"},
		{"a mechanism", "198.51.100.7", "x.test", "a@mech.test", "pass", "mailfrom", "mech.test"},
		{"a mechanism IPv6", "2001:db8::7", "x.test", "a@mech.test", "pass", "mailfrom", "mech.test"},
		{"mx mechanism", "198.51.100.25", "x.test", "a@mech.test", "pass", "mailfrom", "mech.test"},
		{"include", "2001:db8:1::5", "x.test", "a@mech.test", "pass", "mailfrom", "mech.test"},
		{"no mechanism matches", "198.51.100.99", "x.test", "a@mech.test", "fail", "mailfrom", "mech.test"},
		{"include of a domain without SPF", "198.51.100.99", "x.test", "a@incmissing.test", "permerror", "mailfrom", "incmissing.test"},
		{"null sender checks HELO", "192.0.2.9", "mx.helo.test", "", "pass", "helo", "mx.helo.test"},
		{"null sender <> checks HELO", "203.0.113.1", "mx.helo.test", "<>", "fail", "helo", "mx.helo.test"},
		{"null sender, address literal HELO", "192.0.2.9", "[192.0.2.9]", "<>", "none", "helo", "[192.0.2.9]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, d := e.check(t, simple("a@pass.test"), tt.ip, tt.helo, tt.mailFrom)
			if res.SPF != tt.want || d.SPF.Result != tt.want {
				t.Fatalf("SPF %s (details %+v), want %s", res.SPF, d.SPF, tt.want)
			}
			if d.SPF.Identity != tt.identity || d.SPF.Domain != tt.domain {
				t.Fatalf("checked %s %q, want %s %q", d.SPF.Identity, d.SPF.Domain, tt.identity, tt.domain)
			}
			if tt.want == "temperror" && (!strings.Contains(d.SPF.Reason, "SERVFAIL") || strings.Contains(d.SPF.Reason, "127.0.0.1")) {
				t.Fatalf("reason %q: want the rcode, not the resolver's address", d.SPF.Reason)
			}
			if tt.identity == "helo" && !strings.Contains(res.Header, "spf="+tt.want) {
				t.Fatalf("header %q", res.Header)
			}
			if tt.identity == "helo" && tt.domain == "mx.helo.test" && !strings.Contains(res.Header, "smtp.helo=mx.helo.test") {
				t.Fatalf("header %q: no smtp.helo", res.Header)
			}
		})
	}
}

func TestDKIM(t *testing.T) {
	e := newEnv(t)
	rk := testRSAKey(t)
	ek := newEd25519(t)
	e.dns.SetTXT("rsa._domainkey.sender.test", rsaRecord(t, rk))
	e.dns.SetTXT("ed._domainkey.sender.test", ed25519Record(ek))
	e.dns.SetTXT("bad._domainkey.sender.test", "v=DKIM1; k=rsa; p=notbase64!!")
	e.dns.SetTXT("down._domainkey.sender.test", ed25519Record(ek))
	e.dns.Fail("down._domainkey.sender.test", dns.RcodeServerFailure)

	plain := simple("alice@sender.test")
	rsaSigned := sign(t, plain, "sender.test", "rsa", rk)
	edSigned := sign(t, plain, "sender.test", "ed", ek)
	both := sign(t, rsaSigned, "sender.test", "ed", ek)
	tampered := bytes.Replace(rsaSigned, []byte("Hello Bob."), []byte("Hello Eve."), 1)
	missingKey := sign(t, plain, "sender.test", "gone", ek)
	badKey := sign(t, plain, "sender.test", "bad", ek)
	down := sign(t, plain, "sender.test", "down", ek)
	oneBad := sign(t, bytes.Replace(edSigned, []byte("Hello Bob."), []byte("Hello Eve."), 1), "sender.test", "rsa", rk)

	type sig struct{ selector, result string }
	tests := []struct {
		name string
		raw  []byte
		want string
		sigs []sig
	}{
		{"RSA pass", rsaSigned, "pass", []sig{{"rsa", "pass"}}},
		{"Ed25519 pass", edSigned, "pass", []sig{{"ed", "pass"}}},
		{"both pass", both, "pass", []sig{{"ed", "pass"}, {"rsa", "pass"}}},
		{"tampered body", tampered, "fail", []sig{{"rsa", "fail"}}},
		{"one of two fails", oneBad, "pass", []sig{{"rsa", "pass"}, {"ed", "fail"}}},
		{"unsigned", plain, "none", nil},
		{"key record missing", missingKey, "permerror", []sig{{"gone", "permerror"}}},
		{"key record malformed", badKey, "permerror", []sig{{"bad", "permerror"}}},
		{"key lookup SERVFAIL", down, "temperror", []sig{{"down", "temperror"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, d := e.check(t, tt.raw, "192.0.2.1", "mx.sender.test", "alice@sender.test")
			if res.DKIM != tt.want || d.DKIM.Result != tt.want {
				t.Fatalf("DKIM %s, want %s (details %+v)", res.DKIM, tt.want, d.DKIM)
			}
			if len(d.DKIM.Signatures) != len(tt.sigs) || d.DKIM.Count != len(tt.sigs) || d.DKIM.Verified != len(tt.sigs) {
				t.Fatalf("signatures %+v, want %v", d.DKIM, tt.sigs)
			}
			for i, s := range d.DKIM.Signatures {
				if s.Selector != tt.sigs[i].selector || s.Result != tt.sigs[i].result || s.Domain != "sender.test" {
					t.Fatalf("signature %d: %+v, want %v", i, s, tt.sigs[i])
				}
				if s.Result != mailauth.Pass && s.Reason == "" {
					t.Fatalf("signature %d: %s without a reason", i, s.Result)
				}
				want := fmt.Sprintf("dkim=%s header.d=sender.test header.s=%s", s.Result, s.Selector)
				if !strings.Contains(res.Header, want) {
					t.Fatalf("header %q lacks %q", res.Header, want)
				}
			}
			if tt.sigs == nil && !strings.Contains(res.Header, "dkim=none") {
				t.Fatalf("header %q lacks dkim=none", res.Header)
			}
		})
	}
}

func TestDKIMSignatureLimit(t *testing.T) {
	e := newEnv(t)
	ek := newEd25519(t)
	e.dns.SetTXT("ed._domainkey.sender.test", ed25519Record(ek))
	raw := simple("alice@sender.test")
	for range 50 {
		raw = sign(t, raw, "sender.test", "ed", ek)
	}
	for _, limit := range []int{0, 3} {
		e.c.MaxSignatures = limit
		want := limit
		if want == 0 {
			want = mailauth.DefaultMaxSignatures
		}
		before := e.dns.Queries()
		res, d := e.check(t, raw, "192.0.2.1", "mx.sender.test", "alice@sender.test")
		if res.DKIM != mailauth.Pass || d.DKIM.Count != 50 || d.DKIM.Verified != want || !d.DKIM.Truncated || len(d.DKIM.Signatures) != want {
			t.Fatalf("limit %d: %s %+v", limit, res.DKIM, d.DKIM)
		}
		// One key lookup per verified signature, plus SPF and DMARC.
		if q := e.dns.Queries() - before; q > want+6 {
			t.Fatalf("limit %d: %d DNS queries", limit, q)
		}
	}
}

func TestDMARC(t *testing.T) {
	e := newEnv(t)
	ek := newEd25519(t)
	for _, d := range []string{"example.org", "news.example.org", "other.net", "strict.example", "quar.example", "nonep.example", "nodmarc.example", "down.example", "broken.example"} {
		e.dns.SetTXT("k._domainkey."+d, ed25519Record(ek))
		e.dns.SetTXT(d, "v=spf1 ip4:192.0.2.0/24 -all")
	}
	e.dns.SetTXT("_dmarc.example.org", "v=DMARC1; p=reject; sp=quarantine")
	e.dns.SetTXT("_dmarc.other.net", "v=DMARC1; p=none")
	e.dns.SetTXT("_dmarc.strict.example", "v=DMARC1; p=reject; adkim=s; aspf=s")
	e.dns.SetTXT("_dmarc.quar.example", "v=DMARC1; p=quarantine; pct=50")
	e.dns.SetTXT("_dmarc.nonep.example", "v=DMARC1; p=none")
	e.dns.SetTXT("_dmarc.down.example", "v=DMARC1; p=reject")
	e.dns.Fail("_dmarc.down.example", dns.RcodeServerFailure)
	e.dns.SetTXT("_dmarc.broken.example", "v=DMARC1; p=bogus")
	e.dns.SetTXT("k._domainkey.mail.strict.example", ed25519Record(ek))
	e.dns.SetTXT("mx.example.org", "v=spf1 ip4:192.0.2.1 -all")

	good, bad := "192.0.2.1", "203.0.113.1"
	tests := []struct {
		name      string
		raw       []byte
		ip        string
		mailFrom  string
		want      string
		policy    string
		record    string // where the record was found
		spfAlign  bool
		dkimAlign bool
	}{
		{"aligned DKIM pass, SPF fail", sign(t, simple("a@example.org"), "example.org", "k", ek), bad, "bounce@example.org", "pass", "reject", "example.org", false, true},
		{"aligned SPF pass, unsigned", simple("a@example.org"), good, "bounce@example.org", "pass", "reject", "example.org", true, false},
		{"relaxed: SPF on a subdomain's org domain", simple("a@news.example.org"), good, "bounce@example.org", "pass", "quarantine", "example.org", true, false},
		{"unaligned, p=reject", sign(t, simple("a@example.org"), "other.net", "k", ek), good, "bounce@other.net", "fail", "reject", "example.org", false, false},
		{"unaligned, p=quarantine", sign(t, simple("a@quar.example"), "other.net", "k", ek), good, "bounce@other.net", "fail", "quarantine", "quar.example", false, false},
		{"unaligned, p=none", sign(t, simple("a@nonep.example"), "other.net", "k", ek), good, "bounce@other.net", "fail", "none", "nonep.example", false, false},
		{"subdomain uses sp= of the org domain", simple("a@news.example.org"), bad, "x@other.net", "fail", "quarantine", "example.org", false, false},
		{"relaxed: d= org domain aligns with a subdomain From", sign(t, simple("a@news.example.org"), "example.org", "k", ek), bad, "x@other.net", "pass", "quarantine", "example.org", false, true},
		{"strict: d= org domain does not align with a subdomain From", sign(t, simple("a@mail.strict.example"), "strict.example", "k", ek), good, "x@strict.example", "fail", "reject", "strict.example", false, false},
		{"strict: exact d= aligns", sign(t, simple("a@mail.strict.example"), "mail.strict.example", "k", ek), bad, "x@other.net", "pass", "reject", "strict.example", false, true},
		{"no record", simple("a@nodmarc.example"), bad, "x@nodmarc.example", "none", "", "", false, false},
		{"no record, NXDOMAIN From domain", simple("a@nowhere.example"), bad, "x@nowhere.example", "none", "", "", false, false},
		{"record lookup SERVFAIL", simple("a@down.example"), bad, "x@down.example", "temperror", "", "down.example", false, false},
		{"malformed record", simple("a@broken.example"), good, "x@broken.example", "permerror", "", "broken.example", false, false},
		{"null sender: HELO aligns", simple("a@example.org"), good, "", "pass", "reject", "example.org", true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, d := e.check(t, tt.raw, tt.ip, "mx.example.org", tt.mailFrom)
			if res.DMARC != tt.want || res.Policy != tt.policy {
				t.Fatalf("DMARC %s policy %q, want %s %q (spf %s dkim %s, details %+v)", res.DMARC, res.Policy, tt.want, tt.policy, res.SPF, res.DKIM, d.DMARC)
			}
			if d.DMARC.RecordDomain != tt.record || d.DMARC.SPFAligned != tt.spfAlign || d.DMARC.DKIMAligned != tt.dkimAlign {
				t.Fatalf("details %+v", d.DMARC)
			}
			if !strings.Contains(res.Header, "dmarc="+tt.want+" header.from=") {
				t.Fatalf("header %q", res.Header)
			}
		})
	}

	t.Run("subdomain policy reported", func(t *testing.T) {
		_, d := e.check(t, simple("a@news.example.org"), bad, "mx.example.org", "x@other.net")
		if !d.DMARC.SubdomainPolicy || d.DMARC.OrgDomain != "example.org" || d.DMARC.FromDomain != "news.example.org" {
			t.Fatalf("%+v", d.DMARC)
		}
	})
	t.Run("pct reported", func(t *testing.T) {
		_, d := e.check(t, simple("a@quar.example"), bad, "mx.example.org", "x@other.net")
		if d.DMARC.Percent == nil || *d.DMARC.Percent != 50 {
			t.Fatalf("%+v", d.DMARC)
		}
	})
}

func TestDMARCAuthor(t *testing.T) {
	e := newEnv(t)
	e.dns.SetTXT("_dmarc.example.org", "v=DMARC1; p=reject")
	e.dns.SetTXT("example.org", "v=spf1 ip4:192.0.2.0/24 -all")
	body := "Hi.\n"
	tests := []struct {
		name    string
		headers []string
		want    string
		domain  string
	}{
		{"no From", []string{"To: b@receiver.test", "Subject: x"}, "permerror", ""},
		{"two From fields", []string{"From: a@example.org", "From: b@example.org"}, "permerror", ""},
		{"two domains in one From", []string{"From: a@example.org, b@other.net"}, "permerror", ""},
		{"From without a domain", []string{"From: alice"}, "permerror", ""},
		{"two addresses, one domain", []string{"From: a@example.org, B <b@EXAMPLE.org>"}, "pass", "example.org"},
		{"display name that does not parse", []string{"From: Alice Q. \"Smith <a@example.org>"}, "pass", "example.org"},
		{"encoded display name, odd charset", []string{"From: =?x-unknown?q?Al=E9?= <a@example.org>"}, "pass", "example.org"},
		{"folded From", []string{"From: Alice", " <a@example.org>"}, "pass", "example.org"},
		{"lower-case field name", []string{"from: a@example.org"}, "pass", "example.org"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, d := e.check(t, message(tt.headers, body), "192.0.2.1", "mx.example.org", "bounce@example.org")
			if res.DMARC != tt.want || d.DMARC.FromDomain != tt.domain {
				t.Fatalf("DMARC %s from %q, want %s %q (%+v)", res.DMARC, d.DMARC.FromDomain, tt.want, tt.domain, d.DMARC)
			}
			if tt.want == "permerror" && (d.DMARC.Reason == "" || res.Policy != "") {
				t.Fatalf("%+v policy %q", d.DMARC, res.Policy)
			}
		})
	}
}

func TestARC(t *testing.T) {
	e := newEnv(t)
	withARC := message([]string{
		"ARC-Seal: i=2; a=rsa-sha256; cv=pass; d=fwd.test; s=k; b=AAAA",
		"ARC-Message-Signature: i=2; a=rsa-sha256; d=fwd.test; s=k; h=from; bh=AAAA; b=AAAA",
		"ARC-Authentication-Results: i=2; fwd.test; dkim=pass",
		"ARC-Seal: i=1; a=rsa-sha256; cv=none; d=list.test; s=k; b=AAAA",
		"From: a@sender.test",
	}, "x\n")
	res, d := e.check(t, withARC, "192.0.2.1", "mx.sender.test", "a@sender.test")
	if res.ARC != mailauth.Present || d.ARC.Sets != 2 || d.ARC.NewestInstance != 2 || d.ARC.NewestCV != "pass" || d.ARC.Validated {
		t.Fatalf("%s %+v", res.ARC, d.ARC)
	}
	if strings.Contains(res.Header, "; arc=") {
		t.Fatalf("header %q claims an ARC result", res.Header)
	}

	res, d = e.check(t, simple("a@sender.test"), "192.0.2.1", "mx.sender.test", "a@sender.test")
	if res.ARC != mailauth.None || d.ARC.Result != mailauth.None || !strings.HasSuffix(res.Header, "; arc=none") {
		t.Fatalf("%s %+v %q", res.ARC, d.ARC, res.Header)
	}
}

func TestHeaderParsesBack(t *testing.T) {
	e := newEnv(t)
	ek := newEd25519(t)
	e.dns.SetTXT("k._domainkey.sender.test", ed25519Record(ek))
	e.dns.SetTXT("sender.test", "v=spf1 ip4:192.0.2.0/24 -all")
	e.dns.SetTXT("_dmarc.sender.test", "v=DMARC1; p=reject")
	raw := sign(t, simple("alice@sender.test"), "sender.test", "k", ek)

	res, _ := e.check(t, raw, "192.0.2.1", "mx.sender.test", "SRS0=ab12=XY=orig.test=bob@sender.test")
	id, results, err := authres.Parse(res.Header)
	if err != nil || id != "mx.godwit.test" || len(results) != 4 {
		t.Fatalf("%q: %q %d %v", res.Header, id, len(results), err)
	}
	spfR, ok1 := results[0].(*authres.SPFResult)
	dkimR, ok2 := results[1].(*authres.DKIMResult)
	dmarcR, ok3 := results[2].(*authres.DMARCResult)
	if !ok1 || !ok2 || !ok3 {
		t.Fatalf("%q: %#v", res.Header, results)
	}
	if spfR.Value != authres.ResultPass || strings.Trim(spfR.From, `"`) != "SRS0=ab12=XY=orig.test=bob@sender.test" {
		t.Fatalf("spf %+v", spfR)
	}
	if dkimR.Value != authres.ResultPass || dkimR.Domain != "sender.test" {
		t.Fatalf("dkim %+v", dkimR)
	}
	if dmarcR.Value != authres.ResultPass || dmarcR.From != "sender.test" {
		t.Fatalf("dmarc %+v", dmarcR)
	}

	// Hostile envelope values never break the field.
	e.c.AuthServID = "bad id;\r\nX-Injected: 1"
	res = e.c.Check(context.Background(), raw, net.ParseIP("192.0.2.1"), "evil;\r\nX: y", "a;b\r\nX-Injected: 1@sender.test")
	if strings.ContainsAny(res.Header, "\r\n") || strings.Contains(res.Header, "Injected") {
		t.Fatalf("header %q", res.Header)
	}
	checkHeader(t, res, "localhost")
}

// TestCheckBounded: a resolver that never answers costs at most the
// per-query timeout per step, and every DNS-based verdict is temperror.
func TestCheckBounded(t *testing.T) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	ek := newEd25519(t)
	raw := sign(t, simple("a@sender.test"), "sender.test", "k", ek)
	c := &mailauth.Checker{Resolver: pc.LocalAddr().String(), Timeout: 200 * time.Millisecond}
	start := time.Now()
	res := c.Check(context.Background(), raw, net.ParseIP("192.0.2.1"), "mx.sender.test", "a@sender.test")
	if d := time.Since(start); d > 4*200*time.Millisecond+500*time.Millisecond {
		t.Fatalf("Check took %v", d)
	}
	if res.SPF != mailauth.TempError || res.DKIM != mailauth.TempError || res.DMARC != mailauth.TempError {
		t.Fatalf("%+v", res)
	}
	checkHeader(t, res, "")

	// A cancelled context ends it at once, well before any query timeout.
	c.Timeout = 5 * time.Second
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	start = time.Now()
	res = c.Check(ctx, raw, net.ParseIP("192.0.2.1"), "mx.sender.test", "a@sender.test")
	if d := time.Since(start); d > time.Second || res.SPF != mailauth.TempError {
		t.Fatalf("cancelled Check took %v: %+v", d, res)
	}
}

func TestCheckConcurrent(t *testing.T) {
	e := newEnv(t)
	ek := newEd25519(t)
	e.dns.SetTXT("k._domainkey.sender.test", ed25519Record(ek))
	e.dns.SetTXT("sender.test", "v=spf1 ip4:192.0.2.0/24 -all")
	e.dns.SetTXT("_dmarc.sender.test", "v=DMARC1; p=reject")
	raw := sign(t, simple("alice@sender.test"), "sender.test", "k", ek)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			res := e.c.Check(context.Background(), raw, net.ParseIP("192.0.2.1"), "mx.sender.test", "a@sender.test")
			if res.SPF != "pass" || res.DKIM != "pass" || res.DMARC != "pass" {
				t.Errorf("%+v", res)
			}
		})
	}
	wg.Wait()
}

// TestCheckCachesDNS: with a Cache, the second message of a sender costs no
// query while the records' TTL runs; once it is over they are asked again
// and a changed record is seen. Empty answers are kept for at most a
// minute.
func TestCheckCachesDNS(t *testing.T) {
	e := newEnv(t)
	clock := godwittest.NewClock(time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC))
	advance := clock.Advance
	e.c.Cache = &dnscheck.Cache{Now: clock.Now}

	ek := newEd25519(t)
	e.dns.SetTTL(300)
	e.dns.SetTXT("sender.test", "v=spf1 mx a:host.sender.test -all")
	e.dns.SetMX("sender.test", dnscheck.MX{Host: "mx.sender.test", Preference: 10})
	e.dns.SetAddr("mx.sender.test", "198.51.100.25")
	e.dns.SetAddr("host.sender.test", "192.0.2.1")
	e.dns.SetTXT("k._domainkey.sender.test", ed25519Record(ek))
	e.dns.SetTXT("_dmarc.sender.test", "v=DMARC1; p=reject")
	signed := sign(t, simple("alice@sender.test"), "sender.test", "k", ek)
	unknown := simple("bob@nobody.test") // no records at all: NXDOMAIN answers

	check := func(raw []byte, mailFrom, spf, dkim, dmarc string) {
		t.Helper()
		res, _ := e.check(t, raw, "192.0.2.1", "mx.sender.test", mailFrom)
		if res.SPF != spf || res.DKIM != dkim || res.DMARC != dmarc {
			t.Fatalf("spf=%s dkim=%s dmarc=%s, want %s %s %s", res.SPF, res.DKIM, res.DMARC, spf, dkim, dmarc)
		}
	}
	check(signed, "alice@sender.test", "pass", "pass", "pass")
	first := e.dns.Queries()
	// SPF: TXT, MX, A and AAAA of the MX host and of host.sender.test; the
	// DKIM key; the DMARC record.
	if first != 8 {
		t.Fatalf("%d queries for the first message, want 8", first)
	}
	check(unknown, "bob@nobody.test", "none", "none", "none")
	withNegative := e.dns.Queries()
	if withNegative <= first {
		t.Fatalf("no query for the unknown sender")
	}

	// Within the TTLs: no query at all, the same verdicts.
	advance(59 * time.Second)
	check(signed, "alice@sender.test", "pass", "pass", "pass")
	check(unknown, "bob@nobody.test", "none", "none", "none")
	if q := e.dns.Queries(); q != withNegative {
		t.Fatalf("%d queries within the TTL, want none", q-withNegative)
	}

	// After a minute the empty answers are asked again, not the records:
	// for the known sender, the AAAA of its two hosts (NODATA).
	advance(time.Second)
	check(signed, "alice@sender.test", "pass", "pass", "pass")
	if q := e.dns.Queries(); q != withNegative+2 {
		t.Fatalf("%d queries for the known sender after a minute, want 2 (AAAA)", q-withNegative)
	}
	check(unknown, "bob@nobody.test", "none", "none", "none")
	if q := e.dns.Queries(); q != 2*withNegative-first+2 {
		t.Fatalf("%d queries for the unknown sender after a minute, want %d", q-withNegative-2, withNegative-first)
	}

	// The sender changes its SPF record: still the cached one until its TTL
	// is over, then the new one.
	e.dns.SetTXT("sender.test", "v=spf1 -all")
	advance(239 * time.Second) // 299 s after the first lookup
	check(signed, "alice@sender.test", "pass", "pass", "pass")
	advance(time.Second)
	check(signed, "alice@sender.test", "fail", "pass", "pass")
	if hits := e.c.Cache.Hits(); hits == 0 {
		t.Fatal("no cache hits counted")
	}
}
