package dashboard

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/godwit/godwit/internal/contact"
	"github.com/godwit/godwit/internal/events"
	"github.com/godwit/godwit/internal/store"
)

// The audience sections: Suppressions, Contacts, Segments and Topics.
// Reads are for every member; writes are admin-only and follow the API's
// rules: the same validation (internal/contact), the same events
// (internal/events) recorded by the same store calls.

// audienceStore is what the audience pages read and write (part of Store).
type audienceStore interface {
	ListSuppressions(ctx context.Context, teamID, origin string, p store.Page) ([]*store.Suppression, bool, error)
	GetSuppression(ctx context.Context, teamID, idOrEmail string) (*store.Suppression, error)
	DeleteSuppressions(ctx context.Context, teamID string, idsOrEmails []string, removed store.SuppressionEvent) ([]*store.Suppression, error)

	CreateContact(ctx context.Context, c *store.Contact, events ...*store.Event) error
	GetContact(ctx context.Context, teamID, idOrEmail string) (*store.Contact, error)
	ListContacts(ctx context.Context, teamID, segmentID string, p store.Page) ([]*store.Contact, bool, error)
	UpdateContact(ctx context.Context, c *store.Contact, events ...*store.Event) error
	DeleteContact(ctx context.Context, teamID, id string, events ...*store.Event) error
	AddContactToSegment(ctx context.Context, teamID, contactID, segmentID string, at time.Time) error
	RemoveContactFromSegment(ctx context.Context, teamID, contactID, segmentID string) error
	ListContactSegments(ctx context.Context, teamID, contactID string, p store.Page) ([]*store.Segment, bool, error)

	CreateSegment(ctx context.Context, s *store.Segment) error
	GetSegment(ctx context.Context, teamID, id string) (*store.Segment, error)
	ListSegments(ctx context.Context, teamID string, p store.Page) ([]*store.Segment, bool, error)
	DeleteSegment(ctx context.Context, teamID, id string) error

	CreateTopic(ctx context.Context, t *store.Topic, events ...*store.Event) error
	GetTopic(ctx context.Context, teamID, id string) (*store.Topic, error)
	ListTopics(ctx context.Context, teamID string, p store.Page) ([]*store.Topic, bool, error)
	UpdateTopic(ctx context.Context, t *store.Topic, events ...*store.Event) error
	DeleteTopic(ctx context.Context, teamID, id string, events ...*store.Event) error
	SetContactTopics(ctx context.Context, teamID, contactID string, subs []store.TopicSubscription, at time.Time, events ...*store.Event) error
	ListContactTopics(ctx context.Context, teamID, contactID string, p store.Page) ([]*store.ContactTopic, bool, error)

	ListContactProperties(ctx context.Context, teamID string, p store.Page) ([]*store.ContactProperty, bool, error)
	CreateContactProperty(ctx context.Context, p *store.ContactProperty) error
	GetContactProperty(ctx context.Context, teamID, id string) (*store.ContactProperty, error)
	DeleteContactProperty(ctx context.Context, teamID, id string) error
}

const (
	audiencePerPage = 50
	// detailShown is how many of a contact's segments and topics its page
	// shows, and how many segments its "add to segment" choice offers.
	detailShown = 100
	// maxDeclared bounds the team's property declarations the contact
	// pages read (a page of the store's at a time).
	maxDeclared = 1000
)

// pathID is the path value name as an id: a UUID in lower case, else
// errNotFound (ids are UUIDs; anything else names nothing).
func pathID(r *http.Request, name string) (string, error) {
	v := r.PathValue(name)
	if _, err := uuid.Parse(v); err != nil || len(v) != 36 {
		return "", errNotFound
	}
	return strings.ToLower(v), nil
}

// badRequest is a 400 page with msg.
func badRequest(msg string) error { return &httpError{status: http.StatusBadRequest, msg: msg} }

// ---- Suppressions ----

type suppressionsData struct {
	Suppressions []*store.Suppression
	Search       string
	pager
}

// suppressions lists the team's suppressions newest first, or the one of
// the address searched for.
func (h *Handler) suppressions(w http.ResponseWriter, r *http.Request, s *request) error {
	d := suppressionsData{Search: strings.TrimSpace(r.URL.Query().Get("email"))}
	if d.Search != "" {
		if strings.Contains(d.Search, "@") { // an address; ids are not searched
			sup, err := h.cfg.Store.GetSuppression(r.Context(), s.user.TeamID, strings.ToLower(d.Search))
			switch {
			case err == nil:
				d.Suppressions = []*store.Suppression{sup}
			case !errors.Is(err, store.ErrNotFound):
				return fmt.Errorf("find suppression: %w", err)
			}
		}
		return h.render(w, r, s, http.StatusOK, "suppressions", "Suppressions", "Suppressions", d)
	}
	list, pg, err := listPage(r, audiencePerPage, "suppressions", "suppressions", func(p store.Page) ([]*store.Suppression, bool, error) {
		return h.cfg.Store.ListSuppressions(r.Context(), s.user.TeamID, "", p)
	}, func(x *store.Suppression) string { return x.ID })
	if err != nil {
		return err
	}
	d.Suppressions, d.pager = list, pg
	return h.render(w, r, s, http.StatusOK, "suppressions", "Suppressions", "Suppressions", d)
}

