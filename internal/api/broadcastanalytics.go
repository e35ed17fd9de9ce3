package api

import (
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/godwit/godwit/internal/apierr"
	"github.com/godwit/godwit/internal/broadcast"
	"github.com/godwit/godwit/internal/store"
)

// A broadcast's analytics (GET /broadcasts/{id}/recipients and
// /clicked-links) are counted from its emails (one per recipient, each
// carrying the broadcast's id) and their events: delivery's sent,
// delivered, bounced (with the bounce's type), complained and suppressed,
// and the tracking routes' opened and clicked (with the link). Unsubscribed
// has no event of an email: it is a recipient whose contact is now
// unsubscribed (from every broadcast, or from the broadcast's topic).
//
// Resend's rows are identified by opaque cursors that are offsets
// ("b2Zmc2V0OjA" is base64url of "offset:0"); Godwit's are the same, so a
// cursor is the row's place in the list as it stands when it is read.

// recipientTypes are the values of `type`, in Resend's order.
var recipientTypes = broadcast.RecipientTypes

// bounceTypes are the values of `bounce_type`.
var bounceTypes = []string{"permanent", "transient", "undetermined"}

type linkClicks struct {
	URL    string `json:"url"`
	Clicks int    `json:"clicks"`
}

type broadcastRecipient struct {
	ID           string       `json:"id"`
	ContactID    *string      `json:"contact_id"`
	Email        string       `json:"email"`
	Count        *int         `json:"count,omitempty"`
	BounceType   string       `json:"bounce_type,omitempty"`
	ClickedLinks []linkClicks `json:"clicked_links,omitempty"`
}

type clickedLink struct {
	ID           string `json:"id"`
	URL          string `json:"url"`
	Clicks       int    `json:"clicks"`
	UniqueClicks int    `json:"unique_clicks"`
}

// offsetCursor is the opaque cursor of the row at offset n.
func offsetCursor(n int) string {
	return base64.RawURLEncoding.EncodeToString([]byte("offset:" + strconv.Itoa(n)))
}

// parseOffsetCursor reads a cursor made by offsetCursor (padded or not).
func parseOffsetCursor(c string) (int, bool) {
	raw, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(c, "="))
	if err != nil {
		return 0, false
	}
	s, ok := strings.CutPrefix(string(raw), "offset:")
	if !ok {
		return 0, false
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 || strconv.Itoa(n) != s {
		return 0, false
	}
	return n, true
}

var errOffsetCursor = apierr.New(http.StatusUnprocessableEntity, apierr.NameInvalidParameter, "The pagination cursor is not valid.")

// offsetPage cuts the page of rows [0,total) that p asks for: after a
// cursor, the rows following it; before one, the rows nearest before it.
func offsetPage(total int, p store.Page) (from, to int, more bool, err error) {
	switch {
	case p.After != "":
		n, ok := parseOffsetCursor(p.After)
		if !ok {
			return 0, 0, false, errOffsetCursor
		}
		from = min(n+1, total)
		to = min(from+p.Limit, total)
		return from, to, to < total, nil
	case p.Before != "":
		n, ok := parseOffsetCursor(p.Before)
		if !ok {
			return 0, 0, false, errOffsetCursor
		}
		to = min(n, total)
		from = max(0, to-p.Limit)
		return from, to, from > 0, nil
	}
	to = min(p.Limit, total)
	return 0, to, to < total, nil
}

// clicks is broadcast.Clicks, as the API's rows.
func clicks(events []*store.EmailEvent) []linkClicks {
	cs := broadcast.Clicks(events)
	out := make([]linkClicks, 0, len(cs))
	for _, c := range cs {
		out = append(out, linkClicks{URL: c.URL, Clicks: c.Clicks})
	}
	return out
}

