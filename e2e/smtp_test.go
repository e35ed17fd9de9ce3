package e2e

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"mime"
	"mime/quotedprintable"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-message"
	_ "github.com/emersion/go-message/charset" // ISO-8859-1 and friends
	"github.com/emersion/go-message/mail"
	"github.com/emersion/go-msgauth/dkim"
	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
	"github.com/stretchr/testify/require"

	"github.com/godwit/godwit/internal/dnscheck"
	"github.com/godwit/godwit/internal/dnscheck/dnstest"
	"github.com/godwit/godwit/internal/godwittest"
	"github.com/godwit/godwit/internal/store/sqlstore"
)

// The email every SMTP test sends, in the forms the checks need.
const (
	smtpDomain   = "smtp.test"
	smtpFromName = "Zoë Müller"
	smtpFrom     = "app@smtp.test"
	smtpSubject  = "Grüße aus Köln — Rechnung №42 ✓"
	// smtpText is all ISO-8859-1, sent quoted-printable in that charset,
	// with a line long enough to be soft-broken.
	smtpText = "Grüße aus Köln, ça va? ½ £ © «Señor» Æøå\n" +
		"Dies ist eine ziemlich lange Zeile, die in quoted-printable mit einem weichen Umbruch über mehr als eine Zeile geht: Öl, Äpfel, Übermut.\n" +
		"-- \nZoë"
	smtpHTML     = `<html><body><p>Grüße aus <b>Köln</b> ✓ — 日本語</p><img src="cid:logo" alt="Logo"></body></html>`
	smtpPDFName  = "Rechnung März №42.pdf"
	smtpRefID    = "ref-42"
	smtpUnsub    = "<https://smtp.test/unsubscribe?u=42>, <mailto:unsubscribe@smtp.test?subject=u42>"
	smtpCalendar = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Godwit//e2e//EN\r\nMETHOD:REQUEST\r\nBEGIN:VEVENT\r\n" +
		"UID:e2e-1@smtp.test\r\nDTSTAMP:20300101T090000Z\r\nDTSTART:20300101T100000Z\r\nDTEND:20300101T110000Z\r\n" +
		"SUMMARY:Réunion mensuelle\r\nORGANIZER;CN=Zoë:mailto:app@smtp.test\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
	smtpCalendarType = "text/calendar; charset=utf-8; method=REQUEST"
)

var (
	smtpTo  = []string{"Alice <alice@dest.test>", "bob@dest.test"}
	smtpCc  = []string{`"Doe, Carol" <carol@dest.test>`}
	smtpBcc = []string{"hidden@dest.test"}
	// smtpRcpts is the envelope: To, Cc and the blind copy.
	smtpRcpts = []string{"alice@dest.test", "bob@dest.test", "carol@dest.test", "hidden@dest.test"}
	smtpPNG   = append([]byte("\x89PNG\r\n\x1a\n"), allBytes(300)...)
	smtpPDF   = append([]byte("%PDF-1.4\n%\xe2\xe3\xcf\xd3\n"), allBytes(700)...)
)

// allBytes is n bytes through every value, so that any mangling shows.
func allBytes(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i * 7)
	}
	return b
}

