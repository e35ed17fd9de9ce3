package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/godwit/godwit/internal/apierr"
	"github.com/godwit/godwit/internal/contact"
	"github.com/godwit/godwit/internal/events"
	"github.com/godwit/godwit/internal/store"
)

// The Contacts API: a team's contacts, global since Resend's late-2025
// change, and the legacy /audiences/{audience_id}/contacts paths. A path
// value with an '@' is an email address (matched without regard to case),
// anything else an id.

const (
	// The limits of a contact's fields (package contact holds the rules).
	maxContactName       = contact.MaxName
	maxContactProperties = contact.MaxProperties
	maxPropertyKey       = contact.MaxPropertyKey
	maxPropertyValue     = contact.MaxPropertyValue
	// maxContactSegments bounds the segments named when creating a contact.
	maxContactSegments = 100
)

var errContactNotFound = apierr.NotFound("Contact not found")

// errContactLocked is Resend's 409 for a resource another request is changing.
var errContactLocked = apierr.New(http.StatusConflict, "resource_locked", "Another request is changing this contact. Please retry.")

// contactItem is one item of a contacts list (no object, no properties, as
// Resend's lists).
type contactItem struct {
	ID           string  `json:"id"`
	Email        string  `json:"email"`
	FirstName    *string `json:"first_name"`
	LastName     *string `json:"last_name"`
	CreatedAt    string  `json:"created_at"`
	Unsubscribed bool    `json:"unsubscribed"`
}

func toContactItem(c *store.Contact) contactItem {
	return contactItem{ID: c.ID, Email: c.Email, FirstName: c.FirstName, LastName: c.LastName,
		CreatedAt: formatTime(c.CreatedAt), Unsubscribed: c.Unsubscribed}
}

type contactObject struct {
	Object string `json:"object"`
	contactItem
	Properties map[string]any `json:"properties"`
}

// contactRemoved is the answer to a delete: Resend's live API names the
// contact in "contact", the Go SDK reads "id"; both are sent.
type contactRemoved struct {
	Object  string `json:"object"`
	ID      string `json:"id"`
	Contact string `json:"contact"`
	Deleted bool   `json:"deleted"`
}

// contactSegment is the answer to adding a contact to a segment or removing
// it: the OpenAPI document's contact_id and segment_id, and the id (the
// segment's) that the SDKs read.
type contactSegment struct {
	Object    string `json:"object"`
	ID        string `json:"id"`
	ContactID string `json:"contact_id"`
	SegmentID string `json:"segment_id"`
	Deleted   *bool  `json:"deleted,omitempty"`
}

// contactAddress validates a contact's email: a bare address, accepted
// as for sending, returned trimmed and otherwise as given.
func contactAddress(v string) (string, error) {
	s, ok := contact.Address(v)
	if !ok {
		return "", apierr.Validation("Invalid `email` field. It must be an email address such as `someone@example.com`.")
	}
	return s, nil
}

// contactRef reads the {id_or_email} path value (the mux has URL-decoded
// it, and a literal '+' stays a '+'): an address, or an id in lower case.
// ok is false for a value that can name no contact.
func contactRef(r *http.Request) (ref string, ok bool) {
	v := strings.TrimSpace(r.PathValue("id_or_email"))
	if strings.Contains(v, "@") {
		s, err := contactAddress(v)
		return s, err == nil
	}
	if _, err := uuid.Parse(v); err != nil || len(v) != 36 {
		return v, false
	}
	return strings.ToLower(v), true
}

// loadContact finds the contact the path names, with its segments.
func (h *Handler) loadContact(r *http.Request) (*store.Contact, error) {
	ref, ok := contactRef(r)
	if !ok {
		return nil, errContactNotFound
	}
	c, err := h.Store.GetContact(r.Context(), callerKey(r.Context()).TeamID, ref)
	if errors.Is(err, store.ErrNotFound) {
		return nil, errContactNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("get contact: %w", err)
	}
	return c, nil
}

