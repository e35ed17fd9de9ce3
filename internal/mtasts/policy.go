// Package mtasts implements the sending side of SMTP MTA Strict Transport
// Security (RFC 8461): the `_mta-sts` TXT record, the policy file served at
// https://mta-sts.<domain>/.well-known/mta-sts.txt, and a per-domain cache
// of policies kept for their max_age.
//
// # What a sender does with a policy
//
//   - mode "enforce": deliver only to MX hosts the policy's mx patterns
//     match, over STARTTLS with a certificate valid for the MX host's name;
//     anything else is a temporary failure (never a plaintext fallback).
//   - mode "testing": deliver as without a policy, but report what would
//     have failed under "enforce".
//   - mode "none", or no policy: opportunistic TLS.
//
// The policy is fetched over HTTPS (certificate checked against the
// configured roots), without following redirects, through the address
// guard of the client given (internal/netguard), and only when the TXT
// record's id differs from the cached policy's or the cached policy has
// expired. When the TXT record or the fetch fails, an unexpired cached
// policy keeps applying (RFC 8461 §5.1).
package mtasts

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Mode is a policy's mode.
type Mode string

const (
	Enforce Mode = "enforce"
	Testing Mode = "testing"
	None    Mode = "none"
)

// MaxPolicySize bounds the policy file (RFC 8461 §3.2 sets no limit; a
// real policy is a few hundred bytes).
const MaxPolicySize = 64 << 10

// MaxMaxAge is the largest max_age honoured (RFC 8461 §3.2: up to 31557600
// seconds, about a year); larger values are clamped to it.
const MaxMaxAge = 31557600 * time.Second

// Policy is a parsed MTA-STS policy.
type Policy struct {
	Mode   Mode
	MX     []string      // patterns, lower-case, without a trailing dot: "mx.example.com", "*.example.net"
	MaxAge time.Duration // how long the policy may be cached
	ID     string        // the TXT record's id the policy was fetched under (set by the cache)
}

// Errors Parse returns, wrapped with the detail.
var (
	ErrVersion = errors.New("mta-sts: policy version is not STSv1")
	ErrSyntax  = errors.New("mta-sts: malformed policy")
)

// Parse parses a policy file (RFC 8461 §3.2): "key: value" lines separated
// by LF or CRLF, keys version (must be "STSv1", first), mode
// (enforce|testing|none), mx (repeatable; required unless mode is none) and
// max_age (seconds, required). Unknown keys are ignored, as the RFC says;
// a repeated key other than mx keeps its first value.
func Parse(b []byte) (*Policy, error) {
	if len(b) > MaxPolicySize {
		return nil, fmt.Errorf("%w: %d bytes, at most %d", ErrSyntax, len(b), MaxPolicySize)
	}
	p := &Policy{}
	seen := map[string]bool{}
	first := true
	for line := range strings.SplitSeq(string(b), "\n") {
		line = strings.TrimSuffix(line, "\r")
		if strings.TrimSpace(line) == "" {
			continue
		}
		key, value, ok := strings.Cut(line, ":")
		if !ok {
			return nil, fmt.Errorf("%w: line without ':': %.60q", ErrSyntax, line)
		}
		key = strings.TrimSpace(key)
		value = strings.TrimSpace(value)
		if key == "" {
			return nil, fmt.Errorf("%w: empty key", ErrSyntax)
		}
		if first {
			if key != "version" || value != "STSv1" {
				return nil, ErrVersion
			}
			first = false
			seen[key] = true
			continue
		}
		if key != "mx" && seen[key] {
			continue
		}
		seen[key] = true
		switch key {
		case "mode":
			switch m := Mode(value); m {
			case Enforce, Testing, None:
				p.Mode = m
			default:
				return nil, fmt.Errorf("%w: unknown mode %.40q", ErrSyntax, value)
			}
		case "max_age":
			if value == "" || strings.Trim(value, "0123456789") != "" || len(value) > 10 {
				return nil, fmt.Errorf("%w: max_age %.40q is not a number of seconds", ErrSyntax, value)
			}
			n, err := strconv.ParseInt(value, 10, 64)
			if err != nil {
				return nil, fmt.Errorf("%w: max_age %.40q: %v", ErrSyntax, value, err)
			}
			p.MaxAge = time.Duration(min(n, int64(MaxMaxAge/time.Second))) * time.Second
		case "mx":
			pat := strings.ToLower(strings.TrimSuffix(value, "."))
			if !validPattern(pat) {
				return nil, fmt.Errorf("%w: mx pattern %.80q", ErrSyntax, value)
			}
			p.MX = append(p.MX, pat)
		}
	}
	switch {
	case first:
		return nil, ErrVersion
	case p.Mode == "":
		return nil, fmt.Errorf("%w: no mode", ErrSyntax)
	case !seen["max_age"]:
		return nil, fmt.Errorf("%w: no max_age", ErrSyntax)
	case p.Mode != None && len(p.MX) == 0:
		return nil, fmt.Errorf("%w: no mx in mode %s", ErrSyntax, p.Mode)
	}
	return p, nil
}

// validPattern reports whether pat is a host name, optionally with "*." as
// its leftmost label (RFC 8461 §3.2 mx).
func validPattern(pat string) bool {
	pat = strings.TrimPrefix(pat, "*.")
	if pat == "" || len(pat) > 253 {
		return false
	}
	for label := range strings.SplitSeq(pat, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				return false
			}
		}
	}
	return true
}

// Match reports whether the MX host matches one of the policy's mx
// patterns (RFC 8461 §4.1): exactly, or "*.example.com" matching one label
// left of "example.com" ("mx.example.com", not "a.b.example.com" nor
// "example.com"). Case and a trailing dot are ignored.
func (p *Policy) Match(host string) bool {
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	for _, pat := range p.MX {
		if suffix, ok := strings.CutPrefix(pat, "*"); ok {
			label, rest, found := strings.Cut(host, ".")
			if found && label != "" && "."+rest == suffix {
				return true
			}
			continue
		}
		if host == pat {
			return true
		}
	}
	return false
}

// ParseTXT parses an `_mta-sts` TXT record (RFC 8461 §3.1): "v=STSv1" first,
// then ";"-separated fields of which id (1 to 32 letters and digits) is
// required; other fields are ignored. It returns the id.
func ParseTXT(s string) (string, error) {
	fields := strings.Split(s, ";")
	if strings.TrimSpace(fields[0]) != "v=STSv1" {
		return "", fmt.Errorf("%w: TXT record does not start with v=STSv1", ErrVersion)
	}
	for _, f := range fields[1:] {
		k, v, ok := strings.Cut(strings.TrimSpace(f), "=")
		if !ok || k != "id" {
			continue
		}
		if v == "" || len(v) > 32 || strings.Trim(v, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789") != "" {
			return "", fmt.Errorf("%w: TXT id %.40q", ErrSyntax, v)
		}
		return v, nil
	}
	return "", fmt.Errorf("%w: TXT record without id", ErrSyntax)
}
