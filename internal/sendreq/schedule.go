package sendreq

import (
	"errors"
	"time"

	"github.com/godwit/godwit/internal/apierr"
	"github.com/godwit/godwit/internal/schedule"
)

// DefaultMaxScheduleAhead is how far ahead an email may be scheduled when
// Options.MaxScheduleAhead is zero (Resend: 30 days).
const DefaultMaxScheduleAhead = schedule.DefaultMaxAhead

// ParseScheduledAt parses `scheduled_at` with schedule.Parse (ISO 8601 or
// natural language, relative to now; "" or a time at or before now is nil:
// send now). More than maxAhead ahead (0 means 30 days) is a 422
// validation_error, and so is anything unparseable.
func ParseScheduledAt(s string, now time.Time, maxAhead time.Duration) (*time.Time, error) {
	at, err := schedule.Parse(s, now, maxAhead)
	var se *schedule.Error
	switch {
	case err == nil:
		return at, nil
	case !errors.As(err, &se):
		return nil, err
	case se.TooFar:
		return nil, apierr.Validation("The `scheduled_at` field must be at most %s in the future.", schedule.HumanDuration(se.MaxAhead))
	}
	return nil, apierr.Validation("Invalid `scheduled_at` field. Use an ISO 8601 date such as `2024-08-05T11:52:01.858Z` or natural language such as `in 1 min` or `tomorrow at 9am`.")
}
