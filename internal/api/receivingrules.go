package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"unicode"

	"github.com/godwit/godwit/internal/apierr"
	"github.com/godwit/godwit/internal/message"
	"github.com/godwit/godwit/internal/store"
)

// Godwit's own: the routing rules of a receiving domain and its catch-all
// setting (docs/receiving.md, "Routing rules"), under the domain:
//
//	GET/POST /domains/{id}/receiving-rules
//	GET/PATCH/DELETE /domains/{id}/receiving-rules/{rule_id}
//	GET/PATCH /domains/{id}/receiving
//
// Another team's domain or rule is a 404 like an unknown one.

// maxReceivingRules bounds the rules of one domain.
const maxReceivingRules = 1000

var errRuleNotFound = apierr.NotFound("Receiving rule not found")

type receivingRuleObject struct {
	Object      string  `json:"object"`
	ID          string  `json:"id"`
	DomainID    string  `json:"domain_id"`
	Match       string  `json:"match"`
	Action      string  `json:"action"`
	ForwardTo   *string `json:"forward_to"`
	ForwardFrom *string `json:"forward_from"`
	CreatedAt   string  `json:"created_at"`
	UpdatedAt   string  `json:"updated_at"`
}

func toReceivingRule(r *store.ReceivingRule) receivingRuleObject {
	return receivingRuleObject{Object: "receiving_rule", ID: r.ID, DomainID: r.DomainID, Match: r.Match, Action: r.Action,
		ForwardTo: optString(r.ForwardTo), ForwardFrom: optString(r.ForwardFrom),
		CreatedAt: formatTime(r.CreatedAt), UpdatedAt: formatTime(r.UpdatedAt)}
}

type receivingSettingsObject struct {
	Object   string `json:"object"`
	DomainID string `json:"domain_id"`
	CatchAll bool   `json:"catch_all"`
}

// receivingRuleRequest is the body of POST and PATCH: fields absent from a
// PATCH keep their values.
type receivingRuleRequest struct {
	Match       *string         `json:"match"`
	Action      *string         `json:"action"`
	ForwardTo   json.RawMessage `json:"forward_to"`
	ForwardFrom json.RawMessage `json:"forward_from"`
}

// ruleMatch validates `match`: "*", a local part, or an address at the
// domain (its local part is kept), in lower case.
func ruleMatch(v string, d *store.Domain) (string, error) {
	v = strings.ToLower(strings.TrimSpace(v))
	if v == store.RuleMatchAll {
		return v, nil
	}
	if local, domain, ok := strings.Cut(v, "@"); ok {
		if domain != d.Name {
			return "", apierr.Validation("The `match` field must be a local part, `*`, or an address at `%s`.", d.Name)
		}
		v = local
	}
	if v == "" || len(v) > 64 || strings.ContainsAny(v, "@<>,;\"") || strings.IndexFunc(v, func(r rune) bool {
		return unicode.IsSpace(r) || unicode.IsControl(r)
	}) >= 0 {
		return "", apierr.Validation("The `match` field must be `*` or the local part of an address (at most 64 characters, no spaces).")
	}
	return v, nil
}

func ruleAction(v string) (string, error) {
	switch s := strings.TrimSpace(v); s {
	case store.RuleStore, store.RuleForward, store.RuleDrop, store.RuleReject:
		return s, nil
	}
	return "", apierr.Validation("Invalid `action` field. It must be `store`, `forward`, `drop` or `reject`.")
}

// optionalString decodes a string field that may be absent or null (""),
// trimmed.
func optionalString(field string, raw json.RawMessage) (string, error) {
	if !present(raw) {
		return "", nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", apierr.Validation("The `%s` field must be a string.", field)
	}
	return strings.TrimSpace(s), nil
}