// audienceParam checks the {audience_id} of a legacy path and returns it.
func (h *Handler) audienceParam(r *http.Request) (string, error) {
	s, err := h.loadSegment(r, "audience_id")
	if err != nil {
		return "", err
	}
	return s.ID, nil
}

// contactName decodes first_name or last_name: a string, trimmed, or null;
// an empty string is null.
func contactName(field string, raw json.RawMessage) (*string, error) {
	if len(raw) == 0 {
		return nil, nil
	}
	var s *string
	if err := json.Unmarshal(raw, &s); err != nil {
		return nil, apierr.Validation("The `%s` field must be a string.", field)
	}
	if s == nil {
		return nil, nil
	}
	v := strings.TrimSpace(*s)
	if v == "" {
		return nil, nil
	}
	if !contact.ValidName(v) {
		return nil, apierr.Validation("The `%s` field must be at most %d characters, on one line.", field, maxContactName)
	}
	return &v, nil
}

// contactProperties decodes `properties`: an object whose keys are 1–50
// letters, digits or underscores and whose values are strings, numbers or
// null (checkDeclaredProperties then checks the values of declared keys
// against their types). A null value is kept in the map (it unsets the
// key); absent or null properties are a nil map.
func contactProperties(raw json.RawMessage) (map[string]any, error) {
	if !present(raw) {
		return nil, nil
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, apierr.Validation("The `properties` field must be an object of string, number or null values.")
	}
	for k, v := range m {
		if !contact.ValidPropertyKey(k) {
			return nil, apierr.Validation("Invalid `properties` key `%s`. Keys are 1 to %d letters, digits or underscores.",
				truncate(k, maxPropertyKey+1), maxPropertyKey)
		}
		switch v := v.(type) {
		case nil, float64:
		case string:
			if !contact.ValidPropertyString(v) {
				return nil, apierr.Validation("The `properties.%s` value must be at most %d characters.", k, maxPropertyValue)
			}
		default:
			return nil, apierr.Validation("The `properties.%s` value must be a string, a number or null.", k)
		}
	}
	return m, nil
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

// mergeProperties applies changes to props: a null value removes its key.
func mergeProperties(props, changes map[string]any) (map[string]any, error) {
	out, err := contact.MergeProperties(props, changes)
	if err != nil {
		return nil, apierr.Validation("A contact may hold at most %d properties.", maxContactProperties)
	}
	return out, nil
}

// contactSegments decodes `segments`: an array of {"id"} objects (as the
// SDKs send) or of ids (as the OpenAPI document says). Ids come back in
// lower case, each once, in the order given.
func contactSegments(raw json.RawMessage) ([]string, error) {
	if !present(raw) {
		return nil, nil
	}
	var items []json.RawMessage
	if err := json.Unmarshal(raw, &items); err != nil {
		return nil, apierr.Validation("The `segments` field must be an array of `{\"id\": \"…\"}` objects.")
	}
	if len(items) > maxContactSegments {
		return nil, apierr.Validation("The `segments` field must contain at most %d items.", maxContactSegments)
	}
	var ids []string
	seen := map[string]bool{}
	for i, item := range items {
		var id string
		if len(item) > 0 && item[0] == '{' {
			var obj struct {
				ID *string `json:"id"`
			}
			if err := json.Unmarshal(item, &obj); err != nil || obj.ID == nil {
				return nil, apierr.Validation("Invalid `segments[%d]` field. It must be an object with the segment's `id`.", i)
			}
			id = *obj.ID
		} else if err := json.Unmarshal(item, &id); err != nil {
			return nil, apierr.Validation("Invalid `segments[%d]` field. It must be an object with the segment's `id`.", i)
		}
		id, err := uuidParam(fmt.Sprintf("segments[%d].id", i), strings.TrimSpace(id))
		if err != nil {
			return nil, err
		}
		if !seen[id] {
			seen[id] = true
			ids = append(ids, id)
		}
	}
	return ids, nil
}

// contactEvent builds a contact event; the store records it with the change.
func contactEvent(typ string, c *store.Contact, audienceID string, at time.Time) (*store.Event, error) {
	ev, err := events.Contact(typ, c, audienceID, at)
	if err != nil {
		return nil, fmt.Errorf("contact event: %w", err)
	}
	return ev, nil
}

// createContactIn creates a contact, joined to the audience of a legacy
// path when audienceID is set. Creating a contact whose email the team
// already has answers that contact's id, after joining it to the segments
// named, as Resend's live API does; its other fields are left as they are.
func (h *Handler) createContactIn(w http.ResponseWriter, r *http.Request, audienceID string) error {
	var req struct {
		Email        *string         `json:"email"`
		FirstName    json.RawMessage `json:"first_name"`
		LastName     json.RawMessage `json:"last_name"`
		Unsubscribed *bool           `json:"unsubscribed"`
		Properties   json.RawMessage `json:"properties"`
		Segments     json.RawMessage `json:"segments"`
		Topics       json.RawMessage `json:"topics"`
		AudienceID   *string         `json:"audience_id"`
	}
	if err := h.decodeJSONBody(w, r, &req); err != nil {
		return err
	}
	if req.Email == nil || strings.TrimSpace(*req.Email) == "" {
		return apierr.MissingField("email")
	}
	email, err := contactAddress(*req.Email)
	if err != nil {
		return err
	}
	now := h.Now().UTC()
	c := &store.Contact{ID: store.NewID(), TeamID: callerKey(r.Context()).TeamID, Email: email, CreatedAt: now, UpdatedAt: now}
	if c.FirstName, err = contactName("first_name", req.FirstName); err != nil {
		return err
	}
	if c.LastName, err = contactName("last_name", req.LastName); err != nil {
		return err
	}
	if req.Unsubscribed != nil {
		c.Unsubscribed = *req.Unsubscribed
	}
	props, err := contactProperties(req.Properties)
	if err != nil {
		return err
	}
	if c.Properties, err = mergeProperties(nil, props); err != nil {
		return err
	}
	if err := h.checkDeclaredProperties(r, c.Properties); err != nil {
		return err
	}
	if c.SegmentIDs, err = contactSegments(req.Segments); err != nil {
		return err
	}
	if c.Topics, err = contactTopics("topics", req.Topics); err != nil {
		return err
	}
	if audienceID == "" && req.AudienceID != nil && strings.TrimSpace(*req.AudienceID) != "" {
		if audienceID, err = uuidParam("audience_id", strings.TrimSpace(*req.AudienceID)); err != nil {
			return err
		}
	}
	if audienceID != "" && !slices.Contains(c.SegmentIDs, audienceID) {
		c.SegmentIDs = append([]string{audienceID}, c.SegmentIDs...)
	}
	created, err := contactEvent(events.ContactCreated, c, audienceID, now)
	if err != nil {
		return err
	}
	evs := []*store.Event{created}
	if len(c.Topics) > 0 {
		ev, err := contactTopicsEvent(c, c.Topics, now)
		if err != nil {
			return err
		}
		evs = append(evs, ev)
	}
	err = h.Store.CreateContact(r.Context(), c, evs...)
	switch {
	case errors.Is(err, store.ErrConflict):
		id, err := h.joinExisting(r, email, c.SegmentIDs, c.Topics)
		if err != nil {
			return err
		}
		c.ID = id
	case errors.Is(err, store.ErrUnknownTopic):
		return errTopicNotFound
	case errors.Is(err, store.ErrNotFound):
		return errSegmentNotFound
	case err != nil:
		return fmt.Errorf("create contact: %w", err)
	}
	writeJSON(w, http.StatusCreated, objectIDResponse{Object: "contact", ID: c.ID})
	return nil
}

// joinExisting adds the team's contact with the email to the segments,
// records its topic choices (with a contact.topics.updated event), and
// returns its id. Every segment and topic is checked before any is joined.
func (h *Handler) joinExisting(r *http.Request, email string, segmentIDs []string, topics []store.TopicSubscription) (string, error) {
	teamID := callerKey(r.Context()).TeamID
	c, err := h.Store.GetContact(r.Context(), teamID, email)
	if errors.Is(err, store.ErrNotFound) {
		// Taken, then gone: a concurrent delete. The client may retry.
		return "", errContactLocked
	}
	if err != nil {
		return "", fmt.Errorf("get contact: %w", err)
	}
	var join []string
	for _, id := range segmentIDs {
		if slices.Contains(c.SegmentIDs, id) {
			continue
		}
		if _, err := h.segmentByID(r, id); err != nil {
			return "", err
		}
		join = append(join, id)
	}
	if len(topics) > 0 {
		now := h.Now().UTC()
		ev, err := contactTopicsEvent(c, topics, now)
		if err != nil {
			return "", err
		}
		switch err := h.Store.SetContactTopics(r.Context(), teamID, c.ID, topics, now, ev); {
		case errors.Is(err, store.ErrUnknownTopic):
			return "", errTopicNotFound
		case errors.Is(err, store.ErrNotFound):
			return "", errContactLocked // deleted meanwhile: the client may retry
		case err != nil:
			return "", fmt.Errorf("set contact topics: %w", err)
		}
	}
	for _, id := range join {
		if err := h.Store.AddContactToSegment(r.Context(), teamID, c.ID, id, h.Now().UTC()); errors.Is(err, store.ErrNotFound) {
			return "", errSegmentNotFound
		} else if err != nil {
			return "", fmt.Errorf("add contact to segment: %w", err)
		}
	}
	return c.ID, nil
}

func (h *Handler) createContact(w http.ResponseWriter, r *http.Request) error {
	return h.createContactIn(w, r, "")
}

func (h *Handler) createAudienceContact(w http.ResponseWriter, r *http.Request) error {
	audienceID, err := h.audienceParam(r)
	if err != nil {
		return err
	}
	return h.createContactIn(w, r, audienceID)
}

// listContactsOf answers a contacts list, only segmentID's when it is set.
// Without limit, after and before it lists every contact (Resend's legacy
// behaviour for this endpoint).
func (h *Handler) listContactsOf(w http.ResponseWriter, r *http.Request, segmentID string) error {
	p, paginate, err := parseLegacyPage(r)
	if err != nil {
		return err
	}
	teamID := callerKey(r.Context()).TeamID
	fetch := func(p store.Page) ([]*store.Contact, bool, error) {
		return h.Store.ListContacts(r.Context(), teamID, segmentID, p)
	}
	var list []*store.Contact
	more := false
	if paginate {
		list, more, err = fetch(p)
	} else {
		list, err = allPages(fetch, func(c *store.Contact) string { return c.ID })
	}
	if errors.Is(err, store.ErrNotFound) {
		// An unknown segment, or an unknown cursor.
		if segmentID != "" {
			if _, err := h.segmentByID(r, segmentID); err != nil {
				return err
			}
		}
		return errUnknownCursor
	}
	if err != nil {
		return fmt.Errorf("list contacts: %w", err)
	}
	out := listResponse[contactItem]{Object: "list", HasMore: more, Data: make([]contactItem, 0, len(list))}
	for _, c := range list {
		out.Data = append(out.Data, toContactItem(c))
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// listContacts answers GET /contacts, filtered by ?segment_id= (the
// OpenAPI document's way) when given.
func (h *Handler) listContacts(w http.ResponseWriter, r *http.Request) error {
	segmentID := ""
	if v := r.URL.Query().Get("segment_id"); v != "" {
		var err error
		if segmentID, err = uuidParam("segment_id", v); err != nil {
			return err
		}
	}
	return h.listContactsOf(w, r, segmentID)
}

// listSegmentContacts answers GET /segments/{segment_id}/contacts (the
// SDKs' way) and GET /audiences/{audience_id}/contacts.
func (h *Handler) listSegmentContacts(param string) apiFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		id, err := uuidParam(param, r.PathValue(param))
		if err != nil {
			return err
		}
		return h.listContactsOf(w, r, id)
	}
}

func (h *Handler) writeContact(w http.ResponseWriter, c *store.Contact) {
	props := c.Properties
	if props == nil {
		props = map[string]any{}
	}
	writeJSON(w, http.StatusOK, contactObject{Object: "contact", contactItem: toContactItem(c), Properties: props})
}

func (h *Handler) getContact(w http.ResponseWriter, r *http.Request) error {
	c, err := h.loadContact(r)
	if err != nil {
		return err
	}
	h.writeContact(w, c)
	return nil
}

func (h *Handler) getAudienceContact(w http.ResponseWriter, r *http.Request) error {
	if _, err := h.audienceParam(r); err != nil {
		return err
	}
	return h.getContact(w, r)
}

// updateContactIn applies a PATCH: an omitted (or null) field is left as
// it is, except first_name and last_name, which null (or "") clears;
// properties are merged into the contact's, a null value removing its key.
// A PATCH that changes nothing writes nothing and records no event.
func (h *Handler) updateContactIn(w http.ResponseWriter, r *http.Request, audienceID string) error {
	c, err := h.loadContact(r)
	if err != nil {
		return err
	}
	var req struct {
		Email        *string         `json:"email"`
		FirstName    json.RawMessage `json:"first_name"`
		LastName     json.RawMessage `json:"last_name"`
		Unsubscribed *bool           `json:"unsubscribed"`
		Properties   json.RawMessage `json:"properties"`
	}
	if err := h.decodeJSONBody(w, r, &req); err != nil {
		return err
	}
	changed := false
	if req.Email != nil && strings.TrimSpace(*req.Email) != "" {
		email, err := contactAddress(*req.Email)
		if err != nil {
			return err
		}
		// The SDKs send the email that names the contact in the body too:
		// the same address in another case changes nothing.
		if !strings.EqualFold(email, c.Email) {
			changed = true
			c.Email = email
		}
	}
	for _, f := range []struct {
		name string
		raw  json.RawMessage
		dst  **string
	}{{"first_name", req.FirstName, &c.FirstName}, {"last_name", req.LastName, &c.LastName}} {
		if len(f.raw) == 0 {
			continue
		}
		v, err := contactName(f.name, f.raw)
		if err != nil {
			return err
		}
		changed = changed || !equalStringPtr(v, *f.dst)
		*f.dst = v
	}
	if req.Unsubscribed != nil {
		changed = changed || *req.Unsubscribed != c.Unsubscribed
		c.Unsubscribed = *req.Unsubscribed
	}
	changes, err := contactProperties(req.Properties)
	if err != nil {
		return err
	}
	if len(changes) > 0 {
		merged, err := mergeProperties(c.Properties, changes)
		if err != nil {
			return err
		}
		if err := h.checkDeclaredProperties(r, changes); err != nil {
			return err
		}
		changed = changed || !equalProperties(merged, c.Properties)
		c.Properties = merged
	}
	if changed {
		c.UpdatedAt = h.Now().UTC()
		updated, err := contactEvent(events.ContactUpdated, c, audienceID, c.UpdatedAt)
		if err != nil {
			return err
		}
		err = h.Store.UpdateContact(r.Context(), c, updated)
		switch {
		case errors.Is(err, store.ErrConflict):
			return apierr.Validation("Another contact already has the email `%s`.", c.Email)
		case errors.Is(err, store.ErrNotFound):
			return errContactNotFound
		case err != nil:
			return fmt.Errorf("update contact: %w", err)
		}
	}
	writeJSON(w, http.StatusOK, objectIDResponse{Object: "contact", ID: c.ID})
	return nil
}

func equalStringPtr(a, b *string) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}