// removeSuppression takes an address off the list (admin), with the
// suppression.removed event, as the API's DELETE does.
func (h *Handler) removeSuppression(w http.ResponseWriter, r *http.Request, s *request) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	removed, err := h.cfg.Store.DeleteSuppressions(r.Context(), s.user.TeamID, []string{id}, events.SuppressionRemovedEvent)
	if err != nil {
		return fmt.Errorf("remove suppression: %w", err)
	}
	if len(removed) == 0 {
		return errNotFound
	}
	http.Redirect(w, r, Prefix+"suppressions", http.StatusSeeOther)
	return nil
}

// ---- Contacts ----

type contactsData struct {
	Contacts []*store.Contact
	Search   string
	pager
	// Declared are the team's contact properties, by key.
	Declared []declaredProperty
	// PropertyForm is the admin's form to declare a property, as typed.
	PropertyForm propertyForm
}

// propertyForm is the form that declares a contact property.
type propertyForm struct {
	Key, Type, Fallback, Error string
}

// declaredProperty is a declaration as the Contacts page shows it.
type declaredProperty struct {
	*store.ContactProperty
	Fallback    string // the fallback value as text ("" for none: see HasFallback)
	HasFallback bool
}

// contacts lists the team's contacts newest first, or the one whose
// address is searched for.
func (h *Handler) contacts(w http.ResponseWriter, r *http.Request, s *request) error {
	return h.contactsPage(w, r, s, http.StatusOK, contactsData{PropertyForm: propertyForm{Type: store.PropertyString}})
}

func (h *Handler) contactsPage(w http.ResponseWriter, r *http.Request, s *request, status int, d contactsData) error {
	d.Search = strings.TrimSpace(r.URL.Query().Get("email"))
	defs, err := h.declaredProperties(r.Context(), s.user.TeamID)
	if err != nil {
		return err
	}
	for _, p := range defs {
		d.Declared = append(d.Declared, declaredProperty{ContactProperty: p, Fallback: contact.FormatProperty(p.FallbackValue),
			HasFallback: p.FallbackValue != nil})
	}
	if d.Search != "" {
		if strings.Contains(d.Search, "@") {
			c, err := h.cfg.Store.GetContact(r.Context(), s.user.TeamID, d.Search)
			switch {
			case err == nil:
				d.Contacts = []*store.Contact{c}
			case !errors.Is(err, store.ErrNotFound):
				return fmt.Errorf("find contact: %w", err)
			}
		}
		return h.render(w, r, s, status, "contacts", "Contacts", "Contacts", d)
	}
	list, pg, err := listPage(r, audiencePerPage, "contacts", "contacts", func(p store.Page) ([]*store.Contact, bool, error) {
		return h.cfg.Store.ListContacts(r.Context(), s.user.TeamID, "", p)
	}, func(x *store.Contact) string { return x.ID })
	if err != nil {
		return err
	}
	d.Contacts, d.pager = list, pg
	return h.render(w, r, s, status, "contacts", "Contacts", "Contacts", d)
}

// createContactProperty declares a contact property (admin) with the
// API's rules (internal/contact): a key of 1 to 50 letters, digits or
// underscores, unique in the team; string or number; an optional
// fallback of the type ("" for none).
func (h *Handler) createContactProperty(w http.ResponseWriter, r *http.Request, s *request) error {
	f := propertyForm{Key: strings.TrimSpace(r.PostFormValue("key")), Type: r.PostFormValue("type"), Fallback: r.PostFormValue("fallback")}
	var fallback any
	switch {
	case !contact.ValidPropertyKey(f.Key):
		f.Error = fmt.Sprintf("A property's key is 1 to %d letters, digits or underscores.", contact.MaxPropertyKey)
	case !contact.ValidPropertyType(f.Type):
		f.Error = "The type must be string or number."
	default:
		v, err := contact.PropertyText(f.Type, f.Fallback)
		switch {
		case errors.Is(err, contact.ErrNotNumber):
			f.Error = "The fallback of a number property must be a number, such as 0, or empty for none."
		case err != nil:
			f.Error = fmt.Sprintf("The fallback must be at most %d characters, without NUL.", contact.MaxPropertyValue)
		}
		fallback = v
	}
	status := http.StatusBadRequest
	if f.Error == "" {
		now := time.Now().UTC()
		p := &store.ContactProperty{ID: store.NewID(), TeamID: s.user.TeamID, Key: f.Key, Type: f.Type, FallbackValue: fallback,
			CreatedAt: now, UpdatedAt: now}
		err := h.cfg.Store.CreateContactProperty(r.Context(), p)
		if err == nil {
			s.note(slog.String("contact_property_id", p.ID)) // the redirect names no object
			http.Redirect(w, r, Prefix+"contacts#properties", http.StatusSeeOther)
			return nil
		}
		if !errors.Is(err, store.ErrConflict) {
			return fmt.Errorf("create contact property: %w", err)
		}
		f.Error, status = "The team already has a property with this key.", http.StatusConflict
	}
	r.URL.RawQuery = ""
	return h.contactsPage(w, r, s, status, contactsData{PropertyForm: f})
}

