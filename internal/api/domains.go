package api

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/godwit/godwit/internal/apierr"
	"github.com/godwit/godwit/internal/deliverability"
	"github.com/godwit/godwit/internal/domains"
	"github.com/godwit/godwit/internal/store"
)

var errDomainNotFound = apierr.NotFound("Domain not found")

// errDomainTaken answers a name the team has already, or that another team
// has verified (Resend's wording for a domain another team owns).
func errDomainTaken(name string) error {
	return apierr.Forbidden("The `%s` domain has been registered already.", name)
}

type capabilities struct {
	Sending   string `json:"sending"`
	Receiving string `json:"receiving"`
}

func normalizeDomain(name string) (string, error) {
	ascii, ok := domains.NormalizeName(name)
	if !ok {
		return "", apierr.Validation("Invalid `name` field. It must be a domain name such as `example.com`, without a trailing dot.")
	}
	return ascii, nil
}

func validCapability(v string) bool { return v == "enabled" || v == "disabled" }

type domainOptions struct {
	Region            *string       `json:"region"`
	CustomReturnPath  *string       `json:"custom_return_path"`
	OpenTracking      *bool         `json:"open_tracking"`
	ClickTracking     *bool         `json:"click_tracking"`
	TLS               *string       `json:"tls"`
	Capabilities      *capabilities `json:"capabilities"`
	TrackingSubdomain *string       `json:"tracking_subdomain"`
	// RejectDMARCFailures is Godwit's own (docs/receiving.md).
	RejectDMARCFailures *bool `json:"reject_dmarc_failures"`
}

// apply validates the options and sets them on d; recheck says a
// capability was enabled or disabled on a domain being verified, whose
// records are due for a check now.
func (o *domainOptions) apply(d *store.Domain, settings domains.Settings, now time.Time) (recheck bool, err error) {
	if o.Region != nil && *o.Region != "" {
		if !domains.ValidRegion(*o.Region) {
			return false, apierr.Validation("Invalid `region` field. It must be one of `us-east-1`, `eu-west-1`, `sa-east-1` or `ap-northeast-1`.")
		}
		d.Region = *o.Region
	}
	if o.CustomReturnPath != nil && *o.CustomReturnPath != "" {
		rp := strings.ToLower(strings.TrimSpace(*o.CustomReturnPath))
		if !domains.ValidLabel(rp) {
			return false, apierr.Validation("Invalid `custom_return_path` field. It must be one DNS label such as `send`.")
		}
		d.ReturnPath = rp
	}
	if o.OpenTracking != nil {
		d.OpenTracking = *o.OpenTracking
	}
	if o.ClickTracking != nil {
		d.ClickTracking = *o.ClickTracking
	}
	if o.TLS != nil && *o.TLS != "" {
		if *o.TLS != "opportunistic" && *o.TLS != "enforced" {
			return false, apierr.Validation("Invalid `tls` field. It must be `opportunistic` or `enforced`.")
		}
		d.TLS = *o.TLS
	}
	if c := o.Capabilities; c != nil {
		sending, receiving := d.Sending, d.Receiving
		if c.Sending != "" {
			sending = c.Sending
		}
		if c.Receiving != "" {
			receiving = c.Receiving
		}
		if !validCapability(sending) || !validCapability(receiving) {
			return false, apierr.Validation("Invalid `capabilities` field. `sending` and `receiving` must be `enabled` or `disabled`.")
		}
		if sending == "disabled" && receiving == "disabled" {
			return false, apierr.Validation("Invalid `capabilities` field. At least one of `sending` and `receiving` must be enabled.")
		}
		recheck = settings.SetCapabilities(d, sending, receiving, now)
	}
	if o.RejectDMARCFailures != nil {
		d.RejectDMARCFailures = *o.RejectDMARCFailures
	}
	if o.TrackingSubdomain != nil {
		ts := strings.ToLower(strings.TrimSpace(*o.TrackingSubdomain))
		if ts != "" && !domains.ValidLabel(ts) {
			return false, apierr.Validation("Invalid `tracking_subdomain` field. It must be one DNS label such as `links`.")
		}
		d.TrackingSubdomain = ts
	}
	return recheck, nil
}

