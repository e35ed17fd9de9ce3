package events

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/godwit/godwit/internal/store"
)

func TestEmailEventPayload(t *testing.T) {
	at := time.Date(2026, 11, 28, 12, 0, 1, 234567000, time.UTC)
	e := &store.Email{ID: "01a2235b-e124-72b2-802c-10c180253c2e", TeamID: "team", From: "Acme <hi@Example.com>",
		To: []string{"a@example.net", "b@example.net"}, Subject: "Hello", CreatedAt: at.Add(-time.Second),
		Tags: []store.Tag{{Name: "category", Value: "confirm_email"}}, Headers: []store.Header{{Name: "X-Ref", Value: "1"}}}
	ev, err := Email(store.EventBounced, e, []string{"b@example.net"},
		map[string]any{"bounce": map[string]any{"type": "Permanent", "subType": "NoEmail"}}, at)
	require.NoError(t, err)
	require.Equal(t, "email.bounced", ev.Type)
	require.Equal(t, "team", ev.TeamID)
	require.JSONEq(t, `{"type":"email.bounced","created_at":"2026-11-28T12:00:01.234Z","data":{
		"email_id":"01a2235b-e124-72b2-802c-10c180253c2e","created_at":"2026-11-28T12:00:00.234Z",
		"from":"Acme <hi@Example.com>","to":["b@example.net"],"subject":"Hello",
		"message_id":"<01a2235b-e124-72b2-802c-10c180253c2e@example.com>",
		"tags":{"category":"confirm_email"},"headers":[{"name":"X-Ref","value":"1"}],
		"bounce":{"type":"Permanent","subType":"NoEmail"}}}`, string(ev.Data))

	// All of To when the recipients are not named; no tags or headers keys when there are none.
	e.Tags, e.Headers = nil, nil
	ev, err = Email(store.EventSent, e, nil, nil, at)
	require.NoError(t, err)
	var p struct {
		Data map[string]json.RawMessage `json:"data"`
	}
	require.NoError(t, json.Unmarshal(ev.Data, &p))
	require.JSONEq(t, `["a@example.net","b@example.net"]`, string(p.Data["to"]))
	require.NotContains(t, p.Data, "tags")
	require.NotContains(t, p.Data, "headers")

	for _, internal := range []string{store.EventQueued, store.EventCanceled} {
		ev, err := Email(internal, e, nil, nil, at)
		require.NoError(t, err)
		require.Nil(t, ev, internal)
	}
}

func TestContactEventPayload(t *testing.T) {
	at := time.Date(2026, 11, 28, 12, 0, 1, 234567000, time.UTC)
	first := "Ada"
	c := &store.Contact{ID: "c1", TeamID: "team", Email: "Ada@Example.net", FirstName: &first, Unsubscribed: true,
		SegmentIDs: []string{"s1", "s2"}, CreatedAt: at.Add(-time.Second), UpdatedAt: at}
	ev, err := Contact(ContactCreated, c, "s1", at)
	require.NoError(t, err)
	require.Equal(t, "contact.created", ev.Type)
	require.Equal(t, "team", ev.TeamID)
	require.JSONEq(t, `{"type":"contact.created","created_at":"2026-11-28T12:00:01.234Z","data":{
		"id":"c1","audience_id":"s1","segment_ids":["s1","s2"],"created_at":"2026-11-28T12:00:00.234Z",
		"updated_at":"2026-11-28T12:00:01.234Z","email":"Ada@Example.net","first_name":"Ada","unsubscribed":true}}`, string(ev.Data))

	// No audience, no segments, no names: segment_ids is still an array.
	c.FirstName, c.SegmentIDs = nil, nil
	ev, err = Contact(ContactDeleted, c, "", at)
	require.NoError(t, err)
	require.JSONEq(t, `{"type":"contact.deleted","created_at":"2026-11-28T12:00:01.234Z","data":{
		"id":"c1","segment_ids":[],"created_at":"2026-11-28T12:00:00.234Z",
		"updated_at":"2026-11-28T12:00:01.234Z","email":"Ada@Example.net","unsubscribed":true}}`, string(ev.Data))
}