func (h *Handler) loadContactProperty(r *http.Request, s *request) (*store.ContactProperty, error) {
	id, err := pathID(r, "id")
	if err != nil {
		return nil, err
	}
	return h.cfg.Store.GetContactProperty(r.Context(), s.user.TeamID, id)
}

// confirmDeleteContactProperty asks an admin to confirm.
func (h *Handler) confirmDeleteContactProperty(w http.ResponseWriter, r *http.Request, s *request) error {
	p, err := h.loadContactProperty(r, s)
	if err != nil {
		return err
	}
	return h.render(w, r, s, http.StatusOK, "confirm", "Delete property", "Contacts", confirmData{
		Question: "Delete the contact property " + p.Key + "?",
		Detail: "Contacts keep the values they hold for " + p.Key + ", which are then no longer checked or edited here; " +
			"its fallback no longer applies.",
		Action: Prefix + "contact-properties/" + p.ID + "/delete", Button: "Delete the property", Back: Prefix + "contacts#properties"})
}

// deleteContactProperty deletes a declaration (admin), as the API's
// DELETE: contacts keep their values.
func (h *Handler) deleteContactProperty(w http.ResponseWriter, r *http.Request, s *request) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	if err := h.cfg.Store.DeleteContactProperty(r.Context(), s.user.TeamID, id); err != nil {
		return err
	}
	http.Redirect(w, r, Prefix+"contacts#properties", http.StatusSeeOther)
	return nil
}

// loadContact is the path's contact of the signed-in team, else a 404.
func (h *Handler) loadContact(r *http.Request, s *request) (*store.Contact, error) {
	id, err := pathID(r, "id")
	if err != nil {
		return nil, err
	}
	return h.cfg.Store.GetContact(r.Context(), s.user.TeamID, id)
}

type contactData struct {
	Contact    *store.Contact
	Properties []property
	Segments   []*store.Segment
	Topics     []*store.ContactTopic
	// Joinable are the team's segments the contact is not in (admins).
	Joinable []*store.Segment
}

// property is one of a contact's properties on its page: a value it holds,
// or a declared property it holds none of (its fallback then applies).
type property struct {
	Key   string
	Value string // the value as text (contact.FormatProperty)
	// Type is the declared type ("" for an undeclared key); Unset that the
	// contact holds no value, and Fallback the declaration's, if any.
	Type     string
	Unset    bool
	Fallback *string
}

// contactProperties are the contact's values and the team's other
// declared properties, by key.
func contactProperties(props map[string]any, defs []*store.ContactProperty) []property {
	out := make([]property, 0, len(props)+len(defs))
	declared := make(map[string]*store.ContactProperty, len(defs))
	for _, d := range defs {
		declared[d.Key] = d
		if _, ok := props[d.Key]; !ok {
			p := property{Key: d.Key, Type: d.Type, Unset: true}
			if d.FallbackValue != nil {
				f := contact.FormatProperty(d.FallbackValue)
				p.Fallback = &f
			}
			out = append(out, p)
		}
	}
	for k, v := range props {
		p := property{Key: k, Value: contact.FormatProperty(v)}
		if d, ok := declared[k]; ok {
			p.Type = d.Type
		}
		out = append(out, p)
	}
	slices.SortFunc(out, func(a, b property) int { return strings.Compare(a.Key, b.Key) })
	return out
}

// declaredProperties are the team's contact property declarations (at
// most maxDeclared), by key.
func (h *Handler) declaredProperties(ctx context.Context, teamID string) ([]*store.ContactProperty, error) {
	var all []*store.ContactProperty
	p := store.Page{Limit: 100}
	for {
		list, more, err := h.cfg.Store.ListContactProperties(ctx, teamID, p)
		if err != nil {
			return nil, fmt.Errorf("list contact properties: %w", err)
		}
		all = append(all, list...)
		if !more || len(list) == 0 || len(all) >= maxDeclared {
			break
		}
		p.After = list[len(list)-1].ID
	}
	slices.SortFunc(all, func(a, b *store.ContactProperty) int { return strings.Compare(a.Key, b.Key) })
	return all, nil
}