func (h *Handler) createDomain(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		Name *string `json:"name"`
		domainOptions
	}
	if err := h.decodeJSONBody(w, r, &req); err != nil {
		return err
	}
	if req.Name == nil || strings.TrimSpace(*req.Name) == "" {
		return apierr.MissingField("name")
	}
	name, err := normalizeDomain(*req.Name)
	if err != nil {
		return err
	}
	now := h.Now().UTC()
	d := h.Domains.New(callerKey(r.Context()).TeamID, name, now)
	if _, err := req.domainOptions.apply(d, h.Domains, now); err != nil {
		return err
	}
	recs, created, err := h.Domains.Provision(d, now)
	if err != nil {
		return err
	}
	if err := h.Store.CreateDomain(r.Context(), d, created); errors.Is(err, store.ErrConflict) {
		return errDomainTaken(name)
	} else if err != nil {
		return fmt.Errorf("create domain: %w", err)
	}
	writeJSON(w, http.StatusCreated, struct {
		ID                string           `json:"id"`
		Name              string           `json:"name"`
		CreatedAt         string           `json:"created_at"`
		Status            string           `json:"status"`
		Capabilities      capabilities     `json:"capabilities"`
		Records           []domains.Object `json:"records"`
		Region            string           `json:"region"`
		OpenTracking      bool             `json:"open_tracking"`
		ClickTracking     bool             `json:"click_tracking"`
		TrackingSubdomain *string          `json:"tracking_subdomain,omitempty"`
	}{d.ID, d.Name, formatTime(d.CreatedAt), d.Status, capabilities{d.Sending, d.Receiving}, domains.Objects(d, recs), d.Region,
		d.OpenTracking, d.ClickTracking, optString(d.TrackingSubdomain)})
	return nil
}

func optString(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

type domainItem struct {
	ID            string       `json:"id"`
	Name          string       `json:"name"`
	Status        string       `json:"status"`
	CreatedAt     string       `json:"created_at"`
	Region        string       `json:"region"`
	Capabilities  capabilities `json:"capabilities"`
	OpenTracking  bool         `json:"open_tracking"`
	ClickTracking bool         `json:"click_tracking"`
	// FailureReason (Godwit's own) says why a failed domain failed.
	FailureReason string `json:"failure_reason,omitempty"`
	// RejectDMARCFailures (Godwit's own) refuses received mail that fails
	// DMARC under its sender's p=reject; shown when on.
	RejectDMARCFailures bool `json:"reject_dmarc_failures,omitempty"`
	// SendingPause (Godwit's own) says why the reputation guard paused the
	// domain's sending, and since when; absent while it sends.
	SendingPause *domains.SendingPause `json:"sending_pause,omitempty"`
}

func toDomainItem(d *store.Domain) domainItem {
	return domainItem{ID: d.ID, Name: d.Name, Status: d.Status, CreatedAt: formatTime(d.CreatedAt), Region: d.Region,
		Capabilities: capabilities{d.Sending, d.Receiving}, OpenTracking: d.OpenTracking, ClickTracking: d.ClickTracking,
		FailureReason: d.FailureReason, RejectDMARCFailures: d.RejectDMARCFailures, SendingPause: domains.Pause(d)}
}

func (h *Handler) loadDomain(r *http.Request) (*store.Domain, error) {
	id, err := pathID(r)
	if err != nil {
		return nil, err
	}
	d, err := h.Store.GetDomain(r.Context(), callerKey(r.Context()).TeamID, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, errDomainNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("get domain: %w", err)
	}
	return d, nil
}

func (h *Handler) getDomain(w http.ResponseWriter, r *http.Request) error {
	d, err := h.loadDomain(r)
	if err != nil {
		return err
	}
	recs, err := h.Domains.Records(d)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, struct {
		Object string `json:"object"`
		domainItem
		TrackingSubdomain *string          `json:"tracking_subdomain,omitempty"`
		Records           []domains.Object `json:"records"`
		// Readiness (Godwit's own): the bulk-sender requirements, from the
		// last verification's DNS answers (internal/deliverability).
		Readiness []deliverability.Check `json:"readiness,omitempty"`
	}{"domain", toDomainItem(d), optString(d.TrackingSubdomain), domains.Objects(d, recs),
		deliverability.Domain(d, deliverability.Server{OneClickUnsubscribe: h.PublicURL != "" && h.Tracking != nil, EHLO: h.EHLO})})
	return nil
}

