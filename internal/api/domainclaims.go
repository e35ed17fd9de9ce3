package api

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"

	"github.com/godwit/godwit/internal/apierr"
	"github.com/godwit/godwit/internal/domains"
	"github.com/godwit/godwit/internal/store"
)

// Domain claims (docs/domains.md "Claiming a domain"): the HTTP face of
// internal/domains' claims.

var errClaimNotFound = apierr.NotFound("Domain claim not found")

type claimRecord struct {
	Type  string `json:"type"`
	Name  string `json:"name"`
	Value string `json:"value"`
	TTL   string `json:"ttl"`
}

type claimResponse struct {
	Object        string      `json:"object"`
	ID            string      `json:"id"`
	Name          string      `json:"name"`
	Status        string      `json:"status"`
	DomainID      *string     `json:"domain_id"`
	Region        *string     `json:"region"`
	Record        claimRecord `json:"record"`
	BlockedReason *string     `json:"blocked_reason"`
	FailureReason *string     `json:"failure_reason"`
	CreatedAt     string      `json:"created_at"`
	ExpiresAt     string      `json:"expires_at"`
}

func toClaimResponse(c *store.DomainClaim) claimResponse {
	return claimResponse{Object: "domain_claim", ID: c.ID, Name: c.Name, Status: c.Status, DomainID: optString(c.DomainID),
		Region: optString(c.Region), Record: claimRecord{Type: "TXT", Name: c.Name, Value: c.Token, TTL: "Auto"},
		BlockedReason: optString(c.BlockedReason), FailureReason: optString(c.FailureReason),
		CreatedAt: formatTime(c.CreatedAt), ExpiresAt: formatTime(c.ExpiresAt)}
}

// createDomainClaim starts a claim (201), or returns the team's identical
// pending claim unchanged (200).
func (h *Handler) createDomainClaim(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		Name              *string `json:"name"`
		Region            *string `json:"region"`
		CustomReturnPath  *string `json:"custom_return_path"`
		OpenTracking      *bool   `json:"open_tracking"`
		ClickTracking     *bool   `json:"click_tracking"`
		TrackingSubdomain *string `json:"tracking_subdomain"`
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
	team := callerKey(r.Context()).TeamID
	d := h.Domains.New(team, name, now)
	opts := domainOptions{Region: req.Region, CustomReturnPath: req.CustomReturnPath, OpenTracking: req.OpenTracking,
		ClickTracking: req.ClickTracking, TrackingSubdomain: req.TrackingSubdomain}
	if _, err := opts.apply(d, h.Domains, now); err != nil {
		return err
	}
	res, err := h.Domains.Claim(r.Context(), h.Store, d, now)
	switch {
	case errors.Is(err, domains.ErrNotClaimable):
		return apierr.Validation("The `%s` domain is not registered by another team. Add it with POST /domains instead.", name)
	case errors.Is(err, domains.ErrAlreadyHeld):
		return apierr.Validation("The `%s` domain is already verified by your team.", name)
	case errors.Is(err, store.ErrConflict):
		return errDomainTaken(name)
	case err != nil:
		return fmt.Errorf("claim domain: %w", err)
	}
	c := res.Claim
	if !res.Created {
		writeJSON(w, http.StatusOK, toClaimResponse(c))
		return nil
	}
	if s := res.Superseded; s != nil {
		h.Metrics.DomainClaim(store.ClaimSuperseded)
		h.Logger.InfoContext(r.Context(), "domain claim superseded", slog.String("claim_id", s.ID), slog.String("domain", s.Name),
			slog.String("team_id", s.TeamID), slog.String("by_claim_id", c.ID))
	}
	h.Metrics.DomainClaim("created")
	h.Logger.InfoContext(r.Context(), "domain claim created", slog.String("claim_id", c.ID), slog.String("domain", c.Name),
		slog.String("domain_id", c.DomainID), slog.String("team_id", c.TeamID))
	writeJSON(w, http.StatusCreated, toClaimResponse(c))
	return nil
}

// loadClaim returns the latest claim of the placeholder domain in the path.
func (h *Handler) loadClaim(r *http.Request) (*store.DomainClaim, error) {
	id, err := pathID(r)
	if err != nil {
		return nil, err
	}
	c, err := h.Store.LatestDomainClaim(r.Context(), callerKey(r.Context()).TeamID, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, errClaimNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("get domain claim: %w", err)
	}
	return c, nil
}

func (h *Handler) getDomainClaim(w http.ResponseWriter, r *http.Request) error {
	c, err := h.loadClaim(r)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toClaimResponse(c))
	return nil
}

// verifyDomainClaim makes the claim due and wakes the verifier; the claim
// is returned as it stands (pending while the check runs).
func (h *Handler) verifyDomainClaim(w http.ResponseWriter, r *http.Request) error {
	c, err := h.loadClaim(r)
	if err != nil {
		return err
	}
	if err := domains.StartClaimCheck(r.Context(), h.Store, c, h.Now()); errors.Is(err, store.ErrNotFound) {
		if c, err = h.loadClaim(r); err != nil { // settled meanwhile
			return err
		}
	} else if err != nil {
		return err
	}
	if store.ClaimOpen(c.Status) {
		h.Logger.InfoContext(r.Context(), "domain claim verification requested", slog.String("claim_id", c.ID),
			slog.String("domain", c.Name), slog.String("team_id", c.TeamID))
		if h.VerifyNow != nil {
			h.VerifyNow()
		}
	}
	writeJSON(w, http.StatusOK, toClaimResponse(c))
	return nil
}
