package report

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// rcpt is what a fixture's recipient must look like; Diag is a substring of
// the DiagnosticCode.
type rcpt struct {
	Address, Original, Action, Status, Diag, RemoteMTA string
	Permanent                                          bool
}

var fixtures = []struct {
	file         string
	kind         Kind
	emailID      string
	feedbackType string
	reportingMTA string
	arrival      string // RFC 3339, "" for none
	rcpts        []rcpt
}{
	{
		file: "postfix-user-unknown.eml", kind: DSN,
		emailID:      "01a2235b-e124-72b2-802c-10c180253c2e",
		reportingMTA: "mail.example.net", arrival: "2024-03-04T10:00:04Z",
		rcpts: []rcpt{{
			Address: "nobody@example.net", Original: "nobody@example.net", Action: "failed", Status: "5.1.1", Permanent: true,
			Diag:      "smtp; 550 5.1.1 <nobody@example.net>: Recipient address rejected: User unknown",
			RemoteMTA: "mx.example.net",
		}},
	},
	{
		file: "exim-failed.eml", kind: DSN,
		emailID:      "0190f3a1-7c2d-7e41-9b1a-3d5e6f708192",
		reportingMTA: "mx.example.net",
		rcpts: []rcpt{{
			Address: "jane.doe@example.net", Action: "failed", Status: "5.0.0", Permanent: true,
			Diag: "User unknown in virtual mailbox table", RemoteMTA: "mx2.example.net",
		}},
	},
	{
		file: "sendmail-user-unknown.eml", kind: DSN,
		emailID:      "0190f3a2-1111-7abc-8def-0123456789ab",
		reportingMTA: "mail.example.net", arrival: "2024-03-05T11:02:01+01:00",
		rcpts: []rcpt{{
			Address: "j.smith@example.net", Action: "failed", Status: "5.1.1", Permanent: true,
			Diag: "SMTP; 550 5.1.1 <j.smith@example.net>... User unknown", RemoteMTA: "mx.example.net",
		}},
	},
	{
		file: "exchange-online-ndr.eml", kind: DSN,
		emailID:      "0190f3a3-2222-7bcd-9ef0-123456789abc",
		reportingMTA: "DM6PR11MB1234.namprd11.prod.outlook.com", arrival: "2024-03-06T09:15:20Z",
		rcpts: []rcpt{{
			Address: "pat@example.net", Original: "pat@example.net", Action: "failed", Status: "5.1.10", Permanent: true,
			Diag: "smtp;550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not found by SMTP address lookup",
		}},
	},
	{
		file: "gmail-address-not-found.eml", kind: DSN,
		emailID:      "0190f3a4-3333-7cde-a012-23456789abcd",
		reportingMTA: "googlemail.com", arrival: "2024-03-07T02:03:04-08:00",
		rcpts: []rcpt{{
			Address: "no.such.user@example.org", Action: "failed", Status: "5.1.1", Permanent: true,
			Diag:      "smtp; 550-5.1.1 The email account that you tried to reach does not exist. Please try 550-5.1.1 double-checking",
			RemoteMTA: "gmail-smtp-in.l.google.com",
		}},
	},
	{
		file: "delayed-4.4.7.eml", kind: DSN,
		emailID:      "0190f3a5-4444-7def-b123-3456789abcde",
		reportingMTA: "AM6PR08MB4567.eurprd08.prod.outlook.com", arrival: "2024-03-08T10:20:03Z",
		rcpts: []rcpt{{
			Address: "sam@example.net", Action: "delayed", Status: "4.4.7",
			Diag: "smtp;400 4.4.7 Message delayed", RemoteMTA: "mx.example.net",
		}},
	},
	{
		file: "sendmail-multi-recipient.eml", kind: DSN,
		emailID:      "0190f3a6-5555-7ef0-8234-456789abcdef",
		reportingMTA: "relay.example.net", arrival: "2024-03-09T12:44:58+01:00",
		rcpts: []rcpt{
			{Address: "alice@example.net", Action: "failed", Status: "5.1.1", Permanent: true, Diag: "User unknown", RemoteMTA: "mx.example.net"},
			{Address: "bob@example.org", Action: "delayed", Status: "4.4.7", Diag: "451 4.4.7 Deferred: Connection timed out", RemoteMTA: "mx.example.org"},
		},
	},
	{
		file: "qmail-plain.eml", kind: DSN,
		emailID:      "0190f3a7-6666-7f01-9345-56789abcdef0",
		reportingMTA: "mail.example.net",
		rcpts: []rcpt{
			{Address: "chris@example.net", Action: "failed", Status: "5.1.1", Permanent: true, Diag: "Remote host said: 550 5.1.1 <chris@example.net>: Recipient address rejected: User unknown"},
			{Address: "dana@example.net", Action: "failed", Status: "5.1.1", Permanent: true, Diag: "Sorry, no mailbox here by that name. (#5.1.1)"},
			{Address: "lee@example.org", Action: "failed", Status: "4.4.1", Diag: "wasn't able to establish an SMTP connection. (#4.4.1) I'm not going to try again"},
		},
	},
	{
		file: "exim-legacy-plain.eml", kind: DSN,
		emailID: "0190f3a8-7777-7012-a456-6789abcdef01",
		rcpts: []rcpt{{
			Address: "robin@example.net", Action: "failed", Status: "5.2.1", Permanent: true,
			Diag: "SMTP error from remote mail server after RCPT TO:<robin@example.net>: host mx.example.net [192.0.2.25]: 550 5.2.1 <robin@example.net>: Mailbox disabled",
		}},
	},
	{
		file: "arf-yahoo-abuse.eml", kind: ARF, feedbackType: "abuse",
		emailID: "0190f3a9-8888-7123-b567-789abcdef012",
		arrival: "2024-03-11T15:59:12Z",
		rcpts:   []rcpt{{Address: "Kim.Lee@example.net"}},
	},
	{
		file: "arf-jmrp.eml", kind: ARF, feedbackType: "abuse",
		emailID: "0190f3aa-9999-7234-8678-89abcdef0123",
		arrival: "2024-03-12T11:28:02-07:00",
		rcpts:   []rcpt{{Address: "casey@example.net"}},
	},
	{
		file: "arf-rfc822-headers.eml", kind: ARF, feedbackType: "abuse",
		emailID:      "0190f3ab-aaaa-7345-9789-9abcdef01234",
		reportingMTA: "mx3.isp.example.net", arrival: "2024-03-13T06:58:30Z",
		rcpts: []rcpt{{Address: "morgan@isp.example.net"}},
	},
	{
		file: "lf-only-quirks.eml", kind: DSN,
		emailID:      "0190f3ac-bbbb-7456-a89a-abcdef012345",
		reportingMTA: "gw.example.org", arrival: "2024-03-14T20:10:58Z",
		rcpts: []rcpt{
			{
				Address: "Casey.Jones@example.net", Action: "failed", Status: "5.2.2", Permanent: true,
				Diag: "smtp;552 5.2.2 <casey.jones@example.net>: Mailbox full, quota exceeded", RemoteMTA: "[192.0.2.81]",
			},
			{Address: "support@example.org", Original: "info@example.org", Action: "relayed", Status: "2.0.0", Diag: "relayed to a non-DSN-aware mailer"},
		},
	},
	{
		file: "non-report-autoreply.eml", kind: Unknown,
		emailID: "0190f3ad-cccc-7567-b9ab-bcdef0123456",
	},
	{
		file: "messageid-only-domino.eml", kind: DSN,
		emailID:      "0190f3ae-dddd-7678-8abc-cdef01234567",
		reportingMTA: "domino.example.net", arrival: "2024-03-16T13:00:01+01:00",
		rcpts: []rcpt{{
			Address: "avery@example.net", Action: "failed", Status: "5.0.0", Permanent: true,
			Diag: "X-Notes; User avery (avery@example.net) not listed in Domino Directory",
		}},
	},
}

func readFixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	require.NoError(t, err)
	return b
}

func toLF(b []byte) []byte { return bytes.ReplaceAll(b, []byte("\r\n"), []byte("\n")) }

func toCRLF(b []byte) []byte { return bytes.ReplaceAll(toLF(b), []byte("\n"), []byte("\r\n")) }

// mustParse parses raw and fails the test on an error.
func mustParse(t *testing.T, raw string) *Report {
	t.Helper()
	r, err := Parse([]byte(raw))
	require.NoError(t, err)
	require.NotNil(t, r)
	return r
}

func TestFixtures(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "*.eml"))
	require.NoError(t, err)
	require.Len(t, files, len(fixtures), "every fixture has a row in the table, and every row a fixture")

	for _, fx := range fixtures {
		t.Run(fx.file, func(t *testing.T) {
			raw := readFixture(t, fx.file)
			// The same report with either line ending gives the same result.
			for _, variant := range []struct {
				name string
				raw  []byte
			}{{"as-is", raw}, {"lf", toLF(raw)}, {"crlf", toCRLF(raw)}} {
				t.Run(variant.name, func(t *testing.T) {
					r, err := Parse(variant.raw)
					require.NoError(t, err)
					require.Equal(t, fx.kind, r.Kind)
					require.Equal(t, fx.emailID, r.EmailID)
					require.Equal(t, fx.feedbackType, r.FeedbackType)
					require.Equal(t, fx.reportingMTA, r.ReportingMTA)
					if fx.arrival == "" {
						require.True(t, r.ArrivalDate.IsZero(), "arrival %v", r.ArrivalDate)
					} else {
						want, err := time.Parse(time.RFC3339, fx.arrival)
						require.NoError(t, err)
						require.True(t, want.Equal(r.ArrivalDate), "arrival %v, want %v", r.ArrivalDate, want)
					}
					require.Len(t, r.Recipients, len(fx.rcpts), "%+v", r.Recipients)
					for i, want := range fx.rcpts {
						requireRecipient(t, want, r.Recipients[i])
					}
				})
			}
		})
	}
}

