// Package bounce classifies a receiving server's refusal into Resend's bounce
// vocabulary (Amazon SES's: a type and a subType) and decides whether the
// address itself is bad, which is what puts it on the suppression list.
//
// # Vocabulary
//
//	Permanent     General, NoEmail, Suppressed, OnAccountSuppressionList
//	Transient     General, MailboxFull, MessageTooLarge, ContentRejected, AttachmentRejected
//	Undetermined  Undetermined
//
// A subType implies its type: MailboxFull is Transient even when the server
// answered 552, as Resend's documentation says ("you might be able to send
// to the same recipient in the future"). Suppressed and
// OnAccountSuppressionList are never the result of a reply; Godwit uses
// them for addresses it did not send to.
//
// # Rules, in order
//
//  1. The class: the reply code's first digit when there is a reply code
//     (it is what the sender acts on: 4xx is retried, 5xx is not), else the
//     enhanced status code's. No class (no reply, no code): Undetermined.
//  2. A specific RFC 3463 enhanced status code (subject and detail, e.g.
//     5.1.1, 5.2.2, 5.3.4, 5.7.26) decides.
//  3. Otherwise (no enhanced code, or a catch-all one such as 5.0.0, 5.5.0,
//     5.7.1, 5.4.1), the reply text is matched against the known texts of
//     the large providers (texts, in order: policy and reputation first, so
//     that "blocked using Spamhaus … unsolicited" is a block, not content).
//  4. Otherwise the enhanced code's subject (5.6.x: content), else the class
//     alone: 5 → Permanent/General, 4 → Transient/General.
//
// A class-4 reply is Transient whatever the rule says, and never a
// recipient failure: "450 4.1.1 unverified address" may pass tomorrow.
//
// # Suppression
//
// Only a permanent recipient failure suppresses (Class.Suppress): the
// address does not exist, its mailbox is disabled, its domain accepts no
// mail. A refusal for the sender's reputation, a blocklist, DMARC, the
// content or its size bounces the email and leaves the address alone.
package bounce

import (
	"strconv"
	"strings"
)

// Type is Resend's bounce type.
type Type string

// Bounce types.
const (
	Permanent    Type = "Permanent"
	Transient    Type = "Transient"
	Undetermined Type = "Undetermined"
)

// SubType is Resend's bounce subType.
type SubType string

// Bounce subTypes (Resend's, after Amazon SES's).
const (
	General                  SubType = "General"
	NoEmail                  SubType = "NoEmail"
	Suppressed               SubType = "Suppressed"
	OnAccountSuppressionList SubType = "OnAccountSuppressionList"
	MailboxFull              SubType = "MailboxFull"
	MessageTooLarge          SubType = "MessageTooLarge"
	ContentRejected          SubType = "ContentRejected"
	AttachmentRejected       SubType = "AttachmentRejected"
	UndeterminedSub          SubType = "Undetermined"
)

// typeOf lists each subType's type.
var typeOf = map[SubType]Type{
	General: Permanent, NoEmail: Permanent, Suppressed: Permanent, OnAccountSuppressionList: Permanent,
	MailboxFull: Transient, MessageTooLarge: Transient, ContentRejected: Transient, AttachmentRejected: Transient,
	UndeterminedSub: Undetermined,
}

// Valid reports whether sub is a subType of t.
func Valid(t Type, sub SubType) bool {
	if t == Transient && sub == General {
		return true
	}
	tt, ok := typeOf[sub]
	return ok && tt == t
}

// Class is the classification of one refusal.
type Class struct {
	Type    Type
	SubType SubType
	// RecipientFailure: the address itself is bad (unknown user, disabled
	// mailbox, a domain that takes no mail), as opposed to the sender's
	// reputation or authentication, the content, the size, or the
	// receiving system.
	RecipientFailure bool
}

// Suppress reports whether the address should go on the suppression list:
// a permanent recipient failure.
func (c Class) Suppress() bool { return c.Type == Permanent && c.RecipientFailure }