func (h *Handler) listDomains(w http.ResponseWriter, r *http.Request) error {
	page, paginate, err := parseLegacyPage(r)
	if err != nil {
		return err
	}
	list, err := h.Store.ListDomains(r.Context(), callerKey(r.Context()).TeamID)
	if err != nil {
		return fmt.Errorf("list domains: %w", err)
	}
	more := false
	if paginate {
		if list, more, err = pageOf(list, func(d *store.Domain) string { return d.ID }, page); err != nil {
			return err
		}
	}
	out := listResponse[domainItem]{Object: "list", HasMore: more, Data: make([]domainItem, 0, len(list))}
	for _, d := range list {
		out.Data = append(out.Data, toDomainItem(d))
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (h *Handler) updateDomain(w http.ResponseWriter, r *http.Request) error {
	d, err := h.loadDomain(r)
	if err != nil {
		return err
	}
	var req domainOptions
	if err := h.decodeJSONBody(w, r, &req); err != nil {
		return err
	}
	// Region and return path shape the records; they are set at creation only.
	req.Region, req.CustomReturnPath = nil, nil
	now := h.Now().UTC()
	recheck, err := req.apply(d, h.Domains, now)
	if err != nil {
		return err
	}
	d.UpdatedAt = now
	if err := h.saveDomain(r, d); err != nil {
		return err
	}
	h.Accept.ForgetDomain(d.TeamID, d.Name)
	if recheck && h.VerifyNow != nil {
		h.VerifyNow()
	}
	writeJSON(w, http.StatusOK, objectIDResponse{Object: "domain", ID: d.ID})
	return nil
}

func (h *Handler) deleteDomain(w http.ResponseWriter, r *http.Request) error {
	d, err := h.loadDomain(r)
	if err != nil {
		return err
	}
	claim, err := h.Store.LatestDomainClaim(r.Context(), d.TeamID, d.ID)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("get domain claim: %w", err)
	}
	if err := h.Domains.Delete(r.Context(), h.Store, d, h.Now()); errors.Is(err, store.ErrNotFound) {
		return errDomainNotFound
	} else if err != nil {
		return err
	}
	h.Accept.ForgetDomain(d.TeamID, d.Name)
	if claim != nil && store.ClaimOpen(claim.Status) {
		// Deleting a claim's placeholder cancels the claim (in the same transaction).
		h.Metrics.DomainClaim(store.ClaimCanceled)
		h.Logger.InfoContext(r.Context(), "domain claim canceled: its domain was deleted", slog.String("claim_id", claim.ID),
			slog.String("domain", d.Name), slog.String("domain_id", d.ID), slog.String("team_id", d.TeamID))
	}
	writeJSON(w, http.StatusOK, struct {
		Object  string `json:"object"`
		ID      string `json:"id"`
		Deleted bool   `json:"deleted"`
	}{"domain", d.ID, true})
	return nil
}

// verifyDomain starts verification: the domain and its records become
// pending, and the verifier checks them from now on. A name another team
// has verified is refused (403, as POST /domains), and this team's copy
// fails with the reason.
func (h *Handler) verifyDomain(w http.ResponseWriter, r *http.Request) error {
	d, err := h.loadDomain(r)
	if err != nil {
		return err
	}
	lostTo, err := h.Domains.StartVerification(r.Context(), h.Store, d, h.Now())
	switch {
	case errors.Is(err, domains.ErrTaken):
		if lostTo != "" {
			h.Logger.InfoContext(r.Context(), "domain failed: another team verified it first", slog.String("domain", d.Name),
				slog.String("domain_id", d.ID), slog.String("team_id", d.TeamID), slog.String("winner_team_id", lostTo))
		}
		return errDomainTaken(d.Name)
	case errors.Is(err, store.ErrNotFound):
		return errDomainNotFound
	case err != nil:
		return err
	}
	if h.VerifyNow != nil {
		h.VerifyNow()
	}
	writeJSON(w, http.StatusOK, objectIDResponse{Object: "domain", ID: d.ID})
	return nil
}

// saveDomain stores a changed domain with its domain.updated event.
func (h *Handler) saveDomain(r *http.Request, d *store.Domain) error {
	if err := h.Domains.Save(r.Context(), h.Store, d); errors.Is(err, store.ErrNotFound) {
		return errDomainNotFound
	} else if err != nil {
		return err
	}
	return nil
}
