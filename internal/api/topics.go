package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/godwit/godwit/internal/apierr"
	"github.com/godwit/godwit/internal/contact"
	"github.com/godwit/godwit/internal/events"
	"github.com/godwit/godwit/internal/store"
)

// The Topics API, a contact's topics (GET and PATCH
// /contacts/{id_or_email}/topics), and the check of an email's topic_id.
// A topic's default_subscription applies to every address that has made
// no choice of its own, contacts and strangers alike, and never changes.

const (
	// maxTopicName and maxTopicDescription are Resend's limits, in characters.
	maxTopicName        = contact.MaxTopicName
	maxTopicDescription = contact.MaxTopicDescription
	// maxContactTopics bounds the choices of one request.
	maxContactTopics = 100
)

var errTopicNotFound = apierr.NotFound("Topic not found")

type topicItem struct {
	ID                  string  `json:"id"`
	Name                string  `json:"name"`
	Description         *string `json:"description"`
	DefaultSubscription string  `json:"default_subscription"`
	Visibility          string  `json:"visibility"`
	CreatedAt           string  `json:"created_at"`
}

// description is a topic's description as answered: null when there is none.
func description(t *store.Topic) *string {
	if t.Description == "" {
		return nil
	}
	return &t.Description
}

func toTopicItem(t *store.Topic) topicItem {
	return topicItem{ID: t.ID, Name: t.Name, Description: description(t), DefaultSubscription: t.DefaultSubscription,
		Visibility: t.Visibility, CreatedAt: formatTime(t.CreatedAt)}
}

type topicObject struct {
	Object string `json:"object"`
	topicItem
}

// contactTopicItem is one item of a contact's topics.
type contactTopicItem struct {
	ID           string  `json:"id"`
	Name         string  `json:"name"`
	Description  *string `json:"description"`
	Subscription string  `json:"subscription"`
}

// topicSubscription is a choice as the requests and responses carry it.
type topicSubscription struct {
	ID           string `json:"id"`
	Subscription string `json:"subscription"`
}

// contactTopicsResponse answers PATCH /contacts/{id_or_email}/topics: the
// docs' {object, id} (the contact's id, which the SDKs read) and the
// OpenAPI document's contact_id and topics.
type contactTopicsResponse struct {
	Object    string              `json:"object"`
	ID        string              `json:"id"`
	ContactID string              `json:"contact_id"`
	Topics    []topicSubscription `json:"topics"`
}

// topicName validates a topic's name: required, one line, at most
// maxTopicName characters, trimmed.
func topicName(name *string) (string, error) {
	if name == nil || strings.TrimSpace(*name) == "" {
		return "", apierr.MissingField("name")
	}
	n, ok := contact.TopicName(*name)
	if !ok {
		return "", apierr.Validation("The `name` field must be at most %d characters, on one line.", maxTopicName)
	}
	return n, nil
}

// topicDescription decodes `description`: a string of at most
// maxTopicDescription characters, trimmed; null or "" is none.
func topicDescription(raw json.RawMessage) (string, error) {
	if !present(raw) {
		return "", nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", apierr.Validation("The `description` field must be a string.")
	}
	s, ok := contact.TopicDescription(s)
	if !ok {
		return "", apierr.Validation("The `description` field must be at most %d characters.", maxTopicDescription)
	}
	return s, nil
}

func topicVisibility(v *string) (string, error) {
	if v == nil {
		return store.TopicPrivate, nil
	}
	switch s := strings.TrimSpace(*v); s {
	case store.TopicPublic, store.TopicPrivate:
		return s, nil
	}
	return "", apierr.Validation("Invalid `visibility` field. It must be `public` or `private`.")
}

func subscriptionValue(field, v string) (string, error) {
	switch s := strings.TrimSpace(v); s {
	case store.SubscriptionOptIn, store.SubscriptionOptOut:
		return s, nil
	}
	return "", apierr.Validation("Invalid `%s` field. It must be `opt_in` or `opt_out`.", field)
}