// rule is what a code or a text says about a refusal; its type follows
// from the subType and the class.
type rule struct {
	sub       SubType
	recipient bool
}

var (
	noEmail     = rule{NoEmail, true}
	badAddress  = rule{General, true} // the address cannot work, without a subType of its own
	general     = rule{sub: General}
	mailboxFull = rule{sub: MailboxFull}
	tooLarge    = rule{sub: MessageTooLarge}
	content     = rule{sub: ContentRejected}
	attachment  = rule{sub: AttachmentRejected}
)

// byCode maps specific enhanced status codes (subject.detail; RFC 3463 and
// the IANA registry) to their rule. A code missing here is a catch-all: the
// text decides.
var byCode = map[string]rule{
	"1.1":  noEmail,    // bad destination mailbox address
	"1.2":  noEmail,    // bad destination system address
	"1.3":  noEmail,    // bad destination mailbox address syntax
	"1.4":  badAddress, // destination mailbox address ambiguous
	"1.6":  noEmail,    // destination mailbox has moved, no forwarding address
	"1.7":  general,    // bad sender's mailbox address syntax
	"1.8":  general,    // bad sender's system address
	"1.9":  general,    // message relayed to non-compliant mailer
	"1.10": noEmail,    // recipient address has null MX (RFC 7505)
	"2.1":  noEmail,    // mailbox disabled, not accepting messages
	"2.2":  mailboxFull,
	"2.3":  tooLarge, // message length exceeds administrative limit
	"2.4":  general,  // mailing list expansion problem
	"3.1":  general,  // mail system full
	"3.2":  general,  // system not accepting network messages
	"3.3":  general,  // system not capable of selected features
	"3.4":  tooLarge, // message too big for system
	"3.5":  general,  // system incorrectly configured
	"4.2":  general,  // bad connection
	"4.3":  general,  // directory server failure
	"4.4":  general,  // unable to route
	"4.5":  general,  // mail system congestion
	"4.6":  general,  // routing loop detected
	"4.7":  general,  // delivery time expired
	"5.1":  general, "5.2": general, "5.3": general, "5.4": general, "5.5": general, "5.6": general,
	"6.1":  content, // media not supported
	"6.2":  content, // conversion required and prohibited
	"6.3":  content, // conversion required but not supported
	"6.5":  content, // conversion failed
	"7.2":  general, // mailing list expansion prohibited
	"7.3":  general, // security conversion required but not possible
	"7.4":  general, // security features not supported
	"7.5":  general, // cryptographic failure
	"7.6":  general, // cryptographic algorithm not supported
	"7.7":  general, // message integrity failure
	"7.8":  general, // authentication credentials invalid
	"7.9":  general, // authentication mechanism is too weak
	"7.10": general, // encryption needed
	"7.11": general, // encryption required for requested authentication mechanism
	"7.13": general, // user account disabled (the SMTP AUTH user: the sender)
	"7.14": general, // trust relationship required
	"7.15": general, // priority level is unacceptable
	"7.16": tooLarge,
	"7.17": noEmail, // mailbox owner has changed (RFC 7293)
	"7.18": noEmail, // domain owner has changed (RFC 7293)
	"7.19": general, // RRVS test cannot be completed
	"7.20": general, // no passing DKIM signature found
	"7.21": general, // no acceptable DKIM signature found
	"7.22": general, // no valid author-matched DKIM signature found
	"7.23": general, // SPF validation failed
	"7.24": general, // SPF validation error
	"7.25": general, // reverse DNS validation failed
	"7.26": general, // multiple authentication checks failed (DMARC)
	"7.27": general, // sender address has null MX
	"7.28": general, // mail flood detected
	"7.29": general, // ARC validation failure
	"7.30": general, // REQUIRETLS support required
}

// bySubject is the rule of a catch-all code whose text said nothing known.
var bySubject = map[byte]rule{'6': content}