// smtpMessage writes the test email as a mail client would: every MIME
// shape (mixed › alternative › text/plain in ISO-8859-1 quoted-printable +
// related › html + inline image; a PDF with an RFC 2231 filename; a
// calendar), RFC 2047 Subject and From name, Cc, Reply-To, custom headers
// and, when idemKey is set, a Resend-Idempotency-Key. Each call has its own
// Date and Message-ID, as each retry of a client would.
func smtpMessage(t *testing.T, idemKey string) []byte {
	t.Helper()
	latin1 := toLatin1(t, strings.ReplaceAll(smtpText, "\n", "\r\n"))
	var b bytes.Buffer
	w := func(format string, args ...any) { fmt.Fprintf(&b, format+"\r\n", args...) }
	w("From: %s <%s>", mime.QEncoding.Encode("ISO-8859-1", string(toLatin1(t, smtpFromName))), smtpFrom)
	w("To: %s", strings.Join(smtpTo, ",\r\n "))
	w("Cc: %s", strings.Join(smtpCc, ", "))
	w("Reply-To: support@smtp.test")
	w("Subject: %s", mime.BEncoding.Encode("UTF-8", smtpSubject))
	w("Date: %s", time.Now().Format(time.RFC1123Z))
	w("Message-ID: <%d.client@laptop.example>", time.Now().UnixNano())
	w("MIME-Version: 1.0")
	w("List-Unsubscribe: %s", smtpUnsub)
	w("List-Unsubscribe-Post: List-Unsubscribe=One-Click")
	if idemKey != "" {
		w("Resend-Idempotency-Key: %s", idemKey)
	}
	w("X-Entity-Ref-ID: %s", smtpRefID)
	w(`Content-Type: multipart/mixed; boundary="=_mixed"`)
	w("")
	w("This is a multi-part message in MIME format.")
	w("--=_mixed")
	w(`Content-Type: multipart/alternative; boundary="=_alt"`)
	w("")
	w("--=_alt")
	w("Content-Type: text/plain; charset=ISO-8859-1")
	w("Content-Transfer-Encoding: quoted-printable")
	w("")
	w("%s", qp(latin1))
	w("--=_alt")
	w(`Content-Type: multipart/related; boundary="=_rel"; type="text/html"`)
	w("")
	w("--=_rel")
	w("Content-Type: text/html; charset=UTF-8")
	w("Content-Transfer-Encoding: quoted-printable")
	w("")
	w("%s", qp([]byte(smtpHTML)))
	w("--=_rel")
	w("Content-Type: image/png")
	w("Content-Transfer-Encoding: base64")
	w("Content-ID: <logo>")
	w(`Content-Disposition: inline; filename="logo.png"`)
	w("")
	w("%s", b64(smtpPNG))
	w("--=_rel--")
	w("")
	w("--=_alt--")
	w("")
	w("--=_mixed")
	w("Content-Type: application/pdf")
	w("Content-Transfer-Encoding: base64")
	// RFC 2231: charset, percent-encoding and continuations.
	w("Content-Disposition: attachment;\r\n filename*0*=UTF-8''Rechnung%%20M%%C3%%A4rz%%20;\r\n filename*1*=%%E2%%84%%9642.pdf")
	w("")
	w("%s", b64(smtpPDF))
	w("--=_mixed")
	w("Content-Type: text/calendar; charset=UTF-8; method=REQUEST")
	w("Content-Transfer-Encoding: base64")
	w(`Content-Disposition: attachment; filename="invite.ics"`)
	w("")
	w("%s", b64([]byte(smtpCalendar)))
	w("--=_mixed--")
	return b.Bytes()
}

// toLatin1 writes s, all ISO-8859-1, in that charset.
func toLatin1(t *testing.T, s string) []byte {
	t.Helper()
	var out []byte
	for _, r := range s {
		require.Less(t, r, rune(256), "%q is ISO-8859-1", s)
		out = append(out, byte(r))
	}
	return out
}

func qp(b []byte) string {
	var out bytes.Buffer
	w := quotedprintable.NewWriter(&out)
	_, _ = w.Write(b)
	_ = w.Close()
	return out.String()
}

func b64(b []byte) string {
	s := base64.StdEncoding.EncodeToString(b)
	var lines []string
	for len(s) > 76 {
		lines = append(lines, s[:76])
		s = s[76:]
	}
	return strings.Join(append(lines, s), "\r\n")
}

