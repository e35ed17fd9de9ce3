// Package report classifies and parses one inbound message addressed to a
// Godwit return path (bounces+<email-id>@<return-path-subdomain>.<domain>):
// a delivery status notification, a feedback-loop complaint, or anything else.
//
// It holds the pure parsing the inbound listener calls:
//
//	DSN      multipart/report; report-type=delivery-status (RFC 3464), one
//	         Recipient per per-recipient block of the message/delivery-status
//	         part (Postfix, Exim, Sendmail, Exchange/Office 365, Gmail …), and,
//	         as best effort, the plain-text bounces of qmail and of old Exim
//	ARF      multipart/report; report-type=feedback-report (RFC 5965): the
//	         feedback type and the complained-about address(es)
//	Unknown  anything else (auto-replies, mail for humans): not an error
//
// and the matching of a report to the email it is about (EmailID; see Parse
// for the order in which the places are searched, and EmailIDFromAddress).
//
// Invariants:
//   - no I/O, no store, no network, no logging, no global state;
//   - Parse and EmailIDFromAddress never panic, whatever the input;
//   - work is bounded and linear in the input: at most 50 MIME entities,
//     nested at most 8 deep, are looked at; at most the first MiB of a part
//     is read (256 KiB of an enclosed original, whose header only is used);
//     a header block of a report part over 64 KiB is ignored; at most 1000
//     recipients are returned;
//   - Parse returns an error only when the input has no readable header field
//     at all (or a header section over 1 MiB); a message it does not
//     understand is a Report of Kind Unknown;
//   - an EmailID is always a UUID in canonical lower-case form, or "".
//
// Everything in a report is written by whoever sent it: an EmailID only says
// which email the report claims to be about. The caller checks that the email
// exists and was sent from the domain the report arrived for.
package report

import (
	"bytes"
	"errors"
	"io"
	"net/mail"
	"strings"
	"time"

	"github.com/emersion/go-message"
	"github.com/emersion/go-message/textproto"
)

// Kind is what a parsed message is.
type Kind int

const (
	// Unknown is a message that is neither a DSN nor an ARF report.
	Unknown Kind = iota
	// DSN is a delivery status notification (a bounce, a delay warning, or a
	// success notice).
	DSN
	// ARF is an abuse/feedback report (a complaint) in the format of RFC 5965.
	ARF
)

// String returns "unknown", "dsn" or "arf".
func (k Kind) String() string {
	switch k {
	case DSN:
		return "dsn"
	case ARF:
		return "arf"
	default:
		return "unknown"
	}
}

// Report is what Parse found in a message.
type Report struct {
	Kind Kind
	// EmailID is the id of the Godwit email the report is about, in canonical
	// lower-case UUID form, or "" when none was found. It is filled for every
	// Kind, Unknown included (an auto-reply sent to the return path names it).
	EmailID string
	// Recipients: for a DSN one per per-recipient block, in order; for ARF the
	// complained-about address(es), with only Address set.
	Recipients []Recipient
	// FeedbackType is the ARF Feedback-Type in lower case: abuse, fraud,
	// virus, other, not-spam, … ("" for a DSN).
	FeedbackType string
	// ReportingMTA is the host named by Reporting-MTA, without its type
	// ("dns;"); for a qmail bounce, the host the qmail-send program ran on.
	ReportingMTA string
	// ArrivalDate is the Arrival-Date (ARF: Arrival-Date or Received-Date) of
	// the reported message; zero when absent or unparseable.
	ArrivalDate time.Time
}