func topicEvent(typ string, t *store.Topic, deleted bool) (*store.Event, error) {
	ev, err := events.Topic(typ, t, deleted, t.UpdatedAt)
	if err != nil {
		return nil, fmt.Errorf("topic event: %w", err)
	}
	return ev, nil
}

// loadTopic finds the team's topic whose id is the path value.
func (h *Handler) loadTopic(r *http.Request) (*store.Topic, error) {
	id, err := uuidParam("id", r.PathValue("id"))
	if err != nil {
		return nil, err
	}
	t, err := h.Store.GetTopic(r.Context(), callerKey(r.Context()).TeamID, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, errTopicNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("get topic: %w", err)
	}
	return t, nil
}

func (h *Handler) createTopic(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		Name                *string         `json:"name"`
		Description         json.RawMessage `json:"description"`
		DefaultSubscription *string         `json:"default_subscription"`
		Visibility          *string         `json:"visibility"`
	}
	if err := h.decodeJSONBody(w, r, &req); err != nil {
		return err
	}
	name, err := topicName(req.Name)
	if err != nil {
		return err
	}
	if req.DefaultSubscription == nil || strings.TrimSpace(*req.DefaultSubscription) == "" {
		return apierr.MissingField("default_subscription")
	}
	def, err := subscriptionValue("default_subscription", *req.DefaultSubscription)
	if err != nil {
		return err
	}
	desc, err := topicDescription(req.Description)
	if err != nil {
		return err
	}
	vis, err := topicVisibility(req.Visibility)
	if err != nil {
		return err
	}
	now := h.Now().UTC()
	t := &store.Topic{ID: store.NewID(), TeamID: callerKey(r.Context()).TeamID, Name: name, Description: desc,
		DefaultSubscription: def, Visibility: vis, CreatedAt: now, UpdatedAt: now}
	created, err := topicEvent(events.TopicCreated, t, false)
	if err != nil {
		return err
	}
	if err := h.Store.CreateTopic(r.Context(), t, created); err != nil {
		return fmt.Errorf("create topic: %w", err)
	}
	writeJSON(w, http.StatusCreated, objectIDResponse{Object: "topic", ID: t.ID})
	return nil
}

// listTopics answers GET /topics, always a page (a newer endpoint).
func (h *Handler) listTopics(w http.ResponseWriter, r *http.Request) error {
	p, err := parsePage(r)
	if err != nil {
		return err
	}
	list, more, err := h.Store.ListTopics(r.Context(), callerKey(r.Context()).TeamID, p)
	return writeList(w, "list topics", list, more, err, toTopicItem)
}

func (h *Handler) getTopic(w http.ResponseWriter, r *http.Request) error {
	t, err := h.loadTopic(r)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, topicObject{Object: "topic", topicItem: toTopicItem(t)})
	return nil
}

// updateTopic applies a PATCH of name, description (null or "" clears it)
// and visibility; other fields (the Node SDK sends the id) are ignored. A
// default_subscription other than the topic's is refused: it cannot
// change. A PATCH that changes nothing writes nothing and records no event.
func (h *Handler) updateTopic(w http.ResponseWriter, r *http.Request) error {
	t, err := h.loadTopic(r)
	if err != nil {
		return err
	}
	var req struct {
		Name                *string         `json:"name"`
		Description         json.RawMessage `json:"description"`
		DefaultSubscription *string         `json:"default_subscription"`
		Visibility          *string         `json:"visibility"`
	}
	if err := h.decodeJSONBody(w, r, &req); err != nil {
		return err
	}
	changed := false
	if req.Name != nil {
		name, err := topicName(req.Name)
		if err != nil {
			return err
		}
		changed = changed || name != t.Name
		t.Name = name
	}
	if len(req.Description) > 0 {
		desc, err := topicDescription(req.Description)
		if err != nil {
			return err
		}
		changed = changed || desc != t.Description
		t.Description = desc
	}
	if req.Visibility != nil {
		vis, err := topicVisibility(req.Visibility)
		if err != nil {
			return err
		}
		changed = changed || vis != t.Visibility
		t.Visibility = vis
	}
	if req.DefaultSubscription != nil && strings.TrimSpace(*req.DefaultSubscription) != t.DefaultSubscription {
		return apierr.Validation("The `default_subscription` of a topic cannot be changed after it is created.")
	}
	if changed {
		t.UpdatedAt = h.Now().UTC()
		updated, err := topicEvent(events.TopicUpdated, t, false)
		if err != nil {
			return err
		}
		if err := h.Store.UpdateTopic(r.Context(), t, updated); errors.Is(err, store.ErrNotFound) {
			return errTopicNotFound
		} else if err != nil {
			return fmt.Errorf("update topic: %w", err)
		}
	}
	writeJSON(w, http.StatusOK, objectIDResponse{Object: "topic", ID: t.ID})
	return nil
}