// requireRecipient checks got against a fixture row: every field exactly,
// except the diagnostic, which must contain want.Diag (and be empty when it
// is), be trimmed and be on one line.
func requireRecipient(t *testing.T, want rcpt, got Recipient) {
	t.Helper()
	require.Equal(t, want.Address, got.Address)
	require.Equal(t, want.Original, got.OriginalRecipient)
	require.Equal(t, want.Action, got.Action)
	require.Equal(t, want.Status, got.Status)
	require.Equal(t, want.Permanent, got.Permanent)
	require.Equal(t, want.RemoteMTA, got.RemoteMTA)
	require.Contains(t, got.DiagnosticCode, want.Diag)
	if want.Diag == "" {
		require.Empty(t, got.DiagnosticCode)
	}
	require.Equal(t, strings.TrimSpace(got.DiagnosticCode), got.DiagnosticCode)
	require.NotContains(t, got.DiagnosticCode, "\n")
}

// The string-to-string extractors: each maps its input to the email id (or
// status code) it carries, or "".
func TestExtractors(t *testing.T) {
	const id = "01a2235b-e124-72b2-802c-10c180253c2e"
	type io struct{ in, want string }
	for _, ex := range []struct {
		name  string
		fn    func(string) string
		cases []io
	}{
		{"EmailIDFromAddress", EmailIDFromAddress, []io{
			{"bounces+" + id + "@send.example.com", id},
			{"  <bounces+" + id + "@send.example.com>  ", id},
			{"rfc822; bounces+" + id + "@send.example.com", id},
			{"BOUNCES+" + strings.ToUpper(id) + "@SEND.EXAMPLE.COM", id},
			{"bounces+00000000-0000-4000-8000-000000000000@x", "00000000-0000-4000-8000-000000000000"}, // any version
			{"bounces+" + id + "@", ""},
			{"bounces+" + id, ""},
			{"bounces+" + id + "x@send.example.com", ""},
			{"bounces+" + strings.ReplaceAll(id, "-", "") + "@send.example.com", ""}, // hyphens required
			{"bounces+{" + id + "}@send.example.com", ""},
			{"bounces+urn:uuid:" + id + "@send.example.com", ""},
			{"bounces+01a2235b-e124-72b2-802c-10c180253c2g@send.example.com", ""}, // not hex
			{"xbounces+" + id + "@send.example.com", ""},
			{"bounce+" + id + "@send.example.com", ""},
			{"hello@example.com", ""},
			{"", ""},
			{"@", ""},
			{"<>", ""},
		}},
		{"findEmailID", findEmailID, []io{
			{"Bounces <bounces+" + id + "@send.example.com>, other@example.com", id},
			{"a@example.com, bounces+" + id + "@send.example.com", id},
			{"rfc822;bounces+" + id + "@send.example.com", id},
			{"x.bounces+" + id + "@send.example.com", ""},
			{"srs0=ab=cd=example.com=bounces+" + id + "@fwd.example.net", ""},
			{"bounces+nope@x, bounces+" + id + "@send.example.com", id},
			{"bounces+" + id + "@ send.example.com", ""},
		}},
		{"emailIDFromMessageID", emailIDFromMessageID, []io{
			{"<" + id + "@example.com>", id},
			{"  <" + strings.ToUpper(id) + "@example.com> (comment)", id},
			{id + "@example.com", id},
			{"<" + id + "@>", ""},
			{"<" + id + ">", ""},
			{"<x" + id + "@example.com>", ""},
			{"<20240304100005.9D1E73C1B3@mail.example.net>", ""},
			{"<" + id + "@example.com", ""},
		}},
		{"statusFromText", statusFromText, []io{
			{"5.1.1", "5.1.1"},
			{"5.0.0 (permanent failure)", "5.0.0"},
			{"smtp; 550-5.1.1 The email", "5.1.1"},
			{"(#5.1.1)", "5.1.1"},
			{"Status 4.4.7.", "4.4.7"},
			{"host [192.0.2.25]: 550 user unknown", "5.0.0"},
			{"host 192.4.2.25 said 421 try later", "4.0.0"},
			{"5.1.1.1", ""},
			{"v5.1.1", "5.1.1"},
			{"10.5.1.1", ""},
			{"5.1234.1", ""},
			{"version 2024 ok", ""},
			{"", ""},
		}},
	} {
		t.Run(ex.name, func(t *testing.T) {
			for _, tc := range ex.cases {
				t.Run(tc.in, func(t *testing.T) {
					require.Equal(t, tc.want, ex.fn(tc.in))
				})
			}
		})
	}
}

