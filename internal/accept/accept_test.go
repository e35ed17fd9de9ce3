package accept_test

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/godwit/godwit/internal/accept"
	"github.com/godwit/godwit/internal/godwittest"
	"github.com/godwit/godwit/internal/store"
	"github.com/godwit/godwit/internal/store/sqlstore"
)

var t0 = time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)

type env struct {
	db    *sqlstore.DB
	clock *godwittest.Clock
	svc   *accept.Service
	key   *store.APIKey // of a team with example.com verified and example.org pending
	org   *store.Domain
}

func newEnv(t *testing.T, kind sqlstore.Dialect) *env {
	t.Helper()
	ctx := context.Background()
	clock := godwittest.NewClock(t0)
	db := godwittest.NewStore(t, kind, clock)
	team := uuid.NewString()
	require.NoError(t, db.CreateTeam(ctx, &store.Team{ID: team, Name: "t", CreatedAt: t0}))
	domain := func(name, status string) *store.Domain {
		d := &store.Domain{ID: uuid.NewString(), TeamID: team, Name: name, Region: "us-east-1", ReturnPath: "send",
			Status: status, TLS: "opportunistic", Sending: "enabled", Receiving: "disabled", DKIMSelector: "resend",
			DKIMKey: []byte("sealed"), RecordStatus: map[string]string{}, CreatedAt: t0, UpdatedAt: t0}
		require.NoError(t, db.CreateDomain(ctx, d))
		return d
	}
	domain("example.com", store.DomainVerified)
	org := domain("example.org", store.DomainPending)
	return &env{db: db, clock: clock, org: org, key: &store.APIKey{ID: uuid.NewString(), TeamID: team},
		svc: accept.New(accept.Config{Store: db, Now: clock.Now})}
}

func email(from string) *store.Email {
	text := "t"
	return &store.Email{From: from, To: []string{"a@example.net"}, Subject: "s", Text: &text}
}

// TestRefusalKinds: every refusal of the gate is an *accept.Error of its
// kind (the faces map kinds, never messages).
func TestRefusalKinds(t *testing.T) {
	t.Parallel()
	e := newEnv(t, sqlstore.SQLite)
	ctx := context.Background()
	restricted := &store.APIKey{TeamID: e.key.TeamID, DomainID: uuid.NewString()}
	for _, c := range []struct {
		key  *store.APIKey
		e    *store.Email
		kind *accept.Kind
	}{
		{e.key, email("a@example.org"), accept.ErrSenderNotVerified},
		{e.key, email("a@unknown.example"), accept.ErrSenderNotVerified},
		{e.key, email("someone@resend.dev"), accept.ErrSenderNotVerified},
		{e.key, email("onboarding@resend.dev"), accept.ErrTestRecipient},
		{restricted, email("a@example.com"), accept.ErrKeyDomain},
		{restricted, email("onboarding@resend.dev"), accept.ErrKeyDomain},
		{e.key, &store.Email{To: []string{"a@example.net"}, Subject: "s"}, accept.ErrMissingField},
		{e.key, &store.Email{From: "a@example.com", To: []string{"a@example.net"}, Subject: "s", TopicID: "x"}, accept.ErrInvalidParameter},
		{e.key, &store.Email{From: "a@example.com", To: []string{"a@example.net"}, Subject: "s", TopicID: uuid.NewString()}, accept.ErrNotFound},
		{e.key, &store.Email{To: []string{"a@example.net"}, Template: &store.TemplateRef{ID: "welcome"}}, accept.ErrNotFound},
	} {
		err := e.svc.Check(ctx, c.key, c.e, nil)
		require.ErrorIs(t, err, c.kind, "%s", c.e.From)
		require.NotNil(t, accept.AsError(err))
		require.NotEmpty(t, accept.AsError(err).Message)
	}
	_, err := e.svc.Authenticate(ctx, "re_not_a_key")
	require.ErrorIs(t, err, accept.ErrInvalidKey)
	require.NoError(t, e.svc.Check(ctx, e.key, email("Acme <a@Example.com>"), nil))
}