// text is one known reply text: a lower-case substring and its rule.
type text struct {
	sub  string
	rule rule
}

// texts are the known reply texts, in the order they are tried: the first
// that the normalized, lower-cased reply contains wins. Blocks for the
// sender's reputation or authentication come first (their replies often
// also say "spam" or "rejected"); then the few texts that name a recipient
// problem in words a block also uses; then attachments, size, quota,
// content; the plain "no such user" texts last.
var texts = []text{
	// Microsoft's directory-based edge blocking: the tenant has no such
	// recipient ("550 5.4.1 Recipient address rejected: Access denied").
	{"recipient address rejected: access denied", noEmail},
	// Lotus Domino: "User not listed in public Name & Address Book".
	{"not listed in", noEmail},

	// The sender's IP or domain: blocklists, reputation, authentication,
	// rate. The address is fine.
	{"spamhaus", general},
	{"blocked using", general},
	{"blocklist", general},
	{"block list", general},
	{"blacklist", general},
	{"black list", general},
	{"dnsbl", general},
	{"listed at", general},
	{"listed by", general},
	{"barracuda", general},
	{"spamcop", general},
	{"sorbs", general},
	{"reputation", general},
	{"dmarc", general},
	{"spf", general},
	{"dkim", general},
	{"unauthenticated", general},
	{"not authenticated", general},
	{"authentication", general},
	{"reverse dns", general},
	{"ptr record", general},
	{"client host rejected", general},
	{"sender address rejected", general},
	{"sender rejected", general},
	{"sender denied", general},
	{"relay access denied", general},
	{"relaying denied", general},
	{"relay not permitted", general},
	{"not permitted to relay", general},
	{"unable to relay", general},
	{"too many", general},
	{"rate limit", general},
	{"rate that prevents", general},
	{"try again later", general},
	{"greylist", general},
	{"temporarily deferred", general},
	{"[ts0", general}, // Yahoo's deferral codes ([TS01]…[TS03])
	{"[bl2", general}, // Yahoo's blocklist codes ([BL21]…[BL23])

	// Attachments, before content: "content and attachment guidelines".
	{"attachment", attachment},
	{"file type", attachment},
	{"executable", attachment},

	// Size.
	{"message size exceeds", tooLarge},
	{"size exceeds", tooLarge},
	{"exceeds size limit", tooLarge},
	{"size limit", tooLarge},
	{"message too large", tooLarge},
	{"message too big", tooLarge},
	{"message is too large", tooLarge},
	{"too large", tooLarge},
	{"exceeds the maximum", tooLarge},
	{"message length exceeds", tooLarge},

	// A full mailbox (the system's own storage is general).
	{"insufficient system storage", general},
	{"over quota", mailboxFull},
	{"overquota", mailboxFull},
	{"quotaexceeded", mailboxFull}, // Exchange: QuotaExceededException
	{"quota exceeded", mailboxFull},
	{"exceeded quota", mailboxFull},
	{"exceeds quota", mailboxFull},
	{"exceeded their quota", mailboxFull},
	{"exceeded its quota", mailboxFull},
	{"mailbox full", mailboxFull},
	{"mailbox is full", mailboxFull},
	{"inbox is full", mailboxFull},
	{"mailbox has exceeded", mailboxFull},
	{"storage allocation", mailboxFull},
	{"out of storage", mailboxFull},
	{"insufficient storage", mailboxFull},
	{"not enough storage", mailboxFull},

	// Content.
	{"spam", content},
	{"unsolicited", content},
	{"junk", content},
	{"virus", content},
	{"malware", content},
	{"phishing", content},
	{"message content", content},
	{"content rejected", content},
	{"content presents", content},
	{"content filter", content},
	{"suspicious", content},

	// The address.
	{"does not exist", noEmail},
	{"doesn't exist", noEmail},
	{"no such user", noEmail},
	{"no such recipient", noEmail},
	{"no such mailbox", noEmail},
	{"no such address", noEmail},
	{"user unknown", noEmail},
	{"unknown user", noEmail},
	{"unknown recipient", noEmail},
	{"recipient unknown", noEmail},
	{"unknown or illegal alias", noEmail},
	{"invalid recipient", noEmail},
	{"invalid mailbox", noEmail},
	{"recipient not found", noEmail},
	{"user not found", noEmail},
	{"mailbox not found", noEmail},
	{"address not found", noEmail},
	{"recipnotfound", noEmail}, // Exchange: RESOLVER.ADR.RecipNotFound
	{"mailbox unavailable", noEmail},
	{"mailbox not available", noEmail},
	{"mailbox is unavailable", noEmail},
	{"no mailbox", noEmail},
	{"unrouteable address", noEmail},
	{"user doesn't have a", noEmail}, // Yahoo: "This user doesn't have a yahoo.com account"
	{"account has been disabled", noEmail},
	{"account is disabled", noEmail},
	{"account disabled", noEmail},
	{"account that you tried to reach is disabled", noEmail},
	{"mailbox disabled", noEmail},
	{"mailbox is disabled", noEmail},
	{"mailbox is inactive", noEmail},
	{"account is inactive", noEmail},
	{"no longer available", noEmail},
	{"no longer active", noEmail},
	{"not a valid mailbox", noEmail},
}

