package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/godwit/godwit/internal/apierr"
	"github.com/godwit/godwit/internal/store"
)

var errCapturedNotFound = apierr.NotFound("No captured message for this email: it is not delivered yet, or the server does not run with --delivery capture")

// Godwit's own endpoints beside Resend's: what happened to an email on the
// wire. They follow Resend's conventions (list envelope, time format, errors).

type attemptItem struct {
	Object         string `json:"object"`
	Recipient      string `json:"recipient"`
	Outcome        string `json:"outcome"`
	Host           string `json:"host"`
	SMTPCode       int    `json:"smtp_code"`
	EnhancedStatus string `json:"enhanced_status"`
	Response       string `json:"response"`
	// The connection's TLS version and cipher suite ("" in plaintext)
	// and the transport security policy applied (docs/delivery.md).
	TLSVersion string `json:"tls_version"`
	TLSCipher  string `json:"tls_cipher"`
	TLSPolicy  string `json:"tls_policy"`
	CreatedAt  string `json:"created_at"`
}

type eventItem struct {
	Object    string          `json:"object"`
	Type      string          `json:"type"`
	CreatedAt string          `json:"created_at"`
	Data      json.RawMessage `json:"data"`
}

type deliveryReport struct {
	Object    string        `json:"object"`
	ID        string        `json:"id"`
	LastEvent string        `json:"last_event"`
	Attempts  []attemptItem `json:"attempts"`
	Events    []eventItem   `json:"events"`
}

// getEmailDelivery answers GET /emails/{id}/delivery: every delivery
// attempt of the email, per recipient, with the host and its SMTP reply,
// and the email's events in order.
func (h *Handler) getEmailDelivery(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	teamID := callerKey(r.Context()).TeamID
	e, err := h.Store.GetEmail(r.Context(), teamID, id)
	if errors.Is(err, store.ErrNotFound) {
		return errEmailNotFound
	}
	if err != nil {
		return fmt.Errorf("get email: %w", err)
	}
	attempts, err := h.Store.ListDeliveryAttempts(r.Context(), teamID, id)
	if err != nil {
		return fmt.Errorf("list attempts: %w", err)
	}
	events, err := h.Store.ListEmailEvents(r.Context(), teamID, id)
	if err != nil {
		return fmt.Errorf("list email events: %w", err)
	}
	rep := deliveryReport{Object: "email_delivery", ID: e.ID, LastEvent: e.LastEvent,
		Attempts: make([]attemptItem, len(attempts)), Events: make([]eventItem, len(events))}
	for i, a := range attempts {
		rep.Attempts[i] = attemptItem{Object: "attempt", Recipient: a.Recipient, Outcome: a.Outcome, Host: a.Host,
			SMTPCode: a.Code, EnhancedStatus: a.Enhanced, Response: a.Response,
			TLSVersion: a.TLSVersion, TLSCipher: a.TLSCipher, TLSPolicy: a.TLSPolicy, CreatedAt: formatTime(a.CreatedAt)}
	}
	for i, ev := range events {
		item := eventItem{Object: "event", Type: ev.Type, CreatedAt: formatTime(ev.CreatedAt)}
		if len(ev.Data) > 0 {
			item.Data = ev.Data
		}
		rep.Events[i] = item
	}
	writeJSON(w, http.StatusOK, rep)
	return nil
}

// getCapturedMessage answers GET /emails/{id}/captured with the message the
// capture transport stored, as message/rfc822.
func (h *Handler) getCapturedMessage(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	data, err := h.Store.GetCapturedMessage(r.Context(), callerKey(r.Context()).TeamID, id)
	if errors.Is(err, store.ErrNotFound) {
		return errCapturedNotFound
	}
	if err != nil {
		return fmt.Errorf("get captured message: %w", err)
	}
	w.Header().Set("Content-Type", "message/rfc822")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(data)
	return nil
}
