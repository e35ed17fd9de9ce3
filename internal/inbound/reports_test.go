package inbound_test

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/emersion/go-smtp"
	"github.com/stretchr/testify/require"

	"github.com/godwit/godwit/internal/godwittest"
	"github.com/godwit/godwit/internal/inbound"
	"github.com/godwit/godwit/internal/store"
	"github.com/godwit/godwit/internal/store/sqlstore"
)

// faultyStore is the real store with one failure on command: GetEmailForEvent
// or RecordDelivery fails while its flag is set.
type faultyStore struct {
	inbound.Store
	failLookup, failRecord atomic.Bool
}

var errStoreDown = errors.New("injected: database unavailable")

func (f *faultyStore) GetEmailForEvent(ctx context.Context, id string) (*store.Email, error) {
	if f.failLookup.Load() {
		return nil, errStoreDown
	}
	return f.Store.GetEmailForEvent(ctx, id)
}

func (f *faultyStore) RecordDelivery(ctx context.Context, o *store.DeliveryOutcome) error {
	if f.failRecord.Load() {
		return errStoreDown
	}
	return f.Store.RecordDelivery(ctx, o)
}

func requireSMTPCode(t *testing.T, err error, code int, enh smtp.EnhancedCode) {
	t.Helper()
	var se *smtp.SMTPError
	require.True(t, errors.As(err, &se), "want a %d reply, got %v", code, err)
	require.Equal(t, code, se.Code, "%v", err)
	require.Equal(t, enh, se.EnhancedCode, "%v", err)
}

// TestStoreErrorIsTemporary: when the store fails, the MX answers 451 4.3.0
// (at RCPT when it cannot look the email up, at the end of DATA when it
// cannot record the report), so the remote MTA keeps the report and sends it
// again; the retry is recorded once the store is back.
func TestStoreErrorIsTemporary(t *testing.T) {
	for _, kind := range godwittest.Kinds {
		t.Run(string(kind), func(t *testing.T) {
			t.Parallel()
			var fs *faultyStore
			logs := &godwittest.LogBuffer{}
			e := setupBackend(t, kind, func(b *inbound.Backend) {
				fs = &faultyStore{Store: b.Store}
				b.Store = fs
				b.Logger = slog.New(slog.NewTextHandler(logs, nil))
			})
			em := e.delivered("gone@example.net")
			rcpt := "bounces+" + em.ID + "@send.example.com"
			report := dsn(em.ID, "gone@example.net", "5.1.1", "smtp; 550 5.1.1 User unknown")

			fs.failLookup.Store(true)
			requireSMTPCode(t, e.send(rcpt, report), 451, smtp.EnhancedCode{4, 3, 0})
			fs.failLookup.Store(false)
			require.Contains(t, logs.String(), "inbound: looking up an email")

			fs.failRecord.Store(true)
			requireSMTPCode(t, e.send(rcpt, report), 451, smtp.EnhancedCode{4, 3, 0})
			fs.failRecord.Store(false)
			require.Contains(t, logs.String(), "inbound: recording a report")
			require.Contains(t, logs.String(), "email_id="+em.ID)
			require.Equal(t, store.EventDelivered, e.last(em), "nothing recorded while the store failed")
			sup, err := e.db.SuppressedAmong(context.Background(), e.team, []string{"gone@example.net"})
			require.NoError(t, err)
			require.False(t, sup["gone@example.net"])

			require.NoError(t, e.send(rcpt, report), "the remote MTA's retry")
			require.Equal(t, store.EventBounced, e.last(em))
			attempts, err := e.db.ListDeliveryAttempts(context.Background(), e.team, em.ID)
			require.NoError(t, err)
			require.Len(t, attempts, 1)
		})
	}
}

// delayedDSN is a DSN whose only recipient was delayed, not failed.
func delayedDSN(emailID, rcpt string) string {
	r := dsn(emailID, rcpt, "4.4.7", "smtp; 451 4.4.7 Delivery time expired soon")
	return strings.Replace(r, "Action: failed", "Action: delayed", 1)
}

