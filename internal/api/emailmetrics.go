package api

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/godwit/godwit/internal/apierr"
	"github.com/godwit/godwit/internal/emailmetrics"
)

// getEmailMetrics is GET /emails/metrics: the query and the response are
// internal/emailmetrics'; the counts are the store's hourly rollup (or the
// named emails' events).
func (h *Handler) getEmailMetrics(w http.ResponseWriter, r *http.Request) error {
	q, err := emailmetrics.Parse(r.URL.Query(), h.Now())
	var bad *emailmetrics.Error
	if errors.As(err, &bad) {
		if bad.BadID {
			return apierr.New(http.StatusUnprocessableEntity, apierr.NameInvalidParameter, bad.Message)
		}
		return apierr.Validation("%s", bad.Message)
	}
	if err != nil {
		return fmt.Errorf("email metrics: %w", err)
	}
	rows, err := h.Store.EmailMetrics(r.Context(), q.Filter(callerKey(r.Context()).TeamID))
	if err != nil {
		return fmt.Errorf("email metrics: %w", err)
	}
	body, err := q.Render(rows)
	if err != nil {
		return fmt.Errorf("email metrics: %w", err)
	}
	writeRawJSON(w, http.StatusOK, body)
	return nil
}
