package accept

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/godwit/godwit/internal/message"
	"github.com/godwit/godwit/internal/store"
)

// The sending gate: an email is accepted only from a domain the team has
// verified, or from the test sender to the test recipients.

// testSender is the local part of the sender that needs no domain.
const testSender = "onboarding"

// CheckFrom applies the gate to one email sent with key: its From, and a
// Sender header if it has one, must be in a domain the team has verified
// (and that the key may send from). It returns the sending domain, nil for
// the test sender. A nil key is a send without one (a broadcast, checked
// again as it is sent): no key restriction applies.
func (s *Service) CheckFrom(ctx context.Context, key *store.APIKey, teamID string, e *store.Email) (*store.Domain, error) {
	from, ok := message.ParseAddress(strings.TrimSpace(e.From))
	if !ok {
		return nil, refuse(ErrInvalid, "from", "Invalid `from` field. The email address needs to follow the `email@example.com` or `Name <email@example.com>` format.")
	}
	restricted := key != nil && key.DomainID != ""
	var sending *store.Domain
	if from.Domain == s.cfg.TestDomain {
		if from.Local != testSender {
			return nil, notVerified(from.Domain)
		}
		if restricted {
			return nil, refuse(ErrKeyDomain, "from",
				"This API key is restricted to a domain: it cannot send from the test sender `%s@%s`.", testSender, from.Domain)
		}
		for _, list := range [][]string{e.To, e.Cc, e.Bcc} {
			for _, rcpt := range list {
				if message.DomainOf(rcpt) != s.cfg.TestDomain {
					return nil, refuse(ErrTestRecipient, "to", "You can only send testing emails to the test addresses at `%s` (delivered@, bounced@, complained@, suppressed@). To send to other recipients, please verify a domain and use an address of it in the `from` field.", s.cfg.TestDomain)
				}
			}
		}
	} else {
		d, err := s.checkSendingDomain(ctx, key, teamID, from.Domain)
		if err != nil {
			return nil, err
		}
		sending = d
	}
	for _, hd := range e.Headers {
		if !strings.EqualFold(hd.Name, message.SenderHeader) {
			continue
		}
		sender, ok := message.ParseAddress(strings.TrimSpace(hd.Value))
		if !ok {
			return nil, refuse(ErrInvalid, "headers", "The `Sender` header must be one address: `email@example.com` or `Name <email@example.com>`.")
		}
		if sender.Domain == s.cfg.TestDomain {
			return nil, refuse(ErrSenderNotVerified, "headers", "The `Sender` header must be an address of one of your verified domains.")
		}
		if _, err := s.checkSendingDomain(ctx, key, teamID, sender.Domain); err != nil {
			return nil, err
		}
	}
	return sending, nil
}

// checkSendingDomain refuses a domain the team has not verified for sending,
// or one outside the domain the key is restricted to.
func (s *Service) checkSendingDomain(ctx context.Context, key *store.APIKey, teamID, domain string) (*store.Domain, error) {
	d, err := s.domains.get(ctx, s, teamID, domain)
	if err != nil {
		return nil, err
	}
	if !d.Ready(store.CapabilitySending) {
		if !s.cfg.AnySender {
			return nil, notVerified(domain)
		}
		// A development server that never sends: any domain goes, signed
		// with the team's keys for it when the team has added it.
		if key != nil && key.DomainID != "" && (d == nil || key.DomainID != d.ID) {
			return nil, refuse(ErrKeyDomain, "from", "This API key is restricted to another domain: it cannot send emails from `%s`.", domain)
		}
		return d, nil
	}
	if key != nil && key.DomainID != "" && key.DomainID != d.ID {
		return nil, refuse(ErrKeyDomain, "from", "This API key is restricted to another domain: it cannot send emails from `%s`.", domain)
	}
	return d, nil
}

// ForgetDomain drops a team's domain from this node's cache at once (after
// it is changed or deleted through this node).
func (s *Service) ForgetDomain(teamID, name string) { s.domains.forget(teamID, name) }

// checkBuildable refuses an email that internal/message could not write:
// the rules that accept an email are the code that builds it (message.Check
// runs Build's header steps), so nothing is accepted that delivery cannot
// build. It runs once the email is complete (after its template).
func checkBuildable(e *store.Email) error {
	err := message.Check(e)
	if err == nil {
		return nil
	}
	var fe *message.FieldError
	switch {
	case errors.As(err, &fe):
		for _, hd := range e.Headers {
			if hd.Name == fe.Field {
				return refuse(ErrInvalid, "headers", "The `%s` header cannot be set in `headers`: %s.", message.Excerpt(fe.Field), fe.Reason)
			}
		}
		field := strings.ToLower(fe.Field)
		return refuse(ErrInvalid, field, "The `%s` field cannot be written in the message: %s.", field, fe.Reason)
	case errors.Is(err, message.ErrAttachment):
		return refuse(ErrInvalidAttachment, "attachments",
			"Invalid attachment: %s.", strings.TrimPrefix(err.Error(), message.ErrAttachment.Error()+": "))
	}
	return refuse(ErrInvalid, "", "The email cannot be written as a message: %s.", strings.TrimPrefix(err.Error(), "message: "))
}

// domainCache remembers a team's domains by name for a short time, so that
// the gate does not cost a read per email. A domain verified or changed on
// another node is seen within the TTL; this node's changes are forgotten at
// once.
type domainCache struct {
	ttl     time.Duration
	mu      sync.Mutex
	entries map[string]domainCacheEntry
}

type domainCacheEntry struct {
	d       *store.Domain // nil: the team has no such domain
	fetched time.Time
}

func (c *domainCache) get(ctx context.Context, s *Service, teamID, name string) (*store.Domain, error) {
	k := teamID + "\x00" + name
	now := s.now()
	c.mu.Lock()
	e, ok := c.entries[k]
	c.mu.Unlock()
	if ok && now.Sub(e.fetched) < c.ttl && now.Sub(e.fetched) >= 0 {
		return e.d, nil
	}
	d, err := s.cfg.Store.GetDomainByName(ctx, teamID, name)
	if errors.Is(err, store.ErrNotFound) {
		d, err = nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("sender domain: %w", err)
	}
	c.mu.Lock()
	if len(c.entries) >= 100_000 {
		clear(c.entries)
	}
	c.entries[k] = domainCacheEntry{d: d, fetched: now}
	c.mu.Unlock()
	return d, nil
}

func (c *domainCache) forget(teamID, name string) {
	c.mu.Lock()
	delete(c.entries, teamID+"\x00"+name)
	c.mu.Unlock()
}
