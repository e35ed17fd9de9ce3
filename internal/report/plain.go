package report

import (
	"strings"

	"github.com/emersion/go-message/textproto"
)

// plainBounce is what the heuristics found in a plain-text bounce.
type plainBounce struct {
	recipients   []Recipient
	reportingMTA string
}

// parsePlainBounce recognises the plain-text bounces of qmail ("Hi. This is
// the qmail-send program at …") and of Exim before it sent RFC 3464 reports
// ("This message was created automatically by mail delivery software."), or
// returns nil. The MTA's opening words must be near the start of the text (a
// person quoting a bounce in a message is not a bounce). It is best effort:
// recipients are read from the list in the text, and the reason given for
// each becomes its DiagnosticCode.
func parsePlainBounce(text string, top textproto.Header) *plainBounce {
	text = strings.ReplaceAll(text, "\r\n", "\n")
	head := strings.TrimLeft(text, " \t\n")
	if len(head) > 1024 {
		head = head[:1024]
	}
	lower := asciiLower(head)
	switch {
	case strings.Contains(lower, "this is the qmail-send program") ||
		strings.Contains(lower, "wasn't able to deliver your message to the following addresses"):
		return parseQmail(text)
	case strings.Contains(lower, "this message was created automatically by mail delivery software"):
		return parseExim(text, top)
	}
	return nil
}

// cutCopy returns the text before the copy of the original message.
func cutCopy(text string) string {
	for _, m := range []string{"\n--- Below this line is", "\n------ This is a copy of the"} {
		if i := strings.Index(text, m); i >= 0 {
			text = text[:i]
		}
	}
	return text
}

// parseQmail reads:
//
//	Hi. This is the qmail-send program at mx.example.net.
//	I'm afraid I wasn't able to deliver your message to the following addresses.
//	This is a permanent error; I've given up. Sorry it didn't work out.
//
//	<user@example.net>:
//	192.0.2.25 does not like recipient.
//	Remote host said: 550 5.1.1 <user@example.net>: User unknown
//	Giving up on 192.0.2.25.
//
//	--- Below this line is a copy of the message.
func parseQmail(text string) *plainBounce {
	pb := &plainBounce{}
	const at = "qmail-send program at "
	if i := strings.Index(text, at); i >= 0 {
		pb.reportingMTA = strings.TrimRight(firstWord(text[i+len(at):]), ".")
	}
	lines := strings.Split(cutCopy(text), "\n")
	saysPermanent := false // the text before the list says the failure is permanent
	var cur *Recipient
	var reason []string
	flush := func() {
		if cur != nil {
			pb.add(*cur, reason, saysPermanent)
		}
		cur, reason = nil, nil
	}
	for _, line := range lines {
		t := strings.TrimSpace(line)
		switch {
		case strings.HasPrefix(t, "<") && strings.HasSuffix(t, ">:") && !strings.HasPrefix(line, " "):
			flush()
			cur = &Recipient{Address: normaliseAddress(t[1 : len(t)-2]), Action: "failed"}
		case cur != nil && t == "":
			flush()
		case cur != nil:
			reason = append(reason, t)
		case len(pb.recipients) == 0:
			saysPermanent = saysPermanent || strings.Contains(asciiLower(t), "permanent")
		}
		if len(pb.recipients) >= maxRecipients {
			cur = nil
			break
		}
	}
	flush()
	if len(pb.recipients) == 0 {
		return nil
	}
	return pb
}

// parseExim reads the list that follows "The following address(es) failed:"
// (Action failed) or "… has not yet been delivered …:" (a delay warning,
// Action delayed), an address indented by two spaces, its reason by four:
//
//	user@example.net
//	  SMTP error from remote mail server after RCPT TO:<user@example.net>:
//	  host mx.example.net [192.0.2.25]: 550 5.1.1 User unknown
//
// falling back to the X-Failed-Recipients header for a failure.
func parseExim(text string, top textproto.Header) *plainBounce {
	pb := &plainBounce{}
	lines := strings.Split(cutCopy(text), "\n")
	action := ""
	saysPermanent := false // the text before the list says the failure is permanent
	var cur *Recipient
	var reason []string
	flush := func() {
		if cur != nil {
			pb.add(*cur, reason, saysPermanent)
		}
		cur, reason = nil, nil
	}
	for _, line := range lines {
		t := strings.TrimSpace(line)
		if action == "" {
			l := asciiLower(t)
			saysPermanent = saysPermanent || strings.Contains(l, "permanent")
			switch {
			case strings.HasSuffix(l, "failed:") && strings.Contains(l, "address"):
				action = "failed"
			case strings.Contains(l, "not yet been delivered") && strings.HasSuffix(l, ":"):
				action = "delayed"
			}
			continue
		}
		if t == "" {
			continue
		}
		indent := len(line) - len(strings.TrimLeft(line, " \t"))
		if indent == 0 {
			break // the list is over
		}
		if indent < 4 {
			flush()
			if a := normaliseAddress(strings.TrimSuffix(firstWord(t), ":")); strings.Contains(a, "@") {
				cur = &Recipient{Address: a, Action: action}
			}
			if len(pb.recipients) >= maxRecipients {
				cur = nil
				break
			}
			continue
		}
		if cur != nil {
			reason = append(reason, t)
		}
	}
	flush()
	if len(pb.recipients) == 0 && action == "failed" {
		for _, v := range top.Values("X-Failed-Recipients") {
			for _, a := range addressList(v) {
				if len(pb.recipients) < maxRecipients {
					pb.add(Recipient{Address: a, Action: action}, nil, saysPermanent)
				}
			}
		}
	}
	if action == "" || len(pb.recipients) == 0 {
		return nil
	}
	return pb
}

// add completes r from the reason lines given for it and appends it. The
// status comes from a code in the reason; a failure without one is permanent
// when the reason or the text before the list says "permanent" (status
// 5.0.0).
func (pb *plainBounce) add(r Recipient, reason []string, preamblePermanent bool) {
	if len(pb.recipients) >= maxRecipients {
		return
	}
	r.DiagnosticCode = strings.Join(reason, " ")
	r.Status = statusFromText(r.DiagnosticCode)
	if r.Status == "" && r.Action == "failed" &&
		(strings.Contains(asciiLower(r.DiagnosticCode), "permanent") || preamblePermanent) {
		r.Status = "5.0.0"
	}
	r.Permanent = r.Action == "failed" && strings.HasPrefix(r.Status, "5")
	pb.recipients = append(pb.recipients, r)
}
