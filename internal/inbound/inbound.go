// Package inbound is Godwit's MX for its return-path addresses: it receives
// the bounces (RFC 3464 delivery status notifications) and complaints (RFC
// 5965 feedback reports) that arrive after an email was handed over, finds
// the email through the bounces+<email-id>@ envelope address (or the report's
// own references), and records them as the delivery worker records a
// bounce: events, webhooks and the suppression list.
//
// Only addresses that name an existing email are accepted, at RCPT time;
// anything else is refused there, so Godwit never sends a bounce of its
// own back to a forged sender. A report that cannot be understood is
// accepted, logged and dropped.
package inbound

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/emersion/go-smtp"

	"github.com/godwit/godwit/internal/events"
	"github.com/godwit/godwit/internal/report"
	"github.com/godwit/godwit/internal/store"
)

// MaxMessageBytes bounds a report (they carry at most the original's headers
// or the original message).
const MaxMessageBytes = 10 << 20

// Store is what the MX needs of the store.
type Store interface {
	GetEmailForEvent(ctx context.Context, id string) (*store.Email, error)
	RecordDelivery(ctx context.Context, o *store.DeliveryOutcome) error
}

// Backend is the go-smtp backend of the MX.
type Backend struct {
	Store  Store
	Now    func() time.Time
	Logger *slog.Logger
}

// NewServer returns an SMTP server for b with bounded sessions; the caller
// sets its Addr (and TLSConfig to offer STARTTLS) and serves it.
func NewServer(b *Backend, domain string) *smtp.Server {
	s := smtp.NewServer(b)
	s.Domain = domain
	s.MaxMessageBytes = MaxMessageBytes
	s.MaxRecipients = 10
	s.ReadTimeout = time.Minute
	s.WriteTimeout = time.Minute
	s.ErrorLog = slog.NewLogLogger(b.logger().Handler(), slog.LevelDebug)
	return s
}

func (b *Backend) logger() *slog.Logger {
	if b.Logger != nil {
		return b.Logger
	}
	return slog.New(slog.DiscardHandler)
}

func (b *Backend) now() time.Time {
	if b.Now != nil {
		return b.Now()
	}
	return time.Now()
}

// NewSession implements smtp.Backend.
func (b *Backend) NewSession(c *smtp.Conn) (smtp.Session, error) {
	return &session{b: b, remote: c.Conn().RemoteAddr().String()}, nil
}

type session struct {
	b      *Backend
	remote string
	emails []string // ids of the emails the accepted recipients name
}

var errNoSuchUser = &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "No such recipient here"}

func (s *session) Mail(string, *smtp.MailOptions) error { return nil }

// Rcpt accepts only bounces+<email-id>@ addresses of existing emails.
func (s *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	id := report.EmailIDFromAddress(to)
	if id == "" {
		return errNoSuchUser
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := s.b.Store.GetEmailForEvent(ctx, id); errors.Is(err, store.ErrNotFound) {
		return errNoSuchUser
	} else if err != nil {
		s.b.logger().Error("inbound: looking up an email", "error", err)
		return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "Try again later"}
	}
	s.emails = append(s.emails, id)
	return nil
}

func (s *session) Data(r io.Reader) error {
	raw, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	rep, err := report.Parse(raw)
	if err != nil || rep.Kind == report.Unknown {
		s.b.logger().Info("inbound: not a bounce or complaint; dropped", "remote", s.remote, "bytes", len(raw))
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, id := range s.emails {
		if err := s.b.Record(ctx, id, rep); err != nil {
			s.b.logger().Error("inbound: recording a report", "email_id", id, "error", err)
			return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "Try again later"}
		}
	}
	return nil
}

func (s *session) Reset()        { s.emails = nil }
func (s *session) Logout() error { return nil }

