package dnscheck

// Test-only access to unexported helpers (the tests live in package
// dnscheck_test because they use dnstest, which imports dnscheck).
var (
	MatchTXT      = matchTXT
	DefaultServer = defaultServer
	NormalizeTXT  = normalizeTXT
)
