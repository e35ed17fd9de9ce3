package app

import (
	"bytes"
	"context"
	"encoding/hex"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/godwit/godwit/internal/config"
	"github.com/godwit/godwit/internal/events"
	"github.com/godwit/godwit/internal/godwittest"
	"github.com/godwit/godwit/internal/store"
	"github.com/godwit/godwit/internal/store/sqlstore"
)

// TestDomainsResumeCommand: godwit domains list shows a paused domain and
// why; godwit domains resume clears the pause, records domain.updated and
// makes the held email due now, through the real queue's outbox.
func TestDomainsResumeCommand(t *testing.T) {
	t.Parallel()
	for _, kind := range godwittest.Kinds {
		t.Run(string(kind), func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			url := godwittest.StoreURL(t, kind)
			db, err := sqlstore.Open(ctx, url, sqlstore.Options{Outbox: godwittest.NewOutbox()})
			require.NoError(t, err)
			t.Cleanup(func() { _ = db.Close() })
			key := bytes.Repeat([]byte{3}, 32)
			t0 := time.Now().UTC().Add(-time.Hour).Truncate(time.Second)
			team := &store.Team{ID: uuid.NewString(), Name: "acme", CreatedAt: t0}
			require.NoError(t, db.CreateTeam(ctx, team))
			settings, err := domainSettings(config.Defaults(), key)
			require.NoError(t, err)
			d := &store.Domain{ID: uuid.NewString(), TeamID: team.ID, Name: "example.com", Region: "us-east-1", ReturnPath: "send",
				Status: store.DomainVerified, TLS: "opportunistic", Sending: "enabled", Receiving: "disabled", DKIMSelector: "resend",
				RecordStatus: map[string]string{}, CreatedAt: t0, UpdatedAt: t0}
			d.DKIMKey, _, err = settings.NewKeys(d.ID)
			require.NoError(t, err)
			require.NoError(t, db.CreateDomain(ctx, d))
			em := &store.Email{ID: store.NewID(), TeamID: team.ID, From: "a@example.com", To: []string{"d@example.net"}, Subject: "s",
				LastEvent: store.EventQueued, CreatedAt: t0, DomainID: d.ID, DomainName: d.Name}
			require.NoError(t, db.AcceptEmails(ctx, &store.Accept{Emails: []*store.Email{em}}))
			retry := t0.Add(time.Hour * 2)
			require.NoError(t, db.RecordDelivery(ctx, &store.DeliveryOutcome{EmailID: em.ID, TeamID: team.ID,
				LastEvent: store.EventDeliveryDelayed, RetryAt: &retry,
				Attempts: []*store.DeliveryAttempt{{Recipient: "d@example.net", Outcome: store.OutcomeDeferred,
					Response: "domain paused: bounce rate 7% over 24h ≥ 5%", CreatedAt: t0}}}))
			_, paused, err := db.PauseDomainSending(ctx, team.ID, d.ID, store.SendingPause{Reason: "bounce rate 7% over 24h ≥ 5%", At: t0}, nil)
			require.NoError(t, err)
			require.True(t, paused)

			run := func(args ...string) (string, string, int) {
				var out, errb bytes.Buffer
				full := append([]string{args[0], args[1], "--database-url", url}, args[2:]...)
				code := Main(ctx, full, &out, &errb, func(string) string { return "" })
				return out.String(), errb.String(), code
			}
			out, errOut, code := run("domains", "list", "--team", "acme")
			require.Zero(t, code, errOut)
			require.Contains(t, out, "paused")
			require.Contains(t, out, "bounce rate 7% over 24h ≥ 5%")

			_, errOut, code = run("domains", "resume", "--team", "acme", "--secret-key", hex.EncodeToString(key), "nosuch.example")
			require.Equal(t, 1, code)
			require.Contains(t, errOut, `no domain "nosuch.example"`)

			before := time.Now()
			out, errOut, code = run("domains", "resume", "--team", "acme", "--secret-key", hex.EncodeToString(key), "example.com")
			require.Zero(t, code, errOut)
			require.Equal(t, "resumed example.com: 1 held emails enqueued for delivery now\n", out)
			got, err := db.GetDomain(ctx, team.ID, d.ID)
			require.NoError(t, err)
			require.Nil(t, got.SendingPause)
			waiting, _, err := db.ListWaitingEmails(ctx, team.ID, "", store.Page{Limit: 10})
			require.NoError(t, err)
			require.Len(t, waiting, 1)
			require.NotNil(t, waiting[0].NextAttemptAt)
			require.False(t, waiting[0].NextAttemptAt.Before(before.Add(-time.Second)), "due now, not at %s", retry)
			require.True(t, waiting[0].NextAttemptAt.Before(retry))
			evs, err := db.ListEvents(ctx, team.ID, "", 10)
			require.NoError(t, err)
			var updated int
			for _, ev := range evs {
				if ev.Type == events.DomainUpdated {
					updated++
					require.NotContains(t, string(ev.Data), "sending_pause")
				}
			}
			require.Equal(t, 1, updated)

			out, errOut, code = run("domains", "resume", "--team", "acme", "--secret-key", hex.EncodeToString(key), d.ID)
			require.Zero(t, code, errOut)
			require.True(t, strings.HasPrefix(out, "example.com was not paused"), out)
		})
	}
}