// Classify classifies a refusal from its reply code (0 without one), its
// enhanced status code ("5.1.1"; "" without one) and its text (the reply's
// text, or a DSN's Diagnostic-Code). See the package documentation for the
// order of the rules.
func Classify(code int, enhanced, txt string) Class {
	class := classOf(code, enhanced)
	if class != '4' && class != '5' {
		return Class{Type: Undetermined, SubType: UndeterminedSub}
	}
	r, ok := rule{}, false
	subject, detail, hasCode := splitEnhanced(enhanced)
	if hasCode {
		r, ok = byCode[subject+"."+detail]
	}
	if !ok {
		r, ok = byText(txt)
	}
	if !ok && hasCode {
		r, ok = bySubject[subject[0]]
	}
	if !ok {
		r = general
	}
	if class == '4' {
		sub := r.sub
		if typeOf[sub] != Transient {
			sub = General
		}
		return Class{Type: Transient, SubType: sub}
	}
	return Class{Type: typeOf[r.sub], SubType: r.sub, RecipientFailure: r.recipient && typeOf[r.sub] == Permanent}
}

// ClassifyReply classifies a reply line as a server or a DSN's
// Diagnostic-Code gives it ("smtp; 550 5.1.1 No such user", "550-5.1.1 …").
func ClassifyReply(reply string) Class {
	code, enhanced, txt := ParseReply(reply)
	return Classify(code, enhanced, txt)
}

// classOf is the class of a refusal: the reply code's first digit, else the
// enhanced code's, else 0.
func classOf(code int, enhanced string) byte {
	if code >= 200 && code <= 599 {
		return byte('0' + code/100)
	}
	if enhanced != "" {
		return enhanced[0]
	}
	return 0
}

// splitEnhanced splits "5.1.1" into its subject "1" and detail "1".
func splitEnhanced(s string) (subject, detail string, ok bool) {
	if !validEnhanced(s) {
		return "", "", false
	}
	rest := s[2:]
	i := strings.IndexByte(rest, '.')
	return rest[:i], rest[i+1:], true
}

// validEnhanced reports whether s is an enhanced status code: class 2, 4 or
// 5, then 1–3 digits, then 1–3 digits, separated by dots.
func validEnhanced(s string) bool {
	if len(s) < 5 || (s[0] != '2' && s[0] != '4' && s[0] != '5') || s[1] != '.' {
		return false
	}
	parts := strings.Split(s[2:], ".")
	if len(parts) != 2 {
		return false
	}
	for _, p := range parts {
		if len(p) < 1 || len(p) > 3 || strings.Trim(p, "0123456789") != "" {
			return false
		}
	}
	return true
}

