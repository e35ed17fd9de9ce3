package api

import (
	"context"
	"errors"
	"net/url"
	"testing"

	"github.com/godwit/godwit/internal/store/sqlstore"
	"github.com/google/uuid"
	"github.com/resend/resend-go/v3"
	"github.com/stretchr/testify/require"
)

// sdk returns the official Go client for key, pointed at the test server.
func (e *testEnv) sdk(key string) *resend.Client {
	c := resend.NewClient(key)
	base, err := url.Parse(e.srv.URL + "/")
	require.NoError(e.t, err)
	c.BaseURL = base
	return c
}

// TestGoSDK drives the server with the official Go SDK, as users do.
func TestGoSDK(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, kind sqlstore.Dialect) {
		e := setup(t, kind)
		client := e.sdk(e.keyA)
		var err error
		ctx := context.Background()

		sent, err := client.Emails.SendWithOptions(ctx, &resend.SendEmailRequest{
			From: "Acme <onboarding@example.com>", To: []string{"delivered@example.net"}, Subject: "hello",
			Html: "<strong>it works</strong>", ReplyTo: "reply@example.com",
			Tags:        []resend.Tag{{Name: "category", Value: "confirm_email"}},
			Headers:     map[string]string{"X-Entity-Ref-ID": "42"},
			Attachments: []*resend.Attachment{{Content: []byte("report"), Filename: "r.txt"}},
		}, &resend.SendEmailOptions{IdempotencyKey: "sdk-1"})
		require.NoError(t, err)
		require.NotEmpty(t, sent.Id)

		got, err := client.Emails.Get(sent.Id)
		require.NoError(t, err)
		require.Equal(t, sent.Id, got.Id)
		require.Equal(t, "hello", got.Subject)
		require.Equal(t, []string{"reply@example.com"}, got.ReplyTo)
		require.Equal(t, "queued", got.LastEvent)

		batch, err := client.Batch.SendWithOptions(ctx, []*resend.SendEmailRequest{
			{From: "a@example.com", To: []string{"b@example.net"}, Subject: "1", Text: "one"},
			{From: "a@example.com", To: []string{"nope"}, Subject: "2", Text: "two"},
		}, &resend.BatchSendEmailOptions{BatchValidation: resend.BatchValidationPermissive})
		require.NoError(t, err)
		require.Len(t, batch.Data, 1)
		require.Len(t, batch.Errors, 1)
		require.Equal(t, 1, batch.Errors[0].Index)

		_, err = client.Batch.Send([]*resend.SendEmailRequest{{From: "a@example.com", To: []string{"nope"}, Subject: "x", Text: "x"}})
		require.ErrorContains(t, err, "Invalid `to` field")

		scheduled, err := client.Emails.Send(&resend.SendEmailRequest{From: "a@example.com", To: []string{"b@example.net"},
			Subject: "later", Text: "x", ScheduledAt: "in 1 min"})
		require.NoError(t, err)
		upd, err := client.Emails.Update(&resend.UpdateEmailRequest{Id: scheduled.Id, ScheduledAt: "2026-11-29T10:00:00Z"})
		require.NoError(t, err)
		require.Equal(t, scheduled.Id, upd.Id)
		require.Equal(t, "email", upd.Object)
		canceled, err := client.Emails.Cancel(scheduled.Id)
		require.NoError(t, err)
		require.Equal(t, scheduled.Id, canceled.Id)
		got, err = client.Emails.Get(scheduled.Id)
		require.NoError(t, err)
		require.Equal(t, "canceled", got.LastEvent)

		list, err := client.Emails.List()
		require.NoError(t, err)
		require.Equal(t, "list", list.Object)
		require.Len(t, list.Data, 3)
		limit := 1
		page, err := client.Emails.ListWithOptions(ctx, &resend.ListOptions{Limit: &limit, After: &list.Data[0].Id})
		require.NoError(t, err)
		require.True(t, page.HasMore)
		require.Equal(t, list.Data[1].Id, page.Data[0].Id)

		_, err = client.Emails.Get("00000000-0000-4000-8000-000000000000")
		require.ErrorContains(t, err, "Email not found")

		// The SDK's RateLimitError on a 429.
		limited := setup(t, kind, func(d *Deps) { d.DefaultRateLimit = 1 })
		lc := limited.sdk(limited.keyA)
		_, err = lc.Emails.List()
		require.NoError(t, err)
		_, err = lc.Emails.List()
		require.True(t, errors.Is(err, resend.ErrRateLimit), "got %v", err)
		var rl *resend.RateLimitError
		require.True(t, errors.As(err, &rl))
		require.Equal(t, "1", rl.Limit)
		require.Equal(t, "0", rl.Remaining)
		require.Equal(t, "1", rl.RetryAfter)
	})
}