func TestTopicEventPayloads(t *testing.T) {
	at := time.Date(2026, 11, 28, 12, 0, 1, 234567000, time.UTC)
	topic := &store.Topic{ID: "t1", TeamID: "team", Name: "News", Description: "Monthly", DefaultSubscription: "opt_out",
		Visibility: "public", CreatedAt: at.Add(-time.Second), UpdatedAt: at}
	ev, err := Topic(TopicDeleted, topic, true, at)
	require.NoError(t, err)
	require.Equal(t, "topic.deleted", ev.Type)
	require.Equal(t, "team", ev.TeamID)
	require.JSONEq(t, `{"type":"topic.deleted","created_at":"2026-11-28T12:00:01.234Z","data":{
		"id":"t1","name":"News","description":"Monthly","default_subscription":"opt_out","deleted":true,
		"created_at":"2026-11-28T12:00:00.234Z","updated_at":"2026-11-28T12:00:01.234Z"}}`, string(ev.Data))
	topic.Description = ""
	ev, err = Topic(TopicCreated, topic, false, at)
	require.NoError(t, err)
	require.JSONEq(t, `{"type":"topic.created","created_at":"2026-11-28T12:00:01.234Z","data":{
		"id":"t1","name":"News","description":null,"default_subscription":"opt_out","deleted":false,
		"created_at":"2026-11-28T12:00:00.234Z","updated_at":"2026-11-28T12:00:01.234Z"}}`, string(ev.Data))

	c := &store.Contact{ID: "c1", TeamID: "team", Email: "Ada@Example.net"}
	ev, err = ContactTopics(c, []store.TopicSubscription{{TopicID: "t1", Subscription: "opt_in"}}, at)
	require.NoError(t, err)
	require.Equal(t, "contact.topics.updated", ev.Type)
	require.JSONEq(t, `{"type":"contact.topics.updated","created_at":"2026-11-28T12:00:01.234Z","data":{
		"email":"Ada@Example.net","topics":[{"id":"t1","subscription":"opt_in"}]}}`, string(ev.Data))
}

func TestEmailEventCarriesBroadcastID(t *testing.T) {
	e := &store.Email{ID: "e1", TeamID: "t", From: "a@example.com", To: []string{"b@example.net"}, BroadcastID: "b1"}
	ev, err := Email(store.EventSent, e, nil, nil, e.CreatedAt)
	if err != nil || !strings.Contains(string(ev.Data), `"broadcast_id":"b1"`) {
		t.Fatalf("event %v: %s", err, ev.Data)
	}
	e.BroadcastID = ""
	ev, _ = Email(store.EventSent, e, nil, nil, e.CreatedAt)
	if strings.Contains(string(ev.Data), "broadcast_id") {
		t.Fatalf("broadcast_id without a broadcast: %s", ev.Data)
	}
}

// FuzzEmailEventAsStruct: an email event without detail, encoded from a
// struct, has the very bytes of the same event encoded from the map that
// events with detail use.
func FuzzEmailEventAsStruct(f *testing.F) {
	f.Add("Hello <&> \u2028", "Acme <hi@example.com>", "a@example.net", "category", "x\xffy", "X-Ref", "1", "", true, "b-1")
	f.Add("", "", "", "", "", "", "", "tpl", false, "")
	f.Fuzz(func(t *testing.T, subject, from, to, tagName, tagValue, hName, hValue, template string, lists bool, broadcast string) {
		at := time.Date(2026, 12, 4, 12, 0, 1, 234567000, time.UTC)
		e := &store.Email{ID: "01a2235b-e124-72b2-802c-10c180253c2e", TeamID: "team", From: from, Subject: subject,
			CreatedAt: at.Add(-time.Second), BroadcastID: broadcast}
		if lists {
			e.To = []string{to, "b@example.net"}
			e.Tags = []store.Tag{{Name: tagName, Value: tagValue}}
			e.Headers = []store.Header{{Name: hName, Value: hValue}}
		}
		if template != "" {
			e.Template = &store.TemplateRef{ID: template[1:]}
		}
		for _, rcpts := range [][]string{nil, {to}} {
			fast, err := Email(store.EventDelivered, e, rcpts, nil, at)
			require.NoError(t, err)
			slow, err := Email(store.EventDelivered, e, rcpts, map[string]any{}, at)
			require.NoError(t, err)
			require.Equal(t, string(slow.Data), string(fast.Data))
			require.Equal(t, slow.Type, fast.Type)
			require.Equal(t, slow.TeamID, fast.TeamID)
			require.Equal(t, slow.CreatedAt, fast.CreatedAt)
		}
	})
}
