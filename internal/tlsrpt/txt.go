// Package tlsrpt implements the sending side of SMTP TLS Reporting
// (RFC 8460): outbound TLS sessions are counted per recipient domain, UTC
// day, policy, MX host and result (Recorder, kept in the database as small
// counters, never a row per attempt); once a day, on one node, the
// previous day's counts of each domain that publishes a `_smtp._tls` TXT
// record (v=TLSRPTv1; rua=…) are turned into the JSON report of §4,
// gzipped, and sent to each rua: https: by POST through the address guard,
// mailto: as a multipart/report message (§5.3). A report is claimed in the
// database before it is sent, so it goes at most once per domain and day,
// whatever restarts or nodes. The mailto: messages are enqueued as queue
// jobs in the claim's transaction and sent by Mailer, DKIM-signed by the
// reporting domain and retried on a temporary failure.
package tlsrpt

import (
	"errors"
	"fmt"
	"net/mail"
	"net/url"
	"strings"
)

// MaxTXTSize bounds the record parsed (a real one is under 200 bytes).
const MaxTXTSize = 4096

// ErrNotTLSRPT is a TXT record that is no TLSRPTv1 record (skipped).
var ErrNotTLSRPT = errors.New("tlsrpt: not a v=TLSRPTv1 record")

// Record is a parsed `_smtp._tls` TXT record (RFC 8460 §3).
type Record struct {
	RUA []*url.URL // mailto: and https: URIs, in order
}

// ParseTXT parses a TLSRPT record: "v=TLSRPTv1; rua=mailto:a@b,https://c/d".
// v must come first; rua is required and holds one or more comma-separated
// URIs (mailto: with an address, https: with a host; other schemes are
// skipped, as a record of only unknown schemes is an error); fields are
// separated by ";", blanks around them ignored; unknown fields are ignored.
func ParseTXT(txt string) (*Record, error) {
	if len(txt) > MaxTXTSize {
		return nil, fmt.Errorf("tlsrpt: record of %d bytes, at most %d", len(txt), MaxTXTSize)
	}
	fields := strings.Split(txt, ";")
	k, v, ok := strings.Cut(strings.TrimSpace(fields[0]), "=")
	if !ok || strings.TrimSpace(k) != "v" || strings.TrimSpace(v) != "TLSRPTv1" {
		return nil, ErrNotTLSRPT
	}
	r := &Record{}
	seen := false
	for _, f := range fields[1:] {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		k, v, ok := strings.Cut(f, "=")
		if !ok {
			return nil, fmt.Errorf("tlsrpt: malformed field %q", f)
		}
		if strings.TrimSpace(k) != "rua" || seen {
			continue
		}
		seen = true
		for _, raw := range strings.Split(v, ",") {
			raw = strings.TrimSpace(raw)
			u, err := url.Parse(raw)
			if err != nil {
				return nil, fmt.Errorf("tlsrpt: rua %q: %w", raw, err)
			}
			switch strings.ToLower(u.Scheme) {
			case "mailto":
				u.Scheme = "mailto"
				addr, err := url.PathUnescape(u.Opaque)
				if err != nil {
					return nil, fmt.Errorf("tlsrpt: rua %q: %w", raw, err)
				}
				if _, err := mail.ParseAddress(addr); err != nil || strings.ContainsAny(addr, "<>\r\n") {
					return nil, fmt.Errorf("tlsrpt: rua %q: not an address", raw)
				}
				u.Opaque = addr
			case "https":
				u.Scheme = "https"
				if u.Host == "" {
					return nil, fmt.Errorf("tlsrpt: rua %q: no host", raw)
				}
			default:
				continue
			}
			r.RUA = append(r.RUA, u)
		}
	}
	if len(r.RUA) == 0 {
		return nil, errors.New("tlsrpt: record has no usable rua (mailto: or https:)")
	}
	return r, nil
}
