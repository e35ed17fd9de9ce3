package api

import (
	"crypto"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"

	"github.com/godwit/godwit/internal/apierr"
	"github.com/godwit/godwit/internal/dkim"
	"github.com/godwit/godwit/internal/store"
	"golang.org/x/net/idna"
)

// DomainSettings are the operator's settings that shape every domain's DNS records.
type DomainSettings struct {
	// Keys seals DKIM private keys at rest.
	Keys Sealer
	// MXHost receives bounces for the return-path subdomains.
	MXHost string
	// SPF is the TXT value published at the return-path subdomain.
	SPF string
	// DKIMSelector names the DKIM record (default "resend").
	DKIMSelector string
	// Ed25519 adds a second, Ed25519 DKIM key for dual signing.
	Ed25519 bool
	// DMARCReport is the address suggested for DMARC aggregate reports, if any.
	DMARCReport string
}

// Sealer encrypts secrets bound to a row (secretbox.Box).
type Sealer interface {
	Seal(plaintext, additionalData []byte) ([]byte, error)
	Open(sealed, additionalData []byte) ([]byte, error)
}

var regions = map[string]bool{"us-east-1": true, "eu-west-1": true, "sa-east-1": true, "ap-northeast-1": true}

var errDomainNotFound = apierr.NotFound("Domain not found")

// Record kinds, the keys of store.Domain.RecordStatus.
const (
	recDKIM        = "DKIM"
	recDKIMEd25519 = "DKIM-ED25519"
	recSPFMX       = "SPF-MX"
	recSPFTXT      = "SPF-TXT"
	recDMARC       = "DMARC"
)

// domainRecord is Resend's record object.
type domainRecord struct {
	Record   string `json:"record"`
	Name     string `json:"name"`
	Type     string `json:"type"`
	TTL      string `json:"ttl"`
	Status   string `json:"status"`
	Value    string `json:"value"`
	Priority *int   `json:"priority,omitempty"`
	// Optional marks a suggested record that verification does not require (Godwit's addition).
	Optional bool `json:"optional,omitempty"`
}

type capabilities struct {
	Sending   string `json:"sending"`
	Receiving string `json:"receiving"`
}

// normalizeDomain validates a domain name and returns its ASCII form.
func normalizeDomain(name string) (string, error) {
	bad := apierr.Validation("Invalid `name` field. It must be a domain name such as `example.com`, without a trailing dot.")
	name = strings.TrimSpace(name)
	if name == "" || strings.HasSuffix(name, ".") || net.ParseIP(strings.Trim(name, "[]")) != nil {
		return "", bad
	}
	ascii, err := idna.Lookup.ToASCII(name)
	if err != nil || len(ascii) > 253 || !strings.Contains(ascii, ".") {
		return "", bad
	}
	ascii = strings.ToLower(ascii)
	for _, label := range strings.Split(ascii, ".") {
		if !validLabel(label) {
			return "", bad
		}
	}
	return ascii, nil
}

// validLabel reports whether s is one DNS label (LDH, 1–63 characters).
func validLabel(s string) bool {
	if len(s) == 0 || len(s) > 63 || s[0] == '-' || s[len(s)-1] == '-' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c >= 'A' && c <= 'Z') {
			return false
		}
	}
	return true
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
}

