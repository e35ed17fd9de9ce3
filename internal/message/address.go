package message

import (
	"net/mail"
	"strings"
	"unicode/utf8"

	"github.com/godwit/godwit/internal/store"
)

// The one address type and the one set of limits on what is sent: the API
// (sendreq), SMTP submission, the accept path and delivery all use these.

// Limits of an email, as Resend counts them.
const (
	// MaxEmailBytes is Resend's 40 MB limit on an email's size, counted
	// with attachments base64-encoded (EmailSize).
	MaxEmailBytes = 40_000_000
	// MaxSubjectLen bounds the subject in characters (Resend documents no
	// limit; encoding a long non-ASCII subject as RFC 2047 words costs time
	// that grows faster than its length).
	MaxSubjectLen = 10_000
	// MaxRecipients is the most addresses To (and, in Godwit, Cc and Bcc
	// each) may hold, whichever way the email is sent.
	MaxRecipients = 50
	// MaxContentIDLen bounds an attachment's Content-ID (it must be shorter).
	MaxContentIDLen = 128
)

// EmailSize is an email's size as Resend counts it against the 40 MB limit:
// attachments base64-encoded, plus html, text, subject and header values.
func EmailSize(e *store.Email) int64 {
	var n int64
	for _, a := range e.Attachments {
		n += 4 * ((int64(len(a.Content)) + 2) / 3)
	}
	if e.HTML != nil {
		n += int64(len(*e.HTML))
	}
	if e.Text != nil {
		n += int64(len(*e.Text))
	}
	n += int64(len(e.Subject))
	for _, h := range e.Headers {
		n += int64(len(h.Value))
	}
	return n
}

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

// Address is one mailbox as Godwit accepts it: `email@example.com` or
// `Name <email@example.com>`.
type Address struct {
	Name   string // the display name, as written ("" without one)
	Spec   string // the addr-spec (local@domain), as written
	Local  string // the local part, lower case
	Domain string // the domain, lower case
}

// ParseAddress parses s (trimmed, free of CR, LF and NUL) as an address
// the API accepts; ok is false for anything else (AddressProblem says why).
func ParseAddress(s string) (Address, bool) {
	if AddressProblem(s) != "" {
		return Address{}, false
	}
	a, _ := mail.ParseAddress(s)
	at := strings.LastIndexByte(a.Address, '@')
	return Address{Name: a.Name, Spec: a.Address, Local: strings.ToLower(a.Address[:at]),
		Domain: strings.ToLower(a.Address[at+1:])}, true
}

// ValidAddress reports whether s is `email@example.com` or
// `Name <email@example.com>`. The display name may hold any Unicode (or RFC
// 2047 encoded words); the addr-spec must be plain ASCII: a dot-atom local
// part and a dotted host name. s must already be trimmed and free of CR, LF
// and NUL.
func ValidAddress(s string) bool {
	return AddressProblem(s) == ""
}

// Problems AddressProblem reports: the address's shape, or a length over
// the RFCs' limits (which get a message of their own).
const (
	ProblemFormat    = "format"
	ProblemLocalPart = "the local part of an address is longer than 64 octets"
	ProblemDomain    = "the domain of an address is longer than 253 octets"
	ProblemLabel     = "a label of an address's domain is longer than 63 octets"
)

// AddressProblem is ValidAddress with the reason: "" for a valid address,
// ProblemFormat for one of the wrong shape, or one of the length problems.
func AddressProblem(s string) string {
	if s == "" {
		return ProblemFormat
	}
	a, err := mail.ParseAddress(s)
	if err != nil {
		return ProblemFormat
	}
	// Only the two documented shapes: a bare addr-spec, or a display name
	// followed by the addr-spec in angle brackets. This refuses comments,
	// group syntax ("team: a@b.c;") and quoted local parts, which net/mail
	// accepts but which would not be written back out as given.
	if s != a.Address && !strings.HasSuffix(s, "<"+a.Address+">") {
		return ProblemFormat
	}
	return addrSpecProblem(a.Address)
}

func addrSpecProblem(spec string) string {
	if !validAddrSpec(spec) {
		return ProblemFormat
	}
	at := strings.LastIndexByte(spec, '@')
	local, domain := spec[:at], spec[at+1:]
	switch {
	case len(local) > maxLocalPart:
		return ProblemLocalPart
	case len(domain) > maxDomain:
		return ProblemDomain
	}
	for _, label := range strings.Split(domain, ".") {
		if len(label) > maxLabel {
			return ProblemLabel
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

// DomainOf returns the lower-case domain of an address written as "a@b" or
// "Name <a@b>", for addresses already accepted (stored emails); "" when it
// has none. New code parses with ParseAddress instead.
func DomainOf(addr string) string {
	if i := strings.LastIndexByte(addr, '<'); i >= 0 {
		addr = strings.TrimSuffix(strings.TrimSpace(addr[i+1:]), ">")
	}
	at := strings.LastIndexByte(addr, '@')
	if at < 0 {
		return ""
	}
	return strings.ToLower(strings.TrimSpace(addr[at+1:]))
}

// Excerpt renders caller input for an error message: control characters
// and invalid UTF-8 become '?', and a value longer than 64 characters is cut
// with an ellipsis.
func Excerpt(s string) string {
	const max = 64
	var b strings.Builder
	n := 0
	for _, r := range s {
		if n == max {
			b.WriteString("…")
			break
		}
		if r < 0x20 || r == 0x7f || r == utf8.RuneError {
			r = '?'
		}
		b.WriteRune(r)
		n++
	}
	return b.String()
}
