package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/godwit/godwit/internal/apierr"
	"github.com/godwit/godwit/internal/auth"
	"github.com/godwit/godwit/internal/store"
)

var errAPIKeyNotFound = apierr.NotFound("API key not found")

type apiKeyItem struct {
	ID         string  `json:"id"`
	Name       string  `json:"name"`
	CreatedAt  string  `json:"created_at"`
	LastUsedAt *string `json:"last_used_at"`
}

// decodeJSONBody decodes a small JSON object body, with Resend's errors for
// a body that is not one or a field of the wrong type.
func (h *Handler) decodeJSONBody(w http.ResponseWriter, r *http.Request, v any) error {
	body, err := h.readBody(w, r)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(body, v); err != nil {
		var typeErr *json.UnmarshalTypeError
		if errors.As(err, &typeErr) && typeErr.Field != "" {
			return apierr.Validation("The `%s` field must be a %s.", typeErr.Field, jsonKind(typeErr.Type.Kind().String()))
		}
		return apierr.BadRequest("Invalid JSON body: expected a JSON object.")
	}
	return nil
}

func jsonKind(goKind string) string {
	switch goKind {
	case "string", "ptr":
		return "string"
	case "bool":
		return "boolean"
	default:
		return goKind
	}
}

// keyName validates a key's name: required (an empty string is accepted,
// as by Resend), one line, at most maxKeyName characters.
func keyName(name *string) (string, error) {
	if name == nil {
		return "", apierr.MissingField("name")
	}
	n, err := auth.KeyName(*name)
	if err != nil {
		return "", apierr.Validation("The `name` field must be at most %d characters, on one line.", auth.MaxKeyName)
	}
	return n, nil
}

func (h *Handler) createAPIKey(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		Name       *string `json:"name"`
		Permission *string `json:"permission"`
		DomainID   *string `json:"domain_id"`
	}
	if err := h.decodeJSONBody(w, r, &req); err != nil {
		return err
	}
	name, err := keyName(req.Name)
	if err != nil {
		return err
	}
	perm, domainID := "", ""
	if req.Permission != nil {
		perm = *req.Permission
	}
	if req.DomainID != nil {
		domainID = *req.DomainID
	}
	switch _, err := auth.KeyPermission(perm, domainID); {
	case errors.Is(err, auth.ErrPermission):
		return apierr.Validation("Invalid `permission` field. It must be `full_access` or `sending_access`.")
	case errors.Is(err, auth.ErrDomainNeedsSend):
		return apierr.Validation("The `domain_id` field can only be used with `sending_access` permission.")
	}
	if domainID != "" {
		d, err := h.Store.GetDomain(r.Context(), callerKey(r.Context()).TeamID, domainID)
		if errors.Is(err, store.ErrNotFound) {
			return errDomainNotFound
		}
		if err != nil {
			return fmt.Errorf("create api key: %w", err)
		}
		domainID = d.ID
	}
	k, token, err := auth.NewKey(callerKey(r.Context()).TeamID, name, perm, domainID, h.Now())
	if err != nil {
		return err
	}
	if err := h.Store.CreateAPIKey(r.Context(), k); err != nil {
		return fmt.Errorf("create api key: %w", err)
	}
	writeJSON(w, http.StatusCreated, struct {
		Object string `json:"object"`
		ID     string `json:"id"`
		Token  string `json:"token"`
	}{"api_key", k.ID, token})
	return nil
}

func (h *Handler) listAPIKeys(w http.ResponseWriter, r *http.Request) error {
	page, paginate, err := parseLegacyPage(r)
	if err != nil {
		return err
	}
	keys, err := h.Store.ListAPIKeys(r.Context(), callerKey(r.Context()).TeamID)
	if err != nil {
		return fmt.Errorf("list api keys: %w", err)
	}
	more := false
	if paginate {
		if keys, more, err = pageOf(keys, func(k *store.APIKey) string { return k.ID }, page); err != nil {
			return err
		}
	}
	out := listResponse[apiKeyItem]{Object: "list", HasMore: more, Data: make([]apiKeyItem, 0, len(keys))}
	for _, k := range keys {
		out.Data = append(out.Data, apiKeyItem{ID: k.ID, Name: k.Name, CreatedAt: formatTime(k.CreatedAt),
			LastUsedAt: formatTimePtr(k.LastUsedAt)})
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (h *Handler) updateAPIKey(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	var req struct {
		Name *string `json:"name"`
	}
	if err := h.decodeJSONBody(w, r, &req); err != nil {
		return err
	}
	name, err := keyName(req.Name)
	if err != nil {
		return err
	}
	err = h.Store.RenameAPIKey(r.Context(), callerKey(r.Context()).TeamID, id, name)
	if errors.Is(err, store.ErrNotFound) {
		return errAPIKeyNotFound
	}
	if err != nil {
		return fmt.Errorf("rename api key: %w", err)
	}
	writeJSON(w, http.StatusOK, objectIDResponse{Object: "api_key", ID: id})
	return nil
}

func (h *Handler) deleteAPIKey(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	teamID := callerKey(r.Context()).TeamID
	k, err := h.Store.GetAPIKey(r.Context(), teamID, id)
	if errors.Is(err, store.ErrNotFound) {
		return errAPIKeyNotFound
	}
	if err != nil {
		return fmt.Errorf("delete api key: %w", err)
	}
	err = h.Store.DeleteAPIKey(r.Context(), teamID, id)
	if errors.Is(err, store.ErrNotFound) {
		return errAPIKeyNotFound
	}
	if err != nil {
		return fmt.Errorf("delete api key: %w", err)
	}
	h.Accept.ForgetKey(k.Prefix) // stops working on this node at once
	writeJSON(w, http.StatusOK, struct {
		Object  string `json:"object"`
		ID      string `json:"id"`
		Deleted bool   `json:"deleted"`
	}{"api_key", id, true})
	return nil
}
