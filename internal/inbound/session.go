package inbound

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"time"

	"github.com/emersion/go-smtp"
	"golang.org/x/net/idna"

	"github.com/godwit/godwit/internal/mailauth"
	"github.com/godwit/godwit/internal/metrics"
	"github.com/godwit/godwit/internal/panics"
	"github.com/godwit/godwit/internal/report"
	"github.com/godwit/godwit/internal/smtpdata"
	"github.com/godwit/godwit/internal/spool"
	"github.com/godwit/godwit/internal/store"
)

// ReceivingStore is what the MX needs of the store to receive the teams'
// mail.
type ReceivingStore interface {
	// HeldDomain is the team's copy of a domain name that holds it (the
	// only one whose mail the MX may take).
	HeldDomain(ctx context.Context, name string) (*store.Domain, error)
	StoreReceivedEmail(ctx context.Context, e *store.ReceivedEmail, announce store.ReceivedEvent) error
	FindSentEmailByMessageID(ctx context.Context, teamID, messageID string) (string, error)
	// ReceivingRoute is the routing rule and catch-all setting that apply
	// to an address (routing.go).
	ReceivingRoute(ctx context.Context, domainID, local string) (*store.ReceivingRoute, error)
}

// Authenticator checks a received message's SPF, DKIM and DMARC
// (MailAuth: internal/mailauth). reject says the message fails DMARC while
// its From domain's policy is p=reject (sp= for a subdomain).
type Authenticator interface {
	Authenticate(ctx context.Context, raw []byte, ip net.IP, helo, mailFrom string) (auth store.ReceivedAuth, reject bool)
}

// MailAuth is the MX's Authenticator: internal/mailauth's checks, as the
// store keeps them.
type MailAuth struct{ Checker *mailauth.Checker }

// Authenticate implements Authenticator.
func (a MailAuth) Authenticate(ctx context.Context, raw []byte, ip net.IP, helo, mailFrom string) (store.ReceivedAuth, bool) {
	r := a.Checker.Check(ctx, raw, ip, helo, mailFrom)
	return store.ReceivedAuth{SPF: r.SPF, DKIM: r.DKIM, DMARC: r.DMARC, ARC: r.ARC, Details: r.Details, Results: r.Header},
		r.DMARC == "fail" && r.Policy == "reject"
}

// Replies of the MX.
var (
	errNoSuchUser = &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "No such recipient here"}
	errTryLater   = &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "Try again later"}
	errBareLF     = &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 6, 0},
		Message: "Message refused: bare LF or CR; lines must end with CRLF"}
	errNotMessage = &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 6, 0}, Message: "Message refused: not an RFC 5322 message"}
	errDataRead   = &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 4, 2}, Message: "Error reading the message; try again"}
	errDMARC      = &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 7, 1},
		Message: "Message refused: it fails DMARC and its domain's policy is reject"}
)

// session is one SMTP transaction at a time on one connection.
type session struct {
	b        *Backend
	remote   string // the client's address, ip:port
	ip       net.IP
	helo     string
	mailFrom string
	reports  []string   // ids of the emails the report recipients name
	teams    []*receipt // the teams whose receiving domains were named, in RCPT order
}

// receipt is the recipients of one team in a transaction: the message is
// stored once for each team it reaches.
type receipt struct {
	teamID, domainID string
	rcpts            []string
	rejectDMARC      bool                   // the domain refuses mail failing DMARC under p=reject
	rules            []*store.ReceivingRule // each recipient's routing rule, nil for the default (store)
}

// NewSession implements smtp.Backend.
func (b *Backend) NewSession(c *smtp.Conn) (smtp.Session, error) {
	s := &session{b: b, remote: c.Conn().RemoteAddr().String(), helo: c.Hostname()}
	if host, _, err := net.SplitHostPort(s.remote); err == nil {
		s.ip = net.ParseIP(host)
	}
	return s, nil
}

func (s *session) Mail(from string, _ *smtp.MailOptions) error {
	s.mailFrom = from
	return nil
}