// TestGoSDKContacts drives contacts, segments and audiences with the Go SDK.
func TestGoSDKContacts(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, kind sqlstore.Dialect) {
		e := setup(t, kind)
		client := e.sdk(e.keyA)
		var err error
		ctx := context.Background()

		_, err = client.Segments.Create(&resend.CreateSegmentRequest{})
		require.ErrorContains(t, err, "Missing `name` field.")
		seg, err := client.Segments.Create(&resend.CreateSegmentRequest{Name: "Newsletter"})
		require.NoError(t, err)
		require.Equal(t, "segment", seg.Object)
		require.Equal(t, "Newsletter", seg.Name)
		got, err := client.Segments.Get(seg.Id)
		require.NoError(t, err)
		require.Equal(t, resend.Segment{Id: seg.Id, Name: "Newsletter", Object: "segment", CreatedAt: "2026-11-28 12:00:00+00"}, got)
		aud, err := client.Audiences.Create(&resend.CreateAudienceRequest{Name: "Old style"})
		require.NoError(t, err)
		segs, err := client.Segments.List()
		require.NoError(t, err)
		require.Equal(t, "list", segs.Object)
		require.Len(t, segs.Data, 2)
		require.Equal(t, aud.Id, segs.Data[0].Id)
		limit := 1
		segPage, err := client.Segments.ListWithOptions(ctx, &resend.ListOptions{Limit: &limit, After: &aud.Id})
		require.NoError(t, err)
		require.Equal(t, seg.Id, segPage.Data[0].Id)
		require.False(t, segPage.HasMore)
		auds, err := client.Audiences.List()
		require.NoError(t, err)
		require.Len(t, auds.Data, 2)

		// A global contact, and one through the legacy audience path.
		_, err = client.Contacts.Create(&resend.CreateContactRequest{FirstName: "Nobody"})
		require.ErrorContains(t, err, "Missing `email` field.")
		ada, err := client.Contacts.Create(&resend.CreateContactRequest{Email: "ada+news@example.net", FirstName: "Ada",
			Properties: map[string]any{"tier": "gold"}})
		require.NoError(t, err)
		require.Equal(t, "contact", ada.Object)
		bob, err := client.Contacts.Create(&resend.CreateContactRequest{Email: "bob@example.net", AudienceId: seg.Id, Unsubscribed: true})
		require.NoError(t, err)

		for _, ref := range []string{ada.Id, "ada+news@example.net", "Ada+News@example.net"} {
			c, err := client.Contacts.Get(&resend.GetContactOptions{Id: ref})
			require.NoError(t, err, ref)
			require.Equal(t, resend.Contact{Id: ada.Id, Email: "ada+news@example.net", Object: "contact", FirstName: "Ada",
				CreatedAt: "2026-11-28 12:00:00+00", Properties: map[string]any{"tier": "gold"}}, c, ref)
		}
		c, err := client.Contacts.Get(&resend.GetContactOptions{AudienceId: seg.Id, Id: "bob@example.net"})
		require.NoError(t, err)
		require.Equal(t, bob.Id, c.Id)
		require.True(t, c.Unsubscribed)
		_, err = client.Contacts.Get(&resend.GetContactOptions{Id: "nobody@example.net"})
		require.ErrorContains(t, err, "Contact not found")

		list, err := client.Contacts.List(nil)
		require.NoError(t, err)
		require.Equal(t, "list", list.Object)
		require.Len(t, list.Data, 2)
		require.Equal(t, bob.Id, list.Data[0].Id)
		require.Equal(t, "ada+news@example.net", list.Data[1].Email)
		list, err = client.Contacts.List(&resend.ListContactsOptions{AudienceId: seg.Id})
		require.NoError(t, err)
		require.Len(t, list.Data, 1)
		require.Equal(t, bob.Id, list.Data[0].Id)
		list, err = client.Contacts.List(&resend.ListContactsOptions{Limit: &limit})
		require.NoError(t, err)
		require.True(t, list.HasMore)
		list, err = client.Contacts.List(&resend.ListContactsOptions{Limit: &limit, After: &list.Data[0].Id})
		require.NoError(t, err)
		require.Equal(t, ada.Id, list.Data[0].Id)
		require.False(t, list.HasMore)

		// Update by email (the SDK sends "id":"" and the email in the body),
		// by id through the audience path, and unsubscribed back to false.
		_, err = client.Contacts.Update(&resend.UpdateContactRequest{Email: "ada+news@example.net", LastName: "Lovelace",
			Properties: map[string]any{"city": "London"}})
		require.NoError(t, err)
		upd := &resend.UpdateContactRequest{Id: bob.Id, AudienceId: seg.Id, FirstName: "Bob"}
		upd.SetUnsubscribed(false)
		_, err = client.Contacts.Update(upd)
		require.NoError(t, err)
		c, err = client.Contacts.Get(&resend.GetContactOptions{Id: ada.Id})
		require.NoError(t, err)
		require.Equal(t, "Lovelace", c.LastName)
		require.Equal(t, map[string]any{"tier": "gold", "city": "London"}, c.Properties)
		c, err = client.Contacts.Get(&resend.GetContactOptions{Id: bob.Id})
		require.NoError(t, err)
		require.Equal(t, "Bob", c.FirstName)
		require.False(t, c.Unsubscribed)
		_, err = client.Contacts.Update(&resend.UpdateContactRequest{Id: ada.Id, Email: "nope"})
		require.ErrorContains(t, err, "Invalid `email` field")

		// A contact's segments.
		added, err := client.Contacts.Segments.Add(&resend.AddContactSegmentRequest{SegmentId: seg.Id, Email: "ada+news@example.net"})
		require.NoError(t, err)
		require.Equal(t, resend.AddContactSegmentResponse{Id: seg.Id, Object: "contact_segment"}, added)
		_, err = client.Contacts.Segments.Add(&resend.AddContactSegmentRequest{SegmentId: aud.Id, ContactId: ada.Id})
		require.NoError(t, err)
		cs, err := client.Contacts.Segments.List(&resend.ListContactSegmentsRequest{ContactId: ada.Id})
		require.NoError(t, err)
		require.Len(t, cs.Data, 2)
		require.Equal(t, aud.Id, cs.Data[0].Id)
		require.Equal(t, "Newsletter", cs.Data[1].Name)
		cs, err = client.Contacts.Segments.ListWithOptions(ctx, &resend.ListContactSegmentsRequest{Email: "ada+news@example.net"},
			&resend.ListOptions{Limit: &limit})
		require.NoError(t, err)
		require.Len(t, cs.Data, 1)
		require.True(t, cs.HasMore)
		removed, err := client.Contacts.Segments.Remove(&resend.RemoveContactSegmentRequest{SegmentId: seg.Id, Email: "ada+news@example.net"})
		require.NoError(t, err)
		require.Equal(t, resend.RemoveContactSegmentResponse{Id: seg.Id, Object: "contact_segment", Deleted: true}, removed)
		list, err = client.Contacts.List(&resend.ListContactsOptions{AudienceId: seg.Id})
		require.NoError(t, err)
		require.Len(t, list.Data, 1)
		_, err = client.Contacts.Segments.Remove(&resend.RemoveContactSegmentRequest{SegmentId: seg.Id, ContactId: ada.Id})
		require.ErrorContains(t, err, "not in this segment")

		// Remove: by email on the global path (the id comes back), and through
		// the audience path (even for a contact that is gone).
		rm, err := client.Contacts.Remove(&resend.RemoveContactOptions{Id: "ada+news@example.net"})
		require.NoError(t, err)
		require.Equal(t, resend.RemoveContactResponse{Id: ada.Id, Object: "contact", Deleted: true}, rm)
		_, err = client.Contacts.Remove(&resend.RemoveContactOptions{Id: ada.Id})
		require.ErrorContains(t, err, "Contact not found")
		for range 2 {
			rm, err = client.Contacts.Remove(&resend.RemoveContactOptions{AudienceId: seg.Id, Id: bob.Id})
			require.NoError(t, err)
			require.Equal(t, resend.RemoveContactResponse{Id: bob.Id, Object: "contact", Deleted: true}, rm)
		}
		list, err = client.Contacts.List(nil)
		require.NoError(t, err)
		require.Empty(t, list.Data)

		rs, err := client.Segments.Remove(seg.Id)
		require.NoError(t, err)
		require.Equal(t, resend.RemoveSegmentResponse{Id: seg.Id, Object: "segment", Deleted: true}, rs)
		_, err = client.Segments.Get(seg.Id)
		require.ErrorContains(t, err, "Audience not found")
		ga, err := client.Audiences.Get(aud.Id)
		require.NoError(t, err)
		require.Equal(t, "Old style", ga.Name)
		ra, err := client.Audiences.Remove(aud.Id)
		require.NoError(t, err)
		require.True(t, ra.Deleted)

		// Every contact change reached the team's events.
		var types []string
		for _, ev := range e.contactEvents(e.teamA) {
			types = append(types, ev["type"].(string))
		}
		require.Equal(t, []string{"contact.created", "contact.created", "contact.updated", "contact.updated", "contact.deleted", "contact.deleted"}, types)
	})
}

