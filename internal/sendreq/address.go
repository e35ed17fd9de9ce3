package sendreq

import (
	"net/mail"
	"strings"
)

// Length limits of an addr-spec, in octets: RFC 5321 section 4.5.3.1 (a
// local part of at most 64, a domain of at most 255, which DNS further
// bounds at 253 in text form) and RFC 1035 (a label of at most 63).
const (
	maxLocalPart = 64
	maxDomain    = 253
	maxLabel     = 63
	// maxAddrSpecLen is the longest addr-spec (local@domain) accepted.
	maxAddrSpecLen = maxLocalPart + 1 + maxDomain
)

// validAddress reports whether s is `email@example.com` or
// `Name <email@example.com>`. The display name may hold any Unicode (or RFC
// 2047 encoded words); the addr-spec must be plain ASCII: a dot-atom local
// part and a dotted host name. s must already be trimmed and free of CR, LF
// and NUL.
func validAddress(s string) bool {
	return addressProblem(s) == ""
}

// Problems addressProblem reports: the address's shape, or a length over
// the RFCs' limits (which get a message of their own).
const (
	problemFormat    = "format"
	problemLocalPart = "the local part of an address is longer than 64 octets"
	problemDomain    = "the domain of an address is longer than 253 octets"
	problemLabel     = "a label of an address's domain is longer than 63 octets"
)

// addressProblem is validAddress with the reason: "" for a valid address,
// problemFormat for one of the wrong shape, or one of the length problems.
func addressProblem(s string) string {
	if s == "" {
		return problemFormat
	}
	a, err := mail.ParseAddress(s)
	if err != nil {
		return problemFormat
	}
	// Only the two documented shapes: a bare addr-spec, or a display name
	// followed by the addr-spec in angle brackets. This refuses comments,
	// group syntax ("team: a@b.c;") and quoted local parts, which net/mail
	// accepts but which would not be written back out as given.
	if s != a.Address && !strings.HasSuffix(s, "<"+a.Address+">") {
		return problemFormat
	}
	return addrSpecProblem(a.Address)
}

func addrSpecProblem(spec string) string {
	if !validAddrSpec(spec) {
		return problemFormat
	}
	at := strings.LastIndexByte(spec, '@')
	local, domain := spec[:at], spec[at+1:]
	switch {
	case len(local) > maxLocalPart:
		return problemLocalPart
	case len(domain) > maxDomain:
		return problemDomain
	}
	for _, label := range strings.Split(domain, ".") {
		if len(label) > maxLabel {
			return problemLabel
		}
	}
	return ""
}

// validAddrSpec checks an addr-spec's shape: a dot-atom local part and a
// dotted host name (lengths are addrSpecProblem's).
func validAddrSpec(spec string) bool {
	if len(spec) == 0 || len(spec) > 2*maxAddrSpecLen {
		return false
	}
	at := strings.LastIndexByte(spec, '@')
	if at <= 0 || at == len(spec)-1 {
		return false
	}
	local, domain := spec[:at], spec[at+1:]
	// Local part: dot-atom (RFC 5322 atext and single inner dots). A quoted
	// local part that net/mail unquoted into something with spaces or
	// specials is refused: it would not survive being written back out.
	if local[0] == '.' || local[len(local)-1] == '.' || strings.Contains(local, "..") {
		return false
	}
	for i := 0; i < len(local); i++ {
		c := local[i]
		if c == '.' || isAtext(c) {
			continue
		}
		return false
	}
	// Domain: a host name with at least one dot; labels of letters, digits,
	// '-' and '_' (no IP literals, no IDN in U-label form).
	if !strings.Contains(domain, ".") {
		return false
	}
	for _, label := range strings.Split(domain, ".") {
		if label == "" {
			return false
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if isAlnum(c) || c == '-' || c == '_' {
				continue
			}
			return false
		}
	}
	return true
}

func isAlnum(c byte) bool {
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
}

// isAtext is RFC 5322 atext restricted to ASCII.
func isAtext(c byte) bool {
	if isAlnum(c) {
		return true
	}
	return strings.IndexByte("!#$%&'*+-/=?^_`{|}~", c) >= 0
}