// applyRule validates req over rule (a new one, or the stored one for a
// PATCH): a forward needs forward_to (an address) and forward_from, which
// passes the sending gate as POST /emails's from does; other actions take
// neither.
func (h *Handler) applyRule(r *http.Request, d *store.Domain, rule *store.ReceivingRule, req *receivingRuleRequest) error {
	if req.Match != nil {
		m, err := ruleMatch(*req.Match, d)
		if err != nil {
			return err
		}
		rule.Match = m
	}
	if req.Action != nil {
		a, err := ruleAction(*req.Action)
		if err != nil {
			return err
		}
		rule.Action = a
	}
	if len(req.ForwardTo) > 0 {
		v, err := optionalString("forward_to", req.ForwardTo)
		if err != nil {
			return err
		}
		rule.ForwardTo = v
	}
	if len(req.ForwardFrom) > 0 {
		v, err := optionalString("forward_from", req.ForwardFrom)
		if err != nil {
			return err
		}
		rule.ForwardFrom = v
	}
	if rule.Action != store.RuleForward {
		if present(req.ForwardTo) || present(req.ForwardFrom) {
			return apierr.Validation("The `forward_to` and `forward_from` fields are only for the `forward` action.")
		}
		rule.ForwardTo, rule.ForwardFrom = "", ""
		return nil
	}
	if rule.ForwardTo == "" {
		return apierr.MissingField("forward_to")
	}
	if rule.ForwardFrom == "" {
		return apierr.MissingField("forward_from")
	}
	if _, ok := message.ParseAddress(rule.ForwardTo); !ok {
		return apierr.Validation("Invalid `forward_to` field. The email address needs to follow the `email@example.com` or `Name <email@example.com>` format.")
	}
	key := callerKey(r.Context())
	if _, err := h.Accept.CheckFrom(r.Context(), key, key.TeamID,
		&store.Email{From: rule.ForwardFrom, To: []string{rule.ForwardTo}}); err != nil {
		return err
	}
	return nil
}

// loadRule finds the domain {id} of the caller's team and its rule
// {rule_id}.
func (h *Handler) loadRule(r *http.Request) (*store.Domain, *store.ReceivingRule, error) {
	d, err := h.loadDomain(r)
	if err != nil {
		return nil, nil, err
	}
	id, err := uuidParam("rule_id", r.PathValue("rule_id"))
	if err != nil {
		return nil, nil, err
	}
	rule, err := h.Store.GetReceivingRule(r.Context(), d.TeamID, d.ID, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil, errRuleNotFound
	}
	if err != nil {
		return nil, nil, fmt.Errorf("get receiving rule: %w", err)
	}
	return d, rule, nil
}

func errRuleTaken(match string) error {
	return apierr.New(http.StatusConflict, apierr.NameValidation,
		fmt.Sprintf("This domain has a receiving rule for `%s` already.", match))
}

func (h *Handler) listReceivingRules(w http.ResponseWriter, r *http.Request) error {
	d, err := h.loadDomain(r)
	if err != nil {
		return err
	}
	list, err := h.Store.ListReceivingRules(r.Context(), d.TeamID, d.ID)
	return writeList(w, "list receiving rules", list, false, err, toReceivingRule)
}

func (h *Handler) createReceivingRule(w http.ResponseWriter, r *http.Request) error {
	d, err := h.loadDomain(r)
	if err != nil {
		return err
	}
	var req receivingRuleRequest
	if err := h.decodeJSONBody(w, r, &req); err != nil {
		return err
	}
	if req.Match == nil {
		return apierr.MissingField("match")
	}
	if req.Action == nil {
		return apierr.MissingField("action")
	}
	now := h.Now().UTC()
	rule := &store.ReceivingRule{ID: store.NewID(), TeamID: d.TeamID, DomainID: d.ID, CreatedAt: now, UpdatedAt: now}
	if err := h.applyRule(r, d, rule, &req); err != nil {
		return err
	}
	existing, err := h.Store.ListReceivingRules(r.Context(), d.TeamID, d.ID)
	if err != nil {
		return fmt.Errorf("count receiving rules: %w", err)
	}
	if len(existing) >= maxReceivingRules {
		return apierr.Validation("A domain can have at most %d receiving rules.", maxReceivingRules)
	}
	err = h.Store.CreateReceivingRule(r.Context(), rule)
	switch {
	case errors.Is(err, store.ErrConflict):
		return errRuleTaken(rule.Match)
	case errors.Is(err, store.ErrNotFound):
		return errDomainNotFound // deleted meanwhile
	case err != nil:
		return fmt.Errorf("create receiving rule: %w", err)
	}
	writeJSON(w, http.StatusCreated, toReceivingRule(rule))
	return nil
}

