package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/mail"
	"strings"

	"github.com/google/uuid"

	"github.com/godwit/godwit/internal/apierr"
	"github.com/godwit/godwit/internal/events"
	"github.com/godwit/godwit/internal/store"
)

// The Suppressions API: a team's list of addresses that its email is not
// sent to. Addresses are kept in lower case and matched without regard to
// case; a path value with an '@' is an address, anything else an id.

const (
	// maxSuppressionBatch is Resend's limit on batch add and remove.
	maxSuppressionBatch = 100
	// maxSuppressedAddress is the longest address accepted, as for sending.
	maxSuppressedAddress = 320
)

var errSuppressionNotFound = apierr.NotFound("Suppression not found")

// suppressionItem is one item of GET /suppressions (the OpenAPI document's
// list items have no "object").
type suppressionItem struct {
	ID        string  `json:"id"`
	Email     string  `json:"email"`
	Origin    string  `json:"origin"`
	SourceID  *string `json:"source_id"`
	CreatedAt string  `json:"created_at"`
}

func toSuppressionItem(s *store.Suppression) suppressionItem {
	return suppressionItem{ID: s.ID, Email: s.Email, Origin: s.Origin, SourceID: optString(s.SourceID), CreatedAt: formatTime(s.CreatedAt)}
}

type suppressionRemoved struct {
	Object  string `json:"object"`
	ID      string `json:"id"`
	Deleted bool   `json:"deleted"`
}

type dataResponse[T any] struct {
	Data []T `json:"data"`
}

// suppressedAddress validates an address to suppress and returns it in lower
// case. Only a bare address is accepted, not "Name <address>".
func suppressedAddress(field, v string) (string, error) {
	s := strings.TrimSpace(v)
	a, err := mail.ParseAddress(s)
	if s == "" || err != nil || a.Address != s || len(s) > maxSuppressedAddress {
		return "", apierr.Validation("Invalid `%s` field. It must be an email address such as `someone@example.com`.", field)
	}
	return strings.ToLower(s), nil
}

// present reports whether a JSON field was given a value other than null.
func present(raw json.RawMessage) bool {
	return len(raw) > 0 && string(raw) != "null"
}

// stringList decodes a batch field: an array of 1–100 strings.
func stringList(field string, raw json.RawMessage) ([]string, error) {
	var list []*string
	if err := json.Unmarshal(raw, &list); err != nil {
		return nil, apierr.Validation("The `%s` field must be an array of strings.", field)
	}
	if len(list) < 1 || len(list) > maxSuppressionBatch {
		return nil, apierr.Validation("The `%s` field must contain between 1 and %d items.", field, maxSuppressionBatch)
	}
	out := make([]string, len(list))
	for i, v := range list {
		if v == nil {
			return nil, apierr.Validation("The `%s` field must be an array of strings.", field)
		}
		out[i] = *v
	}
	return out, nil
}

// suppressionRef is the {id_or_email} path value (which the mux has
// URL-decoded, so "%40" is "@"): an address in lower case, or an id.
func suppressionRef(r *http.Request) string {
	v := strings.TrimSpace(r.PathValue("id_or_email"))
	if _, err := uuid.Parse(v); err == nil || strings.Contains(v, "@") {
		return strings.ToLower(v)
	}
	return v
}

// addSuppressions stores manual suppressions of the addresses and returns
// them; an address already suppressed comes back as it was.
func (h *Handler) addSuppressions(r *http.Request, emails []string) ([]*store.Suppression, error) {
	now := h.Now().UTC()
	list := make([]*store.Suppression, len(emails))
	for i, e := range emails {
		list[i] = &store.Suppression{ID: store.NewID(), Email: e, Origin: store.SuppressionManual, CreatedAt: now}
	}
	if err := h.Store.AddSuppressions(r.Context(), callerKey(r.Context()).TeamID, list, events.SuppressionAddedEvent); err != nil {
		return nil, fmt.Errorf("add suppressions: %w", err)
	}
	return list, nil
}

func (h *Handler) createSuppression(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		Email *string `json:"email"`
	}
	if err := h.decodeJSONBody(w, r, &req); err != nil {
		return err
	}
	if req.Email == nil || strings.TrimSpace(*req.Email) == "" {
		return apierr.MissingField("email")
	}
	email, err := suppressedAddress("email", *req.Email)
	if err != nil {
		return err
	}
	list, err := h.addSuppressions(r, []string{email})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, objectIDResponse{Object: "suppression", ID: list[0].ID})
	return nil
}