// apply validates the options and sets them on d.
func (o *domainOptions) apply(d *store.Domain) error {
	if o.Region != nil && *o.Region != "" {
		if !regions[*o.Region] {
			return apierr.Validation("Invalid `region` field. It must be one of `us-east-1`, `eu-west-1`, `sa-east-1` or `ap-northeast-1`.")
		}
		d.Region = *o.Region
	}
	if o.CustomReturnPath != nil && *o.CustomReturnPath != "" {
		rp := strings.ToLower(strings.TrimSpace(*o.CustomReturnPath))
		if !validLabel(rp) {
			return apierr.Validation("Invalid `custom_return_path` field. It must be one DNS label such as `send`.")
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
			return apierr.Validation("Invalid `tls` field. It must be `opportunistic` or `enforced`.")
		}
		d.TLS = *o.TLS
	}
	if c := o.Capabilities; c != nil {
		if c.Sending != "" {
			d.Sending = c.Sending
		}
		if c.Receiving != "" {
			d.Receiving = c.Receiving
		}
		if !validCapability(d.Sending) || !validCapability(d.Receiving) {
			return apierr.Validation("Invalid `capabilities` field. `sending` and `receiving` must be `enabled` or `disabled`.")
		}
		if d.Sending == "disabled" && d.Receiving == "disabled" {
			return apierr.Validation("Invalid `capabilities` field. At least one of `sending` and `receiving` must be enabled.")
		}
	}
	if o.TrackingSubdomain != nil {
		ts := strings.ToLower(strings.TrimSpace(*o.TrackingSubdomain))
		if ts != "" && !validLabel(ts) {
			return apierr.Validation("Invalid `tracking_subdomain` field. It must be one DNS label such as `links`.")
		}
		d.TrackingSubdomain = ts
	}
	return nil
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
	d := &store.Domain{ID: newID(), TeamID: callerKey(r.Context()).TeamID, Name: name, Region: "us-east-1", ReturnPath: "send",
		Status: store.DomainNotStarted, TLS: "opportunistic", Sending: "enabled", Receiving: "disabled",
		DKIMSelector: h.Domains.DKIMSelector, CreatedAt: now, UpdatedAt: now}
	if err := req.domainOptions.apply(d); err != nil {
		return err
	}
	if d.DKIMKey, err = h.newSealedKey(d.ID, false); err != nil {
		return err
	}
	if h.Domains.Ed25519 {
		if d.DKIMEd25519Key, err = h.newSealedKey(d.ID, true); err != nil {
			return err
		}
	}
	d.RecordStatus = map[string]string{}
	for _, rec := range h.recordsOf(d) {
		d.RecordStatus[rec.kind] = store.DomainNotStarted
	}
	if err := h.Store.CreateDomain(r.Context(), d); errors.Is(err, store.ErrConflict) {
		return apierr.Forbidden("The `%s` domain has been registered already.", name)
	} else if err != nil {
		return fmt.Errorf("create domain: %w", err)
	}
	writeJSON(w, http.StatusCreated, struct {
		ID                string         `json:"id"`
		Name              string         `json:"name"`
		CreatedAt         string         `json:"created_at"`
		Status            string         `json:"status"`
		Capabilities      capabilities   `json:"capabilities"`
		Records           []domainRecord `json:"records"`
		Region            string         `json:"region"`
		OpenTracking      bool           `json:"open_tracking"`
		ClickTracking     bool           `json:"click_tracking"`
		TrackingSubdomain *string        `json:"tracking_subdomain"`
	}{d.ID, d.Name, formatTime(d.CreatedAt), d.Status, capabilities{d.Sending, d.Receiving}, h.recordObjects(d), d.Region,
		d.OpenTracking, d.ClickTracking, optString(d.TrackingSubdomain)})
	return nil
}

func optString(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// newSealedKey generates a DKIM key and seals it to the domain's id.
func (h *Handler) newSealedKey(domainID string, ed bool) ([]byte, error) {
	var key crypto.Signer
	var err error
	if ed {
		key, err = dkim.GenerateEd25519()
	} else {
		key, err = dkim.GenerateRSA()
	}
	if err != nil {
		return nil, fmt.Errorf("generate dkim key: %w", err)
	}
	der, err := dkim.MarshalPrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("encode dkim key: %w", err)
	}
	sealed, err := h.Domains.Keys.Seal(der, []byte(domainID))
	if err != nil {
		return nil, fmt.Errorf("seal dkim key: %w", err)
	}
	return sealed, nil
}

// publicKeyRecord opens a sealed key and returns its DKIM TXT value.
func (h *Handler) publicKeyRecord(domainID string, sealed []byte) (string, error) {
	der, err := h.Domains.Keys.Open(sealed, []byte(domainID))
	if err != nil {
		return "", fmt.Errorf("open dkim key of domain %s: %w", domainID, err)
	}
	key, err := dkim.ParsePrivateKey(der)
	if err != nil {
		return "", fmt.Errorf("parse dkim key of domain %s: %w", domainID, err)
	}
	return dkim.RecordValue(key.Public())
}

type expectedRecord struct {
	kind string
	obj  domainRecord
}

// recordsOf lists the records a domain must (or should) publish; values of
// DKIM records are filled by recordObjects.
func (h *Handler) recordsOf(d *store.Domain) []expectedRecord {
	ten := 10
	recs := []expectedRecord{
		{recDKIM, domainRecord{Record: "DKIM", Name: d.DKIMSelector + "._domainkey", Type: "TXT"}},
	}
	if d.DKIMEd25519Key != nil {
		recs = append(recs, expectedRecord{recDKIMEd25519, domainRecord{Record: "DKIM", Name: d.DKIMSelector + "-ed25519._domainkey", Type: "TXT"}})
	}
	recs = append(recs,
		expectedRecord{recSPFMX, domainRecord{Record: "SPF", Name: d.ReturnPath, Type: "MX", Value: h.Domains.MXHost, Priority: &ten}},
		expectedRecord{recSPFTXT, domainRecord{Record: "SPF", Name: d.ReturnPath, Type: "TXT", Value: h.Domains.SPF}},
	)
	dmarc := "v=DMARC1; p=none;"
	if h.Domains.DMARCReport != "" {
		dmarc += " rua=mailto:" + h.Domains.DMARCReport + ";"
	}
	recs = append(recs, expectedRecord{recDMARC, domainRecord{Record: "DMARC", Name: "_dmarc", Type: "TXT", Value: dmarc, Optional: true}})
	return recs
}

