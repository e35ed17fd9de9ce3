package inbound_test

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/godwit/godwit/internal/accept"
	"github.com/godwit/godwit/internal/events"
	"github.com/godwit/godwit/internal/godwittest"
	"github.com/godwit/godwit/internal/inbound"
	"github.com/godwit/godwit/internal/message"
	"github.com/godwit/godwit/internal/store"
	"github.com/godwit/godwit/internal/store/sqlstore"
)

// routeEnv is a recvEnv whose MX forwards through the accept path.
type routeEnv struct {
	*recvEnv
	failForward *atomic.Bool // the accept path fails (not a refusal) while set
}

// failingForwarder fails on command, after the accept path committed.
type failingForwarder struct {
	inbound.Forwarder
	fail *atomic.Bool
}

func (f failingForwarder) Send(ctx context.Context, req accept.Request, decode func() (*store.Email, error)) (*accept.Result, error) {
	res, err := f.Forwarder.Send(ctx, req, decode)
	if err == nil && f.fail.Load() {
		return nil, errors.New("injected: the connection to the database broke after the commit")
	}
	return res, err
}

// setupRouting is setupReceiving with the accept path for forwards and a
// sending domain, example.com, verified for the team.
func setupRouting(t *testing.T, kind sqlstore.Dialect) *routeEnv {
	return setupRoutingWith(t, kind, func(*inbound.Backend) {})
}

// setupRoutingWith is setupRouting with a change to the backend.
func setupRoutingWith(t *testing.T, kind sqlstore.Dialect, change func(b *inbound.Backend)) *routeEnv {
	r := &routeEnv{recvEnv: &recvEnv{auth: &fixedAuth{}, fail: &atomic.Bool{}}, failForward: &atomic.Bool{}}
	r.env = setupBackend(t, kind, func(b *inbound.Backend) {
		defer change(b)
		db := b.Store.(*sqlstore.DB)
		b.Receiving = failingReceiving{ReceivingStore: db, fail: r.fail}
		b.Auth, b.Announce = r.auth, events.Received
		b.Forward = failingForwarder{Forwarder: accept.New(accept.Config{Store: db, CacheTTL: -1}), fail: r.failForward}
	})
	r.domain = newDomain(t, r.db, r.team, "in.example.com", store.DomainVerified, store.DomainVerified)
	sending := newDomain(t, r.db, r.team, "example.com", store.DomainVerified, store.DomainVerified)
	sending.Sending, sending.Receiving = "enabled", "disabled"
	require.NoError(t, r.db.UpdateDomain(context.Background(), sending))
	return r
}

func (r *recvEnv) rule(match, action, to, from string) *store.ReceivingRule {
	rule := &store.ReceivingRule{ID: uuid.NewString(), TeamID: r.team, DomainID: r.domain.ID, Match: match, Action: action,
		ForwardTo: to, ForwardFrom: from, CreatedAt: t0, UpdatedAt: t0}
	require.NoError(r.t, r.db.CreateReceivingRule(context.Background(), rule))
	return rule
}

func (r *recvEnv) sent() []*store.Email {
	r.t.Helper()
	list, _, err := r.db.ListEmails(context.Background(), r.team, store.Page{Limit: 100})
	require.NoError(r.t, err)
	return list
}