// TestGoSDKTopics drives topics and a contact's topics with the Go SDK.
func TestGoSDKTopics(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, kind sqlstore.Dialect) {
		e := setup(t, kind)
		client := e.sdk(e.keyA)
		var err error
		ctx := context.Background()

		_, err = client.Topics.Create(&resend.CreateTopicRequest{Name: "x"})
		require.ErrorContains(t, err, "Missing `default_subscription` field.")
		news, err := client.Topics.Create(&resend.CreateTopicRequest{Name: "Newsletter", DefaultSubscription: resend.DefaultSubscriptionOptIn,
			Description: "Once a month"})
		require.NoError(t, err)
		require.NotEmpty(t, news.Id)
		promo, err := client.Topics.CreateWithContext(ctx, &resend.CreateTopicRequest{Name: "Promotions",
			DefaultSubscription: resend.DefaultSubscriptionOptOut})
		require.NoError(t, err)

		got, err := client.Topics.Get(news.Id)
		require.NoError(t, err)
		require.Equal(t, &resend.Topic{Id: news.Id, Name: "Newsletter", Description: "Once a month",
			DefaultSubscription: resend.DefaultSubscriptionOptIn, CreatedAt: "2026-11-28 12:00:00+00"}, got)
		got, err = client.Topics.Get(promo.Id)
		require.NoError(t, err)
		require.Equal(t, "", got.Description, "null reads as empty")
		_, err = client.Topics.Get("00000000-0000-4000-8000-000000000000")
		require.ErrorContains(t, err, "Topic not found")

		list, err := client.Topics.List(nil)
		require.NoError(t, err)
		require.Equal(t, "list", list.Object)
		require.Len(t, list.Data, 2)
		require.Equal(t, promo.Id, list.Data[0].Id)
		limit := 1
		list, err = client.Topics.List(&resend.ListOptions{Limit: &limit})
		require.NoError(t, err)
		require.True(t, list.HasMore)
		list, err = client.Topics.ListWithContext(ctx, &resend.ListOptions{Limit: &limit, After: &promo.Id})
		require.NoError(t, err)
		require.Equal(t, news.Id, list.Data[0].Id)
		require.False(t, list.HasMore)

		upd, err := client.Topics.Update(news.Id, &resend.UpdateTopicRequest{Name: "Monthly news"})
		require.NoError(t, err)
		require.Equal(t, news.Id, upd.Id)
		got, err = client.Topics.Get(news.Id)
		require.NoError(t, err)
		require.Equal(t, "Monthly news", got.Name)
		require.Equal(t, "Once a month", got.Description, "omitted fields are left as they are")

		// A contact's topics, by id and by email.
		ada, err := client.Contacts.Create(&resend.CreateContactRequest{Email: "ada@example.net"})
		require.NoError(t, err)
		ct, err := client.Contacts.Topics.List(ada.Id)
		require.NoError(t, err)
		require.Equal(t, "list", ct.Object)
		require.Equal(t, []resend.ContactTopic{
			{Id: promo.Id, Name: "Promotions", Subscription: "opt_out"},
			{Id: news.Id, Name: "Monthly news", Description: "Once a month", Subscription: "opt_in"},
		}, ct.Data)
		_, err = client.Contacts.Topics.Update(&resend.UpdateContactTopicsRequest{Email: "ADA@example.net",
			Topics: []resend.TopicSubscriptionUpdate{{Id: promo.Id, Subscription: "opt_in"}, {Id: news.Id, Subscription: "opt_out"}}})
		require.NoError(t, err)
		res, err := client.Contacts.Topics.UpdateWithContext(ctx, &resend.UpdateContactTopicsRequest{Id: ada.Id,
			Topics: []resend.TopicSubscriptionUpdate{{Id: news.Id, Subscription: "opt_in"}}})
		require.NoError(t, err)
		require.Equal(t, ada.Id, res.Id)
		ct, err = client.Contacts.Topics.ListWithOptions(ctx, "ada@example.net", &resend.ListOptions{Limit: &limit})
		require.NoError(t, err)
		require.True(t, ct.HasMore)
		require.Equal(t, []resend.ContactTopic{{Id: promo.Id, Name: "Promotions", Subscription: "opt_in"}}, ct.Data)
		ct, err = client.Contacts.Topics.List(ada.Id)
		require.NoError(t, err)
		require.Equal(t, "opt_in", ct.Data[1].Subscription)
		_, err = client.Contacts.Topics.Update(&resend.UpdateContactTopicsRequest{Id: ada.Id,
			Topics: []resend.TopicSubscriptionUpdate{{Id: "00000000-0000-4000-8000-000000000000", Subscription: "opt_in"}}})
		require.ErrorContains(t, err, "Topic not found")
		_, err = client.Contacts.Topics.List("nobody@example.net")
		require.ErrorContains(t, err, "Contact not found")

		rm, err := client.Topics.Remove(promo.Id)
		require.NoError(t, err)
		require.Equal(t, &resend.RemoveTopicResponse{Object: "topic", Id: promo.Id, Deleted: true}, rm)
		_, err = client.Topics.Remove(promo.Id)
		require.ErrorContains(t, err, "Topic not found")
		ct, err = client.Contacts.Topics.List(ada.Id)
		require.NoError(t, err)
		require.Len(t, ct.Data, 1)

		var types []string
		for _, ev := range e.topicEvents(e.teamA) {
			types = append(types, ev["type"].(string))
		}
		require.Equal(t, []string{"topic.created", "topic.created", "topic.updated", "contact.topics.updated", "contact.topics.updated",
			"topic.deleted"}, types)
	})
}

