package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/godwit/godwit/internal/apierr"
	"github.com/godwit/godwit/internal/contact"
	"github.com/godwit/godwit/internal/store"
)

// The Contact Properties API: a team's declared contact properties, each a
// key (1–50 letters, digits or underscores, unique per team and compared
// exactly), a type (string or number) and an optional fallback value of
// that type. A declared property makes POST and PATCH /contacts check the
// type of the values given for its key; keys nobody declared are accepted
// as before.

var errContactPropertyNotFound = apierr.NotFound("Contact property not found")

// contactPropertyItem is one item of GET /contact-properties.
type contactPropertyItem struct {
	ID            string `json:"id"`
	Key           string `json:"key"`
	Type          string `json:"type"`
	FallbackValue any    `json:"fallback_value"`
	CreatedAt     string `json:"created_at"`
}

func toContactPropertyItem(p *store.ContactProperty) contactPropertyItem {
	return contactPropertyItem{ID: p.ID, Key: p.Key, Type: p.Type, FallbackValue: p.FallbackValue, CreatedAt: formatTime(p.CreatedAt)}
}

// propertyType validates a property's `type`: required, string or number.
func propertyType(typ *string) (string, error) {
	if typ == nil || *typ == "" {
		return "", apierr.MissingField("type")
	}
	if contact.ValidPropertyType(*typ) {
		return *typ, nil
	}
	return "", apierr.Validation("The `type` field must be `string` or `number`.")
}

// fallbackValue decodes `fallback_value` for a property of type typ: absent
// or null is nil, otherwise a value of the type (a string at most
// maxPropertyValue long, or a number).
func fallbackValue(typ string, raw json.RawMessage) (any, error) {
	if !present(raw) {
		return nil, nil
	}
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return nil, apierr.Validation("The `fallback_value` field must be a string, a number or null.")
	}
	if err := contact.CheckPropertyValue(typ, v); err != nil {
		return nil, apierr.Validation("The `fallback_value` field must be a %s, as the property's `type` is `%s`.", err, typ)
	}
	if s, ok := v.(string); ok && !contact.ValidPropertyString(s) {
		return nil, apierr.Validation("The `fallback_value` field must be at most %d characters.", maxPropertyValue)
	}
	return v, nil
}

// checkDeclaredProperties checks the values given for a contact's
// properties against the team's declarations: a value (null aside) for a
// declared key must be of its type. Undeclared keys pass. The first
// mismatch in key order is the 422.
func (h *Handler) checkDeclaredProperties(r *http.Request, values map[string]any) error {
	keys := contact.ValuedKeys(values)
	if len(keys) == 0 {
		return nil
	}
	defs, err := h.Store.ContactPropertiesByKey(r.Context(), callerKey(r.Context()).TeamID, keys)
	if err != nil {
		return fmt.Errorf("contact properties by key: %w", err)
	}
	var m *contact.PropertyMismatch
	if err := contact.CheckDeclared(defs, values); errors.As(err, &m) {
		return apierr.Validation("The `properties.%s` value must be a %s: the contact property `%s` is of type `%s`.",
			m.Key, m.Type, m.Key, m.Type)
	}
	return nil
}

// loadContactProperty finds the team's property whose id is the path value.
func (h *Handler) loadContactProperty(r *http.Request) (*store.ContactProperty, error) {
	id, err := uuidParam("id", r.PathValue("id"))
	if err != nil {
		return nil, err
	}
	p, err := h.Store.GetContactProperty(r.Context(), callerKey(r.Context()).TeamID, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, errContactPropertyNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("get contact property: %w", err)
	}
	return p, nil
}