// deleteTopic removes a topic and every choice made for it. An unknown
// topic is a 404.
func (h *Handler) deleteTopic(w http.ResponseWriter, r *http.Request) error {
	t, err := h.loadTopic(r)
	if err != nil {
		return err
	}
	t.UpdatedAt = h.Now().UTC()
	deleted, err := topicEvent(events.TopicDeleted, t, true)
	if err != nil {
		return err
	}
	if err := h.Store.DeleteTopic(r.Context(), t.TeamID, t.ID, deleted); errors.Is(err, store.ErrNotFound) {
		return errTopicNotFound
	} else if err != nil {
		return fmt.Errorf("delete topic: %w", err)
	}
	writeJSON(w, http.StatusOK, struct {
		Object  string `json:"object"`
		ID      string `json:"id"`
		Deleted bool   `json:"deleted"`
	}{"topic", t.ID, true})
	return nil
}

// contactTopics decodes the choices of a request (`topics` of POST
// /contacts, or the body of PATCH /contacts/{id_or_email}/topics): an array
// of {id, subscription} objects. A topic named twice takes the last
// choice, in the place of its first; ids come back in lower case.
func contactTopics(field string, raw json.RawMessage) ([]store.TopicSubscription, error) {
	if !present(raw) {
		return nil, nil
	}
	var items []json.RawMessage
	if err := json.Unmarshal(raw, &items); err != nil {
		return nil, apierr.Validation("The `%s` field must be an array of `{\"id\": \"…\", \"subscription\": \"opt_in\"}` objects.", field)
	}
	if len(items) > maxContactTopics {
		return nil, apierr.Validation("The `%s` field must contain at most %d items.", field, maxContactTopics)
	}
	var out []store.TopicSubscription
	at := map[string]int{}
	for i, item := range items {
		var obj struct {
			ID           *string `json:"id"`
			Subscription *string `json:"subscription"`
		}
		if err := json.Unmarshal(item, &obj); err != nil || !bytes.HasPrefix(bytes.TrimSpace(item), []byte("{")) {
			return nil, apierr.Validation("Invalid `%s[%d]` field. It must be an object with the topic's `id` and a `subscription`.", field, i)
		}
		if obj.ID == nil || strings.TrimSpace(*obj.ID) == "" {
			return nil, apierr.MissingField(fmt.Sprintf("%s[%d].id", field, i))
		}
		id, err := uuidParam(fmt.Sprintf("%s[%d].id", field, i), strings.TrimSpace(*obj.ID))
		if err != nil {
			return nil, err
		}
		if obj.Subscription == nil || strings.TrimSpace(*obj.Subscription) == "" {
			return nil, apierr.MissingField(fmt.Sprintf("%s[%d].subscription", field, i))
		}
		s, err := subscriptionValue(fmt.Sprintf("%s[%d].subscription", field, i), *obj.Subscription)
		if err != nil {
			return nil, err
		}
		if j, ok := at[id]; ok {
			out[j].Subscription = s
			continue
		}
		at[id] = len(out)
		out = append(out, store.TopicSubscription{TopicID: id, Subscription: s})
	}
	return out, nil
}