// Recipient is one recipient of a DSN, or one complained-about address of an
// ARF report.
type Recipient struct {
	// Address is the Final-Recipient, or the Original-Recipient when there is
	// no usable Final-Recipient (ARF: Original-Rcpt-To, else the recipient of
	// the enclosed message), without its address type, angle brackets or
	// comments, with the domain in lower case. It may not be an address at
	// all when a DSN names a recipient in another form (e.g. a local name).
	Address string
	// OriginalRecipient is the Original-Recipient of a DSN, normalised like
	// Address, or "". It is the address as the sender gave it and may differ
	// from the Final-Recipient after an alias or forwarding expansion, or for
	// providers that report their internal routing address: match both.
	OriginalRecipient string
	// Action is failed, delayed, delivered, relayed or expanded, in lower
	// case. When a block has no Action it is inferred from the status class
	// (5 failed, 4 delayed, 2 delivered).
	Action string
	// Status is the enhanced status code, e.g. "5.1.1". When the Status field
	// has none it is taken from the diagnostic code, or from its basic SMTP
	// reply code as "5.0.0"/"4.0.0"; "" when there is no code at all.
	Status string
	// DiagnosticCode is the Diagnostic-Code, unfolded and trimmed, type
	// included: "smtp; 550 5.1.1 …". For a plain-text bounce, the reason
	// given for the recipient on one line.
	DiagnosticCode string
	// RemoteMTA is the host named by Remote-MTA, without its type.
	RemoteMTA string
	// Permanent is true when Action is failed and Status is 5.x.x.
	Permanent bool
}

// Bounds on the work done for one message.
const (
	maxHeaderBytes   = 1 << 20   // the message's own header section
	maxParts         = 50        // MIME entities looked at, nested ones included
	maxDepth         = 8         // multipart nesting
	maxRecipients    = 1000      // recipients returned
	maxReportBytes   = 1 << 20   // read of a delivery-status or feedback-report part
	maxOriginalBytes = 256 << 10 // read of the enclosed original (its header only is used)
	maxTextBytes     = 1 << 20   // read of a text part looked at for plain-text bounces
	maxBlockBytes    = 64 << 10  // one header block of a report part; larger ones are ignored
	maxBlockFields   = 1000      // fields kept from one header block
)

var errNoHeader = errors.New("report: not a message: no header field")

// Parse classifies and parses one message, raw RFC 5322 bytes as received
// (CRLF or LF line endings).
//
// EmailID is searched for, in this order, and the first UUID found wins:
//  1. a bounces+<id>@ address in
//     a. the envelope sender the report records: Original-Mail-From or
//     X-Original-Mail-From of the feedback report, X-Postfix-Sender (or those
//     names) of the delivery-status per-message fields, then those names in
//     the report's own header;
//     b. the Return-Path of the enclosed original message;
//     c. the report's own To, Delivered-To, X-Original-To and Envelope-To;
//  2. a Message-ID of the form <uuid@domain> of the enclosed original message,
//     or the X-Original-Message-ID of the delivery-status part (Gmail).
//
// The enclosed original is the first message/rfc822, message/global,
// text/rfc822-headers or message/global-headers part; in a plain-text bounce,
// the copy that follows qmail's or Exim's "copy of the message" line.
//
// Parse returns an error only when raw has no readable header field at all
// (or a header section over 1 MiB); anything else yields a Report, of Kind
// Unknown when it is neither a DSN nor an ARF report.
func Parse(raw []byte) (*Report, error) {
	raw = skipPreamble(raw)
	hdrBytes, body := splitHeader(raw)
	if len(hdrBytes) > maxHeaderBytes {
		return nil, errors.New("report: header section too large")
	}
	hdr := parseFields(hdrBytes)
	if hdr.Len() == 0 {
		return nil, errNoHeader
	}
	// New decodes the transfer encoding; an unknown encoding or charset
	// leaves the body as it is, which is good enough here.
	e, _ := message.New(message.Header{Header: hdr}, bytes.NewReader(body))

	w := &walker{}
	w.walk(e, 0)
	p := &parsed{top: hdr, w: w}
	return p.report(), nil
}

// walker collects, from the MIME tree, the parts a report is made of.
type walker struct {
	entities   int
	reportType string // report-type of the first multipart/report

	ds, fbl       []byte // body of the first message/delivery-status, message/feedback-report part
	hasDS, hasFBL bool

	original    textproto.Header // header of the first enclosed message or text/rfc822-headers
	hasOriginal bool

	text    []byte // body of the first text/plain part (or of a message without Content-Type)
	hasText bool
}

