package accept

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/godwit/godwit/internal/events"
	"github.com/godwit/godwit/internal/message"
	"github.com/godwit/godwit/internal/store"
)

// SMTPEndpoint scopes the idempotency keys of emails submitted over SMTP:
// a key used with POST /emails and then over SMTP is a different request.
const SMTPEndpoint = "SMTP"

// Request describes one accept: who sends, and the idempotency key that
// makes a repeat of it answer the first result.
type Request struct {
	Key *store.APIKey
	// Endpoint scopes the idempotency key ("POST /emails", SMTPEndpoint…).
	Endpoint string
	// IdempotencyKey is "" without one.
	IdempotencyKey string
	// Hash identifies the request for the idempotency key: a repeat with
	// another hash is ErrIdempotencyMismatch.
	Hash []byte
	// Step, when set, returns the automation step's advance to commit in
	// the accept's transaction, given the ids of the emails: the emails
	// commit only with it (a step moved on already is store.ErrStale, and
	// nothing is written).
	Step func(ids []string) *store.StepAdvance
}

// ItemError is an email of a batch refused while the others are accepted
// (the API's permissive batch validation).
type ItemError struct {
	Index   int    `json:"index"`
	Message string `json:"message"`
}

// Result is what an accept returns, and what its idempotency record keeps
// (a neutral record: the ids, not a response of one face).
type Result struct {
	IDs    []string    `json:"ids"`
	Errors []ItemError `json:"errors,omitempty"`
	// Replayed is true when the result is the stored one of an earlier
	// request with the same idempotency key.
	Replayed bool `json:"-"`
	// Legacy is a replayed record stored before records were neutral: the
	// API's response body as it was sent (IDs is empty then).
	Legacy []byte `json:"-"`
}

// Build returns the emails of a request, each checked (Check), and the
// items refused; it runs only when the request is not a repeat.
type Build func() ([]*store.Email, []ItemError, error)

// Submit is the group-committed accept every way of sending ends in. With
// an idempotency key it answers a repeated request from its record
// (Replayed) and refuses one in progress on this node; otherwise build
// returns the emails, which get their ids and are committed in one
// transaction with their jobs, their scheduled events and the idempotency
// record.
func (s *Service) Submit(ctx context.Context, req Request, build Build) (*Result, error) {
	teamID := req.Key.TeamID
	if req.IdempotencyKey != "" {
		slot := teamID + "\x00" + req.IdempotencyKey
		s.inflightMu.Lock()
		_, busy := s.inflight[slot]
		if !busy {
			s.inflight[slot] = struct{}{}
		}
		s.inflightMu.Unlock()
		if busy {
			return nil, errInFlight
		}
		defer func() {
			s.inflightMu.Lock()
			delete(s.inflight, slot)
			s.inflightMu.Unlock()
		}()
		if res, err := s.stored(ctx, req); res != nil || err != nil {
			return res, err
		}
	}

	emails, itemErrs, err := build()
	if err != nil {
		return nil, err
	}
	now := s.now().UTC()
	res := &Result{IDs: make([]string, 0, len(emails)), Errors: itemErrs}
	a := &store.Accept{Emails: emails, IdempotencyTTL: s.cfg.IdempotencyTTL}
	for _, e := range emails {
		s.prepare(e, teamID, now)
		res.IDs = append(res.IDs, e.ID)
		if e.LastEvent != store.EventScheduled {
			continue
		}
		ev, err := events.Email(store.EventScheduled, e, nil, nil, e.CreatedAt)
		if err != nil {
			return nil, err
		}
		a.Events = append(a.Events, ev)
	}
	if req.IdempotencyKey != "" {
		record, err := json.Marshal(res)
		if err != nil {
			return nil, fmt.Errorf("idempotency record: %w", err)
		}
		a.Idempotency = &store.Idempotency{TeamID: teamID, Key: req.IdempotencyKey, Endpoint: req.Endpoint,
			RequestHash: req.Hash, Response: record, CreatedAt: now}
	}
	if req.Step != nil {
		a.Step = req.Step(res.IDs)
	}
	if len(emails) > 0 || a.Idempotency != nil || a.Step != nil {
		err = s.cfg.Store.AcceptEmails(ctx, a)
		if errors.Is(err, store.ErrIdempotencyKeyTaken) {
			// Another node committed the same key meanwhile.
			if res, err := s.stored(ctx, req); res != nil || err != nil {
				return res, err
			}
			return nil, errInFlight
		}
		if err != nil {
			return nil, fmt.Errorf("accept emails: %w", err)
		}
	}
	source := SourceAPI
	if req.Endpoint == SMTPEndpoint {
		source = SourceSMTP
	}
	s.accepted(ctx, source, emails)
	return res, nil
}

var (
	errMismatch = &Error{Kind: ErrIdempotencyMismatch, Message: "This idempotency key has already been used on a request that had a different payload. Retrying this request is useless without changing the idempotency key or payload."}
	errInFlight = &Error{Kind: ErrIdempotencyInFlight, Message: "Same idempotency key used while original request is still in progress. Try the request again later."}
)

