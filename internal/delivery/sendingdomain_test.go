package delivery

import (
	"bytes"
	"context"
	"testing"

	"github.com/emersion/go-message/mail"
	"github.com/stretchr/testify/require"

	acceptpath "github.com/godwit/godwit/internal/accept"
	"github.com/godwit/godwit/internal/godwittest"
	"github.com/godwit/godwit/internal/sendreq"
	"github.com/godwit/godwit/internal/store"
	"github.com/godwit/godwit/internal/store/sqlstore"
)

// TestSendingDomainRecorded: the accept path records the sending domain on
// the email, and delivery signs with that domain, found by id, and writes
// the Message-ID with its name, without reading From again. An email
// accepted before the domain was recorded (no domain id) is still
// delivered, through its From.
func TestSendingDomainRecorded(t *testing.T) {
	eachStore(t, func(t *testing.T, kind sqlstore.Dialect) {
		e := newWorkerEnv(t, kind, godwittest.MXOptions{})
		ctx := context.Background()
		svc := acceptpath.New(acceptpath.Config{Store: e.db, Now: e.clock.Now})
		key := &store.APIKey{TeamID: e.team.ID}
		messageID := func(i int) string {
			msgs := e.mx.Messages()
			require.Len(t, msgs, i+1)
			require.Len(t, e.verifyDKIM(msgs[i].Data), 2, "signed by example.com, RSA and Ed25519")
			mr, err := mail.CreateReader(bytes.NewReader(msgs[i].Data))
			require.NoError(t, err)
			return mr.Header.Get("Message-Id")
		}

		// Accepted through the accept path: the domain is on the email.
		res, err := svc.Send(ctx, acceptpath.Request{Key: key, Endpoint: "test"}, func() (*store.Email, error) {
			return sendreq.Decode([]byte(`{"from":"Acme <hello@Example.com>","to":"a@example.test","subject":"s","text":"t"}`),
				sendreq.Options{Now: e.clock.Now()})
		})
		require.NoError(t, err)
		em, err := e.db.GetEmail(ctx, e.team.ID, res.IDs[0])
		require.NoError(t, err)
		require.Equal(t, e.domain.ID, em.DomainID)
		require.Equal(t, "example.com", em.DomainName)
		require.NoError(t, e.deliver(em, nil, 1))
		require.Equal(t, store.EventDelivered, e.lastEvent(em))
		require.Equal(t, "<"+em.ID+"@example.com>", messageID(0))

		// The domain is found by id: From is not parsed again (a From whose
		// domain the team does not have would not be found by name).
		other, err := sendreq.Decode([]byte(`{"from":"news@elsewhere.example","to":"a@example.test","subject":"s","text":"t"}`),
			sendreq.Options{Now: e.clock.Now()})
		require.NoError(t, err)
		other.ID, other.TeamID, other.CreatedAt, other.LastEvent = store.NewID(), e.team.ID, e.clock.Now(), store.EventQueued
		other.DomainID, other.DomainName = e.domain.ID, e.domain.Name
		require.NoError(t, e.db.AcceptEmails(ctx, &store.Accept{Emails: []*store.Email{other}}))
		require.NoError(t, e.deliver(other, nil, 1))
		require.Equal(t, store.EventDelivered, e.lastEvent(other))
		require.Equal(t, "<"+other.ID+"@example.com>", messageID(1))

		// Accepted before domains were recorded: found through From.
		legacy := e.accept(`{"from":"hello@example.com","to":"a@example.test","subject":"s","text":"t"}`)
		got, err := e.db.GetEmail(ctx, e.team.ID, legacy.ID)
		require.NoError(t, err)
		require.Empty(t, got.DomainID)
		require.NoError(t, e.deliver(legacy, nil, 1))
		require.Equal(t, store.EventDelivered, e.lastEvent(legacy))
		require.Equal(t, "<"+legacy.ID+"@example.com>", messageID(2))
	})
}