func (h *Handler) listBroadcastRecipients(w http.ResponseWriter, r *http.Request) error {
	b, err := h.loadBroadcast(r)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	typ := q.Get("type")
	if typ == "" {
		return apierr.New(http.StatusUnprocessableEntity, apierr.NameMissingRequiredField,
			"Missing `type` query parameter: one of "+strings.Join(recipientTypes, ", ")+".")
	}
	if !slices.Contains(recipientTypes, typ) {
		return apierr.Validation("The `type` must be one of %s.", strings.Join(recipientTypes, ", "))
	}
	bounce := q.Get("bounce_type")
	if q.Has("bounce_type") {
		if typ != "bounced" {
			return apierr.Validation("The `bounce_type` filter is only valid when `type` is `bounced`.")
		}
		if !slices.Contains(bounceTypes, bounce) {
			return apierr.Validation("The `bounce_type` must be one of %s.", strings.Join(bounceTypes, ", "))
		}
	}
	address := strings.TrimSpace(q.Get("email"))
	p, err := parseCursorPage(r)
	if err != nil {
		return err
	}
	ctx := r.Context()
	teamID := b.TeamID
	eventType := typ
	if typ == "unsubscribed" {
		eventType = ""
	}
	list, err := h.Store.BroadcastEmails(ctx, teamID, b.ID, eventType)
	if err != nil {
		return fmt.Errorf("broadcast recipients: %w", err)
	}
	if address != "" {
		list = slices.DeleteFunc(list, func(be *store.BroadcastEmail) bool {
			return !strings.EqualFold(broadcast.RecipientAddress(be), address)
		})
	}
	if typ == "unsubscribed" {
		if list, err = h.unsubscribedAmong(r, b, list); err != nil {
			return err
		}
	}
	rows := make([]broadcastRecipient, 0, len(list))
	for _, be := range list {
		row := broadcastRecipient{Email: broadcast.RecipientAddress(be)}
		switch typ {
		case "opened", "clicked":
			n := len(be.Events)
			row.Count = &n
			if typ == "clicked" {
				row.ClickedLinks = clicks(be.Events)
			}
		case "bounced":
			row.BounceType = broadcast.BounceType(be.Events)
			if bounce != "" && row.BounceType != bounce {
				continue
			}
		}
		rows = append(rows, row)
	}
	from, to, more, err := offsetPage(len(rows), p)
	if err != nil {
		return err
	}
	page := rows[from:to]
	addrs := make([]string, 0, len(page))
	for i := range page {
		page[i].ID = offsetCursor(from + i)
		addrs = append(addrs, page[i].Email)
	}
	contacts, err := h.Store.ContactsByEmail(ctx, teamID, addrs)
	if err != nil {
		return fmt.Errorf("broadcast recipients: contacts: %w", err)
	}
	ids := map[string]string{}
	for _, c := range contacts {
		ids[strings.ToLower(c.Email)] = c.ID
	}
	for i := range page {
		if id, ok := ids[strings.ToLower(page[i].Email)]; ok {
			page[i].ContactID = &id
		}
	}
	writeJSON(w, http.StatusOK, listResponse[broadcastRecipient]{Object: "list", HasMore: more, Data: page})
	return nil
}

// unsubscribedAmong keeps the emails whose recipient is a contact that is
// unsubscribed, or has opted out of the broadcast's topic.
func (h *Handler) unsubscribedAmong(r *http.Request, b *store.Broadcast, list []*store.BroadcastEmail) ([]*store.BroadcastEmail, error) {
	addrs := make([]string, 0, len(list))
	for _, be := range list {
		addrs = append(addrs, broadcast.RecipientAddress(be))
	}
	contacts, err := h.Store.ContactsByEmail(r.Context(), b.TeamID, addrs)
	if err != nil {
		return nil, fmt.Errorf("broadcast recipients: contacts: %w", err)
	}
	out := map[string]bool{}
	for _, c := range contacts {
		if c.Unsubscribed {
			out[strings.ToLower(c.Email)] = true
		}
	}
	if b.TopicID != "" {
		subs, err := h.Store.TopicSubscriptionsAmong(r.Context(), b.TeamID, b.TopicID, addrs)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return nil, fmt.Errorf("broadcast recipients: topic: %w", err)
		}
		for a, s := range subs {
			if s == store.SubscriptionOptOut {
				out[strings.ToLower(a)] = true
			}
		}
	}
	return slices.DeleteFunc(list, func(be *store.BroadcastEmail) bool {
		return !out[strings.ToLower(broadcast.RecipientAddress(be))]
	}), nil
}

func (h *Handler) listBroadcastClickedLinks(w http.ResponseWriter, r *http.Request) error {
	b, err := h.loadBroadcast(r)
	if err != nil {
		return err
	}
	p, err := parseCursorPage(r)
	if err != nil {
		return err
	}
	list, err := h.Store.BroadcastEmails(r.Context(), b.TeamID, b.ID, "clicked")
	if err != nil {
		return fmt.Errorf("broadcast clicked links: %w", err)
	}
	links := broadcast.ClickedLinks(list)
	from, to, more, err := offsetPage(len(links), p)
	if err != nil {
		return err
	}
	out := listResponse[clickedLink]{Object: "list", HasMore: more, Data: make([]clickedLink, 0, to-from)}
	for i, l := range links[from:to] {
		out.Data = append(out.Data, clickedLink{ID: offsetCursor(from + i), URL: l.URL, Clicks: l.Clicks, UniqueClicks: l.UniqueClicks})
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}