// stored returns the result recorded with an unexpired idempotency record
// (nil when there is none), or ErrIdempotencyMismatch when the record was
// made for another request. A record stored before records were neutral
// (the API's response body) is returned as Legacy.
func (s *Service) stored(ctx context.Context, req Request) (*Result, error) {
	rec, err := s.cfg.Store.GetIdempotency(ctx, req.Key.TeamID, req.IdempotencyKey)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("idempotency lookup: %w", err)
	}
	if s.now().Sub(rec.CreatedAt) >= s.cfg.IdempotencyTTL {
		return nil, nil
	}
	if rec.Endpoint != req.Endpoint || !bytes.Equal(rec.RequestHash, req.Hash) {
		return nil, errMismatch
	}
	var res struct {
		IDs    *[]string   `json:"ids"`
		Errors []ItemError `json:"errors"`
	}
	if err := json.Unmarshal(rec.Response, &res); err != nil || res.IDs == nil {
		return &Result{Replayed: true, Legacy: rec.Response}, nil
	}
	return &Result{IDs: *res.IDs, Errors: res.Errors, Replayed: true}, nil
}

// prepare completes a checked email for storage: its id, team, time and
// first event.
func (s *Service) prepare(e *store.Email, teamID string, now time.Time) {
	e.ID = store.NewID()
	e.TeamID = teamID
	e.CreatedAt = now
	if e.ScheduledAt != nil {
		e.LastEvent = store.EventScheduled
	} else {
		e.LastEvent = store.EventQueued
	}
}

// Check runs the checks of one email sent with the API, in order: its
// template is rendered, it needs a from and a subject, it must be
// buildable, pass the sender gate, and name one of the team's topics.
// templates (nil for one email) shares the templates of a batch.
func (s *Service) Check(ctx context.Context, key *store.APIKey, e *store.Email, templates Templates) error {
	if err := s.applyTemplate(ctx, key.TeamID, e, templates); err != nil {
		return err
	}
	if e.From == "" {
		return missingField("from")
	}
	if e.Subject == "" {
		return missingField("subject")
	}
	if err := checkBuildable(e); err != nil {
		return err
	}
	if err := s.checkSender(ctx, key, e); err != nil {
		return err
	}
	return s.CheckTopic(ctx, key.TeamID, e)
}

// checkSender is CheckFrom for an email being accepted: it records the
// sending domain on the email.
func (s *Service) checkSender(ctx context.Context, key *store.APIKey, e *store.Email) error {
	d, err := s.CheckFrom(ctx, key, key.TeamID, e)
	if err != nil {
		return err
	}
	if d != nil {
		e.DomainID, e.DomainName = d.ID, d.Name
	} else {
		e.DomainID, e.DomainName = "", message.DomainOf(e.From) // the test sender
	}
	return nil
}

// Send accepts one email of the API: decode returns it (run only when the
// request is not a repeat), then Check, then Submit.
func (s *Service) Send(ctx context.Context, req Request, decode func() (*store.Email, error)) (*Result, error) {
	return s.Submit(ctx, req, func() ([]*store.Email, []ItemError, error) {
		e, err := decode()
		if err != nil {
			return nil, nil, err
		}
		if err := s.Check(ctx, req.Key, e, nil); err != nil {
			return nil, nil, err
		}
		return []*store.Email{e}, nil, nil
	})
}

// SendMessage accepts one email submitted over SMTP (converted by
// internal/submission) and returns its id; with an idempotency key already
// used for the same email within the TTL it returns the first email's id
// and commits nothing.
func (s *Service) SendMessage(ctx context.Context, key *store.APIKey, e *store.Email, idemKey string) (string, error) {
	// No subject check: the converted message always has a From, and an
	// SMTP message without a Subject is sent with an empty one.
	if e.From == "" {
		return "", missingField("from")
	}
	if err := checkBuildable(e); err != nil {
		return "", err
	}
	req := Request{Key: key, Endpoint: SMTPEndpoint, IdempotencyKey: idemKey}
	if idemKey != "" {
		// The decoded email, not the raw message: a client that retries
		// writes a new Date and Message-ID, which Godwit replaces anyway.
		hasher := sha256.New()
		hasher.Write([]byte(SMTPEndpoint + "\n"))
		if err := json.NewEncoder(hasher).Encode(e); err != nil {
			return "", fmt.Errorf("hash submitted email: %w", err)
		}
		req.Hash = hasher.Sum(nil)
	}
	res, err := s.Submit(ctx, req, func() ([]*store.Email, []ItemError, error) {
		if err := s.checkSender(ctx, key, e); err != nil {
			return nil, nil, err
		}
		return []*store.Email{e}, nil, nil
	})
	if err != nil {
		return "", err
	}
	if res.Legacy != nil {
		var old struct {
			ID string `json:"id"`
		}
		if err := json.Unmarshal(res.Legacy, &old); err != nil || old.ID == "" {
			return "", fmt.Errorf("stored idempotency response: not an id")
		}
		return old.ID, nil
	}
	if len(res.IDs) != 1 {
		return "", fmt.Errorf("stored idempotency result: %d ids", len(res.IDs))
	}
	return res.IDs[0], nil
}
