package report

import (
	"strings"
	"testing"
	"time"
)

// Inputs of a few MB built to make a careless parser slow: each must parse
// quickly, with at most maxRecipients recipients.
func TestLargeInputs(t *testing.T) {
	const dsn = "Content-Type: message/delivery-status\n\n"
	const exim = "Subject: x\n\nThis message was created automatically by mail delivery software.\nThe following address(es) failed:\n"
	const qmail = "Subject: x\n\nHi. This is the qmail-send program at x.\n"
	for name, in := range map[string]string{
		"bounces+ repeated":      "To: " + strings.Repeat("bounces+", 110000) + "\n\nx",
		"long address list":      "X-Failed-Recipients: " + strings.Repeat("a@b.example, ", 70000) + "\n" + exim,
		"broken address list":    "X-Failed-Recipients: " + strings.Repeat("<a@b.example, \"", 60000) + "\n" + exim,
		"qmail, many recipients": qmail + strings.Repeat("<a@b.example>:\n550 no\n", 200000),
		"qmail, long reason":     qmail + "<a@b>:\n" + strings.Repeat("no such user here at all\n", 200000),
		"exim, many recipients":  exim + strings.Repeat("  a@b.example\n    550 x\n", 100000),
		"dsn, many recipients":   dsn + strings.Repeat("Final-Recipient: rfc822; a@b\n", 200000),
		"dsn, long field":        dsn + "Final-Recipient: rfc822; a@b\nDiagnostic-Code: " + strings.Repeat("5.1.1 ", 500000),
		"dsn, many folds":        dsn + "Final-Recipient: rfc822; a@b\nDiagnostic-Code: x\n" + strings.Repeat(" 550\n", 500000),
		"dsn, status digits":     dsn + "Final-Recipient: rfc822; a@b\nStatus: " + strings.Repeat("5.", 400000),
		"arf, many recipients":   "Content-Type: message/feedback-report\n\n" + strings.Repeat("Original-Rcpt-To: a@b.example\n", 20000),
		"content-type params":    "Content-Type: multipart/report; " + strings.Repeat("a=b; ", 150000) + "boundary=x\n\n--x\n",
		"many parts":             "Content-Type: multipart/mixed; boundary=x\n\n" + strings.Repeat("--x\nContent-Type: text/plain\n\nhi\n", 100000),
		"many message-ids":       "Content-Type: text/rfc822-headers\n\n" + strings.Repeat("Message-ID: <x@y>\n", 10000),
	} {
		start := time.Now()
		r, err := Parse([]byte(in))
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("%s: %v", name, d)
		}
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if len(r.Recipients) > maxRecipients {
			t.Errorf("%s: %d recipients", name, len(r.Recipients))
		}
	}
}