// TestRoutingRules: reject refuses at RCPT, drop takes the message and
// keeps nothing, forward stores it and sends one email through the accept
// path (from the rule's verified sender, "Fwd: …", the bodies, the message
// as received attached as message/rfc822, queued for delivery); a sender's
// retry of the same message stores it again but forwards it once.
func TestRoutingRules(t *testing.T) {
	for _, kind := range godwittest.Kinds {
		t.Run(string(kind), func(t *testing.T) {
			t.Parallel()
			r := setupRouting(t, kind)
			ctx := context.Background()
			fwd := r.rule("support", store.RuleForward, "Me <me@example.net>", "Forwarder <fwd@example.com>")
			r.rule("spam", store.RuleDrop, "", "")
			r.rule("blocked", store.RuleReject, "", "")

			err := r.transact("x@example.net", []string{"blocked@in.example.com"}, "Subject: s\n\nhi\n", false)
			requireSMTPCode(t, err, 550, smtp.EnhancedCode{5, 1, 1})
			err = r.transact("x@example.net", []string{"BLOCKED@in.example.com"}, "Subject: s\n\nhi\n", false)
			requireSMTPCode(t, err, 550, smtp.EnhancedCode{5, 1, 1})

			require.NoError(t, r.transact("x@example.net", []string{"spam@in.example.com"}, "Subject: s\n\nhi\n", false))
			require.Empty(t, r.received(r.team), "dropped")
			require.Empty(t, r.sent())

			rcpts := []string{"Support@in.example.com", "spam@in.example.com", "other@in.example.com"}
			require.NoError(t, r.transact("renee@example.net", rcpts, mixedMessage, false))
			list := r.received(r.team)
			require.Len(t, list, 1)
			got, err := r.db.GetReceivedEmail(ctx, r.team, list[0].ID)
			require.NoError(t, err)
			require.Equal(t, []string{"Support@in.example.com", "other@in.example.com"}, got.ReceivedFor, "the dropped address is left out")
			raw, err := r.db.GetReceivedRaw(ctx, r.team, got.ID)
			require.NoError(t, err)

			sent := r.sent()
			require.Len(t, sent, 1)
			f, err := r.db.GetEmailForDelivery(ctx, sent[0].ID)
			require.NoError(t, err)
			require.Equal(t, "Forwarder <fwd@example.com>", f.From)
			require.Equal(t, []string{"Me <me@example.net>"}, f.To)
			require.Equal(t, "Fwd: Café order", f.Subject)
			require.Equal(t, []string{"replies@example.net"}, f.ReplyTo, "replies go to the original sender")
			require.Equal(t, "example.com", f.DomainName, "sent from the team's verified domain")
			require.Equal(t, store.EventQueued, f.LastEvent)
			require.Equal(t, "Café for two.", strings.TrimSpace(*f.Text))
			require.Equal(t, "<p>Café for two.</p>", strings.TrimSpace(*f.HTML))
			require.Contains(t, f.Headers, store.Header{Name: inbound.ForwardedHeader, Value: "1"})
			atts, err := r.db.ListEmailAttachments(ctx, r.team, f.ID)
			require.NoError(t, err)
			require.Len(t, atts, 1)
			require.Equal(t, "message/rfc822", atts[0].ContentType)
			require.Equal(t, "forwarded_message.eml", atts[0].Filename)
			att, err := r.db.GetEmailAttachment(ctx, r.team, f.ID, 0)
			require.NoError(t, err)
			require.Equal(t, raw, att.Content, "the message as received, trace fields included")
			f.Attachments = []store.Attachment{*att}
			require.NoError(t, message.Check(f), "the delivery worker can build it")

			// The sender retries (it lost our 250): stored again, forwarded once.
			require.NoError(t, r.transact("renee@example.net", rcpts, mixedMessage, false))
			require.Len(t, r.received(r.team), 2)
			require.Len(t, r.sent(), 1)

			// A changed rule forwards the next message from its new sender.
			fwd.ForwardFrom, fwd.UpdatedAt = "other@example.com", t0.Add(time.Minute)
			require.NoError(t, r.db.UpdateReceivingRule(ctx, fwd))
			require.NoError(t, r.transact("renee@example.net", []string{"support@in.example.com"}, "Subject: next\n\nhi\n", false))
			sent = r.sent()
			require.Len(t, sent, 2)
			require.Equal(t, "other@example.com", sent[0].From)
			require.Equal(t, "Fwd: next", sent[0].Subject)
		})
	}
}