// smtpJSON is the same email as POST /emails takes it.
func smtpJSON(t *testing.T) string {
	t.Helper()
	body, err := json.Marshal(map[string]any{
		"from":     smtpFromName + " <" + smtpFrom + ">",
		"to":       smtpTo,
		"cc":       smtpCc,
		"bcc":      smtpBcc,
		"reply_to": "support@smtp.test",
		"subject":  smtpSubject,
		"text":     smtpText,
		"html":     smtpHTML,
		"headers": map[string]string{
			"List-Unsubscribe":      smtpUnsub,
			"List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
			"X-Entity-Ref-ID":       smtpRefID,
		},
		"attachments": []map[string]string{
			{"filename": "logo.png", "content": base64.StdEncoding.EncodeToString(smtpPNG), "content_type": "image/png", "content_id": "logo"},
			{"filename": smtpPDFName, "content": base64.StdEncoding.EncodeToString(smtpPDF), "content_type": "application/pdf"},
			{"filename": "invite.ics", "content": base64.StdEncoding.EncodeToString([]byte(smtpCalendar)), "content_type": smtpCalendarType},
		},
	})
	require.NoError(t, err)
	return string(body)
}

// smtpServers returns the submission listeners a server logged, by their
// "tls" attribute ("STARTTLS", "implicit", …), once there are n of them.
func smtpServers(t *testing.T, s *server, n int) map[string]string {
	t.Helper()
	var got map[string]string
	waitFor(t, "the SMTP submission listeners", func() bool {
		got = map[string]string{}
		for _, line := range strings.Split(s.stderr.String(), "\n") {
			var rec struct {
				Msg      string `json:"msg"`
				SMTPAddr string `json:"smtp_addr"`
				TLS      string `json:"tls"`
			}
			if json.Unmarshal([]byte(line), &rec) == nil && rec.Msg == "serving SMTP submission" {
				got[rec.TLS] = rec.SMTPAddr
			}
		}
		return len(got) >= n
	})
	return got
}

// smtpDial connects to a submission listener, over STARTTLS or implicit
// TLS, and authenticates with a.
func smtpDial(t *testing.T, addr string, implicitTLS bool, roots *x509.CertPool, a sasl.Client) *smtp.Client {
	t.Helper()
	cfg := &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}
	var c *smtp.Client
	var err error
	if implicitTLS {
		c, err = smtp.DialTLS(addr, cfg)
	} else {
		c, err = smtp.DialStartTLS(addr, cfg)
	}
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })
	c.CommandTimeout, c.SubmissionTimeout = 10*time.Second, 10*time.Second
	require.NoError(t, c.Auth(a))
	state, ok := c.TLSConnectionState()
	require.True(t, ok && state.HandshakeComplete, "the session is encrypted")
	return c
}

var queuedRE = regexp.MustCompile(`^(?:2\.0\.0 )?OK: queued as ([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$`)

// smtpSend sends one message on c and returns the email id of the reply.
func smtpSend(c *smtp.Client, from string, rcpts []string, msg []byte) (string, error) {
	if err := c.Mail(from, nil); err != nil {
		return "", err
	}
	for _, r := range rcpts {
		if err := c.Rcpt(r, nil); err != nil {
			return "", err
		}
	}
	w, err := c.Data()
	if err != nil {
		return "", err
	}
	if _, err := w.Write(msg); err != nil {
		return "", err
	}
	resp, err := w.CloseWithResponse()
	if err != nil {
		return "", err
	}
	m := queuedRE.FindStringSubmatch(resp.StatusText)
	if m == nil {
		return "", fmt.Errorf("unexpected reply %q", resp.StatusText)
	}
	return m[1], nil
}

// smtpKeyAndDomain waits for the first key and verifies smtp.test.
func smtpKeyAndDomain(t *testing.T, s *server, dns *dnstest.Server) string {
	t.Helper()
	waitFor(t, "the first start to print a key", func() bool { return tokenRE.MatchString(s.stdout.String()) })
	key := tokenRE.FindString(s.stdout.String())
	verifiedDomain(t, s, key, dns, smtpDomain)
	return key
}

// newMXSink starts an MX on loopback that keeps what it accepts.
func newMXSink(t *testing.T, opts godwittest.MXOptions) *godwittest.MX {
	t.Helper()
	opts.Domain = "mx.dest.test"
	return godwittest.NewMX(t, opts)
}

