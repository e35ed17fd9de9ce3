package sendreq

import "github.com/godwit/godwit/internal/message"

// The functions below expose sendreq's rules to the other ways an email
// enters Godwit (SMTP submission, internal/submission), so that every entry
// point validates and counts the same way.

// ValidAddress is message.ValidAddress, the one address rule (new code
// calls that).
func ValidAddress(s string) bool { return message.ValidAddress(s) }

// OwnedHeader reports whether Godwit writes the header name itself, so that
// it may not be given as a custom header (any letter case).
func OwnedHeader(name string) bool {
	_, owned := message.Owned(name)
	return owned
}