// Rcpt accepts the bounces+<email-id>@ addresses of existing emails, and
// any address at a team's receiving domain that is ready to receive
// (verified MX record). Everything else is refused here, so the MX is no
// relay and never bounces mail itself.
func (s *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if id := report.EmailIDFromAddress(to); id != "" {
		if _, err := s.b.Store.GetEmailForEvent(ctx, id); errors.Is(err, store.ErrNotFound) {
			return s.refuseRcpt(to, "no such email")
		} else if err != nil {
			s.b.logger().Error("inbound: looking up an email", "error", err)
			s.b.Metrics.Inbound(metrics.InboundDeferred)
			return errTryLater
		}
		s.reports = append(s.reports, id)
		return nil
	}
	if s.b.Receiving == nil {
		return s.refuseRcpt(to, "not a return-path address")
	}
	domain, ok := rcptDomain(to)
	if !ok {
		return s.refuseRcpt(to, "not an address")
	}
	d, err := s.b.heldDomain(ctx, domain)
	if errors.Is(err, store.ErrNotFound) || (err == nil && !d.Ready(store.CapabilityReceiving)) {
		return s.refuseRcpt(to, "no receiving domain")
	}
	if err != nil {
		s.b.logger().Error("inbound: looking up a receiving domain", "error", err)
		s.b.Metrics.Inbound(metrics.InboundDeferred)
		return errTryLater
	}
	rule, err := s.route(ctx, d, to)
	if err != nil {
		return err
	}
	for _, r := range s.teams {
		if r.teamID == d.TeamID {
			r.rcpts, r.rules = append(r.rcpts, to), append(r.rules, rule)
			return nil
		}
	}
	s.teams = append(s.teams, &receipt{teamID: d.TeamID, domainID: d.ID, rcpts: []string{to}, rejectDMARC: d.RejectDMARCFailures,
		rules: []*store.ReceivingRule{rule}})
	return nil
}

func (s *session) refuseRcpt(to, why string) error {
	s.b.Metrics.Inbound(metrics.InboundRefusedRecipient)
	s.b.logger().Debug("inbound: recipient refused", "remote", s.remote, "rcpt", clip(to, 200), "reason", why)
	return errNoSuchUser
}

// rcptDomain is the domain of an address, lower case and in ASCII
// (punycode), as domains are stored.
func rcptDomain(addr string) (string, bool) {
	i := strings.LastIndexByte(addr, '@')
	if i <= 0 || i == len(addr)-1 {
		return "", false
	}
	d, err := idna.Lookup.ToASCII(strings.ToLower(strings.TrimSuffix(addr[i+1:], ".")))
	if err != nil || d == "" {
		return "", false
	}
	return d, true
}

// Data reads the message (into memory up to the spool threshold, past it
// into an unlinked file that is mapped: docs/receiving.md), refusing a
// bare LF or CR (SMTP smuggling), and answers 250 only once it is stored:
// for the reports, recorded; for each team, stored with its email.received
// event in one transaction. A store failure is a 451 (the sender retries:
// a team stored before the failure gets the message twice, never none).
func (s *session) Data(r io.Reader) error {
	data := s.b.newSpool(traceHeadroom)
	defer s.closeSpool(data)
	data.Reserve(traceHeadroom + 32<<10) // most messages need no growing
	_, _ = data.Write(headroom[:])
	err := smtpdata.ReadTo(r, data)
	spoolErr := data.Err()
	var buf []byte
	if err == nil {
		buf, spoolErr = data.Bytes()
		err = spoolErr
	}
	switch {
	case spoolErr != nil:
		// This server's fault (a full disk, a spool directory it cannot
		// use), not the client's: an error for the operator.
		s.b.logger().Error("inbound: spooling a message failed", "remote", s.remote, "spool_dir", s.b.SpoolDir, "error", spoolErr)
		s.b.Metrics.Inbound(metrics.InboundDeferred)
		return errTryLater
	case errors.Is(err, smtpdata.ErrBareNewline):
		s.b.Metrics.Inbound(metrics.InboundRefusedMessage)
		s.b.logger().Warn("inbound: message refused: bare LF or CR in DATA (possible SMTP smuggling)", "remote", s.remote)
		return errBareLF
	case errors.Is(err, smtp.ErrDataTooLarge), errors.Is(err, smtp.ErrDataReset):
		return err
	case err != nil:
		s.b.logger().Info("inbound: reading DATA failed", "remote", s.remote, "error", err.Error())
		return errDataRead
	}
	raw := buf[traceHeadroom:]
	if data.Spilled() {
		s.b.Metrics.InboundSpooled()
		s.b.logger().Info("inbound: message spooled to a file while received", "remote", s.remote, "bytes", len(raw))
	}
	if len(s.reports) > 0 {
		if err := s.reportData(raw); err != nil {
			return err
		}
	}
	if len(s.teams) == 0 {
		return nil
	}
	// The message is untrusted input: a panic while reading it fails this
	// message alone, with a temporary error and a log line.
	var perr error
	err = panics.Catch(func() error { perr = s.receive(buf, data.Spilled()); return nil })
	var p *panics.Error
	if errors.As(err, &p) {
		s.b.logger().Error("inbound: receiving a message panicked", append([]any{slog.String("remote", s.remote)}, p.LogAttrs()...)...)
		s.b.Metrics.Inbound(metrics.InboundDeferred)
		return errTryLater
	}
	return perr
}

