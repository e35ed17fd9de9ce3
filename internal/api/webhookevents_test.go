package api

import (
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/godwit/godwit/internal/apierr"
)

// acceptedWebhookEvents is, literally and in order, the list of event names
// the Webhooks API accepted when the list moved into internal/events. A new
// event type is added here on purpose; nothing may drop out by accident.
var acceptedWebhookEvents = []string{
	"email.sent", "email.scheduled", "email.delivered", "email.delivery_delayed", "email.complained",
	"email.bounced", "email.opened", "email.clicked", "email.failed", "email.suppressed", "email.received",
	"contact.created", "contact.updated", "contact.deleted", "contact.topics.updated",
	"domain.created", "domain.updated", "domain.deleted",
	"suppression.added", "suppression.removed",
	"topic.created", "topic.updated", "topic.deleted",
}

func TestWebhookEventNamesPinned(t *testing.T) {
	t.Parallel()
	for _, name := range acceptedWebhookEvents {
		got, err := webhookEventList([]byte(`[` + strconv.Quote(name) + `]`))
		require.NoError(t, err, name)
		require.Equal(t, []string{name}, got)
	}
	all := `["` + strings.Join(acceptedWebhookEvents, `","`) + `"]`
	got, err := webhookEventList([]byte(all))
	require.NoError(t, err)
	require.Equal(t, acceptedWebhookEvents, got)

	for _, name := range []string{
		"", "email", "email.", "email.nope", "Email.sent", "EMAIL.SENT", " email.sent", "email.sent ",
		"email.queued", "email.canceled", "email.unsubscribed", "sent", "delivered",
		"domain.lost", "domain.verified", "contact.topics", "contact.topic.updated", "topics.updated",
		"suppression.updated", "suppression.deleted", "topic.subscribed", "broadcast.sent", "webhook.created",
		"*", "email.*",
	} {
		_, err := webhookEventList([]byte(`["email.sent",` + strconv.Quote(name) + `]`))
		var e *apierr.Error
		require.ErrorAs(t, err, &e, "%q accepted", name)
		require.Equal(t, "Unknown event `"+name+"`. Events: "+strings.Join(acceptedWebhookEvents, ", ")+".", e.Message)
	}
}