// contact is a contact's page: its fields, properties, segments and topic
// subscriptions (five queries; six for an admin).
func (h *Handler) contact(w http.ResponseWriter, r *http.Request, s *request) error {
	c, err := h.loadContact(r, s)
	if err != nil {
		return err
	}
	ctx := r.Context()
	segs, _, err := h.cfg.Store.ListContactSegments(ctx, c.TeamID, c.ID, store.Page{Limit: detailShown})
	if err != nil {
		return fmt.Errorf("list contact segments: %w", err)
	}
	topics, _, err := h.cfg.Store.ListContactTopics(ctx, c.TeamID, c.ID, store.Page{Limit: detailShown})
	if err != nil {
		return fmt.Errorf("list contact topics: %w", err)
	}
	defs, err := h.declaredProperties(ctx, c.TeamID)
	if err != nil {
		return err
	}
	d := contactData{Contact: c, Segments: segs, Topics: topics, Properties: contactProperties(c.Properties, defs)}
	if s.user.Role == store.RoleAdmin {
		all, _, err := h.cfg.Store.ListSegments(ctx, c.TeamID, store.Page{Limit: detailShown})
		if err != nil {
			return fmt.Errorf("list segments: %w", err)
		}
		in := map[string]bool{}
		for _, sg := range segs {
			in[sg.ID] = true
		}
		for _, sg := range all {
			if !in[sg.ID] {
				d.Joinable = append(d.Joinable, sg)
			}
		}
	}
	return h.render(w, r, s, http.StatusOK, "contact", c.Email, "Contacts", d)
}

type contactFormData struct {
	Contact                    *store.Contact // nil for a new one
	Email, FirstName, LastName string
	Unsubscribed               bool
	// Properties are the fields of the team's declared properties.
	Properties []propertyField
	Error      string
}

// propertyField is the form's field for one declared property, named
// "property.KEY".
type propertyField struct {
	Key, Type string
	// Value is the field's text: the contact's value, or what was typed.
	Value string
	// Fallback is the declaration's fallback as text, if it has one.
	Fallback *string
	// Mismatch: the contact holds a value not of the declared type (given
	// before the declaration); the field is a text one so that it shows
	// it, and it is kept unless changed.
	Mismatch bool
	// Multiline: the value has line breaks, which a text input would drop.
	Multiline bool
	Error     string
}

// propertyFieldPrefix names a property's form field.
const propertyFieldPrefix = "property."

// propertyFields are the form's fields for the declared properties defs,
// filled with the contact's props (nil for a new contact), or, with form,
// as typed, along with the changes they make: a field whose text is the
// contact's own value changes nothing (nor is it checked again: a PATCH
// checks only the values it gives), an empty one removes the value (the
// API's null: the fallback applies) and any other is read by
// contact.PropertyText, its error the field's. ok is false when any field
// has an error.
func propertyFields(defs []*store.ContactProperty, props map[string]any, form url.Values) (fields []propertyField, changes map[string]any, ok bool) {
	ok = true
	for _, d := range defs {
		cur, has := props[d.Key]
		f := propertyField{Key: d.Key, Type: d.Type, Value: contact.FormatProperty(cur)}
		if d.FallbackValue != nil {
			fb := contact.FormatProperty(d.FallbackValue)
			f.Fallback = &fb
		}
		f.Mismatch = has && contact.CheckPropertyValue(d.Type, cur) != nil
		if typed, sent := form[propertyFieldPrefix+d.Key]; sent && len(typed) > 0 {
			// A textarea sends its line breaks as CRLF.
			text := strings.ReplaceAll(typed[0], "\r\n", "\n")
			if text != strings.ReplaceAll(f.Value, "\r\n", "\n") {
				f.Value = text
				v, err := contact.PropertyText(d.Type, text)
				switch {
				case errors.Is(err, contact.ErrNotNumber):
					f.Error = "Write a number, such as 42 or -3.5, or leave it empty."
				case err != nil:
					f.Error = fmt.Sprintf("The text must be at most %d characters, without NUL.", contact.MaxPropertyValue)
				default:
					if changes == nil {
						changes = map[string]any{}
					}
					changes[d.Key] = v
				}
				ok = ok && f.Error == ""
			}
		}
		f.Multiline = strings.ContainsAny(f.Value, "\r\n")
		fields = append(fields, f)
	}
	// The API's rule on the values of declared keys (which PropertyText
	// already follows).
	var m *contact.PropertyMismatch
	if errors.As(contact.CheckDeclared(defs, changes), &m) {
		for i := range fields {
			if fields[i].Key == m.Key {
				fields[i].Error = "The value must be a " + m.Type + "."
			}
		}
		ok = false
	}
	return fields, changes, ok
}

func (h *Handler) contactForm(w http.ResponseWriter, r *http.Request, s *request, status int, d contactFormData) error {
	title := "New contact"
	if d.Contact != nil {
		title = "Edit contact"
	}
	return h.render(w, r, s, status, "contactform", title, "Contacts", d)
}

