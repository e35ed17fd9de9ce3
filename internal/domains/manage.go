package domains

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/godwit/godwit/internal/events"
	"github.com/godwit/godwit/internal/store"
)

// The operations on a team's domain that every face (the API, the
// dashboard) performs the same way live here; the faces validate their own
// input, call these, and map the errors to their own answers.

// ErrTaken means another team has verified the domain's name.
var ErrTaken = errors.New("domains: another team has verified this name")

// New is a new domain of the team with Resend's defaults (us-east-1, the
// "send" return path, opportunistic TLS, sending only, not started); the
// caller may change its options before Provision.
func (s Settings) New(teamID, name string, now time.Time) *store.Domain {
	now = now.UTC()
	return &store.Domain{ID: store.NewID(), TeamID: teamID, Name: name, Region: "us-east-1", ReturnPath: "send",
		Status: store.DomainNotStarted, TLS: "opportunistic", Sending: "enabled", Receiving: "disabled",
		DKIMSelector: s.DKIMSelector, CreatedAt: now, UpdatedAt: now}
}

// Provision gives d, about to be created, its DKIM keys and a not_started
// status per record, and returns its domain.created event: the caller
// stores both with store.CreateDomain.
func (s Settings) Provision(d *store.Domain, now time.Time) ([]Record, *store.Event, error) {
	var err error
	if d.DKIMKey, d.DKIMEd25519Key, err = s.NewKeys(d.ID); err != nil {
		return nil, nil, err
	}
	recs, err := s.Records(d)
	if err != nil {
		return nil, nil, err
	}
	d.RecordStatus = map[string]string{}
	for _, rec := range recs {
		d.RecordStatus[rec.Kind] = store.DomainNotStarted
	}
	created, err := s.Event(events.DomainCreated, d, now)
	if err != nil {
		return nil, nil, err
	}
	return recs, created, nil
}

// UpdateStore stores a changed domain with its events.
type UpdateStore interface {
	UpdateDomain(ctx context.Context, d *store.Domain, events ...*store.Event) error
}

// Save stores d, changed, with its domain.updated event (at d.UpdatedAt).
func (s Settings) Save(ctx context.Context, st UpdateStore, d *store.Domain) error {
	updated, err := s.Event(events.DomainUpdated, d, d.UpdatedAt)
	if err != nil {
		return err
	}
	if err := st.UpdateDomain(ctx, d, updated); err != nil {
		return fmt.Errorf("update domain: %w", err)
	}
	return nil
}

// VerifyStore is what StartVerification needs of the store.
type VerifyStore interface {
	UpdateStore
	HeldDomain(ctx context.Context, name string) (*store.Domain, error)
}

// StartVerification starts checking d's records (POST
// /domains/{id}/verify, the dashboard's "Verify now"): d and its records
// that are not verified become pending and due now; the caller then wakes
// the Verifier. A name another team has verified is refused with ErrTaken,
// and this team's copy fails with ReasonTaken; lostTo is then the winner's
// team when this call is what failed it ("" when it had failed already).
func (s Settings) StartVerification(ctx context.Context, st VerifyStore, d *store.Domain, now time.Time) (lostTo string, err error) {
	now = now.UTC()
	holder, err := st.HeldDomain(ctx, d.Name)
	switch {
	case err == nil && holder.TeamID != d.TeamID:
		if d.Status == store.DomainFailed && d.FailureReason == ReasonTaken(d.Name) {
			return "", ErrTaken
		}
		Lose(d, now)
		if err := s.Save(ctx, st, d); err != nil {
			return "", err
		}
		return holder.TeamID, ErrTaken
	case err != nil && !errors.Is(err, store.ErrNotFound):
		return "", fmt.Errorf("domain holder: %w", err)
	}
	d.FailureReason = ""
	switch d.Status {
	case store.DomainVerified, store.DomainTemporaryFailure:
		// Checked again now; a temporary failure keeps its window.
	case store.DomainPartiallyVerified, store.DomainPartiallyFailed:
		// The capability that works keeps working; the other's records
		// get a new window.
		d.Status = store.DomainPartiallyVerified
		pendRecords(d)
	default:
		d.Status = store.DomainPending
		pendRecords(d)
	}
	if d.VerifyStartedAt == nil || d.Status != store.DomainTemporaryFailure {
		d.VerifyStartedAt = &now
	}
	d.NextCheckAt, d.UpdatedAt = &now, now
	return "", s.Save(ctx, st, d)
}