func byText(txt string) (rule, bool) {
	if txt == "" {
		return rule{}, false
	}
	s := strings.ToLower(Normalize(txt))
	for _, t := range texts {
		if strings.Contains(s, t.sub) {
			return t.rule, true
		}
	}
	return rule{}, false
}

// ParseReply splits a reply line into its code, enhanced status code and
// text: "smtp; 550-5.1.1 The email account … does not exist" → 550,
// "5.1.1", "The email account … does not exist". A DSN's "smtp;" (any
// diagnostic type) is dropped; a part that is missing is zero. The text is
// Normalize'd: the code prefixes of continuation lines are gone.
func ParseReply(s string) (code int, enhanced, txt string) {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, ';'); i > 0 && i < 16 && isWord(s[:i]) {
		s = strings.TrimSpace(s[i+1:])
	}
	if len(s) >= 3 && isDigits(s[:3]) && (len(s) == 3 || s[3] == ' ' || s[3] == '-') {
		n, _ := strconv.Atoi(s[:3])
		if n >= 200 && n <= 599 {
			code = n
			s = strings.TrimLeft(s[3:], " -")
		}
	}
	if f, rest, _ := strings.Cut(s, " "); validEnhanced(f) {
		enhanced, s = f, rest
	} else if validEnhanced(s) {
		enhanced, s = s, ""
	}
	return code, enhanced, Normalize(s)
}

// Normalize joins a multi-line reply into one line, dropping the reply
// code and enhanced code that start each continuation line ("550-5.1.1 …"),
// and collapsing runs of white space.
func Normalize(s string) string {
	if !strings.ContainsAny(s, "\r\n\t") && !strings.Contains(s, "  ") {
		return s
	}
	var b strings.Builder
	for i, line := range strings.FieldsFunc(s, func(r rune) bool { return r == '\n' || r == '\r' }) {
		if i > 0 {
			line = stripCodes(strings.TrimSpace(line))
		}
		for _, w := range strings.Fields(line) {
			if b.Len() > 0 {
				b.WriteByte(' ')
			}
			b.WriteString(w)
		}
	}
	return b.String()
}

// stripCodes drops a leading "550-", "550 " and then "5.1.1 " from a
// continuation line.
func stripCodes(line string) string {
	if len(line) >= 4 && isDigits(line[:3]) && (line[3] == '-' || line[3] == ' ') {
		line = strings.TrimSpace(line[4:])
	}
	if f, rest, ok := strings.Cut(line, " "); ok && validEnhanced(f) {
		line = rest
	} else if validEnhanced(line) {
		line = ""
	}
	return line
}

func isDigits(s string) bool { return s != "" && strings.Trim(s, "0123456789") == "" }

// isWord reports whether s is a DSN diagnostic type ("smtp", "X-Postfix").
func isWord(s string) bool {
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return s != ""
}

// Message is a sentence saying what a bounce of class c means, for the
// bounce object's message (the server's own words go in its
// diagnosticCode).
func Message(c Class) string {
	switch c.SubType {
	case NoEmail:
		return "The recipient's mail server permanently rejected the email: the address does not exist or does not accept mail."
	case MailboxFull:
		return "The recipient's mailbox is full."
	case MessageTooLarge:
		return "The email is larger than the recipient's mail server accepts."
	case ContentRejected:
		return "The recipient's mail server rejected the email's content."
	case AttachmentRejected:
		return "The recipient's mail server rejected an attachment of the email."
	}
	switch c.Type {
	case Permanent:
		return "The recipient's mail server permanently rejected the email."
	case Transient:
		return "The recipient's mail server rejected the email for now; a later email may be delivered."
	}
	return "The email could not be delivered, for a reason the recipient's mail server did not make clear."
}
