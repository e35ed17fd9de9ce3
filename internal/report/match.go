package report

import "strings"

// bouncePrefix starts the local part of every Godwit return path.
const bouncePrefix = "bounces+"

// uuidLen is the length of a UUID in its 8-4-4-4-12 text form.
const uuidLen = 36

// EmailIDFromAddress returns the email id named by a Godwit return-path
// address, bounces+<id>@<anything>: the id in canonical lower-case form, or
// "" when addr is not such an address or the id is not a UUID (any version,
// any case, 8-4-4-4-12 form only). Surrounding spaces and angle brackets are
// ignored, as is an address type ("rfc822;"); the "bounces+" prefix is
// case-insensitive. The domain is only checked to start like one: which
// domains are Godwit's is the caller's business.
func EmailIDFromAddress(addr string) string {
	a := untype(addr)
	if strings.HasPrefix(a, "<") && strings.HasSuffix(a, ">") {
		a = strings.TrimSpace(a[1 : len(a)-1])
	}
	if strings.ContainsAny(a, " \t\r\n<>") {
		return ""
	}
	at := strings.LastIndexByte(a, '@')
	if at < 0 || at == len(a)-1 || !isDomainChar(a[at+1]) {
		return ""
	}
	local := a[:at]
	if len(local) != len(bouncePrefix)+uuidLen || !strings.EqualFold(local[:len(bouncePrefix)], bouncePrefix) {
		return ""
	}
	return canonicalUUID(local[len(bouncePrefix):])
}

// findEmailID returns the id of the first return-path address in a header
// value of any shape ("rfc822; bounces+<id>@…", "Name <bounces+<id>@…>, …"),
// or "". The "bounces+" must start a local part, and the id be followed by
// "@" and a domain.
func findEmailID(v string) string {
	lower := asciiLower(v) // ASCII-only, so offsets stay the same
	for off := 0; off < len(v); {
		i := strings.Index(lower[off:], bouncePrefix)
		if i < 0 {
			return ""
		}
		i += off
		off = i + 1
		if i > 0 && isLocalPartChar(v[i-1]) {
			continue
		}
		idStart := i + len(bouncePrefix)
		at := idStart + uuidLen
		if at+1 >= len(v) || v[at] != '@' || !isDomainChar(v[at+1]) {
			continue
		}
		if id := canonicalUUID(v[idStart:at]); id != "" {
			return id
		}
	}
	return ""
}

// emailIDFromMessageID returns the id of a Message-ID of the form <uuid@domain>
// (the form Godwit gives its messages), or "".
func emailIDFromMessageID(v string) string {
	v = strings.TrimSpace(v)
	if strings.HasPrefix(v, "<") {
		end := strings.IndexByte(v, '>')
		if end < 0 {
			return ""
		}
		v = v[1:end]
	} else {
		v = firstWord(v)
	}
	at := strings.LastIndexByte(v, '@')
	if at != uuidLen || at == len(v)-1 {
		return ""
	}
	return canonicalUUID(v[:at])
}

// canonicalUUID returns s in lower case when it is a UUID in 8-4-4-4-12 form,
// else "".
func canonicalUUID(s string) string {
	if len(s) != uuidLen {
		return ""
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return ""
			}
		default:
			if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
				return ""
			}
		}
	}
	return asciiLower(s)
}

// isLocalPartChar reports whether c may appear in the local part of an
// address (RFC 5322 atext or "."): a "bounces+" preceded by one is inside a
// longer local part, not the start of ours.
func isLocalPartChar(c byte) bool {
	switch {
	case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		return true
	}
	return strings.IndexByte("!#$%&'*+-/=?^_`{|}~.", c) >= 0
}

func isDomainChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '[' || c >= 0x80
}