// recordObjects renders the records with their values and statuses.
func (h *Handler) recordObjects(d *store.Domain) []domainRecord {
	var out []domainRecord
	for _, rec := range h.recordsOf(d) {
		obj := rec.obj
		obj.TTL = "Auto"
		obj.Status = d.RecordStatus[rec.kind]
		if obj.Status == "" {
			obj.Status = store.DomainNotStarted
		}
		switch rec.kind {
		case recDKIM:
			obj.Value, _ = h.publicKeyRecord(d.ID, d.DKIMKey)
		case recDKIMEd25519:
			obj.Value, _ = h.publicKeyRecord(d.ID, d.DKIMEd25519Key)
		}
		out = append(out, obj)
	}
	return out
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
}

func toDomainItem(d *store.Domain) domainItem {
	return domainItem{ID: d.ID, Name: d.Name, Status: d.Status, CreatedAt: formatTime(d.CreatedAt), Region: d.Region,
		Capabilities: capabilities{d.Sending, d.Receiving}, OpenTracking: d.OpenTracking, ClickTracking: d.ClickTracking}
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
	writeJSON(w, http.StatusOK, struct {
		Object string `json:"object"`
		domainItem
		TrackingSubdomain *string        `json:"tracking_subdomain"`
		Records           []domainRecord `json:"records"`
	}{"domain", toDomainItem(d), optString(d.TrackingSubdomain), h.recordObjects(d)})
	return nil
}

func (h *Handler) listDomains(w http.ResponseWriter, r *http.Request) error {
	page, paginate, err := parseLegacyPage(r)
	if err != nil {
		return err
	}
	domains, err := h.Store.ListDomains(r.Context(), callerKey(r.Context()).TeamID)
	if err != nil {
		return fmt.Errorf("list domains: %w", err)
	}
	more := false
	if paginate {
		if domains, more, err = pageOf(domains, func(d *store.Domain) string { return d.ID }, page); err != nil {
			return err
		}
	}
	out := listResponse[domainItem]{Object: "list", HasMore: more, Data: make([]domainItem, 0, len(domains))}
	for _, d := range domains {
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
	if err := req.apply(d); err != nil {
		return err
	}
	d.UpdatedAt = h.Now().UTC()
	if err := h.Store.UpdateDomain(r.Context(), d); errors.Is(err, store.ErrNotFound) {
		return errDomainNotFound
	} else if err != nil {
		return fmt.Errorf("update domain: %w", err)
	}
	writeJSON(w, http.StatusOK, objectIDResponse{Object: "domain", ID: d.ID})
	return nil
}

func (h *Handler) deleteDomain(w http.ResponseWriter, r *http.Request) error {
	d, err := h.loadDomain(r)
	if err != nil {
		return err
	}
	if err := h.Store.DeleteDomain(r.Context(), d.TeamID, d.ID); errors.Is(err, store.ErrNotFound) {
		return errDomainNotFound
	} else if err != nil {
		return fmt.Errorf("delete domain: %w", err)
	}
	writeJSON(w, http.StatusOK, struct {
		Object  string `json:"object"`
		ID      string `json:"id"`
		Deleted bool   `json:"deleted"`
	}{"domain", d.ID, true})
	return nil
}

// verifyDomain starts verification: the domain and its records become
// pending, and the verifier checks them from now on.
func (h *Handler) verifyDomain(w http.ResponseWriter, r *http.Request) error {
	d, err := h.loadDomain(r)
	if err != nil {
		return err
	}
	now := h.Now().UTC()
	if d.Status != store.DomainVerified {
		d.Status = store.DomainPending
		for kind, st := range d.RecordStatus {
			if st != store.DomainVerified {
				d.RecordStatus[kind] = store.DomainPending
			}
		}
	}
	d.VerifyStartedAt, d.NextCheckAt, d.UpdatedAt = &now, &now, now
	if err := h.Store.UpdateDomain(r.Context(), d); errors.Is(err, store.ErrNotFound) {
		return errDomainNotFound
	} else if err != nil {
		return fmt.Errorf("verify domain: %w", err)
	}
	writeJSON(w, http.StatusOK, objectIDResponse{Object: "domain", ID: d.ID})
	return nil
}
