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
	"log/slog"
	"math"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/emersion/go-smtp"

	"github.com/godwit/godwit/internal/bounce"
	"github.com/godwit/godwit/internal/events"
	"github.com/godwit/godwit/internal/metrics"
	"github.com/godwit/godwit/internal/report"
	"github.com/godwit/godwit/internal/spool"
	"github.com/godwit/godwit/internal/store"
)

// MaxMessageBytes bounds a message when the MX takes only reports (they
// carry at most the original's headers or the original message).
const MaxMessageBytes = 10 << 20

// MaxRecipients bounds the recipients of one transaction.
const MaxRecipients = 100

// Store is what the MX needs of the store.
type Store interface {
	GetEmailForEvent(ctx context.Context, id string) (*store.Email, error)
	RecordDelivery(ctx context.Context, o *store.DeliveryOutcome) error
}

// Backend is the go-smtp backend of the MX.
type Backend struct {
	Store Store
	// Receiving stores the mail of the teams' receiving domains; nil: the
	// MX takes only the reports for return-path addresses.
	Receiving ReceivingStore
	// Auth checks the authentication of received mail (SPF, DKIM, DMARC);
	// nil: not checked.
	Auth Authenticator
	// Forward accepts the emails of forward rules (the accept path); nil:
	// forward rules only store.
	Forward Forwarder
	// Announce builds a received email's email.received event
	// (events.Received).
	Announce store.ReceivedEvent
	// Hostname is this server's name: the authserv-id of the
	// Authentication-Results and the "by" of the Received field it adds.
	Hostname string
	// SpoolThreshold is the size past which a message is kept in a file
	// (SpoolDir) instead of the heap while it is received, and its large
	// parts too (0: DefaultSpoolThreshold; negative: never).
	SpoolThreshold int
	// SpoolDir is where those files are made (os.TempDir() when empty);
	// they are unlinked at once, so nothing is ever left there.
	SpoolDir string
	Metrics  *metrics.Metrics
	Now      func() time.Time
	Logger   *slog.Logger
	// DomainCacheTTL is how long the MX trusts a receiving domain and an
	// address's route it looked up at RCPT (rcptcache.go): 0 means
	// DefaultDomainCacheTTL (5 s), a negative value looks them up at every
	// RCPT.
	DomainCacheTTL time.Duration

	rcptOnce  sync.Once
	rcptCache *rcptCache
}

// NewServer returns an SMTP server for b with bounded sessions; the caller
// sets its Addr (and TLSConfig to offer STARTTLS) and serves it. A message
// is at most maxBytes (MaxMessageBytes when 0 or when b receives no mail
// beyond reports).
func NewServer(b *Backend, domain string, maxBytes int64) *smtp.Server {
	s := smtp.NewServer(b)
	s.Domain = domain
	if b.Hostname == "" {
		b.Hostname = domain
	}
	s.MaxMessageBytes = MaxMessageBytes
	if b.Receiving != nil && maxBytes > 0 {
		s.MaxMessageBytes = maxBytes
	}
	s.MaxRecipients = MaxRecipients
	s.ReadTimeout = time.Minute
	s.WriteTimeout = time.Minute
	s.ErrorLog = slog.NewLogLogger(b.logger().Handler(), slog.LevelDebug)
	return s
}

// DefaultSpoolThreshold is Backend.SpoolThreshold's default: the 10 KB
// messages of a busy MX never touch a file, a message of several MiB
// does.
const DefaultSpoolThreshold = 1 << 20

func (b *Backend) spoolThreshold() int {
	switch {
	case b.SpoolThreshold == 0:
		return DefaultSpoolThreshold
	case b.SpoolThreshold < 0:
		return math.MaxInt - traceHeadroom
	}
	return b.SpoolThreshold
}