// Record applies a parsed report to the email: failed recipients of a DSN
// bounce (Permanent for a 5.x.x status, and suppressed; Transient
// otherwise), the complained-about recipients of an ARF report complain
// (and are suppressed). Delay and success notices change nothing.
func (b *Backend) Record(ctx context.Context, emailID string, rep *report.Report) error {
	e, err := b.Store.GetEmailForEvent(ctx, emailID)
	if err != nil {
		return err
	}
	now := b.now().UTC()
	out := &store.DeliveryOutcome{EmailID: e.ID, TeamID: e.TeamID, SuppressionAdded: events.SuppressionAddedEvent}
	switch rep.Kind {
	case report.DSN:
		var bounced []string
		var detail map[string]any
		for _, r := range rep.Recipients {
			if r.Action != "failed" {
				continue
			}
			addr := matchRecipient(e, r.Address, r.OriginalRecipient)
			if addr == "" {
				continue
			}
			typ := "Transient"
			if r.Permanent {
				typ = "Permanent"
				out.Suppress = append(out.Suppress, addr)
			}
			out.Attempts = append(out.Attempts, &store.DeliveryAttempt{Recipient: addr, Outcome: store.OutcomeBounced,
				Host: firstNonEmpty(r.RemoteMTA, rep.ReportingMTA), Code: replyCode(r.DiagnosticCode), Enhanced: r.Status, Response: r.DiagnosticCode, CreatedAt: now})
			bounced = append(bounced, addr)
			if detail == nil {
				detail = map[string]any{"bounce": map[string]any{
					"message":        "The recipient's mail server reported that the email could not be delivered.",
					"type":           typ,
					"subType":        events.BounceSubType(r.Status),
					"diagnosticCode": []string{r.DiagnosticCode},
				}}
			}
		}
		if len(bounced) == 0 {
			b.logger().Info("inbound: a DSN with no failed recipient of the email; nothing to record", "email_id", e.ID)
			return nil
		}
		if err := addEvent(out, store.EventBounced, e, bounced, detail, now); err != nil {
			return err
		}
		out.LastEvent = store.EventBounced
	case report.ARF:
		var who []string
		for _, r := range rep.Recipients {
			if addr := matchRecipient(e, r.Address, r.OriginalRecipient); addr != "" {
				who = append(who, addr)
			}
		}
		if len(who) == 0 && len(e.To)+len(e.Cc)+len(e.Bcc) == 1 {
			who = []string{onlyRecipient(e)}
		}
		if len(who) == 0 {
			b.logger().Info("inbound: a complaint naming none of the email's recipients; nothing to record", "email_id", e.ID)
			return nil
		}
		out.Suppress, out.SuppressOrigin = who, store.SuppressionComplaint
		if err := addEvent(out, store.EventComplained, e, who, nil, now); err != nil {
			return err
		}
		out.LastEvent = store.EventComplained
	default:
		return nil
	}
	if err := b.Store.RecordDelivery(ctx, out); err != nil {
		return err
	}
	// The story of the email: a late bounce or a complaint, once recorded.
	for _, at := range out.Attempts {
		b.logger().Info("email bounced", "email_id", e.ID, "team_id", e.TeamID, "recipient_domain", domainOf(at.Recipient),
			"host", at.Host, "code", at.Code, "enhanced", at.Enhanced, "reply", clip(at.Response, 300), "late", true)
	}
	if out.LastEvent == store.EventComplained {
		b.logger().Info("email complained", "email_id", e.ID, "team_id", e.TeamID, "recipients", len(out.Suppress))
	}
	return nil
}

// clip cuts s to at most n bytes, on a rune boundary, marking the cut.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

// domainOf is the domain of an address, in lower case ("" without one).
func domainOf(addr string) string {
	i := strings.LastIndexByte(addr, '@')
	if i < 0 {
		return ""
	}
	return strings.ToLower(addr[i+1:])
}

func addEvent(out *store.DeliveryOutcome, typ string, e *store.Email, to []string, detail map[string]any, at time.Time) error {
	data := map[string]any{"to": to}
	for k, v := range detail {
		data[k] = v
	}
	raw, err := json.Marshal(data)
	if err != nil {
		return err
	}
	out.Events = append(out.Events, &store.EmailEvent{Type: typ, Data: raw, CreatedAt: at})
	ev, err := events.Email(typ, e, to, detail, at)
	if err != nil {
		return err
	}
	out.TeamEvents = append(out.TeamEvents, ev)
	return nil
}

// matchRecipient returns the email's recipient that addr or orig names
// (without regard to case), or "".
func matchRecipient(e *store.Email, addrs ...string) string {
	for _, list := range [][]string{e.To, e.Cc, e.Bcc} {
		for _, raw := range list {
			rc := bareAddress(raw)
			for _, a := range addrs {
				if a != "" && strings.EqualFold(rc, a) {
					return rc
				}
			}
		}
	}
	return ""
}

func onlyRecipient(e *store.Email) string {
	for _, list := range [][]string{e.To, e.Cc, e.Bcc} {
		if len(list) > 0 {
			return bareAddress(list[0])
		}
	}
	return ""
}

// bareAddress returns the address of "Name <a@b>" or "a@b".
func bareAddress(s string) string {
	if i := strings.LastIndexByte(s, '<'); i >= 0 {
		if j := strings.IndexByte(s[i:], '>'); j > 0 {
			return s[i+1 : i+j]
		}
	}
	return strings.TrimSpace(s)
}

// replyCode is the SMTP reply code of a Diagnostic-Code ("smtp; 550 5.1.1
// …" → 550), or 0.
func replyCode(diag string) int {
	_, rest, ok := strings.Cut(diag, ";")
	if !ok {
		rest = diag
	}
	f := strings.Fields(rest)
	if len(f) == 0 {
		return 0
	}
	n, err := strconv.Atoi(f[0])
	if err != nil || n < 200 || n > 599 {
		return 0
	}
	return n
}

func firstNonEmpty(v ...string) string {
	for _, s := range v {
		if s != "" {
			return s
		}
	}
	return ""
}