// mimeLeaf is one decoded leaf of a parsed message.
type mimeLeaf struct {
	Path        string
	Type        string
	Params      map[string]string // without boundary
	Disposition string
	Filename    string
	ContentID   string
	Body        string // decoded: transfer encoding, and charset for text/*
}

// parsedMail is a message as a reader sees it.
type parsedMail struct {
	Header mail.Header
	Tree   []string // "path media/type" for every entity, multiparts included
	Leaves []mimeLeaf
}

func parseMail(t *testing.T, raw []byte) parsedMail {
	t.Helper()
	e, err := message.Read(bytes.NewReader(raw))
	require.NoError(t, err)
	p := parsedMail{Header: mail.Header{Header: e.Header.Copy()}}
	err = e.Walk(func(path []int, part *message.Entity, err error) error {
		if err != nil {
			return err
		}
		mt, params, err := part.Header.ContentType()
		if err != nil {
			return err
		}
		where := fmt.Sprint(path)
		p.Tree = append(p.Tree, where+" "+mt)
		if strings.HasPrefix(mt, "multipart/") {
			return nil
		}
		delete(params, "boundary")
		ah := mail.AttachmentHeader{Header: part.Header}
		disp, _, _ := ah.ContentDisposition()
		name, err := ah.Filename()
		if err != nil {
			return err
		}
		body, err := io.ReadAll(part.Body)
		if err != nil {
			return err
		}
		p.Leaves = append(p.Leaves, mimeLeaf{Path: where, Type: mt, Params: params, Disposition: disp,
			Filename: name, ContentID: part.Header.Get("Content-Id"), Body: string(body)})
		return nil
	})
	require.NoError(t, err)
	return p
}

func (p parsedMail) leaf(t *testing.T, path string) mimeLeaf {
	t.Helper()
	for _, l := range p.Leaves {
		if l.Path == path {
			return l
		}
	}
	t.Fatalf("no part %s in %v", path, p.Tree)
	return mimeLeaf{}
}

// wantTree is the structure of the test email, as sent and as delivered.
var wantTree = []string{
	"[] multipart/mixed",
	"[0] multipart/alternative",
	"[0 0] text/plain",
	"[0 1] multipart/related",
	"[0 1 0] text/html",
	"[0 1 1] image/png",
	"[1] application/pdf",
	"[2] text/calendar",
}

// checkDelivered checks a delivered copy of the test email: its structure,
// every decoded part, and its header.
func checkDelivered(t *testing.T, raw []byte, id string) {
	t.Helper()
	p := parseMail(t, raw)
	require.Equal(t, wantTree, p.Tree)

	text := p.leaf(t, "[0 0]")
	require.Equal(t, smtpText, strings.ReplaceAll(text.Body, "\r\n", "\n"), "text/plain, non-ASCII intact")
	html := p.leaf(t, "[0 1 0]")
	require.Equal(t, smtpHTML, strings.ReplaceAll(html.Body, "\r\n", "\n"))
	img := p.leaf(t, "[0 1 1]")
	require.Equal(t, string(smtpPNG), img.Body, "inline image bytes")
	require.Equal(t, "<logo>", img.ContentID)
	require.NotEqual(t, "attachment", img.Disposition)
	pdf := p.leaf(t, "[1]")
	require.Equal(t, string(smtpPDF), pdf.Body, "pdf bytes")
	require.Equal(t, smtpPDFName, pdf.Filename)
	require.Equal(t, "attachment", pdf.Disposition)
	cal := p.leaf(t, "[2]")
	require.Equal(t, smtpCalendar, cal.Body, "calendar bytes")
	require.Equal(t, "invite.ics", cal.Filename)
	require.Equal(t, "REQUEST", cal.Params["method"])

	h := p.Header
	subject, err := h.Subject()
	require.NoError(t, err)
	require.Equal(t, smtpSubject, subject)
	from, err := h.AddressList("From")
	require.NoError(t, err)
	require.Len(t, from, 1)
	require.Equal(t, smtpFromName, from[0].Name)
	require.Equal(t, smtpFrom, from[0].Address)
	to, err := h.AddressList("To")
	require.NoError(t, err)
	require.Len(t, to, 2)
	require.Equal(t, "Alice", to[0].Name)
	require.Equal(t, "bob@dest.test", to[1].Address)
	cc, err := h.AddressList("Cc")
	require.NoError(t, err)
	require.Len(t, cc, 1)
	require.Equal(t, "Doe, Carol", cc[0].Name)
	replyTo, err := h.AddressList("Reply-To")
	require.NoError(t, err)
	require.Len(t, replyTo, 1)
	require.Equal(t, "support@smtp.test", replyTo[0].Address)
	msgID, err := h.MessageID()
	require.NoError(t, err)
	require.Equal(t, id+"@"+smtpDomain, msgID, "Godwit's Message-ID replaces the client's")
	require.Equal(t, smtpRefID, h.Get("X-Entity-Ref-ID"))
	require.Equal(t, smtpUnsub, h.Get("List-Unsubscribe"))
	require.Equal(t, "List-Unsubscribe=One-Click", h.Get("List-Unsubscribe-Post"))
	require.False(t, h.Has("Bcc"), "no Bcc header")
	require.NotContains(t, string(raw), "hidden@dest.test", "the blind copy is in the envelope only")
	require.False(t, h.Has("Resend-Idempotency-Key"), "the idempotency key is not passed on")
}