func equalProperties(a, b map[string]any) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

func (h *Handler) updateContact(w http.ResponseWriter, r *http.Request) error {
	return h.updateContactIn(w, r, "")
}

func (h *Handler) updateAudienceContact(w http.ResponseWriter, r *http.Request) error {
	audienceID, err := h.audienceParam(r)
	if err != nil {
		return err
	}
	return h.updateContactIn(w, r, audienceID)
}

// removeContact deletes c with its contact.deleted event.
func (h *Handler) removeContact(r *http.Request, c *store.Contact, audienceID string) error {
	deleted, err := contactEvent(events.ContactDeleted, c, audienceID, h.Now().UTC())
	if err != nil {
		return err
	}
	if err := h.Store.DeleteContact(r.Context(), c.TeamID, c.ID, deleted); errors.Is(err, store.ErrNotFound) {
		return errContactNotFound
	} else if err != nil {
		return fmt.Errorf("delete contact: %w", err)
	}
	return nil
}

// deleteContact answers DELETE /contacts/{id_or_email}: "contact" (and
// "id") hold the contact's id even when it is named by email. An unknown
// contact is a 404 here (Resend documents nothing for this path).
func (h *Handler) deleteContact(w http.ResponseWriter, r *http.Request) error {
	c, err := h.loadContact(r)
	if err != nil {
		return err
	}
	if err := h.removeContact(r, c, ""); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, contactRemoved{Object: "contact", ID: c.ID, Contact: c.ID, Deleted: true})
	return nil
}