// The places an id is looked for are searched in the documented order.
func TestEmailIDOrder(t *testing.T) {
	const (
		envelope = "11111111-1111-7111-8111-111111111111"
		retPath  = "22222222-2222-7222-8222-222222222222"
		to       = "33333333-3333-7333-8333-333333333333"
		msgID    = "44444444-4444-7444-8444-444444444444"
	)
	build := func(withEnvelope, withReturnPath, withTo bool) string {
		var b strings.Builder
		b.WriteString("From: MAILER-DAEMON@mx.example.net\r\n")
		if withTo {
			b.WriteString("To: bounces+" + to + "@send.example.com\r\n")
		} else {
			b.WriteString("To: hello@example.com\r\n")
		}
		b.WriteString("Content-Type: multipart/report; report-type=delivery-status; boundary=b\r\n\r\n")
		b.WriteString("--b\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.example.net\r\n")
		if withEnvelope {
			b.WriteString("X-Postfix-Sender: rfc822; bounces+" + envelope + "@send.example.com\r\n")
		}
		b.WriteString("\r\nFinal-Recipient: rfc822; a@example.net\r\nAction: failed\r\nStatus: 5.1.1\r\n")
		b.WriteString("\r\n--b\r\nContent-Type: text/rfc822-headers\r\n\r\n")
		if withReturnPath {
			b.WriteString("Return-Path: <bounces+" + retPath + "@send.example.com>\r\n")
		}
		b.WriteString("Message-ID: <" + msgID + "@example.com>\r\n\r\n--b--\r\n")
		return b.String()
	}
	for _, tc := range []struct {
		name        string
		env, rp, to bool
		want        string
	}{
		{"envelope sender first", true, true, true, envelope},
		{"then Return-Path", false, true, true, retPath},
		{"then To", false, false, true, to},
		{"then Message-ID", false, false, false, msgID},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := mustParse(t, build(tc.env, tc.rp, tc.to))
			require.Equal(t, DSN, r.Kind)
			require.Equal(t, tc.want, r.EmailID)
		})
	}
}

func TestParseErrors(t *testing.T) {
	for _, tc := range []struct{ name, in string }{
		{"empty", ""},
		{"blank lines", "\r\n\r\n"},
		{"spaces", "   \n"},
		{"no header", "not a message at all"},
		{"binary", "\x00\x01\x02"},
		{"empty field name", ": no name\r\n\r\nbody"},
		{"header block too large", strings.Repeat("X-A: b\r\n", maxHeaderBytes/8+1) + "\r\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.in))
			require.Error(t, err)
		})
	}
}

