package domains

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/godwit/godwit/internal/dnscheck"
	"github.com/godwit/godwit/internal/events"
	"github.com/godwit/godwit/internal/panics"
	"github.com/godwit/godwit/internal/store"
)

// Domain claims (POST /domains/claim, GET /domains/{id}/claim, POST
// /domains/{id}/claim/verify). A team claims a name that another team
// holds (DomainHeld): the claim gets a placeholder domain in the claiming
// team (a new domain with fresh DKIM keys, or the team's own unheld copy of
// the name) and a TXT record to publish at the name. Verification is
// asynchronous: the verify request makes the claim due and wakes the
// Verifier, which looks the record up. Once found, the claim completes in
// one transaction (store.CompleteDomainClaim): the holder's copy fails
// with ReasonClaimed (its emails, sent or not, stay its team's), and the
// placeholder becomes an ordinary domain, not_started, whose DKIM, SPF and
// DMARC records its team publishes and verifies with POST
// /domains/{id}/verify. While the holder's team still has emails from the
// name waiting for delivery (queued, scheduled, being retried), the claim
// is blocked (pending_scheduled_emails) and checked again every
// ClaimRecheck. A claim not completed within ClaimTTL expires.

// Claim timing.
const (
	// ClaimTTL is how long a claim may wait for its record (Resend: 7 days).
	ClaimTTL = 7 * 24 * time.Hour
	// ClaimRecheck is the wait before a blocked claim is tried again.
	ClaimRecheck = 5 * time.Minute
)

// ClaimRecordPrefix starts the TXT value a claim asks for.
const ClaimRecordPrefix = "godwit-domain-verification="

// Claim errors.
var (
	// ErrNotClaimable: no other team holds the name; add it with POST /domains.
	ErrNotClaimable = errors.New("domains: no other team holds this name")
	// ErrAlreadyHeld: the claiming team holds the name itself.
	ErrAlreadyHeld = errors.New("domains: the team holds this name already")
)

// ReasonClaimed is the failure reason of a copy whose name another team
// claimed.
func ReasonClaimed(name string) string {
	return "Another team claimed the `" + name + "` domain by publishing its verification record."
}

// Blocked reasons of a claim.
const BlockedPendingEmails = "pending_scheduled_emails"

// ClaimOptions are a claim's domain options (CreateDomainClaimRequest),
// already applied to a domain by the caller; Key is their canonical form.
func ClaimOptions(d *store.Domain) string {
	b, _ := json.Marshal([]any{d.Region, d.ReturnPath, d.OpenTracking, d.ClickTracking, d.TrackingSubdomain})
	return string(b)
}

// ClaimStore is what claims need of the store.
type ClaimStore interface {
	HeldDomain(ctx context.Context, name string) (*store.Domain, error)
	GetDomainByName(ctx context.Context, teamID, name string) (*store.Domain, error)
	GetDomain(ctx context.Context, teamID, id string) (*store.Domain, error)
	store.DomainClaims
}

// ClaimResult is what Claim did.
type ClaimResult struct {
	Claim *store.DomainClaim
	// Created is false when an identical pending claim was returned.
	Created bool
	// Superseded is the team's open claim the new one replaced, if any.
	Superseded *store.DomainClaim
}

// Claim starts a claim of d.Name for d.TeamID, d being a new domain with
// the request's options applied (Settings.New, then the options). An open
// claim of the team with the same options that is still pending is
// returned unchanged (created false). Otherwise the team's own copy of the
// name, if it has one, takes the options and becomes the placeholder (else
// d does, with fresh keys and a domain.created event), and a new claim
// supersedes the team's open ones.
func (s Settings) Claim(ctx context.Context, st ClaimStore, d *store.Domain, now time.Time) (ClaimResult, error) {
	now = now.UTC()
	holder, err := st.HeldDomain(ctx, d.Name)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return ClaimResult{}, ErrNotClaimable
	case err != nil:
		return ClaimResult{}, fmt.Errorf("domain holder: %w", err)
	case holder.TeamID == d.TeamID:
		return ClaimResult{}, ErrAlreadyHeld
	}
	opts := ClaimOptions(d)
	open, err := st.OpenDomainClaim(ctx, d.TeamID, d.Name)
	switch {
	case err == nil && open.Status == store.ClaimPending && open.Options == opts && now.Before(open.ExpiresAt):
		return ClaimResult{Claim: open}, nil
	case err != nil && !errors.Is(err, store.ErrNotFound):
		return ClaimResult{}, err
	}
	var superseded *store.DomainClaim
	if err == nil {
		superseded = open
	}
	var evs []*store.Event
	placeholder, err := st.GetDomainByName(ctx, d.TeamID, d.Name)
	newDomain := errors.Is(err, store.ErrNotFound)
	switch {
	case newDomain:
		placeholder = d
		_, createdEv, err := s.Provision(d, now)
		if err != nil {
			return ClaimResult{}, err
		}
		evs = append(evs, createdEv)
	case err != nil:
		return ClaimResult{}, fmt.Errorf("get domain: %w", err)
	default:
		placeholder.Region, placeholder.ReturnPath = d.Region, d.ReturnPath
		placeholder.OpenTracking, placeholder.ClickTracking, placeholder.TrackingSubdomain = d.OpenTracking, d.ClickTracking, d.TrackingSubdomain
		placeholder.UpdatedAt = now
		ev, err := s.Event(events.DomainUpdated, placeholder, now)
		if err != nil {
			return ClaimResult{}, err
		}
		evs = append(evs, ev)
	}
	token := make([]byte, 16)
	if _, err := rand.Read(token); err != nil {
		return ClaimResult{}, fmt.Errorf("claim token: %w", err)
	}
	expires := now.Add(ClaimTTL)
	c := &store.DomainClaim{ID: store.NewID(), TeamID: d.TeamID, DomainID: placeholder.ID, Name: d.Name, Status: store.ClaimPending,
		Region: placeholder.Region, Options: opts, Token: ClaimRecordPrefix + hex.EncodeToString(token),
		CreatedAt: now, UpdatedAt: now, ExpiresAt: expires, NextCheckAt: &expires}
	if err := st.CreateDomainClaim(ctx, c, placeholder, newDomain, evs...); err != nil {
		return ClaimResult{}, err
	}
	return ClaimResult{Claim: c, Created: true, Superseded: superseded}, nil
}