func strOr(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

// newContact is the form for a new contact (admin).
func (h *Handler) newContact(w http.ResponseWriter, r *http.Request, s *request) error {
	defs, err := h.declaredProperties(r.Context(), s.user.TeamID)
	if err != nil {
		return err
	}
	fields, _, _ := propertyFields(defs, nil, nil)
	return h.contactForm(w, r, s, http.StatusOK, contactFormData{Properties: fields})
}

// contactFields validates the form with the API's rules (internal/contact).
func contactFields(r *http.Request) (d contactFormData, first, last *string) {
	d = contactFormData{Email: r.PostFormValue("email"), FirstName: r.PostFormValue("first_name"),
		LastName: r.PostFormValue("last_name"), Unsubscribed: r.PostFormValue("unsubscribed") == "on"}
	addr, ok := contact.Address(d.Email)
	if !ok {
		d.Error = "The email must be an address such as someone@example.com."
		return d, nil, nil
	}
	d.Email = addr
	name := func(v string) *string {
		v = strings.TrimSpace(v)
		if v == "" {
			return nil
		}
		if !contact.ValidName(v) {
			d.Error = fmt.Sprintf("A name must be at most %d characters, on one line.", contact.MaxName)
		}
		return &v
	}
	return d, name(d.FirstName), name(d.LastName)
}

// contactProps reads the form's property fields into d and returns the
// contact's properties with their changes merged (props are the
// contact's, nil for a new one); d.Error says what is wrong, if anything.
func (h *Handler) contactProps(r *http.Request, s *request, d *contactFormData, props map[string]any) (map[string]any, error) {
	defs, err := h.declaredProperties(r.Context(), s.user.TeamID)
	if err != nil {
		return nil, err
	}
	fields, changes, ok := propertyFields(defs, props, r.PostForm)
	d.Properties = fields
	if !ok {
		if d.Error == "" {
			d.Error = "Some properties are not valid: see below."
		}
		return nil, nil
	}
	merged, err := contact.MergeProperties(props, changes)
	if err != nil && d.Error == "" {
		d.Error = fmt.Sprintf("A contact may hold at most %d properties.", contact.MaxProperties)
	}
	return merged, nil
}

// createContact makes a contact (admin) with its contact.created event.
func (h *Handler) createContact(w http.ResponseWriter, r *http.Request, s *request) error {
	d, first, last := contactFields(r)
	props, err := h.contactProps(r, s, &d, nil)
	if err != nil {
		return err
	}
	if d.Error != "" {
		return h.contactForm(w, r, s, http.StatusBadRequest, d)
	}
	now := time.Now().UTC()
	c := &store.Contact{ID: store.NewID(), TeamID: s.user.TeamID, Email: d.Email, FirstName: first, LastName: last,
		Unsubscribed: d.Unsubscribed, Properties: props, CreatedAt: now, UpdatedAt: now}
	ev, err := events.Contact(events.ContactCreated, c, "", now)
	if err != nil {
		return fmt.Errorf("contact event: %w", err)
	}
	err = h.cfg.Store.CreateContact(r.Context(), c, ev)
	if errors.Is(err, store.ErrConflict) {
		d.Error = "The team already has a contact with this email."
		return h.contactForm(w, r, s, http.StatusConflict, d)
	}
	if err != nil {
		return fmt.Errorf("create contact: %w", err)
	}
	http.Redirect(w, r, Prefix+"contacts/"+c.ID, http.StatusSeeOther)
	return nil
}

// editContact is the form to change a contact (admin).
func (h *Handler) editContact(w http.ResponseWriter, r *http.Request, s *request) error {
	c, err := h.loadContact(r, s)
	if err != nil {
		return err
	}
	defs, err := h.declaredProperties(r.Context(), c.TeamID)
	if err != nil {
		return err
	}
	fields, _, _ := propertyFields(defs, c.Properties, nil)
	return h.contactForm(w, r, s, http.StatusOK, contactFormData{Contact: c, Email: c.Email,
		FirstName: strOr(c.FirstName), LastName: strOr(c.LastName), Unsubscribed: c.Unsubscribed, Properties: fields})
}

// updateContact changes a contact's email, names, unsubscribed flag and
// declared properties (admin), with the contact.updated event.
func (h *Handler) updateContact(w http.ResponseWriter, r *http.Request, s *request) error {
	c, err := h.loadContact(r, s)
	if err != nil {
		return err
	}
	d, first, last := contactFields(r)
	d.Contact = c
	props, err := h.contactProps(r, s, &d, c.Properties)
	if err != nil {
		return err
	}
	if d.Error != "" {
		return h.contactForm(w, r, s, http.StatusBadRequest, d)
	}
	c.Email, c.FirstName, c.LastName, c.Unsubscribed, c.Properties, c.UpdatedAt = d.Email, first, last, d.Unsubscribed, props, time.Now().UTC()
	ev, err := events.Contact(events.ContactUpdated, c, "", c.UpdatedAt)
	if err != nil {
		return fmt.Errorf("contact event: %w", err)
	}
	err = h.cfg.Store.UpdateContact(r.Context(), c, ev)
	if errors.Is(err, store.ErrConflict) {
		d.Error = "Another contact of the team has this email."
		return h.contactForm(w, r, s, http.StatusConflict, d)
	}
	if err != nil {
		return fmt.Errorf("update contact: %w", err)
	}
	http.Redirect(w, r, Prefix+"contacts/"+c.ID, http.StatusSeeOther)
	return nil
}

// confirmDeleteContact asks an admin to confirm.
func (h *Handler) confirmDeleteContact(w http.ResponseWriter, r *http.Request, s *request) error {
	c, err := h.loadContact(r, s)
	if err != nil {
		return err
	}
	return h.render(w, r, s, http.StatusOK, "confirm", "Delete contact", "Contacts", confirmData{
		Question: "Delete the contact " + c.Email + "?",
		Detail:   "The contact leaves every segment and its topic choices are deleted. This cannot be undone.",
		Action:   Prefix + "contacts/" + c.ID + "/delete", Button: "Delete the contact", Back: Prefix + "contacts/" + c.ID})
}

// deleteContact deletes a contact (admin), with the contact.deleted event.
func (h *Handler) deleteContact(w http.ResponseWriter, r *http.Request, s *request) error {
	c, err := h.loadContact(r, s)
	if err != nil {
		return err
	}
	ev, err := events.Contact(events.ContactDeleted, c, "", time.Now().UTC())
	if err != nil {
		return fmt.Errorf("contact event: %w", err)
	}
	if err := h.cfg.Store.DeleteContact(r.Context(), c.TeamID, c.ID, ev); err != nil {
		return err
	}
	http.Redirect(w, r, Prefix+"contacts", http.StatusSeeOther)
	return nil
}

// addContactSegment puts a contact in a segment (admin).
func (h *Handler) addContactSegment(w http.ResponseWriter, r *http.Request, s *request) error {
	c, err := h.loadContact(r, s)
	if err != nil {
		return err
	}
	seg, err := h.formSegment(r, s, r.PostFormValue("segment"))
	if err != nil {
		return err
	}
	if err := h.cfg.Store.AddContactToSegment(r.Context(), c.TeamID, c.ID, seg.ID, time.Now().UTC()); err != nil {
		return err
	}
	http.Redirect(w, r, Prefix+"contacts/"+c.ID, http.StatusSeeOther)
	return nil
}

// removeContactSegment takes a contact out of a segment (admin).
func (h *Handler) removeContactSegment(w http.ResponseWriter, r *http.Request, s *request) error {
	c, err := h.loadContact(r, s)
	if err != nil {
		return err
	}
	segID, err := pathID(r, "segment")
	if err != nil {
		return err
	}
	if err := h.cfg.Store.RemoveContactFromSegment(r.Context(), c.TeamID, c.ID, segID); err != nil {
		return err
	}
	http.Redirect(w, r, Prefix+"contacts/"+c.ID, http.StatusSeeOther)
	return nil
}

// formSegment is the team's segment a form names, else a 404.
func (h *Handler) formSegment(r *http.Request, s *request, v string) (*store.Segment, error) {
	if _, err := uuid.Parse(v); err != nil || len(v) != 36 {
		return nil, errNotFound
	}
	return h.cfg.Store.GetSegment(r.Context(), s.user.TeamID, strings.ToLower(v))
}

// setContactTopic records a contact's choice for one topic (admin), with
// the contact.topics.updated event, as the API's PATCH does.
func (h *Handler) setContactTopic(w http.ResponseWriter, r *http.Request, s *request) error {
	c, err := h.loadContact(r, s)
	if err != nil {
		return err
	}
	topicID := r.PostFormValue("topic")
	if _, err := uuid.Parse(topicID); err != nil || len(topicID) != 36 {
		return errNotFound
	}
	sub := r.PostFormValue("subscription")
	if sub != store.SubscriptionOptIn && sub != store.SubscriptionOptOut {
		return badRequest("The subscription must be opt_in or opt_out.")
	}
	subs := []store.TopicSubscription{{TopicID: strings.ToLower(topicID), Subscription: sub}}
	now := time.Now().UTC()
	ev, err := events.ContactTopics(c, subs, now)
	if err != nil {
		return fmt.Errorf("contact topics event: %w", err)
	}
	err = h.cfg.Store.SetContactTopics(r.Context(), c.TeamID, c.ID, subs, now, ev)
	if errors.Is(err, store.ErrUnknownTopic) {
		return errNotFound
	}
	if err != nil {
		return err
	}
	http.Redirect(w, r, Prefix+"contacts/"+c.ID, http.StatusSeeOther)
	return nil
}

// ---- Segments ----

type segmentsData struct {
	Segments []*store.Segment
	Name     string
	Error    string
	pager
}

// segments lists the team's segments, with the form to add one (admins).
func (h *Handler) segments(w http.ResponseWriter, r *http.Request, s *request) error {
	return h.segmentsPage(w, r, s, http.StatusOK, segmentsData{})
}

func (h *Handler) segmentsPage(w http.ResponseWriter, r *http.Request, s *request, status int, d segmentsData) error {
	list, pg, err := listPage(r, audiencePerPage, "segments", "segments", func(p store.Page) ([]*store.Segment, bool, error) {
		return h.cfg.Store.ListSegments(r.Context(), s.user.TeamID, p)
	}, func(x *store.Segment) string { return x.ID })
	if err != nil {
		return err
	}
	d.Segments, d.pager = list, pg
	return h.render(w, r, s, status, "segments", "Segments", "Segments", d)
}

// createSegment adds a segment (admin).
func (h *Handler) createSegment(w http.ResponseWriter, r *http.Request, s *request) error {
	name, ok := contact.SegmentName(r.PostFormValue("name"))
	if !ok {
		r.URL.RawQuery = ""
		return h.segmentsPage(w, r, s, http.StatusBadRequest, segmentsData{Name: r.PostFormValue("name"),
			Error: fmt.Sprintf("A segment's name is required, at most %d characters, on one line.", contact.MaxSegmentName)})
	}
	seg := &store.Segment{ID: store.NewID(), TeamID: s.user.TeamID, Name: name, CreatedAt: time.Now().UTC()}
	if err := h.cfg.Store.CreateSegment(r.Context(), seg); err != nil {
		return fmt.Errorf("create segment: %w", err)
	}
	http.Redirect(w, r, Prefix+"segments/"+seg.ID, http.StatusSeeOther)
	return nil
}

func (h *Handler) loadSegment(r *http.Request, s *request) (*store.Segment, error) {
	id, err := pathID(r, "id")
	if err != nil {
		return nil, err
	}
	return h.cfg.Store.GetSegment(r.Context(), s.user.TeamID, id)
}

type segmentData struct {
	Segment  *store.Segment
	Contacts []*store.Contact
	pager
}

// segment is a segment's page: its contacts, a page at a time.
func (h *Handler) segment(w http.ResponseWriter, r *http.Request, s *request) error {
	seg, err := h.loadSegment(r, s)
	if err != nil {
		return err
	}
	list, pg, err := listPage(r, audiencePerPage, "segment contacts", "segments/"+seg.ID, func(p store.Page) ([]*store.Contact, bool, error) {
		return h.cfg.Store.ListContacts(r.Context(), seg.TeamID, seg.ID, p)
	}, func(x *store.Contact) string { return x.ID })
	if err != nil {
		return err
	}
	pg.Label = "Pages of contacts"
	return h.render(w, r, s, http.StatusOK, "segment", seg.Name, "Segments", segmentData{Segment: seg, Contacts: list, pager: pg})
}

func (h *Handler) confirmDeleteSegment(w http.ResponseWriter, r *http.Request, s *request) error {
	seg, err := h.loadSegment(r, s)
	if err != nil {
		return err
	}
	return h.render(w, r, s, http.StatusOK, "confirm", "Delete segment", "Segments", confirmData{
		Question: "Delete the segment " + seg.Name + "?",
		Detail:   "The segment is deleted; its contacts stay, in their other segments. This cannot be undone.",
		Action:   Prefix + "segments/" + seg.ID + "/delete", Button: "Delete the segment", Back: Prefix + "segments/" + seg.ID})
}

// deleteSegment deletes a segment (admin); its contacts stay.
func (h *Handler) deleteSegment(w http.ResponseWriter, r *http.Request, s *request) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	if err := h.cfg.Store.DeleteSegment(r.Context(), s.user.TeamID, id); err != nil {
		return err
	}
	http.Redirect(w, r, Prefix+"segments", http.StatusSeeOther)
	return nil
}

