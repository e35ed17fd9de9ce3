package queue_test

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/godwit/godwit/internal/delivery"
	"github.com/godwit/godwit/internal/domains"
	"github.com/godwit/godwit/internal/godwittest"
	"github.com/godwit/godwit/internal/secretbox"
	"github.com/godwit/godwit/internal/store"
)

// panicTransport panics for one recipient and delivers to the others.
type panicTransport struct {
	victim string
	mu     sync.Mutex
	calls  map[string]int
}

func (p *panicTransport) Deliver(_ context.Context, m *delivery.Message) []delivery.Result {
	p.mu.Lock()
	for _, r := range m.Recipients {
		p.calls[r]++
	}
	p.mu.Unlock()
	var rs []delivery.Result
	for _, r := range m.Recipients {
		if r == p.victim {
			var s []int
			_ = s[len(m.Recipients)+1] // index out of range, as go-message's fold did
		}
		rs = append(rs, delivery.Result{Recipient: r, Host: "mx.test", Code: 250, Outcome: delivery.Delivered})
	}
	return rs
}

// TestWorkerPanicFailsOnlyItsEmail: a panic inside a delivery (here the
// transport's) does not stop the process; the email fails with reason
// internal_error and a failed event; its job is not run into the panic
// again; and the other emails of the same job are delivered.
func TestWorkerPanicFailsOnlyItsEmail(t *testing.T) {
	for _, kind := range godwittest.Kinds {
		t.Run(string(kind), func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			box, err := secretbox.New(bytes.Repeat([]byte{3}, 32))
			require.NoError(t, err)
			settings := domains.Settings{Keys: box, MXHost: "mx.godwit.test", SPF: "v=spf1 ~all"}
			tr := &panicTransport{victim: "victim@dest.test", calls: map[string]int{}}
			var worker *delivery.Worker
			e := start(t, kind, func(w *delivery.Worker) {
				w.Domains = settings
				w.Transport = tr
				worker = w
			})
			d := &store.Domain{ID: uuid.NewString(), TeamID: e.team.ID, Name: "example.com", Region: "us-east-1", ReturnPath: "send",
				Status: store.DomainVerified, TLS: "opportunistic", Sending: "enabled", Receiving: "disabled", DKIMSelector: "resend",
				RecordStatus: map[string]string{}, CreatedAt: t0, UpdatedAt: t0}
			d.DKIMKey, d.DKIMEd25519Key, err = settings.NewKeys(d.ID)
			require.NoError(t, err)
			require.NoError(t, e.db.CreateDomain(ctx, d))

			text := "hi"
			mk := func(to string) *store.Email {
				return &store.Email{ID: uuid.NewString(), TeamID: e.team.ID, From: "a@example.com", To: []string{to},
					Subject: "s", Text: &text, CreatedAt: t0, LastEvent: store.EventQueued}
			}
			victim, other := mk("victim@dest.test"), mk("fine@dest.test")
			// One commit: both emails share one job.
			require.NoError(t, e.db.AcceptEmails(ctx, &store.Accept{Emails: []*store.Email{victim, other}}))
			e.waitFor(other, store.EventDelivered, 15*time.Second)
			e.waitFor(victim, store.EventFailed, 15*time.Second)

			evs, err := e.db.ListEmailEvents(ctx, e.team.ID, victim.ID)
			require.NoError(t, err)
			var reason string
			for _, ev := range evs {
				if ev.Type == store.EventFailed {
					var data struct {
						Failed struct {
							Reason string `json:"reason"`
						} `json:"failed"`
					}
					require.NoError(t, json.Unmarshal(ev.Data, &data))
					reason = data.Failed.Reason
				}
			}
			require.Equal(t, delivery.ReasonInternalError, reason)
			attempts, err := e.db.ListDeliveryAttempts(ctx, e.team.ID, victim.ID)
			require.NoError(t, err)
			require.Len(t, attempts, 1)
			require.Equal(t, store.OutcomeFailed, attempts[0].Outcome)
			require.True(t, strings.Contains(attempts[0].Response, "internal error"), attempts[0].Response)

			// A run of the job again (River's retry, a rescue) finds the
			// email final: the panic is not repeated.
			require.NoError(t, worker.Deliver(ctx, delivery.Job{EmailID: victim.ID, Attempt: 2}))
			tr.mu.Lock()
			defer tr.mu.Unlock()
			require.Equal(t, 1, tr.calls["victim@dest.test"], "the panicking email was attempted again")
		})
	}
}