// pendRecords makes every record of d that is not verified pending.
func pendRecords(d *store.Domain) {
	for kind, st := range d.RecordStatus {
		if st != store.DomainVerified && st != store.DomainTemporaryFailure {
			d.RecordStatus[kind] = store.DomainPending
		}
	}
}

// SetCapabilities changes d's capabilities (each "enabled" or "disabled";
// "" keeps it). Records of a capability just enabled start not_started on a
// domain whose verification has not started, else pending with a new
// verification window, checked at once (the caller wakes the Verifier);
// the domain's status follows at that check (a verified domain that now
// also receives is partially_verified until its MX record is found). It
// reports whether a check is due.
func (s Settings) SetCapabilities(d *store.Domain, sending, receiving string, now time.Time) bool {
	before := map[string]bool{Sending: Capable(d, Sending), Receiving: Capable(d, Receiving)}
	if sending != "" {
		d.Sending = sending
	}
	if receiving != "" {
		d.Receiving = receiving
	}
	changed := false
	for _, c := range []string{Sending, Receiving} {
		if Capable(d, c) == before[c] {
			continue
		}
		changed = true
		if !Capable(d, c) {
			continue
		}
		if d.RecordStatus == nil {
			d.RecordStatus = map[string]string{}
		}
		for _, k := range d.RequiredRecords(c) {
			switch st := d.RecordStatus[k]; {
			case d.Status == store.DomainNotStarted:
				d.RecordStatus[k] = store.DomainNotStarted
			case st != store.DomainVerified:
				d.RecordStatus[k] = store.DomainPending
			}
		}
		if c == Sending && d.RecordStatus[KindDMARC] == "" {
			d.RecordStatus[KindDMARC] = d.RecordStatus[KindDKIM]
		}
	}
	if !changed || d.Status == store.DomainNotStarted {
		return false
	}
	now = now.UTC()
	if d.Status == store.DomainFailed {
		// Nothing worked: a capability added is a new verification.
		d.Status, d.FailureReason = store.DomainPending, ""
		pendRecords(d)
	}
	if d.VerifyStartedAt == nil {
		d.VerifyStartedAt = &now
	}
	d.NextCheckAt = &now
	return true
}

// DeleteStore deletes a domain with its events.
type DeleteStore interface {
	DeleteDomain(ctx context.Context, teamID, id string, events ...*store.Event) error
}

// Delete deletes d with its domain.deleted event. The caller forgets the
// name in its caches (accept.Service.ForgetDomain).
func (s Settings) Delete(ctx context.Context, st DeleteStore, d *store.Domain, now time.Time) error {
	deleted, err := s.Event(events.DomainDeleted, d, now)
	if err != nil {
		return err
	}
	if err := st.DeleteDomain(ctx, d.TeamID, d.ID, deleted); err != nil {
		return fmt.Errorf("delete domain: %w", err)
	}
	return nil
}

// Regions are the regions a domain may name (Resend's; Godwit sends from
// wherever it runs, the region is kept and shown).
var Regions = []string{"us-east-1", "eu-west-1", "sa-east-1", "ap-northeast-1"}

// ValidRegion reports whether r is one of Regions.
func ValidRegion(r string) bool {
	for _, v := range Regions {
		if v == r {
			return true
		}
	}
	return false
}
