package tlsrpt

import (
	"context"
	"crypto"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"github.com/godwit/godwit/internal/delivery"
	"github.com/godwit/godwit/internal/dkim"
	"github.com/godwit/godwit/internal/store"
)

// Transport sends a report message (delivery.MXTransport).
type Transport interface {
	Deliver(ctx context.Context, m *delivery.Message) []delivery.Result
}

// DomainStore finds the Godwit domain that signs the reports.
type DomainStore interface {
	// HeldDomain returns the copy of name, of any team, that holds it;
	// store.ErrNotFound if none does.
	HeldDomain(ctx context.Context, name string) (*store.Domain, error)
}

// KeyOpener opens a domain's sealed DKIM keys (domains.Settings).
type KeyOpener interface {
	PrivateKey(domainID string, sealed []byte) (crypto.Signer, error)
}

// Mailer sends one report message, the work of a queue job (internal/queue
// runs it; a temporary failure is retried there). The message is
// DKIM-signed with the key of the reporting domain: the Godwit domain
// (verified, of any team) named like the sender address's domain or, the
// nearest first, one of its parents, so that a server whose --hostname is
// mx.example.org signs with the key of example.org once that domain is
// added and verified. With none, the report goes unsigned and a WARN line
// says how to fix it.
type Mailer struct {
	Store     DomainStore
	Keys      KeyOpener
	Transport Transport
	// From is the envelope sender (the address in the message's From).
	From   string
	Logger *slog.Logger
	// Sent, when set, counts each report mailed ("sent"), deferred for a
	// retry ("deferred") or given up ("failed"), with scheme "mailto".
	Sent func(scheme, result string)
}

// PermanentError is a report the receiving MX refused for good: no retry.
type PermanentError struct{ Err error }

func (e *PermanentError) Error() string { return e.Err.Error() }
func (e *PermanentError) Unwrap() error { return e.Err }

func (m *Mailer) log() *slog.Logger {
	if m.Logger != nil {
		return m.Logger
	}
	return slog.New(slog.DiscardHandler)
}

// Send signs and delivers the report. It returns nil once the MX accepted
// it, a *PermanentError when it refused it for good, and another error for
// a failure worth a retry. last says this is the last try: a failure then
// is given up (logged at WARN, counted "failed") instead of deferred.
func (m *Mailer) Send(ctx context.Context, mail store.TLSReportMail, attempt int, last bool) error {
	attrs := []any{"domain", mail.Domain, "day", mail.Day, "rua", "mailto:" + mail.To, "report_id", mail.ReportID, "attempt", attempt}
	err := m.send(ctx, mail)
	result := "sent"
	switch {
	case err == nil:
		m.log().Info("tlsrpt: report sent", attrs...)
	case errors.As(err, new(*PermanentError)) || last:
		result = "failed"
		m.log().Warn("tlsrpt: report not sent; given up", append(attrs, "err", err)...)
	default:
		result = "deferred"
		m.log().Info("tlsrpt: report deferred; retried", append(attrs, "err", err)...)
	}
	if m.Sent != nil {
		m.Sent("mailto", result)
	}
	return err
}

func (m *Mailer) send(ctx context.Context, mail store.TLSReportMail) error {
	data, err := m.sign(ctx, mail.Message)
	if err != nil {
		return err
	}
	results := m.Transport.Deliver(ctx, &delivery.Message{From: m.From, Recipients: []string{mail.To}, Data: data,
		EmailID: mail.ReportID})
	for _, res := range results {
		switch res.Outcome {
		case delivery.Delivered:
		case delivery.Deferred:
			return fmt.Errorf("tlsrpt: mail to %s: deferred: %d %s", mail.To, res.Code, res.Message)
		default:
			return &PermanentError{fmt.Errorf("tlsrpt: mail to %s: %s: %d %s", mail.To, res.Outcome, res.Code, res.Message)}
		}
	}
	return nil
}

// sign adds the reporting domain's DKIM signature to msg (see Mailer).
func (m *Mailer) sign(ctx context.Context, msg []byte) ([]byte, error) {
	d, err := m.signingDomain(ctx)
	if errors.Is(err, store.ErrNotFound) {
		m.log().Warn("tlsrpt: no verified domain holds the sender's domain or a parent of it: the report goes unsigned (RFC 8460 §3 wants it DKIM-signed); add and verify that domain",
			"from", m.From)
		return msg, nil
	}
	if err != nil {
		return nil, fmt.Errorf("tlsrpt: signing domain: %w", err)
	}
	keys := make([]crypto.Signer, 0, 2)
	for _, sealed := range [][]byte{d.DKIMKey, d.DKIMEd25519Key} {
		if len(sealed) == 0 {
			continue
		}
		k, err := m.Keys.PrivateKey(d.ID, sealed)
		if err != nil {
			return nil, fmt.Errorf("tlsrpt: DKIM key of %s: %w", d.Name, err)
		}
		keys = append(keys, k)
	}
	signed, err := dkim.Sign(msg, d.Name, d.DKIMSelector, keys...)
	if err != nil {
		return nil, &PermanentError{fmt.Errorf("tlsrpt: sign: %w", err)}
	}
	return signed, nil
}

// signingDomain is the held domain named like From's domain or, the
// nearest first, a parent of it with at least two labels.
func (m *Mailer) signingDomain(ctx context.Context) (*store.Domain, error) {
	name := strings.ToLower(m.From[strings.LastIndexByte(m.From, '@')+1:])
	for strings.Contains(name, ".") {
		d, err := m.Store.HeldDomain(ctx, name)
		if !errors.Is(err, store.ErrNotFound) {
			return d, err
		}
		_, name, _ = strings.Cut(name, ".")
	}
	return nil, store.ErrNotFound
}
