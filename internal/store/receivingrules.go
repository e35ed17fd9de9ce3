package store

import "time"

// The actions of a receiving rule (docs/receiving.md, "Routing rules").
const (
	// RuleStore stores the message and announces it (email.received): what
	// happens to mail no rule names.
	RuleStore = "store"
	// RuleForward stores the message and forwards it, wrapped as an
	// attachment, from ForwardFrom to ForwardTo through the accept path.
	RuleForward = "forward"
	// RuleDrop accepts the message at SMTP and discards it.
	RuleDrop = "drop"
	// RuleReject refuses the recipient at RCPT (550 5.1.1).
	RuleReject = "reject"
)

// RuleMatchAll is the Match of a domain's rule for every address that has
// no rule of its own.
const RuleMatchAll = "*"

// ReceivingRule says what the MX does with mail for one address of a
// receiving domain, or for all of them (Match RuleMatchAll).
type ReceivingRule struct {
	ID       string
	TeamID   string
	DomainID string
	// Match is a local part in lower case, or RuleMatchAll.
	Match  string
	Action string
	// ForwardTo and ForwardFrom are the forward's recipient and sender
	// (RuleForward only; "" otherwise).
	ForwardTo   string
	ForwardFrom string
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

// ReceivingSettings are a receiving domain's settings.
type ReceivingSettings struct {
	TeamID   string
	DomainID string
	// CatchAll accepts every address of the domain (the default); without
	// it only the addresses a rule names are accepted.
	CatchAll  bool
	UpdatedAt time.Time // zero while the defaults hold
}

// ReceivingRoute is what applies to one address of a domain: the
// domain's catch-all setting and the rule that matches the address (its
// own, else the domain's RuleMatchAll rule; nil for none).
type ReceivingRoute struct {
	CatchAll bool
	Rule     *ReceivingRule
}