// ---- Topics ----

type topicsData struct {
	Topics []*store.Topic
	pager
}

// topics lists the team's topics, newest first.
func (h *Handler) topics(w http.ResponseWriter, r *http.Request, s *request) error {
	list, pg, err := listPage(r, audiencePerPage, "topics", "topics", func(p store.Page) ([]*store.Topic, bool, error) {
		return h.cfg.Store.ListTopics(r.Context(), s.user.TeamID, p)
	}, func(x *store.Topic) string { return x.ID })
	if err != nil {
		return err
	}
	return h.render(w, r, s, http.StatusOK, "topics", "Topics", "Topics", topicsData{Topics: list, pager: pg})
}

type topicFormData struct {
	Topic                                         *store.Topic // nil for a new one
	Name, Description, Default, Visibility, Error string
}

func (h *Handler) topicForm(w http.ResponseWriter, r *http.Request, s *request, status int, d topicFormData) error {
	title := "New topic"
	if d.Topic != nil {
		title = "Edit topic"
	}
	return h.render(w, r, s, status, "topicform", title, "Topics", d)
}

func (h *Handler) newTopic(w http.ResponseWriter, r *http.Request, s *request) error {
	return h.topicForm(w, r, s, http.StatusOK, topicFormData{Default: store.SubscriptionOptIn, Visibility: store.TopicPrivate})
}