// A header is enough, whatever follows; stray lines are dropped.
func TestParseLenient(t *testing.T) {
	for _, tc := range []struct{ name, in string }{
		{"header only", "Subject: hi"},
		{"mbox From line", "From MAILER-DAEMON Mon Mar  4 10:00:05 2024\nSubject: hi\n\nbody"},
		{"stray line in header", "Subject: hi\r\nnot a field\r\nTo: x@example.com\r\n\r\nbody"},
		{"report without boundary", "Content-Type: multipart/report; report-type=delivery-status\r\n\r\n--b\r\n"},
		{"unterminated report", "Content-Type: multipart/report; report-type=delivery-status; boundary=b\r\n\r\n--b\r\nContent-Type: message/delivery-status\r\n\r\nFinal-Recipient: rfc822; a@example.net\r\nStatus: 5.1.1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mustParse(t, tc.in)
		})
	}
}

// A truncated report (no closing boundary, part cut in the middle) still
// yields what was read.
func TestTruncated(t *testing.T) {
	raw := readFixture(t, "postfix-user-unknown.eml")
	i := bytes.Index(raw, []byte("Remote-MTA:"))
	require.Positive(t, i)
	r := mustParse(t, string(raw[:i+len("Remote-MTA: dns; mx.exa")]))
	require.Equal(t, DSN, r.Kind)
	require.Equal(t, "01a2235b-e124-72b2-802c-10c180253c2e", r.EmailID)
	require.Len(t, r.Recipients, 1)
	require.True(t, r.Recipients[0].Permanent)
	require.Equal(t, "mx.exa", r.Recipients[0].RemoteMTA)
}

func TestBounds(t *testing.T) {
	t.Run("recipients past maxRecipients are dropped", func(t *testing.T) {
		var b strings.Builder
		b.WriteString("Content-Type: multipart/report; report-type=delivery-status; boundary=b\r\n\r\n")
		b.WriteString("--b\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.example.net\r\n")
		for i := 0; i < maxRecipients+500; i++ {
			b.WriteString("\r\nFinal-Recipient: rfc822; a@example.net\r\nAction: failed\r\nStatus: 5.1.1\r\n")
		}
		b.WriteString("--b--\r\n")
		r := mustParse(t, b.String())
		require.Len(t, r.Recipients, maxRecipients)
	})
	// Deeply nested multiparts are not followed past maxDepth, nor parts past maxParts.
	t.Run("deep nesting", func(t *testing.T) {
		var n strings.Builder
		n.WriteString("Content-Type: multipart/mixed; boundary=b0\r\n\r\n")
		for i := 0; i < 200; i++ {
			n.WriteString("--b" + strconv.Itoa(i) + "\r\nContent-Type: multipart/mixed; boundary=b" + strconv.Itoa(i+1) + "\r\n\r\n")
		}
		_, err := Parse([]byte(n.String()))
		require.NoError(t, err)
	})
}