func (h *Handler) createContactProperty(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		Key           *string         `json:"key"`
		Type          *string         `json:"type"`
		FallbackValue json.RawMessage `json:"fallback_value"`
	}
	if err := h.decodeJSONBody(w, r, &req); err != nil {
		return err
	}
	if req.Key == nil || *req.Key == "" {
		return apierr.MissingField("key")
	}
	if !contact.ValidPropertyKey(*req.Key) {
		return apierr.Validation("Invalid `key` field. Keys are 1 to %d letters, digits or underscores.", maxPropertyKey)
	}
	typ, err := propertyType(req.Type)
	if err != nil {
		return err
	}
	fallback, err := fallbackValue(typ, req.FallbackValue)
	if err != nil {
		return err
	}
	now := h.Now().UTC()
	p := &store.ContactProperty{ID: store.NewID(), TeamID: callerKey(r.Context()).TeamID, Key: *req.Key, Type: typ,
		FallbackValue: fallback, CreatedAt: now, UpdatedAt: now}
	err = h.Store.CreateContactProperty(r.Context(), p)
	if errors.Is(err, store.ErrConflict) {
		return apierr.New(http.StatusConflict, apierr.NameValidation,
			fmt.Sprintf("A contact property with the key `%s` already exists.", p.Key))
	}
	if err != nil {
		return fmt.Errorf("create contact property: %w", err)
	}
	writeJSON(w, http.StatusCreated, objectIDResponse{Object: "contact_property", ID: p.ID})
	return nil
}

func (h *Handler) listContactProperties(w http.ResponseWriter, r *http.Request) error {
	p, err := parsePage(r)
	if err != nil {
		return err
	}
	list, more, err := h.Store.ListContactProperties(r.Context(), callerKey(r.Context()).TeamID, p)
	return writeList(w, "list contact properties", list, more, err, toContactPropertyItem)
}

func (h *Handler) getContactProperty(w http.ResponseWriter, r *http.Request) error {
	p, err := h.loadContactProperty(r)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, struct {
		Object string `json:"object"`
		contactPropertyItem
	}{"contact_property", toContactPropertyItem(p)})
	return nil
}

// updateContactProperty changes a property's fallback value: absent leaves
// it, null clears it. The key and the type cannot change: giving them is
// accepted only with the property's own values.
func (h *Handler) updateContactProperty(w http.ResponseWriter, r *http.Request) error {
	p, err := h.loadContactProperty(r)
	if err != nil {
		return err
	}
	var req struct {
		Key           json.RawMessage `json:"key"`
		Type          json.RawMessage `json:"type"`
		FallbackValue json.RawMessage `json:"fallback_value"`
	}
	if err := h.decodeJSONBody(w, r, &req); err != nil {
		return err
	}
	for _, f := range []struct {
		name string
		raw  json.RawMessage
		have string
	}{{"key", req.Key, p.Key}, {"type", req.Type, p.Type}} {
		if !present(f.raw) {
			continue
		}
		var v string
		if err := json.Unmarshal(f.raw, &v); err != nil || v != f.have {
			return apierr.Validation("The `%s` of a contact property cannot be changed; only `fallback_value` can.", f.name)
		}
	}
	if len(req.FallbackValue) > 0 {
		fallback, err := fallbackValue(p.Type, req.FallbackValue)
		if err != nil {
			return err
		}
		if fallback != p.FallbackValue {
			p.FallbackValue, p.UpdatedAt = fallback, h.Now().UTC()
			if err := h.Store.UpdateContactProperty(r.Context(), p); errors.Is(err, store.ErrNotFound) {
				return errContactPropertyNotFound
			} else if err != nil {
				return fmt.Errorf("update contact property: %w", err)
			}
		}
	}
	writeJSON(w, http.StatusOK, objectIDResponse{Object: "contact_property", ID: p.ID})
	return nil
}

// deleteContactProperty removes a property. Contacts keep the values they
// hold for its key (they become undeclared). An unknown id is a 404.
func (h *Handler) deleteContactProperty(w http.ResponseWriter, r *http.Request) error {
	id, err := uuidParam("id", r.PathValue("id"))
	if err != nil {
		return err
	}
	err = h.Store.DeleteContactProperty(r.Context(), callerKey(r.Context()).TeamID, id)
	if errors.Is(err, store.ErrNotFound) {
		return errContactPropertyNotFound
	}
	if err != nil {
		return fmt.Errorf("delete contact property: %w", err)
	}
	writeJSON(w, http.StatusOK, struct {
		Object  string `json:"object"`
		ID      string `json:"id"`
		Deleted bool   `json:"deleted"`
	}{"contact_property", id, true})
	return nil
}
