package doctor

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// RenewWarning is how close to its expiry a certificate is reported (WARN).
const RenewWarning = 14 * 24 * time.Hour

// CertOptions tune the certificate checks.
type CertOptions struct {
	// Names are the host names the certificate should cover (the
	// --public-url host, the EHLO name).
	Names []string
	Now   time.Time
	// Roots verify the chain; nil is the system's.
	Roots *x509.CertPool
}

// CertificateFiles checks --tls-cert/--tls-key: the pair loads (the key
// matches), the certificate is valid now and for more than RenewWarning,
// is trusted, and names each of opts.Names.
func CertificateFiles(certFile, keyFile string, opts CertOptions) Result {
	const check = "certificate"
	pair, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return fail(check, "give a --tls-cert (PEM, leaf first) and the --tls-key it was issued for",
			"%s with %s cannot be used: %v", certFile, keyFile, err)
	}
	chain, err := parseChain(pair.Certificate)
	if err != nil {
		return fail(check, "give a --tls-cert of PEM certificates, leaf first", "%s: %v", certFile, err)
	}
	return evaluate(check, certFile, chain, opts,
		"renew it and restart godwit (or let ACME do it: --acme-domain instead of --tls-cert/--tls-key)")
}

// ACME checks the certificates autocert keeps in cacheDir (serve's
// <data-dir>/acme) for each domain, and that the TLS-ALPN-01 challenge can
// reach httpAddr (it arrives on port 443).
func ACME(cacheDir string, acmeDomains []string, httpAddr string, opts CertOptions) []Result {
	const check = "certificate"
	var out []Result
	if _, port, err := net.SplitHostPort(httpAddr); err == nil && port != "443" {
		out = append(out, warn("acme", "listen on port 443 (--http-addr :443), or forward the public port 443 to --http-addr",
			"--acme-domain %s: the CA's TLS-ALPN-01 challenge arrives on port 443, but --http-addr is %s",
			strings.Join(acmeDomains, ","), httpAddr))
	} else {
		out = append(out, pass("acme", "certificates for %s from Let's Encrypt (TLS-ALPN-01 on port 443), cached in %s",
			strings.Join(acmeDomains, ", "), cacheDir))
	}
	for _, d := range acmeDomains {
		file := filepath.Join(cacheDir, d) // autocert.DirCache's key: the domain (ECDSA)
		data, err := os.ReadFile(file)
		if errors.Is(err, fs.ErrNotExist) {
			data, err = os.ReadFile(file + "+rsa")
		}
		switch {
		case errors.Is(err, fs.ErrNotExist):
			out = append(out, warn(check, fmt.Sprintf("the first HTTPS connection to %s obtains one: %s must resolve to this server and port 443 reach it", d, d),
				"no certificate for %s in the ACME cache yet", d))
			continue
		case err != nil:
			out = append(out, fail(check, "make the data directory readable by the user godwit runs as", "ACME cache %s: %v", file, err))
			continue
		}
		chain, err := pemChain(data)
		if err != nil {
			out = append(out, fail(check, fmt.Sprintf("delete %s: the next HTTPS connection obtains a new one", file), "%s: %v", file, err))
			continue
		}
		o := opts
		o.Names = []string{d}
		out = append(out, evaluate(check, file, chain, o,
			fmt.Sprintf("renewal is failing (it starts 30 days before expiry): check the log, that %s resolves here and port 443 is reachable", d)))
	}
	return out
}

// evaluate checks a chain, leaf first, from file.
func evaluate(check, file string, chain []*x509.Certificate, opts CertOptions, renewFix string) Result {
	leaf := chain[0]
	now := opts.Now
	if now.IsZero() {
		now = time.Now()
	}
	names := leaf.DNSNames
	for _, ip := range leaf.IPAddresses {
		names = append(names, ip.String())
	}
	if len(names) == 0 && leaf.Subject.CommonName != "" {
		names = []string{leaf.Subject.CommonName}
	}
	desc := fmt.Sprintf("%s for %s", file, strings.Join(names, ", "))
	left := leaf.NotAfter.Sub(now)
	until := leaf.NotAfter.UTC().Format("2006-01-02")
	switch {
	case now.After(leaf.NotAfter):
		return fail(check, renewFix, "%s expired on %s (%s ago)", desc, until, days(-left))
	case now.Before(leaf.NotBefore):
		return fail(check, "check this machine's clock, or use a certificate valid now",
			"%s is not valid before %s", desc, leaf.NotBefore.UTC().Format(time.RFC3339))
	}
	var problems, fixes []string
	status := Pass
	if left < RenewWarning {
		status = Warn
		problems = append(problems, fmt.Sprintf("expires in %s (%s)", days(left), until))
		fixes = append(fixes, renewFix)
	}
	var uncovered []string
	for _, n := range opts.Names {
		if notFQDN(n) == "" && !slices.Contains(uncovered, n) && leaf.VerifyHostname(n) != nil {
			uncovered = append(uncovered, n)
		}
	}
	if len(uncovered) > 0 {
		status = Warn
		problems = append(problems, "does not name "+strings.Join(uncovered, ", "))
		fixes = append(fixes, "get a certificate that also names "+strings.Join(uncovered, ", ")+" (or --acme-domain "+strings.Join(uncovered, ",")+")")
	}
	inter := x509.NewCertPool()
	for _, c := range chain[1:] {
		inter.AddCert(c)
	}
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: opts.Roots, Intermediates: inter, CurrentTime: now}); err != nil {
		status = Warn
		problems = append(problems, "not trusted: "+err.Error())
		fixes = append(fixes, "use a certificate from a public CA, with its intermediates in --tls-cert after the leaf")
	}
	if status == Pass {
		return pass(check, "%s valid until %s (%s left)", desc, until, days(left))
	}
	return Result{Status: status, Check: check, Found: desc + ": " + strings.Join(problems, "; "), Fix: strings.Join(fixes, "\n")}
}

// days writes a duration in days (or hours, under two days).
func days(d time.Duration) string {
	if d < 48*time.Hour {
		return fmt.Sprintf("%d hours", int(d.Hours()))
	}
	return fmt.Sprintf("%d days", int(d.Hours()/24))
}

func parseChain(ders [][]byte) ([]*x509.Certificate, error) {
	var chain []*x509.Certificate
	for _, der := range ders {
		c, err := x509.ParseCertificate(der)
		if err != nil {
			return nil, err
		}
		chain = append(chain, c)
	}
	if len(chain) == 0 {
		return nil, errors.New("no certificate")
	}
	return chain, nil
}

// pemChain parses the CERTIFICATE blocks of an autocert cache file (the
// private key, then the chain).
func pemChain(data []byte) ([]*x509.Certificate, error) {
	var ders [][]byte
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			break
		}
		if b.Type == "CERTIFICATE" {
			ders = append(ders, b.Bytes)
		}
	}
	return parseChain(ders)
}