// deleteAudienceContact answers the legacy DELETE as Resend's live API
// does: "contact" echoes the path value (an email stays an email), and a
// contact that does not exist is answered deleted:true all the same. The
// contact is deleted, not only taken out of the audience.
func (h *Handler) deleteAudienceContact(w http.ResponseWriter, r *http.Request) error {
	audienceID, err := h.audienceParam(r)
	if err != nil {
		return err
	}
	ref := strings.TrimSpace(r.PathValue("id_or_email"))
	id := ref
	c, err := h.loadContact(r)
	switch {
	case err == nil:
		id = c.ID
		if err := h.removeContact(r, c, audienceID); err != nil && !errors.Is(err, errContactNotFound) {
			return err
		}
	case !errors.Is(err, errContactNotFound):
		return err
	}
	writeJSON(w, http.StatusOK, contactRemoved{Object: "contact", ID: id, Contact: ref, Deleted: true})
	return nil
}

// listContactSegments answers GET /contacts/{id_or_email}/segments.
func (h *Handler) listContactSegments(w http.ResponseWriter, r *http.Request) error {
	c, err := h.loadContact(r)
	if err != nil {
		return err
	}
	p, err := parsePage(r)
	if err != nil {
		return err
	}
	list, more, err := h.Store.ListContactSegments(r.Context(), c.TeamID, c.ID, p)
	return writeList(w, "list contact segments", list, more, err, toSegmentItem)
}

