package dashboard

import (
	"errors"
	"fmt"
	"net/http"
	"slices"

	"github.com/godwit/godwit/internal/store"
)

// The Queue section: the team's emails whose delivery is not over, oldest
// first, with why each waits and when it is tried next — the data and the
// wording of GET /queue and `godwit queue` (store.ListWaitingEmails,
// WaitingEmail.Reason and NextAttempt).

const queuePerPage = 50

type queueData struct {
	Emails   []*store.WaitingEmail
	Status   string
	Statuses []string
	// Next is the cursor of the next page ("" for none).
	Next string
}

// queue lists the waiting emails, optionally of one status, a page at a
// time (one query); like the API it pages forward only.
func (h *Handler) queue(w http.ResponseWriter, r *http.Request, s *request) error {
	q := r.URL.Query()
	status := q.Get("status")
	if status != "" && !slices.Contains(store.WaitingStatuses, status) {
		return &httpError{status: http.StatusBadRequest, msg: "That is not a status of the queue."}
	}
	p := store.Page{Limit: queuePerPage, After: q.Get("after")}
	list, more, err := h.cfg.Store.ListWaitingEmails(r.Context(), s.user.TeamID, status, p)
	if errors.Is(err, store.ErrNotFound) {
		return errNotFound
	}
	if err != nil {
		return fmt.Errorf("list queue: %w", err)
	}
	data := queueData{Emails: list, Status: status, Statuses: store.WaitingStatuses}
	if more && len(list) > 0 {
		data.Next = list[len(list)-1].ID
	}
	return h.render(w, r, s, http.StatusOK, "queue", "Queue", "Queue", data)
}