// topicFields validates the form with the API's rules.
func topicFields(r *http.Request) topicFormData {
	d := topicFormData{Name: r.PostFormValue("name"), Description: r.PostFormValue("description"),
		Default: r.PostFormValue("default_subscription"), Visibility: r.PostFormValue("visibility")}
	name, ok := contact.TopicName(d.Name)
	if !ok {
		d.Error = fmt.Sprintf("A topic's name is required, at most %d characters, on one line.", contact.MaxTopicName)
		return d
	}
	desc, ok := contact.TopicDescription(d.Description)
	if !ok {
		d.Error = fmt.Sprintf("The description must be at most %d characters.", contact.MaxTopicDescription)
		return d
	}
	if d.Default != store.SubscriptionOptIn && d.Default != store.SubscriptionOptOut {
		d.Error = "The default subscription must be opt_in or opt_out."
		return d
	}
	if d.Visibility != store.TopicPublic && d.Visibility != store.TopicPrivate {
		d.Error = "The visibility must be public or private."
		return d
	}
	d.Name, d.Description = name, desc
	return d
}

// createTopic adds a topic (admin), with the topic.created event.
func (h *Handler) createTopic(w http.ResponseWriter, r *http.Request, s *request) error {
	d := topicFields(r)
	if d.Error != "" {
		return h.topicForm(w, r, s, http.StatusBadRequest, d)
	}
	now := time.Now().UTC()
	t := &store.Topic{ID: store.NewID(), TeamID: s.user.TeamID, Name: d.Name, Description: d.Description,
		DefaultSubscription: d.Default, Visibility: d.Visibility, CreatedAt: now, UpdatedAt: now}
	ev, err := events.Topic(events.TopicCreated, t, false, now)
	if err != nil {
		return fmt.Errorf("topic event: %w", err)
	}
	if err := h.cfg.Store.CreateTopic(r.Context(), t, ev); err != nil {
		return fmt.Errorf("create topic: %w", err)
	}
	http.Redirect(w, r, Prefix+"topics", http.StatusSeeOther)
	return nil
}