// TestGoSDKContactProperties drives the contact properties with the
// official Go SDK, which sends "fallback_value":null when none is set.
func TestGoSDKContactProperties(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, kind sqlstore.Dialect) {
		e := setup(t, kind)
		client := e.sdk(e.keyA)
		var err error
		ctx := context.Background()

		plan, err := client.ContactProperties.Create(&resend.CreateContactPropertyRequest{Key: "plan", Type: "string", FallbackValue: "free"})
		require.NoError(t, err)
		require.Equal(t, "contact_property", plan.Object)
		require.NotEmpty(t, plan.Id)
		seats, err := client.ContactProperties.Create(&resend.CreateContactPropertyRequest{Key: "seats", Type: "number"})
		require.NoError(t, err)
		_, err = client.ContactProperties.Create(&resend.CreateContactPropertyRequest{Key: "plan", Type: "string"})
		require.ErrorContains(t, err, "already exists")
		_, err = client.ContactProperties.Create(&resend.CreateContactPropertyRequest{Key: "ltv", Type: "number", FallbackValue: "0"})
		require.ErrorContains(t, err, "The `fallback_value` field must be a number")

		got, err := client.ContactProperties.Get(plan.Id)
		require.NoError(t, err)
		require.Equal(t, resend.ContactProperty{Id: plan.Id, Key: "plan", Object: "contact_property", CreatedAt: "2026-11-28 12:00:00+00",
			Type: "string", FallbackValue: "free"}, got)
		got, err = client.ContactProperties.Get(seats.Id)
		require.NoError(t, err)
		require.Equal(t, "number", got.Type)
		require.Nil(t, got.FallbackValue)
		_, err = client.ContactProperties.Get(uuid.NewString())
		require.ErrorContains(t, err, "Contact property not found")

		list, err := client.ContactProperties.List()
		require.NoError(t, err)
		require.Equal(t, "list", list.Object)
		require.False(t, list.HasMore)
		require.Len(t, list.Data, 2)
		require.Equal(t, seats.Id, list.Data[0].Id, "newest first")
		require.Equal(t, "free", list.Data[1].FallbackValue)
		limit := 1
		page, err := client.ContactProperties.ListWithOptions(ctx, &resend.ListOptions{Limit: &limit})
		require.NoError(t, err)
		require.True(t, page.HasMore)
		page, err = client.ContactProperties.ListWithOptions(ctx, &resend.ListOptions{Limit: &limit, After: &page.Data[0].Id})
		require.NoError(t, err)
		require.Equal(t, plan.Id, page.Data[0].Id)
		require.False(t, page.HasMore)

		upd, err := client.ContactProperties.Update(&resend.UpdateContactPropertyRequest{Id: seats.Id, FallbackValue: 5})
		require.NoError(t, err)
		require.Equal(t, resend.UpdateContactPropertyResponse{Id: seats.Id, Object: "contact_property"}, upd)
		got, err = client.ContactProperties.Get(seats.Id)
		require.NoError(t, err)
		require.Equal(t, float64(5), got.FallbackValue)
		_, err = client.ContactProperties.Update(&resend.UpdateContactPropertyRequest{Id: seats.Id, FallbackValue: "five"})
		require.ErrorContains(t, err, "must be a number")
		// The SDK always sends fallback_value: nil clears it.
		_, err = client.ContactProperties.Update(&resend.UpdateContactPropertyRequest{Id: plan.Id})
		require.NoError(t, err)
		got, err = client.ContactProperties.Get(plan.Id)
		require.NoError(t, err)
		require.Nil(t, got.FallbackValue)

		// Contacts' values for declared keys must be of their types.
		_, err = client.Contacts.Create(&resend.CreateContactRequest{Email: "ada@example.net", Properties: map[string]any{"seats": "3"}})
		require.ErrorContains(t, err, "`properties.seats`")
		ada, err := client.Contacts.Create(&resend.CreateContactRequest{Email: "ada@example.net", Properties: map[string]any{"seats": 3, "plan": "pro"}})
		require.NoError(t, err)
		c, err := client.Contacts.Get(&resend.GetContactOptions{Id: ada.Id})
		require.NoError(t, err)
		require.Equal(t, map[string]any{"seats": float64(3), "plan": "pro"}, c.Properties)

		removed, err := client.ContactProperties.Remove(seats.Id)
		require.NoError(t, err)
		require.Equal(t, resend.RemoveContactPropertyResponse{Id: seats.Id, Object: "contact_property", Deleted: true}, removed)
		_, err = client.ContactProperties.Remove(seats.Id)
		require.ErrorContains(t, err, "Contact property not found")
		list, err = client.ContactProperties.List()
		require.NoError(t, err)
		require.Len(t, list.Data, 1)
	})
}

