// Package broadcast sends a broadcast: it pages through the members of the
// broadcast's segment in a stable order (contact_seq), renders the email
// of each subscribed contact, and accepts the emails through the accept
// path (accept.Service.AcceptBroadcast) in chunks, each with its delivery
// jobs (exactly as API sends) and with the broadcast's progress, in one
// transaction. The sender passes the sending-domain gate at each chunk, as
// it is sent: a broadcast whose domain is no longer verified is canceled,
// with a warning in the log.
//
// A chunk commits only if the broadcast's progress is still where the
// chunk started (store.Accept.Broadcast), so a job that crashed after a
// commit and runs again resumes after the last committed contact and never
// sends a contact twice; a canceled broadcast accepts no chunk.
package broadcast

import (
	"context"
	"errors"
	"html"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/godwit/godwit/internal/accept"
	"github.com/godwit/godwit/internal/message"
	"github.com/godwit/godwit/internal/render"
	"github.com/godwit/godwit/internal/store"
	"github.com/godwit/godwit/internal/tracking"
)

// ChunkSize is the number of segment members read (and at most the emails
// accepted) per transaction.
const ChunkSize = 100

// UnsubscribeKey is the merge tag of the contact's unsubscribe link.
const UnsubscribeKey = "RESEND_UNSUBSCRIBE_URL"

// UnsubscribePath is the path of the public unsubscribe route; the token
// follows it.
const UnsubscribePath = "/unsubscribe/"

// Store is what sending a broadcast needs: the broadcast, its segment's
// members page by page, what rendering for each member reads, and the
// accept that commits a chunk's emails with the broadcast's progress
// (through the accept path, Accepter).
type Store interface {
	GetBroadcast(ctx context.Context, teamID, id string) (*store.Broadcast, error)
	BroadcastRecipients(ctx context.Context, teamID, segmentID string, after int64, limit int) ([]store.Recipient, error)
	ContactPropertiesByKey(ctx context.Context, teamID string, keys []string) ([]*store.ContactProperty, error)
	TopicSubscriptionsAmong(ctx context.Context, teamID, topicID string, emails []string) (map[string]string, error)
	AcceptEmails(ctx context.Context, a *store.Accept) error
}

// Accepter is the accept path of broadcast chunks (*accept.Service): the
// sending-domain gate at send time, then the chunk's commit.
type Accepter interface {
	AcceptBroadcast(ctx context.Context, b *store.Broadcast, emails []*store.Email, prog *store.BroadcastProgress) error
}

// Sender sends broadcasts.
type Sender struct {
	Store Store
	// Accept commits the chunks; nil: an accept.Service over Store, which
	// must then be a whole accept.Store too (as the SQL store is).
	Accept Accepter
	// Signer and PublicURL make the unsubscribe links; either empty: no
	// link and no List-Unsubscribe header (the API refuses to send a
	// broadcast that uses the merge tag then).
	Signer    *tracking.Signer
	PublicURL string
	// TestDomain is the test sender's domain (resend.dev): a broadcast from
	// it reaches only contacts at that domain, like API sends.
	TestDomain string
	Now        func() time.Time
	// ChunkSize overrides ChunkSize (tests).
	ChunkSize int
	// AfterChunk, when set, runs after each committed chunk (tests use it
	// to simulate a crash).
	AfterChunk func(progress int64) error
	Logger     *slog.Logger

	acceptOnce sync.Once
}

// noAccepter stands for a Sender configured without an accept path over a
// store that cannot make one: every chunk fails, loudly.
type noAccepter struct{}

func (noAccepter) AcceptBroadcast(context.Context, *store.Broadcast, []*store.Email, *store.BroadcastProgress) error {
	return errors.New("broadcast: no accept path (Sender.Accept is nil and Store is not an accept.Store)")
}

func (s *Sender) accepter() Accepter {
	s.acceptOnce.Do(func() {
		if s.Accept == nil {
			full, ok := s.Store.(accept.Store)
			if !ok {
				s.Accept = noAccepter{}
				return
			}
			s.Accept = accept.New(accept.Config{Store: full, Logger: s.Logger, Now: s.Now, TestDomain: s.TestDomain})
		}
	})
	return s.Accept
}

