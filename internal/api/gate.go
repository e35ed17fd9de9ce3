package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/godwit/godwit/internal/apierr"
	"github.com/godwit/godwit/internal/message"
	"github.com/godwit/godwit/internal/sendreq"
	"github.com/godwit/godwit/internal/store"
)

// The sending gate: an email is accepted only from a domain the team has
// verified, or from the test sender to the test recipients.

// testSender is the local part of the sender that needs no domain.
const testSender = "onboarding"

// domainOf returns the lower-case domain and local part of an address
// written as "a@b" or "Name <a@b>" (sendreq has validated it).
func domainOf(addr string) (local, domain string) {
	if i := strings.LastIndexByte(addr, '<'); i >= 0 {
		addr = strings.TrimSuffix(strings.TrimSpace(addr[i+1:]), ">")
	}
	at := strings.LastIndexByte(addr, '@')
	if at < 0 {
		return addr, ""
	}
	return strings.ToLower(addr[:at]), strings.ToLower(strings.TrimSpace(addr[at+1:]))
}

// ErrKeyDomain marks the refusal of a sender outside the domain of a
// domain-restricted key; Resend answers it, and an unverified domain, with
// the same 403 validation_error, which SMTP replies tell apart.
var ErrKeyDomain = errors.New("")

// checkSender applies the gate to one email sent with key: its From, and a
// Sender header if it has one, must be in a domain the team has verified
// (and that the key may send from).
func (h *Handler) checkSender(ctx context.Context, key *store.APIKey, e *store.Email) error {
	local, domain := domainOf(e.From)
	if domain == h.TestDomain {
		if local != testSender {
			return apierr.Forbidden("The `%s` domain is not verified. Please, add and verify your domain.", domain)
		}
		if key.DomainID != "" {
			return fmt.Errorf("%w%w", ErrKeyDomain, apierr.New(http.StatusForbidden, apierr.NameValidation,
				fmt.Sprintf("This API key is restricted to a domain: it cannot send from the test sender `%s@%s`.", testSender, domain)))
		}
		for _, list := range [][]string{e.To, e.Cc, e.Bcc} {
			for _, rcpt := range list {
				if _, d := domainOf(rcpt); d != h.TestDomain {
					return apierr.Forbidden("You can only send testing emails to the test addresses at `%s` (delivered@, bounced@, complained@, suppressed@). To send to other recipients, please verify a domain and use an address of it in the `from` field.", h.TestDomain)
				}
			}
		}
	} else if err := h.checkSendingDomain(ctx, key, domain); err != nil {
		return err
	}
	for _, hd := range e.Headers {
		if !strings.EqualFold(hd.Name, message.SenderHeader) {
			continue
		}
		v := strings.TrimSpace(hd.Value)
		if !sendreq.ValidAddress(v) {
			return apierr.Validation("The `Sender` header must be one address: `email@example.com` or `Name <email@example.com>`.")
		}
		_, d := domainOf(v)
		if d == h.TestDomain {
			return apierr.Forbidden("The `Sender` header must be an address of one of your verified domains.")
		}
		if err := h.checkSendingDomain(ctx, key, d); err != nil {
			return err
		}
	}
	return nil
}

// checkSendingDomain refuses a domain the team has not verified for sending,
// or one outside the domain the key is restricted to.
func (h *Handler) checkSendingDomain(ctx context.Context, key *store.APIKey, domain string) error {
	d, err := h.senderDomains.get(ctx, h, key.TeamID, domain)
	if err != nil {
		return err
	}
	if d == nil || (d.Status != store.DomainVerified && d.Status != store.DomainTemporaryFailure) || d.Sending != "enabled" {
		return apierr.Forbidden("The `%s` domain is not verified. Please, add and verify your domain.", domain)
	}
	if key.DomainID != "" && key.DomainID != d.ID {
		return fmt.Errorf("%w%w", ErrKeyDomain, apierr.New(http.StatusForbidden, apierr.NameValidation,
			fmt.Sprintf("This API key is restricted to another domain: it cannot send emails from `%s`.", domain)))
	}
	return nil
}

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
				return sendreq.HeaderError(err)
			}
		}
		return apierr.Validation("The `%s` field cannot be written in the message: %s.", strings.ToLower(fe.Field), fe.Reason)
	case errors.Is(err, message.ErrAttachment):
		return apierr.New(http.StatusUnprocessableEntity, apierr.NameInvalidAttachment,
			"Invalid attachment: "+strings.TrimPrefix(err.Error(), message.ErrAttachment.Error()+": ")+".")
	}
	return apierr.Validation("The email cannot be written as a message: %s.", strings.TrimPrefix(err.Error(), "message: "))
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

func (c *domainCache) get(ctx context.Context, h *Handler, teamID, name string) (*store.Domain, error) {
	k := teamID + "\x00" + name
	now := h.Now()
	c.mu.Lock()
	e, ok := c.entries[k]
	c.mu.Unlock()
	if ok && now.Sub(e.fetched) < c.ttl && now.Sub(e.fetched) >= 0 {
		return e.d, nil
	}
	d, err := h.Store.GetDomainByName(ctx, teamID, name)
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
