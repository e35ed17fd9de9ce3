package store

// TLSResultCount is one counter of TLS reporting (RFC 8460): the TLS
// sessions of one UTC day to one recipient domain's MX host under one
// policy, with one result.
type TLSResultCount struct {
	Domain       string // the policy domain: the recipient domain
	Day          string // UTC, "2006-01-02"
	PolicyType   string // "sts", "tlsa" or "no-policy-found"
	PolicyString string // the policy, one element per line ("" for no-policy-found)
	MXHost       string // "" when no host was involved (a policy fetch failed)
	ResultType   string // "success" or an RFC 8460 failure type
	Sessions     int64
}

// TLSReportMail is a TLS report to mail to one mailto: rua: the message,
// built and not yet signed (it is signed when it is sent, with the
// reporting domain's DKIM key of that moment).
type TLSReportMail struct {
	Domain   string // the policy domain the report is about
	Day      string // UTC, "2006-01-02"
	ReportID string
	To       string // the rua's address
	Message  []byte
}