// addContactSegment answers POST /contacts/{id_or_email}/segments/{segment_id};
// adding a member again changes nothing.
func (h *Handler) addContactSegment(w http.ResponseWriter, r *http.Request) error {
	c, err := h.loadContact(r)
	if err != nil {
		return err
	}
	s, err := h.loadSegment(r, "segment_id")
	if err != nil {
		return err
	}
	if err := h.Store.AddContactToSegment(r.Context(), c.TeamID, c.ID, s.ID, h.Now().UTC()); errors.Is(err, store.ErrNotFound) {
		return errContactNotFound // the segment was just found: the contact went meanwhile
	} else if err != nil {
		return fmt.Errorf("add contact to segment: %w", err)
	}
	writeJSON(w, http.StatusOK, contactSegment{Object: "contact_segment", ID: s.ID, ContactID: c.ID, SegmentID: s.ID})
	return nil
}

var errNotInSegment = apierr.NotFound("Contact is not in this segment")

// removeContactSegment answers DELETE /contacts/{id_or_email}/segments/{segment_id}.
func (h *Handler) removeContactSegment(w http.ResponseWriter, r *http.Request) error {
	c, err := h.loadContact(r)
	if err != nil {
		return err
	}
	s, err := h.loadSegment(r, "segment_id")
	if err != nil {
		return err
	}
	if err := h.Store.RemoveContactFromSegment(r.Context(), c.TeamID, c.ID, s.ID); errors.Is(err, store.ErrNotFound) {
		return errNotInSegment
	} else if err != nil {
		return fmt.Errorf("remove contact from segment: %w", err)
	}
	deleted := true
	writeJSON(w, http.StatusOK, contactSegment{Object: "contact_segment", ID: s.ID, ContactID: c.ID, SegmentID: s.ID, Deleted: &deleted})
	return nil
}
