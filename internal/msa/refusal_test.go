package msa_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/godwit/godwit/internal/accept"
	"github.com/godwit/godwit/internal/godwittest"
	"github.com/godwit/godwit/internal/store"
)

// queueFault is the delivery queue's insert (the Outbox's DeliverEmails) with two
// faults on command: it fails while failing is set, and while hold is set it
// blocks each insert until hold is closed, reporting on entered.
type queueFault struct {
	mu      sync.Mutex
	failing bool
	err     error // what failing returns; nil: errQueueDown
	hold    chan struct{}
	entered chan struct{}
}

var errQueueDown = errors.New("injected: delivery queue unavailable at 10.0.0.7")

func (q *queueFault) enqueue(context.Context, *sql.Tx, []*store.Email) error {
	q.mu.Lock()
	failing, hold, err := q.failing, q.hold, q.err
	q.mu.Unlock()
	if hold != nil {
		q.entered <- struct{}{}
		<-hold
	}
	if failing {
		if err != nil {
			return err
		}
		return errQueueDown
	}
	return nil
}

func (q *queueFault) set(f func(q *queueFault)) {
	q.mu.Lock()
	f(q)
	q.mu.Unlock()
}

// TestStoreFailures: when the store cannot accept the message, the client
// is told to try again later, with nothing of the cause: 451 4.3.0 for a
// failure, 452 4.3.1 (RFC 3463's "mail system full") for a store out of
// disk space. The cause is logged; nothing is stored; the session goes
// on, and the client's retry on it is accepted once the store is back.
func TestStoreFailures(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		err  error // what the delivery queue's insert fails with
		code int
		enh  string
		text string
		log  string
	}{
		{name: "failure", err: errQueueDown, code: 451, enh: "4.3.0", text: "Temporary failure, try again later",
			log: "smtp message not accepted: internal error"},
		{name: "out of disk space", err: fmt.Errorf("write river_job: %w", syscall.ENOSPC),
			code: 452, enh: "4.3.1", text: "Insufficient system storage, try again later",
			log: "smtp message not accepted: the store is out of disk space"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			q := &queueFault{failing: true, err: tc.err}
			godwittest.OutboxOf(t, e.db).OnDeliver(q.enqueue)
			c := dialRaw(t, e.start(e.config()))
			c.login(e.key)

			r := c.sendTo(plainMessage("lost"))
			requireReply(t, r, tc.code, tc.enh)
			require.Equal(t, tc.text, r.text)
			require.Empty(t, e.emails(e.team), "a failed accept stores nothing")
			recs := e.logs.Records(t, tc.log)
			require.Len(t, recs, 1)
			require.Contains(t, recs[0]["error"], tc.err.Error(), "the cause is in the log")
			require.Equal(t, "ERROR", recs[0]["level"])

			q.set(func(q *queueFault) { q.failing = false })
			id := queued(t, c.sendTo(plainMessage("retried")))
			list := e.emails(e.team)
			require.Len(t, list, 1)
			require.Equal(t, id, list[0].ID)
			require.Equal(t, "retried", list[0].Subject)
		})
	}
}

// TestIdempotencyKeyBusy: a message whose Resend-Idempotency-Key is being
// accepted on another connection is deferred (451 4.7.0); once the first is
// committed, the retry answers the first email's id.
func TestIdempotencyKeyBusy(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	q := &queueFault{entered: make(chan struct{}, 1)}
	godwittest.OutboxOf(t, e.db).OnDeliver(q.enqueue)
	hold := make(chan struct{})
	q.set(func(q *queueFault) { q.hold = hold })
	addr := e.start(e.config())
	rcpt := []string{"to@example.net"}
	msg := message("sender@example.com", "to@example.net", "once", "Resend-Idempotency-Key: order-7")

	first := dialRaw(t, addr)
	first.login(e.key)
	first.openData()
	first.write(msg + ".\r\n")
	select {
	case <-q.entered: // the first message is inside the store's commit
	case <-time.After(ioTimeout):
		t.Fatal("the first message never reached the store")
	}
	q.set(func(q *queueFault) { q.hold = nil })

	second := dialRaw(t, addr)
	second.login(e.key)
	r := second.send("sender@example.com", rcpt, message("sender@example.com", "to@example.net", "once", "Resend-Idempotency-Key: order-7"))
	requireReply(t, r, 451, "4.7.0")
	require.Contains(t, r.text, "Resend-Idempotency-Key")

	close(hold)
	id := queued(t, first.read())
	require.Equal(t, id, queued(t, second.send("sender@example.com", rcpt, msg)), "the retry answers the first id")
	require.Len(t, e.emails(e.team), 1)
}

// refusingAccepter is the real accept path, except that it refuses the
// messages with a given subject with a given error: refusals the accept
// path can return but an SMTP message cannot provoke today.
type refusingAccepter struct {
	*accept.Service
	refuse map[string]error
}

func (a refusingAccepter) SendMessage(ctx context.Context, key *store.APIKey, em *store.Email, idemKey string) (string, error) {
	if err, ok := a.refuse[em.Subject]; ok {
		return "", err
	}
	return a.Service.SendMessage(ctx, key, em, idemKey)
}

// TestAcceptRefusals: ErrTooLarge of the accept path is a 552 5.3.4; any
// other refusal without a reply of its own is the generic 550 5.6.0, which
// says nothing of the accept path's message (that goes to the log).
func TestAcceptRefusals(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	cfg := e.config()
	cfg.Accepter = refusingAccepter{Service: e.accept, refuse: map[string]error{
		"huge": &accept.Error{Kind: accept.ErrTooLarge, Message: "The email is larger than the 40 MB limit."},
		"odd":  &accept.Error{Kind: accept.ErrInvalid, Field: "secret_field", Message: "The `secret_field` field is invalid."},
	}}
	c := dialRaw(t, e.start(cfg))
	c.login(e.key)
	rcpt := []string{"to@example.net"}

	r := c.send("sender@example.com", rcpt, message("sender@example.com", "to@example.net", "huge"))
	requireReply(t, r, 552, "5.3.4")
	require.Equal(t, "Message too large: the limit is 40 MB", r.text)

	r = c.send("sender@example.com", rcpt, message("sender@example.com", "to@example.net", "odd"))
	requireReply(t, r, 550, "5.6.0")
	require.Equal(t, "Message refused", r.text)

	recs := e.logs.Records(t, "smtp message refused")
	require.Len(t, recs, 2)
	require.Equal(t, accept.ErrTooLarge.Error(), recs[0]["kind"])
	require.Equal(t, accept.ErrInvalid.Error(), recs[1]["kind"])
	require.Equal(t, "The `secret_field` field is invalid.", recs[1]["reason"], "the API's message is logged")

	// The session goes on: the next message is accepted.
	queued(t, c.send("sender@example.com", rcpt, message("sender@example.com", "to@example.net", "fine")))
	require.Len(t, e.emails(e.team), 1)
}
