package api

import (
	"net/http"
	"slices"
	"strings"

	"github.com/godwit/godwit/internal/apierr"
	"github.com/godwit/godwit/internal/store"
)

// GET /queue is Godwit's own (Resend has no such view): the team's emails
// whose delivery is not over, oldest first, each with why it waits and when
// its next attempt is due, so that no email is queued without a visible
// reason. `godwit queue` prints the same list from the store.

type queueItem struct {
	Object        string   `json:"object"`
	ID            string   `json:"id"`
	To            []string `json:"to"`
	Subject       string   `json:"subject"`
	Status        string   `json:"status"`
	Reason        string   `json:"reason"`
	Attempts      int      `json:"attempts"`
	NextAttemptAt string   `json:"next_attempt_at"`
	CreatedAt     string   `json:"created_at"`
	ScheduledAt   *string  `json:"scheduled_at"`
}

func (h *Handler) listQueue(w http.ResponseWriter, r *http.Request) error {
	p, err := parsePage(r)
	if err != nil {
		return err
	}
	if p.Before != "" {
		return apierr.Validation("The `before` parameter is not supported for this endpoint.")
	}
	status := r.URL.Query().Get("status")
	if status != "" && !slices.Contains(store.WaitingStatuses, status) {
		return apierr.Validation("The `status` must be one of %s.", strings.Join(store.WaitingStatuses, ", "))
	}
	ctx := r.Context()
	teamID := callerKey(ctx).TeamID
	list, more, err := h.Store.ListWaitingEmails(ctx, teamID, status, p)
	return writeList(w, "list queue", list, more, err, func(q *store.WaitingEmail) queueItem {
		return queueItem{Object: "queued_email", ID: q.ID, To: orEmpty(q.To), Subject: q.Subject, Status: q.LastEvent,
			Reason: q.Reason(), Attempts: q.Attempts, NextAttemptAt: formatTime(q.NextAttempt()),
			CreatedAt: formatTime(q.CreatedAt), ScheduledAt: formatTimePtr(q.ScheduledAt)}
	})
}