func (h *Handler) batchAddSuppressions(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		Emails json.RawMessage `json:"emails"`
	}
	if err := h.decodeJSONBody(w, r, &req); err != nil {
		return err
	}
	if !present(req.Emails) {
		return apierr.MissingField("emails")
	}
	emails, err := stringList("emails", req.Emails)
	if err != nil {
		return err
	}
	for i, e := range emails {
		if emails[i], err = suppressedAddress(fmt.Sprintf("emails[%d]", i), e); err != nil {
			return err
		}
	}
	list, err := h.addSuppressions(r, emails)
	if err != nil {
		return err
	}
	out := dataResponse[objectIDResponse]{Data: make([]objectIDResponse, len(list))}
	for i, s := range list {
		out.Data[i] = objectIDResponse{Object: "suppression", ID: s.ID}
	}
	writeJSON(w, http.StatusCreated, out)
	return nil
}

var errOriginFilter = apierr.Validation("Invalid `origin` query parameter. It must be `bounce`, `complaint` or `manual`.")

func (h *Handler) listSuppressions(w http.ResponseWriter, r *http.Request) error {
	p, err := parsePage(r)
	if err != nil {
		return err
	}
	origin := r.URL.Query().Get("origin")
	switch origin {
	case "", store.SuppressionBounce, store.SuppressionComplaint, store.SuppressionManual:
	default:
		return errOriginFilter
	}
	list, more, err := h.Store.ListSuppressions(r.Context(), callerKey(r.Context()).TeamID, origin, p)
	return writeList(w, "list suppressions", list, more, err, toSuppressionItem)
}

func (h *Handler) getSuppression(w http.ResponseWriter, r *http.Request) error {
	s, err := h.Store.GetSuppression(r.Context(), callerKey(r.Context()).TeamID, suppressionRef(r))
	if errors.Is(err, store.ErrNotFound) {
		return errSuppressionNotFound
	}
	if err != nil {
		return fmt.Errorf("get suppression: %w", err)
	}
	writeJSON(w, http.StatusOK, struct {
		Object string `json:"object"`
		suppressionItem
	}{"suppression", toSuppressionItem(s)})
	return nil
}

func (h *Handler) deleteSuppression(w http.ResponseWriter, r *http.Request) error {
	removed, err := h.Store.DeleteSuppressions(r.Context(), callerKey(r.Context()).TeamID, []string{suppressionRef(r)}, events.SuppressionRemovedEvent)
	if err != nil {
		return fmt.Errorf("delete suppression: %w", err)
	}
	if len(removed) == 0 {
		return errSuppressionNotFound
	}
	writeJSON(w, http.StatusOK, suppressionRemoved{Object: "suppression", ID: removed[0].ID, Deleted: true})
	return nil
}

// batchRemoveSuppressions removes by `emails` or by `ids`. Entries that name
// none of the team's suppressions are left out of the answer, which lists
// only what was removed.
func (h *Handler) batchRemoveSuppressions(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		Emails json.RawMessage `json:"emails"`
		IDs    json.RawMessage `json:"ids"`
	}
	if err := h.decodeJSONBody(w, r, &req); err != nil {
		return err
	}
	var refs []string
	var err error
	switch {
	case present(req.Emails) && present(req.IDs):
		return apierr.Validation("Provide either `emails` or `ids`, not both.")
	case present(req.Emails):
		if refs, err = stringList("emails", req.Emails); err != nil {
			return err
		}
		for i, e := range refs {
			if refs[i], err = suppressedAddress(fmt.Sprintf("emails[%d]", i), e); err != nil {
				return err
			}
		}
	case present(req.IDs):
		if refs, err = stringList("ids", req.IDs); err != nil {
			return err
		}
		for i, id := range refs {
			id = strings.TrimSpace(id)
			if id == "" || strings.Contains(id, "@") {
				return apierr.Validation("Invalid `ids[%d]` field. It must be a suppression id; remove addresses with `emails`.", i)
			}
			if _, err := uuid.Parse(id); err == nil {
				id = strings.ToLower(id)
			}
			refs[i] = id
		}
	default:
		return apierr.New(http.StatusUnprocessableEntity, apierr.NameMissingRequiredField, "Missing `emails` or `ids` field.")
	}
	removed, err := h.Store.DeleteSuppressions(r.Context(), callerKey(r.Context()).TeamID, refs, events.SuppressionRemovedEvent)
	if err != nil {
		return fmt.Errorf("remove suppressions: %w", err)
	}
	out := dataResponse[suppressionRemoved]{Data: make([]suppressionRemoved, len(removed))}
	for i, s := range removed {
		out.Data[i] = suppressionRemoved{Object: "suppression", ID: s.ID, Deleted: true}
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}