// TestRoutingCatchAll: with catch-all off only the addresses a rule names
// are taken (others 550 5.1.1 at RCPT); a "*" rule names them all; with it
// on (the default) any address is stored.
func TestRoutingCatchAll(t *testing.T) {
	t.Parallel()
	r := setupRouting(t, sqlstore.SQLite)
	ctx := context.Background()
	require.NoError(t, r.transact("x@example.net", []string{"anyone@in.example.com"}, "Subject: s\n\nhi\n", false))
	require.Len(t, r.received(r.team), 1)

	require.NoError(t, r.db.SetReceivingSettings(ctx, &store.ReceivingSettings{TeamID: r.team, DomainID: r.domain.ID, UpdatedAt: t0}))
	r.rule("support", store.RuleStore, "", "")
	err := r.transact("x@example.net", []string{"anyone@in.example.com"}, "Subject: s\n\nhi\n", false)
	requireSMTPCode(t, err, 550, smtp.EnhancedCode{5, 1, 1})
	require.NoError(t, r.transact("x@example.net", []string{"support@in.example.com"}, "Subject: s\n\nhi\n", false))
	require.Len(t, r.received(r.team), 2)

	r.rule(store.RuleMatchAll, store.RuleStore, "", "")
	require.NoError(t, r.transact("x@example.net", []string{"anyone@in.example.com"}, "Subject: s\n\nhi\n", false))
	require.Len(t, r.received(r.team), 3)
}

// TestRoutingForwardRefused: a forward the accept path refuses (its sender
// is not a verified domain of the team any more) leaves the message stored
// and answered 250, with nothing sent; a message forwarded MaxForwards
// times already (a loop between rules) is stored and not forwarded again.
func TestRoutingForwardRefused(t *testing.T) {
	t.Parallel()
	r := setupRouting(t, sqlstore.SQLite)
	r.rule("support", store.RuleForward, "me@example.net", "fwd@unverified.example")
	require.NoError(t, r.transact("x@example.net", []string{"support@in.example.com"}, "Subject: s\n\nhi\n", false))
	require.Len(t, r.received(r.team), 1)
	require.Empty(t, r.sent())

	r.rule("loop", store.RuleForward, "me@example.net", "fwd@example.com")
	require.NoError(t, r.transact("x@example.net", []string{"loop@in.example.com"}, "Subject: s\nX-Godwit-Forwarded: 5\n\nhi\n", false))
	require.Len(t, r.received(r.team), 2)
	require.Empty(t, r.sent())
	require.NoError(t, r.transact("x@example.net", []string{"loop@in.example.com"}, "Subject: s\nX-Godwit-Forwarded: 4\n\nhi\n", false))
	sent := r.sent()
	require.Len(t, sent, 1)
	f, err := r.db.GetEmail(context.Background(), r.team, sent[0].ID)
	require.NoError(t, err)
	require.Contains(t, f.Headers, store.Header{Name: inbound.ForwardedHeader, Value: "5"})
}

// TestRoutingForwardFailureIsTemporary: a failure of the accept path
// (not a refusal) is a 451 after the message was stored; the sender's
// retry stores it again and finds the forward committed: one forward.
func TestRoutingForwardFailureIsTemporary(t *testing.T) {
	t.Parallel()
	r := setupRouting(t, sqlstore.SQLite)
	r.rule("support", store.RuleForward, "me@example.net", "fwd@example.com")
	r.failForward.Store(true)
	err := r.transact("x@example.net", []string{"support@in.example.com"}, "Subject: s\nMessage-ID: <a@b>\n\nhi\n", false)
	requireSMTPCode(t, err, 451, smtp.EnhancedCode{4, 3, 0})
	require.Len(t, r.received(r.team), 1, "stored before the forward")
	require.Len(t, r.sent(), 1)
	r.failForward.Store(false)
	require.NoError(t, r.transact("x@example.net", []string{"support@in.example.com"}, "Subject: s\nMessage-ID: <a@b>\n\nhi\n", false))
	require.Len(t, r.received(r.team), 2, "at least once")
	require.Len(t, r.sent(), 1, "forwarded once")
}