// contactTopicsEvent builds a contact.topics.updated event.
func contactTopicsEvent(c *store.Contact, subs []store.TopicSubscription, at time.Time) (*store.Event, error) {
	ev, err := events.ContactTopics(c, subs, at)
	if err != nil {
		return nil, fmt.Errorf("contact topics event: %w", err)
	}
	return ev, nil
}

// listContactTopics answers GET /contacts/{id_or_email}/topics: every
// topic of the team, newest first, with the contact's subscription (its
// own choice, else the topic's default).
func (h *Handler) listContactTopics(w http.ResponseWriter, r *http.Request) error {
	c, err := h.loadContact(r)
	if err != nil {
		return err
	}
	p, err := parsePage(r)
	if err != nil {
		return err
	}
	list, more, err := h.Store.ListContactTopics(r.Context(), c.TeamID, c.ID, p)
	if errors.Is(err, store.ErrNotFound) {
		return errUnknownCursor
	}
	if err != nil {
		return fmt.Errorf("list contact topics: %w", err)
	}
	out := listResponse[contactTopicItem]{Object: "list", HasMore: more, Data: make([]contactTopicItem, 0, len(list))}
	for _, ct := range list {
		out.Data = append(out.Data, contactTopicItem{ID: ct.Topic.ID, Name: ct.Topic.Name, Description: description(ct.Topic),
			Subscription: ct.Subscription})
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// updateContactTopics answers PATCH /contacts/{id_or_email}/topics. The
// body is a bare array of choices (the SDKs and the docs) or an object
// holding it as `topics` (the OpenAPI document). Every topic is checked
// before any choice is written; the choices made are recorded with one
// contact.topics.updated event. An empty array changes nothing.
func (h *Handler) updateContactTopics(w http.ResponseWriter, r *http.Request) error {
	c, err := h.loadContact(r)
	if err != nil {
		return err
	}
	body, err := h.readBody(w, r)
	if err != nil {
		return err
	}
	body = bytes.TrimSpace(body)
	field, raw := "topics", json.RawMessage(body)
	switch {
	case bytes.HasPrefix(body, []byte("[")):
	case bytes.HasPrefix(body, []byte("{")):
		var req struct {
			Topics json.RawMessage `json:"topics"`
		}
		if err := json.Unmarshal(body, &req); err != nil {
			return apierr.BadRequest("Invalid JSON body: expected an array of topics, or an object with `topics`.")
		}
		if !present(req.Topics) {
			return apierr.MissingField("topics")
		}
		raw = req.Topics
	default:
		return apierr.BadRequest("Invalid JSON body: expected an array of topics, or an object with `topics`.")
	}
	if !json.Valid(body) {
		return apierr.BadRequest("Invalid JSON body: expected an array of topics, or an object with `topics`.")
	}
	subs, err := contactTopics(field, raw)
	if err != nil {
		return err
	}
	out := contactTopicsResponse{Object: "contact_topics", ID: c.ID, ContactID: c.ID, Topics: make([]topicSubscription, 0, len(subs))}
	for _, s := range subs {
		out.Topics = append(out.Topics, topicSubscription{ID: s.TopicID, Subscription: s.Subscription})
	}
	if len(subs) > 0 {
		now := h.Now().UTC()
		ev, err := contactTopicsEvent(c, subs, now)
		if err != nil {
			return err
		}
		err = h.Store.SetContactTopics(r.Context(), c.TeamID, c.ID, subs, now, ev)
		switch {
		case errors.Is(err, store.ErrUnknownTopic):
			return errTopicNotFound
		case errors.Is(err, store.ErrNotFound):
			return errContactNotFound
		case err != nil:
			return fmt.Errorf("set contact topics: %w", err)
		}
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}