// verifyDKIM checks that raw carries a valid signature by domain, with the
// keys published in the DNS server.
func verifyDKIM(t *testing.T, dns *dnstest.Server, raw []byte, domain string) {
	t.Helper()
	res := &dnscheck.Resolver{Addr: dns.Addr(), Timeout: 2 * time.Second}
	vs, err := dkim.VerifyWithOptions(bytes.NewReader(raw), &dkim.VerifyOptions{
		LookupTXT: func(name string) ([]string, error) { return res.LookupTXT(context.Background(), name) },
	})
	require.NoError(t, err)
	require.NotEmpty(t, vs, "the message is signed")
	for _, v := range vs {
		require.NoError(t, v.Err, "signature by %s", v.Domain)
		require.Equal(t, domain, v.Domain)
	}
}

// TestSMTPSubmissionDelivered submits one message with every MIME shape
// over STARTTLS (AUTH PLAIN) and over implicit TLS (AUTH LOGIN) to the real
// binary, and checks what reaches the recipients' MX: every recipient,
// DKIM-signed for the domain, every part intact; and what the API shows.
func TestSMTPSubmissionDelivered(t *testing.T) {
	for _, kind := range godwittest.Kinds {
		t.Run(string(kind), func(t *testing.T) {
			dir := t.TempDir()
			certFile, keyFile, roots := selfSigned(t, dir)
			dns := dnstest.NewServer(t)
			mx := newMXSink(t, godwittest.MXOptions{})
			args := []string{"--data-dir", dir, "--tls-cert", certFile, "--tls-key", keyFile,
				"--smtp-addr", "127.0.0.1:0", "--smtps-addr", "127.0.0.1:0",
				"--dns-resolver", dns.Addr(), "--delivery", "relay", "--relay-url", "smtp://" + mx.Addr()}
			if kind == sqlstore.Postgres {
				args = append(args, "--database-url", godwittest.StoreURL(t, kind))
			}
			s := start(t, args...)
			s.url = strings.Replace(s.url, "http://", "https://", 1) // --tls-cert serves the API over TLS too
			key := smtpKeyAndDomain(t, s, dns)
			listeners := smtpServers(t, s, 2)
			require.Contains(t, listeners, "STARTTLS")
			require.Contains(t, listeners, "implicit")

			c := smtpDial(t, listeners["STARTTLS"], false, roots, sasl.NewPlainClient("", "resend", key))
			id1, err := smtpSend(c, smtpFrom, smtpRcpts, smtpMessage(t, "delivered-starttls"))
			require.NoError(t, err)
			require.NoError(t, c.Quit())
			c = smtpDial(t, listeners["implicit"], true, roots, sasl.NewLoginClient("resend", key))
			id2, err := smtpSend(c, smtpFrom, smtpRcpts, smtpMessage(t, "delivered-implicit"))
			require.NoError(t, err)
			require.NoError(t, c.Quit())
			require.NotEqual(t, id1, id2)

			for _, id := range []string{id1, id2} {
				msgID := "<" + id + "@" + smtpDomain + ">"
				var got []godwittest.MXMessage
				waitFor(t, "the message at the MX for every recipient", func() bool {
					got = mx.ForMessageID(msgID)
					var rcpts []string
					for _, m := range got {
						rcpts = append(rcpts, m.Rcpts...)
					}
					slices.Sort(rcpts)
					return slices.Equal(slices.Compact(rcpts), smtpRcpts)
				})
				for _, m := range got {
					verifyDKIM(t, dns, m.Data, smtpDomain)
					checkDelivered(t, m.Data, id)
				}

				status, body, err := request("GET", s.url+"/emails/"+id, key, "")
				require.NoError(t, err)
				require.Equal(t, 200, status, "%v", body)
				require.Equal(t, smtpFromName+" <"+smtpFrom+">", body["from"])
				require.Equal(t, anyList(smtpTo), body["to"])
				require.Equal(t, anyList(smtpCc), body["cc"])
				require.Equal(t, anyList(smtpBcc), body["bcc"])
				require.Equal(t, []any{"support@smtp.test"}, body["reply_to"])
				require.Equal(t, smtpSubject, body["subject"])
				require.Equal(t, smtpText, body["text"])
				require.Equal(t, smtpHTML, body["html"])
				waitFor(t, "the email to be delivered", func() bool {
					_, body, err := request("GET", s.url+"/emails/"+id, key, "")
					return err == nil && body["last_event"] == "delivered"
				})
			}
			require.ElementsMatch(t, []string{id1, id2}, listedIDs(t, s, key))
		})
	}
}