// TestDSNWithoutFailedRecipient: a DSN that fails none of the email's
// recipients (a delay notice; a failure of an address the email was not
// sent to) is accepted and changes nothing.
func TestDSNWithoutFailedRecipient(t *testing.T) {
	logs := &godwittest.LogBuffer{}
	e := setupBackend(t, sqlstore.SQLite, func(b *inbound.Backend) {
		b.Logger = slog.New(slog.NewTextHandler(logs, nil))
	})
	em := e.delivered("a@example.net")
	rcpt := "bounces+" + em.ID + "@send.example.com"
	for _, report := range []string{
		delayedDSN(em.ID, "a@example.net"),
		dsn(em.ID, "stranger@example.net", "5.1.1", "smtp; 550 5.1.1 User unknown"),
	} {
		require.NoError(t, e.send(rcpt, report))
	}
	require.Equal(t, store.EventDelivered, e.last(em))
	attempts, err := e.db.ListDeliveryAttempts(context.Background(), e.team, em.ID)
	require.NoError(t, err)
	require.Empty(t, attempts)
	sup, err := e.db.SuppressedAmong(context.Background(), e.team, []string{"a@example.net", "stranger@example.net"})
	require.NoError(t, err)
	require.Empty(t, sup)
	require.Equal(t, 2, strings.Count(logs.String(), "a DSN with no failed recipient of the email"), "log: %s", logs)
}

// redactedARF is a complaint about emailID whose feedback report and
// original headers name no recipient, as feedback loops that redact
// addresses send it.
func redactedARF(emailID string) string {
	return `From: feedback@fbl.example.net
To: bounces+` + emailID + `@send.example.com
Subject: FW: s
MIME-Version: 1.0
Content-Type: multipart/report; report-type=feedback-report; boundary="F"

--F
Content-Type: text/plain

This is an email abuse report.

--F
Content-Type: message/feedback-report

Feedback-Type: abuse
User-Agent: ExampleFBL/1.0
Version: 1
Original-Mail-From: <bounces+` + emailID + `@send.example.com>
Arrival-Date: Sat, 28 Nov 2026 12:00:05 +0000

--F
Content-Type: text/rfc822-headers

From: App <app@example.com>
To: redacted
Message-ID: <` + emailID + `@example.com>
Subject: s

--F--
`
}

// TestComplaintWithoutRecipient: a complaint that names no recipient is
// about the only recipient of a one-recipient email; for an email with
// several it cannot be attributed and changes nothing.
func TestComplaintWithoutRecipient(t *testing.T) {
	logs := &godwittest.LogBuffer{}
	e := setupBackend(t, sqlstore.SQLite, func(b *inbound.Backend) {
		b.Logger = slog.New(slog.NewTextHandler(logs, nil))
	})
	one := e.delivered("Reader <Reader@Example.net>")
	require.NoError(t, e.send("bounces+"+one.ID+"@send.example.com", redactedARF(one.ID)))
	require.Equal(t, store.EventComplained, e.last(one))
	list, _, err := e.db.ListSuppressions(context.Background(), e.team, store.SuppressionComplaint, store.Page{})
	require.NoError(t, err)
	require.Len(t, list, 1)
	require.Equal(t, one.ID, list[0].SourceID)
	require.True(t, strings.EqualFold("reader@example.net", list[0].Email), "the bare address: %s", list[0].Email)

	two := e.delivered("a@example.net", "b@example.net")
	require.NoError(t, e.send("bounces+"+two.ID+"@send.example.com", redactedARF(two.ID)))
	require.Equal(t, store.EventDelivered, e.last(two))
	list, _, err = e.db.ListSuppressions(context.Background(), e.team, store.SuppressionComplaint, store.Page{})
	require.NoError(t, err)
	require.Len(t, list, 1, "no one of a two-recipient email is suppressed")
	require.Contains(t, logs.String(), "a complaint naming none of the email's recipients")
}