// newSpool is the buffer a message's DATA is read into, after headroom
// bytes.
func (b *Backend) newSpool(headroom int) *spool.Buffer {
	return &spool.Buffer{Dir: b.SpoolDir, Max: headroom + b.spoolThreshold()}
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

// Record applies a parsed report to the email: failed recipients of a DSN
// bounce, classified by internal/bounce from their status and diagnostic
// (only a permanent recipient failure, such as an unknown user, is
// suppressed); the complained-about recipients of an ARF report complain
// (and are suppressed). Delay and success notices change nothing.
func (b *Backend) Record(ctx context.Context, emailID string, rep *report.Report) error {
	e, err := b.Store.GetEmailForEvent(ctx, emailID)
	if err != nil {
		return err
	}
	now := b.now().UTC()
	var classes []bounce.Class // a DSN's, one per out.Attempts
	out := &store.DeliveryOutcome{EmailID: e.ID, TeamID: e.TeamID, SuppressionAdded: events.SuppressionAddedEvent}
	switch rep.Kind {
	case report.DSN:
		// Recipients with the same bounce share an event; each different
		// diagnostic gets its own.
		type group struct {
			to     []string
			detail map[string]any
		}
		var groups []*group
		byKey := map[string]*group{}
		for _, r := range rep.Recipients {
			if r.Action != "failed" {
				continue
			}
			addr := matchRecipient(e, r.Address, r.OriginalRecipient)
			if addr == "" {
				continue
			}
			c := classify(r)
			if c.Suppress() {
				out.Suppress = append(out.Suppress, addr)
			}
			classes = append(classes, c)
			out.Attempts = append(out.Attempts, &store.DeliveryAttempt{Recipient: addr, Outcome: store.OutcomeBounced,
				Host: firstNonEmpty(r.RemoteMTA, rep.ReportingMTA), Code: replyCode(r.DiagnosticCode), Enhanced: r.Status, Response: r.DiagnosticCode, CreatedAt: now})
			msg := "The recipient's mail server reported that the email could not be delivered. " + bounce.Message(c)
			key := strings.Join([]string{string(c.Type), string(c.SubType), r.DiagnosticCode}, "\x00")
			g, ok := byKey[key]
			if !ok {
				g = &group{detail: map[string]any{"bounce": events.Bounce(c, msg, r.DiagnosticCode)}}
				byKey[key] = g
				groups = append(groups, g)
			}
			g.to = append(g.to, addr)
		}
		if len(groups) == 0 {
			b.logger().Info("inbound: a DSN with no failed recipient of the email; nothing to record", "email_id", e.ID)
			return nil
		}
		for _, g := range groups {
			if err := addEvent(out, store.EventBounced, e, g.to, g.detail, now); err != nil {
				return err
			}
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
	for i, at := range out.Attempts {
		c := classes[i]
		b.Metrics.Bounce(string(c.Type), string(c.SubType), c.Suppress())
		b.logger().Info("email bounced", "email_id", e.ID, "team_id", e.TeamID, "recipient_domain", domainOf(at.Recipient),
			"host", at.Host, "code", at.Code, "enhanced", at.Enhanced, "reply", clip(at.Response, 300), "late", true,
			"bounce_type", string(c.Type), "bounce_sub_type", string(c.SubType), "suppressed", c.Suppress())
	}
	if out.LastEvent == store.EventComplained {
		b.logger().Info("email complained", "email_id", e.ID, "team_id", e.TeamID, "recipients", len(out.Suppress))
	}
	return nil
}

// classify is the bounce class of a DSN's failed recipient: its Status
// (which the report parser fills from the diagnostic when the field is
// missing) and the reply code and text of its Diagnostic-Code. A failure
// without a status says nothing about the address: Undetermined. A
// failure whose status is 4.x.x (the reporting server gave up retrying)
// is Transient.
func classify(r report.Recipient) bounce.Class {
	code, enhanced, text := bounce.ParseReply(r.DiagnosticCode)
	if r.Status != "" {
		enhanced = r.Status
		if code/100 != int(r.Status[0]-'0') {
			code = 0 // the Status field's class stands over the quoted reply's
		}
	}
	return bounce.Classify(code, enhanced, text)
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
