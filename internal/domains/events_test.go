package domains_test

import (
	"bytes"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/godwit/godwit/internal/domains"
	"github.com/godwit/godwit/internal/events"
	"github.com/godwit/godwit/internal/secretbox"
	"github.com/godwit/godwit/internal/store"
)

// TestDomainEventTypes drives the domain event builder with every domain
// type: each is registered in internal/events and reported as given; an
// unregistered type is refused.
func TestDomainEventTypes(t *testing.T) {
	t.Parallel()
	box, err := secretbox.New(bytes.Repeat([]byte{1}, 32))
	require.NoError(t, err)
	settings := domains.Settings{Keys: box, MXHost: "bounces.godwit.test", SPF: "v=spf1 ~all", DKIMSelector: "resend"}
	d := &store.Domain{ID: uuid.NewString(), TeamID: "team", Name: "example.com", Region: "us-east-1", ReturnPath: "send",
		Status: store.DomainPending, Sending: "enabled", Receiving: "disabled", DKIMSelector: "resend",
		RecordStatus: map[string]string{}, CreatedAt: t0, UpdatedAt: t0}
	d.DKIMKey, d.DKIMEd25519Key, err = settings.NewKeys(d.ID)
	require.NoError(t, err)
	for _, typ := range []string{events.DomainCreated, events.DomainUpdated, events.DomainDeleted} {
		ev, err := settings.Event(typ, d, t0.Add(time.Second))
		require.NoError(t, err, typ)
		require.Equal(t, typ, ev.Type)
		require.True(t, events.Registered(ev.Type))
	}
	_, err = settings.Event("domain.lost", d, t0)
	require.Error(t, err)
}