// TestAnySender: a development server (--allow-any-sender) accepts any
// sender domain: a pending domain of the team is recorded on the email (its
// keys sign the captured copy), an unknown one is not; a key restricted to
// a domain stays restricted, and the test sender keeps its test recipients.
func TestAnySender(t *testing.T) {
	t.Parallel()
	e := newEnv(t, sqlstore.SQLite)
	ctx := context.Background()
	svc := accept.New(accept.Config{Store: e.db, Now: e.clock.Now, AnySender: true})
	d, err := svc.CheckFrom(ctx, e.key, e.key.TeamID, email("a@example.org"))
	require.NoError(t, err)
	require.Equal(t, e.org.ID, d.ID, "the team's pending domain")
	d, err = svc.CheckFrom(ctx, e.key, e.key.TeamID, email("a@unknown.example"))
	require.NoError(t, err)
	require.Nil(t, d, "a domain nobody added")
	em := email("Dev <dev@unknown.example>")
	require.NoError(t, svc.Check(ctx, e.key, em, nil))
	require.Empty(t, em.DomainID)
	require.Equal(t, "unknown.example", em.DomainName)

	restricted := &store.APIKey{TeamID: e.key.TeamID, DomainID: uuid.NewString()}
	require.ErrorIs(t, svc.Check(ctx, restricted, email("a@unknown.example"), nil), accept.ErrKeyDomain)
	require.ErrorIs(t, svc.Check(ctx, restricted, email("a@example.org"), nil), accept.ErrKeyDomain)
	require.ErrorIs(t, svc.Check(ctx, e.key, email("onboarding@resend.dev"), nil), accept.ErrTestRecipient)
	// Off (the default), the same senders are refused.
	require.ErrorIs(t, e.svc.Check(ctx, e.key, email("a@unknown.example"), nil), accept.ErrSenderNotVerified)
}

// TestSendMessageIdempotency: an SMTP message with an idempotency key is
// accepted once; its record is the neutral ids, and a record stored before
// (the API's {"id":…} body) still answers its id.
func TestSendMessageIdempotency(t *testing.T) {
	t.Parallel()
	for _, kind := range godwittest.Kinds {
		t.Run(string(kind), func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, kind)
			ctx := context.Background()
			id, err := e.svc.SendMessage(ctx, e.key, email("a@example.com"), "k1")
			require.NoError(t, err)
			again, err := e.svc.SendMessage(ctx, e.key, email("a@example.com"), "k1")
			require.NoError(t, err)
			require.Equal(t, id, again)
			rec, err := e.db.GetIdempotency(ctx, e.key.TeamID, "k1")
			require.NoError(t, err)
			require.JSONEq(t, `{"ids":["`+id+`"]}`, string(rec.Response))
			_, err = e.svc.SendMessage(ctx, e.key, email("b@example.com"), "k1")
			require.ErrorIs(t, err, accept.ErrIdempotencyMismatch)

			// A record of the old shape.
			old := email("a@example.com")
			h := sha256.New()
			h.Write([]byte(accept.SMTPEndpoint + "\n"))
			require.NoError(t, json.NewEncoder(h).Encode(old))
			require.NoError(t, e.db.AcceptEmails(ctx, &store.Accept{IdempotencyTTL: 24 * time.Hour,
				Idempotency: &store.Idempotency{TeamID: e.key.TeamID, Key: "k0", Endpoint: accept.SMTPEndpoint,
					RequestHash: h.Sum(nil), Response: []byte(`{"id":"0192f6e4-0000-7000-8000-000000000009"}`), CreatedAt: t0}}))
			got, err := e.svc.SendMessage(ctx, e.key, old, "k0")
			require.NoError(t, err)
			require.Equal(t, "0192f6e4-0000-7000-8000-000000000009", got)

			list, _, err := e.db.ListEmails(ctx, e.key.TeamID, store.Page{Limit: 10})
			require.NoError(t, err)
			require.Len(t, list, 1)
			require.Equal(t, "example.com", list[0].DomainName)
		})
	}
}

// TestInFlight: a request whose idempotency key is being accepted on this
// node is refused with ErrIdempotencyInFlight.
func TestInFlight(t *testing.T) {
	t.Parallel()
	e := newEnv(t, sqlstore.SQLite)
	ctx := context.Background()
	entered, release := make(chan struct{}), make(chan struct{})
	done := make(chan error, 1)
	req := accept.Request{Key: e.key, Endpoint: "test", IdempotencyKey: "busy", Hash: []byte("h")}
	go func() {
		_, err := e.svc.Submit(ctx, req, func() ([]*store.Email, []accept.ItemError, error) {
			close(entered)
			<-release
			return nil, nil, errors.New("gave up")
		})
		done <- err
	}()
	<-entered
	_, err := e.svc.Submit(ctx, req, func() ([]*store.Email, []accept.ItemError, error) { return nil, nil, nil })
	require.ErrorIs(t, err, accept.ErrIdempotencyInFlight)
	close(release)
	require.EqualError(t, <-done, "gave up")
	res, err := e.svc.Submit(ctx, req, func() ([]*store.Email, []accept.ItemError, error) {
		return []*store.Email{email("a@example.com")}, nil, nil
	})
	require.NoError(t, err, "the key is free once the first request is done")
	require.Len(t, res.IDs, 1)
}
