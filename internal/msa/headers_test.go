package msa_test

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	msg "github.com/godwit/godwit/internal/message"
)

// TestHeaderRulesOverSMTP: a submitted message takes the accept rules of
// POST /emails. A 74-character header name, which once crashed the delivery
// worker, is accepted and builds; identity fields the sender may not claim
// are refused, and trace fields describing the way to Godwit are dropped.
func TestHeaderRulesOverSMTP(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	addr := e.start(e.config())
	rcpt := []string{"to@example.net"}
	c := dialRaw(t, addr)
	c.login(e.key)

	long := "X" + strings.Repeat("a", 73)
	id := queued(t, c.send("a@example.com", rcpt, message("a@example.com", "to@example.net", "long name", long+": v")))
	tooLong := "X" + strings.Repeat("a", 80)
	r := c.send("a@example.com", rcpt, message("a@example.com", "to@example.net", "too long", tooLong+": v"))
	requireReply(t, r, 550, "5.6.0")
	r = c.send("a@example.com", rcpt, message("a@example.com", "to@example.net", "resent", "Resent-From: boss@example.net"))
	requireReply(t, r, 550, "5.6.0")
	r = c.send("a@example.com", rcpt, message("a@example.com", "to@example.net", "sender", "Sender: ops@slow.example"))
	requireReply(t, r, 550, "5.7.1")
	senderID := queued(t, c.send("a@example.com", rcpt, message("a@example.com", "to@example.net", "sender ok", "Sender: Ops <ops@example.com>")))
	traceID := queued(t, c.send("a@example.com", rcpt, message("a@example.com", "to@example.net", "trace",
		"Received: from app.internal (10.0.0.5) by relay", "Return-Path: <x@example.net>", "Authentication-Results: relay; spf=pass")))

	c = dialRaw(t, addr)
	c.login(e.restricted)
	r = c.send("onboarding@resend.dev", []string{"delivered@resend.dev"}, message("onboarding@resend.dev", "delivered@resend.dev", "test sender"))
	requireReply(t, r, 550, "5.7.1")

	byID := map[string]bool{}
	for _, em := range e.emails(e.team) {
		byID[em.ID] = true
		names := map[string]string{}
		for _, h := range em.Headers {
			names[h.Name] = h.Value
		}
		switch em.ID {
		case id:
			require.Equal(t, "v", names[long])
		case senderID:
			require.Equal(t, "Ops <ops@example.com>", names["Sender"])
		case traceID:
			require.NotContains(t, names, "Received")
			require.NotContains(t, names, "Return-Path")
			require.NotContains(t, names, "Authentication-Results")
		}
		em.ID = "00000000-0000-4000-8000-000000000000"
		_, err := msg.Build(em, msg.Options{Now: time.Now(), MessageID: em.MessageID()})
		require.NoError(t, err, "an accepted message builds")
	}
	require.Len(t, byID, 3, "only the accepted messages are stored")
	require.True(t, byID[id] && byID[senderID] && byID[traceID])
}
