package mailauth

import (
	"bytes"
	"io"
	"mime"
	"net/mail"
	"strconv"
	"strings"

	"golang.org/x/net/idna"
	"golang.org/x/net/publicsuffix"
)

// field is one header field, unfolded (the line breaks of continuation
// lines removed, their leading white space kept).
type field struct {
	name  string // trimmed, as written
	value string // trimmed
}

// headerFields returns the header fields of raw, up to the first empty line
// (or the end), the way go-msgauth's DKIM verifier splits them: lines end
// at LF with an optional CR before it, a line starting with a space or tab
// continues the previous field, and the name is what comes before the first
// colon. The i-th DKIM-Signature field here is the i-th signature dkim
// verifies.
func headerFields(raw []byte) []field {
	var fields []field
	var cur []byte
	flush := func() {
		if cur == nil {
			return
		}
		name, value, _ := strings.Cut(string(cur), ":")
		fields = append(fields, field{name: strings.TrimSpace(name), value: strings.TrimSpace(value)})
		cur = nil
	}
	for len(raw) > 0 {
		line := raw
		if i := bytes.IndexByte(raw, '\n'); i >= 0 {
			line, raw = raw[:i], raw[i+1:]
		} else {
			raw = nil
		}
		line = bytes.TrimSuffix(line, []byte("\r"))
		if len(line) == 0 {
			break
		}
		if cur != nil && (line[0] == ' ' || line[0] == '\t') {
			cur = append(cur, line...)
			continue
		}
		flush()
		cur = append([]byte{}, line...)
	}
	flush()
	return fields
}

// tagList parses a DKIM-style tag=value list; values have their white space
// removed. Malformed parts are skipped.
func tagList(s string) map[string]string {
	tags := map[string]string{}
	for part := range strings.SplitSeq(s, ";") {
		k, v, ok := strings.Cut(part, "=")
		if !ok {
			continue
		}
		k = strings.TrimSpace(k)
		if _, dup := tags[k]; dup {
			continue
		}
		tags[k] = strings.Join(strings.Fields(v), "")
	}
	return tags
}

// author is the RFC 5322.From domain, or why there is none.
type author struct {
	domain string // normalized (lower-case, A-labels, no trailing dot)
	err    string // non-empty: DMARC cannot be applied (permerror)
}

var addressParser = mail.AddressParser{WordDecoder: &mime.WordDecoder{
	// Display names do not matter here: accept any charset as is.
	CharsetReader: func(_ string, input io.Reader) (io.Reader, error) { return input, nil },
}}

// fromDomain finds the one author domain of the message (RFC 7489 §6.6.1).
func fromDomain(fields []field) author {
	var from []string
	for _, f := range fields {
		if strings.EqualFold(f.name, "From") {
			from = append(from, f.value)
		}
	}
	switch len(from) {
	case 0:
		return author{err: "no From field"}
	case 1:
	default:
		return author{err: strconv.Itoa(len(from)) + " From fields"}
	}
	addrs := fromAddresses(from[0])
	if len(addrs) == 0 {
		return author{err: "From has no address that parses"}
	}
	var domain string
	for _, a := range addrs {
		at := strings.LastIndexByte(a, '@')
		if at < 0 {
			return author{err: "From address without a domain"}
		}
		d := normalizeDomain(a[at+1:])
		if !validDomain(d) {
			return author{err: "From domain is not a domain name"}
		}
		if domain != "" && d != domain {
			return author{err: "From addresses in different domains"}
		}
		domain = d
	}
	return author{domain: domain}
}

// fromAddresses returns the addr-specs of a From value. When the list does
// not parse (display names with stray dots or unbalanced quotes are common),
// it falls back to the last <…> of the value, or the value itself.
func fromAddresses(v string) []string {
	if list, err := addressParser.ParseList(v); err == nil {
		out := make([]string, len(list))
		for i, a := range list {
			out[i] = a.Address
		}
		return out
	}
	spec := v
	if i := strings.LastIndexByte(v, '<'); i >= 0 {
		if j := strings.IndexByte(v[i:], '>'); j > 0 {
			spec = v[i+1 : i+j]
		}
	}
	a, err := mail.ParseAddress("<" + strings.TrimSpace(spec) + ">")
	if err != nil {
		return nil
	}
	return []string{a.Address}
}

// normalizeDomain lower-cases d, drops a trailing dot and turns U-labels
// into A-labels when it can.
func normalizeDomain(d string) string {
	d = strings.ToLower(strings.TrimSuffix(strings.TrimSpace(d), "."))
	if a, err := idna.Lookup.ToASCII(d); err == nil {
		d = a
	}
	return d
}

// validDomain reports whether d is a multi-label domain name: labels of 1 to
// 63 letters, digits, hyphens or underscores, 253 bytes at most.
func validDomain(d string) bool {
	if len(d) == 0 || len(d) > 253 {
		return false
	}
	labels := strings.Split(d, ".")
	if len(labels) < 2 {
		return false
	}
	for _, l := range labels {
		if len(l) == 0 || len(l) > 63 {
			return false
		}
		for i := 0; i < len(l); i++ {
			c := l[i]
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				return false
			}
		}
	}
	return true
}

// orgDomain is the organizational domain of d (RFC 7489 §3.2): the public
// suffix plus one label, or d itself when it is a suffix or has no known one.
func orgDomain(d string) string {
	org, err := publicsuffix.EffectiveTLDPlusOne(d)
	if err != nil {
		return d
	}
	return org
}

// aligned reports whether domain aligns with the author domain from:
// strict is equality, relaxed is the same organizational domain.
func aligned(domain, from string, strict bool) bool {
	domain = normalizeDomain(domain)
	if domain == "" || from == "" {
		return false
	}
	if strict {
		return domain == from
	}
	return orgDomain(domain) == orgDomain(from)
}

// trimAddr strips white space and the angle brackets of a MAIL FROM path.
func trimAddr(s string) string {
	s = strings.TrimSpace(s)
	s = strings.TrimPrefix(s, "<")
	s = strings.TrimSuffix(s, ">")
	return strings.TrimSpace(s)
}

// arcDetails reports the ARC fields of the message, without validating them.
func arcDetails(fields []field) ARCDetails {
	d := ARCDetails{Result: None}
	present := false
	for _, f := range fields {
		switch {
		case strings.EqualFold(f.name, "ARC-Seal"):
			present = true
			d.Sets++
			tags := tagList(f.value)
			i, err := strconv.Atoi(tags["i"])
			if err != nil || i < 1 {
				continue
			}
			if i > d.NewestInstance {
				d.NewestInstance = i
				d.NewestCV = strings.ToLower(tags["cv"])
				if len(d.NewestCV) > 16 {
					d.NewestCV = d.NewestCV[:16]
				}
			}
		case strings.EqualFold(f.name, "ARC-Message-Signature"), strings.EqualFold(f.name, "ARC-Authentication-Results"):
			present = true
		}
	}
	if present {
		d.Result = Present
	}
	return d
}