func (h *Handler) getReceivingRule(w http.ResponseWriter, r *http.Request) error {
	_, rule, err := h.loadRule(r)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toReceivingRule(rule))
	return nil
}

func (h *Handler) updateReceivingRule(w http.ResponseWriter, r *http.Request) error {
	d, rule, err := h.loadRule(r)
	if err != nil {
		return err
	}
	var req receivingRuleRequest
	if err := h.decodeJSONBody(w, r, &req); err != nil {
		return err
	}
	if err := h.applyRule(r, d, rule, &req); err != nil {
		return err
	}
	rule.UpdatedAt = h.Now().UTC()
	err = h.Store.UpdateReceivingRule(r.Context(), rule)
	switch {
	case errors.Is(err, store.ErrConflict):
		return errRuleTaken(rule.Match)
	case errors.Is(err, store.ErrNotFound):
		return errRuleNotFound
	case err != nil:
		return fmt.Errorf("update receiving rule: %w", err)
	}
	writeJSON(w, http.StatusOK, toReceivingRule(rule))
	return nil
}

func (h *Handler) deleteReceivingRule(w http.ResponseWriter, r *http.Request) error {
	d, rule, err := h.loadRule(r)
	if err != nil {
		return err
	}
	if err := h.Store.DeleteReceivingRule(r.Context(), d.TeamID, d.ID, rule.ID); errors.Is(err, store.ErrNotFound) {
		return errRuleNotFound
	} else if err != nil {
		return fmt.Errorf("delete receiving rule: %w", err)
	}
	writeJSON(w, http.StatusOK, struct {
		Object  string `json:"object"`
		ID      string `json:"id"`
		Deleted bool   `json:"deleted"`
	}{"receiving_rule", rule.ID, true})
	return nil
}

func (h *Handler) getReceivingSettings(w http.ResponseWriter, r *http.Request) error {
	d, err := h.loadDomain(r)
	if err != nil {
		return err
	}
	s, err := h.Store.GetReceivingSettings(r.Context(), d.TeamID, d.ID)
	if errors.Is(err, store.ErrNotFound) {
		return errDomainNotFound
	} else if err != nil {
		return fmt.Errorf("get receiving settings: %w", err)
	}
	writeJSON(w, http.StatusOK, receivingSettingsObject{Object: "receiving_settings", DomainID: d.ID, CatchAll: s.CatchAll})
	return nil
}

// updateReceivingSettings applies a PATCH of `catch_all` (a boolean).
func (h *Handler) updateReceivingSettings(w http.ResponseWriter, r *http.Request) error {
	d, err := h.loadDomain(r)
	if err != nil {
		return err
	}
	var req struct {
		CatchAll json.RawMessage `json:"catch_all"`
	}
	if err := h.decodeJSONBody(w, r, &req); err != nil {
		return err
	}
	s, err := h.Store.GetReceivingSettings(r.Context(), d.TeamID, d.ID)
	if errors.Is(err, store.ErrNotFound) {
		return errDomainNotFound
	} else if err != nil {
		return fmt.Errorf("get receiving settings: %w", err)
	}
	if len(req.CatchAll) > 0 {
		if err := json.Unmarshal(req.CatchAll, &s.CatchAll); err != nil || !present(req.CatchAll) {
			return apierr.Validation("The `catch_all` field must be a boolean.")
		}
		s.UpdatedAt = h.Now().UTC()
		if err := h.Store.SetReceivingSettings(r.Context(), s); errors.Is(err, store.ErrNotFound) {
			return errDomainNotFound
		} else if err != nil {
			return fmt.Errorf("set receiving settings: %w", err)
		}
	}
	writeJSON(w, http.StatusOK, receivingSettingsObject{Object: "receiving_settings", DomainID: d.ID, CatchAll: s.CatchAll})
	return nil
}
