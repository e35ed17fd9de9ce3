// Package doctor holds the checks of `godwit doctor`: each looks at one
// thing a production mail server needs from the outside world (its names
// in DNS, reverse DNS, outbound port 25, its domains' records, its
// certificate) and returns a Result that says what it found and, when that
// is wrong, how to fix it. The checks only read: they send no mail and
// change nothing. The command (internal/app) gathers them and prints one
// line per Result.
package doctor

import (
	"fmt"
	"io"
	"net/netip"
	"strings"

	"github.com/godwit/godwit/internal/config"
)

// Status is a check's outcome.
type Status string

const (
	Pass Status = "PASS"
	Warn Status = "WARN" // works, but something deserves a look
	Fail Status = "FAIL" // mail will not go out (or arrive) as it should
)

// Result is what one check found.
type Result struct {
	Status Status
	Check  string // short name: "hostname", "reverse-dns", "port-25", …
	Found  string // what was found, one line
	Fix    string // for WARN and FAIL: what to do (several lines allowed)
}

func pass(check, format string, args ...any) Result {
	return Result{Status: Pass, Check: check, Found: fmt.Sprintf(format, args...)}
}

func warn(check, fix, format string, args ...any) Result {
	return Result{Status: Warn, Check: check, Found: fmt.Sprintf(format, args...), Fix: fix}
}

func fail(check, fix, format string, args ...any) Result {
	return Result{Status: Fail, Check: check, Found: fmt.Sprintf(format, args...), Fix: fix}
}

// checkWidth aligns the found text of the printed lines.
const checkWidth = 12

// Print writes results one a line, `STATUS  check  found`, each line of a
// WARN's or FAIL's fix below it, indented.
func Print(w io.Writer, results []Result) error {
	for _, r := range results {
		if _, err := fmt.Fprintf(w, "%-4s  %-*s  %s\n", r.Status, checkWidth, r.Check, oneLine(r.Found)); err != nil {
			return err
		}
		if r.Status == Pass || r.Fix == "" {
			continue
		}
		for i, line := range strings.Split(r.Fix, "\n") {
			lead := "      fix: "
			if i > 0 {
				lead = "           "
			}
			if _, err := fmt.Fprintf(w, "%s%s\n", lead, oneLine(line)); err != nil {
				return err
			}
		}
	}
	return nil
}

// Count counts results by status.
func Count(results []Result) (passed, warned, failed int) {
	for _, r := range results {
		switch r.Status {
		case Pass:
			passed++
		case Warn:
			warned++
		case Fail:
			failed++
		}
	}
	return passed, warned, failed
}

// oneLine keeps text from outside (DNS answers, SMTP greetings) on one
// terminal line: control characters become spaces.
func oneLine(s string) string {
	return strings.Map(func(r rune) rune {
		if r < ' ' || r == 0x7f {
			return ' '
		}
		return r
	}, s)
}

// reservedSuffixes are names that never resolve on the public internet
// (RFC 2606, RFC 6761, RFC 8375, common private conventions).
var reservedSuffixes = []string{"localhost", "local", "localdomain", "internal", "lan", "home.arpa", "test", "example", "invalid"}

// notFQDN says why name cannot be a public mail server's name ("" when it
// can): config.IsFQDN's rule (what serve refuses off loopback), and not
// under a suffix reserved for tests or private use either.
func notFQDN(name string) string {
	name = strings.TrimSuffix(strings.TrimSpace(name), ".")
	switch {
	case name == "":
		return "it is empty"
	case isIP(strings.Trim(name, "[]")):
		return "it is an IP address, not a name"
	case !strings.Contains(name, "."):
		return "it is not a fully qualified domain name (no dot: a machine's short name)"
	}
	lower := strings.ToLower(name)
	for _, s := range reservedSuffixes {
		if lower == s || strings.HasSuffix(lower, "."+s) {
			return fmt.Sprintf("names under .%s do not resolve on the internet", s)
		}
	}
	if !config.IsFQDN(name) {
		return "it is not a valid host name (letters, digits and hyphens in each label)"
	}
	return ""
}

func isIP(s string) bool {
	_, err := netip.ParseAddr(s)
	return err == nil
}

func joinAddrs(ips []netip.Addr) string {
	s := make([]string, len(ips))
	for i, ip := range ips {
		s[i] = ip.String()
	}
	return strings.Join(s, ", ")
}
