package sendreq

import (
	"github.com/godwit/godwit/internal/message"
	"github.com/godwit/godwit/internal/store"
)

// The functions below expose sendreq's rules to the other ways an email
// enters Godwit (SMTP submission, internal/submission), so that every entry
// point validates and counts the same way.

// ValidAddress reports whether s (trimmed, free of CR, LF and NUL) is an
// address the API accepts: `email@example.com` or `Name <email@example.com>`.
func ValidAddress(s string) bool { return validAddress(s) }

// EmailSize is an email's size as Resend counts it against the 40 MB limit:
// attachments base64-encoded, plus html, text, subject and header values.
func EmailSize(e *store.Email) int64 { return emailSize(e) }

// OwnedHeader reports whether Godwit writes the header name itself, so that
// it may not be given as a custom header (any letter case).
func OwnedHeader(name string) bool {
	_, owned := message.Owned(name)
	return owned
}