func (s *Sender) logger() *slog.Logger {
	if s.Logger != nil {
		return s.Logger
	}
	return slog.New(slog.DiscardHandler)
}

func (s *Sender) now() time.Time {
	if s.Now != nil {
		return s.Now().UTC()
	}
	return time.Now().UTC()
}

// UsesUnsubscribe reports whether a broadcast's content has the
// unsubscribe merge tag.
func UsesUnsubscribe(b *store.Broadcast) bool {
	for _, p := range []*string{b.HTML, b.Text} {
		if p == nil {
			continue
		}
		for _, ph := range render.Placeholders(*p) {
			if ph.Key == UnsubscribeKey {
				return true
			}
		}
	}
	return false
}

// UnsubscribeURL returns the signed unsubscribe link of a contact ("" when
// the sender cannot make one).
func (s *Sender) UnsubscribeURL(teamID, contactID string) string {
	if s.Signer == nil || s.PublicURL == "" {
		return ""
	}
	return strings.TrimSuffix(s.PublicURL, "/") + UnsubscribePath +
		s.Signer.UnsubscribeToken(tracking.Unsubscribe{ContactID: contactID, TeamID: teamID})
}

// Send runs (or resumes) a broadcast's send. A broadcast that is not
// queued, scheduled or sending (canceled, sent, deleted) is done.
func (s *Sender) Send(ctx context.Context, teamID, id string) error {
	b, err := s.Store.GetBroadcast(ctx, teamID, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	chunk := s.ChunkSize
	if chunk <= 0 {
		chunk = ChunkSize
	}
	props, err := s.properties(ctx, b)
	if err != nil {
		return err
	}
	for {
		switch b.Status {
		case store.BroadcastQueued, store.BroadcastScheduled, store.BroadcastSending:
		default:
			return nil
		}
		recips, err := s.Store.BroadcastRecipients(ctx, teamID, b.SegmentID, b.Progress, chunk)
		if err != nil {
			return err
		}
		now := s.now()
		prog := &store.BroadcastProgress{TeamID: teamID, ID: id, From: b.Progress, To: b.Progress, At: now,
			Done: len(recips) < chunk}
		var candidates []*store.Contact
		for _, r := range recips {
			prog.To = r.Seq
			if !r.Contact.Unsubscribed && s.reachable(b, r.Contact.Email) {
				candidates = append(candidates, r.Contact)
			}
		}
		candidates, err = s.applyTopic(ctx, b, candidates)
		if err != nil {
			return err
		}
		emails := make([]*store.Email, 0, len(candidates))
		for _, c := range candidates {
			e, err := s.email(b, c, props, now)
			if err != nil {
				return err
			}
			// A contact's values can make a message that cannot be
			// written (a word too long for a header line): that contact
			// is skipped, visibly, and the others are sent.
			if err := message.Check(e); err != nil {
				s.logger().Warn("broadcast: contact skipped: its email cannot be built",
					slog.String("broadcast_id", id), slog.String("team_id", teamID),
					slog.String("contact_id", c.ID), slog.String("reason", err.Error()))
				continue
			}
			emails = append(emails, e)
		}
		err = s.accepter().AcceptBroadcast(ctx, b, emails, prog)
		if refusal := accept.AsError(err); refusal != nil {
			// The sender is refused as it is sent (its domain lost its
			// verification): the broadcast is canceled, visibly.
			s.logger().Warn("broadcast canceled: its sender was refused at send time",
				slog.String("broadcast_id", id), slog.String("team_id", teamID), slog.String("from", b.From),
				slog.String("reason", refusal.Message), slog.Int64("progress", b.Progress))
			return nil
		}
		if errors.Is(err, store.ErrBroadcastState) {
			// Another run committed this chunk, or the broadcast was
			// canceled: read where it stands and go on from there.
			if b, err = s.Store.GetBroadcast(ctx, teamID, id); err != nil {
				if errors.Is(err, store.ErrNotFound) {
					return nil
				}
				return err
			}
			continue
		}
		if err != nil {
			return err
		}
		if s.AfterChunk != nil {
			if err := s.AfterChunk(prog.To); err != nil {
				return err
			}
		}
		if prog.Done {
			return nil
		}
		b.Progress, b.Status = prog.To, store.BroadcastSending
	}
}

// reachable applies the test sender's rule: from the test domain, only
// addresses at the test domain.
func (s *Sender) reachable(b *store.Broadcast, addr string) bool {
	if s.TestDomain == "" || message.DomainOf(b.From) != strings.ToLower(s.TestDomain) {
		return true
	}
	return message.DomainOf(addr) == strings.ToLower(s.TestDomain)
}

// applyTopic keeps the contacts the broadcast's topic reaches: their own
// choice, else the topic's default. A topic deleted since is treated as
// reaching nobody.
func (s *Sender) applyTopic(ctx context.Context, b *store.Broadcast, cs []*store.Contact) ([]*store.Contact, error) {
	if b.TopicID == "" || len(cs) == 0 {
		return cs, nil
	}
	addrs := make([]string, len(cs))
	for i, c := range cs {
		addrs[i] = c.Email
	}
	subs, err := s.Store.TopicSubscriptionsAmong(ctx, b.TeamID, b.TopicID, addrs)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	out := cs[:0]
	for _, c := range cs {
		if subs[c.Email] == store.SubscriptionOptIn {
			out = append(out, c)
		}
	}
	return out, nil
}

// properties returns the fallbacks of the contact properties the
// broadcast's content names.
func (s *Sender) properties(ctx context.Context, b *store.Broadcast) (map[string]*store.ContactProperty, error) {
	var keys []string
	for _, p := range []*string{b.HTML, b.Text, &b.Subject} {
		if p == nil {
			continue
		}
		for _, ph := range render.Placeholders(*p) {
			keys = append(keys, ph.Key)
		}
	}
	out := map[string]*store.ContactProperty{}
	if len(keys) == 0 {
		return out, nil
	}
	ps, err := s.Store.ContactPropertiesByKey(ctx, b.TeamID, keys)
	if err != nil {
		return nil, err
	}
	for _, p := range ps {
		out[p.Key] = p
	}
	return out, nil
}

// email renders the broadcast for one contact.
func (s *Sender) email(b *store.Broadcast, c *store.Contact, props map[string]*store.ContactProperty, now time.Time) (*store.Email, error) {
	unsub := s.UnsubscribeURL(b.TeamID, c.ID)
	lookup := func(key string) (string, bool) {
		switch key {
		case "FIRST_NAME":
			if c.FirstName != nil && *c.FirstName != "" {
				return *c.FirstName, true
			}
			return "", false
		case "LAST_NAME":
			if c.LastName != nil && *c.LastName != "" {
				return *c.LastName, true
			}
			return "", false
		case "EMAIL":
			return c.Email, true
		case UnsubscribeKey:
			return unsub, unsub != ""
		}
		if v, ok := render.Value(c.Properties[key]); ok {
			return v, true
		}
		if p := props[key]; p != nil {
			return render.Value(p.FallbackValue)
		}
		return "", false
	}
	e := &store.Email{ID: store.NewID(), TeamID: b.TeamID, From: b.From, To: []string{c.Email}, ReplyTo: b.ReplyTo,
		TopicID: b.TopicID, BroadcastID: b.ID, LastEvent: store.EventQueued, CreatedAt: now}
	var err error
	if e.Subject, err = render.Render(b.Subject, lookup, false, 0); err != nil {
		return nil, err
	}
	if b.HTML != nil {
		h, err := render.Render(*b.HTML, lookup, true, 0)
		if err != nil {
			return nil, err
		}
		if b.PreviewText != "" {
			h = `<div style="display:none;max-height:0;overflow:hidden">` + html.EscapeString(b.PreviewText) + `</div>` + h
		}
		e.HTML = &h
	}
	if b.Text != nil {
		t, err := render.Render(*b.Text, lookup, false, 0)
		if err != nil {
			return nil, err
		}
		e.Text = &t
	}
	if unsub != "" {
		e.Headers = []store.Header{{Name: "List-Unsubscribe", Value: "<" + unsub + ">"},
			{Name: "List-Unsubscribe-Post", Value: "List-Unsubscribe=One-Click"}}
	}
	return e, nil
}