func anyList(l []string) []any {
	out := make([]any, len(l))
	for i, s := range l {
		out[i] = s
	}
	return out
}

// listedIDs returns the ids GET /emails lists.
func listedIDs(t *testing.T, s *server, key string) []string {
	t.Helper()
	status, body, err := request("GET", s.url+"/emails?limit=100", key, "")
	require.NoError(t, err)
	require.Equal(t, 200, status, "%v", body)
	var ids []string
	for _, e := range body["data"].([]any) {
		ids = append(ids, e.(map[string]any)["id"].(string))
	}
	return ids
}

// captured returns the message stored for id by --delivery capture.
func captured(t *testing.T, s *server, key, id string) []byte {
	t.Helper()
	var raw []byte
	waitFor(t, "the captured message of "+id, func() bool {
		req, err := http.NewRequest("GET", s.url+"/emails/"+id+"/captured", nil)
		require.NoError(t, err)
		req.Header.Set("Authorization", "Bearer "+key)
		resp, err := apiClient.Do(req)
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		raw, err = io.ReadAll(resp.Body)
		return err == nil && resp.StatusCode == 200
	})
	return raw
}

// TestSMTPAndAPIStoreTheSameEmail sends one email over SMTP and the same
// email with POST /emails: the API shows the same email for both, and the
// messages Godwit builds for them are the same, part for part.
func TestSMTPAndAPIStoreTheSameEmail(t *testing.T) {
	dir := t.TempDir()
	dns := dnstest.NewServer(t)
	s := start(t, "--data-dir", dir, "--smtp-addr", "127.0.0.1:0", "--dns-resolver", dns.Addr(), "--delivery", "capture")
	key := smtpKeyAndDomain(t, s, dns)
	addr := smtpServers(t, s, 1)
	require.Len(t, addr, 1)

	// On loopback without a certificate, AUTH works in the clear.
	conn, err := smtp.Dial(slices.Collect(maps.Values(addr))[0])
	require.NoError(t, err)
	t.Cleanup(func() { _ = conn.Close() })
	require.NoError(t, conn.Auth(sasl.NewPlainClient("", "resend", key)))
	viaSMTP, err := smtpSend(conn, smtpFrom, smtpRcpts, smtpMessage(t, ""))
	require.NoError(t, err)
	require.NoError(t, conn.Quit())

	status, body, err := request("POST", s.url+"/emails", key, smtpJSON(t))
	require.NoError(t, err)
	require.Equal(t, 200, status, "%v", body)
	viaAPI := body["id"].(string)

	rawSMTP, rawAPI := captured(t, s, key, viaSMTP), captured(t, s, key, viaAPI)
	get := func(id string) map[string]any {
		var body map[string]any
		waitFor(t, "email "+id+" to be delivered", func() bool {
			var err error
			_, body, err = request("GET", s.url+"/emails/"+id, key, "")
			return err == nil && body["last_event"] == "delivered"
		})
		for _, k := range []string{"id", "created_at", "message_id"} {
			delete(body, k)
		}
		return body
	}
	require.Equal(t, get(viaAPI), get(viaSMTP), "GET /emails/{id}")

	mSMTP, mAPI := parseMail(t, rawSMTP), parseMail(t, rawAPI)
	require.Equal(t, mAPI.Tree, mSMTP.Tree)
	require.Equal(t, wantTree, mSMTP.Tree)
	require.Equal(t, mAPI.Leaves, mSMTP.Leaves, "decoded parts")
	require.Equal(t, headerFields(mAPI.Header), headerFields(mSMTP.Header), "header fields")
	checkDelivered(t, rawSMTP, viaSMTP)
	checkDelivered(t, rawAPI, viaAPI)
}