// StartClaimCheck makes an open claim due now (POST
// /domains/{id}/claim/verify); the caller then wakes the Verifier. A
// settled claim is left as it is.
func StartClaimCheck(ctx context.Context, st ClaimStore, c *store.DomainClaim, now time.Time) error {
	if !store.ClaimOpen(c.Status) {
		return nil
	}
	now = now.UTC()
	c.NextCheckAt, c.UpdatedAt = &now, now
	if err := st.UpdateDomainClaim(ctx, c); err != nil {
		return fmt.Errorf("verify domain claim: %w", err)
	}
	return nil
}

// LoseToClaim makes d, the holder of a claimed name, a failed copy with
// ReasonClaimed: its records that were verified stay so (they are what
// its emails were signed with), the others fail, and no further checks.
func LoseToClaim(d *store.Domain, now time.Time) {
	d.Status, d.FailureReason = store.DomainFailed, ReasonClaimed(d.Name)
	for kind, st := range d.RecordStatus {
		if st != store.DomainVerified {
			d.RecordStatus[kind] = store.DomainFailed
		}
	}
	d.VerifyStartedAt, d.NextCheckAt, d.UpdatedAt = nil, nil, now
}

// checkClaims settles every claim due now; it returns how many it looked at.
func (v *Verifier) checkClaims(ctx context.Context, now time.Time) (int, error) {
	if v.Claims == nil {
		return 0, nil
	}
	checked := 0
	for range 100 { // bounded: 100 pages of 50 per run
		due, err := v.Claims.DomainClaimsDue(ctx, now, 50)
		if err != nil {
			return checked, fmt.Errorf("domain claims due: %w", err)
		}
		for _, c := range due {
			orig := *c // what is stored: a failed check changes nothing but the next check
			// DNS answers are untrusted input: a panic while checking one
			// claim is logged, and the claim checked again later.
			err := panics.Catch(func() error { return v.checkClaim(ctx, c, now) })
			var p *panics.Error
			if errors.As(err, &p) {
				v.Logger.Error("domain claim check panicked; the claim is checked again later",
					append(v.claimAttrs(c), p.LogAttrs()...)...)
			}
			if err != nil {
				if ctx.Err() != nil {
					return checked, err
				}
				// One claim's failure is logged and retried; the others go on.
				v.Logger.Warn("domain claim check failed; will retry", slog.String("claim_id", c.ID), slog.String("domain", c.Name),
					slog.String("error", err.Error()))
				next := now.Add(retryAfterError)
				orig.NextCheckAt, orig.UpdatedAt = &next, now
				if err := v.Claims.UpdateDomainClaim(ctx, &orig); err != nil && !errors.Is(err, store.ErrNotFound) {
					return checked, err
				}
			}
			checked++
		}
		if len(due) < 50 {
			break
		}
	}
	return checked, nil
}

func (v *Verifier) claimAttrs(c *store.DomainClaim) []any {
	return []any{slog.String("claim_id", c.ID), slog.String("domain", c.Name), slog.String("domain_id", c.DomainID),
		slog.String("team_id", c.TeamID)}
}