func (s *session) reportData(raw []byte) error {
	rep, err := report.Parse(raw)
	if err != nil || rep.Kind == report.Unknown {
		s.b.logger().Info("inbound: not a bounce or complaint; dropped", "remote", s.remote, "bytes", len(raw))
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, id := range s.reports {
		if err := s.b.Record(ctx, id, rep); err != nil {
			s.b.logger().Error("inbound: recording a report", "email_id", id, "error", err)
			s.b.Metrics.Inbound(metrics.InboundDeferred)
			return errTryLater
		}
		s.b.Metrics.Inbound(metrics.InboundReport)
	}
	return nil
}

// traceHeadroom is the room DATA is read after, for the trace fields the
// MX puts on top of a received message: they fit (a Received field and an
// Authentication-Results of at most a few hundred bytes a check), so the
// stored message is not a second copy of a message up to
// --max-inbound-bytes.
const traceHeadroom = 8 << 10

// spooledPartMax is the most of a spooled message's part kept in memory:
// past it the part goes to a file too, so that many parts of just under
// the threshold do not add up to the message in the heap.
const spooledPartMax = 64 << 10

// headroom is what DATA is read after.
var headroom [traceHeadroom]byte

// receive stores the message of buf (after traceHeadroom) for each team it
// reaches. A spooled message (mapped from a file) is parsed with its parts
// spooled too, and stored with scratch memory from files, so that its
// receipt adds no copy of it to the heap.
func (s *session) receive(buf []byte, spooled bool) error {
	raw := buf[traceHeadroom:]
	var parsed *store.ReceivedEmail
	var err error
	if spooled {
		var release func()
		parsed, release, err = ParseSpooled(raw, s.b.SpoolDir, min(s.b.spoolThreshold(), spooledPartMax))
		defer release()
	} else {
		parsed, err = Parse(raw)
	}
	if err != nil && !errors.Is(err, ErrNotMessage) {
		s.b.logger().Error("inbound: reading a spooled message", "remote", s.remote, "bytes", len(raw), "error", err)
		s.b.Metrics.Inbound(metrics.InboundDeferred)
		return errTryLater
	}
	if err != nil {
		s.b.Metrics.Inbound(metrics.InboundRefusedMessage)
		s.b.logger().Info("inbound: message refused: not an RFC 5322 message", "remote", s.remote, "bytes", len(raw))
		return errNotMessage
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var auth store.ReceivedAuth
	reject := false
	if s.b.Auth != nil {
		auth, reject = s.b.Auth.Authenticate(ctx, raw, s.ip, s.helo, s.mailFrom)
	}
	teams := s.teams
	if reject {
		// Each team whose domain refuses such mail does not get it; when
		// none is left the message is refused (one reply answers all).
		teams = nil
		for _, t := range s.teams {
			if !t.rejectDMARC {
				teams = append(teams, t)
				continue
			}
			s.b.logger().Info("inbound: message not stored: it fails DMARC under p=reject", "remote", s.remote,
				"team_id", t.teamID, "domain_id", t.domainID, "from", clip(parsed.From, 200))
		}
		if len(teams) == 0 {
			s.b.Metrics.Inbound(metrics.InboundRefusedMessage)
			return errDMARC
		}
	}
	// What this server adds on top, as an MTA does: the Received trace
	// field and the Authentication-Results of its checks. The stored raw
	// message is what a reader downloads and what forward() re-sends.
	now := s.b.now().UTC()
	trace := s.traceFields(auth, now)
	stored := smtpdata.Prepend(buf, traceHeadroom, []byte(trace.text))
	headers := append(trace.headers, parsed.Headers...)
	for _, t := range teams {
		kept, forwards := s.keep(t)
		if len(kept) == 0 {
			continue // every recipient's rule drops it
		}
		e := *parsed
		e.ID, e.TeamID, e.DomainID, e.CreatedAt = "", t.teamID, t.domainID, now
		e.ReceivedFor = kept
		e.RemoteIP, e.Helo, e.MailFrom, e.Auth = ipString(s.ip), clean(s.helo), clean(s.mailFrom), auth
		e.Raw, e.Size, e.Headers = stored, int64(len(stored)), headers
		e.Attachments = cloneAttachments(parsed.Attachments)
		e.InReplyToEmailID = s.replyTo(ctx, t.teamID, parsed)
		if spooled {
			e.Scratch = spool.Scratch(s.b.SpoolDir)
		}
		if err := s.b.Receiving.StoreReceivedEmail(ctx, &e, s.b.Announce); err != nil {
			s.b.logger().Error("inbound: storing a received email", "team_id", t.teamID, "error", err)
			s.b.Metrics.Inbound(metrics.InboundDeferred)
			return errTryLater
		}
		s.b.Metrics.Inbound(metrics.InboundReceived)
		s.b.logger().Info("email received", "email_id", e.ID, "team_id", t.teamID, "domain_id", t.domainID,
			"from", clip(e.From, 200), "recipients", len(kept), "size", e.Size, "remote_ip", e.RemoteIP,
			"spf", auth.SPF, "dkim", auth.DKIM, "dmarc", auth.DMARC, "in_reply_to_email_id", e.InReplyToEmailID)
		if spooled && len(forwards) > 0 {
			// The accept path keeps what it is given: a copy, not the
			// mapped file, goes with a forward.
			e.Raw = bytes.Clone(e.Raw)
		}
		if err := s.forward(ctx, &e, raw, forwards); err != nil {
			return err
		}
	}
	return nil
}

// trace is the header fields the MX prepends to a received message.
type trace struct {
	text    string // as written at the top of the message
	headers []store.Header
}

func (s *session) traceFields(auth store.ReceivedAuth, now time.Time) trace {
	var t trace
	add := func(name, value string) {
		value = clean(value)
		t.text += name + ": " + value + "\r\n"
		t.headers = append(t.headers, store.Header{Name: name, Value: value})
	}
	// Received first, then the results of the checks made on receipt.
	from := clean(s.helo)
	if from == "" {
		from = "unknown"
	}
	add("Received", fmt.Sprintf("from %s (%s) by %s with ESMTP; %s", clip(from, 200), ipString(s.ip), s.b.Hostname,
		now.Format(time.RFC1123Z)))
	if auth.Results != "" {
		add("Authentication-Results", auth.Results)
	}
	return t
}

// replyTo is the id of the team's sent email the message replies to: the
// first Godwit Message-ID named by In-Reply-To, else by References (newest
// first).
func (s *session) replyTo(ctx context.Context, teamID string, e *store.ReceivedEmail) string {
	var ids []string
	for _, h := range e.Headers {
		switch strings.ToLower(h.Name) {
		case "in-reply-to":
			ids = append(messageIDs(h.Value), ids...)
		case "references":
			refs := messageIDs(h.Value)
			for i := len(refs) - 1; i >= 0; i-- {
				ids = append(ids, refs[i])
			}
		}
	}
	for i, id := range ids {
		if i == 20 {
			break // bounded: a long References chain costs no more
		}
		found, err := s.b.Receiving.FindSentEmailByMessageID(ctx, teamID, id)
		if err == nil {
			return found
		}
		if !errors.Is(err, store.ErrNotFound) {
			s.b.logger().Warn("inbound: looking up a replied-to email", "error", err)
			return ""
		}
	}
	return ""
}

// messageIDs are the <…> ids of a field's value.
func messageIDs(v string) []string {
	var out []string
	for {
		i := strings.IndexByte(v, '<')
		if i < 0 {
			return out
		}
		j := strings.IndexByte(v[i:], '>')
		if j < 0 {
			return out
		}
		out = append(out, v[i:i+j+1])
		v = v[i+j+1:]
	}
}

func cloneAttachments(in []*store.ReceivedAttachment) []*store.ReceivedAttachment {
	out := make([]*store.ReceivedAttachment, len(in))
	for i, a := range in {
		c := *a
		out[i] = &c
	}
	return out
}

func ipString(ip net.IP) string {
	if ip == nil {
		return ""
	}
	return ip.String()
}

func (s *session) Reset() {
	s.mailFrom, s.reports, s.teams = "", nil, nil
}

func (s *session) Logout() error { return nil }

// closeSpool gives back the file of a spooled message, if any.
func (s *session) closeSpool(b *spool.Buffer) {
	if err := b.Close(); err != nil {
		s.b.logger().Warn("inbound: closing a spooled message", "remote", s.remote, "error", err)
	}
}