// headerFields lists a message's header fields, decoded, less those that
// differ for every message (Date, Message-ID, the signature, the
// boundary).
func headerFields(h mail.Header) []string {
	var out []string
	fs := h.Fields()
	for fs.Next() {
		switch strings.ToLower(fs.Key()) {
		case "date", "message-id", "dkim-signature", "content-type":
			continue
		}
		v, err := fs.Text()
		if err != nil {
			v = fs.Value()
		}
		out = append(out, fs.Key()+": "+v)
	}
	return out
}

// TestSMTPIdempotency: a message sent again with the same
// Resend-Idempotency-Key (a client's retry, with a new Date and
// Message-ID) is answered with the first email's id and stored once; the
// same key on another message is refused.
func TestSMTPIdempotency(t *testing.T) {
	dir := t.TempDir()
	dns := dnstest.NewServer(t)
	s := start(t, "--data-dir", dir, "--smtp-addr", "127.0.0.1:0", "--dns-resolver", dns.Addr(), "--delivery", "capture")
	key := smtpKeyAndDomain(t, s, dns)
	addr := slices.Collect(maps.Values(smtpServers(t, s, 1)))[0]

	send := func(msg []byte) (string, error) {
		c, err := smtp.Dial(addr)
		require.NoError(t, err)
		defer c.Close()
		c.CommandTimeout, c.SubmissionTimeout = 10*time.Second, 10*time.Second
		require.NoError(t, c.Auth(sasl.NewLoginClient("resend", key)))
		return smtpSend(c, smtpFrom, smtpRcpts, msg)
	}
	first, err := send(smtpMessage(t, "order-42"))
	require.NoError(t, err)
	again, err := send(smtpMessage(t, "order-42"))
	require.NoError(t, err)
	require.Equal(t, first, again, "the retry gets the first email's id")

	other := bytes.Replace(smtpMessage(t, "order-42"), []byte("X-Entity-Ref-ID: "+smtpRefID), []byte("X-Entity-Ref-ID: ref-43"), 1)
	_, err = send(other)
	var smtpErr *smtp.SMTPError
	require.True(t, errors.As(err, &smtpErr), "%v", err)
	require.Equal(t, 550, smtpErr.Code)
	require.Contains(t, smtpErr.Message, "Resend-Idempotency-Key already used")

	require.Equal(t, []string{first}, listedIDs(t, s, key), "one email is stored")
}