func (h *Handler) loadTopic(r *http.Request, s *request) (*store.Topic, error) {
	id, err := pathID(r, "id")
	if err != nil {
		return nil, err
	}
	return h.cfg.Store.GetTopic(r.Context(), s.user.TeamID, id)
}

func (h *Handler) editTopic(w http.ResponseWriter, r *http.Request, s *request) error {
	t, err := h.loadTopic(r, s)
	if err != nil {
		return err
	}
	return h.topicForm(w, r, s, http.StatusOK, topicFormData{Topic: t, Name: t.Name, Description: t.Description,
		Default: t.DefaultSubscription, Visibility: t.Visibility})
}

// updateTopic changes a topic (admin), with the topic.updated event. The
// default subscription is kept, as the API keeps it.
func (h *Handler) updateTopic(w http.ResponseWriter, r *http.Request, s *request) error {
	t, err := h.loadTopic(r, s)
	if err != nil {
		return err
	}
	r.PostForm.Set("default_subscription", t.DefaultSubscription)
	d := topicFields(r)
	d.Topic = t
	if d.Error != "" {
		return h.topicForm(w, r, s, http.StatusBadRequest, d)
	}
	t.Name, t.Description, t.Visibility, t.UpdatedAt = d.Name, d.Description, d.Visibility, time.Now().UTC()
	ev, err := events.Topic(events.TopicUpdated, t, false, t.UpdatedAt)
	if err != nil {
		return fmt.Errorf("topic event: %w", err)
	}
	if err := h.cfg.Store.UpdateTopic(r.Context(), t, ev); err != nil {
		return err
	}
	http.Redirect(w, r, Prefix+"topics", http.StatusSeeOther)
	return nil
}

func (h *Handler) confirmDeleteTopic(w http.ResponseWriter, r *http.Request, s *request) error {
	t, err := h.loadTopic(r, s)
	if err != nil {
		return err
	}
	return h.render(w, r, s, http.StatusOK, "confirm", "Delete topic", "Topics", confirmData{
		Question: "Delete the topic " + t.Name + "?",
		Detail:   "The topic and every contact's choice for it are deleted. This cannot be undone.",
		Action:   Prefix + "topics/" + t.ID + "/delete", Button: "Delete the topic", Back: Prefix + "topics/" + t.ID + "/edit"})
}

// deleteTopic deletes a topic (admin), with the topic.deleted event.
func (h *Handler) deleteTopic(w http.ResponseWriter, r *http.Request, s *request) error {
	t, err := h.loadTopic(r, s)
	if err != nil {
		return err
	}
	t.UpdatedAt = time.Now().UTC()
	ev, err := events.Topic(events.TopicDeleted, t, true, t.UpdatedAt)
	if err != nil {
		return fmt.Errorf("topic event: %w", err)
	}
	if err := h.cfg.Store.DeleteTopic(r.Context(), t.TeamID, t.ID, ev); err != nil {
		return err
	}
	http.Redirect(w, r, Prefix+"topics", http.StatusSeeOther)
	return nil
}