// TestGoSDKTemplates drives the Templates service and Emails.Send with a
// template through the official Go SDK.
func TestGoSDKTemplates(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, kind sqlstore.Dialect) {
		e := setup(t, kind)
		client := e.sdk(e.keyA)
		var err error
		ctx := context.Background()

		_, err = client.Templates.Create(&resend.CreateTemplateRequest{Name: "x"})
		require.ErrorContains(t, err, "Missing `html` field.")
		created, err := client.Templates.Create(&resend.CreateTemplateRequest{Name: "Order", Alias: "order",
			From: "Shop <shop@example.com>", Subject: "Order {{{ORDER}}}", ReplyTo: []string{"help@example.com"},
			Html: "<p>{{{ORDER}}}: {{{TOTAL}}}</p>", Text: "{{{ORDER}}}",
			Variables: []*resend.TemplateVariable{{Key: "ORDER", Type: resend.VariableTypeString},
				{Key: "TOTAL", Type: resend.VariableTypeNumber, FallbackValue: 0}}})
		require.NoError(t, err)
		require.Equal(t, "template", created.Object)

		got, err := client.Templates.Get("order")
		require.NoError(t, err)
		require.Equal(t, created.Id, got.Id)
		require.Equal(t, "draft", got.Status)
		require.Equal(t, "", got.PublishedAt)
		require.Equal(t, []any{"help@example.com"}, got.ReplyTo)
		require.Len(t, got.Variables, 2)
		require.Equal(t, resend.VariableTypeNumber, got.Variables[1].Type)
		require.Equal(t, float64(0), got.Variables[1].FallbackValue)

		_, err = client.Emails.Send(&resend.SendEmailRequest{To: []string{"x@example.net"},
			Template: &resend.EmailTemplate{Id: "order", Variables: map[string]any{"ORDER": "A1"}}})
		require.ErrorContains(t, err, "not published")
		pub, err := client.Templates.Publish(created.Id)
		require.NoError(t, err)
		require.Equal(t, created.Id, pub.Id)

		// The Go SDK's update sends name and html even when empty.
		upd, err := client.Templates.UpdateWithContext(ctx, "order", &resend.UpdateTemplateRequest{Subject: "Your order {{{ORDER}}}"})
		require.NoError(t, err)
		require.Equal(t, created.Id, upd.Id)
		got, err = client.Templates.Get(created.Id)
		require.NoError(t, err)
		require.Equal(t, "Order", got.Name)
		require.Equal(t, "<p>{{{ORDER}}}: {{{TOTAL}}}</p>", got.Html)
		require.Equal(t, "published", got.Status)
		require.NotEmpty(t, got.PublishedAt)

		sent, err := client.Emails.Send(&resend.SendEmailRequest{To: []string{"x@example.net"},
			Template: &resend.EmailTemplate{Id: "order", Variables: map[string]any{"ORDER": "A1", "TOTAL": 12.5}}})
		require.NoError(t, err)
		email, err := client.Emails.Get(sent.Id)
		require.NoError(t, err)
		require.Equal(t, "Order A1", email.Subject, "the published subject, not the draft's")
		require.Equal(t, "<p>A1: 12.5</p>", email.Html)
		require.Equal(t, "Shop <shop@example.com>", email.From)

		dup, err := client.Templates.Duplicate("order")
		require.NoError(t, err)
		list, err := client.Templates.List(nil)
		require.NoError(t, err)
		require.Len(t, list.Data, 2)
		require.Equal(t, dup.Id, list.Data[0].Id)
		require.Equal(t, "Order (Copy)", list.Data[0].Name)
		require.Nil(t, list.Data[0].PublishedAt)
		require.Equal(t, "order", list.Data[1].Alias)
		removed, err := client.Templates.Remove(dup.Id)
		require.NoError(t, err)
		require.True(t, removed.Deleted)
		_, err = client.Templates.Get(dup.Id)
		require.ErrorContains(t, err, "Template not found")
	})
}