// checkClaim looks c's record up and moves it on: expired past its
// expiry, blocked while the holder's team has emails from the name
// waiting, else completed; still pending (checked again with the domains'
// backoff) while the record is missing.
func (v *Verifier) checkClaim(ctx context.Context, c *store.DomainClaim, now time.Time) error {
	from := c.Status
	if !now.Before(c.ExpiresAt) {
		c.Status, c.BlockedReason, c.NextCheckAt, c.UpdatedAt = store.ClaimExpired, "", nil, now
		if err := v.Claims.UpdateDomainClaim(ctx, c); err != nil {
			return ignoreGone(err)
		}
		v.Metrics.DomainClaim(store.ClaimExpired)
		v.Logger.Info("domain claim expired", v.claimAttrs(c)...)
		return nil
	}
	st, ans, err := v.DNS.CheckAnswer(ctx, dnscheck.Expected{Type: "TXT", Name: c.Name, Value: c.Token})
	if err != nil {
		v.Logger.Info("dns lookup failed; will retry", slog.String("domain", c.Name), slog.String("record", c.Name),
			slog.String("error", err.Error()), slog.String("claim_id", c.ID))
		next := now.Add(retryAfterError)
		c.NextCheckAt, c.UpdatedAt = &next, now
		return ignoreGone(v.Claims.UpdateDomainClaim(ctx, c))
	}
	if st != dnscheck.Verified {
		next := now.Add(backoff(now.Sub(c.CreatedAt)))
		if next.After(c.ExpiresAt) {
			next = c.ExpiresAt
		}
		c.NextCheckAt, c.UpdatedAt = &next, now
		v.Logger.Info("domain claim record not found yet", append(v.claimAttrs(c), slog.String("found", fmt.Sprint(ans.Values)),
			slog.String("answer_error", ans.Error))...)
		return ignoreGone(v.Claims.UpdateDomainClaim(ctx, c))
	}
	holder, err := v.Claims.HeldDomain(ctx, c.Name)
	switch {
	case errors.Is(err, store.ErrNotFound):
		holder = nil
	case err != nil:
		return fmt.Errorf("domain holder: %w", err)
	}
	if holder != nil && holder.TeamID != c.TeamID {
		waiting, err := v.Claims.WaitingEmailsFrom(ctx, holder.TeamID, holder.ID)
		if err != nil {
			return err
		}
		if waiting > 0 {
			next := now.Add(ClaimRecheck)
			if next.After(c.ExpiresAt) {
				next = c.ExpiresAt
			}
			c.Status, c.BlockedReason, c.NextCheckAt, c.UpdatedAt = store.ClaimBlocked, BlockedPendingEmails, &next, now
			if err := v.Claims.UpdateDomainClaim(ctx, c); err != nil {
				return ignoreGone(err)
			}
			if from != store.ClaimBlocked {
				v.Metrics.DomainClaim(store.ClaimBlocked)
				v.Logger.Info("domain claim blocked: the holder has emails waiting", append(v.claimAttrs(c),
					slog.String("holder_team_id", holder.TeamID), slog.Int("waiting_emails", waiting))...)
			}
			return nil
		}
	}
	d, err := v.Claims.GetDomain(ctx, c.TeamID, c.DomainID)
	if err != nil {
		return ignoreGone(err) // the placeholder was deleted (the claim was canceled with it)
	}
	if holder != nil && holder.ID == d.ID {
		// The placeholder holds the name itself already (the holder let it
		// go and this team verified it): nothing moves.
		c.Status, c.BlockedReason, c.NextCheckAt, c.UpdatedAt = store.ClaimCompleted, "", nil, now
		if err := v.Claims.UpdateDomainClaim(ctx, c); err != nil {
			return ignoreGone(err)
		}
		v.Metrics.DomainClaim(store.ClaimCompleted)
		v.Logger.Info("domain claim completed", v.claimAttrs(c)...)
		return nil
	}
	// The placeholder becomes the domain: its records start over.
	d.Status, d.FailureReason, d.VerifyStartedAt, d.NextCheckAt, d.UpdatedAt = store.DomainNotStarted, "", nil, nil, now
	recs, err := v.Settings.Records(d)
	if err != nil {
		return err
	}
	d.RecordStatus, d.RecordChecks = map[string]string{}, nil
	for _, rec := range recs {
		d.RecordStatus[rec.Kind] = store.DomainNotStarted
	}
	ev, err := v.Settings.Event(events.DomainUpdated, d, now)
	if err != nil {
		return err
	}
	c.UpdatedAt = now
	lost, err := v.Claims.CompleteDomainClaim(ctx, c, d, func(old *store.Domain) (*store.Event, error) {
		LoseToClaim(old, now)
		return v.Settings.Event(events.DomainUpdated, old, now)
	}, ev)
	if err != nil {
		return ignoreGone(err)
	}
	v.Metrics.DomainClaim(store.ClaimCompleted)
	attrs := v.claimAttrs(c)
	if lost != nil {
		attrs = append(attrs, slog.String("from_team_id", lost.TeamID), slog.String("from_domain_id", lost.ID))
		v.Logger.Info("domain failed: another team claimed it", slog.String("domain", lost.Name), slog.String("domain_id", lost.ID),
			slog.String("team_id", lost.TeamID), slog.String("claimed_by_team_id", c.TeamID))
	}
	v.Logger.Info("domain claim completed", attrs...)
	return nil
}

// ignoreGone treats a claim or domain that went away meanwhile (canceled,
// superseded, deleted) as nothing left to do.
func ignoreGone(err error) error {
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	return err
}
