package sendreq

import (
	"net/mail"
	"strings"
)

// maxAddrSpecLen is the longest addr-spec (local@domain) accepted.
const maxAddrSpecLen = 320

// validAddress reports whether s is `email@example.com` or
// `Name <email@example.com>`. The display name may hold any Unicode (or RFC
// 2047 encoded words); the addr-spec must be plain ASCII: a dot-atom local
// part and a dotted host name. s must already be trimmed and free of CR, LF
// and NUL.
func validAddress(s string) bool {
	if s == "" {
		return false
	}
	a, err := mail.ParseAddress(s)
	if err != nil {
		return false
	}
	// Only the two documented shapes: a bare addr-spec, or a display name
	// followed by the addr-spec in angle brackets. This refuses comments,
	// group syntax ("team: a@b.c;") and quoted local parts, which net/mail
	// accepts but which would not be written back out as given.
	if s != a.Address && !strings.HasSuffix(s, "<"+a.Address+">") {
		return false
	}
	return validAddrSpec(a.Address)
}

func validAddrSpec(spec string) bool {
	if len(spec) == 0 || len(spec) > maxAddrSpecLen {
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
		if label == "" || len(label) > 63 {
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
