package sqlstore_test

import (
	"encoding/json"
	"strings"
	"time"

	"github.com/godwit/godwit/internal/store"
)

// upgradeData is what the SQL fixtures in testdata/upgrade/NNNNN hold, as
// the current store API must read it back after migrating: the same
// objects in every schema version's fixture.
type upgradeData struct {
	Team       *store.Team
	Key        *store.APIKey
	Domain     *store.Domain
	DomainEvt  *store.Event
	Delivered  *store.Email // delivered, with its events and attempt
	Events     []*store.EmailEvent
	Attempt    *store.DeliveryAttempt
	Scheduled  *store.Email // still scheduled
	Large      *store.Email // a body over 1 KiB (compressed on SQLite)
	Webhook    *store.Webhook
	Segment    *store.Segment
	Topic      *store.Topic
	Property   *store.ContactProperty
	Contact    *store.Contact
	Template   *store.Template
	Broadcast  *store.Broadcast
	Suppressed *store.Suppression
	SupprEvt   *store.Event
	User       *store.User
	// Now is the store's clock while the data is written.
	Now time.Time
}

func ptr[T any](v T) *T { return &v }

func newUpgradeData() *upgradeData {
	t0 := time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)
	at := func(d time.Duration) time.Time { return t0.Add(d) }
	const team = "0b6f6a8e-4a57-4f0e-9d0c-7d2f3c1a9e01"
	d := &upgradeData{}
	d.Team = &store.Team{ID: team, Name: "acme", RateLimit: 7, CreatedAt: t0}
	d.Domain = &store.Domain{ID: "5d1c3b6a-8f2e-4c1d-b7a9-0e4f6a2b8c11", TeamID: team, Name: "mail.acme.test", Region: "us-east-1",
		ReturnPath: "bounce", Status: store.DomainVerified, OpenTracking: true, ClickTracking: false, TLS: "enforced",
		Sending: "enabled", Receiving: "disabled", TrackingSubdomain: "links", DKIMSelector: "resend",
		DKIMKey: []byte{0x01, 0x02, 0xfe, 0xff, 's', 'e', 'a', 'l'}, DKIMEd25519Key: []byte{0x00, 0x7f, 0x80, 'e', 'd'},
		RecordStatus: map[string]string{"DKIM": store.DomainVerified, "SPF": store.DomainVerified, "MX": store.DomainVerified},
		RecordChecks: map[string]store.RecordCheck{
			"SPF": {Answer: []string{"v=spf1 include:amazonses.com ~all"}, CheckedAt: at(time.Minute)},
			"MX":  {Error: "NXDOMAIN", CheckedAt: at(time.Minute)},
		},
		CreatedAt: t0, UpdatedAt: at(time.Minute), VerifyStartedAt: ptr(at(30 * time.Second)), NextCheckAt: ptr(at(24 * time.Hour))}
	d.DomainEvt = &store.Event{ID: "evt_9a1b2c3d4e5f", TeamID: team, Type: "domain.created",
		Data: json.RawMessage(`{"id":"5d1c3b6a-8f2e-4c1d-b7a9-0e4f6a2b8c11","name":"mail.acme.test"}`), CreatedAt: t0}
	d.Key = &store.APIKey{ID: "2c9e7d41-6b3a-4f58-8e1d-a4c5b6d7e8f9", TeamID: team, Name: "ci", Prefix: "Ab3dEf9h",
		Hash:       []byte{0xde, 0xad, 0xbe, 0xef, 0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b},
		Permission: store.PermissionSendingAccess, DomainID: d.Domain.ID, CreatedAt: at(2 * time.Minute),
		LastUsedAt: ptr(at(3 * time.Minute)), TeamRateLimit: 7}
	d.Delivered = &store.Email{ID: "4f2a9c1e-0d3b-4e7a-9b6c-5d8e1f2a3b41", TeamID: team, From: "Acme <news@mail.acme.test>",
		To: []string{"ann@example.com", "bob@example.net"}, Cc: []string{"cc@example.org"}, Bcc: []string{"audit@acme.test"},
		ReplyTo: []string{"help@acme.test"}, Subject: "Your order ✓", HTML: ptr("<p>Thanks, <b>Ann</b></p>"), Text: ptr("Thanks, Ann"),
		Headers:  []store.Header{{Name: "X-Entity-Ref-ID", Value: "42"}},
		Tags:     []store.Tag{{Name: "category", Value: "order"}},
		DomainID: d.Domain.ID, DomainName: "mail.acme.test", LastEvent: store.EventDelivered, CreatedAt: at(4 * time.Minute)}
	d.Events = []*store.EmailEvent{
		{Type: store.EventQueued, CreatedAt: at(4 * time.Minute)},
		{Type: store.EventSent, CreatedAt: at(4*time.Minute + time.Second)},
		{Type: store.EventDelivered, Data: json.RawMessage(`{"host":"mx.example.com"}`), CreatedAt: at(4*time.Minute + time.Second)},
	}
	d.Attempt = &store.DeliveryAttempt{EmailID: d.Delivered.ID, TeamID: team, Recipient: "ann@example.com",
		Outcome: store.OutcomeDelivered, Host: "mx.example.com", Code: 250, Enhanced: "2.0.0", Response: "ok queued as 1234",
		CreatedAt: at(4*time.Minute + time.Second)}
	d.Scheduled = &store.Email{ID: "8e3b5d7f-1a2c-4d6e-8f0a-b1c2d3e4f5a6", TeamID: team, From: "onboarding@resend.dev",
		To: []string{"delivered@resend.dev"}, Subject: "Later", Text: ptr("in a day"), ScheduledAt: ptr(at(48 * time.Hour)),
		DomainName: "resend.dev", LastEvent: store.EventScheduled, CreatedAt: at(5 * time.Minute)}
	d.Large = &store.Email{ID: "c7d8e9f0-a1b2-4c3d-9e4f-5a6b7c8d9e0f", TeamID: team, From: "news@mail.acme.test",
		To: []string{"ann@example.com"}, Subject: "Newsletter", HTML: ptr("<p>" + strings.Repeat("All the news. ", 150) + "</p>"),
		Text: ptr(strings.Repeat("All the news. ", 150)), DomainID: d.Domain.ID, DomainName: "mail.acme.test",
		LastEvent: store.EventQueued, CreatedAt: at(6 * time.Minute)}
	d.Webhook = &store.Webhook{ID: "a9b8c7d6-e5f4-4a3b-8c2d-1e0f9a8b7c6d", TeamID: team, Endpoint: "https://hooks.acme.test/godwit",
		Events: []string{"email.sent", "email.delivered"}, Status: store.WebhookEnabled,
		Secret: []byte{0x10, 0x20, 0x30, 'w', 'h'}, PreviousSecret: []byte{0x40, 0x50}, PreviousUntil: ptr(at(25 * time.Hour)),
		CreatedAt: at(7 * time.Minute), UpdatedAt: at(8 * time.Minute)}
	d.Segment = &store.Segment{ID: "d1e2f3a4-b5c6-4d7e-8f9a-0b1c2d3e4f5a", TeamID: team, Name: "Customers", CreatedAt: at(9 * time.Minute)}
	d.Topic = &store.Topic{ID: "e2f3a4b5-c6d7-4e8f-9a0b-1c2d3e4f5a6b", TeamID: team, Name: "Product news", Description: "Monthly",
		DefaultSubscription: store.SubscriptionOptIn, Visibility: store.TopicPublic, CreatedAt: at(10 * time.Minute), UpdatedAt: at(10 * time.Minute)}
	d.Property = &store.ContactProperty{ID: "f3a4b5c6-d7e8-4f9a-8b1c-2d3e4f5a6b7c", TeamID: team, Key: "plan", Type: store.PropertyString,
		FallbackValue: "free", CreatedAt: at(11 * time.Minute), UpdatedAt: at(11 * time.Minute)}
	d.Contact = &store.Contact{ID: "a4b5c6d7-e8f9-4a0b-9c2d-3e4f5a6b7c8d", TeamID: team, Email: "Ann@Example.com",
		FirstName: ptr("Ann"), LastName: ptr("Lee"), Properties: map[string]any{"plan": "pro", "seats": float64(3)},
		SegmentIDs: []string{d.Segment.ID}, CreatedAt: at(12 * time.Minute), UpdatedAt: at(12 * time.Minute)}
	d.Template = &store.Template{ID: "b5c6d7e8-f9a0-4b1c-8d3e-4f5a6b7c8d9e", TeamID: team, Name: "Welcome", Alias: "welcome",
		Content: store.TemplateContent{VersionID: "v2", From: "news@mail.acme.test", Subject: "Welcome, {{{FIRST_NAME}}}",
			ReplyTo: []string{"help@acme.test"}, HTML: "<p>Hi {{{FIRST_NAME}}}</p>", Text: ptr("Hi {{{FIRST_NAME}}}"),
			Variables: []store.TemplateVariable{{ID: "c6d7e8f9-a0b1-4c2d-9e4f-5a6b7c8d9e0f", Key: "FIRST_NAME", Type: store.PropertyString,
				FallbackValue: "there", CreatedAt: at(13 * time.Minute), UpdatedAt: at(13 * time.Minute)}}},
		Published: &store.TemplateContent{VersionID: "v1", From: "news@mail.acme.test", Subject: "Welcome",
			HTML: "<p>Hi</p>"},
		Status: store.TemplatePublished, PublishedAt: ptr(at(14 * time.Minute)), CreatedAt: at(13 * time.Minute), UpdatedAt: at(15 * time.Minute)}
	d.Broadcast = &store.Broadcast{ID: "d7e8f9a0-b1c2-4d3e-8f5a-6b7c8d9e0f1a", TeamID: team, Name: "December", SegmentID: d.Segment.ID,
		From: "news@mail.acme.test", Subject: "December news", ReplyTo: []string{"help@acme.test"}, PreviewText: "What is new",
		HTML: ptr("<p>News</p>"), TopicID: d.Topic.ID, Status: store.BroadcastDraft, CreatedAt: at(16 * time.Minute), UpdatedAt: at(16 * time.Minute)}
	d.Suppressed = &store.Suppression{ID: "e8f9a0b1-c2d3-4e4f-9a6b-7c8d9e0f1a2b", TeamID: team, Email: "bounced@example.com",
		Origin: store.SuppressionBounce, SourceID: d.Delivered.ID, CreatedAt: at(17 * time.Minute)}
	d.SupprEvt = &store.Event{ID: "evt_3c4d5e6f7a8b", TeamID: team, Type: "suppression.created",
		Data: json.RawMessage(`{"email":"bounced@example.com"}`), CreatedAt: at(17 * time.Minute)}
	d.User = &store.User{ID: "f9a0b1c2-d3e4-4f5a-8b7c-8d9e0f1a2b3c", TeamID: team, Email: "admin@acme.test",
		PasswordHash: "$argon2id$v=19$m=65536,t=3,p=2$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo", Role: store.RoleAdmin, FailedSignins: 1,
		CreatedAt: at(18 * time.Minute)}
	d.Now = at(20 * time.Minute)
	return d
}
