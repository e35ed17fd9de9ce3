package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/godwit/godwit/internal/store"
)

// getFeed answers GET /feed (Godwit's own): the team's events, oldest
// first, after the event whose id is given as after, for consumers that
// cannot expose a webhook endpoint. Each item is the webhook payload
// ({"type","created_at","data"}) with the event's "id", which is the cursor
// for the next call; the order is the order the events were committed in,
// and it survives restarts.
func (h *Handler) getFeed(w http.ResponseWriter, r *http.Request) error {
	p, err := parseCursorPage(r)
	if err != nil {
		return err
	}
	limit := p.Limit
	list, err := h.Store.ListEvents(r.Context(), callerKey(r.Context()).TeamID, p.After, limit+1)
	if errors.Is(err, store.ErrNotFound) {
		return errUnknownCursor
	}
	if err != nil {
		return fmt.Errorf("list events: %w", err)
	}
	more := len(list) > limit
	if more {
		list = list[:limit]
	}
	out := listResponse[map[string]json.RawMessage]{Object: "list", HasMore: more, Data: make([]map[string]json.RawMessage, 0, len(list))}
	for _, ev := range list {
		item := map[string]json.RawMessage{}
		if err := json.Unmarshal(ev.Data, &item); err != nil {
			return fmt.Errorf("event %s: %w", ev.ID, err)
		}
		id, _ := json.Marshal(ev.ID)
		item["id"] = id
		item["object"] = json.RawMessage(`"event"`)
		out.Data = append(out.Data, item)
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}
