package sendreq

import "github.com/godwit/godwit/internal/message"

// Addresses are internal/message's (the one address type); these names
// keep sendreq's own code short.
func validAddress(s string) bool { return message.ValidAddress(s) }

const (
	problemFormat = message.ProblemFormat
)

func addressProblem(s string) string { return message.AddressProblem(s) }

func isAlnum(c byte) bool {
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
}