// nodemailer returns the node binary for e2e/node/smtp.mjs, which needs
// nodemailer installed there (`npm ci`; .ci/run does it). Without it the
// test skips, except in CI, where it fails.
func nodemailer(t *testing.T) string {
	t.Helper()
	node, err := exec.LookPath("node")
	if err == nil {
		_, err = os.Stat(filepath.Join("node", "node_modules", "nodemailer", "package.json"))
	}
	if err != nil {
		if godwittest.InCI() {
			t.Fatalf("this test needs node and `npm ci` in e2e/node: %v", err)
		}
		t.Skipf("nodemailer not installed (run `npm ci` in e2e/node): %v", err)
	}
	return node
}

// TestNodemailerSMTP sends with nodemailer, configured as for Resend's SMTP
// relay, over STARTTLS and implicit TLS: the reply names the email, which
// the API lists, and the message Godwit builds keeps its parts.
func TestNodemailerSMTP(t *testing.T) {
	node := nodemailer(t)
	dir := t.TempDir()
	certFile, keyFile, _ := selfSigned(t, dir)
	dns := dnstest.NewServer(t)
	s := start(t, "--data-dir", dir, "--tls-cert", certFile, "--tls-key", keyFile,
		"--smtp-addr", "127.0.0.1:0", "--smtps-addr", "127.0.0.1:0", "--dns-resolver", dns.Addr(), "--delivery", "capture")
	s.url = strings.Replace(s.url, "http://", "https://", 1)
	key := smtpKeyAndDomain(t, s, dns)
	listeners := smtpServers(t, s, 2)
	_, smtpPort, _ := net.SplitHostPort(listeners["STARTTLS"])
	_, smtpsPort, _ := net.SplitHostPort(listeners["implicit"])

	cmd := exec.Command(node, "smtp.mjs")
	cmd.Dir = "node"
	cmd.Env = append(os.Environ(), "SMTP_PORT="+smtpPort, "SMTPS_PORT="+smtpsPort, "SMTP_CA="+certFile, "RESEND_API_KEY="+key)
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", out)
	var got map[string]struct {
		Response string   `json:"response"`
		Accepted []string `json:"accepted"`
	}
	require.NoError(t, json.Unmarshal(out, &got), "%s", out)
	require.Len(t, got, 2, "%s", out)

	var ids []string
	for name, r := range got {
		m := regexp.MustCompile(`^250 2\.0\.0 OK: queued as ([0-9a-f-]{36})$`).FindStringSubmatch(r.Response)
		require.NotNil(t, m, "%s: %q", name, r.Response)
		require.ElementsMatch(t, smtpRcpts, r.Accepted, name)
		id := m[1]
		ids = append(ids, id)

		status, body, err := request("GET", s.url+"/emails/"+id, key, "")
		require.NoError(t, err)
		require.Equal(t, 200, status, "%v", body)
		require.Equal(t, "Zoë Müller <app@smtp.test>", body["from"])
		require.Equal(t, anyList(smtpTo), body["to"])
		require.Equal(t, anyList(smtpCc), body["cc"])
		require.Equal(t, anyList(smtpBcc), body["bcc"])
		require.Equal(t, "Grüße from nodemailer ✓", body["subject"])
		require.Equal(t, "Grüße aus Köln — plain text", body["text"])

		p := parseMail(t, captured(t, s, key, id))
		require.Equal(t, "node-1", p.Header.Get("X-Entity-Ref-ID"))
		require.False(t, p.Header.Has("Resend-Idempotency-Key"))
		var inline, pdf bool
		for _, l := range p.Leaves {
			switch {
			case l.ContentID == "<logo@smtp.test>":
				inline = l.Body == "\x89PNG\x00\x01\x02\xff"
			case l.Filename == "Rechnung März.pdf":
				pdf = l.Body == "%PDF-1.4 fake"
			}
		}
		require.True(t, inline && pdf, "the inline image and the attachment arrive intact: %v", p.Tree)
	}
	require.ElementsMatch(t, ids, listedIDs(t, s, key))
}