func (w *walker) walk(e *message.Entity, depth int) {
	if e == nil || w.entities >= maxParts {
		return
	}
	w.entities++
	mt, params, err := e.Header.ContentType()
	if err != nil {
		// An unparseable Content-Type: RFC 2045 says to treat it as
		// text/plain, which is what the heuristics want anyway.
		mt = ""
	}
	mt = strings.ToLower(mt)
	switch {
	case strings.HasPrefix(mt, "multipart/"):
		if mt == "multipart/report" && w.reportType == "" {
			w.reportType = strings.ToLower(strings.TrimSpace(params["report-type"]))
		}
		if depth >= maxDepth || params["boundary"] == "" {
			return
		}
		mr := e.MultipartReader()
		if mr == nil {
			return
		}
		for w.entities < maxParts {
			part, _ := mr.NextPart()
			if part == nil {
				// io.EOF, or a broken multipart (often a truncated
				// report): keep what was read so far.
				return
			}
			w.walk(part, depth+1)
		}
	case mt == "message/delivery-status" || mt == "message/global-delivery-status":
		if !w.hasDS {
			w.hasDS = true
			w.ds = readAtMost(e.Body, maxReportBytes)
		}
	case mt == "message/feedback-report":
		if !w.hasFBL {
			w.hasFBL = true
			w.fbl = readAtMost(e.Body, maxReportBytes)
		}
	case mt == "message/rfc822" || mt == "message/global" ||
		mt == "text/rfc822-headers" || mt == "message/rfc822-headers" ||
		mt == "message/global-headers":
		if !w.hasOriginal {
			w.hasOriginal = true
			h, _ := splitHeader(skipBlankLines(readAtMost(e.Body, maxOriginalBytes)))
			w.original = parseFields(h)
		}
	case mt == "" || mt == "text/plain":
		if !w.hasText {
			w.hasText = true
			w.text = readAtMost(e.Body, maxTextBytes)
		}
	}
}

// readAtMost reads up to n bytes of r, keeping what was read before an error
// (a truncated part, bad base64): a partial report is still worth reading.
func readAtMost(r io.Reader, n int64) []byte {
	if r == nil {
		return nil
	}
	b, _ := io.ReadAll(io.LimitReader(r, n))
	return b
}

// parsed is a message taken apart, being turned into a Report.
type parsed struct {
	top textproto.Header // the report's own header
	w   *walker

	dsBlocks  []textproto.Header // delivery-status header blocks: per-message first
	fblBlocks []textproto.Header // feedback-report header blocks (normally one)
	original  textproto.Header   // header of the enclosed original message
}

func (p *parsed) report() *Report {
	r := &Report{}
	w := p.w
	p.original = w.original
	if !w.hasOriginal && w.hasText {
		// A plain-text bounce carries its copy of the original inline.
		p.original = inlineOriginal(w.text)
	}

	switch {
	case w.hasFBL && (w.reportType == "feedback-report" || !w.hasDS):
		r.Kind = ARF
		p.fblBlocks = parseBlocks(w.fbl)
		p.fillARF(r)
	case w.hasDS:
		r.Kind = DSN
		p.dsBlocks = parseBlocks(w.ds)
		p.fillDSN(r)
	case w.reportType == "feedback-report":
		r.Kind = ARF // a truncated report: no feedback-report part left
	case w.reportType == "delivery-status":
		r.Kind = DSN
	case w.hasText:
		if pb := parsePlainBounce(string(w.text), p.top); pb != nil {
			r.Kind = DSN
			r.Recipients = pb.recipients
			r.ReportingMTA = pb.reportingMTA
		}
	}
	r.EmailID = p.emailID()
	return r
}

func (p *parsed) fillDSN(r *Report) {
	if len(p.dsBlocks) == 0 {
		return
	}
	perMessage := p.dsBlocks[0]
	r.ReportingMTA = typedHost(perMessage.Get("Reporting-Mta"))
	r.ArrivalDate = parseDate(perMessage.Get("Arrival-Date"))
	for _, b := range p.dsBlocks {
		if len(r.Recipients) >= maxRecipients {
			break
		}
		if rc, ok := dsnRecipient(b); ok {
			r.Recipients = append(r.Recipients, rc)
		}
	}
}

