package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"slices"

	"github.com/godwit/godwit/internal/apierr"
	"github.com/godwit/godwit/internal/events"
	"github.com/godwit/godwit/internal/store"
)

// Open and click tracking: the pixel and the redirect that the rewritten
// HTML points at (internal/tracking). They need no API key: the token is
// signed, so it cannot be forged or enumerated, and a click redirects only
// to the URL inside its token. Each request records one event.

// pixel is a transparent 1×1 GIF.
var pixel = []byte("GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\x00\x00\x00!\xf9\x04\x01\x00\x00\x00\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;")

var errTrackingNotFound = apierr.NotFound("Not found")

// trackingEventsPerSecond bounds the opens and clicks recorded per email: a
// valid token replayed in a loop (or a scanner) cannot fill the database.
// Requests beyond it are still answered (pixel, redirect), unrecorded.
const trackingEventsPerSecond = 10

// lastEventAfter lists the last_event values an open or click may replace:
// it never hides a bounce or complaint.
var lastEventAfter = []string{store.EventSent, store.EventDelivered, "opened", "clicked"}

func (h *Handler) trackOpen(w http.ResponseWriter, r *http.Request) error {
	if h.Tracking == nil {
		return errTrackingNotFound
	}
	o, err := h.Tracking.ParseOpen(r.PathValue("token"))
	if err != nil {
		return errTrackingNotFound
	}
	if err := h.recordTracking(r.Context(), o.EmailID, "opened", nil, r); err != nil {
		return err
	}
	w.Header().Set("Content-Type", "image/gif")
	w.Header().Set("Cache-Control", "no-store, max-age=0")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(pixel)
	return nil
}

func (h *Handler) trackClick(w http.ResponseWriter, r *http.Request) error {
	if h.Tracking == nil {
		return errTrackingNotFound
	}
	c, err := h.Tracking.ParseClick(r.PathValue("token"))
	if err != nil {
		return errTrackingNotFound
	}
	now := h.Now().UTC()
	detail := map[string]any{"click": map[string]any{
		"ipAddress": clientIP(r), "link": c.URL, "timestamp": now.Format(events.ISO), "userAgent": r.UserAgent(),
	}}
	if err := h.recordTracking(r.Context(), c.EmailID, "clicked", detail, r); err != nil {
		return err
	}
	w.Header().Set("Cache-Control", "no-store, max-age=0")
	http.Redirect(w, r, c.URL, http.StatusFound)
	return nil
}

// recordTracking records an opened or clicked event of the email. detail
// goes into the webhook payload (Resend's click object; an open has none);
// the email's own history also keeps who opened (address, user agent).
func (h *Handler) recordTracking(ctx context.Context, emailID, typ string, detail map[string]any, r *http.Request) error {
	e, err := h.Store.GetEmailForEvent(ctx, emailID)
	if errors.Is(err, store.ErrNotFound) {
		return errTrackingNotFound
	}
	if err != nil {
		return fmt.Errorf("tracking: %w", err)
	}
	if res, err := h.Limiter.Allow(ctx, "tracking:"+e.ID, trackingEventsPerSecond); err != nil {
		return fmt.Errorf("tracking: rate limiter: %w", err)
	} else if !res.Allowed {
		return nil
	}
	now := h.Now().UTC()
	local := map[string]any{"to": e.To}
	for k, v := range detail {
		local[k] = v
	}
	if typ == "opened" {
		local["open"] = map[string]any{"ipAddress": clientIP(r), "userAgent": r.UserAgent(), "timestamp": now.Format(events.ISO)}
	}
	raw, err := json.Marshal(local)
	if err != nil {
		return err
	}
	ev, err := events.Email(typ, e, nil, detail, now)
	if err != nil {
		return err
	}
	out := &store.DeliveryOutcome{EmailID: e.ID, TeamID: e.TeamID,
		Events:     []*store.EmailEvent{{Type: typ, Data: raw, CreatedAt: now}},
		TeamEvents: []*store.Event{ev}}
	if slices.Contains(lastEventAfter, e.LastEvent) {
		out.LastEvent = typ
	}
	if err := h.Store.RecordDelivery(ctx, out); err != nil {
		return fmt.Errorf("tracking: %w", err)
	}
	return nil
}

// clientIP is the address the request came from.
func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}