// TestGoSDKBroadcasts drives the Broadcasts service of the official Go SDK
// unchanged: Create, Get, List, Update, Send (which always sends
// "scheduled_at":"" and broadcast_id), Remove.
func TestGoSDKBroadcasts(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, kind sqlstore.Dialect) {
		e := setup(t, kind)
		client := e.sdk(e.keyA)
		var err error
		seg, err := client.Segments.Create(&resend.CreateSegmentRequest{Name: "news"})
		require.NoError(t, err)

		created, err := client.Broadcasts.Create(&resend.CreateBroadcastRequest{SegmentId: seg.Id, From: "Acme <news@example.com>",
			Subject: "Hello", ReplyTo: []string{"help@example.com"}, Html: "<p>Hi {{{FIRST_NAME|there}}}</p>", Name: "First"})
		require.NoError(t, err)
		require.NotEmpty(t, created.Id)
		got, err := client.Broadcasts.Get(created.Id)
		require.NoError(t, err)
		require.Equal(t, "broadcast", got.Object)
		require.Equal(t, "First", got.Name)
		require.Equal(t, seg.Id, got.SegmentId)
		require.Equal(t, seg.Id, got.AudienceId)
		require.Equal(t, []string{"help@example.com"}, got.ReplyTo)
		require.Equal(t, "draft", got.Status)
		require.Equal(t, "", got.ScheduledAt)

		updated, err := client.Broadcasts.Update(&resend.UpdateBroadcastRequest{BroadcastId: created.Id, Subject: "Hello again", Text: "plain"})
		require.NoError(t, err)
		require.Equal(t, created.Id, updated.Id)
		got, err = client.Broadcasts.Get(created.Id)
		require.NoError(t, err)
		require.Equal(t, "Hello again", got.Subject)
		require.Equal(t, "plain", got.Text)

		list, err := client.Broadcasts.List()
		require.NoError(t, err)
		require.Len(t, list.Data, 1)
		require.Equal(t, created.Id, list.Data[0].Id)

		other, err := client.Broadcasts.Create(&resend.CreateBroadcastRequest{AudienceId: seg.Id, From: "news@example.com", Subject: "x", Text: "t"})
		require.NoError(t, err)
		removed, err := client.Broadcasts.Remove(other.Id)
		require.NoError(t, err)
		require.Equal(t, resend.RemoveBroadcastResponse{Object: "broadcast", Id: other.Id, Deleted: true}, removed)

		sent, err := client.Broadcasts.Send(&resend.SendBroadcastRequest{BroadcastId: created.Id})
		require.NoError(t, err)
		require.Equal(t, created.Id, sent.Id)
		got, err = client.Broadcasts.Get(created.Id)
		require.NoError(t, err)
		require.Equal(t, "queued", got.Status)
		_, err = client.Broadcasts.Remove(created.Id)
		require.ErrorContains(t, err, "Only broadcasts in draft")
	})
}