func (p *parsed) fillARF(r *Report) {
	get := func(k string) string { return firstValue(p.fblBlocks, k) }
	r.FeedbackType = strings.ToLower(firstWord(get("Feedback-Type")))
	r.ReportingMTA = typedHost(get("Reporting-Mta"))
	r.ArrivalDate = parseDate(get("Arrival-Date"))
	if r.ArrivalDate.IsZero() {
		r.ArrivalDate = parseDate(get("Received-Date"))
	}

	var addrs []string
	for _, b := range p.fblBlocks {
		for _, v := range b.Values("Original-Rcpt-To") {
			addrs = append(addrs, addressList(v)...)
		}
	}
	if len(addrs) == 0 {
		// Microsoft's JMRP names the recipient in a header of its own.
		addrs = addressList(p.original.Get("X-Hmxmroriginalrecipient"))
	}
	if len(addrs) == 0 {
		for _, v := range p.original.Values("To") {
			addrs = append(addrs, addressList(v)...)
		}
	}
	seen := make(map[string]bool)
	for _, a := range addrs {
		if len(r.Recipients) >= maxRecipients {
			break
		}
		if !seen[a] {
			seen[a] = true
			r.Recipients = append(r.Recipients, Recipient{Address: a})
		}
	}
}

// emailID searches the places named in Parse's documentation, in order.
func (p *parsed) emailID() string {
	envelope := []string{"Original-Mail-From", "X-Original-Mail-From", "X-Postfix-Sender"}
	var candidates []string
	for _, blocks := range [][]textproto.Header{p.fblBlocks, p.dsBlocks} {
		for _, k := range envelope {
			for _, b := range blocks {
				candidates = append(candidates, b.Values(k)...)
			}
		}
	}
	for _, k := range envelope {
		candidates = append(candidates, p.top.Values(k)...)
	}
	candidates = append(candidates, p.original.Values("Return-Path")...)
	for _, k := range []string{"To", "Delivered-To", "X-Original-To", "Envelope-To"} {
		candidates = append(candidates, p.top.Values(k)...)
	}
	for _, v := range candidates {
		if id := findEmailID(v); id != "" {
			return id
		}
	}

	mids := p.original.Values("Message-Id")
	for _, b := range p.dsBlocks {
		mids = append(mids, b.Values("X-Original-Message-Id")...)
	}
	for _, v := range mids {
		if id := emailIDFromMessageID(v); id != "" {
			return id
		}
	}
	return ""
}

// firstValue is the first non-empty value of k in blocks.
func firstValue(blocks []textproto.Header, k string) string {
	for _, b := range blocks {
		if v := strings.TrimSpace(b.Get(k)); v != "" {
			return v
		}
	}
	return ""
}

func parseDate(v string) time.Time {
	v = strings.TrimSpace(v)
	if v == "" || len(v) > 200 {
		return time.Time{}
	}
	t, err := mail.ParseDate(v)
	if err != nil {
		return time.Time{}
	}
	return t
}

// inlineOriginal finds, in the text of a plain-text bounce, the copy of the
// original message that follows a line such as qmail's "--- Below this line
// is a copy of the message." or Exim's "------ This is a copy of the
// message, including all the headers. ------", and returns its header.
func inlineOriginal(text []byte) textproto.Header {
	markers := [][]byte{
		[]byte("--- Below this line is"),
		[]byte("------ This is a copy of the message"),
	}
	for _, m := range markers {
		i := bytes.Index(text, m)
		if i < 0 {
			continue
		}
		rest := text[i:]
		nl := bytes.IndexByte(rest, '\n')
		if nl < 0 {
			return textproto.Header{}
		}
		h, _ := splitHeader(skipBlankLines(rest[nl+1:]))
		if len(h) > maxOriginalBytes {
			h = h[:maxOriginalBytes]
		}
		return parseFields(h)
	}
	return textproto.Header{}
}