func TestOtherMessages(t *testing.T) {
	const id = "0190f3af-eeee-7789-9bcd-def012345678"
	t.Run("exim delay warning", func(t *testing.T) {
		raw := "From: Mail Delivery System <Mailer-Daemon@mx.example.net>\n" +
			"To: bounces+" + id + "@send.example.com\n" +
			"Subject: Warning: message 1rjKlM-0004Ab-7Q delayed 24 hours\n\n" +
			"This message was created automatically by mail delivery software.\n" +
			"A message that you sent has not yet been delivered to one or more of its\n" +
			"recipients after more than 24 hours on the queue on mx.example.net.\n\n" +
			"The message identifier is:     1rjKlM-0004Ab-7Q\n\n" +
			"The address to which the message has not yet been delivered is:\n\n" +
			"  quinn@example.net\n" +
			"    host mx.example.net [192.0.2.25]: 451 4.7.1 Greylisted, try again later\n" +
			"    Delay reason: SMTP error from remote mail server after RCPT TO:<quinn@example.net>:\n\n" +
			"No action is required on your part. Delivery attempts will continue for\n" +
			"some time, and this warning may be repeated at intervals if the message\n" +
			"remains undelivered. Eventually the mail delivery software will give up,\n" +
			"and when that happens, the message will be returned to you.\n"
		r := mustParse(t, raw)
		require.Equal(t, DSN, r.Kind)
		require.Equal(t, id, r.EmailID)
		require.Len(t, r.Recipients, 1)
		require.Equal(t, Recipient{
			Address: "quinn@example.net", Action: "delayed", Status: "4.7.1",
			DiagnosticCode: "host mx.example.net [192.0.2.25]: 451 4.7.1 Greylisted, try again later Delay reason: SMTP error from remote mail server after RCPT TO:<quinn@example.net>:",
		}, r.Recipients[0])
	})
	t.Run("exim failure without a code", func(t *testing.T) {
		raw := "X-Failed-Recipients: gone@example.net\nSubject: Mail delivery failed\n\n" +
			"This message was created automatically by mail delivery software.\n\n" +
			"A message that you sent could not be delivered to one or more of its\n" +
			"recipients. This is a permanent error. The following address(es) failed:\n\n" +
			"  gone@example.net\n    Unrouteable address\n"
		r := mustParse(t, raw)
		require.Equal(t, DSN, r.Kind)
		require.Equal(t, []Recipient{{Address: "gone@example.net", Action: "failed", Status: "5.0.0", DiagnosticCode: "Unrouteable address", Permanent: true}}, r.Recipients)
	})
	t.Run("read receipt", func(t *testing.T) {
		raw := "To: bounces+" + id + "@send.example.com\r\n" +
			"Content-Type: multipart/report; report-type=disposition-notification; boundary=m\r\n\r\n" +
			"--m\r\nContent-Type: text/plain\r\n\r\nYour message was displayed.\r\n" +
			"--m\r\nContent-Type: message/disposition-notification\r\n\r\nFinal-Recipient: rfc822; a@example.net\r\nDisposition: manual-action/MDN-sent-manually; displayed\r\n" +
			"--m--\r\n"
		r := mustParse(t, raw)
		require.Equal(t, Unknown, r.Kind)
		require.Equal(t, id, r.EmailID)
		require.Empty(t, r.Recipients)
	})
	t.Run("human mail", func(t *testing.T) {
		r := mustParse(t, "From: a@example.net\nTo: b@example.com\nSubject: hi\n\nThe following address(es) failed: none, it is just me.\n")
		require.Equal(t, &Report{Kind: Unknown}, r)
	})
	t.Run("person quoting a bounce", func(t *testing.T) {
		raw := "From: a@example.net\nTo: bounces+" + id + "@send.example.com\nSubject: what is this?\n\n" +
			"Hello, I received the message below, can you help?\n" + strings.Repeat("Thanks in advance.\n", 60) +
			"> Hi. This is the qmail-send program at mail.example.net.\n> <chris@example.net>:\n> 550 no\n"
		r := mustParse(t, raw)
		require.Equal(t, &Report{Kind: Unknown, EmailID: id}, r)
	})
	t.Run("dsn nested in multipart/mixed, base64", func(t *testing.T) {
		raw := "To: bounces+" + id + "@send.example.com\r\nContent-Type: multipart/mixed; boundary=outer\r\n\r\n" +
			"--outer\r\nContent-Type: multipart/report; report-type=delivery-status; boundary=inner\r\n\r\n" +
			"--inner\r\nContent-Type: message/delivery-status\r\nContent-Transfer-Encoding: base64\r\n\r\n" +
			"UmVwb3J0aW5nLU1UQTogZG5zOyBteC5leGFtcGxlLm5ldAoKRmluYWwtUmVjaXBpZW50OiByZmM4\r\n" +
			"MjI7IGFAZXhhbXBsZS5uZXQKQWN0aW9uOiBmYWlsZWQKU3RhdHVzOiA1LjEuMQo=\r\n" +
			"--inner--\r\n--outer--\r\n"
		r := mustParse(t, raw)
		require.Equal(t, DSN, r.Kind)
		require.Equal(t, "mx.example.net", r.ReportingMTA)
		require.Equal(t, []Recipient{{Address: "a@example.net", Action: "failed", Status: "5.1.1", Permanent: true}}, r.Recipients)
	})
	t.Run("no action, status in the diagnostic only", func(t *testing.T) {
		raw := "Content-Type: multipart/report; report-type=delivery-status; boundary=b\n\n--b\nContent-Type: message/delivery-status\n\n" +
			"Reporting-MTA: dns; mx.example.net\n\nFinal-Recipient: <x@Example.net>\nDiagnostic-Code: smtp; 554 rejected\n--b--\n"
		r := mustParse(t, raw)
		require.Equal(t, []Recipient{{Address: "x@example.net", Action: "failed", Status: "5.0.0", DiagnosticCode: "smtp; 554 rejected", Permanent: true}}, r.Recipients)
	})
}
